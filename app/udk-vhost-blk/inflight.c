/* SPDX-License-Identifier: BSD-3-Clause */
/* inflight.c - inflight I/O tracking for split and packed rings (QEMU
 * docs/interop/vhost-user.rst, "Inflight I/O tracking"): the back-end makes
 * a shared region, QEMU keeps its fd across back-end restarts, and the
 * back-end marks in it each head it takes from the available ring and each
 * batch it gives back.  A new back-end reads it to carry out again what its
 * predecessor took and never gave back.  The region is the front-end's
 * memory too: every index read from it is checked. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "udk_util.h"
#include "vhost_blk.h"

#define COMPONENT "vhost-blk"
#define INFLIGHT_VERSION 1
#define INFLIGHT_ALIGN 64

size_t vb_inflight_queue_bytes(uint16_t queue_size)
{
	/* A packed ring's state is 32 bytes per descriptor after a 32-byte
	 * header; a split ring's needs half of that. */
	size_t n = 32 + 32 * (size_t)queue_size;

	return (n + INFLIGHT_ALIGN - 1) & ~(size_t)(INFLIGHT_ALIGN - 1);
}

static int check(const struct vu_inflight *in, const char *step)
{
	if (in->num_queues == 0 || in->num_queues > VU_MAX_QUEUES || in->queue_size == 0 ||
	    in->queue_size > VB_MAX_QUEUE_SIZE) {
		udk_log(UDK_LOG_ERR, COMPONENT, "%s: %u queues of %u (at most %u of %u)", step,
			in->num_queues, in->queue_size, VU_MAX_QUEUES, VB_MAX_QUEUE_SIZE);
		return -EINVAL;
	}
	return 0;
}

int vb_inflight_new(const struct vu_inflight *in, struct vu_inflight *out, int *fd)
{
	size_t len;
	int rc;

	if (check(in, "GET_INFLIGHT_FD") < 0)
		return -EINVAL;
	len = vb_inflight_queue_bytes(in->queue_size) * in->num_queues;
	*fd = memfd_create("udk-vhost-blk-inflight", MFD_CLOEXEC);
	if (*fd < 0 || ftruncate(*fd, (off_t)len) < 0) {
		rc = -errno;
		udk_log(UDK_LOG_ERR, COMPONENT, "GET_INFLIGHT_FD: a %zu-byte memfd: %s", len,
			strerror(errno));
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return rc;
	}
	*out = (struct vu_inflight){.mmap_size = len, .mmap_offset = 0,
				    .num_queues = in->num_queues, .queue_size = in->queue_size};
	return 0;
}

void vb_inflight_clear(struct vb_inflight *ifl)
{
	if (ifl->base)
		munmap(ifl->base, ifl->len);
	memset(ifl, 0, sizeof(*ifl));
}

int vb_inflight_set(struct vb_inflight *ifl, const struct vu_inflight *in, int fd)
{
	size_t want;
	void *p;

	if (check(in, "SET_INFLIGHT_FD") < 0)
		return -EINVAL;
	want = vb_inflight_queue_bytes(in->queue_size) * in->num_queues;
	if (in->mmap_size != want || in->mmap_offset % (uint64_t)sysconf(_SC_PAGESIZE)) {
		udk_log(UDK_LOG_ERR, COMPONENT, "SET_INFLIGHT_FD: %llu bytes at offset %llu; %zu "
			"expected for %u queues of %u, at a page boundary",
			(unsigned long long)in->mmap_size, (unsigned long long)in->mmap_offset, want,
			in->num_queues, in->queue_size);
		return -EINVAL;
	}
	/* A region shorter than it says would fault in the I/O path. */
	off_t end = lseek(fd, 0, SEEK_END);
	if (end < 0 || (uint64_t)end < in->mmap_offset + want) {
		udk_log(UDK_LOG_ERR, COMPONENT, "SET_INFLIGHT_FD: the fd holds %lld bytes, under the "
			"%zu at offset %llu the message gives", (long long)end, want,
			(unsigned long long)in->mmap_offset);
		return -EINVAL;
	}
	p = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)in->mmap_offset);
	if (p == MAP_FAILED) {
		udk_log(UDK_LOG_ERR, COMPONENT, "SET_INFLIGHT_FD: mapping %zu bytes: %s", want,
			strerror(errno));
		return -EINVAL;
	}
	vb_inflight_clear(ifl);
	ifl->base = p;
	ifl->len = want;
	ifl->num_queues = in->num_queues;
	ifl->queue_size = in->queue_size;
	udk_log(UDK_LOG_NOTICE, COMPONENT, "inflight tracking: a region for %u queues of %u from "
		"the front-end", in->num_queues, in->queue_size);
	return 0;
}

