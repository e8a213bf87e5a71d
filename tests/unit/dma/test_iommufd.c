/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for the iommufd backend of lib/dma, with no /dev/iommu and no
 * VFIO: its system calls go to a fake that records every request and plays
 * the kernel's replies (LAB.md's: IOAS 1 attached through page table 3; IOVA
 * ranges 0-max before any device, 0-0xfedfffff and 0xfef00000-0x7fffffffff
 * after).  Devices come from a fixture sysfs tree (UDK_SYSFS_ROOT). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../common/unit.h"
#include "fake_iommufd.h"
#include "udk_dma.h"
#include "udk_eal.h"
#include "udk_util.h"

static void *pages(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static struct udk_dmamap *make_map(const struct udk_iova_range *ranges, size_t n)
{
	struct udk_dmamap_opts o;
	struct udk_dmamap *map = NULL;

	udk_dmamap_opts_init(&o, sizeof(o));
	o.backend = UDK_DMAMAP_IOMMUFD;
	o.iova_ranges = ranges;
	o.nb_iova_ranges = n;
	CU_ASSERT_EQUAL(udk_dmamap_create(&o, &map), 0);
	return map;
}


/* ---- requests ---- */

static void test_builders(void)
{
	struct udk_mapping m = {.vaddr = 0x7f0000200000, .len = 0x3000, .iova = 0x40000000};
	struct iommu_iova_range buf[3];
	struct iommu_ioas_alloc a = iommufd_req_ioas_alloc();
	struct iommu_ioas_map mp = iommufd_req_map(9, &m);
	struct iommu_ioas_unmap um = iommufd_req_unmap(9, &m);
	struct iommu_ioas_iova_ranges rg = iommufd_req_iova_ranges(9, buf, 3);
	struct iommu_destroy d = iommufd_req_destroy(9);
	struct vfio_device_bind_iommufd b = iommufd_req_bind(17);
	struct vfio_device_attach_iommufd_pt at = iommufd_req_attach(9);
	struct vfio_device_detach_iommufd_pt dt = iommufd_req_detach();

	CU_ASSERT_EQUAL(a.size, sizeof(a));
	CU_ASSERT_EQUAL(a.flags, 0);
	CU_ASSERT_EQUAL(mp.size, sizeof(mp));
	CU_ASSERT_EQUAL(mp.flags, IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
					  IOMMU_IOAS_MAP_WRITEABLE);
	CU_ASSERT_EQUAL(mp.ioas_id, 9);
	CU_ASSERT_EQUAL(mp.__reserved, 0);
	CU_ASSERT_EQUAL(mp.user_va, 0x7f0000200000);
	CU_ASSERT_EQUAL(mp.length, 0x3000);
	CU_ASSERT_EQUAL(mp.iova, 0x40000000);
	CU_ASSERT_EQUAL(um.size, sizeof(um));
	CU_ASSERT_EQUAL(um.ioas_id, 9);
	CU_ASSERT_EQUAL(um.iova, 0x40000000);
	CU_ASSERT_EQUAL(um.length, 0x3000);
	CU_ASSERT_EQUAL(rg.size, sizeof(rg));
	CU_ASSERT_EQUAL(rg.ioas_id, 9);
	CU_ASSERT_EQUAL(rg.num_iovas, 3);
	CU_ASSERT_EQUAL(rg.allowed_iovas, (uint64_t)(uintptr_t)buf);
	CU_ASSERT_EQUAL(d.size, sizeof(d));
	CU_ASSERT_EQUAL(d.id, 9);
	CU_ASSERT_EQUAL(b.argsz, sizeof(b));
	CU_ASSERT_EQUAL(b.flags, 0);
	CU_ASSERT_EQUAL(b.iommufd, 17);
	CU_ASSERT_EQUAL(at.argsz, sizeof(at));
	CU_ASSERT_EQUAL(at.flags, 0);
	CU_ASSERT_EQUAL(at.pt_id, 9);
	CU_ASSERT_EQUAL(dt.argsz, sizeof(dt));
	CU_ASSERT_EQUAL(dt.flags, 0);
}

/* create -> map -> unmap -> destroy, as the kernel sees it. */
static void test_map_lifecycle_requests(void)
{
	struct udk_dmamap_info info;
	struct udk_dmamap *map;
	const struct req *r;
	char *buf = pages(1 << 20);
	uint64_t iova;

	fake_reset(true);
	map = make_map(NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(map);
	CU_ASSERT_STRING_EQUAL(fk.opened[0], "/dev/iommu");
	r = last_req(IOMMU_IOAS_ALLOC);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->fd, IOMMUFD_FD);
	CU_ASSERT_EQUAL(r->u.alloc.size, sizeof(struct iommu_ioas_alloc));
	CU_ASSERT_EQUAL(udk_dmamap_info(map, &info), 0);
	CU_ASSERT_EQUAL(info.backend, UDK_DMAMAP_IOMMUFD);
	CU_ASSERT_STRING_EQUAL(udk_dmamap_backend_name(info.backend), "iommufd");
	CU_ASSERT_TRUE(info.live); /* an IOAS takes mappings before any device */

	/* A mapping before any device goes straight to the IOAS, at the IOVA
	 * lib/iova chose. */
	CU_ASSERT_EQUAL(udk_dmamap_map(map, buf, 0x3000, &iova), 0);
	r = last_req(IOMMU_IOAS_MAP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->fd, IOMMUFD_FD);
	CU_ASSERT_EQUAL(r->u.map.size, sizeof(struct iommu_ioas_map));
	CU_ASSERT_EQUAL(r->u.map.flags, IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
						IOMMU_IOAS_MAP_WRITEABLE);
	CU_ASSERT_EQUAL(r->u.map.ioas_id, IOAS_ID);
	CU_ASSERT_EQUAL(r->u.map.user_va, (uint64_t)(uintptr_t)buf);
	CU_ASSERT_EQUAL(r->u.map.length, 0x3000);
	CU_ASSERT_EQUAL(r->u.map.iova, iova);
	CU_ASSERT_EQUAL(udk_dmamap_map_at(map, buf + 0x10000, 0x1000, 0x40000000), 0);
	CU_ASSERT_EQUAL(last_req(IOMMU_IOAS_MAP)->u.map.iova, 0x40000000);
	CU_ASSERT_EQUAL(last_req(IOMMU_IOAS_MAP)->u.map.length, 0x1000);

	CU_ASSERT_EQUAL(udk_dmamap_unmap(map, buf, 0x3000), 0);
	r = last_req(IOMMU_IOAS_UNMAP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->fd, IOMMUFD_FD);
	CU_ASSERT_EQUAL(r->u.unmap.size, sizeof(struct iommu_ioas_unmap));
	CU_ASSERT_EQUAL(r->u.unmap.ioas_id, IOAS_ID);
	CU_ASSERT_EQUAL(r->u.unmap.iova, iova);
	CU_ASSERT_EQUAL(r->u.unmap.length, 0x3000);
	CU_ASSERT_EQUAL(count_req(IOMMU_IOAS_MAP), 2);

	/* The last reference destroys the IOAS (which unmaps the rest) and
	 * closes the context; nothing is unmapped one by one. */
	udk_dmamap_put(map);
	r = last_req(IOMMU_DESTROY);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->u.destroy.size, sizeof(struct iommu_destroy));
	CU_ASSERT_EQUAL(r->u.destroy.id, IOAS_ID);
	CU_ASSERT_EQUAL(count_req(IOMMU_IOAS_UNMAP), 1);
	CU_ASSERT_TRUE(was_closed(IOMMUFD_FD));
	udk_iommufd_set_sys(NULL);
	munmap(buf, 1 << 20);
}

