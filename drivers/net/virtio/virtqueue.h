/* SPDX-License-Identifier: BSD-3-Clause */
/* virtqueue.h - virtqueues, split (virtio 1.1 §2.6) or packed (§2.7),
 * independent of the transport.  Split: the descriptor table, the available
 * ring the driver writes and the used ring the device writes, a free list of
 * descriptors.  Packed: one descriptor ring both sides write, with wrap
 * counters, and two event suppression structures.  Either way a cookie (an
 * mbuf) per chain, and the same calls: the format is chosen at creation and
 * each call takes one predictable branch on it.  The memory and its IOVA come from the caller, so the
 * same code serves PCI over VFIO, a vhost-user peer and unit tests on plain
 * memory.
 *
 * Fast path (every static inline below): one queue belongs to one lcore at a
 * time; no lock, no system call, no allocation, no log.  Little-endian
 * fields as virtio 1.x requires (§2.4: "modern" devices are little-endian).
 */
#ifndef UDK_VIRTQUEUE_H
#define UDK_VIRTQUEUE_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "udk_util.h"

/* §2.6.5: struct virtq_desc and its flags. */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2     /* the device writes this buffer */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct virtq_desc) == 16, "virtio 1.1 §2.6.5: a descriptor is 16 bytes");

/* §2.6.6: struct virtq_avail (flags, idx, ring[size], used_event). */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

/* §2.6.8: struct virtq_used (flags, idx, ring[size], avail_event). */
#define VIRTQ_USED_F_NO_NOTIFY 1
struct virtq_used_elem {
	uint32_t id;   /* head of the chain the device used */
	uint32_t len;  /* bytes it wrote into the chain */
};
_Static_assert(sizeof(struct virtq_used_elem) == 8, "virtio 1.1 §2.6.8: a used element is 8 bytes");
struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[];
};

#define VIRTQ_MAX_SIZE 32768 /* §2.6: Queue Size is at most 32768 */

/* §2.7.13: struct pvirtq_desc, the packed ring's descriptor; its flags
 * (§2.7.1: AVAIL and USED against the wrap counters). */
#define VIRTQ_DESC_F_AVAIL (1u << 7)
#define VIRTQ_DESC_F_USED (1u << 15)
struct pvirtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;     /* buffer id: the driver's, given back by the device */
	uint16_t flags;
};
_Static_assert(sizeof(struct pvirtq_desc) == 16, "virtio 1.1 §2.7.13: a descriptor is 16 bytes");

/* §2.7.14: struct pvirtq_event_suppress (the driver's and the device's). */
#define VIRTQ_EVENT_F_ENABLE 0
#define VIRTQ_EVENT_F_DISABLE 1
#define VIRTQ_EVENT_F_DESC 2     /* only with VIRTIO_F_EVENT_IDX */
struct pvirtq_event {
	uint16_t off_wrap;  /* descriptor offset, bit 15 the wrap counter */
	uint16_t flags;
};

/* §2.6.7.1 / §2.6.10: with VIRTIO_F_EVENT_IDX, notify when the new index
 * passed event since old (the spec's vring_need_event). */
static inline bool virtq_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

struct virtq;
/* Tell the device that queue vq has new available buffers (§4.1.5.2 for
 * PCI: a write of the queue index to its notify address). */
typedef void (*virtq_notify_fn)(struct virtq *vq);

/* Per chain, kept by the driver only (the device never sees it); indexed by
 * the head descriptor (split) or the buffer id (packed). */
struct virtq_chain_info {
	void *cookie;
	uint16_t ndesc;
	uint16_t last;  /* split: its last descriptor, to splice the chain back;
			 * packed: the next free buffer id while it is free */
};

