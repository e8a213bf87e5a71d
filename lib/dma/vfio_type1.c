/* SPDX-License-Identifier: BSD-3-Clause */
/* vfio_type1.c - the map object on a VFIO type1 container.  The container is
 * opened when the first group attaches; type1 takes no mapping before a group
 * has set the IOMMU model, so the record is replayed then, and again whenever
 * the container lost its last group (the kernel drops every mapping then). */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "dma_internal.h"
#include "udk_util.h"

/* A type1 map: the generic map and its container. */
struct type1_map {
	struct udk_dmamap map; /* first: the generic code allocates map_size */
	int container_fd;      /* -1 until the first group attaches */
	uint64_t pgsizes;      /* IOMMU page sizes, 0 until known */
};

static struct type1_map *t1(struct udk_dmamap *map)
{
	return dma_container_of(map, struct type1_map, map);
}

static int open_container(struct udk_dmamap *map, const char *bdf)
{
	int fd, ver;

	fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		if (err == ENOENT) {
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"attach %s to %s: /dev/vfio/vfio is missing: load VFIO with "
				"'modprobe vfio-pci'", bdf, map->name);
			return -UDK_ENOVFIO;
		}
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "attach %s to %s: cannot open /dev/vfio/vfio: %s",
			bdf, map->name, strerror(err));
		return err == EMFILE || err == ENFILE ? -UDK_ENOCONTAINER : -err;
	}
	ver = ioctl(fd, VFIO_GET_API_VERSION);
	if (ver != VFIO_API_VERSION) {
		close(fd);
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"attach %s to %s: VFIO API version %d, udk speaks %d", bdf, map->name, ver,
			VFIO_API_VERSION);
		return -UDK_EIOMMU_UNSUPPORTED;
	}
	t1(map)->container_fd = fd;
	return 0;
}

/* Read the IOMMU's page sizes and IOVA ranges (VFIO_IOMMU_GET_INFO and its
 * IOVA-range capability) and narrow the map's IOVA space to them. */
static int learn_aperture(struct udk_dmamap *map, const char *bdf)
{
	struct type1_map *tm = t1(map);
	struct vfio_iommu_type1_info *info;
	struct udk_iova_range *ranges = NULL, bad;
	size_t n = 0;
	uint32_t argsz = sizeof(*info);
	int rc;

	info = calloc(1, argsz);
	if (info == NULL)
		return -ENOMEM;
	info->argsz = argsz;
	if (ioctl(tm->container_fd, VFIO_IOMMU_GET_INFO, info) < 0)
		goto err_ioctl;
	if (info->argsz > argsz) {
		struct vfio_iommu_type1_info *big = realloc(info, info->argsz);
		if (big == NULL) {
			free(info);
			return -ENOMEM;
		}
		info = big;
		argsz = info->argsz;
		memset(info, 0, argsz);
		info->argsz = argsz;
		if (ioctl(tm->container_fd, VFIO_IOMMU_GET_INFO, info) < 0)
			goto err_ioctl;
	}
	tm->pgsizes = (info->flags & VFIO_IOMMU_INFO_PGSIZES) ? info->iova_pgsizes : 0;
	if ((info->flags & VFIO_IOMMU_INFO_CAPS) && info->cap_offset != 0) {
		uint32_t off = info->cap_offset;
		while (off != 0 && off + sizeof(struct vfio_info_cap_header) <= argsz) {
			struct vfio_info_cap_header *h = (void *)((char *)info + off);
			if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
				struct vfio_iommu_type1_info_cap_iova_range *cap = (void *)h;
				ranges = calloc(cap->nr_iovas ? cap->nr_iovas : 1, sizeof(*ranges));
				if (ranges == NULL) {
					free(info);
					return -ENOMEM;
				}
				for (uint32_t i = 0; i < cap->nr_iovas; i++)
					ranges[i] = (struct udk_iova_range){cap->iova_ranges[i].start,
									    cap->iova_ranges[i].end};
				n = cap->nr_iovas;
			}
			off = h->next;
		}
	}
	free(info);
	if (n == 0) {
		free(ranges);
		return 0; /* an old kernel: keep the safe default */
	}
	rc = udk_iova_space_restrict(map->iova, ranges, n, &bad);
	if (rc == -UDK_EINCOMPATIBLE)
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"attach %s to %s: device incompatible with the map: its IOMMU cannot "
			"reach the mapping at IOVA 0x%llx-0x%llx (first IOMMU range 0x%llx-0x%llx, "
			"%zu in all); create a separate map for this device",
			bdf, map->name, (unsigned long long)bad.start, (unsigned long long)bad.last,
			(unsigned long long)ranges[0].start, (unsigned long long)ranges[0].last, n);
	free(ranges);
	return rc;

