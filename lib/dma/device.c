/* SPDX-License-Identifier: BSD-3-Clause */
/* device.c - VFIO devices and their IOMMU groups: opening a device checks
 * every precondition in order and names the one that fails; attach and
 * detach move the device in and out of a map, through the map's backend,
 * which hands back a device fd bound and attached.  The process's group
 * table lives here: the kernel lets a process open a group only once, and
 * devices of one group always share one map. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "dma_internal.h"
#include "udk_util.h"

static pthread_mutex_t groups_lock = PTHREAD_MUTEX_INITIALIZER;
static struct udk_group *groups;

/* Drivers that leave a group viable: the kernel accepts these next to
 * vfio-pci (LAB.md, "IOMMU groups seen"). */
static bool driver_keeps_viable(const char *drv)
{
	return strcmp(drv, "vfio-pci") == 0 || strcmp(drv, "pci-stub") == 0 ||
	       strcmp(drv, "pcieport") == 0;
}

static int check_iommu_present(const char *bdf)
{
	char path[PATH_MAX];
	struct dirent *de;
	bool any = false;
	DIR *d;

	snprintf(path, sizeof(path), "%s/kernel/iommu_groups", udk_sysfs_root());
	d = opendir(path);
	if (d != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				any = true;
		closedir(d);
	}
	if (!any)
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"open %s: no IOMMU groups in %s: the IOMMU is off; enable VT-d/AMD-Vi "
			"in the firmware and add intel_iommu=on (or amd_iommu=on) to the kernel "
			"command line",
			bdf, path);
	else
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"open %s: the device has no IOMMU group (the IOMMU does not cover it)",
			bdf);
	return -UDK_ENOIOMMU;
}

/* Read the group number and check the device is bound to vfio-pci and its
 * group is viable, from sysfs, before touching /dev/vfio. */
static int check_device(const char *bdf, int *group)
{
	char path[PATH_MAX], name[64], drv[64];
	struct dirent *de;
	const char *sys = udk_sysfs_root();
	DIR *d;
	int rc;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", sys, bdf);
	if (access(path, F_OK) != 0) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"open %s: no such PCI device (see 'udk-devbind status')", bdf);
		return -ENODEV;
	}
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/iommu_group", sys, bdf);
	if (udk_sysfs_link_name(path, name, sizeof(name)) < 0)
		return check_iommu_present(bdf);
	*group = atoi(name);

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver", sys, bdf);
	rc = udk_sysfs_link_name(path, drv, sizeof(drv));
	if (rc < 0 || strcmp(drv, "vfio-pci") != 0) {
		if (rc < 0)
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"open %s: the device is not bound to a driver (udk needs vfio-pci): "
				"run 'udk-devbind bind %s'", bdf, bdf);
		else
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"open %s: the device is bound to %s, not to vfio-pci: run "
				"'udk-devbind bind %s'", bdf, drv, bdf);
		return -UDK_ENOTBOUND;
	}

	snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%d/devices", sys, *group);
	d = opendir(path);
	if (d == NULL)
		return 0; /* the kernel's VIABLE flag is checked after open */
	rc = 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		char dpath[PATH_MAX + 288];

		if (de->d_name[0] == '.' || strcmp(de->d_name, bdf) == 0)
			continue;
		snprintf(dpath, sizeof(dpath), "%s/%s/driver", path, de->d_name);
		if (udk_sysfs_link_name(dpath, drv, sizeof(drv)) == 0 && !driver_keeps_viable(drv)) {
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"open %s: IOMMU group %d not viable: %s is bound to %s; bind it to "
				"vfio-pci too ('udk-devbind bind %s') or unbind it",
				bdf, *group, de->d_name, drv, de->d_name);
			rc = -UDK_EGROUP_NOT_VIABLE;
		}
	}
	closedir(d);
	return rc;
}