struct virtq {
	/* Hot: what every burst touches. */
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t size;          /* split: a power of two (§2.6); packed: any up to 32768 */
	uint16_t mask;
	uint16_t free_head;     /* split: first free descriptor, free ones link through
				 * .next; packed: first free buffer id */
	uint16_t num_free;      /* free descriptors */
	uint16_t avail_idx;     /* split: next avail->idx, published by virtq_publish();
				 * packed: the next descriptor the driver writes */
	uint16_t last_used;     /* split: next used element; packed: next descriptor
				 * the device marks used */
	uint16_t kicked_idx;    /* split: avail->idx at the last notify; packed:
				 * descriptors made available since it */
	bool packed;            /* VIRTIO_F_RING_PACKED */
	bool event_idx;         /* VIRTIO_F_EVENT_IDX */
	bool avail_wrap, used_wrap; /* packed: the driver's wrap counters (§2.7.1) */
	struct pvirtq_desc *pdesc;  /* packed: the ring (the same memory as desc) */
	struct pvirtq_event *dev_event; /* packed: the device's event suppression */
	virtq_notify_fn notify;
	volatile void *notify_addr; /* for the transport's notify */
	uint16_t index;         /* the queue's number on the device */
	/* Cold: set up once. */
	void *mem;
	size_t mem_len;
	void *driver_area, *device_area; /* split: avail and used; packed: the event structures */
	uint64_t desc_iova, avail_iova, used_iova; /* the descriptor, driver and device areas */
	uint64_t lost;          /* chains virtq_complete_pending() completed (atomic) */
	struct virtq_chain_info info[];
};

/* Bytes of queue memory for size entries: descriptors, then the available
 * ring, then the used ring on its own 4 KiB page (alignments of §2.6: 16, 2
 * and 4 bytes; the page keeps the device's writes off the driver's lines). */
size_t virtq_mem_size(uint16_t size);
/* Make queue number index over mem (virtq_mem_size(size) bytes at IOVA iova,
 * which the caller owns and keeps until virtq_free()).  size must be a power
 * of two 1..32768: -EINVAL otherwise (logged), -ENOMEM.  The memory is zeroed
 * and the available ring asks for no interrupts (§2.6.7: the driver polls).
 * The transport sets notify and notify_addr when it gives the queue to the
 * device. */
int virtq_create(uint16_t index, uint16_t size, void *mem, uint64_t iova, struct virtq **out);
/* The same for a packed virtqueue (§2.7): size 1..32768, any number (-EINVAL
 * otherwise, logged); the ring, then the driver's event suppression (set to
 * DISABLE: the driver polls), then the device's on a 64-byte line of its own.
 * Wrap counters start at 1 (§2.7.1). */
size_t virtq_packed_mem_size(uint16_t size);
int virtq_create_packed(uint16_t index, uint16_t size, void *mem, uint64_t iova,
			struct virtq **out);
/* The base a vhost-user back-end starts from (VHOST_USER_SET_VRING_BASE):
 * split, the used index; packed, the next descriptor with the wrap counter in
 * bit 15 (vhost-user.rst, "Ring states"). */
uint32_t virtq_base(const struct virtq *vq);
/* Forget every chain the device was given (call after a device reset): each
 * cookie goes to fn, the queue is empty and its indexes back at 0. */
void virtq_reset(struct virtq *vq, void (*fn)(void *cookie, void *arg), void *arg);
/* The device went away and a new one takes the ring over (a vhost-user
 * back-end that restarted): complete, in the device's place, every chain the
 * driver published and the device did not return, with length 0, so the
 * driver's next virtq_used_take() frees them as usual.  Assumes the device
 * returned chains in the order it took them (§2.6.8; what every vhost-user
 * net back-end does).  Called on the control thread while the queue's lcore
 * may keep running: it reads only published entries and writes only what a
 * device writes.  Returns how many (also added to vq->lost); the new device
 * starts at the returned used index (*base). */
uint16_t virtq_complete_pending(struct virtq *vq, uint16_t *base);
/* The used index the device has reached (where a new device starts). */
uint16_t virtq_used_idx(const struct virtq *vq);

