/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for lib/dma on the host, with no VFIO: the map object's record
 * (map, map_at, exact unmap, overlaps, translation, exhaustion, lifetime) and
 * every check udk_device_open() makes from sysfs, against a fixture tree. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/unit.h"
#include "udk_dma.h"
#include "udk_util.h"

static void *pages(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void test_map_before_any_device(void)
{
	struct udk_dmamap *map;
	struct udk_dmamap_info info;
	uint64_t iova, iova2, t;
	char *buf = pages(4 << 20);

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(NULL, &map), 0);
	CU_ASSERT_EQUAL(udk_dmamap_map(map, buf, 2 << 20, &iova), 0);
	CU_ASSERT(iova >= UDK_IOVA_SAFE_START && iova + (2 << 20) - 1 <= UDK_IOVA_SAFE_LAST);
	CU_ASSERT_EQUAL(iova % 4096, 0);
	CU_ASSERT_EQUAL(udk_dmamap_map(map, buf + (2 << 20), 4096, &iova2), 0);
	CU_ASSERT_EQUAL(udk_dmamap_virt2iova(map, buf + 123, &t), 0);
	CU_ASSERT_EQUAL(t, iova + 123);
	CU_ASSERT_EQUAL(udk_dmamap_virt2iova(map, buf + (2 << 20) + 7, &t), 0);
	CU_ASSERT_EQUAL(t, iova2 + 7);
	CU_ASSERT_EQUAL(udk_dmamap_virt2iova(map, buf + (3 << 20), &t), -UDK_ENOTMAPPED);
	CU_ASSERT_EQUAL(udk_dmamap_info(map, &info), 0);
	CU_ASSERT_EQUAL(info.nb_mappings, 2);
	CU_ASSERT_EQUAL(info.bytes_mapped, (2 << 20) + 4096);
	CU_ASSERT_EQUAL(info.nb_devices, 0);
	if (access("/dev/iommu", F_OK) != 0) { /* AUTO: type1 without iommufd */
		CU_ASSERT_EQUAL(info.backend, UDK_DMAMAP_VFIO_TYPE1);
		CU_ASSERT_FALSE(info.live); /* type1 holds nothing before a device */
		CU_ASSERT_EQUAL(info.ioas_id, 0); /* type1: no IOAS */
	}
	CU_ASSERT_EQUAL(udk_dmamap_unmap(map, buf, 2 << 20), 0);
	CU_ASSERT_EQUAL(udk_dmamap_unmap(map, buf + (2 << 20), 4096), 0);
	CU_ASSERT_EQUAL(udk_dmamap_info(map, &info), 0);
	CU_ASSERT_EQUAL(info.nb_mappings, 0);
	udk_dmamap_put(map);
	munmap(buf, 4 << 20);
}

static void test_segments_map_with_large_alignment(void)
{
	struct udk_dmamap *map;
	uint64_t iova;
	char *raw = pages(8 << 20);
	char *seg = (char *)UDK_ALIGN_UP((uintptr_t)raw, 2 << 20);

	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(NULL, &map), 0);
	CU_ASSERT_EQUAL(udk_dmamap_map(map, seg, 4 << 20, &iova), 0);
	/* A 2 MiB-aligned segment gets a 2 MiB-aligned IOVA (large IOMMU pages). */
	CU_ASSERT_EQUAL(iova % (2 << 20), 0);
	udk_dmamap_put(map); /* destroying a map with mappings releases them */
	munmap(raw, 8 << 20);
}

