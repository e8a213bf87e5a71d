/* SPDX-License-Identifier: BSD-3-Clause */
/* fake.c - the fake driver side of the vhost_blk unit tests (fake.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../common/unit.h"
#include "fake.h"

struct vb_dev *dev;
struct udk_bdev *bdev;
uint8_t *g;          /* the driver's view of guest memory */
int memfd, kickfd, callfd;
uint16_t avail_idx, used_seen, next_desc;



int msg(uint32_t req, const void *payload, uint32_t size, int *fds, int nfds,
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

int set_state(uint32_t req, uint32_t idx, uint32_t num)
{
	struct vu_vring_state s = {idx, num};
	return msg(req, &s, sizeof(s), NULL, 0, NULL);
}

int set_fd_q(uint32_t req, uint64_t q, int fd)
{
	int f = dup(fd);
	return msg(req, &q, 8, &f, 1, NULL);
}

int set_fd(uint32_t req, int fd)
{
	return set_fd_q(req, 0, fd);
}

/* A device on a malloc bdev, the guest's memory, its kick and call fds. */
void open_guest(void)
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
void start_ring(uint16_t base)
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
void setup_without(uint64_t without)
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

void setup(void)
{
	setup_without(1ull << VIRTIO_RING_F_EVENT_IDX | 1ull << VIRTIO_F_RING_PACKED);
}

void teardown(void)
{
	vb_dev_fini(dev);
	free(dev);
	CU_ASSERT_EQUAL(udk_bdev_destroy(bdev), 0);
	munmap(g, MEM_SIZE);
	close(memfd);
	close(kickfd);
	close(callfd);
}

struct vring_desc *desc_table(void)
{
	return (struct vring_desc *)(g + DESC_OFF);
}

/* Notify the device as a driver does after making chains available. */
void kick(int fd)
{
	uint64_t one = 1;

	CU_ASSERT_EQUAL(write(fd, &one, sizeof(one)), (ssize_t)sizeof(one));
}

/* Make a chain of n descriptors (from table tab, or the ring's) available;
 * returns its head. */
uint16_t post(const struct vring_desc *d, int n)
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
	kick(kickfd);
	return head;
}

/* Poll the device until one more used element appears; its (id, len). */
int used_next(uint32_t *id, uint32_t *len)
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

uint64_t gpa(uint32_t off)
{
	return GPA + off;
}

/* A request with the header at BUF_OFF, data at data_off (len bytes,
 * device-writable for IN), status at BUF_OFF + 0x20; its status. */
int request(uint32_t type, uint64_t sector, uint64_t data_addr, uint32_t len,
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

/* A packed ring (§2.8) of pk_size descriptors: the driver side here marks
 * chains available with its wrap counter, first descriptor's flags last. */
uint16_t pk_avail, pk_used, pk_size = 4;
bool pk_wrap = true, pk_used_wrap = true;

void pk_post(const struct vring_packed_desc *d, int n, uint16_t id)
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
		if (++pk_avail == pk_size) {
			pk_avail = 0;
			pk_wrap = !pk_wrap;
		}
	}
	__atomic_store_n(&r[first].flags, first_flags, __ATOMIC_RELEASE);
	kick(kickfd);
}

/* The next used element: its id, or -1. */
int pk_used_next(uint32_t *len, int nslots)
{
	struct vring_packed_desc *r = (struct vring_packed_desc *)(g + DESC_OFF);

	for (int i = 0; i < 1000; i++) {
		uint16_t f = __atomic_load_n(&r[pk_used].flags, __ATOMIC_ACQUIRE);
		if (!!(f & VRING_PACKED_DESC_F_USED) == pk_used_wrap &&
		    !!(f & VRING_PACKED_DESC_F_AVAIL) == pk_used_wrap) {
			int id = r[pk_used].id;
			*len = r[pk_used].len;
			pk_used = (uint16_t)(pk_used + nslots);
			if (pk_used >= pk_size) {
				pk_used -= pk_size;
				pk_used_wrap = !pk_used_wrap;
			}
			return id;
		}
		vb_dev_poll(dev);
	}
	return -1;
}
