/* SPDX-License-Identifier: BSD-3-Clause */
/* vring.c - the device side of a split virtqueue (virtio 1.x §2.7): take
 * the chains the driver made available, translating each descriptor through
 * the guest memory table, and give them back on the used ring.  Everything in
 * the ring is the guest's to write at any time: each descriptor is copied
 * once before use, every index is checked, and a chain that points outside
 * guest memory is returned marked bad rather than followed. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "udk_util.h"
#include "vhost_blk.h"

#define COMPONENT "vhost-blk"

void vb_vq_reset(struct vb_vq *vq)
{
	if (vq->kick_fd >= 0)
		close(vq->kick_fd);
	if (vq->call_fd >= 0)
		close(vq->call_fd);
	if (vq->err_fd >= 0)
		close(vq->err_fd);
	memset(vq, 0, sizeof(*vq));
	vq->kick_fd = vq->call_fd = vq->err_fd = -1;
}

int vb_vq_map(struct vb_vq *vq, const struct vb_mem *m)
{
	uint64_t n = vq->num;
	/* Split (§2.7): descriptors 16-byte aligned, the available ring 2 and
	 * the used ring 4, each ending with a 16-bit event field.  Packed
	 * (§2.8.10): the ring 16-byte aligned, two 4-byte event areas. */
	uint64_t alen = vq->packed ? 4 : 6 + 2 * n, ulen = vq->packed ? 4 : 6 + 8 * n;
	uint64_t amask = vq->packed ? 3 : 1;

	if ((vq->desc_uva & 15) || (vq->avail_uva & amask) || (vq->used_uva & 3))
		goto bad;
	vq->desc = vb_mem_uva(m, vq->desc_uva, 16 * n);
	vq->avail = vb_mem_uva(m, vq->avail_uva, alen);
	vq->used = vb_mem_uva(m, vq->used_uva, ulen);
	if (vq->desc && vq->avail && vq->used)
		return 0;
bad:
	vq->desc = NULL;
	vq->avail = vq->used = NULL;
	return -EINVAL;
}

int vb_vq_broken(struct vb_vq *vq, const char *why, unsigned int a, unsigned int b)
{
	vq->broken = true;
	udk_log(UDK_LOG_ERR, COMPONENT, "virtqueue stopped: the driver broke it (%s: %u, %u); "
		"it runs again after the guest resets the device", why, a, b);
	return -EPROTO;
}

int vb_chain_add(struct vb_chain *c, const struct vb_mem *m, uint64_t addr, uint32_t len, bool w,
		 bool *seen_write)
{
	void *p;

	if (len == 0)
		return 0;
	if (c->nseg == VB_MAX_SEGS) {
		c->bad = true;
		return -1;
	}
	p = vb_mem_gpa(m, addr, len);
	if (!p || (!w && *seen_write)) /* outside memory; readable after writable */
		c->bad = true;
	c->seg[c->nseg].iov_base = p;
	c->seg[c->nseg].iov_len = len;
	c->nseg++;
	if (w)
		*seen_write = true;
	else
		c->nread = c->nseg;
	return 0;
}

static void walk(const struct vb_vq *vq, const struct vb_mem *m, uint16_t head,
		 struct vb_chain *c)
{
	const volatile struct vring_desc *tab = vq->desc;
	uint32_t tabn = vq->num, count = 0;
	uint16_t i = head;
	bool indirect = false, seen_write = false;

	c->head = head;
	c->count = 1;
	c->bad = false;
	c->nseg = c->nread = 0;
	for (;;) {
		struct vring_desc d = {tab[i].addr, tab[i].len, tab[i].flags, tab[i].next};

		if (++count > tabn) { /* a loop, or longer than its table */
			c->bad = true;
			return;
		}
		if (d.flags & VRING_DESC_F_INDIRECT) {
			/* §2.7.5.3.1: not inside an indirect table, not with NEXT. */
			if (indirect || (d.flags & VRING_DESC_F_NEXT) || d.len == 0 || d.len % 16 ||
			    d.len / 16 > VB_MAX_QUEUE_SIZE) {
				c->bad = true;
				return;
			}
			tab = vb_mem_gpa(m, d.addr, d.len);
			if (!tab) {
				c->bad = true;
				return;
			}
			indirect = true;
			tabn = d.len / 16;
			count = 0;
			i = 0;
			continue;
		}
		if (vb_chain_add(c, m, d.addr, d.len, d.flags & VRING_DESC_F_WRITE, &seen_write) < 0)
			return;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return;
		i = d.next;
		if (i >= tabn) {
			c->bad = true;
			return;
		}
	}
}

