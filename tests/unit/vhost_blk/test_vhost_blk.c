/* SPDX-License-Identifier: BSD-3-Clause */
/* test_vhost_blk.c - udk-vhost-blk's protocol, ring and request logic
 * (app/udk-vhost-blk) against a fake driver side in memory: guest memory is
 * a memfd given in SET_MEM_TABLE, the test lays out a split virtqueue in it
 * as a guest's driver would, and checks the used ring, the status bytes, the
 * data in the malloc bdev and that nothing outside the request's buffers
 * changed.  Hostile chains (outside memory, crossing a region's end, loops,
 * a head past the ring) fail that request or stop that ring, never more.
 * Malformed messages are refused with -EPROTO and a reason. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/unit.h"
#include "fake.h"

static void test_write_read(void)
{
	uint32_t ulen;
	uint64_t v;

	setup();
	for (int i = 0; i < 4096; i++)
		g[0x20000 + i] = (uint8_t)(i * 7 + 1);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_OUT, 8, gpa(0x20000), 4096, &ulen), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(ulen, 1);
	CU_ASSERT_EQUAL(read(callfd, &v, 8), 8); /* the guest was interrupted */
	memset(g + 0x30000, 0, 4096);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_IN, 8, gpa(0x30000), 4096, &ulen), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(ulen, 4097);
	CU_ASSERT_EQUAL(memcmp(g + 0x20000, g + 0x30000, 4096), 0);
	CU_ASSERT_EQUAL(read(callfd, &v, 8), 8);
	/* §2.7.7: no interrupt when the driver asks for none. */
	((uint16_t *)(g + AVAIL_OFF))[0] = VRING_AVAIL_F_NO_INTERRUPT;
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(read(callfd, &v, 8), -1);
	/* The device polls: it asked the driver not to kick. */
	CU_ASSERT_EQUAL(((uint16_t *)(g + USED_OFF))[0], VRING_USED_F_NO_NOTIFY);
	teardown();
}

/* §2.7.10: with EVENT_IDX, used_event decides the interrupt and the device
 * asks for kicks through avail_event. */
static void test_event_idx(void)
{
	uint16_t *used_event, *avail_event;
	uint64_t v;

	setup_without(1ull << VIRTIO_F_RING_PACKED);
	used_event = (uint16_t *)(g + AVAIL_OFF) + 2 + QSZ;
	avail_event = (uint16_t *)(g + USED_OFF) + 2 + 4 * QSZ;
	/* The driver wants an interrupt once the used index passes 2. */
	*used_event = 2;
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), VIRTIO_BLK_S_OK); /* idx 1 */
	CU_ASSERT_EQUAL(read(callfd, &v, 8), -1);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), VIRTIO_BLK_S_OK); /* idx 2 */
	CU_ASSERT_EQUAL(read(callfd, &v, 8), -1);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), VIRTIO_BLK_S_OK); /* idx 3 */
	CU_ASSERT_EQUAL(read(callfd, &v, 8), 8);
	/* The flag is not what counts any more. */
	((uint16_t *)(g + AVAIL_OFF))[0] = VRING_AVAIL_F_NO_INTERRUPT;
	*used_event = 3;
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), VIRTIO_BLK_S_OK); /* idx 4 */
	CU_ASSERT_EQUAL(read(callfd, &v, 8), 8);
	/* Before sleeping the device asks for a kick at the next chain. */
	vb_vq_want_kicks(&dev->vq[0], true);
	CU_ASSERT_EQUAL(*avail_event, 4);
	CU_ASSERT_EQUAL(((uint16_t *)(g + USED_OFF))[0], 0);
	teardown();
}