int udk_group_open_file(struct udk_group *g, const char *bdf)
{
	struct vfio_group_status st = {.argsz = sizeof(st)};
	int num = g->num;
	char path[64];
	int fd, err;

	snprintf(path, sizeof(path), "/dev/vfio/%d", num);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		if (err == ENOENT && access("/dev/vfio/vfio", F_OK) != 0) {
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"open %s: /dev/vfio/vfio is missing: load VFIO with 'modprobe vfio-pci'",
				bdf);
			return -UDK_ENOVFIO;
		}
		if (err == EBUSY) {
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"open %s: IOMMU group %d is held by another process (%s is busy); "
				"stop that process or use another device",
				bdf, num, path);
			return -UDK_EGROUP_BUSY;
		}
		if (err == EACCES || err == EPERM) {
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"open %s: no permission to open %s: run as root, give your user "
				"the group file (chown), or use udk-broker",
				bdf, path);
			return -err;
		}
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "open %s: cannot open %s: %s", bdf, path,
			strerror(err));
		return -err;
	}
	if (ioctl(fd, VFIO_GROUP_GET_STATUS, &st) < 0) {
		err = errno;
		close(fd);
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "open %s: VFIO_GROUP_GET_STATUS on %s: %s", bdf,
			path, strerror(err));
		return -err;
	}
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		close(fd);
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"open %s: IOMMU group %d not viable: a device of the group is bound to a "
			"host driver; bind every device in %s/kernel/iommu_groups/%d/devices to "
			"vfio-pci",
			bdf, num, udk_sysfs_root(), num);
		return -UDK_EGROUP_NOT_VIABLE;
	}
	g->fd = fd;
	return 0;
}

void udk_group_close_file(struct udk_group *g)
{
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
}

/* Find or make the group's entry (its file stays closed). */
static int group_get(int num, struct udk_group **out)
{
	struct udk_group *g;

	for (g = groups; g != NULL; g = g->next)
		if (g->num == num)
			break;
	if (g == NULL) {
		g = calloc(1, sizeof(*g));
		if (g == NULL)
			return -ENOMEM;
		g->num = num;
		g->fd = -1;
		g->next = groups;
		groups = g;
	}
	g->refcnt++;
	*out = g;
	return 0;
}

static void group_close(struct udk_group *g)
{
	struct udk_group **p;

	if (--g->refcnt > 0)
		return;
	for (p = &groups; *p != NULL; p = &(*p)->next) {
		if (*p == g) {
			*p = g->next;
			break;
		}
	}
	udk_group_close_file(g);
	free(g);
}

int udk_device_new(const char *bdf, int num, struct udk_device **out)
{
	struct udk_device *dev = calloc(1, sizeof(*dev));
	int rc;

	if (dev == NULL)
		return -ENOMEM;
	snprintf(dev->bdf, sizeof(dev->bdf), "%s", bdf);
	dev->fd = -1;
	pthread_mutex_lock(&groups_lock);
	rc = group_get(num, &dev->grp);
	pthread_mutex_unlock(&groups_lock);
	if (rc < 0) {
		free(dev);
		return rc;
	}
	*out = dev;
	return 0;
}

void udk_device_free(struct udk_device *dev)
{
	if (dev->owner != NULL)
		dev->owner->release_dev(dev, NULL); /* an iommufd cdev: closing unbinds it */
	pthread_mutex_lock(&groups_lock);
	group_close(dev->grp);
	pthread_mutex_unlock(&groups_lock);
	free(dev);
}

int udk_device_take(struct udk_device *dev, const struct udk_dmamap *to)
{
	int rc;

	if (dev->owner == NULL || dev->owner == to->ops)
		return 0;
	rc = dev->owner->release_dev(dev, to);
	if (rc == 0)
		dev->owner = NULL;
	return rc;
}

int udk_device_open(const char *bdf, struct udk_device **out)
{
	struct udk_device *dev;
	int num = -1, rc;

	if (bdf == NULL || strlen(bdf) >= sizeof(dev->bdf)) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "open: '%s' is not a PCI address",
			bdf ? bdf : "(null)");
		return -UDK_EBADADDR;
	}
	rc = check_device(bdf, &num);
	if (rc < 0)
		return rc;
	rc = udk_device_new(bdf, num, &dev);
	if (rc < 0)
		return rc;
	/* The backend maps get by default opens what it needs now, so that
	 * its errors come at open; another map's backend does at attach. */
	pthread_mutex_lock(&groups_lock);
	rc = udk_dma_backend_auto()->open_dev(dev);
	pthread_mutex_unlock(&groups_lock);
	if (rc < 0) {
		udk_device_free(dev);
		return rc;
	}
	*out = dev;
	return 0;
}