int vb_vq_pop(struct vb_vq *vq, const struct vb_mem *m, struct vb_chain *c)
{
	if (!vq->started || !vq->enabled || vq->broken || !vq->desc)
		return 0;
	if (!vq->kicked && vq->resubmit_pos >= vq->nresubmit && !vb_vq_kicked(vq))
		return 0;
	if (vq->packed)
		return vb_packed_pop(vq, m, c);
	if (vq->resubmit_pos < vq->nresubmit) {
		/* Taken by the back-end before a restart, never given back. */
		walk(vq, m, vq->resubmit[vq->resubmit_pos++], c);
		return 1;
	}
	uint16_t idx = __atomic_load_n(&vq->avail[1], __ATOMIC_ACQUIRE);
	if (idx == vq->last_avail)
		return 0;
	if ((uint16_t)(idx - vq->last_avail) > vq->num)
		return vb_vq_broken(vq, "available index ahead of the last one by more than the ring size",
			      (uint16_t)(idx - vq->last_avail), vq->num);
	uint16_t head = ((volatile uint16_t *)vq->avail)[2 + vq->last_avail % vq->num];
	if (head >= vq->num)
		return vb_vq_broken(vq, "available head past the ring size", head, vq->num);
	vq->last_avail++;
	if (vq->ifl)
		vb_inflight_take(vq, head);
	walk(vq, m, head, c);
	return 1;
}

void vb_vq_start(struct vb_vq *vq, bool polling)
{
	/* Kicks asked for before the look at the ring: a chain made
	 * available after it is kicked. */
	vb_vq_want_kicks(vq, true);
	if (polling || vq->packed) {
		vq->kicked = polling || vb_packed_pending(vq);
	} else {
		uint16_t ahead = (uint16_t)(__atomic_load_n(&vq->avail[1], __ATOMIC_ACQUIRE) -
					    vq->last_avail);
		vq->kicked = ahead > 0 && ahead <= vq->num;
	}
	if (vq->kicked)
		vb_vq_want_kicks(vq, false);
}

bool vb_vq_kicked(struct vb_vq *vq)
{
	struct pollfd p = {.fd = vq->kick_fd, .events = POLLIN};
	uint64_t v;

	if (vq->kicked)
		return true;
	if (vq->kick_fd < 0 || poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN))
		return false;
	if (read(vq->kick_fd, &v, sizeof(v)) < 0) {
		/* a wake-up only: the ring is looked at anyway */
	}
	vq->kicked = true;
	vb_vq_want_kicks(vq, false);
	return true;
}

void vb_vq_push(struct vb_vq *vq, const struct vb_chain *c, uint32_t len)
{
	volatile struct vring_used_elem *ue = (volatile struct vring_used_elem *)(vq->used + 2);
	uint16_t head = c->head;

	if (vq->packed) {
		vb_packed_push(vq, c, len);
		return;
	}
	ue[vq->used_idx % vq->num].id = head;
	ue[vq->used_idx % vq->num].len = len;
	if (vq->ifl)
		vb_inflight_give(vq, head);
	vq->used_idx++;
	vq->pending_used++;
}

uint32_t vb_vq_flush(struct vb_vq *vq)
{
	uint32_t n = vq->pending_used;
	uint16_t old = (uint16_t)(vq->used_idx - n), now = vq->used_idx;
	volatile uint16_t *avail = vq->avail;
	bool notify;

	if (n == 0)
		return 0;
	vq->pending_used = 0;
	if (vq->packed)
		return vb_packed_notify(vq, n);
	/* §2.7.13: the elements before the index; the index before reading
	 * the driver's suppression (a full barrier: store then load). */
	__atomic_store_n(&vq->used[1], now, __ATOMIC_RELEASE);
	if (vq->ifl)
		vb_inflight_published(vq, n, now);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->event_idx) {
		/* §2.7.10: used_event after the available ring; notify when
		 * this batch went past it. */
		uint16_t ev = avail[2 + vq->num];
		notify = (uint16_t)(now - ev - 1) < (uint16_t)(now - old);
	} else {
		notify = !(avail[0] & VRING_AVAIL_F_NO_INTERRUPT);
	}
	if (notify && vq->call_fd >= 0) {
		uint64_t one = 1;
		if (write(vq->call_fd, &one, sizeof(one)) < 0) {
			/* The counter is full or the fd is gone: the guest polls
			 * the ring anyway at its next interrupt; nothing to undo. */
		}
	}
	return n;
}

void vb_vq_want_kicks(struct vb_vq *vq, bool on)
{
	if (!vq->used)
		return;
	if (vq->packed) {
		vb_packed_want_kicks(vq, on);
		return;
	}
	if (vq->event_idx) {
		/* §2.7.10: avail_event after the used ring: a kick for the
		 * next chain made available.  While polling it is left where
		 * it was, which the driver passes once in 65536 chains. */
		if (on)
			__atomic_store_n(&vq->used[2 + 4 * vq->num], vq->last_avail, __ATOMIC_RELEASE);
	} else {
		__atomic_store_n(&vq->used[0], on ? 0 : VRING_USED_F_NO_NOTIFY, __ATOMIC_RELEASE);
	}
	/* The request for kicks before the next look at the available index
	 * (the caller looks again before it sleeps). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