/* A second ring beside the first: each completes its own requests. */
static void test_two_queues(void)
{
	const uint32_t d1 = 0x4000, a1 = 0x4400, u1 = 0x4800;
	struct vu_vring_addr a = {.index = 1, .desc = UVA + d1, .avail = UVA + a1, .used = UVA + u1};
	struct vring_desc *t = (struct vring_desc *)(g + d1);
	uint16_t *avail = (uint16_t *)(g + a1), *used = (uint16_t *)(g + u1);
	struct hdr *h = (struct hdr *)(g + 0x5000);
	int k1 = eventfd(0, EFD_NONBLOCK);

	setup();
	CU_ASSERT_EQUAL(set_state(VU_SET_VRING_NUM, 1, 8), 0);
	CU_ASSERT_EQUAL(set_state(VU_SET_VRING_BASE, 1, 0), 0);
	CU_ASSERT_EQUAL_FATAL(msg(VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(set_fd_q(VU_SET_VRING_KICK, 1, k1), 0);
	CU_ASSERT_EQUAL(set_state(VU_SET_VRING_ENABLE, 1, 1), 0);
	memset(g + 0x6000, 0x3c, 512);
	*h = (struct hdr){VIRTIO_BLK_T_OUT, 0, 40};
	g[0x5020] = 0xee;
	t[0] = (struct vring_desc){gpa(0x5000), 16, VRING_DESC_F_NEXT, 1};
	t[1] = (struct vring_desc){gpa(0x6000), 512, VRING_DESC_F_NEXT, 2};
	t[2] = (struct vring_desc){gpa(0x5020), 1, VRING_DESC_F_WRITE, 0};
	avail[2] = 0;
	__atomic_store_n(&avail[1], 1, __ATOMIC_RELEASE);
	kick(k1);
	for (int i = 0; i < 100 && used[1] == 0; i++)
		vb_dev_poll(dev);
	CU_ASSERT_EQUAL(used[1], 1);
	CU_ASSERT_EQUAL(g[0x5020], VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(dev->stats.queue_requests[1], 1);
	/* read back through ring 0 */
	memset(g + 0x30000, 0, 512);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_IN, 40, gpa(0x30000), 512, NULL), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(memcmp(g + 0x30000, g + 0x6000, 512), 0);
	CU_ASSERT_EQUAL(dev->stats.queue_requests[0], 1);
	teardown();
	close(k1);
}

static void test_packed(void)
{
	struct vu_memory t = {.nregions = 1};
	struct vu_vring_addr a = {.index = 0, .desc = UVA + DESC_OFF, .avail = UVA + AVAIL_OFF,
				  .used = UVA + USED_OFF};
	struct hdr *h = (struct hdr *)(g + BUF_OFF);
	uint64_t f;
	uint32_t len;
	int fd;

	open_guest();
	f = vb_dev_features(dev);
	CU_ASSERT((f >> VIRTIO_F_RING_PACKED) & 1);
	CU_ASSERT_EQUAL(msg(VU_SET_FEATURES, &f, 8, NULL, 0, NULL), 0);
	t.regions[0] = (struct vu_region){GPA, MEM_SIZE, UVA, 0};
	fd = dup(memfd);
	CU_ASSERT_EQUAL_FATAL(msg(VU_SET_MEM_TABLE, &t, 8 + 32, &fd, 1, NULL), 0);
	CU_ASSERT_EQUAL(set_state(VU_SET_VRING_NUM, 0, 4), 0);
	/* both wrap counters start at 1 (§2.8.1), as QEMU sends them */
	CU_ASSERT_EQUAL(set_state(VU_SET_VRING_BASE, 0, 0x80008000u), 0);
	CU_ASSERT_EQUAL_FATAL(msg(VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, NULL), 0);
	CU_ASSERT_EQUAL(set_fd(VU_SET_VRING_CALL, callfd), 0);
	CU_ASSERT_EQUAL_FATAL(set_fd(VU_SET_VRING_KICK, kickfd), 0);
	CU_ASSERT_EQUAL(set_state(VU_SET_VRING_ENABLE, 0, 1), 0);
	pk_avail = pk_used = 0;
	pk_wrap = pk_used_wrap = true;
	pk_size = 4;

	/* Five 3-descriptor writes then reads on a 4-slot ring: every chain
	 * after the first wraps, the counters flip. */
	for (int k = 0; k < 5; k++) {
		memset(g + 0x20000, 0x40 + k, 512);
		*h = (struct hdr){VIRTIO_BLK_T_OUT, 0, (uint64_t)k};
		g[BUF_OFF + 0x20] = 0xee;
		struct vring_packed_desc d[3] = {
			{gpa(BUF_OFF), 16, 0, 0},
			{gpa(0x20000), 512, 0, 0},
			{gpa(BUF_OFF + 0x20), 1, 0, VRING_DESC_F_WRITE},
		};
		pk_post(d, 3, (uint16_t)(10 + k));
		CU_ASSERT_EQUAL(pk_used_next(&len, 3), 10 + k);
		CU_ASSERT_EQUAL(g[BUF_OFF + 0x20], VIRTIO_BLK_S_OK);
	}
	/* read them back through an indirect table (one ring slot) */
	struct vring_packed_desc *it = (struct vring_packed_desc *)(g + 0x50000);
	for (int k = 0; k < 5; k++) {
		*h = (struct hdr){VIRTIO_BLK_T_IN, 0, (uint64_t)k};
		memset(g + 0x30000, 0, 512);
		it[0] = (struct vring_packed_desc){gpa(BUF_OFF), 16, 0, 0};
		it[1] = (struct vring_packed_desc){gpa(0x30000), 512, 0, VRING_DESC_F_WRITE};
		it[2] = (struct vring_packed_desc){gpa(BUF_OFF + 0x20), 1, 0, VRING_DESC_F_WRITE};
		struct vring_packed_desc d = {gpa(0x50000), 48, 0, VRING_DESC_F_INDIRECT};
		pk_post(&d, 1, 7);
		CU_ASSERT_EQUAL(pk_used_next(&len, 1), 7);
		CU_ASSERT_EQUAL(len, 513);
		CU_ASSERT_EQUAL(g[0x30000], 0x40 + k);
		CU_ASSERT_EQUAL(g[0x30000 + 511], 0x40 + k);
	}
	/* a descriptor outside memory: that request fails, the ring goes on */
	*h = (struct hdr){VIRTIO_BLK_T_IN, 0, 0};
	struct vring_packed_desc bad[3] = {
		{gpa(BUF_OFF), 16, 0, 0},
		{0x10, 512, 0, VRING_DESC_F_WRITE},
		{gpa(BUF_OFF + 0x20), 1, 0, VRING_DESC_F_WRITE},
	};
	pk_post(bad, 3, 3);
	CU_ASSERT_EQUAL(pk_used_next(&len, 3), 3);
	CU_ASSERT_EQUAL(g[BUF_OFF + 0x20], VIRTIO_BLK_S_IOERR);
	/* GET_VRING_BASE gives back both indexes and wrap counters */
	struct vu_vring_state st = {0, 0};
	struct vu_msg r;
	CU_ASSERT_EQUAL(msg(VU_GET_VRING_BASE, &st, 8, NULL, 0, &r), 0);
	CU_ASSERT_EQUAL(r.p.state.num, (uint32_t)pk_avail | (pk_wrap ? 0x8000u : 0) |
					       (uint32_t)pk_used << 16 | (pk_used_wrap ? 1u << 31 : 0));
	teardown();
}

static void test_get_id_and_unsupp(void)
{
	uint32_t ulen;

	setup();
	memset(g + 0x20000, 0xff, 64);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_GET_ID, 0, gpa(0x20000), 20, &ulen), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(ulen, 21);
	CU_ASSERT_EQUAL(memcmp(g + 0x20000, "vbt\0", 4), 0);
	CU_ASSERT_EQUAL(g[0x20000 + 20], 0xff); /* not a byte past the buffer */
	CU_ASSERT_EQUAL(request(77, 0, gpa(0x20000), 512, NULL), VIRTIO_BLK_S_UNSUPP);
	teardown();
}

/* Data written at sector 0, then hostile requests: none may change it. */
static void test_outside_memory(void)
{
	uint8_t before[4096];

	setup();
	for (int i = 0; i < 4096; i++)
		g[0x20000 + i] = (uint8_t)(i ^ 0x5a);
	memcpy(before, g + 0x20000, 4096);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_OUT, 0, gpa(0x20000), 4096, NULL), VIRTIO_BLK_S_OK);
	/* entirely outside */
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_OUT, 0, 0x40000000, 4096, NULL), VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_IN, 0, 0x10, 4096, NULL), VIRTIO_BLK_S_IOERR);
	/* crossing the region's end */
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_IN, 0, gpa(MEM_SIZE - 2048), 4096, NULL),
			VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_OUT, 0, gpa(MEM_SIZE - 2048), 4096, NULL),
			VIRTIO_BLK_S_IOERR);
	/* past the disk, not whole blocks, an address that wraps */
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_OUT, 4095, gpa(0x20000), 4096, NULL),
			VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_OUT, 0, gpa(0x20000), 1000, NULL), VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_IN, UINT64_MAX / 256, gpa(0x30000), 512, NULL),
			VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_IN, 0, UINT64_MAX - 100, 512, NULL),
			VIRTIO_BLK_S_IOERR);
	/* the data is still there */
	memset(g + 0x30000, 0, 4096);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_IN, 0, gpa(0x30000), 4096, NULL), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(memcmp(g + 0x30000, before, 4096), 0);
	CU_ASSERT_EQUAL(dev->stats.bad_chains, 5);
	teardown();
}