static void test_short_unmap_is_eio(void)
{
	struct udk_dmamap *map;
	char *buf = pages(1 << 20);
	uint64_t t;

	fake_reset(true);
	map = make_map(NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(map);
	CU_ASSERT_EQUAL(udk_dmamap_map_at(map, buf, 0x3000, 0x40000000), 0);
	fk.unmap_short = 0x1000;
	CU_ASSERT_EQUAL(udk_dmamap_unmap(map, buf, 0x3000), -EIO);
	CU_ASSERT_LAST_ERROR_HAS("the kernel unmapped 0x2000 of 0x3000 bytes at IOVA 0x40000000");
	/* Our record keeps the mapping: the kernel's view and ours differ. */
	CU_ASSERT_EQUAL(udk_dmamap_virt2iova(map, buf, &t), 0);
	fk.unmap_short = 0;
	CU_ASSERT_EQUAL(udk_dmamap_unmap(map, buf, 0x3000), 0);
	CU_ASSERT_EQUAL(udk_dmamap_virt2iova(map, buf, &t), -UDK_ENOTMAPPED);
	udk_dmamap_put(map);
	udk_iommufd_set_sys(NULL);
	munmap(buf, 1 << 20);
}

static void test_map_errors(void)
{
	struct udk_dmamap *map;
	char *buf = pages(1 << 20);
	uint64_t t;

	fake_reset(true);
	map = make_map(NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(map);
	fk.fail_code = IOMMU_IOAS_MAP;
	fk.fail_errno = EEXIST;
	CU_ASSERT_EQUAL(udk_dmamap_map_at(map, buf, 0x2000, 0x40000000), -UDK_EOVERLAP);
	CU_ASSERT_LAST_ERROR_HAS("the kernel already has a mapping at IOVA 0x40000000+0x2000");
	/* Nothing is left behind: not in the record, the IOVA free again. */
	CU_ASSERT_EQUAL(udk_dmamap_virt2iova(map, buf, &t), -UDK_ENOTMAPPED);
	fk.fail_code = IOMMU_IOAS_MAP;
	fk.fail_errno = ENOMEM;
	CU_ASSERT_EQUAL(udk_dmamap_map_at(map, buf, 0x2000, 0x40000000), -UDK_EMEMLOCK);
	CU_ASSERT_LAST_ERROR_HAS("cannot pin 0x2000 bytes: RLIMIT_MEMLOCK is");
	fk.fail_code = IOMMU_IOAS_MAP;
	fk.fail_errno = EADDRINUSE;
	CU_ASSERT_EQUAL(udk_dmamap_map_at(map, buf, 0x2000, 0x40000000), -UDK_ENOIOVA);
	CU_ASSERT_LAST_ERROR_HAS("reserve");
	fk.fail_code = IOMMU_IOAS_MAP;
	fk.fail_errno = EFAULT;
	CU_ASSERT_EQUAL(udk_dmamap_map_at(map, buf, 0x2000, 0x40000000), -EFAULT);
	CU_ASSERT_LAST_ERROR_HAS("IOMMU_IOAS_MAP of");
	CU_ASSERT_EQUAL(udk_dmamap_map_at(map, buf, 0x2000, 0x40000000), 0);
	fk.fail_code = IOMMU_IOAS_UNMAP;
	fk.fail_errno = ENOENT;
	CU_ASSERT_EQUAL(udk_dmamap_unmap(map, buf, 0x2000), -ENOENT);
	CU_ASSERT_LAST_ERROR_HAS("IOMMU_IOAS_UNMAP at 0x40000000");
	udk_dmamap_put(map);
	udk_iommufd_set_sys(NULL);
	munmap(buf, 1 << 20);
}

/* ---- choosing the backend ---- */

static void test_backend_choice(void)
{
	struct udk_dmamap_opts o;
	struct udk_dmamap_info info;
	struct udk_dmamap *map;
	enum udk_dmamap_backend b;
	char why[200];

	/* This host: no /dev/iommu, so AUTO is type1 and iommufd is refused. */
	if (access("/dev/iommu", F_OK) != 0) {
		udk_iommufd_set_sys(NULL);
		CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(NULL, &map), 0);
		CU_ASSERT_EQUAL(udk_dmamap_info(map, &info), 0);
		CU_ASSERT_EQUAL(info.backend, UDK_DMAMAP_VFIO_TYPE1);
		CU_ASSERT_FALSE(info.live);
		udk_dmamap_put(map);
		CU_ASSERT_EQUAL(udk_dmamap_auto_backend(NULL, &b, why, sizeof(why)), 0);
		CU_ASSERT_EQUAL(b, UDK_DMAMAP_VFIO_TYPE1);
		CU_ASSERT_PTR_NOT_NULL(strstr(why, "CONFIG_IOMMUFD"));
	}

	/* The same through the fake: absent, AUTO makes no iommufd request. */
	fake_reset(false);
	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(NULL, &map), 0);
	CU_ASSERT_EQUAL(udk_dmamap_info(map, &info), 0);
	CU_ASSERT_EQUAL(info.backend, UDK_DMAMAP_VFIO_TYPE1);
	CU_ASSERT_EQUAL(fk.nlog, 0);
	CU_ASSERT_EQUAL(fk.nopened, 0);
	udk_dmamap_put(map);
	udk_dmamap_opts_init(&o, sizeof(o));
	o.backend = UDK_DMAMAP_IOMMUFD;
	CU_ASSERT_EQUAL(udk_dmamap_create(&o, &map), -UDK_ENOIOMMUFD);
	CU_ASSERT_LAST_ERROR_HAS("iommufd asked for, but /dev/iommu is missing: this kernel lacks "
				 "CONFIG_IOMMUFD");
	CU_ASSERT_LAST_ERROR_HAS("--iommu-backend type1");
	o.backend = UDK_DMAMAP_VFIO_TYPE1;
	CU_ASSERT_EQUAL(udk_dmamap_create(&o, &map), 0);
	udk_dmamap_put(map);
	o.backend = (enum udk_dmamap_backend)7;
	CU_ASSERT_EQUAL(udk_dmamap_create(&o, &map), -EINVAL);

	/* Present: AUTO takes iommufd. */
	fake_reset(true);
	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(NULL, &map), 0);
	CU_ASSERT_EQUAL(udk_dmamap_info(map, &info), 0);
	CU_ASSERT_EQUAL(info.backend, UDK_DMAMAP_IOMMUFD);
	CU_ASSERT_EQUAL(count_req(IOMMU_IOAS_ALLOC), 1);
	udk_dmamap_put(map);
	CU_ASSERT_EQUAL(udk_dmamap_auto_backend(NULL, &b, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(b, UDK_DMAMAP_IOMMUFD);

	/* Present but not openable, or the IOAS refused: each says so. */
	fake_reset(true);
	fk.open_errno = EACCES;
	o.backend = UDK_DMAMAP_IOMMUFD;
	CU_ASSERT_EQUAL(udk_dmamap_create(&o, &map), -EACCES);
	CU_ASSERT_LAST_ERROR_HAS("no permission to open /dev/iommu");
	fake_reset(true);
	fk.fail_code = IOMMU_IOAS_ALLOC;
	fk.fail_errno = ENOMEM;
	CU_ASSERT_EQUAL(udk_dmamap_create(&o, &map), -ENOMEM);
	CU_ASSERT_LAST_ERROR_HAS("IOMMU_IOAS_ALLOC");
	CU_ASSERT_TRUE(was_closed(IOMMUFD_FD));
	udk_iommufd_set_sys(NULL);
}

/* ---- IOVA ranges ---- */

static void test_iova_ranges_restrict(void)
{
	static const struct udk_iova_range wide = {0x1000, (1ULL << 48) - 1};
	const struct iommu_iova_range all = {0, UINT64_MAX};
	struct udk_iova_range r[4];
	struct udk_dmamap *map;
	char *buf = pages(1 << 20);
	size_t n;

	fake_reset(true);
	map = make_map(&wide, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(map);
	/* Before any device the IOAS allows everything: nothing narrows. */
	CU_ASSERT_EQUAL(udk_iommufd_apply_ranges(map, &all, 1, "0000:00:04.0"), 0);
	CU_ASSERT_EQUAL(udk_dmamap_iova_ranges(map, r, 4, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_EQUAL(r[0].start, 0x1000);
	CU_ASSERT_EQUAL(r[0].last, (1ULL << 48) - 1);

	/* A mapping at 1 TiB fits 48 bits but not the lab's 39: refused, naming
	 * the mapping, and the space is left as it was. */
	CU_ASSERT_EQUAL(udk_dmamap_map_at(map, buf, 0x2000, 1ULL << 40), 0);
	CU_ASSERT_EQUAL(udk_iommufd_apply_ranges(map, lab_ranges, 2, "0000:00:04.0"),
			-UDK_EINCOMPATIBLE);
	CU_ASSERT_LAST_ERROR_HAS("attach 0000:00:04.0 to");
	CU_ASSERT_LAST_ERROR_HAS("cannot reach the mapping");
	CU_ASSERT_LAST_ERROR_HAS("at IOVA 0x10000000000-0x10000001fff");
	CU_ASSERT_EQUAL(udk_dmamap_iova_ranges(map, r, 4, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(udk_dmamap_unmap(map, buf, 0x2000), 0);

	/* The lab's aperture: 39 bits with a hole at the MSI window. */
	CU_ASSERT_EQUAL(udk_iommufd_apply_ranges(map, lab_ranges, 2, "0000:00:04.0"), 0);
	CU_ASSERT_EQUAL(udk_dmamap_iova_ranges(map, r, 4, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(r[0].start, 0x1000);
	CU_ASSERT_EQUAL(r[0].last, 0xfedfffff);
	CU_ASSERT_EQUAL(r[1].start, 0xfef00000);
	CU_ASSERT_EQUAL(r[1].last, 0x7fffffffff);
	CU_ASSERT_EQUAL(udk_dmamap_map_at(map, buf, 0x1000, 0xfee00000), -UDK_ENOIOVA);
	CU_ASSERT_EQUAL(udk_dmamap_map_at(map, buf, 0x1000, 1ULL << 39), -UDK_ENOIOVA);
	CU_ASSERT_EQUAL(udk_iommufd_apply_ranges(map, lab_ranges, 0, "0000:00:04.0"),
			-UDK_EINCOMPATIBLE);
	udk_dmamap_put(map);
	udk_iommufd_set_sys(NULL);
	munmap(buf, 1 << 20);
}

/* ---- devices, on a fixture sysfs ---- */

static void test_attach_detach_requests(void)
{
	static const struct udk_iova_range wide = {0x1000, (1ULL << 48) - 1};
	struct udk_dmamap *map, *map2;
	struct udk_dmamap_info info;
	struct udk_device *dev;
	struct udk_iova_range r[4];
	const struct req *q;
	char *buf = pages(1 << 20);
	size_t n;
	int fd, nlog;

	CU_ASSERT_EQUAL_FATAL(fixture_setup(), 0);
	fixture_dev("0000:00:04.0", 4, "vfio0");
	fake_reset(true);
	/* The group file stays closed (this host has no /dev/vfio: opening it
	 * would fail); only the cdev is checked. */
	CU_ASSERT_EQUAL_FATAL(udk_device_open("0000:00:04.0", &dev), 0);
	CU_ASSERT_EQUAL(fk.nopened, 0);
	CU_ASSERT_EQUAL(fk.nlog, 0);

	map = make_map(&wide, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(map);
	CU_ASSERT_EQUAL(udk_dmamap_map_at(map, buf, 0x2000, 0x40000000), 0);
	nlog = fk.nlog;
	CU_ASSERT_EQUAL_FATAL(udk_device_attach(dev, map), 0);
	CU_ASSERT_STRING_EQUAL(fk.opened[1], "/dev/vfio/devices/vfio0");
	CU_ASSERT_EQUAL_FATAL(fk.nlog, nlog + 3);
	q = &fk.log[nlog];
	CU_ASSERT_EQUAL(q->code, VFIO_DEVICE_BIND_IOMMUFD);
	CU_ASSERT_EQUAL(q->fd, CDEV_FD);
	CU_ASSERT_EQUAL(q->u.bind.argsz, sizeof(struct vfio_device_bind_iommufd));
	CU_ASSERT_EQUAL(q->u.bind.flags, 0);
	CU_ASSERT_EQUAL(q->u.bind.iommufd, IOMMUFD_FD);
	q++;
	CU_ASSERT_EQUAL(q->code, VFIO_DEVICE_ATTACH_IOMMUFD_PT);
	CU_ASSERT_EQUAL(q->fd, CDEV_FD);
	CU_ASSERT_EQUAL(q->u.attach.argsz, sizeof(struct vfio_device_attach_iommufd_pt));
	CU_ASSERT_EQUAL(q->u.attach.flags, 0);
	CU_ASSERT_EQUAL(q->u.attach.pt_id, IOAS_ID);
	q++;
	CU_ASSERT_EQUAL(q->code, IOMMU_IOAS_IOVA_RANGES);
	CU_ASSERT_EQUAL(q->fd, IOMMUFD_FD);
	CU_ASSERT_EQUAL(q->u.ranges.size, sizeof(struct iommu_ioas_iova_ranges));
	CU_ASSERT_EQUAL(q->u.ranges.ioas_id, IOAS_ID);
	CU_ASSERT(q->u.ranges.num_iovas >= 1);
	CU_ASSERT(q->u.ranges.allowed_iovas != 0);
	/* The map's space is now the lab's aperture. */
	CU_ASSERT_EQUAL(udk_dmamap_iova_ranges(map, r, 4, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(r[1].last, 0x7fffffffff);
	CU_ASSERT_EQUAL(udk_device_fd(dev, &fd), 0);
	CU_ASSERT_EQUAL(fd, CDEV_FD);
	CU_ASSERT_PTR_EQUAL(udk_device_map(dev), map);
	CU_ASSERT_EQUAL(udk_dmamap_info(map, &info), 0);
	CU_ASSERT_EQUAL(info.nb_devices, 1);
	CU_ASSERT_EQUAL(count_req(IOMMU_IOAS_MAP), 1); /* nothing replayed */
	/* The ids udk-broker logs: all from the map's own context. */
	uint32_t devid = 0, hwpt = 0;
	CU_ASSERT_EQUAL(info.ioas_id, IOAS_ID);
	CU_ASSERT_EQUAL(udk_device_iommufd_ids(dev, &devid, &hwpt), 0);
	CU_ASSERT_EQUAL(devid, 0x42);
	CU_ASSERT_EQUAL(hwpt, HWPT_ID);

	/* Detach keeps the cdev open and bound; re-attaching is one ioctl. */
	CU_ASSERT_EQUAL(udk_device_detach(dev), 0);
	q = last_req(VFIO_DEVICE_DETACH_IOMMUFD_PT);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_EQUAL(q->fd, CDEV_FD);
	CU_ASSERT_EQUAL(q->u.detach.argsz, sizeof(struct vfio_device_detach_iommufd_pt));
	CU_ASSERT_EQUAL(q->u.detach.flags, 0);
	CU_ASSERT_FALSE(was_closed(CDEV_FD));
	CU_ASSERT_EQUAL(udk_device_iommufd_ids(dev, &devid, &hwpt), -ENOTSUP);
	CU_ASSERT_EQUAL(udk_device_detach(dev), -UDK_EDETACHED);
	CU_ASSERT_EQUAL(udk_device_attach(dev, map), 0);
	CU_ASSERT_EQUAL(count_req(VFIO_DEVICE_BIND_IOMMUFD), 1);
	CU_ASSERT_EQUAL(count_req(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 2);
	CU_ASSERT_EQUAL(udk_device_attach(dev, map), -UDK_EATTACHED);

	/* Another map is another iommufd context: the cdev is opened afresh
	 * and bound to it. */
	CU_ASSERT_EQUAL(udk_device_detach(dev), 0);
	map2 = make_map(NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(map2);
	CU_ASSERT_EQUAL(udk_device_attach(dev, map2), 0);
	CU_ASSERT_TRUE(was_closed(CDEV_FD));
	q = last_req(VFIO_DEVICE_BIND_IOMMUFD);
	CU_ASSERT_EQUAL(q->fd, CDEV_FD + 1);
	CU_ASSERT_EQUAL(q->u.bind.iommufd, IOMMUFD_FD + 1);
	udk_device_close(dev); /* detaches, then closes the cdev */
	CU_ASSERT_TRUE(was_closed(CDEV_FD + 1));
	udk_dmamap_put(map2);
	udk_dmamap_put(map);
	udk_iommufd_set_sys(NULL);
	fixture_teardown();
	munmap(buf, 1 << 20);
}

static void test_attach_errors(void)
{
	static const struct udk_iova_range wide = {0x1000, (1ULL << 48) - 1};
	struct udk_dmamap *map;
	struct udk_device *dev;
	enum udk_dmamap_backend b;
	char *buf = pages(1 << 20);
	char why[200];
	const struct req *q;
	int n;

	CU_ASSERT_EQUAL_FATAL(fixture_setup(), 0);
	fixture_dev("0000:00:04.0", 4, "vfio0");
	fixture_dev("0000:00:05.0", 5, NULL);
	fake_reset(true);

	/* The cdev is missing from /dev, or not ours to open. */
	fk.cdev_access_errno = ENOENT;
	CU_ASSERT_EQUAL(udk_device_open("0000:00:04.0", &dev), -UDK_ENOCDEV);
	CU_ASSERT_LAST_ERROR_HAS("/dev/vfio/devices/vfio0 is missing");
	fk.cdev_access_errno = EACCES;
	CU_ASSERT_EQUAL(udk_device_open("0000:00:04.0", &dev), -EACCES);
	CU_ASSERT_LAST_ERROR_HAS("no permission to open /dev/vfio/devices/vfio0");
	fk.cdev_access_errno = 0;

	/* doctor's line: which backend, and a device the kernel gave no cdev. */
	CU_ASSERT_EQUAL(udk_dmamap_auto_backend("0000:00:04.0", &b, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(b, UDK_DMAMAP_IOMMUFD);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "/dev/vfio/devices/vfio0"));
	CU_ASSERT_EQUAL(udk_dmamap_auto_backend("0000:00:05.0", &b, why, sizeof(why)),
			-UDK_ENOCDEV);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "has no VFIO cdev"));

	CU_ASSERT_EQUAL_FATAL(udk_device_open("0000:00:04.0", &dev), 0);
	map = make_map(&wide, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(map);

	/* In use elsewhere: open through its cdev by another process or
	 * context (6.12 answers EINVAL), or its group file open (EBUSY). */
	fk.fail_code = VFIO_DEVICE_BIND_IOMMUFD;
	fk.fail_errno = EINVAL;
	CU_ASSERT_EQUAL(udk_device_attach(dev, map), -UDK_EDEVBUSY);
	CU_ASSERT_LAST_ERROR_HAS("the device is in use elsewhere: already open through its cdev");
	CU_ASSERT_TRUE(was_closed(CDEV_FD));
	CU_ASSERT_PTR_NULL(udk_device_map(dev));
	fk.fail_code = VFIO_DEVICE_BIND_IOMMUFD;
	fk.fail_errno = EBUSY;
	CU_ASSERT_EQUAL(udk_device_attach(dev, map), -UDK_EDEVBUSY);
	CU_ASSERT_LAST_ERROR_HAS("its VFIO group /dev/vfio/4 is open (a VFIO type1 user)");
	CU_ASSERT_TRUE(was_closed(CDEV_FD + 1));
	CU_ASSERT_PTR_NULL(udk_device_map(dev));

	/* A mapping beyond the device's aperture: the IOVA-range reply after
	 * the attach says so; the device is detached again, nothing moved. */
	CU_ASSERT_EQUAL(udk_dmamap_map_at(map, buf, 0x2000, 1ULL << 40), 0);
	n = count_req(VFIO_DEVICE_DETACH_IOMMUFD_PT);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_device_attach(dev, map), -UDK_EINCOMPATIBLE);
	CU_ASSERT_LAST_ERROR_HAS("device incompatible with the map");
	CU_ASSERT_LAST_ERROR_HAS("at IOVA 0x10000000000-0x10000001fff");
	CU_ASSERT_EQUAL(count_req(VFIO_DEVICE_DETACH_IOMMUFD_PT), n + 1);
	CU_ASSERT_PTR_NULL(udk_device_map(dev));
	q = last_req(IOMMU_IOAS_MAP);
	CU_ASSERT_EQUAL(q->u.map.iova, 1ULL << 40); /* still where it was */
	CU_ASSERT_EQUAL(udk_dmamap_unmap(map, buf, 0x2000), 0);

	/* The kernel refuses the attach itself (EADDRINUSE): the mapping in
	 * the group's reserved region is named. */
	CU_ASSERT_EQUAL(udk_dmamap_map_at(map, buf, 0x1000, 0xfee00000), 0);
	fk.fail_code = VFIO_DEVICE_ATTACH_IOMMUFD_PT;
	fk.fail_errno = EADDRINUSE;
	CU_ASSERT_EQUAL(udk_device_attach(dev, map), -UDK_EINCOMPATIBLE);
	CU_ASSERT_LAST_ERROR_HAS("at IOVA 0xfee00000 lies in the device's reserved IOVA region "
				 "0xfee00000-0xfeefffff");
	CU_ASSERT_EQUAL(udk_dmamap_unmap(map, buf, 0x1000), 0);
	/* ... and beyond the aperture (as the lab's 6.12 kernel answers for a
	 * mapping at 1 TiB): the mapping outside 39 bits is named. */
	CU_ASSERT_EQUAL(udk_dmamap_map_at(map, buf, 0x1000, 1ULL << 40), 0);
	fk.fail_code = VFIO_DEVICE_ATTACH_IOMMUFD_PT;
	fk.fail_errno = EADDRINUSE;
	CU_ASSERT_EQUAL(udk_device_attach(dev, map), -UDK_EINCOMPATIBLE);
	CU_ASSERT_LAST_ERROR_HAS("most likely for the mapping");
	CU_ASSERT_LAST_ERROR_HAS("at IOVA 0x10000000000-0x10000000fff, outside its IOMMU's aperture");
	CU_ASSERT_PTR_NULL(udk_device_map(dev));
	CU_ASSERT_EQUAL(udk_dmamap_unmap(map, buf, 0x1000), 0);

	/* More ranges than the first buffer holds: asked again, bigger. */
	fk.ranges[0] = (struct iommu_iova_range){0, 0xfffff};
	fk.ranges[1] = (struct iommu_iova_range){0x200000, 0xfedfffff};
	fk.ranges[2] = (struct iommu_iova_range){0xfef00000, 0x7fffffffff};
	fk.nranges = 3;
	CU_ASSERT_EQUAL(udk_device_attach(dev, map), 0);
	q = last_req(IOMMU_IOAS_IOVA_RANGES);
	CU_ASSERT(q->u.ranges.num_iovas >= 3);
	udk_device_close(dev);
	udk_dmamap_put(map);
	udk_iommufd_set_sys(NULL);
	fixture_teardown();
	munmap(buf, 1 << 20);
}

/* A kernel with /dev/iommu whose VFIO devices have no cdev (6.1-6.5, or no
 * CONFIG_VFIO_DEVICE_CDEV): AUTO stays on type1, iommufd by name still made. */
static void test_auto_without_cdevs(void)
{
	struct udk_dmamap_info info;
	struct udk_dmamap_opts o;
	struct udk_dmamap *map;
	enum udk_dmamap_backend b;
	char why[200];

	CU_ASSERT_EQUAL_FATAL(fixture_setup(), 0);
	fixture_put("class/vfio-dev/vfio0", NULL);
	fake_reset(true);
	CU_ASSERT_EQUAL(udk_dmamap_auto_backend(NULL, &b, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(b, UDK_DMAMAP_VFIO_TYPE1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "CONFIG_VFIO_DEVICE_CDEV"));
	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(NULL, &map), 0);
	CU_ASSERT_EQUAL(udk_dmamap_info(map, &info), 0);
	CU_ASSERT_EQUAL(info.backend, UDK_DMAMAP_VFIO_TYPE1);
	udk_dmamap_put(map);
	udk_dmamap_opts_init(&o, sizeof(o));
	o.backend = UDK_DMAMAP_IOMMUFD;
	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(&o, &map), 0);
	udk_dmamap_put(map);
	/* Once the device has its node, AUTO takes iommufd. */
	fixture_put("class/vfio-dev/vfio0/dev", "511:0\n");
	CU_ASSERT_EQUAL(udk_dmamap_auto_backend(NULL, &b, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(b, UDK_DMAMAP_IOMMUFD);
	udk_iommufd_set_sys(NULL);
	fixture_teardown();
}

/* The EAL's --iommu-backend reaches the default map. */
static void test_eal_backend_option(void)
{
	char a0[] = "test", a1[] = "--no-huge", a2[] = "--iommu-backend", a3[] = "iommufd";
	char *argv[] = {a0, a1, a2, a3, NULL};
	struct udk_dmamap_info info;

	fake_reset(true);
	CU_ASSERT_EQUAL_FATAL(udk_eal_init(4, argv), 4);
	CU_ASSERT_EQUAL(udk_dmamap_info(udk_eal_dmamap(), &info), 0);
	CU_ASSERT_EQUAL(info.backend, UDK_DMAMAP_IOMMUFD);
	CU_ASSERT_EQUAL(count_req(IOMMU_IOAS_ALLOC), 1);
	CU_ASSERT_EQUAL(count_req(IOMMU_IOAS_MAP), (int)info.nb_mappings);
	udk_eal_cleanup();
	CU_ASSERT_EQUAL(count_req(IOMMU_DESTROY), 1);

	fake_reset(false);
	CU_ASSERT(udk_eal_init(4, argv) < 0);
	CU_ASSERT_LAST_ERROR_HAS("CONFIG_IOMMUFD");
	CU_ASSERT_PTR_NULL(udk_eal_dmamap());
	udk_iommufd_set_sys(NULL);
}

int main(void)
{
	static const struct unit_test t[] = {
		{"request builders", test_builders},
		{"create, map, unmap, destroy: the requests", test_map_lifecycle_requests},
		{"a short unmap is -EIO", test_short_unmap_is_eio},
		{"map errors: EEXIST, ENOMEM, EADDRINUSE", test_map_errors},
		{"backend choice: AUTO, forced, refused", test_backend_choice},
		{"IOVA-range replies restrict the space", test_iova_ranges_restrict},
		{"attach and detach: the requests", test_attach_detach_requests},
		{"attach errors", test_attach_errors},
		{"AUTO on a kernel without device cdevs", test_auto_without_cdevs},
		{"EAL --iommu-backend reaches the map", test_eal_backend_option},
	};
	udk_log_set_level(UDK_LOG_ERR);
	return unit_run("iommufd", t, UDK_ARRAY_SIZE(t));
}
