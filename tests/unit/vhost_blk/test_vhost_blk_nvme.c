/* SPDX-License-Identifier: BSD-3-Clause */
/* test_vhost_blk_nvme.c - udk-vhost-blk's guest memory in the IOMMU map of
 * an nvme bdev's controller (the fake controller of tests/unit/nvme, its heap
 * adopted with a map that has no device): every region of SET_MEM_TABLE
 * becomes one mapping of the map, and translates for the controller
 * (zero copy), whatever its alignment; a new table replaces the old one's
 * mappings exactly; a disconnect removes them all. */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../common/unit.h"
#include "../nvme/fakedev.h"
#include "udk_bdev.h"
#include "udk_dma.h"
#include "udk_eal.h"
#include "udk_mem.h"
#include "udk_nvme.h"
#include "vhost_blk.h"

#define MIB (1ull << 20)
#define MEM_SIZE (8 * MIB)

static struct vb_dev dev;
static int memfd;

static int set_table(const struct vu_region *r, uint32_t n)
{
	struct vu_msg m, reply;
	int fds[VU_MAX_REGIONS];
	bool send;

	memset(&m, 0, sizeof(m));
	m.hdr.request = VU_SET_MEM_TABLE;
	m.hdr.flags = VU_VERSION;
	m.hdr.size = 8 + 32 * n;
	m.p.mem.nregions = n;
	for (uint32_t i = 0; i < n; i++) {
		m.p.mem.regions[i] = r[i];
		fds[i] = dup(memfd);
	}
	return vu_handle(&dev, &m, fds, (int)n, &reply, &send);
}

static unsigned int mappings(struct udk_dmamap *map)
{
	struct udk_dmamap_info info;

	CU_ASSERT_EQUAL(udk_dmamap_info(map, &info), 0);
	return info.nb_mappings;
}

/* Every byte of region i's guest memory translates in mem (first, last). */
static bool reachable(struct udk_mem *mem, const struct vb_region *r)
{
	return udk_mem_virt2iova(mem, r->host) != UDK_IOVA_BAD &&
	       udk_mem_virt2iova(mem, r->host + r->size - 1) != UDK_IOVA_BAD;
}

static void test_regions_in_map(void)
{
	/* QEMU's shape: RAM below the VGA hole, RAM after it (neither 2 MiB
	 * aligned nor sized), and a region further up at another offset. */
	static const struct vu_region a[3] = {
		{0, 0xa0000, 0x7f0000000000, 0},
		{0xc0000, 4 * MIB - 0xc0000, 0x7f00000c0000, 0xc0000},
		{0x100000000, 3 * MIB + 4096, 0x7f0100000000, 4 * MIB},
	};
	static const struct vu_region b[2] = {
		{0, 2 * MIB, 0x7f2000000000, 0},
		{2 * MIB, 6 * MIB, 0x7f2000200000, 2 * MIB},
	};
	struct udk_nvme_ctrlr_opts co;
	struct udk_dmamap_opts mo;
	struct udk_dmamap *map;
	struct fakedev *fd;
	struct udk_nvme_ctrlr *c;
	struct udk_bdev *bdev;
	struct udk_mem *mem;
	uint8_t *old_host[3];
	unsigned int base;

	udk_nvme_ctrlr_opts_init(&co, sizeof(co));
	co.admin_timeout_ms = 3000;
	co.no_aer = true;
	c = fakedev_ctrlr(&fd, &co);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	mem = udk_nvme_ctrlr_mem(c);
	udk_dmamap_opts_init(&mo, sizeof(mo));
	mo.backend = UDK_DMAMAP_VFIO_TYPE1; /* takes mappings with no device, opens nothing */
	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(&mo, &map), 0);
	CU_ASSERT_EQUAL_FATAL(udk_eal_adopt(mem, map), 0);
	CU_ASSERT_EQUAL_FATAL(udk_bdev_nvme_create("vnv0", c, 1, &bdev), 0);
	CU_ASSERT_EQUAL_FATAL(vb_dev_init(&dev, bdev), 0);
	memfd = memfd_create("guest", 0);
	CU_ASSERT_EQUAL_FATAL(ftruncate(memfd, MEM_SIZE), 0);
	base = mappings(map);

	CU_ASSERT_EQUAL_FATAL(set_table(a, 3), 0);
	CU_ASSERT_EQUAL(dev.mem.unregistered, 0);
	CU_ASSERT_EQUAL(mappings(map), base + 3);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT(dev.mem.r[i].registered);
		CU_ASSERT(reachable(mem, &dev.mem.r[i]));
		old_host[i] = dev.mem.r[i].host;
	}
	/* A new table: its two regions mapped, the old three gone exactly. */
	CU_ASSERT_EQUAL_FATAL(set_table(b, 2), 0);
	CU_ASSERT_EQUAL(mappings(map), base + 2);
	CU_ASSERT(reachable(mem, &dev.mem.r[0]) && reachable(mem, &dev.mem.r[1]));
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(udk_mem_virt2iova(mem, old_host[i]), UDK_IOVA_BAD);
	/* A table refused (regions overlap) leaves the current one as it was. */
	struct vu_region bad[2] = {b[0], b[0]};
	bad[1].mmap_offset = 4 * MIB;
	CU_ASSERT_EQUAL(set_table(bad, 2), -EPROTO);
	CU_ASSERT_EQUAL(mappings(map), base + 2);
	/* The front-end gone: nothing of the guest is left in the map. */
	vu_reset(&dev);
	CU_ASSERT_EQUAL(mappings(map), base);

	vb_dev_fini(&dev);
	close(memfd);
	CU_ASSERT_EQUAL(udk_bdev_destroy(bdev), 0);
	CU_ASSERT_EQUAL(udk_eal_adopt(NULL, NULL), 0);
	/* The fake's heap again as it was: the default memory, no fallback
	 * table (the map's goes with the map). */
	udk_mem_set_xlate_fallback(mem, NULL);
	udk_mem_set_default(mem);
	udk_dmamap_put(map);
	fakedev_free(c, fd);
}

int main(void)
{
	static const struct unit_test t[] = {
		{"regions_in_map", test_regions_in_map},
	};

	unit_quiet_logs();
	return unit_run("vhost_blk_nvme", t, UDK_ARRAY_SIZE(t));
}