static void test_indirect(void)
{
	struct vring_desc *it = (struct vring_desc *)(g + 0x50000);
	struct hdr *h = (struct hdr *)(g + 0x51000);
	struct vring_desc d;
	uint32_t id, ulen;

	setup();
	/* header, two data pieces of 1 KiB (uneven split), status */
	for (int i = 0; i < 2048; i++)
		g[0x52000 + i] = (uint8_t)(i * 13);
	*h = (struct hdr){VIRTIO_BLK_T_OUT, 0, 100};
	it[0] = (struct vring_desc){gpa(0x51000), 16, VRING_DESC_F_NEXT, 1};
	it[1] = (struct vring_desc){gpa(0x52000), 1536, VRING_DESC_F_NEXT, 2};
	it[2] = (struct vring_desc){gpa(0x52000 + 1536), 512, VRING_DESC_F_NEXT, 3};
	it[3] = (struct vring_desc){gpa(0x51020), 1, VRING_DESC_F_WRITE, 0};
	d = (struct vring_desc){gpa(0x50000), 4 * 16, VRING_DESC_F_INDIRECT, 0};
	uint16_t head = post(&d, 1);
	CU_ASSERT_EQUAL_FATAL(used_next(&id, &ulen), 0);
	CU_ASSERT_EQUAL(id, head);
	CU_ASSERT_EQUAL(g[0x51020], VIRTIO_BLK_S_OK);
	memset(g + 0x60000, 0, 2048);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_IN, 100, gpa(0x60000), 2048, NULL), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(memcmp(g + 0x60000, g + 0x52000, 2048), 0);

	/* an indirect table pointing at itself: a loop, fails that request */
	it[0].next = 0;
	it[1] = it[3];
	g[0x51020] = 0xee;
	it[0] = (struct vring_desc){gpa(0x51000), 16, VRING_DESC_F_NEXT, 0};
	head = post(&d, 1);
	CU_ASSERT_EQUAL_FATAL(used_next(&id, &ulen), 0);
	CU_ASSERT_EQUAL(id, head);
	CU_ASSERT_EQUAL(ulen, 0); /* no status byte could be found */
	/* an indirect table outside memory, and one inside another */
	d.addr = 0x10;
	post(&d, 1);
	CU_ASSERT_EQUAL_FATAL(used_next(&id, &ulen), 0);
	CU_ASSERT_EQUAL(ulen, 0);
	it[0] = (struct vring_desc){gpa(0x50000), 32, VRING_DESC_F_INDIRECT, 0};
	d.addr = gpa(0x50000);
	post(&d, 1);
	CU_ASSERT_EQUAL_FATAL(used_next(&id, &ulen), 0);
	CU_ASSERT_EQUAL(ulen, 0);
	/* the ring still serves */
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), VIRTIO_BLK_S_OK);
	teardown();
}

