/* SPDX-License-Identifier: BSD-3-Clause */
/* virtqueue.h - split virtqueues (virtio 1.1 §2.6), independent of the
 * transport: the descriptor table, the available ring the driver writes and
 * the used ring the device writes, a free list of descriptors, and a cookie
 * (an mbuf) per chain.  The memory and its IOVA come from the caller, so the
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

struct virtq;
/* Tell the device that queue vq has new available buffers (§4.1.5.2 for
 * PCI: a write of the queue index to its notify address). */
typedef void (*virtq_notify_fn)(struct virtq *vq);

/* Per chain, kept by the driver only (the device never sees it). */
struct virtq_chain_info {
	void *cookie;
	uint16_t ndesc;
	uint16_t last;  /* its last descriptor, to splice the chain back */
};

struct virtq {
	/* Hot: what every burst touches. */
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t size;          /* power of two (§2.6: split queues) */
	uint16_t mask;
	uint16_t free_head;     /* first free descriptor; free ones link through .next */
	uint16_t num_free;
	uint16_t avail_idx;     /* next avail->idx, published by virtq_publish() */
	uint16_t last_used;     /* next used element to read */
	uint16_t kicked_idx;    /* avail->idx at the last notify */
	virtq_notify_fn notify;
	volatile void *notify_addr; /* for the transport's notify */
	uint16_t index;         /* the queue's number on the device */
	/* Cold: set up once. */
	void *mem;
	uint64_t desc_iova, avail_iova, used_iova;
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

/* Free the queue (not its memory); cookies still in it go to fn first. */
void virtq_free(struct virtq *vq, void (*fn)(void *cookie, void *arg), void *arg);

/* ---- fast path ---- */

/* A chain being written: virtq_chain_start, virtq_chain_add per buffer,
 * virtq_chain_end. */
struct virtq_chain {
	uint16_t head, cur, left;
};

/* Take n descriptors (1 <= n <= vq->num_free: the caller checks) for one
 * chain that returns cookie when the device is done with it. */
static inline void virtq_chain_start(struct virtq *vq, struct virtq_chain *ch, uint16_t n,
				     void *cookie)
{
	ch->head = ch->cur = vq->free_head;
	ch->left = n;
	vq->num_free = (uint16_t)(vq->num_free - n);
	vq->info[ch->head].cookie = cookie;
	vq->info[ch->head].ndesc = n;
}

/* Fill the chain's next descriptor (§2.6.5): a buffer the device reads
 * (write false) or writes.  The free list is already linked through .next,
 * so a chain is a run of it and needs no other link. */
static inline void virtq_chain_add(struct virtq *vq, struct virtq_chain *ch, uint64_t addr,
				   uint32_t len, bool write)
{
	struct virtq_desc *d = &vq->desc[ch->cur];

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

/* §2.6.13.2: put the chain's head in the next available ring slot.  The
 * device sees it after virtq_publish(). */
static inline void virtq_chain_end(struct virtq *vq, const struct virtq_chain *ch)
{
	vq->avail->ring[vq->avail_idx & vq->mask] = htole16(ch->head);
	vq->avail_idx++;
}

/* §2.6.13.3: make the chains added since the last call visible: descriptors
 * and ring entries first, then the index (release). */
static inline void virtq_publish(struct virtq *vq)
{
	__atomic_store_n(&vq->avail->idx, htole16(vq->avail_idx), __ATOMIC_RELEASE);
}

/* §2.6.13.4 and §2.6.10 (without VIRTIO_F_EVENT_IDX): notify the device
 * unless it set VIRTQ_USED_F_NO_NOTIFY, and only if something was published
 * since the last notify.  The full fence orders the index store before the
 * flags load ("the driver MUST perform a suitable memory barrier before
 * reading flags").  Returns whether it notified. */
static inline bool virtq_kick(struct virtq *vq)
{
	if (vq->kicked_idx == vq->avail_idx)
		return false;
	vq->kicked_idx = vq->avail_idx;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	/* A device that set NO_NOTIFY is working through the ring and looks at
	 * avail->idx again after it clears the flag: nothing is lost. */
	if (le16toh(__atomic_load_n(&vq->used->flags, __ATOMIC_RELAXED)) &
	    VIRTQ_USED_F_NO_NOTIFY)
		return false;
	vq->notify(vq);
	return true;
}

/* Chains the device has returned and the driver not yet taken. */
static inline uint16_t virtq_used_count(const struct virtq *vq)
{
	uint16_t idx = le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));

	return (uint16_t)(idx - vq->last_used);
}

/* Take the next used chain (§2.6.8; one must be there: virtq_used_count()),
 * free its descriptors and return its cookie; *len is what the device wrote.
 * A chain id the driver never gave is returned as NULL (the device is
 * broken; nothing is freed). */
static inline void *virtq_used_take(struct virtq *vq, uint32_t *len)
{
	const struct virtq_used_elem *e = &vq->used->ring[vq->last_used & vq->mask];
	uint32_t id = le32toh(e->id);
	struct virtq_chain_info *ci;
	void *cookie;

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