/* Used-buffer notifications (§2.6.7, §2.6.10, §2.7.10), for a driver that
 * sleeps instead of polling.  virtq_intr_enable() asks the device to notify
 * for the next chain it uses (EVENT_IDX: used_event = the next used entry;
 * otherwise clear VIRTQ_AVAIL_F_NO_INTERRUPT; packed: the driver's event
 * flags to ENABLE), then, after a full fence, looks once more: true when
 * chains are already used (the caller polls instead of sleeping).  A chain
 * the device uses after the fence is notified, so none is missed.
 * virtq_intr_disable() asks for no notifications again (the state
 * virtq_create() leaves).  The queue's lcore. */
bool virtq_intr_enable(struct virtq *vq);
void virtq_intr_disable(struct virtq *vq);

/* Free the queue (not its memory); cookies still in it go to fn first. */
void virtq_free(struct virtq *vq, void (*fn)(void *cookie, void *arg), void *arg);

/* ---- fast path ---- */

/* A chain being written: virtq_chain_start, virtq_chain_add per buffer,
 * virtq_chain_end. */
struct virtq_chain {
	uint16_t head, cur, left;
	uint16_t id, head_flags; /* packed */
};

/* Take n descriptors (1 <= n <= vq->num_free: the caller checks) for one
 * chain that returns cookie when the device is done with it.  Packed: a free
 * buffer id names the chain, and it starts at the next descriptor. */
static inline void virtq_chain_start(struct virtq *vq, struct virtq_chain *ch, uint16_t n,
				     void *cookie)
{
	uint16_t slot = vq->free_head;

	ch->left = n;
	ch->id = slot;
	ch->head_flags = 0;
	vq->num_free = (uint16_t)(vq->num_free - n);
	if (vq->packed) {
		vq->free_head = vq->info[slot].last;
		ch->head = ch->cur = vq->avail_idx;
	} else {
		ch->head = ch->cur = slot;
	}
	vq->info[slot].cookie = cookie;
	vq->info[slot].ndesc = n;
}

/* §2.7.1, §2.7.21.1: a packed descriptor is available when its AVAIL bit
 * equals the driver's wrap counter and USED the opposite.  The head's flags
 * wait for virtq_chain_end, so the device never sees half a chain. */
static inline void pvq_chain_add(struct virtq *vq, struct virtq_chain *ch, uint64_t addr,
				 uint32_t len, bool write)
{
	struct pvirtq_desc *d = &vq->pdesc[ch->cur];
	uint16_t f = (uint16_t)((--ch->left > 0 ? VIRTQ_DESC_F_NEXT : 0) |
				(write ? VIRTQ_DESC_F_WRITE : 0) |
				(vq->avail_wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED));

	d->addr = htole64(addr);
	d->len = htole32(len);
	d->id = htole16(ch->id);
	if (ch->cur == ch->head)
		ch->head_flags = f;
	else
		d->flags = htole16(f);
	if (++ch->cur == vq->size) {
		ch->cur = 0;
		vq->avail_wrap = !vq->avail_wrap;
	}
}

/* Fill the chain's next descriptor (§2.6.5): a buffer the device reads
 * (write false) or writes.  The free list is already linked through .next,
 * so a chain is a run of it and needs no other link. */
static inline void virtq_chain_add(struct virtq *vq, struct virtq_chain *ch, uint64_t addr,
				   uint32_t len, bool write)
{
	struct virtq_desc *d;

	if (vq->packed) {
		pvq_chain_add(vq, ch, addr, len, write);
		return;
	}
	d = &vq->desc[ch->cur];
	d->addr = htole64(addr);
	d->len = htole32(len);
	if (--ch->left > 0) {
		d->flags = htole16(VIRTQ_DESC_F_NEXT | (write ? VIRTQ_DESC_F_WRITE : 0));
		ch->cur = le16toh(d->next);
	} else {
		d->flags = htole16(write ? VIRTQ_DESC_F_WRITE : 0);
		vq->info[ch->head].last = ch->cur;
		vq->free_head = le16toh(d->next);
	}
}

