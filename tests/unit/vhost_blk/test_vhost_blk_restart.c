/* SPDX-License-Identifier: BSD-3-Clause */
/* test_vhost_blk_restart.c - what outlives one back-end or one memory
 * table: inflight tracking across a restart, memory slots added and
 * removed, and the counters telemetry reads.  Part of the vhost_blk unit
 * test (its main is in test_vhost_blk.c; the fake driver in fake.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/unit.h"
#include "fake.h"
#include "udk_telemetry.h"

/* One 4 KiB write, its buffers in slot k (header, status, data), made
 * available but not taken. */
static uint16_t post_write(int k, uint64_t sector, uint8_t fill)
{
	uint32_t h = BUF_OFF + 0x40 * (uint32_t)k, data = 0x20000 + 0x1000 * (uint32_t)k;
	struct vring_desc d[3] = {
		{gpa(h), 16, 0, 0},
		{gpa(data), 4096, 0, 0},
		{gpa(h + 0x20), 1, VRING_DESC_F_WRITE, 0},
	};

	*(struct hdr *)(g + h) = (struct hdr){VIRTIO_BLK_T_OUT, 0, sector};
	g[h + 0x20] = 0xee;
	memset(g + data, fill, 4096);
	return post(d, 3);
}

/* The messages QEMU sends at each (re)connect up to the rings: features
 * (packed or split, no EVENT_IDX), guest memory, SET_INFLIGHT_FD. */
