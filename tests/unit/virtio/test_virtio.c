/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for drivers/net/virtio without a device: the split virtqueue
 * (virtio 1.1 §2.6) and the packed one (§2.7) on plain memory, with the test
 * playing the device (for packed rings a device written from the spec's text:
 * its own wrap counters, reading available descriptors, writing used ones),
 * and the feature
 * negotiation of §3.1.1 over a fake transport (refusal of a device without
 * VERSION_1 or ACCESS_PLATFORM, with the message; FEATURES_OK refused). */
#include <errno.h>
#include <stdlib.h>

#include "../common/unit.h"
#include "virtio_dev.h"
#include "virtqueue.h"

static unsigned int notifies;

static void count_notify(struct virtq *vq)
{
	(void)vq;
	notifies++;
}

/* A queue over malloc'd memory whose "IOVA" is a made-up base. */
#define FAKE_IOVA 0x100000000ull
static struct virtq *make(uint16_t size)
{
	struct virtq *vq = NULL;
	void *mem = aligned_alloc(4096, UDK_ALIGN_UP(virtq_mem_size(size), (size_t)4096));

	CU_ASSERT_PTR_NOT_NULL_FATAL(mem);
	CU_ASSERT_EQUAL_FATAL(virtq_create(1, size, mem, FAKE_IOVA, &vq), 0);
	vq->notify = count_notify;
	return vq;
}

static void destroy(struct virtq *vq)
{
	void *mem = vq->mem;

	virtq_free(vq, NULL, NULL);
	free(mem);
}

/* The device's side: the avail entry at position i, the used ring entry. */
static uint16_t dev_avail(struct virtq *vq, uint16_t i)
{
	return le16toh(vq->avail->ring[i & vq->mask]);
}

static void dev_use(struct virtq *vq, uint32_t id, uint32_t len)
{
	uint16_t idx = le16toh(vq->used->idx);

	vq->used->ring[idx & vq->mask] = (struct virtq_used_elem){htole32(id), htole32(len)};
	__atomic_store_n(&vq->used->idx, htole16((uint16_t)(idx + 1)), __ATOMIC_RELEASE);
}

static int cookies[64];

static void add_one(struct virtq *vq, uint64_t addr, uint32_t len, bool write, void *cookie)
{
	struct virtq_chain ch;

	virtq_chain_start(vq, &ch, 1, cookie);
	virtq_chain_add(vq, &ch, addr, len, write);
	virtq_chain_end(vq, &ch);
}