static int by_counter(const void *a, const void *b, void *arg)
{
	const struct vb_inflight_desc *d = arg;
	uint64_t x = d[*(const uint16_t *)a].counter, y = d[*(const uint16_t *)b].counter;

	return x < y ? -1 : x > y;
}

static int by_counter_packed(const void *a, const void *b, void *arg)
{
	const struct vb_inflight_pdesc *d = arg;
	uint64_t x = d[*(const uint16_t *)a].counter, y = d[*(const uint16_t *)b].counter;

	return x < y ? -1 : x > y;
}

/* A packed ring's state: its entries, a free list through next, each chain
 * taken a run of entries from the list's head.  Reconnecting (vhost-user.rst,
 * "When reconnecting"): a give-back the driver may have seen (the used
 * slot's flags no longer say available) is committed, any other rolled
 * back; the free list's entries are not in flight; the rest are. */
static int start_packed(struct vb_vq *vq, struct vb_inflight_packed *r, uint32_t q)
{
	volatile struct vring_packed_desc *ring = (volatile struct vring_packed_desc *)vq->desc;
	uint32_t n = 0, slots = 0;
	uint64_t top = 0;

	vq->ifl_packed = r;
	if (r->version == 0) {
		memset(r->desc, 0, sizeof(r->desc[0]) * vq->num);
		for (uint32_t i = 0; i < vq->num; i++)
			r->desc[i].next = (uint16_t)(i + 1);
		r->desc_num = (uint16_t)vq->num;
		r->free_head = r->old_free_head = 0;
		r->used_idx = r->old_used_idx = vq->used_idx;
		r->used_wrap_counter = r->old_used_wrap_counter = vq->used_wrap;
		__atomic_store_n(&r->version, INFLIGHT_VERSION, __ATOMIC_RELEASE);
		vq->ifl_counter = 1;
		return 0;
	}
	if (r->version != INFLIGHT_VERSION || r->desc_num != vq->num)
		return vb_vq_broken(vq, "inflight region of another version or size", r->version,
				    r->desc_num);
	if (r->used_idx >= vq->num || r->old_used_idx >= vq->num || r->free_head > vq->num ||
	    r->old_free_head > vq->num)
		return vb_vq_broken(vq, "inflight region's indexes past the ring", r->old_used_idx,
				    r->old_free_head);
	if (r->used_idx != r->old_used_idx) {
		uint16_t fl = ring[r->old_used_idx].flags &
			      (VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED);
		uint16_t avail = r->old_used_wrap_counter ? VRING_PACKED_DESC_F_AVAIL
							  : VRING_PACKED_DESC_F_USED;
		if (fl != avail) { /* the used element was written: keep it */
			r->old_free_head = r->free_head;
			r->old_used_wrap_counter = r->used_wrap_counter;
			r->old_used_idx = r->used_idx;
		}
	}
	r->free_head = r->old_free_head;
	r->used_idx = r->old_used_idx;
	r->used_wrap_counter = r->old_used_wrap_counter;
	for (uint32_t h = r->free_head, i = 0; h < vq->num && i < vq->num; i++, h = r->desc[h].next)
		r->desc[h].inflight = 0;
	for (uint16_t i = 0; i < vq->num; i++) {
		if (r->desc[i].inflight != 1)
			continue;
		if (r->desc[i].num == 0 || r->desc[i].num > vq->num || r->desc[i].last >= vq->num)
			return vb_vq_broken(vq, "inflight chain of a bad length", i, r->desc[i].num);
		vq->resubmit[n++] = i;
		slots += r->desc[i].num;
		if (r->desc[i].counter > top)
			top = r->desc[i].counter;
	}
	if (slots > vq->num)
		return vb_vq_broken(vq, "inflight chains longer than the ring", slots, vq->num);
	qsort_r(vq->resubmit, n, sizeof(vq->resubmit[0]), by_counter_packed, r->desc);
	vq->nresubmit = (uint16_t)n;
	vq->ifl_counter = top + 1;
	/* QEMU 7.2 cannot read a packed ring's positions back after a crash
	 * (it has none in guest memory) and sends its last known ones: the
	 * region's are the truth.  Every slot taken is given back once. */
	uint16_t used = r->used_idx, avail = (uint16_t)(used + slots);
	bool uwrap = r->used_wrap_counter, awrap = uwrap;
	if (avail >= vq->num) {
		avail = (uint16_t)(avail - vq->num);
		awrap = !awrap;
	}
	if (used != vq->used_idx || uwrap != vq->used_wrap || avail != vq->last_avail ||
	    awrap != vq->avail_wrap)
		udk_log(UDK_LOG_NOTICE, COMPONENT, "ring %u (packed): the front-end's base is "
			"avail %u/%u used %u/%u, the inflight region's avail %u/%u used %u/%u "
			"(index/wrap): the region's taken", q, vq->last_avail, vq->avail_wrap,
			vq->used_idx, vq->used_wrap, avail, awrap, used, uwrap);
	vq->used_idx = used;
	vq->used_wrap = uwrap;
	vq->last_avail = avail;
	vq->avail_wrap = awrap;
	if (n)
		udk_log(UDK_LOG_NOTICE, COMPONENT, "ring %u (packed): %u requests in flight at the "
			"last disconnect, resubmitted (used index %u)", q, n, used);
	return (int)n;
}