/* §2.6.13.2: put the chain's head in the next available ring slot; the
 * device sees it after virtq_publish().  Packed (§2.7.21.1): the head's flags
 * last, with release, and the device may take the chain at once. */
static inline void virtq_chain_end(struct virtq *vq, const struct virtq_chain *ch)
{
	if (vq->packed) {
		uint16_t n = vq->info[ch->id].ndesc;

		vq->avail_idx = ch->cur;
		vq->kicked_idx = (uint16_t)(vq->kicked_idx + n);
		__atomic_store_n(&vq->pdesc[ch->head].flags, htole16(ch->head_flags),
				 __ATOMIC_RELEASE);
		return;
	}
	vq->avail->ring[vq->avail_idx & vq->mask] = htole16(ch->head);
	vq->avail_idx++;
}

/* §2.6.13.3: make the chains added since the last call visible: descriptors
 * and ring entries first, then the index (release).  Packed chains are
 * visible from virtq_chain_end on. */
static inline void virtq_publish(struct virtq *vq)
{
	if (!vq->packed)
		__atomic_store_n(&vq->avail->idx, htole16(vq->avail_idx), __ATOMIC_RELEASE);
}

/* §2.7.10 / §2.7.21.3: whether the device wants a notification for the
 * descriptors made available since the last one.  With EVENT_IDX it names a
 * descriptor (and its wrap counter) in off_wrap. */
static inline bool pvq_need_kick(struct virtq *vq)
{
	uint16_t n = vq->kicked_idx, flags, off_wrap, event, new_idx, old;

	vq->kicked_idx = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	flags = le16toh(__atomic_load_n(&vq->dev_event->flags, __ATOMIC_RELAXED));
	if (flags != VIRTQ_EVENT_F_DESC || !vq->event_idx)
		return flags != VIRTQ_EVENT_F_DISABLE;
	off_wrap = le16toh(__atomic_load_n(&vq->dev_event->off_wrap, __ATOMIC_RELAXED));
	event = off_wrap & 0x7fff;
	new_idx = vq->avail_idx;
	old = (uint16_t)(new_idx - n);
	/* Positions restart at 0 on each wrap: an event on the other side of
	 * the wrap is counted from one ring size back. */
	if ((bool)(off_wrap >> 15) != vq->avail_wrap)
		event = (uint16_t)(event - vq->size);
	return virtq_need_event(event, new_idx, old);
}

/* §2.6.13.4 and §2.6.10 (without VIRTIO_F_EVENT_IDX): notify the device
 * unless it set VIRTQ_USED_F_NO_NOTIFY, and only if something was published
 * since the last notify.  The full fence orders the index store before the
 * flags load ("the driver MUST perform a suitable memory barrier before
 * reading flags").  Returns whether it notified. */
static inline bool virtq_kick(struct virtq *vq)
{
	uint16_t old = vq->kicked_idx;

	if (vq->packed) {
		if (old == 0 || !pvq_need_kick(vq))
			return false;
		vq->notify(vq);
		return true;
	}
	if (old == vq->avail_idx)
		return false;
	vq->kicked_idx = vq->avail_idx;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->event_idx) {
		/* §2.6.10: the device's avail_event, after the used ring. */
		uint16_t ev = le16toh(__atomic_load_n((uint16_t *)&vq->used->ring[vq->size],
						      __ATOMIC_RELAXED));

		if (!virtq_need_event(ev, vq->avail_idx, old))
			return false;
	} else if (le16toh(__atomic_load_n(&vq->used->flags, __ATOMIC_RELAXED)) &
		   VIRTQ_USED_F_NO_NOTIFY) {
		/* A device that set NO_NOTIFY is working through the ring and
		 * looks at avail->idx again after it clears the flag. */
		return false;
	}
	vq->notify(vq);
	return true;
}