static void connect_inflight(int ifd, const struct vu_inflight *in, bool packed)
{
	uint64_t f = vb_dev_features(dev) & ~(1ull << VIRTIO_RING_F_EVENT_IDX |
					      (packed ? 0 : 1ull << VIRTIO_F_RING_PACKED));
	uint64_t pf = 1ull << VU_PROTOCOL_F_INFLIGHT_SHMFD;
	struct vu_memory t = {.nregions = 1};
	int fd = dup(memfd), f2 = dup(ifd);

	CU_ASSERT_EQUAL(msg(VU_SET_FEATURES, &f, 8, NULL, 0, NULL), 0);
	CU_ASSERT_EQUAL(msg(VU_SET_PROTOCOL_FEATURES, &pf, 8, NULL, 0, NULL), 0);
	t.regions[0] = (struct vu_region){GPA, MEM_SIZE, UVA, 0};
	CU_ASSERT_EQUAL_FATAL(msg(VU_SET_MEM_TABLE, &t, 8 + 32, &fd, 1, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(msg(VU_SET_INFLIGHT_FD, in, sizeof(*in), &f2, 1, NULL), 0);
}

/* ... then the split ring started at base. */
static void start_inflight(int ifd, const struct vu_inflight *in, uint16_t base)
{
	connect_inflight(ifd, in, false);
	start_ring(base);
}

/* vhost-user.rst "Inflight I/O tracking": a back-end killed with requests
 * taken and not given back; the next one carries them out, oldest first,
 * and not the ones whose used entries were already published. */
void test_inflight(void)
{
	struct vu_inflight ask = {.num_queues = 1, .queue_size = QSZ}, in;
	struct vu_msg r;
	struct vb_chain ca, cb, cc, cd;
	uint16_t *used;
	uint32_t id, len;
	int ifd;

	open_guest();
	used = (uint16_t *)(g + USED_OFF);
	avail_idx = used_seen = 0;
	next_desc = 10; /* A's head is 10, C's wraps to 0: the order is not the index's */
	/* GET_INFLIGHT_FD: a zeroed region and its fd; bad sizes refused. */
	CU_ASSERT_EQUAL(msg(VU_GET_INFLIGHT_FD, &(struct vu_inflight){.num_queues = 0,
				.queue_size = QSZ}, sizeof(ask), NULL, 0, NULL), -EPROTO);
	CU_ASSERT_LAST_ERROR_HAS("GET_INFLIGHT_FD: 0 queues of 16");
	CU_ASSERT_EQUAL_FATAL(msg(VU_GET_INFLIGHT_FD, &ask, sizeof(ask), NULL, 0, &r), 0);
	CU_ASSERT_EQUAL(r.hdr.size, sizeof(ask));
	CU_ASSERT(r.fd >= 0);
	ifd = r.fd;
	in = r.p.inflight;
	CU_ASSERT_EQUAL(in.mmap_size, vb_inflight_queue_bytes(QSZ));
	CU_ASSERT_EQUAL(in.num_queues, 1);
	{
		struct vu_inflight bad = in;
		int f = dup(ifd);
		bad.mmap_size = 64;
		CU_ASSERT_EQUAL(msg(VU_SET_INFLIGHT_FD, &bad, sizeof(bad), &f, 1, NULL), -EPROTO);
		CU_ASSERT_LAST_ERROR_HAS("SET_INFLIGHT_FD: 64 bytes");
	}
	start_inflight(ifd, &in, 0);

	/* Four writes taken: B given back and published; D given back and
	 * its used index published, then the back-end dies before clearing
	 * its batch; A and C never given back. */
	struct vb_vq *vq = &dev->vq[0];
	uint16_t ha = post_write(0, 8, 0xa1), hb = post_write(1, 16, 0xb2);
	uint16_t hc = post_write(2, 24, 0xc3), hd = post_write(3, 32, 0xd4);
	CU_ASSERT_EQUAL(ha, 10);
	CU_ASSERT_EQUAL(hc, 0);
	CU_ASSERT_EQUAL(vb_vq_pop(vq, &dev->mem, &ca), 1);
	CU_ASSERT_EQUAL(vb_vq_pop(vq, &dev->mem, &cb), 1);
	CU_ASSERT_EQUAL(vb_vq_pop(vq, &dev->mem, &cc), 1);
	CU_ASSERT_EQUAL(vb_vq_pop(vq, &dev->mem, &cd), 1);
	vb_vq_push(vq, &cb, 1);
	CU_ASSERT_EQUAL(vb_vq_flush(vq), 1);
	vb_vq_push(vq, &cd, 1);
	__atomic_store_n(&used[1], vq->used_idx, __ATOMIC_RELEASE);
	CU_ASSERT_EQUAL(used[1], 2);
	/* The kill: the next back-end has only what QEMU keeps. */
	vb_dev_fini(dev);
	free(dev);
	dev = calloc(1, sizeof(*dev));
	CU_ASSERT_EQUAL_FATAL(vb_dev_init(dev, bdev), 0);
	used_seen = 2;
	/* QEMU restarts the ring at its used index (the back-end was gone
	 * when it asked GET_VRING_BASE). */
	start_inflight(ifd, &in, 2);
	CU_ASSERT_EQUAL(dev->stats.resubmitted, 2);
	CU_ASSERT_EQUAL(dev->vq[0].last_avail, 4);
	CU_ASSERT_EQUAL(used_next(&id, &len), 0);
	CU_ASSERT_EQUAL(id, ha); /* A was taken first */
	CU_ASSERT_EQUAL(used_next(&id, &len), 0);
	CU_ASSERT_EQUAL(id, hc);
	CU_ASSERT_EQUAL(g[BUF_OFF + 0x20], VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(g[BUF_OFF + 0x40 * 2 + 0x20], VIRTIO_BLK_S_OK);
	/* D (published) is not carried out again, nor anything else. */
	for (int i = 0; i < 10; i++)
		vb_dev_poll(dev);
	CU_ASSERT_EQUAL(used[1], 4);
	/* A and C reached the disk; a new request runs as before. */
	memset(g + 0x30000, 0, 4096);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_IN, 8, gpa(0x30000), 4096, NULL), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(g[0x30000], 0xa1);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_IN, 24, gpa(0x30000), 4096, NULL), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(g[0x30fff], 0xc3);
	/* Every head given back: a third back-end has nothing to resubmit. */
	vb_dev_fini(dev);
	free(dev);
	dev = calloc(1, sizeof(*dev));
	CU_ASSERT_EQUAL_FATAL(vb_dev_init(dev, bdev), 0);
	start_inflight(ifd, &in, used[1]);
	CU_ASSERT_EQUAL(dev->stats.resubmitted, 0);
	CU_ASSERT_EQUAL(dev->vq[0].last_avail, used[1]);
	(void)hb;
	(void)hd;
	close(ifd);
	teardown();
}

/* A packed ring of QSZ started as QEMU 7.2 does at every (re)connect: the
 * region, then the base it knows (after a crash: still the one it sent
 * first, 0 with both wrap counters set). */
static void start_inflight_packed(int ifd, const struct vu_inflight *in)
{
	struct vu_vring_addr a = {.index = 0, .desc = UVA + DESC_OFF, .avail = UVA + AVAIL_OFF,
				  .used = UVA + USED_OFF};

	connect_inflight(ifd, in, true);
	CU_ASSERT_EQUAL(set_state(VU_SET_VRING_NUM, 0, QSZ), 0);
	CU_ASSERT_EQUAL(set_state(VU_SET_VRING_BASE, 0, 0x80008000u), 0);
	CU_ASSERT_EQUAL_FATAL(msg(VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, NULL), 0);
	CU_ASSERT_EQUAL(set_fd(VU_SET_VRING_CALL, callfd), 0);
	CU_ASSERT_EQUAL_FATAL(set_fd(VU_SET_VRING_KICK, kickfd), 0);
	CU_ASSERT_EQUAL(set_state(VU_SET_VRING_ENABLE, 0, 1), 0);
}

/* A 4 KiB request with buffer id `id`, its buffers in slot k, on the packed
 * ring: 3 ring descriptors. */
static void pk_request(int k, uint32_t type, uint64_t sector, uint8_t fill, uint16_t id)
{
	uint32_t h = BUF_OFF + 0x40 * (uint32_t)k, data = 0x20000 + 0x1000 * (uint32_t)k;
	struct vring_packed_desc d[3] = {
		{gpa(h), 16, 0, 0},
		{gpa(data), 4096, 0, type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0},
		{gpa(h + 0x20), 1, 0, VRING_DESC_F_WRITE},
	};

	*(struct hdr *)(g + h) = (struct hdr){type, 0, sector};
	g[h + 0x20] = 0xee;
	memset(g + data, fill, 4096);
	pk_post(d, 3, id);
}

/* The same for packed rings (the region's other layout): chains given back
 * out of order, so that used elements overwrite the ring slots of chains
 * still in flight; a give-back the driver saw (committed) and one it could
 * not have (rolled back); QEMU's base after a crash, which is wrong. */
void test_inflight_packed(void)
{
	struct vu_inflight ask = {.num_queues = 1, .queue_size = QSZ}, in;
	struct vu_msg r;
	struct vb_chain ca, cb, cc, cd, ce;
	uint32_t len;
	int ifd;

	open_guest();
	pk_size = QSZ;
	pk_avail = pk_used = 0;
	pk_wrap = pk_used_wrap = true;
	CU_ASSERT_EQUAL_FATAL(msg(VU_GET_INFLIGHT_FD, &ask, sizeof(ask), NULL, 0, &r), 0);
	ifd = r.fd;
	in = r.p.inflight;
	start_inflight_packed(ifd, &in);
	struct vb_vq *vq = &dev->vq[0];
	CU_ASSERT_PTR_NOT_NULL_FATAL(vq->ifl_packed);

	/* A, B, C, D in slots 0-11, all taken; B given back (its used
	 * element lands on A's first slot), then D. */
	pk_request(0, VIRTIO_BLK_T_OUT, 8, 0xa1, 1);
	pk_request(1, VIRTIO_BLK_T_OUT, 16, 0xb2, 2);
	pk_request(2, VIRTIO_BLK_T_OUT, 24, 0xc3, 3);
	pk_request(3, VIRTIO_BLK_T_OUT, 32, 0xd4, 4);
	CU_ASSERT_EQUAL(vb_vq_pop(vq, &dev->mem, &ca), 1);
	CU_ASSERT_EQUAL(vb_vq_pop(vq, &dev->mem, &cb), 1);
	CU_ASSERT_EQUAL(vb_vq_pop(vq, &dev->mem, &cc), 1);
	CU_ASSERT_EQUAL(vb_vq_pop(vq, &dev->mem, &cd), 1);
	vb_vq_push(vq, &cb, 1);
	CU_ASSERT_EQUAL(pk_used_next(&len, 3), 2);
	/* D's used element written, then the kill before the region says
	 * so: what the driver may have seen stays given back. */
	struct vb_inflight_packed *reg = vq->ifl_packed, before = *reg;
	vb_vq_push(vq, &cd, 1);
	reg->old_free_head = before.old_free_head;
	reg->old_used_idx = before.old_used_idx;
	reg->old_used_wrap_counter = before.old_used_wrap_counter;
	reg->desc[cd.ifl_entry].inflight = 1;
	CU_ASSERT_EQUAL(pk_used_next(&len, 3), 4);
	/* E in slots 12-14, taken; its give-back cut short before the used
	 * element's flags: the driver cannot have seen it. */
	pk_request(4, VIRTIO_BLK_T_OUT, 40, 0xe5, 5);
	CU_ASSERT_EQUAL(vb_vq_pop(vq, &dev->mem, &ce), 1);
	size_t rlen = vb_inflight_queue_bytes(QSZ);
	uint8_t *saved = malloc(rlen);
	struct vring_packed_desc *ring = (struct vring_packed_desc *)(g + DESC_OFF), slot6 = ring[6];
	memcpy(saved, reg, rlen);
	vb_vq_push(vq, &ce, 1);
	memcpy(reg, saved, rlen);
	ring[6] = slot6;
	free(saved);

	/* The kill: the next back-end has the region, QEMU's first base. */
	vb_dev_fini(dev);
	free(dev);
	dev = calloc(1, sizeof(*dev));
	CU_ASSERT_EQUAL_FATAL(vb_dev_init(dev, bdev), 0);
	start_inflight_packed(ifd, &in);
	vq = &dev->vq[0];
	CU_ASSERT_EQUAL(dev->stats.resubmitted, 3);
	CU_ASSERT_EQUAL(vq->used_idx, 6);
	CU_ASSERT_EQUAL(vq->last_avail, 15);
	CU_ASSERT(vq->avail_wrap && vq->used_wrap);
	/* A, C, E again, in the order taken, with the descriptors saved
	 * (A's first slot holds B's used element by now); not B nor D. */
	CU_ASSERT_EQUAL(pk_used_next(&len, 3), 1);
	CU_ASSERT_EQUAL(pk_used_next(&len, 3), 3);
	CU_ASSERT_EQUAL(pk_used_next(&len, 3), 5);
	CU_ASSERT_EQUAL(g[BUF_OFF + 0x20], VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(g[BUF_OFF + 0x40 * 2 + 0x20], VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(g[BUF_OFF + 0x40 * 4 + 0x20], VIRTIO_BLK_S_OK);
	for (int i = 0; i < 10; i++)
		vb_dev_poll(dev);
	CU_ASSERT_EQUAL(dev->stats.requests, 3);
	/* What they wrote reached the disk; new requests run on from slot 15
	 * (wrapping the ring). */
	static const uint8_t fills[] = {0xa1, 0xc3, 0xe5};
	for (int k = 0; k < 3; k++) {
		pk_request(5, VIRTIO_BLK_T_IN, 8 + 16 * (uint64_t)k, 0, (uint16_t)(6 + k));
		CU_ASSERT_EQUAL(pk_used_next(&len, 3), 6 + k);
		CU_ASSERT_EQUAL(len, 4097);
		CU_ASSERT_EQUAL(g[0x20000 + 0x1000 * 5], fills[k]);
		CU_ASSERT_EQUAL(g[0x20000 + 0x1000 * 5 + 4095], fills[k]);
	}
	/* Everything given back: a third back-end resubmits nothing and
	 * starts where the second stopped. */
	uint16_t at = dev->vq[0].used_idx;
	vb_dev_fini(dev);
	free(dev);
	dev = calloc(1, sizeof(*dev));
	CU_ASSERT_EQUAL_FATAL(vb_dev_init(dev, bdev), 0);
	start_inflight_packed(ifd, &in);
	CU_ASSERT_EQUAL(dev->stats.resubmitted, 0);
	CU_ASSERT_EQUAL(dev->vq[0].used_idx, at);
	CU_ASSERT_EQUAL(dev->vq[0].last_avail, at);
	pk_request(5, VIRTIO_BLK_T_IN, 8, 0, 9);
	CU_ASSERT_EQUAL(pk_used_next(&len, 3), 9);
	CU_ASSERT_EQUAL(g[0x20000 + 0x1000 * 5], 0xa1);
	pk_size = 4;
	close(ifd);
	teardown();
}

/* ADD_MEM_REG or REM_MEM_REG of [gpa, gpa + size) at front-end address uva,
 * offset off in guest memory's memfd, with REPLY_ACK's need_reply: the
 * call's code, and *ack the reply's value. */
static int mem_reg(uint32_t req, uint64_t gpa_, uint64_t size, uint64_t uva, uint64_t off,
		   uint64_t *ack)
{
	struct vu_msg m = {.hdr = {req, VU_VERSION | VU_FLAG_NEED_REPLY, sizeof(struct vu_mem_reg)}};
	struct vu_msg r;
	int fd = dup(memfd);
	bool send;

	m.p.mem_reg.region = (struct vu_region){gpa_, size, uva, off};
	int rc = vu_handle(dev, &m, &fd, req == VU_ADD_MEM_REG ? 1 : 0, &r, &send);
	if (req != VU_ADD_MEM_REG)
		close(fd);
	*ack = send ? r.p.u64 : 99;
	return rc;
}

/* CONFIGURE_MEM_SLOTS as QEMU 7.2 uses it: regions added and removed one
 * at a time, removal only of an exact region, rings waiting while their
 * memory is gone. */
void test_mem_slots(void)
{
	const uint64_t half = MEM_SIZE / 2, uva_b = 0x7f1000000000ull;
	uint64_t f, ack;
	struct vu_msg r;
	uint32_t id, len;

	open_guest();
	avail_idx = used_seen = next_desc = 0;
	f = vb_dev_features(dev) & ~(1ull << VIRTIO_RING_F_EVENT_IDX | 1ull << VIRTIO_F_RING_PACKED);
	CU_ASSERT_EQUAL(msg(VU_SET_FEATURES, &f, 8, NULL, 0, NULL), 0);
	CU_ASSERT_EQUAL(msg(VU_GET_PROTOCOL_FEATURES, NULL, 0, NULL, 0, &r), 0);
	CU_ASSERT(r.p.u64 & 1ull << VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS);
	f = 1ull << VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS | 1ull << VU_PROTOCOL_F_REPLY_ACK;
	CU_ASSERT_EQUAL(msg(VU_SET_PROTOCOL_FEATURES, &f, 8, NULL, 0, NULL), 0);
	CU_ASSERT_EQUAL(msg(VU_GET_MAX_MEM_SLOTS, NULL, 0, NULL, 0, &r), 0);
	CU_ASSERT_EQUAL(r.p.u64, VB_MAX_MEM_SLOTS);
	/* A: the first half (rings, headers, status bytes); B: the second,
	 * at another front-end address. */
	CU_ASSERT_EQUAL_FATAL(mem_reg(VU_ADD_MEM_REG, GPA, half, UVA, 0, &ack), 0);
	CU_ASSERT_EQUAL(ack, 0);
	CU_ASSERT_EQUAL_FATAL(mem_reg(VU_ADD_MEM_REG, GPA + half, half, uva_b, half, &ack), 0);
	CU_ASSERT_EQUAL(dev->mem.n, 2);
	CU_ASSERT_EQUAL(mem_reg(VU_ADD_MEM_REG, GPA + half - 4096, 8192, 0x1000, 0, &ack), -EPROTO);
	CU_ASSERT_LAST_ERROR_HAS("ADD_MEM_REG: regions 0 and 2 overlap");
	start_ring(0);

	/* Data in B written, read back into A. */
	memset(g + half + 0x1000, 0x5a, 4096);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_OUT, 8, gpa(half + 0x1000), 4096, NULL), VIRTIO_BLK_S_OK);
	memset(g + 0x30000, 0, 4096);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_IN, 8, gpa(0x30000), 4096, NULL), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(g[0x30000], 0x5a);
	/* Removal is exact: B with another size, or another front-end
	 * address, is refused (REPLY_ACK says so) and B stays. */
	CU_ASSERT_EQUAL(mem_reg(VU_REM_MEM_REG, GPA + half, 4096, uva_b, half, &ack), 0);
	CU_ASSERT_EQUAL(ack, 1);
	CU_ASSERT_LAST_ERROR_HAS("REM_MEM_REG: no region at guest 0x180000 of 0x1000 bytes");
	CU_ASSERT_EQUAL(mem_reg(VU_REM_MEM_REG, GPA + half, half, UVA + half, half, &ack), 0);
	CU_ASSERT_EQUAL(ack, 1);
	CU_ASSERT_EQUAL(dev->mem.n, 2);
	/* B removed: a request into it fails, nothing else does. */
	CU_ASSERT_EQUAL(mem_reg(VU_REM_MEM_REG, GPA + half, half, uva_b, 0, &ack), 0);
	CU_ASSERT_EQUAL(ack, 0);
	CU_ASSERT_EQUAL(dev->mem.n, 1);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_IN, 8, gpa(half + 0x1000), 4096, NULL),
			VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_IN, 8, gpa(0x30000), 4096, NULL), VIRTIO_BLK_S_OK);
	/* A removed: the ring waits; added again: the waiting request runs. */
	CU_ASSERT_EQUAL(mem_reg(VU_REM_MEM_REG, GPA, half, UVA, 0, &ack), 0);
	CU_ASSERT_EQUAL(ack, 0);
	CU_ASSERT_PTR_NULL(dev->vq[0].desc);
	struct vring_desc d[1] = {{gpa(BUF_OFF + 0x20), 1, VRING_DESC_F_WRITE, 0}};
	uint16_t head = post(d, 1); /* no header: IOERR, but only once it is taken */
	for (int i = 0; i < 10; i++)
		vb_dev_poll(dev);
	CU_ASSERT_EQUAL(((uint16_t *)(g + USED_OFF))[1], used_seen);
	CU_ASSERT_EQUAL(mem_reg(VU_ADD_MEM_REG, GPA, half, UVA, 0, &ack), 0);
	CU_ASSERT_EQUAL(used_next(&id, &len), 0);
	CU_ASSERT_EQUAL(id, head);
	/* Slots run out at GET_MAX_MEM_SLOTS. */
	for (uint32_t i = 1; i < VB_MAX_MEM_SLOTS; i++)
		CU_ASSERT_EQUAL(mem_reg(VU_ADD_MEM_REG, 0x40000000ull + i * 4096ull, 4096,
					0x1000000ull + i * 4096ull, 0, &ack), 0);
	CU_ASSERT_EQUAL(mem_reg(VU_ADD_MEM_REG, 0x80000000ull, 4096, 0x2000000ull, 0, &ack),
			-EPROTO);
	CU_ASSERT_LAST_ERROR_HAS("all 32 memory slots are in use");
	teardown();
}

