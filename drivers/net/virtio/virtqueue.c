/* SPDX-License-Identifier: BSD-3-Clause */
/* virtqueue.c - the control half of virtqueues, split (virtio 1.1 §2.6) and
 * packed (§2.7): layout over caller-given memory, the free lists, and
 * draining a queue after its device was reset.  The fast path is inline in
 * virtqueue.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtqueue.h"

#define USED_ALIGN 4096 /* §2.6 asks for 4; a page of its own is kinder to caches */

static size_t avail_bytes(uint16_t size)
{
	return 6 + 2u * size; /* flags, idx, ring[size], used_event */
}

static size_t used_off(uint16_t size)
{
	return UDK_ALIGN_UP(16u * size + avail_bytes(size), (size_t)USED_ALIGN);
}

size_t virtq_mem_size(uint16_t size)
{
	return used_off(size) + 6 + 8u * size; /* flags, idx, ring[size], avail_event */
}

/* Packed: the device's event structure on a line of its own after the
 * driver's (§2.7: both 4-byte aligned). */
static size_t pdev_event_off(uint16_t size)
{
	return UDK_ALIGN_UP(16u * size + 4, (size_t)64);
}

size_t virtq_packed_mem_size(uint16_t size)
{
	return pdev_event_off(size) + 4;
}

/* Every descriptor free, linked in order: a fresh queue hands out 0, 1, 2...
 * Packed: every buffer id free, the ring empty, both wrap counters 1
 * (§2.7.1), and the driver asks for no interrupts (§2.7.14). */
static void init_rings(struct virtq *vq)
{
	memset(vq->mem, 0, vq->mem_len);
	if (vq->packed) {
		for (uint16_t i = 0; i < vq->size; i++)
			vq->info[i].last = (uint16_t)(i + 1);
		vq->free_head = 0;
		vq->num_free = vq->size;
		vq->avail_idx = vq->last_used = vq->kicked_idx = 0;
		vq->avail_wrap = vq->used_wrap = true;
		((struct pvirtq_event *)vq->driver_area)->flags = htole16(VIRTQ_EVENT_F_DISABLE);
		return;
	}
	for (uint16_t i = 0; i < vq->size; i++)
		vq->desc[i].next = htole16((uint16_t)((i + 1u) & vq->mask));
	vq->free_head = 0;
	vq->num_free = vq->size;
	vq->avail_idx = vq->last_used = vq->kicked_idx = 0;
	/* vq->lost survives: the port's statistics outlive a reset. */
	/* §2.6.7: a polling driver asks the device not to interrupt it. */
	vq->avail->flags = htole16(VIRTQ_AVAIL_F_NO_INTERRUPT);
}

int virtq_create(uint16_t index, uint16_t size, void *mem, uint64_t iova, struct virtq **out)
{
	struct virtq *vq;

	if (!UDK_IS_POW2(size) || size > VIRTQ_MAX_SIZE) {
		udk_log(UDK_LOG_ERR, "virtio", "queue %u: %u entries; a split virtqueue has a power "
			"of two from 1 to %u (virtio 1.1 §2.6)", index, size, VIRTQ_MAX_SIZE);
		return -EINVAL;
	}
	vq = calloc(1, sizeof(*vq) + size * sizeof(vq->info[0]));
	if (vq == NULL)
		return -ENOMEM;
	vq->index = index;
	vq->size = size;
	vq->mask = (uint16_t)(size - 1);
	vq->mem = mem;
	vq->desc = mem;
	vq->avail = (struct virtq_avail *)((char *)mem + 16u * size);
	vq->used = (struct virtq_used *)((char *)mem + used_off(size));
	vq->desc_iova = iova;
	vq->avail_iova = iova + 16u * size;
	vq->used_iova = iova + used_off(size);
	vq->driver_area = vq->avail;
	vq->device_area = vq->used;
	vq->mem_len = virtq_mem_size(size);
	init_rings(vq);
	*out = vq;
	return 0;
}

int virtq_create_packed(uint16_t index, uint16_t size, void *mem, uint64_t iova,
			struct virtq **out)
{
	struct virtq *vq;