void udk_device_close(struct udk_device *dev)
{
	if (dev == NULL)
		return;
	if (dev->map != NULL)
		udk_device_detach(dev);
	udk_device_free(dev);
}

int udk_device_attach(struct udk_device *dev, struct udk_dmamap *map)
{
	struct udk_group *g = dev->grp;
	int rc = 0;

	pthread_mutex_lock(&groups_lock);
	if (dev->map != NULL) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"attach %s to %s: already attached to %s; detach it first", dev->bdf,
			map->name, dev->map->name);
		rc = -UDK_EATTACHED;
		goto out_unlock;
	}
	if (g->map != NULL && g->map != map) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"attach %s to %s: its IOMMU group %d is already in %s (devices of one "
			"group share one map); attach it to %s or detach the group's other devices",
			dev->bdf, map->name, g->num, g->map->name, g->map->name);
		rc = -UDK_EGROUP_BUSY;
		goto out_unlock;
	}
	pthread_mutex_lock(&map->lock);
	rc = map->ops->attach(map, dev);
	if (rc < 0)
		goto out_unlock_map;
	if (g->map == NULL) {
		g->map = map;
		map->nb_groups++;
	}
	dev->map = udk_dmamap_get(map);
	g->nb_attached++;
	map->nb_devices++;
	pthread_mutex_unlock(&map->lock);
	pthread_mutex_unlock(&groups_lock);
	udk_log(UDK_LOG_INFO, UDK_DMA_LOG, "%s attached to %s (group %d, %s)", dev->bdf,
		map->name, g->num, udk_dmamap_backend_name(map->ops->backend));
	return 0;

out_unlock_map:
	pthread_mutex_unlock(&map->lock);
out_unlock:
	pthread_mutex_unlock(&groups_lock);
	return rc;
}

int udk_device_detach(struct udk_device *dev)
{
	struct udk_group *g = dev->grp;
	struct udk_dmamap *map;

	pthread_mutex_lock(&groups_lock);
	map = dev->map;
	if (map == NULL) {
		pthread_mutex_unlock(&groups_lock);
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "detach %s: the device is not attached to a map",
			dev->bdf);
		return -UDK_EDETACHED;
	}
	/* The owner drops BAR mappings and interrupts first: an mmap of a BAR
	 * keeps the device file open, and the group cannot leave the container
	 * while any device file of it is open. */
	if (dev->release != NULL)
		dev->release(dev, dev->release_arg);
	pthread_mutex_lock(&map->lock);
	map->ops->detach(map, dev); /* iommufd: the cdev stays open */
	dev->map = NULL;
	map->nb_devices--;
	if (--g->nb_attached == 0) {
		g->map = NULL;
		map->nb_groups--;
	}
	pthread_mutex_unlock(&map->lock);
	pthread_mutex_unlock(&groups_lock);
	udk_log(UDK_LOG_INFO, UDK_DMA_LOG, "%s detached from %s", dev->bdf, map->name);
	udk_dmamap_put(map);
	return 0;
}

struct udk_dmamap *udk_device_map(const struct udk_device *dev)
{
	return dev->map;
}

int udk_device_fd(struct udk_device *dev, int *fd)
{
	struct udk_dmamap_opts o;
	struct udk_dmamap *map;
	char name[48];
	int rc;

	if (dev->map == NULL) {
		/* The simple case: a device used without a map gets its own. */
		udk_dmamap_opts_init(&o, sizeof(o));
		snprintf(name, sizeof(name), "private:%s", dev->bdf);
		o.name = name;
		rc = udk_dmamap_create(&o, &map);
		if (rc < 0)
			return rc;
		rc = udk_device_attach(dev, map);
		udk_dmamap_put(map); /* the device holds the map now */
		if (rc < 0)
			return rc;
	}
	*fd = dev->fd;
	return 0;
}

void udk_device_set_release(struct udk_device *dev, udk_device_release_fn fn, void *arg)
{
	dev->release = fn;
	dev->release_arg = arg;
}

const char *udk_device_name(const struct udk_device *dev)
{
	return dev->bdf;
}

int udk_device_iommu_group(const struct udk_device *dev)
{
	return dev->grp->num;
}