/* §2.7.1: the device has marked the descriptor at pos used when its AVAIL
 * and USED bits both equal the driver's used wrap counter. */
static inline bool pvq_is_used(const struct virtq *vq, uint16_t pos, bool wrap)
{
	uint16_t f = le16toh(__atomic_load_n(&vq->pdesc[pos].flags, __ATOMIC_ACQUIRE));

	return !!(f & VIRTQ_DESC_F_AVAIL) == wrap && !!(f & VIRTQ_DESC_F_USED) == wrap;
}

/* The descriptors the used chain at pos spans (§2.7.7: the device writes one
 * used descriptor per chain and skips the rest): the chain's count, or 1 for
 * an id the driver never gave (a broken device). */
static inline uint16_t pvq_used_span(const struct virtq *vq, uint16_t pos)
{
	uint16_t id = le16toh(vq->pdesc[pos].id);

	if (unlikely(id >= vq->size || vq->info[id].cookie == NULL))
		return 1;
	return vq->info[id].ndesc;
}

static inline uint16_t pvq_used_count(const struct virtq *vq)
{
	uint16_t pos = vq->last_used, n = 0;
	bool wrap = vq->used_wrap;

	while (n < vq->size && pvq_is_used(vq, pos, wrap)) {
		uint32_t next = (uint32_t)pos + pvq_used_span(vq, pos);

		if (next >= vq->size) {
			next -= vq->size;
			wrap = !wrap;
		}
		pos = (uint16_t)next;
		n++;
	}
	return n;
}

static inline void *pvq_used_take(struct virtq *vq, uint32_t *len)
{
	const struct pvirtq_desc *d = &vq->pdesc[vq->last_used];
	uint16_t id = le16toh(d->id), span = pvq_used_span(vq, vq->last_used);
	uint32_t next = (uint32_t)vq->last_used + span;
	void *cookie = NULL;

	*len = le32toh(d->len);
	if (next >= vq->size) {
		next -= vq->size;
		vq->used_wrap = !vq->used_wrap;
	}
	vq->last_used = (uint16_t)next;
	if (unlikely(id >= vq->size || vq->info[id].cookie == NULL))
		return NULL;
	cookie = vq->info[id].cookie;
	vq->info[id].cookie = NULL;
	vq->info[id].last = vq->free_head;
	vq->free_head = id;
	vq->num_free = (uint16_t)(vq->num_free + span);
	return cookie;
}

/* Chains the device has returned and the driver not yet taken. */
static inline uint16_t virtq_used_count(const struct virtq *vq)
{
	uint16_t idx;

	if (vq->packed)
		return pvq_used_count(vq);
	idx = le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));

	return (uint16_t)(idx - vq->last_used);
}

/* Take the next used chain (§2.6.8; one must be there: virtq_used_count()),
 * free its descriptors and return its cookie; *len is what the device wrote.
 * A chain id the driver never gave is returned as NULL (the device is
 * broken; nothing is freed). */
static inline void *virtq_used_take(struct virtq *vq, uint32_t *len)
{
	const struct virtq_used_elem *e;
	struct virtq_chain_info *ci;
	void *cookie;
	uint32_t id;

	if (vq->packed)
		return pvq_used_take(vq, len);
	e = &vq->used->ring[vq->last_used & vq->mask];
	id = le32toh(e->id);
	*len = le32toh(e->len);
	vq->last_used++;
	if (unlikely(id >= vq->size || vq->info[id].cookie == NULL))
		return NULL;
	ci = &vq->info[id];
	cookie = ci->cookie;
	ci->cookie = NULL;
	vq->desc[ci->last].next = htole16(vq->free_head);
	vq->free_head = (uint16_t)id;
	vq->num_free = (uint16_t)(vq->num_free + ci->ndesc);
	return cookie;
}

#endif
