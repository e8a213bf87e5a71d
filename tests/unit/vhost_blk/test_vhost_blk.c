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
#include "udk_bdev.h"
#include "udk_telemetry.h"
#include "vhost_blk.h"

#define MEM_SIZE (1u << 20)
#define GPA 0x100000ull     /* guest physical address of the region */
#define UVA 0x7f0000000000ull /* the front-end's address of it */
#define QSZ 16
#define DESC_OFF 0x0
#define AVAIL_OFF 0x400
#define USED_OFF 0x800
#define BUF_OFF 0x10000

static struct vb_dev *dev;
static struct udk_bdev *bdev;
static uint8_t *g;          /* the driver's view of guest memory */
static int memfd, kickfd, callfd;
static uint16_t avail_idx, used_seen, next_desc;

struct hdr {
	uint32_t type, reserved;
	uint64_t sector;
};

static int msg(uint32_t req, const void *payload, uint32_t size, int *fds, int nfds,
	       struct vu_msg *reply)
{
	struct vu_msg m, r;
	bool send;

	memset(&m, 0, sizeof(m));
	m.hdr.request = req;
	m.hdr.flags = VU_VERSION;
	m.hdr.size = size;
	if (size)
		memcpy(&m.p, payload, size);
	int rc = vu_handle(dev, &m, fds, nfds, reply ? reply : &r, &send);
	if (!reply && rc == 0 && r.fd >= 0)
		close(r.fd);
	return rc;
}

static int set_state(uint32_t req, uint32_t idx, uint32_t num)
{
	struct vu_vring_state s = {idx, num};
	return msg(req, &s, sizeof(s), NULL, 0, NULL);
}

static int set_fd_q(uint32_t req, uint64_t q, int fd)
{
	int f = dup(fd);
	return msg(req, &q, 8, &f, 1, NULL);
}

static int set_fd(uint32_t req, int fd)
{
	return set_fd_q(req, 0, fd);
}

/* A device on a malloc bdev, the guest's memory, its kick and call fds. */
static void open_guest(void)
{
	CU_ASSERT_EQUAL_FATAL(udk_bdev_malloc_create("vbt", 4096, 512, &bdev), 0);
	dev = calloc(1, sizeof(*dev));
	CU_ASSERT_EQUAL_FATAL(vb_dev_init(dev, bdev), 0);
	memfd = memfd_create("guest", 0);
	CU_ASSERT_EQUAL_FATAL(ftruncate(memfd, MEM_SIZE), 0);
	g = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	CU_ASSERT_NOT_EQUAL_FATAL(g, MAP_FAILED);
	kickfd = eventfd(0, EFD_NONBLOCK);
	callfd = eventfd(0, EFD_NONBLOCK);
}

/* Ring 0 set up in guest memory's fixed place and started at base. */
static void start_ring(uint16_t base)
{
	struct vu_vring_addr a = {.index = 0, .desc = UVA + DESC_OFF, .avail = UVA + AVAIL_OFF,
				  .used = UVA + USED_OFF};

	CU_ASSERT_EQUAL(set_state(VU_SET_VRING_NUM, 0, QSZ), 0);
	CU_ASSERT_EQUAL(set_state(VU_SET_VRING_BASE, 0, base), 0);
	CU_ASSERT_EQUAL_FATAL(msg(VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, NULL), 0);
	CU_ASSERT_EQUAL(set_fd(VU_SET_VRING_CALL, callfd), 0);
	CU_ASSERT_EQUAL_FATAL(set_fd(VU_SET_VRING_KICK, kickfd), 0);
	CU_ASSERT_EQUAL(set_state(VU_SET_VRING_ENABLE, 0, 1), 0);
}

/* The device set up as QEMU does it, guest memory one region, with the
 * features offered but those in `without`. */