static void test_zeroes_discard(void)
{
	struct hdr *h = (struct hdr *)(g + BUF_OFF);
	struct {
		uint64_t sector;
		uint32_t num, flags;
	} *rg;
	uint32_t id, ulen;

	setup();
	rg = (void *)(g + 0x40000);
	memset(g + 0x20000, 0xab, 4096);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_OUT, 16, gpa(0x20000), 4096, NULL), VIRTIO_BLK_S_OK);
	for (int k = 0; k < 3; k++) {
		uint32_t type = k == 1 ? VIRTIO_BLK_T_DISCARD : VIRTIO_BLK_T_WRITE_ZEROES;
		*h = (struct hdr){type, 0, 0};
		rg->sector = 16 + (uint64_t)k * 2;
		rg->num = 2;
		rg->flags = k == 2 ? 1 : 0; /* unmap: write zeroes only */
		g[BUF_OFF + 0x20] = 0xee;
		struct vring_desc d[3] = {
			{gpa(BUF_OFF), 16, 0, 0},
			{gpa(0x40000), 16, 0, 0},
			{gpa(BUF_OFF + 0x20), 1, VRING_DESC_F_WRITE, 0},
		};
		post(d, 3);
		CU_ASSERT_EQUAL_FATAL(used_next(&id, &ulen), 0);
		CU_ASSERT_EQUAL(g[BUF_OFF + 0x20], VIRTIO_BLK_S_OK);
	}
	/* discard with unmap set: UNSUPP (§5.2.6.2) */
	*h = (struct hdr){VIRTIO_BLK_T_DISCARD, 0, 0};
	rg->flags = 1;
	struct vring_desc d[3] = {
		{gpa(BUF_OFF), 16, 0, 0},
		{gpa(0x40000), 16, 0, 0},
		{gpa(BUF_OFF + 0x20), 1, VRING_DESC_F_WRITE, 0},
	};
	post(d, 3);
	CU_ASSERT_EQUAL_FATAL(used_next(&id, &ulen), 0);
	CU_ASSERT_EQUAL(g[BUF_OFF + 0x20], VIRTIO_BLK_S_UNSUPP);
	memset(g + 0x30000, 0x11, 4096);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_IN, 16, gpa(0x30000), 4096, NULL), VIRTIO_BLK_S_OK);
	for (int i = 0; i < 3 * 1024; i++)
		if (g[0x30000 + i] != 0) {
			CU_FAIL("a zeroed sector is not zero");
			break;
		}
	CU_ASSERT_EQUAL(g[0x30000 + 3 * 1024], 0xab); /* the neighbour stays */
	teardown();
}