	if (size == 0 || size > VIRTQ_MAX_SIZE) {
		udk_log(UDK_LOG_ERR, "virtio", "queue %u: %u entries; a packed virtqueue has 1 to %u "
			"(virtio 1.1 §2.7)", index, size, VIRTQ_MAX_SIZE);
		return -EINVAL;
	}
	vq = calloc(1, sizeof(*vq) + size * sizeof(vq->info[0]));
	if (vq == NULL)
		return -ENOMEM;
	vq->packed = true;
	vq->index = index;
	vq->size = size;
	vq->mem = mem;
	vq->mem_len = virtq_packed_mem_size(size);
	vq->desc = mem;
	vq->pdesc = mem;
	vq->driver_area = (char *)mem + 16u * size;
	vq->device_area = (char *)mem + pdev_event_off(size);
	vq->dev_event = vq->device_area;
	vq->desc_iova = iova;
	vq->avail_iova = iova + 16u * size;
	vq->used_iova = iova + pdev_event_off(size);
	init_rings(vq);
	*out = vq;
	return 0;
}

uint32_t virtq_base(const struct virtq *vq)
{
	if (vq->packed)
		return vq->avail_idx | (uint32_t)vq->avail_wrap << 15;
	return virtq_used_idx(vq);
}

void virtq_reset(struct virtq *vq, void (*fn)(void *cookie, void *arg), void *arg)
{
	for (uint16_t i = 0; i < vq->size; i++) {
		if (vq->info[i].cookie != NULL && fn != NULL)
			fn(vq->info[i].cookie, arg);
		vq->info[i].cookie = NULL;
	}
	init_rings(vq);
}

uint16_t virtq_used_idx(const struct virtq *vq)
{
	return le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
}

uint16_t virtq_complete_pending(struct virtq *vq, uint16_t *base)
{
	uint16_t avail = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
	uint16_t used = virtq_used_idx(vq), n = (uint16_t)(avail - used);

	for (uint16_t i = used; i != avail; i++) {
		struct virtq_used_elem *e = &vq->used->ring[i & vq->mask];

		e->id = htole32(le16toh(vq->avail->ring[i & vq->mask]));
		e->len = 0;
	}
	/* §2.6.8.2: the elements before the index (release). */
	__atomic_store_n(&vq->used->idx, htole16(avail), __ATOMIC_RELEASE);
	__atomic_store_n(&vq->lost, __atomic_load_n(&vq->lost, __ATOMIC_RELAXED) + n,
			 __ATOMIC_RELAXED);
	*base = avail;
	return n;
}

void virtq_free(struct virtq *vq, void (*fn)(void *cookie, void *arg), void *arg)
{
	if (vq == NULL)
		return;
	for (uint16_t i = 0; i < vq->size; i++)
		if (vq->info[i].cookie != NULL && fn != NULL)
			fn(vq->info[i].cookie, arg);
	free(vq);
}

/* §2.6.10: with VIRTIO_F_EVENT_IDX the driver's used_event sits after the
 * available ring, and the device ignores VIRTQ_AVAIL_F_NO_INTERRUPT. */
static void set_used_event(struct virtq *vq, uint16_t idx)
{
	__atomic_store_n(&vq->avail->ring[vq->size], htole16(idx), __ATOMIC_RELAXED);
}

bool virtq_intr_enable(struct virtq *vq)
{
	if (vq->packed) {
		/* §2.7.10: ENABLE notifies for every used descriptor; DESC (with
		 * EVENT_IDX) would name one, which ENABLE makes unnecessary here. */
		__atomic_store_n(&((struct pvirtq_event *)vq->driver_area)->flags,
				 htole16(VIRTQ_EVENT_F_ENABLE), __ATOMIC_RELAXED);
	} else if (vq->event_idx) {
		/* Notify when the device's used index passes last_used: for the
		 * next chain it uses. */
		set_used_event(vq, vq->last_used);
	} else {
		__atomic_store_n(&vq->avail->flags, htole16(0), __ATOMIC_RELAXED);
	}
	/* The store above before the used ring's read below (the device does
	 * the mirror image: writes the used index, then reads our flags). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return virtq_used_count(vq) > 0;
}

void virtq_intr_disable(struct virtq *vq)
{
	if (vq->packed)
		__atomic_store_n(&((struct pvirtq_event *)vq->driver_area)->flags,
				 htole16(VIRTQ_EVENT_F_DISABLE), __ATOMIC_RELAXED);
	else if (vq->event_idx)
		/* An event one behind the device's index: it comes round again
		 * only after 65,535 more used chains. */
		set_used_event(vq, (uint16_t)(vq->last_used - 1));
	else
		__atomic_store_n(&vq->avail->flags, htole16(VIRTQ_AVAIL_F_NO_INTERRUPT),
				 __ATOMIC_RELAXED);
}