static void test_overlap_and_inexact_unmap_are_errors(void)
{
	struct udk_dmamap *map;
	uint64_t iova;
	char *buf = pages(1 << 20);

	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(NULL, &map), 0);
	CU_ASSERT_EQUAL(udk_dmamap_map(map, buf + 0x10000, 0x10000, &iova), 0);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_dmamap_map(map, buf, 0x11000, &iova), -UDK_EOVERLAP);
	CU_ASSERT_LAST_ERROR_HAS("overlaps the mapping");
	CU_ASSERT_EQUAL(udk_dmamap_map(map, buf + 0x1f000, 0x2000, &iova), -UDK_EOVERLAP);
	CU_ASSERT_EQUAL(udk_dmamap_map(map, buf + 0x10000, 0x10000, &iova), -UDK_EOVERLAP);
	/* Neighbours on either side are fine. */
	CU_ASSERT_EQUAL(udk_dmamap_map(map, buf, 0x10000, &iova), 0);
	CU_ASSERT_EQUAL(udk_dmamap_map(map, buf + 0x20000, 0x1000, &iova), 0);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_dmamap_unmap(map, buf + 0x10000, 0x1000), -UDK_ENOTMAPPED);
	CU_ASSERT_LAST_ERROR_HAS("not exactly one mapping");
	CU_ASSERT_EQUAL(udk_dmamap_unmap(map, buf + 0x11000, 0xf000), -UDK_ENOTMAPPED);
	CU_ASSERT_EQUAL(udk_dmamap_unmap(map, buf + 0x30000, 0x1000), -UDK_ENOTMAPPED);
	CU_ASSERT_LAST_ERROR_HAS("is not mapped");
	CU_ASSERT_EQUAL(udk_dmamap_unmap(map, buf + 0x10000, 0x10000), 0);
	CU_ASSERT_EQUAL(udk_dmamap_unmap(map, buf + 0x10000, 0x10000), -UDK_ENOTMAPPED);
	/* Bad ranges never reach a backend. */
	CU_ASSERT_EQUAL(udk_dmamap_map(map, buf + 1, 4096, &iova), -EINVAL);
	CU_ASSERT_EQUAL(udk_dmamap_map(map, buf + 0x40000, 0, &iova), -EINVAL);
	CU_ASSERT_EQUAL(udk_dmamap_map(map, buf + 0x40000, 100, &iova), -EINVAL);
	CU_ASSERT_EQUAL(udk_dmamap_map_at(map, buf + 0x40000, 4096, 0x100001), -EINVAL);
	udk_dmamap_put(map);
	munmap(buf, 1 << 20);
}

static void test_map_at_and_iova_collisions(void)
{
	struct udk_dmamap *map;
	uint64_t t;
	char *buf = pages(1 << 20);

	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(NULL, &map), 0);
	CU_ASSERT_EQUAL(udk_dmamap_map_at(map, buf, 0x2000, 0x40000000), 0);
	CU_ASSERT_EQUAL(udk_dmamap_virt2iova(map, buf + 0x1234, &t), 0);
	CU_ASSERT_EQUAL(t, 0x40001234);
	/* Another VA at an IOVA already taken. */
	CU_ASSERT_EQUAL(udk_dmamap_map_at(map, buf + 0x10000, 0x1000, 0x40001000), -UDK_EOVERLAP);
	/* Outside the IOVA ranges (above 39 bits, or in the MSI window). */
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_dmamap_map_at(map, buf + 0x10000, 0x1000, 1ULL << 45), -UDK_ENOIOVA);
	CU_ASSERT_LAST_ERROR_HAS("outside the map's IOVA ranges");
	CU_ASSERT_EQUAL(udk_dmamap_map_at(map, buf + 0x10000, 0x1000, 0xfee00000), -UDK_ENOIOVA);
	/* A failed map leaves nothing behind: the IOVA is still free. */
	CU_ASSERT_EQUAL(udk_dmamap_map_at(map, buf + 0x10000, 0x1000, 0x50000000), 0);
	udk_dmamap_put(map);
	munmap(buf, 1 << 20);
}

/* map_in: pieces of a window the caller holds, mapped one by one; the IOVA
 * stays the caller's when they are unmapped (lib/dpdk's use). */