/* The telemetry provider "vhost_blk": its counters move with the requests. */
void test_stats(void)
{
	struct udk_json *j;
	const char *t;

	setup();
	memset(g + 0x20000, 0x11, 8192);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_OUT, 0, gpa(0x20000), 8192, NULL), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_IN, 0, gpa(0x30000), 4096, NULL), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_IN, 0, gpa(0x30000), 512, NULL), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(request(77, 0, 0, 0, NULL), VIRTIO_BLK_S_UNSUPP);
	/* past the end of the disk: an error, no bytes */
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_IN, 4096, gpa(0x30000), 512, NULL), VIRTIO_BLK_S_IOERR);
	j = udk_json_new();
	CU_ASSERT_EQUAL_FATAL(vb_stats_json(j, dev), 0);
	t = udk_json_text(j, NULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "\"name\":\"vbt\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "\"requests\":6,\"ops\":{\"in\":3,\"out\":1,\"flush\":1,"
				       "\"get_id\":0,\"discard\":0,\"write_zeroes\":0,\"unsupported\":1}"));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "\"bytes_read\":4608,\"bytes_written\":8192,\"errors\":2,"
				       "\"bad_chains\":0,\"in_flight\":0,\"resubmitted\":0"));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "\"queues\":[{\"queue\":0,\"started\":true,\"requests\":6}]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "\"queues_started\":1"));
	udk_json_free(j);
	/* the ring stopped (GET_VRING_BASE): still listed, not started */
	CU_ASSERT_EQUAL(set_state(VU_GET_VRING_BASE, 0, 0), 0);
	j = udk_json_new();
	CU_ASSERT_EQUAL(vb_stats_json(j, dev), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(udk_json_text(j, NULL), "{\"queue\":0,\"started\":false"));
	udk_json_free(j);
	teardown();
}