int vb_inflight_start(struct vb_vq *vq, struct vb_inflight *ifl, uint32_t q)
{
	struct vb_inflight_split *r;
	uint16_t used = __atomic_load_n(&vq->used[1], __ATOMIC_ACQUIRE);
	uint32_t n = 0;

	vq->ifl = NULL;
	vq->ifl_packed = NULL;
	vq->nresubmit = vq->resubmit_pos = 0;
	if (!ifl->base || q >= ifl->num_queues)
		return 0;
	if (vq->num != ifl->queue_size) {
		udk_log(UDK_LOG_ERR, COMPONENT, "ring %u has %u entries, the inflight region %u: "
			"not tracked", q, vq->num, ifl->queue_size);
		return 0;
	}
	r = (struct vb_inflight_split *)((uint8_t *)ifl->base + vb_inflight_queue_bytes(ifl->queue_size) * q);
	if (vq->packed)
		return start_packed(vq, (struct vb_inflight_packed *)r, q);
	vq->ifl = r;
	vq->used_idx = used;
	if (r->version == 0) { /* a new region: nothing was taken yet */
		memset(r->desc, 0, sizeof(r->desc[0]) * vq->num);
		r->desc_num = (uint16_t)vq->num;
		r->used_idx = used;
		r->last_batch_head = 0;
		__atomic_store_n(&r->version, INFLIGHT_VERSION, __ATOMIC_RELEASE);
		vq->ifl_counter = 1;
		vq->last_avail = used;
		return 0;
	}
	if (r->version != INFLIGHT_VERSION || r->desc_num != vq->num)
		return vb_vq_broken(vq, "inflight region of another version or size", r->version,
				    r->desc_num);
	/* The last batch was published (the used index moved) but not all
	 * of it cleared: clear it now. */
	if (r->used_idx != used) {
		uint16_t batch = (uint16_t)(used - r->used_idx), h = r->last_batch_head;
		if (batch > vq->num)
			return vb_vq_broken(vq, "used index ahead of the inflight region's by more than "
					    "the ring", batch, vq->num);
		for (uint16_t i = 0; i < batch; i++) {
			if (h >= vq->num)
				return vb_vq_broken(vq, "inflight batch list past the ring", h, vq->num);
			r->desc[h].inflight = 0;
			h = r->desc[h].next;
		}
		r->used_idx = used;
	}
	uint64_t top = 0;
	for (uint16_t i = 0; i < vq->num; i++) {
		if (r->desc[i].inflight != 1)
			continue;
		vq->resubmit[n++] = i;
		if (r->desc[i].counter > top)
			top = r->desc[i].counter;
	}
	qsort_r(vq->resubmit, n, sizeof(vq->resubmit[0]), by_counter, r->desc);
	vq->nresubmit = (uint16_t)n;
	vq->ifl_counter = top + 1;
	/* Every head taken is given back once: taken = used + in flight. */
	vq->last_avail = (uint16_t)(used + n);
	if (n)
		udk_log(UDK_LOG_NOTICE, COMPONENT, "ring %u: %u requests in flight at the last "
			"disconnect, resubmitted (used index %u)", q, n, used);
	return (int)n;
}