static void test_map_in_a_held_window(void)
{
	struct udk_dmamap *map;
	struct udk_iova_space *sp;
	uint64_t win, t, other;
	char *buf = pages(1 << 20);

	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(NULL, &map), 0);
	sp = udk_dmamap_iova_space(map);
	CU_ASSERT_EQUAL_FATAL(udk_iova_alloc(sp, 1 << 20, 1 << 20, &win), 0);
	/* Two pieces, out of order, each at its offset in the window. */
	CU_ASSERT_EQUAL(udk_dmamap_map_in(map, buf + 0x8000, 0x4000, win + 0x8000), 0);
	CU_ASSERT_EQUAL(udk_dmamap_map_in(map, buf, 0x8000, win), 0);
	CU_ASSERT_EQUAL(udk_dmamap_virt2iova(map, buf + 0x9234, &t), 0);
	CU_ASSERT_EQUAL(t, win + 0x9234);
	/* The window is held: nobody else gets it. */
	CU_ASSERT_EQUAL(udk_dmamap_map_at(map, buf + 0x80000, 0x1000, win + 0x20000),
			-UDK_EOVERLAP);
	CU_ASSERT_EQUAL(udk_dmamap_map(map, buf + 0x80000, 0x1000, &other), 0);
	CU_ASSERT(other + 0x1000 <= win || other >= win + (1 << 20));
	/* Unmapped, a piece's IOVA stays in the window: it maps again there. */
	CU_ASSERT_EQUAL(udk_dmamap_unmap(map, buf + 0x8000, 0x4000), 0);
	CU_ASSERT_EQUAL(udk_dmamap_virt2iova(map, buf + 0x8000, &t), -UDK_ENOTMAPPED);
	CU_ASSERT_EQUAL(udk_iova_reserve(sp, win + 0x8000, 0x4000), -UDK_EOVERLAP);
	CU_ASSERT_EQUAL(udk_dmamap_map_in(map, buf + 0x8000, 0x4000, win + 0x8000), 0);
	/* Overlaps and bad alignment are refused as for map_at. */
	CU_ASSERT_EQUAL(udk_dmamap_map_in(map, buf + 0x8000, 0x1000, win + 0x40000), -UDK_EOVERLAP);
	CU_ASSERT_EQUAL(udk_dmamap_map_in(map, buf + 0x40000, 0x1000, win + 0x40001), -EINVAL);
	CU_ASSERT_EQUAL(udk_dmamap_unmap(map, buf, 0x8000), 0);
	CU_ASSERT_EQUAL(udk_dmamap_unmap(map, buf + 0x8000, 0x4000), 0);
	CU_ASSERT_EQUAL(udk_iova_free(sp, win, 1 << 20), 0);
	udk_dmamap_put(map);
	munmap(buf, 1 << 20);
}

static void test_iova_space_exhaustion(void)
{
	struct udk_iova_range small = {0x100000, 0x2fffff}; /* 2 MiB */
	struct udk_dmamap_opts o;
	struct udk_dmamap *map;
	uint64_t iova;
	char *buf = pages(4 << 20);

	udk_dmamap_opts_init(&o, sizeof(o));
	o.iova_ranges = &small;
	o.nb_iova_ranges = 1;
	o.name = "tiny";
	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(&o, &map), 0);
	CU_ASSERT_STRING_EQUAL(udk_dmamap_name(map), "tiny");
	CU_ASSERT_EQUAL(udk_dmamap_map(map, buf, 2 << 20, &iova), 0);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_dmamap_map(map, buf + (2 << 20), 4096, &iova), -UDK_ENOIOVA);
	CU_ASSERT_LAST_ERROR_HAS("IOVA space exhausted");
	udk_dmamap_put(map);

	/* The default space is 39 bits: a 1 TiB reservation cannot fit, and the
	 * allocator says so before anything would be pinned. */
	void *huge = mmap(NULL, 1ULL << 40, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			  -1, 0);
	if (huge != MAP_FAILED) {
		CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(NULL, &map), 0);
		CU_ASSERT_EQUAL(udk_dmamap_map(map, huge, 1ULL << 40, &iova), -UDK_ENOIOVA);
		udk_dmamap_put(map);
		munmap(huge, 1ULL << 40);
	}
	munmap(buf, 4 << 20);
}

static void test_refcount_and_options(void)
{
	struct udk_dmamap_opts o;
	struct udk_dmamap *map;
	struct udk_iova_range r[4];
	size_t n;

	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(NULL, &map), 0);
	CU_ASSERT_PTR_EQUAL(udk_dmamap_get(map), map);
	udk_dmamap_put(map);
	CU_ASSERT_EQUAL(udk_dmamap_iova_ranges(map, r, 4, &n), 0); /* still alive */
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(r[1].last, UDK_IOVA_SAFE_LAST);
	udk_dmamap_put(map);

	udk_dmamap_opts_init(&o, sizeof(o));
	o.backend = UDK_DMAMAP_IOMMUFD;
	udk_last_error_clear();