static void setup_without(uint64_t without)
{
	struct vu_memory t = {.nregions = 1};
	uint64_t f;
	int fd;

	open_guest();
	avail_idx = used_seen = next_desc = 0;

	f = vb_dev_features(dev) & ~without;
	CU_ASSERT_EQUAL(msg(VU_SET_FEATURES, &f, 8, NULL, 0, NULL), 0);
	CU_ASSERT_EQUAL(msg(VU_SET_OWNER, NULL, 0, NULL, 0, NULL), 0);
	t.regions[0] = (struct vu_region){GPA, MEM_SIZE, UVA, 0};
	fd = dup(memfd);
	CU_ASSERT_EQUAL_FATAL(msg(VU_SET_MEM_TABLE, &t, 8 + 32, &fd, 1, NULL), 0);
	start_ring(0);
}

static void setup(void)
{
	setup_without(1ull << VIRTIO_RING_F_EVENT_IDX | 1ull << VIRTIO_F_RING_PACKED);
}

static void teardown(void)
{
	vb_dev_fini(dev);
	free(dev);
	CU_ASSERT_EQUAL(udk_bdev_destroy(bdev), 0);
	munmap(g, MEM_SIZE);
	close(memfd);
	close(kickfd);
	close(callfd);
}

static struct vring_desc *desc_table(void)
{
	return (struct vring_desc *)(g + DESC_OFF);
}

/* Make a chain of n descriptors (from table tab, or the ring's) available;
 * returns its head. */
static uint16_t post(const struct vring_desc *d, int n)
{
	struct vring_desc *t = desc_table();
	uint16_t head = next_desc;
	uint16_t *avail = (uint16_t *)(g + AVAIL_OFF);

	for (int i = 0; i < n; i++) {
		uint16_t slot = (uint16_t)((next_desc + i) % QSZ);
		t[slot] = d[i];
		if (i + 1 < n) {
			t[slot].flags |= VRING_DESC_F_NEXT;
			t[slot].next = (uint16_t)((slot + 1) % QSZ);
		}
	}
	next_desc = (uint16_t)((next_desc + n) % QSZ);
	avail[2 + avail_idx % QSZ] = head;
	__atomic_store_n(&avail[1], ++avail_idx, __ATOMIC_RELEASE);
	return head;
}

/* Poll the device until one more used element appears; its (id, len). */
static int used_next(uint32_t *id, uint32_t *len)
{
	uint16_t *used = (uint16_t *)(g + USED_OFF);
	struct vring_used_elem *ue = (struct vring_used_elem *)(used + 2);

	for (int i = 0; i < 1000; i++) {
		if (__atomic_load_n(&used[1], __ATOMIC_ACQUIRE) != used_seen) {
			*id = ue[used_seen % QSZ].id;
			*len = ue[used_seen % QSZ].len;
			used_seen++;
			return 0;
		}
		vb_dev_poll(dev);
	}
	return -1;
}

static uint64_t gpa(uint32_t off)
{
	return GPA + off;
}

/* A request with the header at BUF_OFF, data at data_off (len bytes,
 * device-writable for IN), status at BUF_OFF + 0x20; its status. */
static int request(uint32_t type, uint64_t sector, uint64_t data_addr, uint32_t len,
		   uint32_t *used_len)
{
	struct hdr *h = (struct hdr *)(g + BUF_OFF);
	uint8_t *st = g + BUF_OFF + 0x20;
	struct vring_desc d[3];
	int n = 0;
	uint32_t id, ulen;

	*h = (struct hdr){type, 0, sector};
	*st = 0xee;
	d[n++] = (struct vring_desc){gpa(BUF_OFF), 16, 0, 0};
	if (len)
		d[n++] = (struct vring_desc){data_addr, len,
					     type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID
						     ? VRING_DESC_F_WRITE : 0, 0};
	d[n++] = (struct vring_desc){gpa(BUF_OFF + 0x20), 1, VRING_DESC_F_WRITE, 0};
	uint16_t head = post(d, n);
	if (used_next(&id, &ulen) < 0)
		return -1;
	CU_ASSERT_EQUAL(id, head);
	if (used_len)
		*used_len = ulen;
	return *st;
}

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