static void test_broken_ring(void)
{
	uint16_t *avail;
	uint32_t id, ulen;
	struct vu_msg r;

	setup();
	avail = (uint16_t *)(g + AVAIL_OFF);
	/* a head past the ring size: the ring stops, the process lives */
	avail[2 + avail_idx % QSZ] = QSZ + 3;
	__atomic_store_n(&avail[1], ++avail_idx, __ATOMIC_RELEASE);
	kick(kickfd);
	CU_ASSERT_EQUAL(vb_dev_poll(dev), 0);
	CU_ASSERT_LAST_ERROR_HAS("available head past the ring size");
	CU_ASSERT(dev->vq[0].broken);
	CU_ASSERT_EQUAL(used_next(&id, &ulen), -1);
	/* the guest resets the device: GET_VRING_BASE, then a new start */
	CU_ASSERT_EQUAL(set_state(VU_GET_VRING_BASE, 0, 0), 0);
	struct vu_vring_state s = {0, 0};
	CU_ASSERT_EQUAL(msg(VU_GET_VRING_BASE, &s, 8, NULL, 0, &r), 0);
	CU_ASSERT_EQUAL(r.p.state.num, 0);
	avail_idx = used_seen = next_desc = 0;
	memset(g, 0, 0x1000);
	CU_ASSERT_EQUAL(set_state(VU_SET_VRING_BASE, 0, 0), 0);
	CU_ASSERT_EQUAL(set_fd(VU_SET_VRING_KICK, kickfd), 0);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), VIRTIO_BLK_S_OK);
	/* an available index too far ahead */
	__atomic_store_n(&avail[1], (uint16_t)(avail_idx + QSZ + 1), __ATOMIC_RELEASE);
	CU_ASSERT_EQUAL(vb_dev_poll(dev), 0);
	CU_ASSERT_LAST_ERROR_HAS("available index ahead");
	teardown();
}

/* Firmware (SeaBIOS) sets a ring up and DRIVER_OK, so QEMU starts it, then
 * hands its memory to the kernel, which writes there before its own driver
 * resets the device: a ring never kicked, or idle since its last kick, is
 * not read until a kick. */
static void test_unkicked_ring(void)
{
	uint16_t *avail, *used;
	struct vu_msg r;
	struct vu_vring_state s = {0, 0};

	setup();
	avail = (uint16_t *)(g + AVAIL_OFF);
	used = (uint16_t *)(g + USED_OFF);
	CU_ASSERT_EQUAL(used[0], 0); /* kicks asked for */
	avail[1] = 50359;
	avail[2] = 0x4b1d;
	for (int i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(vb_dev_poll(dev), 0);
	CU_ASSERT_FALSE(dev->vq[0].broken);
	CU_ASSERT_EQUAL(used[1], 0);
	CU_ASSERT_EQUAL(msg(VU_GET_VRING_BASE, &s, 8, NULL, 0, &r), 0);
	CU_ASSERT_EQUAL(r.p.state.num, 0);
	/* the kernel's driver: reset, a new ring at base 0, requests kicked */
	memset(g, 0, 0x1000);
	CU_ASSERT_EQUAL(set_state(VU_SET_VRING_BASE, 0, 0), 0);
	CU_ASSERT_EQUAL(set_fd(VU_SET_VRING_KICK, kickfd), 0);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), VIRTIO_BLK_S_OK);
	CU_ASSERT_FALSE(dev->vq[0].broken);
	/* SeaBIOS reads through the ring, the device goes idle, and the
	 * kernel overwrites the ring: no kick, so it is not read */
	CU_ASSERT_EQUAL(vb_dev_idle(dev), 0);
	CU_ASSERT_EQUAL(used[0], 0); /* kicks asked for */
	avail[1] = 50359;
	for (int i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(vb_dev_poll(dev), 0);
	CU_ASSERT_FALSE(dev->vq[0].broken);
	CU_ASSERT_EQUAL(used[1], 1);
	/* a ring the driver still uses runs on at its next kick */
	avail[1] = avail_idx;
	CU_ASSERT_EQUAL(vb_dev_idle(dev), 0);
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), VIRTIO_BLK_S_OK);
	teardown();
}

