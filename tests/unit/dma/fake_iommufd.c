/* SPDX-License-Identifier: BSD-3-Clause */
/* fake_iommufd.c - the fake kernel and fixture sysfs of fake_iommufd.h. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "fake_iommufd.h"
#include "udk_util.h"

struct fake_kernel fk;

static int fake_open(const char *path, int flags)
{
	(void)flags;
	if (fk.nopened < 4)
		snprintf(fk.opened[fk.nopened++], sizeof(fk.opened[0]), "%s", path);
	if (strcmp(path, UDK_IOMMUFD_PATH) == 0) {
		if (!fk.iommu_present || fk.open_errno) {
			errno = fk.iommu_present ? fk.open_errno : ENOENT;
			return -1;
		}
		return fk.next_iommufd++;
	}
	if (strncmp(path, UDK_VFIO_CDEV_DIR "/", strlen(UDK_VFIO_CDEV_DIR) + 1) == 0)
		return fk.next_cdev++;
	errno = ENOENT;
	return -1;
}

static int fake_close(int fd)
{
	if (fk.nclosed < 16)
		fk.closed[fk.nclosed++] = fd;
	return 0;
}

static int fake_access(const char *path, int mode)
{
	(void)mode;
	if (strcmp(path, UDK_IOMMUFD_PATH) == 0 && !fk.iommu_present) {
		errno = ENOENT;
		return -1;
	}
	if (strncmp(path, UDK_VFIO_CDEV_DIR, strlen(UDK_VFIO_CDEV_DIR)) == 0 &&
	    fk.cdev_access_errno) {
		errno = fk.cdev_access_errno;
		return -1;
	}
	return 0;
}

static int fake_ioctl(int fd, unsigned long code, void *arg)
{
	struct req *r = &fk.log[fk.nlog < 64 ? fk.nlog++ : 63];
	size_t sz = 0;

	switch (code) {
	case IOMMU_IOAS_ALLOC: sz = sizeof(r->u.alloc); break;
	case IOMMU_IOAS_MAP: sz = sizeof(r->u.map); break;
	case IOMMU_IOAS_UNMAP: sz = sizeof(r->u.unmap); break;
	case IOMMU_IOAS_IOVA_RANGES: sz = sizeof(r->u.ranges); break;
	case IOMMU_DESTROY: sz = sizeof(r->u.destroy); break;
	case VFIO_DEVICE_BIND_IOMMUFD: sz = sizeof(r->u.bind); break;
	case VFIO_DEVICE_ATTACH_IOMMUFD_PT: sz = sizeof(r->u.attach); break;
	case VFIO_DEVICE_DETACH_IOMMUFD_PT: sz = sizeof(r->u.detach); break;
	default: errno = ENOTTY; return -1;
	}
	r->fd = fd;
	r->code = code;
	memcpy(&r->u, arg, sz);
	if (fk.fail_code == code) {
		fk.fail_code = 0;
		errno = fk.fail_errno;
		return -1;
	}
	switch (code) {
	case IOMMU_IOAS_ALLOC:
		((struct iommu_ioas_alloc *)arg)->out_ioas_id = IOAS_ID;
		break;
	case IOMMU_IOAS_UNMAP:
		((struct iommu_ioas_unmap *)arg)->length -= fk.unmap_short;
		break;
	case IOMMU_IOAS_IOVA_RANGES: {
		struct iommu_ioas_iova_ranges *q = arg;
		uint32_t room = q->num_iovas;
		q->num_iovas = fk.nranges;
		if (room < fk.nranges) {
			errno = EMSGSIZE;
			return -1;
		}
		memcpy((void *)(uintptr_t)q->allowed_iovas, fk.ranges,
		       fk.nranges * sizeof(fk.ranges[0]));
		break;
	}
	case VFIO_DEVICE_BIND_IOMMUFD:
		((struct vfio_device_bind_iommufd *)arg)->out_devid = 0x42;
		break;
	case VFIO_DEVICE_ATTACH_IOMMUFD_PT:
		((struct vfio_device_attach_iommufd_pt *)arg)->pt_id = HWPT_ID;
		break;
	}
	return 0;
}

static const struct udk_iommufd_sys fake_sys = {
	.open = fake_open, .close = fake_close, .ioctl = fake_ioctl, .access = fake_access,
};

const struct iommu_iova_range lab_ranges[2] = {
	{0, 0xfedfffff}, {0xfef00000, 0x7fffffffff}};

void fake_reset(bool present)
{
	memset(&fk, 0, sizeof(fk));
	fk.iommu_present = present;
	fk.next_iommufd = IOMMUFD_FD;
	fk.next_cdev = CDEV_FD;
	memcpy(fk.ranges, lab_ranges, sizeof(lab_ranges));
	fk.nranges = 2;
	udk_iommufd_set_sys(&fake_sys);
	udk_last_error_clear();
}

const struct req *last_req(unsigned long code)
{
	for (int i = fk.nlog - 1; i >= 0; i--)
		if (fk.log[i].code == code)
			return &fk.log[i];
	return NULL;
}

int count_req(unsigned long code)
{
	int n = 0;

	for (int i = 0; i < fk.nlog; i++)
		n += fk.log[i].code == code;
	return n;
}

bool was_closed(int fd)
{
	for (int i = 0; i < fk.nclosed; i++)
		if (fk.closed[i] == fd)
			return true;
	return false;
}

static char root[PATH_MAX];

void fixture_put(const char *rel, const char *text)
{
	char p[PATH_MAX * 2], *s;
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (s = p + strlen(root) + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	}
	if (text == NULL) {
		mkdir(p, 0755);
		return;
	}
	f = fopen(p, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

static void put_link(const char *target, const char *rel)
{
	char p[PATH_MAX * 2];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	CU_ASSERT_EQUAL(symlink(target, p), 0);
}

void fixture_dev(const char *bdf, int group, const char *cdev)
{
	char rel[256], tgt[256];

	snprintf(rel, sizeof(rel), "devices/pci0000:00/%s", bdf);
	fixture_put(rel, NULL);
	fixture_put("bus/pci/devices", NULL);
	fixture_put("bus/pci/drivers/vfio-pci", NULL);
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s", bdf);
	snprintf(tgt, sizeof(tgt), "../../../devices/pci0000:00/%s", bdf);
	put_link(tgt, rel);
	snprintf(rel, sizeof(rel), "kernel/iommu_groups/%d/devices", group);
	fixture_put(rel, NULL);
	snprintf(rel, sizeof(rel), "kernel/iommu_groups/%d/reserved_regions", group);
	fixture_put(rel, "0x00000000fee00000 0x00000000feefffff msi\n");
	snprintf(rel, sizeof(rel), "kernel/iommu_groups/%d/devices/%s", group, bdf);
	snprintf(tgt, sizeof(tgt), "../../../../devices/pci0000:00/%s", bdf);
	put_link(tgt, rel);
	snprintf(rel, sizeof(rel), "devices/pci0000:00/%s/iommu_group", bdf);
	snprintf(tgt, sizeof(tgt), "../../../kernel/iommu_groups/%d", group);
	put_link(tgt, rel);
	snprintf(rel, sizeof(rel), "devices/pci0000:00/%s/driver", bdf);
	put_link("../../../bus/pci/drivers/vfio-pci", rel);
	if (cdev != NULL) {
		snprintf(rel, sizeof(rel), "devices/pci0000:00/%s/vfio-dev/%s/dev", bdf, cdev);
		fixture_put(rel, "511:0\n");
	}
}

int fixture_setup(void)
{
	snprintf(root, sizeof(root), "/tmp/udk-iommufd-fixture-XXXXXX");
	if (mkdtemp(root) == NULL)
		return 1;
	setenv("UDK_SYSFS_ROOT", root, 1);
	return 0;
}

void fixture_teardown(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	unsetenv("UDK_SYSFS_ROOT");
}