/* A packed ring (§2.8) of 4 descriptors: the driver side here marks
 * chains available with its wrap counter, first descriptor's flags last. */
static uint16_t pk_avail, pk_used;
static bool pk_wrap = true, pk_used_wrap = true;

static void pk_post(const struct vring_packed_desc *d, int n, uint16_t id)
{
	struct vring_packed_desc *r = (struct vring_packed_desc *)(g + DESC_OFF);
	uint16_t first = pk_avail, first_flags = 0;

	for (int i = 0; i < n; i++) {
		uint16_t f = d[i].flags | (i + 1 < n ? VRING_DESC_F_NEXT : 0) |
			     (pk_wrap ? VRING_PACKED_DESC_F_AVAIL : VRING_PACKED_DESC_F_USED);
		r[pk_avail] = (struct vring_packed_desc){d[i].addr, d[i].len, id, 0};
		if (i == 0)
			first_flags = f;
		else
			r[pk_avail].flags = f;
		if (++pk_avail == 4) {
			pk_avail = 0;
			pk_wrap = !pk_wrap;
		}
	}
	__atomic_store_n(&r[first].flags, first_flags, __ATOMIC_RELEASE);
}

/* The next used element: its id, or -1. */
static int pk_used_next(uint32_t *len, int nslots)
{
	struct vring_packed_desc *r = (struct vring_packed_desc *)(g + DESC_OFF);

	for (int i = 0; i < 1000; i++) {
		uint16_t f = __atomic_load_n(&r[pk_used].flags, __ATOMIC_ACQUIRE);
		if (!!(f & VRING_PACKED_DESC_F_USED) == pk_used_wrap &&
		    !!(f & VRING_PACKED_DESC_F_AVAIL) == pk_used_wrap) {
			int id = r[pk_used].id;
			*len = r[pk_used].len;
			pk_used = (uint16_t)(pk_used + nslots);
			if (pk_used >= 4) {
				pk_used -= 4;
				pk_used_wrap = !pk_used_wrap;
			}
			return id;
		}
		vb_dev_poll(dev);
	}
	return -1;
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

/* SET_INFLIGHT_FD then the ring started at base, as QEMU does after a
 * (re)connect; returns what SET_VRING_KICK left to resubmit. */
static void start_inflight(int ifd, const struct vu_inflight *in, uint16_t base)
{
	uint64_t f = vb_dev_features(dev) & ~(1ull << VIRTIO_RING_F_EVENT_IDX |
					      1ull << VIRTIO_F_RING_PACKED);
	uint64_t pf = 1ull << VU_PROTOCOL_F_INFLIGHT_SHMFD;
	struct vu_memory t = {.nregions = 1};
	int fd = dup(memfd), f2 = dup(ifd);

	CU_ASSERT_EQUAL(msg(VU_SET_FEATURES, &f, 8, NULL, 0, NULL), 0);
	CU_ASSERT_EQUAL(msg(VU_SET_PROTOCOL_FEATURES, &pf, 8, NULL, 0, NULL), 0);
	t.regions[0] = (struct vu_region){GPA, MEM_SIZE, UVA, 0};
	CU_ASSERT_EQUAL_FATAL(msg(VU_SET_MEM_TABLE, &t, 8 + 32, &fd, 1, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(msg(VU_SET_INFLIGHT_FD, in, sizeof(*in), &f2, 1, NULL), 0);
	start_ring(base);
}

/* vhost-user.rst "Inflight I/O tracking": a back-end killed with requests
 * taken and not given back; the next one carries them out, oldest first,
 * and not the ones whose used entries were already published. */
static void test_inflight(void)
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
static void test_mem_slots(void)
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
static void test_stats(void)
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
		{"inflight", test_inflight},
		{"mem_slots", test_mem_slots},
		{"stats", test_stats},
	};

	unit_quiet_logs();
	return unit_run("vhost_blk", t, UDK_ARRAY_SIZE(t));
}
