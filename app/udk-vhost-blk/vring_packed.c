/* SPDX-License-Identifier: BSD-3-Clause */
/* vring_packed.c - the device side of a packed virtqueue (virtio 1.x §2.8):
 * one ring of descriptors that the driver marks available and the device
 * marks used, each side with a wrap counter, and two small event areas for
 * notification suppression.  As for split rings, each descriptor is copied
 * once before use and translated through the guest memory table. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "udk_util.h"
#include "vhost_blk.h"

static bool is_avail(uint16_t flags, bool wrap)
{
	return !!(flags & VRING_PACKED_DESC_F_AVAIL) == wrap &&
	       !!(flags & VRING_PACKED_DESC_F_USED) != wrap;
}

/* An indirect table (§2.8.19): len / 16 descriptors used in order. */
static void indirect(struct vb_chain *c, const struct vb_mem *m, const struct vring_packed_desc *d,
		     bool *seen_write)
{
	const volatile struct vring_packed_desc *t;

	if (d->len == 0 || d->len % 16 || d->len / 16 > VB_MAX_QUEUE_SIZE ||
	    (d->flags & VRING_DESC_F_NEXT)) {
		c->bad = true;
		return;
	}
	t = vb_mem_gpa(m, d->addr, d->len);
	if (!t) {
		c->bad = true;
		return;
	}
	for (uint32_t j = 0; j < d->len / 16; j++) {
		uint16_t fl = t[j].flags;
		if (fl & VRING_DESC_F_INDIRECT) {
			c->bad = true;
			return;
		}
		if (vb_chain_add(c, m, t[j].addr, t[j].len, fl & VRING_DESC_F_WRITE, seen_write) < 0)
			return;
	}
}

/* One ring descriptor (or indirect table) into c. */
static void add(struct vb_chain *c, const struct vb_mem *m, const struct vring_packed_desc *d,
		bool *seen_write)
{
	if (d->flags & VRING_DESC_F_INDIRECT)
		indirect(c, m, d, seen_write);
	else /* a full chain is bad, but its slots are still consumed */
		vb_chain_add(c, m, d->addr, d->len, d->flags & VRING_DESC_F_WRITE, seen_write);
	c->head = d->id; /* the last descriptor's buffer id counts */
}

/* A chain a previous back-end took and never gave back, from the copies the
 * inflight region keeps (its ring slots may hold used elements by now). */
static int resubmit(struct vb_vq *vq, const struct vb_mem *m, struct vb_chain *c, uint16_t e)
{
	const volatile struct vb_inflight_pdesc *t = vq->ifl_packed->desc;
	uint16_t h = e, num = t[e].num;
	bool seen_write = false;

	c->bad = false;
	c->nseg = c->nread = 0;
	for (uint16_t k = 0; k < num; k++) {
		struct vring_packed_desc d = {t[h].addr, t[h].len, t[h].id, t[h].flags};
		add(c, m, &d, &seen_write);
		if (k + 1 < num && (h = t[h].next) >= vq->num)
			return vb_vq_broken(vq, "inflight chain past the region", h, vq->num);
	}
	if (h != t[e].last)
		return vb_vq_broken(vq, "inflight chain ends elsewhere than its last entry", h,
				    t[e].last);
	c->count = num;
	c->ifl_entry = e;
	c->ifl_last = h;
	return 1;
}

bool vb_packed_pending(const struct vb_vq *vq)
{
	const volatile struct vring_packed_desc *ring = (const volatile struct vring_packed_desc *)vq->desc;

	return is_avail(__atomic_load_n(&ring[vq->last_avail].flags, __ATOMIC_ACQUIRE),
			vq->avail_wrap);
}

int vb_packed_pop(struct vb_vq *vq, const struct vb_mem *m, struct vb_chain *c)
{
	volatile struct vring_packed_desc *ring = (volatile struct vring_packed_desc *)vq->desc;
	uint16_t i = vq->last_avail;
	bool wrap = vq->avail_wrap, seen_write = false;
	uint16_t count = 0;

	if (vq->resubmit_pos < vq->nresubmit)
		return resubmit(vq, m, c, vq->resubmit[vq->resubmit_pos++]);
	/* The driver writes the first descriptor's flags last (§2.8.21):
	 * once they say available, the whole chain is there. */
	if (!is_avail(__atomic_load_n(&ring[i].flags, __ATOMIC_ACQUIRE), wrap))
		return 0;
	c->bad = false;
	c->nseg = c->nread = 0;
	for (;;) {
		struct vring_packed_desc d = {ring[i].addr, ring[i].len, ring[i].id, ring[i].flags};

		if (count && !is_avail(d.flags, wrap))
			return vb_vq_broken(vq, "a chain continues into a descriptor not available",
					    i, vq->num);
		if (vq->ifl_packed &&
		    vb_inflight_packed_take(vq, c, &d, count == 0, !(d.flags & VRING_DESC_F_NEXT)) < 0)
			return vb_vq_broken(vq, "more descriptors taken than the inflight region holds",
					    count, vq->num);
		count++;
		add(c, m, &d, &seen_write);
		if (++i == vq->num) {
			i = 0;
			wrap = !wrap;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		if (count == vq->num)
			return vb_vq_broken(vq, "a chain as long as the ring", count, vq->num);
	}
	vq->last_avail = i;
	vq->avail_wrap = wrap;
	c->count = count;
	return 1;
}

void vb_packed_push(struct vb_vq *vq, const struct vb_chain *c, uint32_t len)
{
	volatile struct vring_packed_desc *ring = (volatile struct vring_packed_desc *)vq->desc;
	uint16_t i = vq->used_idx;
	uint16_t f = vq->used_wrap ? VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED : 0;

	/* §2.8.7: the used element at the next used slot, its flags last;
	 * the device then skips the rest of the chain's slots. */
	ring[i].id = c->head;
	ring[i].len = len;
	vq->used_idx = (uint16_t)(vq->used_idx + c->count);
	if (vq->used_idx >= vq->num) {
		vq->used_idx = (uint16_t)(vq->used_idx - vq->num);
		vq->used_wrap = !vq->used_wrap;
	}
	if (vq->ifl_packed)
		vb_inflight_packed_give(vq, c);
	__atomic_store_n(&ring[i].flags, f, __ATOMIC_RELEASE);
	if (vq->ifl_packed)
		vb_inflight_packed_given(vq, c);
	vq->pending_used++;
}

uint32_t vb_packed_notify(struct vb_vq *vq, uint32_t n)
{
	/* The used flags before the driver's event flags (§2.8.10). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t flags = ((volatile uint16_t *)vq->avail)[1];
	/* DISABLE: none; ENABLE: always; DESC (EVENT_IDX): at the descriptor
	 * it names, which udk does not track yet: an interrupt too many is
	 * allowed, one too few is not. */
	if (flags != VRING_PACKED_EVENT_FLAG_DISABLE && vq->call_fd >= 0) {
		uint64_t one = 1;
		if (write(vq->call_fd, &one, sizeof(one)) < 0) {
			/* as for split rings: nothing to undo */
		}
	}
	return n;
}

void vb_packed_want_kicks(struct vb_vq *vq, bool on)
{
	__atomic_store_n(&vq->used[1],
			 on ? VRING_PACKED_EVENT_FLAG_ENABLE : VRING_PACKED_EVENT_FLAG_DISABLE,
			 __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