#ifdef UDK_HAVE_IOMMUFD
	/* Built in; this host's kernel has no iommufd (tests/unit/dma/
	 * test_iommufd.c runs the backend against a fake kernel). */
	if (access("/dev/iommu", F_OK) != 0) {
		CU_ASSERT_EQUAL(udk_dmamap_create(&o, &map), -UDK_ENOIOMMUFD);
		CU_ASSERT_LAST_ERROR_HAS("/dev/iommu is missing: this kernel lacks CONFIG_IOMMUFD");
	}
#else
	CU_ASSERT_EQUAL(udk_dmamap_create(&o, &map), -ENOTSUP);
	CU_ASSERT_LAST_ERROR_HAS("iommufd backend is not built");
#endif

	/* An options struct from an older caller (shorter) still works. */
	udk_dmamap_opts_init(&o, offsetof(struct udk_dmamap_opts, name));
	CU_ASSERT_EQUAL(udk_dmamap_create(&o, &map), 0);
	udk_dmamap_put(map);
}

/* ---- udk_device_open() against a fixture sysfs ---- */

static char root[PATH_MAX];

static void mkpath(const char *rel)
{
	char p[PATH_MAX * 2], *s;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (s = p + strlen(root) + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	}
	mkdir(p, 0755);
}

static void link_rel(const char *target, const char *rel)
{
	char p[PATH_MAX * 2];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	CU_ASSERT_EQUAL(symlink(target, p), 0);
}

/* A device with a group, in a group, optionally bound to a driver. */
static void fixture_dev(const char *bdf, int group, const char *driver)
{
	char rel[256], tgt[256];

	snprintf(rel, sizeof(rel), "devices/pci0000:00/%s", bdf);
	mkpath(rel);
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s", bdf);
	snprintf(tgt, sizeof(tgt), "../../../devices/pci0000:00/%s", bdf);
	mkpath("bus/pci/devices");
	link_rel(tgt, rel);
	if (group >= 0) {
		snprintf(rel, sizeof(rel), "kernel/iommu_groups/%d/devices", group);
		mkpath(rel);
		snprintf(rel, sizeof(rel), "kernel/iommu_groups/%d/devices/%s", group, bdf);
		snprintf(tgt, sizeof(tgt), "../../../../devices/pci0000:00/%s", bdf);
		link_rel(tgt, rel);
		snprintf(rel, sizeof(rel), "devices/pci0000:00/%s/iommu_group", bdf);
		snprintf(tgt, sizeof(tgt), "../../../kernel/iommu_groups/%d", group);
		link_rel(tgt, rel);
	}
	if (driver != NULL) {
		snprintf(rel, sizeof(rel), "bus/pci/drivers/%s", driver);
		mkpath(rel);
		snprintf(rel, sizeof(rel), "devices/pci0000:00/%s/driver", bdf);
		snprintf(tgt, sizeof(tgt), "../../../bus/pci/drivers/%s", driver);
		link_rel(tgt, rel);
	}
}

static int fixture_setup(void)
{
	snprintf(root, sizeof(root), "/tmp/udk-dma-fixture-XXXXXX");
	if (mkdtemp(root) == NULL)
		return 1;
	setenv("UDK_SYSFS_ROOT", root, 1);
	return 0;
}

static void fixture_teardown(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	unsetenv("UDK_SYSFS_ROOT");
}

/* One name per backend, the one tools and telemetry print, taken from a map
 * of that backend (iommufd: tests/unit/dma/test_iommufd.c, on its fake). */
static void test_backend_names(void)
{
	static const enum udk_dmamap_backend made[] = {UDK_DMAMAP_VFIO_TYPE1, UDK_DMAMAP_BROKERED};
	static const char *const want[] = {"vfio-type1", "brokered"};
	struct udk_dmamap_opts o;
	struct udk_dmamap_info info;
	struct udk_dmamap *map;

	for (size_t i = 0; i < UDK_ARRAY_SIZE(made); i++) {
		udk_dmamap_opts_init(&o, sizeof(o));
		o.backend = made[i];
		CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(&o, &map), 0);
		CU_ASSERT_EQUAL(udk_dmamap_info(map, &info), 0);
		CU_ASSERT_EQUAL(info.backend, made[i]);
		CU_ASSERT_STRING_EQUAL(udk_dmamap_backend_name(info.backend), want[i]);
		udk_dmamap_put(map);
	}
	CU_ASSERT_STRING_EQUAL(udk_dmamap_backend_name(UDK_DMAMAP_AUTO), "auto");
	CU_ASSERT_STRING_EQUAL(udk_dmamap_backend_name(UDK_DMAMAP_IOMMUFD), "iommufd");
	CU_ASSERT_STRING_EQUAL(udk_dmamap_backend_name((enum udk_dmamap_backend)42), "unknown");
}