void vb_inflight_take(struct vb_vq *vq, uint16_t head)
{
	struct vb_inflight_desc *d = &vq->ifl->desc[head];

	d->counter = vq->ifl_counter++;
	__atomic_store_n(&d->inflight, 1, __ATOMIC_RELEASE);
}

void vb_inflight_give(struct vb_vq *vq, uint16_t head)
{
	vq->ifl->desc[head].next = vq->ifl->last_batch_head;
	__atomic_store_n(&vq->ifl->last_batch_head, head, __ATOMIC_RELEASE);
}

void vb_inflight_published(struct vb_vq *vq, uint32_t n, uint16_t used_idx)
{
	struct vb_inflight_split *r = vq->ifl;
	uint16_t h = r->last_batch_head;

	for (uint32_t i = 0; i < n && h < vq->num; i++) {
		__atomic_store_n(&r->desc[h].inflight, 0, __ATOMIC_RELEASE);
		h = r->desc[h].next;
	}
	__atomic_store_n(&r->used_idx, used_idx, __ATOMIC_RELEASE);
}

/* vhost-user.rst "When receiving available buffers": the chain's first
 * entry is the free list's head as of the last finished chain
 * (old_free_head), each descriptor copied into the next free entry. */
int vb_inflight_packed_take(struct vb_vq *vq, struct vb_chain *c,
			    const struct vring_packed_desc *d, bool first, bool last)
{
	struct vb_inflight_packed *r = vq->ifl_packed;
	uint16_t f = r->free_head, e = first ? r->old_free_head : c->ifl_entry;

	if (f >= vq->num || e >= vq->num)
		return -1;
	if (first) {
		c->ifl_entry = e;
		r->desc[e].num = 0;
		r->desc[e].counter = vq->ifl_counter++;
		__atomic_store_n(&r->desc[e].inflight, 1, __ATOMIC_RELEASE);
	} else {
		r->desc[f].inflight = 0;
	}
	if (last) {
		r->desc[e].last = f;
		c->ifl_last = f;
	}
	r->desc[e].num++;
	r->desc[f].addr = d->addr;
	r->desc[f].len = d->len;
	r->desc[f].flags = d->flags;
	r->desc[f].id = d->id;
	__atomic_store_n(&r->free_head, r->desc[f].next, __ATOMIC_RELEASE);
	if (last)
		__atomic_store_n(&r->old_free_head, r->free_head, __ATOMIC_RELEASE);
	return 0;
}

/* "When supplying used buffers", before the used element's flags: the
 * chain's entries back on the free list, the used index moved on (the
 * caller's vq->used_idx and used_wrap already are). */
void vb_inflight_packed_give(struct vb_vq *vq, const struct vb_chain *c)
{
	struct vb_inflight_packed *r = vq->ifl_packed;

	r->desc[c->ifl_last].next = r->free_head;
	r->free_head = c->ifl_entry;
	r->used_wrap_counter = vq->used_wrap;
	__atomic_store_n(&r->used_idx, vq->used_idx, __ATOMIC_RELEASE);
}

/* ... and after them: the chain no longer in flight, the state committed
 * (old_used_idx last: while it differs from used_idx a restart looks at
 * the ring to know whether the driver may have seen the element). */
void vb_inflight_packed_given(struct vb_vq *vq, const struct vb_chain *c)
{
	struct vb_inflight_packed *r = vq->ifl_packed;

	__atomic_store_n(&r->desc[c->ifl_entry].inflight, 0, __ATOMIC_RELEASE);
	r->old_free_head = r->free_head;
	r->old_used_wrap_counter = r->used_wrap_counter;
	__atomic_store_n(&r->old_used_idx, r->used_idx, __ATOMIC_RELEASE);
}