err_ioctl:
	rc = -errno;
	free(info);
	udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "attach %s to %s: VFIO_IOMMU_GET_INFO: %s", bdf,
		map->name, strerror(-rc));
	return rc;
}

/* The kernel dropped every mapping (the last group left the container). */
static void kernel_lost(struct udk_dmamap *map)
{
	udk_dma_kernel_lost(map);
	t1(map)->pgsizes = 0;
}

/* The group's first device joins the map: the group goes into the container
 * (first group: set the IOMMU model, learn the aperture, replay the record). */
static int attach_group(struct udk_dmamap *map, struct udk_group *grp, const char *bdf)
{
	struct type1_map *tm = t1(map);
	bool first = map->nb_groups == 0;
	int rc, model;

	if (tm->container_fd < 0) {
		rc = open_container(map, bdf);
		if (rc < 0)
			return rc;
	}
	if (ioctl(grp->fd, VFIO_GROUP_SET_CONTAINER, &tm->container_fd) < 0) {
		int err = errno;
		/* Type1 refuses a second group whose IOMMU cannot hold what the
		 * container already maps (aperture conflict) or cannot share. */
		if (!first && (err == EINVAL || err == EPERM)) {
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"attach %s to %s: device incompatible with the map: the kernel "
				"refused to add it to the container (%s)",
				bdf, map->name, strerror(err));
			return -UDK_EINCOMPATIBLE;
		}
		if (err == EBUSY) {
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"attach %s to %s: its IOMMU group %d is already in another container",
				bdf, map->name, grp->num);
			return -UDK_EGROUP_BUSY;
		}
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "attach %s to %s: VFIO_GROUP_SET_CONTAINER: %s",
			bdf, map->name, strerror(err));
		return -err;
	}
	if (!first) {
		/* The kernel mirrored the container's mappings into the group's
		 * domain; the aperture may only have narrowed. */
		rc = learn_aperture(map, bdf);
		if (rc < 0)
			ioctl(grp->fd, VFIO_GROUP_UNSET_CONTAINER);
		return rc;
	}

	if (ioctl(tm->container_fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0) {
		model = VFIO_TYPE1v2_IOMMU;
	} else if (ioctl(tm->container_fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) > 0) {
		model = VFIO_TYPE1_IOMMU;
	} else {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"attach %s to %s: the kernel offers no VFIO type1 IOMMU model "
			"(is vfio_iommu_type1 loaded?)", bdf, map->name);
		rc = -UDK_EIOMMU_UNSUPPORTED;
		goto err_unset;
	}
	if (ioctl(tm->container_fd, VFIO_SET_IOMMU, model) < 0) {
		int err = errno;
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "attach %s to %s: VFIO_SET_IOMMU: %s%s", bdf,
			map->name, strerror(err),
			err == ENOSPC || err == ENOMEM ? " (out of IOMMU domains)" : "");
		rc = (err == ENOSPC || err == ENOMEM) ? -UDK_ENOCONTAINER : -err;
		goto err_unset;
	}
	rc = learn_aperture(map, bdf);
	if (rc < 0)
		goto err_unset;
	rc = udk_dma_replay(map);
	if (rc < 0)
		goto err_unset;
	return 0;

err_unset:
	ioctl(grp->fd, VFIO_GROUP_UNSET_CONTAINER);
	kernel_lost(map);
	return rc;
}

/* The group leaves the container; last (the map's only group) takes the
 * container's IOMMU with it. */
static void detach_group(struct udk_dmamap *map, struct udk_group *grp, bool last)
{
	/* EINVAL: the kernel took the group out itself, as it does when the
	 * group's last device is removed (hot-unplug, doc/hotplug.md). */
	if (ioctl(grp->fd, VFIO_GROUP_UNSET_CONTAINER) < 0)
		udk_log(errno == EINVAL ? UDK_LOG_INFO : UDK_LOG_WARN, UDK_DMA_LOG,
			"detach group %d from %s: %s", grp->num, map->name,
			errno == EINVAL ? "the kernel already took it out (its device was removed)"
					: strerror(errno));
	/* The last group out takes the container's IOMMU, and every mapping,
	 * with it: the record is replayed at the next first attach. */
	if (last)
		kernel_lost(map);
}

static int get_device_fd(struct udk_device *dev, struct udk_dmamap *map)
{
	int fd = ioctl(dev->grp->fd, VFIO_GROUP_GET_DEVICE_FD, dev->bdf);

	if (fd < 0) {
		int err = errno;
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"attach %s to %s: VFIO_GROUP_GET_DEVICE_FD failed: %s%s", dev->bdf,
			map->name, strerror(err), err == EBUSY ? " (the device is open elsewhere)" : "");
		return err == EBUSY ? -UDK_EDEVSTATE : -err;
	}
	dev->fd = fd;
	return 0;
}

