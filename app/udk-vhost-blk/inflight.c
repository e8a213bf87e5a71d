/* SPDX-License-Identifier: BSD-3-Clause */
/* inflight.c - inflight I/O tracking for split rings (QEMU
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

int vb_inflight_start(struct vb_vq *vq, struct vb_inflight *ifl, uint32_t q)
{
	struct vb_inflight_split *r;
	uint16_t used = __atomic_load_n(&vq->used[1], __ATOMIC_ACQUIRE);
	uint32_t n = 0;

	vq->ifl = NULL;
	vq->nresubmit = vq->resubmit_pos = 0;
	if (!ifl->base || q >= ifl->num_queues)
		return 0;
	if (vq->packed) {
		udk_log(UDK_LOG_WARN, COMPONENT, "ring %u is packed: its requests in flight are not "
			"tracked (split rings only), a restart under I/O may lose them", q);
		return 0;
	}
	if (vq->num != ifl->queue_size) {
		udk_log(UDK_LOG_ERR, COMPONENT, "ring %u has %u entries, the inflight region %u: "
			"not tracked", q, vq->num, ifl->queue_size);
		return 0;
	}
	r = (struct vb_inflight_split *)((uint8_t *)ifl->base + vb_inflight_queue_bytes(ifl->queue_size) * q);
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