static void test_messages(void)
{
	struct vu_msg r;
	struct vu_memory t = {.nregions = 2};
	uint64_t v;
	int fd;

	setup();
	/* sizes and fds checked against the request */
	v = 0;
	CU_ASSERT_EQUAL(msg(VU_SET_FEATURES, &v, 4, NULL, 0, NULL), -EPROTO);
	CU_ASSERT_LAST_ERROR_HAS("SET_FEATURES (request 2): payload of 4 bytes");
	fd = dup(memfd);
	CU_ASSERT_EQUAL(msg(VU_SET_OWNER, NULL, 0, &fd, 1, NULL), -EPROTO);
	CU_ASSERT_LAST_ERROR_HAS("1 fds came with it");
	t.regions[0] = (struct vu_region){GPA, MEM_SIZE, UVA, 0};
	t.regions[1] = (struct vu_region){0, 4096, 0x1000, 0};
	fd = dup(memfd);
	CU_ASSERT_EQUAL(msg(VU_SET_MEM_TABLE, &t, 8 + 64, &fd, 1, NULL), -EPROTO);
	CU_ASSERT_LAST_ERROR_HAS("with one fd each; 1 fds came");
	/* a region past its fd's end, overlapping regions */
	int fds[2] = {dup(memfd), dup(memfd)};
	t.regions[1] = (struct vu_region){0, MEM_SIZE, 0x1000, 4096};
	CU_ASSERT_EQUAL(msg(VU_SET_MEM_TABLE, &t, 8 + 64, fds, 2, NULL), -EPROTO);
	CU_ASSERT_LAST_ERROR_HAS("goes past the end of its fd");
	fds[0] = dup(memfd);
	fds[1] = dup(memfd);
	t.regions[1] = (struct vu_region){GPA + 4096, 4096, 0x1000, 0};
	CU_ASSERT_EQUAL(msg(VU_SET_MEM_TABLE, &t, 8 + 64, fds, 2, NULL), -EPROTO);
	CU_ASSERT_LAST_ERROR_HAS("overlap");
	/* the old table is still in force */
	CU_ASSERT_EQUAL(request(VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(set_state(VU_SET_VRING_NUM, 0, 100), -EPROTO);
	CU_ASSERT_EQUAL(set_state(VU_SET_VRING_ENABLE, 8, 1), -EPROTO);
	CU_ASSERT_LAST_ERROR_HAS("ring 8, but the device has 8");
	v = 1ull << 40;
	CU_ASSERT_EQUAL(msg(VU_SET_FEATURES, &v, 8, NULL, 0, NULL), -EPROTO);
	CU_ASSERT_EQUAL(msg(99, NULL, 0, NULL, 0, NULL), -EPROTO);
	CU_ASSERT_LAST_ERROR_HAS("not supported by this back-end");
	/* GET_CONFIG: capacity, blk_size, seg_max, num_queues; bounds */
	struct vu_config c = {.offset = 0, .size = 60};
	CU_ASSERT_EQUAL(msg(VU_GET_CONFIG, &c, 12 + 60, NULL, 0, &r), 0);
	CU_ASSERT_EQUAL(r.hdr.size, 72);
	uint64_t cap;
	uint32_t bs, segmax;
	uint16_t nq;
	memcpy(&cap, r.p.config.payload, 8);
	memcpy(&segmax, r.p.config.payload + 12, 4);
	memcpy(&bs, r.p.config.payload + 20, 4);
	memcpy(&nq, r.p.config.payload + 34, 2);
	CU_ASSERT_EQUAL(cap, 4096);
	CU_ASSERT_EQUAL(bs, 512);
	CU_ASSERT(segmax >= 1 && segmax <= VB_MAX_SEGS - 4);
	CU_ASSERT_EQUAL(nq, VU_MAX_QUEUES);
	c = (struct vu_config){.offset = 250, .size = 10};
	CU_ASSERT_EQUAL(msg(VU_GET_CONFIG, &c, 12 + 10, NULL, 0, &r), -EPROTO);
	/* REPLY_ACK: a request with need_reply gets 0 */
	v = 1ull << VU_PROTOCOL_F_REPLY_ACK | 1ull << VU_PROTOCOL_F_CONFIG;
	CU_ASSERT_EQUAL(msg(VU_SET_PROTOCOL_FEATURES, &v, 8, NULL, 0, NULL), 0);
	{
		struct vu_msg m = {.hdr = {VU_SET_VRING_ENABLE, VU_VERSION | VU_FLAG_NEED_REPLY, 8}};
		bool send;
		m.p.state = (struct vu_vring_state){0, 1};
		CU_ASSERT_EQUAL(vu_handle(dev, &m, NULL, 0, &r, &send), 0);
		CU_ASSERT(send);
		CU_ASSERT_EQUAL(r.hdr.size, 8);
		CU_ASSERT_EQUAL(r.p.u64, 0);
		CU_ASSERT_EQUAL(r.hdr.flags, VU_VERSION | VU_FLAG_REPLY);
	}
	teardown();
}

/* vu_recv over a socket: framing, version, size, fds. */
static void test_recv(void)
{
	struct vu_msg m;
	int sv[2], fds[VU_MAX_REGIONS], nfds;
	struct vu_hdr h = {VU_SET_FEATURES, VU_VERSION, 8};
	uint64_t v = 1;
	char buf[64];

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memcpy(buf, &h, 12);
	memcpy(buf + 12, &v, 8);
	CU_ASSERT_EQUAL(write(sv[1], buf, 20), 20);
	CU_ASSERT_EQUAL(vu_recv(sv[0], &m, fds, &nfds), 0);
	CU_ASSERT_EQUAL(m.p.u64, 1);
	CU_ASSERT_EQUAL(nfds, 0);
	h.flags = 2; /* version 2 */
	CU_ASSERT_EQUAL(write(sv[1], &h, 12), 12);
	CU_ASSERT_EQUAL(vu_recv(sv[0], &m, fds, &nfds), -EPROTO);
	CU_ASSERT_LAST_ERROR_HAS("version 2");
	h.flags = VU_VERSION;
	h.size = 100000;
	CU_ASSERT_EQUAL(write(sv[1], &h, 12), 12);
	CU_ASSERT_EQUAL(vu_recv(sv[0], &m, fds, &nfds), -EPROTO);
	CU_ASSERT_LAST_ERROR_HAS("more than any request's");
	/* cut short: the header says 8 bytes, 4 come, then the end */
	h.size = 8;
	memcpy(buf, &h, 12);
	CU_ASSERT_EQUAL(write(sv[1], buf, 16), 16);
	shutdown(sv[1], SHUT_WR);
	CU_ASSERT_EQUAL(vu_recv(sv[0], &m, fds, &nfds), -EPROTO);
	CU_ASSERT_LAST_ERROR_HAS("payload cut short");
	CU_ASSERT_EQUAL(vu_recv(sv[0], &m, fds, &nfds), -ECONNRESET);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	static const struct unit_test t[] = {
		{"write_read", test_write_read},
		{"event_idx", test_event_idx},
		{"two_queues", test_two_queues},
		{"packed", test_packed},
		{"get_id_and_unsupp", test_get_id_and_unsupp},
		{"outside_memory", test_outside_memory},
		{"indirect", test_indirect},
		{"zeroes_discard", test_zeroes_discard},
		{"broken_ring", test_broken_ring},
		{"messages", test_messages},
		{"recv", test_recv},
		{"unkicked_ring", test_unkicked_ring},
		{"inflight", test_inflight},
		{"inflight_packed", test_inflight_packed},
		{"mem_slots", test_mem_slots},
		{"stats", test_stats},
	};

	unit_quiet_logs();
	return unit_run("vhost_blk", t, UDK_ARRAY_SIZE(t));
}