/* Type1 reaches a device through its group: the group's file must be open
 * (it is not yet where iommufd is the default), and a cdev fd left from an
 * iommufd map must go first (a bound cdev keeps the group from opening). */
static int type1_attach(struct udk_dmamap *map, struct udk_device *dev)
{
	struct udk_group *g = dev->grp;
	bool first = g->nb_attached == 0;
	int rc;

	rc = udk_device_take(dev, map);
	if (rc < 0)
		return rc;
	if (g->fd < 0) {
		rc = udk_group_open_file(g, dev->bdf);
		if (rc < 0)
			return rc;
	}
	if (first) {
		rc = attach_group(map, g, dev->bdf);
		if (rc < 0)
			return rc;
	}
	rc = get_device_fd(dev, map);
	if (rc < 0) {
		if (first)
			detach_group(map, g, map->nb_groups == 0);
		return rc;
	}
	dev->owner = &udk_dmamap_type1_ops;
	return 0;
}

/* Closing the device fd resets the device; the group's last device takes the
 * group out of the container. */
static void type1_detach(struct udk_dmamap *map, struct udk_device *dev)
{
	close(dev->fd);
	dev->fd = -1;
	dev->owner = NULL;
	if (dev->grp->nb_attached == 1)
		detach_group(map, dev->grp, map->nb_groups == 1);
}

/* Nothing outlives a detach: the fd is closed there. */
static int type1_release_dev(struct udk_device *dev, const struct udk_dmamap *to)
{
	(void)to;
	if (dev->fd >= 0)
		close(dev->fd);
	dev->fd = -1;
	return 0;
}

/* Devices open through their group, whose viability is checked now. */
static int type1_open_dev(struct udk_device *dev)
{
	return dev->grp->fd >= 0 ? 0 : udk_group_open_file(dev->grp, dev->bdf);
}

static int type1_map(struct udk_dmamap *map, const struct udk_mapping *m)
{
	struct vfio_iommu_type1_dma_map dm = {
		.argsz = sizeof(dm),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = m->vaddr,
		.iova = m->iova,
		.size = m->len,
	};
	int err;

	if (ioctl(t1(map)->container_fd, VFIO_IOMMU_MAP_DMA, &dm) == 0)
		return 0;
	err = errno;
	switch (err) {
	case EEXIST:
	case ENOMEM:
		return udk_dma_map_error(map, m, err);
	case ENOSPC:
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"map on %s: the kernel's DMA entry limit is reached (vfio_iommu_type1 "
			"dma_entry_limit); use fewer, larger mappings", map->name);
		return -ENOSPC;
	default:
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"map on %s: VFIO_IOMMU_MAP_DMA of %p+0x%llx at IOVA 0x%llx: %s", map->name,
			(void *)m->vaddr, (unsigned long long)m->len, (unsigned long long)m->iova,
			strerror(err));
		return -err;
	}
}

static int type1_unmap(struct udk_dmamap *map, const struct udk_mapping *m)
{
	struct vfio_iommu_type1_dma_unmap du = {
		.argsz = sizeof(du),
		.iova = m->iova,
		.size = m->len,
	};

	int err = ioctl(t1(map)->container_fd, VFIO_IOMMU_UNMAP_DMA, &du) < 0 ? errno : 0;

	return udk_dma_unmap_result(map, m, "VFIO_IOMMU_UNMAP_DMA", err, du.size);
}

/* Nothing is opened before the first group attaches. */
static int type1_init(struct udk_dmamap *map)
{
	t1(map)->container_fd = -1;
	return 0;
}

static void type1_info(struct udk_dmamap *map, struct udk_dmamap_info *info)
{
	info->iova_pgsizes = t1(map)->pgsizes;
}

static void type1_fini(struct udk_dmamap *map)
{
	struct type1_map *tm = t1(map);

	if (tm->container_fd >= 0)
		close(tm->container_fd);
	tm->container_fd = -1;
}

const struct udk_dmamap_ops udk_dmamap_type1_ops = {
	.backend = UDK_DMAMAP_VFIO_TYPE1,
	.map_size = sizeof(struct type1_map),
	.init = type1_init,
	.open_dev = type1_open_dev,
	.attach = type1_attach,
	.detach = type1_detach,
	.release_dev = type1_release_dev,
	.map = type1_map,
	.unmap = type1_unmap,
	.info = type1_info,
	.fini = type1_fini,
};