static void test_layout(void)
{
	struct virtq *vq = NULL;
	char mem[64];

	/* §2.6: 16-byte descriptors, then avail (6 + 2n), used on its page. */
	CU_ASSERT_EQUAL(virtq_mem_size(256), 4096 + 4096 + 6 + 8 * 256);
	CU_ASSERT_EQUAL(virtq_mem_size(1), 4096 + 6 + 8);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(virtq_create(0, 100, mem, 0, &vq), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("power of two");
	CU_ASSERT_EQUAL(virtq_create(0, 0, mem, 0, &vq), -EINVAL);
	CU_ASSERT_PTR_NULL(vq);

	vq = make(256);
	CU_ASSERT_EQUAL(vq->size, 256);
	CU_ASSERT_EQUAL(vq->num_free, 256);
	CU_ASSERT_PTR_EQUAL(vq->desc, vq->mem);
	CU_ASSERT_EQUAL((char *)vq->avail - (char *)vq->mem, 16 * 256);
	CU_ASSERT_EQUAL((uintptr_t)vq->used % 4096, 0);
	CU_ASSERT_EQUAL(vq->desc_iova, FAKE_IOVA);
	CU_ASSERT_EQUAL(vq->avail_iova, FAKE_IOVA + 16 * 256);
	CU_ASSERT_EQUAL(vq->used_iova - FAKE_IOVA, (uint64_t)((char *)vq->used - (char *)vq->mem));
	/* §2.6.7: a polling driver asks for no interrupts. */
	CU_ASSERT_EQUAL(le16toh(vq->avail->flags), VIRTQ_AVAIL_F_NO_INTERRUPT);
	CU_ASSERT_EQUAL(vq->avail->idx, 0);
	destroy(vq);
}

static void test_single_buffers(void)
{
	struct virtq *vq = make(8);
	uint32_t len;

	for (int i = 0; i < 3; i++)
		add_one(vq, 0x1000u * (i + 1), 2048, true, &cookies[i]);
	CU_ASSERT_EQUAL(vq->num_free, 5);
	CU_ASSERT_EQUAL(vq->avail->idx, 0); /* not yet published */
	virtq_publish(vq);
	CU_ASSERT_EQUAL(le16toh(vq->avail->idx), 3);
	for (uint16_t i = 0; i < 3; i++) {
		struct virtq_desc *d = &vq->desc[dev_avail(vq, i)];
		CU_ASSERT_EQUAL(le64toh(d->addr), 0x1000u * (i + 1));
		CU_ASSERT_EQUAL(le32toh(d->len), 2048);
		CU_ASSERT_EQUAL(le16toh(d->flags), VIRTQ_DESC_F_WRITE);
	}
	/* The device may return buffers in any order (§2.6.8). */
	CU_ASSERT_EQUAL(virtq_used_count(vq), 0);
	dev_use(vq, dev_avail(vq, 2), 100);
	dev_use(vq, dev_avail(vq, 0), 60);
	CU_ASSERT_EQUAL(virtq_used_count(vq), 2);
	CU_ASSERT_PTR_EQUAL(virtq_used_take(vq, &len), &cookies[2]);
	CU_ASSERT_EQUAL(len, 100);
	CU_ASSERT_PTR_EQUAL(virtq_used_take(vq, &len), &cookies[0]);
	CU_ASSERT_EQUAL(len, 60);
	dev_use(vq, dev_avail(vq, 1), 1514);
	CU_ASSERT_PTR_EQUAL(virtq_used_take(vq, &len), &cookies[1]);
	CU_ASSERT_EQUAL(vq->num_free, 8);
	CU_ASSERT_EQUAL(virtq_used_count(vq), 0);
	destroy(vq);
}

/* Walk the chain at head the way a device does; returns its length. */
static unsigned int dev_walk(struct virtq *vq, uint16_t head, bool *seen)
{
	unsigned int n = 1;

	for (uint16_t d = head;; n++) {
		CU_ASSERT_FALSE(seen[d]);
		seen[d] = true;
		if (!(le16toh(vq->desc[d].flags) & VIRTQ_DESC_F_NEXT))
			break;
		d = le16toh(vq->desc[d].next);
	}
	return n;
}

static void test_chains(void)
{
	struct virtq *vq = make(16);
	struct virtq_chain ch;
	bool seen[16] = {false};
	uint32_t len;

	/* Four chains of four fill the table exactly. */
	for (int c = 0; c < 4; c++) {
		CU_ASSERT_TRUE(vq->num_free >= 4);
		virtq_chain_start(vq, &ch, 4, &cookies[c]);
		for (int s = 0; s < 4; s++)
			virtq_chain_add(vq, &ch, 0x10000u * c + 0x100u * s, 12 + s, false);
		virtq_chain_end(vq, &ch);
	}
	CU_ASSERT_EQUAL(vq->num_free, 0);
	virtq_publish(vq);
	for (uint16_t c = 0; c < 4; c++) {
		uint16_t d = dev_avail(vq, c);
		CU_ASSERT_EQUAL(dev_walk(vq, d, seen), 4);
		for (int s = 0; s < 4; s++, d = le16toh(vq->desc[d].next)) {
			CU_ASSERT_EQUAL(le64toh(vq->desc[d].addr), 0x10000u * c + 0x100u * s);
			CU_ASSERT_EQUAL(le32toh(vq->desc[d].len), 12u + s);
			CU_ASSERT_EQUAL(le16toh(vq->desc[d].flags) & VIRTQ_DESC_F_WRITE, 0);
		}
	}
	/* Returned in reverse, then one chain of all 16: the free list holds
	 * every descriptor once. */
	for (int c = 3; c >= 0; c--)
		dev_use(vq, dev_avail(vq, (uint16_t)c), 0);
	for (int c = 3; c >= 0; c--)
		CU_ASSERT_PTR_EQUAL(virtq_used_take(vq, &len), &cookies[c]);
	CU_ASSERT_EQUAL(vq->num_free, 16);
	virtq_chain_start(vq, &ch, 16, &cookies[9]);
	for (int s = 0; s < 16; s++)
		virtq_chain_add(vq, &ch, (uint64_t)s, 1, true);
	virtq_chain_end(vq, &ch);
	virtq_publish(vq);
	memset(seen, 0, sizeof(seen));
	CU_ASSERT_EQUAL(dev_walk(vq, dev_avail(vq, 4), seen), 16);
	dev_use(vq, dev_avail(vq, 4), 16);
	CU_ASSERT_PTR_EQUAL(virtq_used_take(vq, &len), &cookies[9]);
	CU_ASSERT_EQUAL(vq->num_free, 16);
	destroy(vq);
}

/* 16-bit indexes wrap (§2.6.6: idx "wraps naturally at 65536"). */
static void test_wrap(void)
{
	struct virtq *vq = make(4);
	uint32_t len;

	for (unsigned int i = 0; i < 70000; i++) {
		add_one(vq, i, 64, false, &cookies[i % 4]);
		virtq_publish(vq);
		dev_use(vq, dev_avail(vq, (uint16_t)i), 64);
		if (virtq_used_count(vq) != 1 || virtq_used_take(vq, &len) != &cookies[i % 4]) {
			CU_FAIL("a buffer was lost at the wrap");
			break;
		}
	}
	CU_ASSERT_EQUAL(le16toh(vq->avail->idx), (uint16_t)70000);
	CU_ASSERT_EQUAL(vq->num_free, 4);
	destroy(vq);
}

/* §2.6.13.4 / §2.6.10: notify once per publish, never under NO_NOTIFY. */
static void test_kick(void)
{
	struct virtq *vq = make(8);

	notifies = 0;
	CU_ASSERT_FALSE(virtq_kick(vq)); /* nothing published */
	add_one(vq, 1, 1, false, &cookies[0]);
	add_one(vq, 2, 1, false, &cookies[1]);
	virtq_publish(vq);
	CU_ASSERT_TRUE(virtq_kick(vq));
	CU_ASSERT_FALSE(virtq_kick(vq)); /* nothing new */
	CU_ASSERT_EQUAL(notifies, 1);
	vq->used->flags = htole16(VIRTQ_USED_F_NO_NOTIFY);
	add_one(vq, 3, 1, false, &cookies[2]);
	virtq_publish(vq);
	CU_ASSERT_FALSE(virtq_kick(vq));
	CU_ASSERT_EQUAL(notifies, 1);
	vq->used->flags = 0;
	add_one(vq, 4, 1, false, &cookies[3]);
	virtq_publish(vq);
	CU_ASSERT_TRUE(virtq_kick(vq));
	CU_ASSERT_EQUAL(notifies, 2);
	destroy(vq);
}

static unsigned int drained;
static void count_cookie(void *cookie, void *arg)
{
	(void)cookie;
	(void)arg;
	drained++;
}

/* A broken device naming a chain it was not given changes nothing; a reset
 * gives every cookie back. */
static void test_bad_id_and_reset(void)
{
	struct virtq *vq = make(8);
	uint32_t len;

	for (int i = 0; i < 5; i++)
		add_one(vq, (uint64_t)i, 1, true, &cookies[i]);
	virtq_publish(vq);
	dev_use(vq, 8, 0);            /* out of range */
	dev_use(vq, 7, 0);            /* never given */
	CU_ASSERT_PTR_NULL(virtq_used_take(vq, &len));
	CU_ASSERT_PTR_NULL(virtq_used_take(vq, &len));
	CU_ASSERT_EQUAL(vq->num_free, 3);
	dev_use(vq, dev_avail(vq, 0), 0);
	CU_ASSERT_PTR_EQUAL(virtq_used_take(vq, &len), &cookies[0]);
	drained = 0;
	virtq_reset(vq, count_cookie, NULL);
	CU_ASSERT_EQUAL(drained, 4);
	CU_ASSERT_EQUAL(vq->num_free, 8);
	CU_ASSERT_EQUAL(vq->avail_idx, 0);
	CU_ASSERT_EQUAL(vq->last_used, 0);
	CU_ASSERT_EQUAL(vq->used->idx, 0);
	CU_ASSERT_EQUAL(le16toh(vq->avail->flags), VIRTQ_AVAIL_F_NO_INTERRUPT);
	add_one(vq, 9, 1, true, &cookies[9]);
	drained = 0;
	void *mem = vq->mem;
	virtq_free(vq, count_cookie, NULL); /* frees the struct; the memory is ours */
	CU_ASSERT_EQUAL(drained, 1);
	free(mem);
}

/* A device that went away holding chains (a vhost-user back-end killed):
 * the ones it never returned are completed in its place, once, in the order
 * published, and counted; the new device starts after them.  Chains the old
 * device did return are taken as usual, and the index wraps. */
static void test_complete_pending(void)
{
	struct virtq *vq = make(8);
	uint32_t len;
	uint16_t base = 1;

	CU_ASSERT_EQUAL(virtq_complete_pending(vq, &base), 0);
	CU_ASSERT_EQUAL(base, 0);
	/* Move the indexes near the 16-bit wrap. */
	for (unsigned int i = 0; i < 65533; i++) {
		add_one(vq, i, 1, false, &cookies[0]);
		virtq_publish(vq);
		dev_use(vq, dev_avail(vq, (uint16_t)i), 0);
		virtq_used_take(vq, &len);
	}
	for (int i = 0; i < 6; i++)
		add_one(vq, (uint64_t)i, 60, false, &cookies[i]);
	add_one(vq, 99, 60, false, &cookies[6]); /* added, not yet published */
	vq->avail_idx--;                           /* ... so not in avail->idx */
	virtq_publish(vq);
	vq->avail_idx++;
	/* The old device returned two (the wrap lies between them and the rest). */
	dev_use(vq, dev_avail(vq, 65533), 0);
	dev_use(vq, dev_avail(vq, 65534), 0);
	CU_ASSERT_EQUAL(virtq_complete_pending(vq, &base), 4);
	CU_ASSERT_EQUAL(base, (uint16_t)(65533 + 6));
	CU_ASSERT_EQUAL(le16toh(vq->used->idx), base);
	CU_ASSERT_EQUAL(vq->lost, 4);
	CU_ASSERT_EQUAL(virtq_used_count(vq), 6);
	for (int i = 0; i < 6; i++)
		CU_ASSERT_PTR_EQUAL(virtq_used_take(vq, &len), &cookies[i]);
	CU_ASSERT_EQUAL(vq->num_free, 7); /* the unpublished one is still out */
	/* Nothing more to complete: a second call changes nothing. */
	CU_ASSERT_EQUAL(virtq_complete_pending(vq, &base), 0);
	CU_ASSERT_EQUAL(vq->lost, 4);
	CU_ASSERT_EQUAL(virtq_used_idx(vq), base);
	destroy(vq);
}

/* --vdev virtio_user0,...: DPDK virtio_user's spellings; what udk does not
 * implement is refused with a message naming what it takes, before any
 * connection is tried. */
static void test_user_args(void)
{
	static const struct {
		const char *args, *msg;
		int rc;
	} bad[] = {
		{"path=/nonexistent/s,queue_size=100", "queue_size=100: a split virtqueue has a "
		 "power of two", -EINVAL},
		{"path=/nonexistent/s,packed_vq=2", "packed_vq=2 is not a number in 0..1", -EINVAL},
		{"path=/nonexistent/s,mrg_rxbuf=on", "mrg_rxbuf=on is not a number in 0..1",
		 -EINVAL},
		{"path=/nonexistent/s,in_order=1", "in_order=1: net_virtio does not negotiate "
		 "VIRTIO_F_IN_ORDER", -ENOTSUP},
		{"path=/nonexistent/s,queues=9", "queues=9: udk's virtio_user takes 1..8 queue "
		 "pairs", -ENOTSUP},
		{"path=/nonexistent/s,server=yes", "server=yes is not a number in 0..1", -EINVAL},
		{"path=/nonexistent/s,vectorized=1", "unknown argument 'vectorized' (udk's "
		 "virtio_user takes path=, server=, queues=, queue_size=, mac=, packed_vq=, "
		 "mrg_rxbuf=, in_order=)", -EINVAL},
		/* The values udk implements pass parsing and reach the connect. */
		{"path=/nonexistent/s,server=0,packed_vq=0,mrg_rxbuf=0,in_order=0,queues=1",
		 "no such socket; start the back-end first", -ENOENT},
		{"path=/nonexistent/s,queue_size=100,packed_vq=1", "no such socket", -ENOENT},
		{"path=/nonexistent/dir/s,server=1", "server=1: listen on /nonexistent/dir/s",
		 -ENOENT},
	};
	struct virtio_dev *vd = NULL;

	for (size_t i = 0; i < UDK_ARRAY_SIZE(bad); i++) {
		udk_last_error_clear();
		CU_ASSERT_EQUAL(virtio_user_open("virtio_user0", bad[i].args, &vd), bad[i].rc);
		CU_ASSERT_LAST_ERROR_HAS(bad[i].msg);
		CU_ASSERT_PTR_NULL(vd);
	}
}

/* ---- packed virtqueues (§2.7), the test playing the device ---- */

static struct virtq *make_packed(uint16_t size)
{
	struct virtq *vq = NULL;
	void *mem = aligned_alloc(4096, UDK_ALIGN_UP(virtq_packed_mem_size(size), (size_t)4096));

	CU_ASSERT_PTR_NOT_NULL_FATAL(mem);
	CU_ASSERT_EQUAL_FATAL(virtq_create_packed(1, size, mem, FAKE_IOVA, &vq), 0);
	vq->notify = count_notify;
	return vq;
}

/* The device's side, from §2.7.1 and §2.7.6-§2.7.8 only: its own wrap
 * counters (1 at start), the next descriptor it reads and the next it
 * writes as used. */
struct pdev {
	uint16_t pos, upos;
	bool wrap, uwrap;
};

static void pdev_init(struct pdev *d)
{
	*d = (struct pdev){0, 0, true, true};
}

/* §2.7.1: available to the device when AVAIL equals its wrap counter and
 * USED does not. */
static bool pdev_avail(struct virtq *vq, uint16_t pos, bool wrap)
{
	uint16_t f = le16toh(__atomic_load_n(&vq->pdesc[pos].flags, __ATOMIC_ACQUIRE));

	return !!(f & VIRTQ_DESC_F_AVAIL) == wrap && !!(f & VIRTQ_DESC_F_USED) != wrap;
}

static void pdev_step(struct virtq *vq, uint16_t *pos, bool *wrap)
{
	if (++*pos == vq->size) {
		*pos = 0;
		*wrap = !*wrap;
	}
}

/* Read the next available chain: its buffer id (from its last descriptor,
 * §2.7.6), its descriptor count, the first address; -1 if none. */
static int pdev_take(struct virtq *vq, struct pdev *d, uint16_t *id, uint64_t *addr, bool *write)
{
	int n = 0;
	uint16_t f;

	if (!pdev_avail(vq, d->pos, d->wrap))
		return -1;
	*addr = le64toh(vq->pdesc[d->pos].addr);
	*write = le16toh(vq->pdesc[d->pos].flags) & VIRTQ_DESC_F_WRITE;
	do {
		CU_ASSERT_TRUE(pdev_avail(vq, d->pos, d->wrap)); /* every one of the chain */
		f = le16toh(vq->pdesc[d->pos].flags);
		*id = le16toh(vq->pdesc[d->pos].id);
		pdev_step(vq, &d->pos, &d->wrap);
		n++;
	} while (f & VIRTQ_DESC_F_NEXT);
	return n;
}

/* §2.7.7: one used descriptor per chain, its id and the bytes written,
 * AVAIL and USED both set to the device's wrap counter (flags last); then
 * the device skips the chain's other descriptors. */
static void pdev_use(struct virtq *vq, struct pdev *d, uint16_t id, uint32_t len, int ndesc)
{
	struct pvirtq_desc *e = &vq->pdesc[d->upos];

	e->id = htole16(id);
	e->len = htole32(len);
	__atomic_store_n(&e->flags, htole16(d->uwrap ? VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED : 0),
			 __ATOMIC_RELEASE);
	for (int i = 0; i < ndesc; i++)
		pdev_step(vq, &d->upos, &d->uwrap);
}

static void test_packed_layout(void)
{
	struct virtq *vq = NULL;
	char mem[64];

	/* §2.7: 16-byte descriptors, then two 4-byte event structures; any size. */
	CU_ASSERT_EQUAL(virtq_packed_mem_size(100), 1664 + 4);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(virtq_create_packed(0, 0, mem, 0, &vq), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("a packed virtqueue has 1 to 32768");
	CU_ASSERT_EQUAL(virtq_create_packed(0, 40000, mem, 0, &vq), -EINVAL);
	CU_ASSERT_PTR_NULL(vq);
	vq = make_packed(100);
	CU_ASSERT_TRUE(vq->packed);
	CU_ASSERT_EQUAL(vq->num_free, 100);
	CU_ASSERT_EQUAL(vq->avail_iova, FAKE_IOVA + 1600);
	CU_ASSERT_EQUAL(vq->used_iova, FAKE_IOVA + 1664);
	/* §2.7.14: the driver polls, so its event structure says DISABLE. */
	CU_ASSERT_EQUAL(le16toh(((struct pvirtq_event *)vq->driver_area)->flags),
			VIRTQ_EVENT_F_DISABLE);
	/* §2.7.1: both wrap counters start at 1; vhost-user's base says so. */
	CU_ASSERT_EQUAL(virtq_base(vq), 1u << 15);
	destroy(vq);
}

/* Single buffers used out of order: ids name them, the used descriptors
 * come in the device's order, cookies and lengths follow the ids. */
static void test_packed_buffers(void)
{
	struct virtq *vq = make_packed(8);
	struct pdev d;
	uint16_t ids[3];
	uint64_t addr;
	bool write;
	uint32_t len;

	pdev_init(&d);
	for (int i = 0; i < 3; i++)
		add_one(vq, 0x1000u * (i + 1), 100 + i, i == 1, &cookies[i]);
	virtq_publish(vq);
	CU_ASSERT_EQUAL(vq->num_free, 5);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(pdev_take(vq, &d, &ids[i], &addr, &write), 1);
		CU_ASSERT_EQUAL(addr, 0x1000u * (i + 1));
		CU_ASSERT_EQUAL(write, i == 1);
		CU_ASSERT_EQUAL(le32toh(vq->pdesc[i].len), 100u + i);
	}
	CU_ASSERT_EQUAL(pdev_take(vq, &d, &ids[0], &addr, &write), -1); /* nothing more */
	CU_ASSERT_NOT_EQUAL(ids[0], ids[1]);
	CU_ASSERT_NOT_EQUAL(ids[1], ids[2]);
	CU_ASSERT_EQUAL(virtq_used_count(vq), 0);
	pdev_use(vq, &d, ids[2], 7, 1);
	pdev_use(vq, &d, ids[0], 5, 1);
	CU_ASSERT_EQUAL(virtq_used_count(vq), 2);
	CU_ASSERT_PTR_EQUAL(virtq_used_take(vq, &len), &cookies[2]);
	CU_ASSERT_EQUAL(len, 7);
	CU_ASSERT_PTR_EQUAL(virtq_used_take(vq, &len), &cookies[0]);
	CU_ASSERT_EQUAL(len, 5);
	CU_ASSERT_EQUAL(virtq_used_count(vq), 0);
	pdev_use(vq, &d, ids[1], 9, 1);
	CU_ASSERT_PTR_EQUAL(virtq_used_take(vq, &len), &cookies[1]);
	CU_ASSERT_EQUAL(vq->num_free, 8);
	destroy(vq);
}

/* Chains of three around a ring of 8 for many laps: the wrap counters flip
 * where the ring wraps, also inside a chain; the head is the last thing
 * written, so the device never sees half a chain; every chain comes back. */
static void test_packed_chains_wrap(void)
{
	struct virtq *vq = make_packed(8);
	struct virtq_chain ch;
	struct pdev d;
	uint32_t len;
	bool ok = true;

	pdev_init(&d);
	for (unsigned int c = 0; c < 1000 && ok; c++) {
		uint16_t id, head = vq->avail_idx;
		uint64_t addr;
		bool write;

		virtq_chain_start(vq, &ch, 3, &cookies[c % 8]);
		for (int k = 0; k < 3; k++)
			virtq_chain_add(vq, &ch, 0x100u * c + k, 60, false);
		/* Written, not yet published: the device sees nothing. */
		ok &= !pdev_avail(vq, head, d.wrap) && pdev_take(vq, &d, &id, &addr, &write) == -1;
		virtq_chain_end(vq, &ch);
		ok &= pdev_take(vq, &d, &id, &addr, &write) == 3 && addr == 0x100u * c;
		pdev_use(vq, &d, id, 0, 3);
		ok &= virtq_used_count(vq) == 1 && virtq_used_take(vq, &len) == &cookies[c % 8];
		ok &= vq->num_free == 8;
	}
	CU_ASSERT_TRUE(ok);
	/* 3000 descriptors = 375 laps: back at 0 with the counters flipped 375 times. */
	CU_ASSERT_EQUAL(vq->avail_idx, 3000 % 8);
	CU_ASSERT_EQUAL(vq->avail_wrap, (3000 / 8) % 2 == 0);
	CU_ASSERT_EQUAL(vq->used_wrap, vq->avail_wrap);
	destroy(vq);
}

/* §2.7.10: the device's event suppression decides; with EVENT_IDX a
 * descriptor (and its wrap counter) names when. */
static void test_packed_kick(void)
{
	struct virtq *vq = make_packed(8);
	struct pdev d;
	uint16_t id;
	uint64_t addr;
	bool write;
	uint32_t len;

	pdev_init(&d);
	notifies = 0;
	CU_ASSERT_FALSE(virtq_kick(vq)); /* nothing new */
	add_one(vq, 1, 1, false, &cookies[0]);
	CU_ASSERT_TRUE(virtq_kick(vq)); /* ENABLE (0) */
	CU_ASSERT_FALSE(virtq_kick(vq));
	vq->dev_event->flags = htole16(VIRTQ_EVENT_F_DISABLE);
	add_one(vq, 2, 1, false, &cookies[1]);
	CU_ASSERT_FALSE(virtq_kick(vq));
	CU_ASSERT_EQUAL(notifies, 1);
	/* DESC without EVENT_IDX negotiated counts as enabled. */
	vq->dev_event->flags = htole16(VIRTQ_EVENT_F_DESC);
	add_one(vq, 3, 1, false, &cookies[2]);
	CU_ASSERT_TRUE(virtq_kick(vq));
	vq->event_idx = true;
	/* The device wants to hear when descriptor 5 of this lap is made
	 * available: 3 and 4 do not cross it, 5 does. */
	vq->dev_event->off_wrap = htole16(5 | 1u << 15);
	add_one(vq, 4, 1, false, &cookies[3]);
	add_one(vq, 5, 1, false, &cookies[4]);
	CU_ASSERT_FALSE(virtq_kick(vq));
	add_one(vq, 6, 1, false, &cookies[5]);
	CU_ASSERT_TRUE(virtq_kick(vq));
	CU_ASSERT_EQUAL(notifies, 3);
	/* Across the wrap: the device names descriptor 1 of the next lap. */
	for (int i = 0; i < 6; i++) {
		CU_ASSERT_EQUAL(pdev_take(vq, &d, &id, &addr, &write), 1);
		pdev_use(vq, &d, id, 0, 1);
		virtq_used_take(vq, &len);
	}
	vq->dev_event->off_wrap = htole16(1 | 0u << 15);
	add_one(vq, 7, 1, false, &cookies[6]); /* position 6 */
	add_one(vq, 8, 1, false, &cookies[7]); /* position 7, then the wrap */
	CU_ASSERT_FALSE(virtq_kick(vq));
	add_one(vq, 9, 1, false, &cookies[8]); /* position 0 of the next lap */
	CU_ASSERT_FALSE(virtq_kick(vq));
	add_one(vq, 10, 1, false, &cookies[9]); /* position 1: crossed */
	CU_ASSERT_TRUE(virtq_kick(vq));
	CU_ASSERT_EQUAL(notifies, 4);
	destroy(vq);
}

/* §2.6.10 for split rings with EVENT_IDX: avail_event, after the used ring,
 * replaces the NO_NOTIFY flag. */
static void test_split_event_idx(void)
{
	struct virtq *vq = make(8);
	uint16_t *avail_event = (uint16_t *)&vq->used->ring[8];

	vq->event_idx = true;
	notifies = 0;
	vq->used->flags = htole16(VIRTQ_USED_F_NO_NOTIFY); /* ignored now */
	*avail_event = htole16(0);
	add_one(vq, 1, 1, false, &cookies[0]);
	virtq_publish(vq);
	CU_ASSERT_TRUE(virtq_kick(vq)); /* index 0 -> 1 crosses event 0 */
	*avail_event = htole16(3);
	add_one(vq, 2, 1, false, &cookies[1]);
	add_one(vq, 3, 1, false, &cookies[2]);
	virtq_publish(vq);
	CU_ASSERT_FALSE(virtq_kick(vq)); /* 1 -> 3 does not pass 3 */
	add_one(vq, 4, 1, false, &cookies[3]);
	virtq_publish(vq);
	CU_ASSERT_TRUE(virtq_kick(vq)); /* 3 -> 4 does */
	CU_ASSERT_EQUAL(notifies, 2);
	destroy(vq);
}

/* A device naming an id never given: NULL, one descriptor skipped, nothing
 * freed; a reset gives every cookie back and restarts both counters at 1. */
static void test_packed_bad_id_and_reset(void)
{
	struct virtq *vq = make_packed(4);
	struct pdev d;
	uint32_t len;

	pdev_init(&d);
	add_one(vq, 1, 1, true, &cookies[0]);
	add_one(vq, 2, 1, true, &cookies[1]);
	pdev_use(vq, &d, 3, 0, 1); /* never given */
	CU_ASSERT_EQUAL(virtq_used_count(vq), 1);
	CU_ASSERT_PTR_NULL(virtq_used_take(vq, &len));
	CU_ASSERT_EQUAL(vq->num_free, 2);
	drained = 0;
	virtq_reset(vq, count_cookie, NULL);
	CU_ASSERT_EQUAL(drained, 2);
	CU_ASSERT_EQUAL(vq->num_free, 4);
	CU_ASSERT_TRUE(vq->avail_wrap && vq->used_wrap);
	CU_ASSERT_EQUAL(vq->avail_idx, 0);
	CU_ASSERT_EQUAL(le16toh(vq->pdesc[0].flags), 0);
	destroy(vq);
}

/* ---- negotiation over a fake transport ---- */

struct fake {
	struct virtio_dev vd;
	uint64_t offered, accepted;
	uint8_t status, statuses[8];
	int nstatus;
	bool refuse;
};

static int f_reset(struct virtio_dev *vd)
{
	((struct fake *)vd)->status = 0;
	return 0;
}
static uint8_t f_get_status(struct virtio_dev *vd)
{
	return ((struct fake *)vd)->status;
}
static void f_set_status(struct virtio_dev *vd, uint8_t s)
{
	struct fake *f = (struct fake *)vd;

	if (f->refuse)
		s &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	f->status = s;
	if (f->nstatus < 8)
		f->statuses[f->nstatus++] = s;
}
static uint64_t f_get_features(struct virtio_dev *vd)
{
	return ((struct fake *)vd)->offered;
}
static void f_set_features(struct virtio_dev *vd, uint64_t features)
{
	((struct fake *)vd)->accepted = features;
}

static const struct virtio_transport_ops fake_ops = {
	.reset = f_reset,
	.get_status = f_get_status,
	.set_status = f_set_status,
	.get_features = f_get_features,
	.set_features = f_set_features,
};

#define REQ (VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM))
#define MAC VIRTIO_BIT(5)
#define STATUS VIRTIO_BIT(16)
#define MRG_RXBUF VIRTIO_BIT(15)
#define CTRL_VQ VIRTIO_BIT(17)

static void fake_init(struct fake *f, uint64_t offered)
{
	memset(f, 0, sizeof(*f));
	f->vd.ops = &fake_ops;
	snprintf(f->vd.name, sizeof(f->vd.name), "fake0");
	f->vd.required_features = REQ;
	f->offered = offered;
}

static void test_negotiate(void)
{
	struct fake f;

	/* Only what udk implements is accepted, in the order of §3.1.1. */
	fake_init(&f, REQ | MAC | STATUS | MRG_RXBUF | CTRL_VQ);
	CU_ASSERT_EQUAL(virtio_dev_negotiate(&f.vd, MAC | STATUS), 0);
	CU_ASSERT_EQUAL(f.accepted, REQ | MAC | STATUS);
	CU_ASSERT_EQUAL(f.vd.features, REQ | MAC | STATUS);
	CU_ASSERT_EQUAL(f.nstatus, 3);
	CU_ASSERT_EQUAL(f.statuses[0], VIRTIO_STATUS_ACKNOWLEDGE);
	CU_ASSERT_EQUAL(f.statuses[1], VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	CU_ASSERT_EQUAL(f.statuses[2], VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				       VIRTIO_STATUS_FEATURES_OK);
	/* A device without STATUS: negotiated without it. */
	fake_init(&f, REQ | MAC);
	CU_ASSERT_EQUAL(virtio_dev_negotiate(&f.vd, MAC | STATUS), 0);
	CU_ASSERT_EQUAL(f.vd.features, REQ | MAC);

	/* LAB.md: a device that would bypass the IOMMU is refused. */
	fake_init(&f, VIRTIO_BIT(VIRTIO_F_VERSION_1) | MAC);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(virtio_dev_negotiate(&f.vd, MAC), -ENOTSUP);
	CU_ASSERT_LAST_ERROR_HAS("fake0: the device does not offer VIRTIO_F_ACCESS_PLATFORM");
	CU_ASSERT_LAST_ERROR_HAS("iommu_platform=on");
	CU_ASSERT_TRUE(f.status & VIRTIO_STATUS_FAILED);
	CU_ASSERT_FALSE(f.status & VIRTIO_STATUS_FEATURES_OK);
	fake_init(&f, VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM) | MAC);
	CU_ASSERT_EQUAL(virtio_dev_negotiate(&f.vd, MAC), -ENOTSUP);
	CU_ASSERT_LAST_ERROR_HAS("does not offer VIRTIO_F_VERSION_1");
	CU_ASSERT_LAST_ERROR_HAS("legacy");

	/* §3.1.1 step 6: FEATURES_OK not kept means the subset is refused. */
	fake_init(&f, REQ | MAC);
	f.refuse = true;
	CU_ASSERT_EQUAL(virtio_dev_negotiate(&f.vd, MAC), -ENOTSUP);
	CU_ASSERT_LAST_ERROR_HAS("FEATURES_OK stayed clear");
	CU_ASSERT_TRUE(f.status & VIRTIO_STATUS_FAILED);
}

/* §4.1.4.4 over a hostile notification capability: queue_notify_off and
 * notify_off_multiplier are the device's, and no product of the two may put
 * the doorbell write outside the window the capability maps. */
static void test_notify_offset(void)
{
	uint32_t off = 7;

	CU_ASSERT_EQUAL(virtio_pci_notify_offset("fake0", 0, 0, 4, 4096, &off), 0);
	CU_ASSERT_EQUAL(off, 0);
	CU_ASSERT_EQUAL(virtio_pci_notify_offset("fake0", 1, 1, 4, 4096, &off), 0);
	CU_ASSERT_EQUAL(off, 4);
	/* multiplier 0: every queue shares one address (allowed). */
	CU_ASSERT_EQUAL(virtio_pci_notify_offset("fake0", 5, 0x1234, 0, 2, &off), 0);
	CU_ASSERT_EQUAL(off, 0);
	/* The last 2 bytes of the window fit; one more does not. */
	CU_ASSERT_EQUAL(virtio_pci_notify_offset("fake0", 2, 0x3ff, 4, 4094, &off), 0);
	CU_ASSERT_EQUAL(off, 0xffc);
	off = 7;
	udk_last_error_clear();
	CU_ASSERT_EQUAL(virtio_pci_notify_offset("fake0", 2, 0x3ff, 4, 4093, &off), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("fake0: queue 2's notification address (offset 0xffc");
	CU_ASSERT_EQUAL(off, 7);
	/* 0xffff * 0x10001 = 0xffffffff: in 32 bits, offset + 2 wraps to 1 and
	 * passed the check, a write 4 GiB past the window. */
	udk_last_error_clear();
	CU_ASSERT_EQUAL(virtio_pci_notify_offset("fake0", 0, 0xffff, 0x10001, 4096, &off),
			-EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("offset 0xffffffff = queue_notify_off 65535 * multiplier 65537");
	/* 0x8000 * 0x20000 = 2^32: in 32 bits it wrapped to 0, another queue's
	 * doorbell; the largest products are refused too. */
	CU_ASSERT_EQUAL(virtio_pci_notify_offset("fake0", 0, 0x8000, 0x20000, 4096, &off),
			-EINVAL);
	CU_ASSERT_EQUAL(virtio_pci_notify_offset("fake0", 0, 0xffff, UINT32_MAX, UINT32_MAX,
						 &off), -EINVAL);
	CU_ASSERT_EQUAL(off, 7);
	/* A window too small for any doorbell. */
	CU_ASSERT_EQUAL(virtio_pci_notify_offset("fake0", 0, 0, 4, 1, &off), -EINVAL);
}

/* §4.1.5.1.2 over PCI: the receive queues of a port (0, 2, 4 of a virtio-net)
 * get MSI-X vectors 0, 1, 2 in queue order; transmit and control queues
 * none; a table smaller than the queues leaves the last ones without. */
static void test_queue_vector(void)
{
	uint64_t rx = 1u << 0 | 1u << 2 | 1u << 4;

	CU_ASSERT_EQUAL(virtio_pci_queue_vector(rx, 0, 3), 0);
	CU_ASSERT_EQUAL(virtio_pci_queue_vector(rx, 2, 3), 1);
	CU_ASSERT_EQUAL(virtio_pci_queue_vector(rx, 4, 3), 2);
	CU_ASSERT_EQUAL(virtio_pci_queue_vector(rx, 1, 3), VIRTIO_MSI_NO_VECTOR);
	CU_ASSERT_EQUAL(virtio_pci_queue_vector(rx, 6, 3), VIRTIO_MSI_NO_VECTOR);
	/* Two vectors for three queues: the third polls. */
	CU_ASSERT_EQUAL(virtio_pci_queue_vector(rx, 2, 2), 1);
	CU_ASSERT_EQUAL(virtio_pci_queue_vector(rx, 4, 2), VIRTIO_MSI_NO_VECTOR);
	/* No vectors (no MSI-X), no queues, queue numbers past the mask. */
	CU_ASSERT_EQUAL(virtio_pci_queue_vector(rx, 0, 0), VIRTIO_MSI_NO_VECTOR);
	CU_ASSERT_EQUAL(virtio_pci_queue_vector(0, 0, 8), VIRTIO_MSI_NO_VECTOR);
	CU_ASSERT_EQUAL(virtio_pci_queue_vector(~0ULL, 63, 64), 63);
	CU_ASSERT_EQUAL(virtio_pci_queue_vector(~0ULL, 64, 64), VIRTIO_MSI_NO_VECTOR);
	CU_ASSERT_EQUAL(virtio_pci_queue_vector(~0ULL, 0xffff, 64), VIRTIO_MSI_NO_VECTOR);
}

/* Whether a device, having moved the used index from old to new, notifies
 * the driver (§2.6.7.2 without EVENT_IDX, §2.6.10 with it). */
static bool dev_should_notify(struct virtq *vq, uint16_t old, uint16_t new_idx)
{
	if (vq->event_idx)
		return virtq_need_event(le16toh(vq->avail->ring[vq->size]), new_idx, old);
	return !(le16toh(vq->avail->flags) & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

/* Used-buffer notifications, split ring with and without EVENT_IDX: off
 * while polling, on for the very next buffer after virtq_intr_enable(),
 * which also reports a buffer used before it; off again after disable. */
static void test_split_intr(void)
{
	for (int ei = 0; ei < 2; ei++) {
		struct virtq *vq = make(8);
		uint32_t len;
		uint16_t u;

		vq->event_idx = ei;
		virtq_intr_disable(vq);
		for (int i = 0; i < 4; i++)
			add_one(vq, 0x1000u * (i + 1), 64, true, &cookies[i]);
		virtq_publish(vq);
		u = le16toh(vq->used->idx);
		dev_use(vq, dev_avail(vq, 0), 10);
		CU_ASSERT_FALSE(dev_should_notify(vq, u, (uint16_t)(u + 1))); /* polling */
		CU_ASSERT_PTR_EQUAL(virtq_used_take(vq, &len), &cookies[0]);
		CU_ASSERT_FALSE(virtq_intr_enable(vq)); /* nothing pending: may sleep */
		u = le16toh(vq->used->idx);
		dev_use(vq, dev_avail(vq, 1), 10);
		CU_ASSERT_TRUE(dev_should_notify(vq, u, (uint16_t)(u + 1))); /* armed */
		CU_ASSERT_PTR_EQUAL(virtq_used_take(vq, &len), &cookies[1]);
		virtq_intr_disable(vq);
		u = le16toh(vq->used->idx);
		dev_use(vq, dev_avail(vq, 2), 10);
		CU_ASSERT_FALSE(dev_should_notify(vq, u, (uint16_t)(u + 1)));
		/* Used before the arm: reported, so the caller does not sleep. */
		CU_ASSERT_TRUE(virtq_intr_enable(vq));
		virtq_intr_disable(vq);
		destroy(vq);
	}
}

/* The same on a packed ring: the driver's event suppression flags. */
static void test_packed_intr(void)
{
	struct virtq *vq = make_packed(8);
	const struct pvirtq_event *ev = vq->driver_area;
	struct pdev d;
	uint16_t ids[3];
	uint64_t addr;
	bool write;
	uint32_t len;

	pdev_init(&d);
	for (int i = 0; i < 3; i++)
		add_one(vq, 0x1000u * (i + 1), 64, true, &cookies[i]);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(pdev_take(vq, &d, &ids[i], &addr, &write), 1);
	CU_ASSERT_EQUAL(le16toh(ev->flags), VIRTQ_EVENT_F_DISABLE); /* polling */
	CU_ASSERT_FALSE(virtq_intr_enable(vq));
	CU_ASSERT_EQUAL(le16toh(ev->flags), VIRTQ_EVENT_F_ENABLE);
	pdev_use(vq, &d, ids[0], 5, 1);
	CU_ASSERT_PTR_EQUAL(virtq_used_take(vq, &len), &cookies[0]);
	virtq_intr_disable(vq);
	CU_ASSERT_EQUAL(le16toh(ev->flags), VIRTQ_EVENT_F_DISABLE);
	pdev_use(vq, &d, ids[1], 5, 1);
	CU_ASSERT_TRUE(virtq_intr_enable(vq)); /* used before the arm */
	destroy(vq);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{"layout", test_layout},
		{"single buffers, any order", test_single_buffers},
		{"chains and the free list", test_chains},
		{"index wrap", test_wrap},
		{"notify suppression", test_kick},
		{"bad used id, reset", test_bad_id_and_reset},
		{"a device gone with chains: completed and counted", test_complete_pending},
		{"virtio_user arguments", test_user_args},
		{"packed: layout", test_packed_layout},
		{"packed: buffers used out of order", test_packed_buffers},
		{"packed: chains across 375 wraps", test_packed_chains_wrap},
		{"packed: event suppression and EVENT_IDX", test_packed_kick},
		{"split: EVENT_IDX", test_split_event_idx},
		{"split: used-buffer notifications armed and suppressed", test_split_intr},
		{"packed: used-buffer notifications armed and suppressed", test_packed_intr},
		{"packed: bad id, reset", test_packed_bad_id_and_reset},
		{"feature negotiation", test_negotiate},
		{"notify offset of a hostile device", test_notify_offset},
		{"MSI-X vectors of the receive queues", test_queue_vector},
	};

	unit_quiet_logs();
	return unit_run("virtio", tests, UDK_ARRAY_SIZE(tests));
}