static void test_open_no_iommu(void)
{
	struct udk_device *dev;

	CU_ASSERT_EQUAL_FATAL(fixture_setup(), 0);
	fixture_dev("0000:00:04.0", -1, "vfio-pci");
	mkpath("kernel/iommu_groups");
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_device_open("0000:00:04.0", &dev), -UDK_ENOIOMMU);
	CU_ASSERT_LAST_ERROR_HAS("intel_iommu=on");
	/* Groups exist, but not for this device. */
	fixture_dev("0000:00:05.0", 3, "e1000e");
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_device_open("0000:00:04.0", &dev), -UDK_ENOIOMMU);
	CU_ASSERT_LAST_ERROR_HAS("has no IOMMU group");
	fixture_teardown();
}

static void test_open_checks_in_order(void)
{
	struct udk_device *dev;

	CU_ASSERT_EQUAL_FATAL(fixture_setup(), 0);
	fixture_dev("0000:00:04.0", 4, "nvme");
	fixture_dev("0000:00:06.0", 6, NULL);
	fixture_dev("0000:01:01.0", 7, "vfio-pci");
	fixture_dev("0000:01:02.0", 7, "e1000");
	fixture_dev("0000:01:03.0", 7, NULL);
	fixture_dev("0000:00:08.0", 8, "vfio-pci");
	fixture_dev("0000:00:08.1", 8, "pcieport");

	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_device_open("0000:00:09.0", &dev), -ENODEV);
	CU_ASSERT_LAST_ERROR_HAS("no such PCI device");
	CU_ASSERT_EQUAL(udk_device_open("0000:00:04.0", &dev), -UDK_ENOTBOUND);
	CU_ASSERT_LAST_ERROR_HAS("bound to nvme, not to vfio-pci: run 'udk-devbind bind 0000:00:04.0'");
	CU_ASSERT_EQUAL(udk_device_open("0000:00:06.0", &dev), -UDK_ENOTBOUND);
	CU_ASSERT_LAST_ERROR_HAS("not bound to a driver");
	CU_ASSERT_EQUAL(udk_device_open("0000:01:01.0", &dev), -UDK_EGROUP_NOT_VIABLE);
	CU_ASSERT_LAST_ERROR_HAS("group 7 not viable: 0000:01:02.0 is bound to e1000");
	CU_ASSERT_EQUAL(udk_device_open(NULL, &dev), -UDK_EBADADDR);
	CU_ASSERT_EQUAL(udk_device_open("0000:00:04.0-and-much-more", &dev), -UDK_EBADADDR);

	/* Viable group (its other device is on pcieport): the next step is
	 * /dev/vfio, which this host does not have. */
	if (access("/dev/vfio/vfio", F_OK) != 0) {
		udk_last_error_clear();
		CU_ASSERT_EQUAL(udk_device_open("0000:00:08.0", &dev), -UDK_ENOVFIO);
		CU_ASSERT_LAST_ERROR_HAS("modprobe vfio-pci");
	}
	fixture_teardown();
}

int main(void)
{
	static const struct unit_test t[] = {
		{"a map takes mappings before any device", test_map_before_any_device},
		{"segments map with large alignment", test_segments_map_with_large_alignment},
		{"overlaps and inexact unmaps are errors", test_overlap_and_inexact_unmap_are_errors},
		{"map_at and IOVA collisions", test_map_at_and_iova_collisions},
		{"map_in a held window", test_map_in_a_held_window},
		{"IOVA space exhaustion", test_iova_space_exhaustion},
		{"refcount and options", test_refcount_and_options},
		{"backend names", test_backend_names},
		{"open: no IOMMU", test_open_no_iommu},
		{"open: checks in order, each with its error", test_open_checks_in_order},
	};
	udk_log_set_level(UDK_LOG_ERR);
	return unit_run("dma", t, UDK_ARRAY_SIZE(t));
}
