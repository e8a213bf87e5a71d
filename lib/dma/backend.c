/* SPDX-License-Identifier: BSD-3-Clause */
/* backend.c - which backend a map gets.  AUTO takes iommufd when it is
 * compiled in and the kernel offers it (/dev/iommu, device cdevs), VFIO type1
 * otherwise; asking for iommufd by name fails with the reason when it cannot
 * be had.  Also the device-level facts the choice depends on (the cdev). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dma_internal.h"
#include "udk_util.h"

#ifdef UDK_HAVE_IOMMUFD
#include "iommufd_internal.h"
#endif

enum iommufd_state {
	IOMMUFD_USABLE,
	IOMMUFD_NOT_BUILT,
	IOMMUFD_NO_DEV,   /* no /dev/iommu */
	IOMMUFD_NO_CDEVS, /* /dev/iommu, but VFIO devices without a cdev */
};

/* "name" has a 'dev' node (a char device): the kernel made a cdev for it. */
static bool has_dev_node(const char *dir, const char *name)
{
	char path[PATH_MAX + 300];

	snprintf(path, sizeof(path), "%s/%s/dev", dir, name);
	return access(path, F_OK) == 0;
}

void udk_dma_find_cdev(const char *bdf, char *name, size_t len)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	name[0] = '\0';
	snprintf(dir, sizeof(dir), "%s/bus/pci/devices/%s/vfio-dev", udk_sysfs_root(), bdf);
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "vfio", 4) == 0 && has_dev_node(dir, de->d_name)) {
			snprintf(name, len, "%s", de->d_name);
			break;
		}
	}
	closedir(d);
}

/* Kernels 6.1-6.5 (and later ones without CONFIG_VFIO_DEVICE_CDEV) list VFIO
 * devices under /sys/class/vfio-dev with no 'dev' node: then no device can
 * go the iommufd way.  With no VFIO device bound yet, nothing says so. */
static bool kernel_lacks_cdevs(void)
{
	char dir[PATH_MAX];
	struct dirent *de;
	bool lacks = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/class/vfio-dev", udk_sysfs_root());
	d = opendir(dir);
	if (d == NULL)
		return false;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "vfio", 4) == 0 && !has_dev_node(dir, de->d_name))
			lacks = true;
	closedir(d);
	return lacks;
}

static enum iommufd_state iommufd_state(char *why, size_t len)
{
#ifdef UDK_HAVE_IOMMUFD
	if (udk_iommufd_sys()->access(UDK_IOMMUFD_PATH, F_OK) != 0) {
		snprintf(why, len, "no /dev/iommu: the kernel lacks CONFIG_IOMMUFD");
		return IOMMUFD_NO_DEV;
	}
	if (kernel_lacks_cdevs()) {
		snprintf(why, len, "/dev/iommu is there but VFIO devices have no cdev: the kernel "
			 "lacks CONFIG_VFIO_DEVICE_CDEV");
		return IOMMUFD_NO_CDEVS;
	}
	snprintf(why, len, "/dev/iommu and VFIO device cdevs are there");
	return IOMMUFD_USABLE;
#else
	(void)kernel_lacks_cdevs;
	snprintf(why, len, "this udk was built without the iommufd backend (no <linux/iommufd.h> "
		 "at build time)");
	return IOMMUFD_NOT_BUILT;
#endif
}

bool udk_dma_iommufd_usable(char *why, size_t len)
{
	char buf[160];

	if (why == NULL) {
		why = buf;
		len = sizeof(buf);
	}
	return iommufd_state(why, len) == IOMMUFD_USABLE;
}

int udk_dma_backend_pick(enum udk_dmamap_backend requested, const char *mapname,
			 enum udk_dmamap_backend *out, const struct udk_dmamap_ops **ops)
{
	char why[160];
	enum iommufd_state st;

	switch (requested) {
	case UDK_DMAMAP_VFIO_TYPE1:
		break;
	case UDK_DMAMAP_BROKERED:
		*out = UDK_DMAMAP_BROKERED;
		*ops = &udk_dmamap_broker_ops;
		return 0;
	case UDK_DMAMAP_AUTO:
		st = iommufd_state(why, sizeof(why));
		udk_log(UDK_LOG_DEBUG, UDK_DMA_LOG, "map create %s: backend %s (%s)", mapname,
			st == IOMMUFD_USABLE ? "iommufd" : "vfio-type1", why);
		if (st == IOMMUFD_USABLE)
			goto iommufd;
		break;
	case UDK_DMAMAP_IOMMUFD:
		st = iommufd_state(why, sizeof(why));
		if (st == IOMMUFD_NOT_BUILT) {
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"map create %s: the iommufd backend is not built in this udk (no "
				"<linux/iommufd.h> at build time: install linux-source-6.12 and "
				"reconfigure); use --iommu-backend type1 (or auto)", mapname);
			return -ENOTSUP;
		}
		if (st == IOMMUFD_NO_DEV) {
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"map create %s: iommufd asked for, but /dev/iommu is missing: this "
				"kernel lacks CONFIG_IOMMUFD (devices also need "
				"CONFIG_VFIO_DEVICE_CDEV); use --iommu-backend type1 (or auto)",
				mapname);
			return -UDK_ENOIOMMUFD;
		}
		/* Without cdevs the map still works; each attach says why it fails. */
		goto iommufd;
	default:
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "map create %s: no such backend %d", mapname,
			(int)requested);
		return -EINVAL;
	}
	*out = UDK_DMAMAP_VFIO_TYPE1;
	*ops = &udk_dmamap_type1_ops;
	return 0;

iommufd:
#ifdef UDK_HAVE_IOMMUFD
	*out = UDK_DMAMAP_IOMMUFD;
	*ops = &udk_dmamap_iommufd_ops;
	return 0;
#else
	return -ENOTSUP; /* iommufd_state() never says usable then */
#endif
}

int udk_dmamap_auto_backend(const char *bdf, enum udk_dmamap_backend *out, char *why,
			    size_t len)
{
	char cdev[16];
	enum iommufd_state st = iommufd_state(why, len);

	*out = st == IOMMUFD_USABLE ? UDK_DMAMAP_IOMMUFD : UDK_DMAMAP_VFIO_TYPE1;
	if (st != IOMMUFD_USABLE || bdf == NULL)
		return 0;
	udk_dma_find_cdev(bdf, cdev, sizeof(cdev));
	if (cdev[0] == '\0') {
		snprintf(why, len, "/dev/iommu is there but %s has no VFIO cdev (bound to "
			 "vfio-pci? kernel with CONFIG_VFIO_DEVICE_CDEV?); use --iommu-backend "
			 "type1", bdf);
		return -UDK_ENOCDEV;
	}
	snprintf(why, len, "/dev/iommu and its cdev %s/%s", "/dev/vfio/devices", cdev);
	return 0;
}

#ifndef UDK_HAVE_IOMMUFD
/* Never reached without the backend (the iommufd path is never chosen). */
int udk_dma_cdev_check(const struct udk_device *dev)
{
	(void)dev;
	return -ENOTSUP;
}

void udk_dma_close_fd(int fd)
{
	close(fd);
}
#endif
