/* SPDX-License-Identifier: BSD-3-Clause */
/* iommufd.c - the map object on an iommufd IOAS (Linux 6.6+ with
 * CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV).  Each map is one /dev/iommu
 * context holding one IOAS, both made at create: an IOAS takes mappings before
 * any device, so the record goes straight into the kernel and is never
 * replayed.  Devices attach one by one through their cdev
 * (/dev/vfio/devices/vfioN, bound to the map's context once per open); a
 * detach keeps the cdev open and bound.  The aperture is known only once a
 * device is attached: IOMMU_IOAS_IOVA_RANGES reports 0-max before (LAB.md).
 * Also the facts AUTO's choice depends on (/dev/iommu, device cdevs). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "iommufd_internal.h"
#include "udk_util.h"

static int real_open(const char *path, int flags)
{
	return open(path, flags);
}

static int real_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg);
}

static const struct udk_iommufd_sys real_sys = {
	.open = real_open,
	.close = close,
	.ioctl = real_ioctl,
	.access = access,
};
static const struct udk_iommufd_sys *sys = &real_sys;

const struct udk_iommufd_sys *udk_iommufd_sys(void)
{
	return sys;
}

void udk_iommufd_set_sys(const struct udk_iommufd_sys *s)
{
	sys = s != NULL ? s : &real_sys;
}

/* An iommufd map: the generic map, its /dev/iommu context and the IOAS. */
struct iommufd_map {
	struct udk_dmamap map; /* first: the generic code allocates map_size */
	int fd;                /* this map's /dev/iommu context */
	uint32_t ioas_id;      /* the IOAS in it */
	uint64_t ictx_serial;  /* tells this context from a closed one */
};

/* What the backend keeps of a device (dev->priv while dev->owner is this
 * backend): its cdev, open from the first attach to close. */
struct iommufd_dev {
	char cdev[16];      /* "vfio0" (/dev/vfio/devices/), "" if the kernel has none */
	uint64_t bound_ctx; /* ictx_serial dev->fd is bound to, 0 if none */
	uint32_t devid;     /* from VFIO_DEVICE_BIND_IOMMUFD */
	uint32_t hwpt_id;   /* the page table ATTACH_PT answered */
};

static struct iommufd_map *im(struct udk_dmamap *map)
{
	return dma_container_of(map, struct iommufd_map, map);
}

static struct iommufd_dev *idev(const struct udk_device *dev)
{
	return dev->priv;
}

/* ---- what the kernel offers ---- */

/* "name" has a 'dev' node (a char device): the kernel made a cdev for it. */
static bool has_dev_node(const char *dir, const char *name)
{
	char path[PATH_MAX + 300];

	snprintf(path, sizeof(path), "%s/%s/dev", dir, name);
	return access(path, F_OK) == 0;
}

/* The device's cdev name from sysfs (vfio-dev/vfioN with a 'dev' node), or
 * "" when the kernel gives it none (no CONFIG_VFIO_DEVICE_CDEV). */
static void find_cdev(const char *bdf, char *name, size_t len)
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
		size_t n = strlen(de->d_name);

		if (strncmp(de->d_name, "vfio", 4) == 0 && n < len && has_dev_node(dir, de->d_name)) {
			memcpy(name, de->d_name, n + 1);
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

enum udk_iommufd_state udk_iommufd_state(char *why, size_t len)
{
	if (sys->access(UDK_IOMMUFD_PATH, F_OK) != 0) {
		snprintf(why, len, "no /dev/iommu: the kernel lacks CONFIG_IOMMUFD");
		return UDK_IOMMUFD_NO_DEV;
	}
	if (kernel_lacks_cdevs()) {
		snprintf(why, len, "/dev/iommu is there but VFIO devices have no cdev: the kernel "
			 "lacks CONFIG_VFIO_DEVICE_CDEV");
		return UDK_IOMMUFD_NO_CDEVS;
	}
	snprintf(why, len, "/dev/iommu and VFIO device cdevs are there");
	return UDK_IOMMUFD_USABLE;
}

int udk_iommufd_dev_usable(const char *bdf, char *why, size_t len)
{
	char cdev[16];

	find_cdev(bdf, cdev, sizeof(cdev));
	if (cdev[0] == '\0') {
		snprintf(why, len, "/dev/iommu is there but %s has no VFIO cdev (bound to "
			 "vfio-pci? kernel with CONFIG_VFIO_DEVICE_CDEV?); use --iommu-backend "
			 "type1", bdf);
		return -UDK_ENOCDEV;
	}
	snprintf(why, len, "/dev/iommu and its cdev %s/%s", UDK_VFIO_CDEV_DIR, cdev);
	return 0;
}

/* ---- the map ---- */

/* Serials tell one map's context from another's, even after its fd number
 * was reused: a cdev stays bound to the context it was bound to. */
static atomic_uint_fast64_t ictx_seq;

static int iommufd_init(struct udk_dmamap *map)
{
	struct iommu_ioas_alloc req = iommufd_req_ioas_alloc();
	struct iommufd_map *m = im(map);
	int fd, err;

	m->fd = -1;
	fd = sys->open(UDK_IOMMUFD_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		if (err == ENOENT) {
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"map create %s: %s is missing: this kernel lacks CONFIG_IOMMUFD "
				"(or the iommufd module is not loaded); use --iommu-backend type1 "
				"(or auto)", map->name, UDK_IOMMUFD_PATH);
			return -UDK_ENOIOMMUFD;
		}
		if (err == EACCES || err == EPERM)
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"map create %s: no permission to open %s: run as root, give your "
				"user the file (udev rule), or use udk-broker", map->name,
				UDK_IOMMUFD_PATH);
		else
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "map create %s: cannot open %s: %s",
				map->name, UDK_IOMMUFD_PATH, strerror(err));
		return -err;
	}
	if (sys->ioctl(fd, IOMMU_IOAS_ALLOC, &req) < 0) {
		err = errno;
		sys->close(fd);
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "map create %s: IOMMU_IOAS_ALLOC: %s", map->name,
			strerror(err));
		return -err;
	}
	m->fd = fd;
	m->ioas_id = req.out_ioas_id;
	m->ictx_serial = atomic_fetch_add(&ictx_seq, 1) + 1;
	map->live = true; /* the IOAS holds the record from the first mapping on */
	return 0;
}

/* Destroying the IOAS unmaps and unpins everything in it.  No device is
 * attached (each holds a reference); a detached cdev still bound to the
 * context keeps the kernel's context alive, harmlessly, until it closes. */
static void iommufd_fini(struct udk_dmamap *map)
{
	struct iommufd_map *m = im(map);
	struct iommu_destroy req = iommufd_req_destroy(m->ioas_id);

	if (m->fd < 0)
		return;
	if (sys->ioctl(m->fd, IOMMU_DESTROY, &req) < 0)
		udk_log(UDK_LOG_WARN, UDK_DMA_LOG, "destroy %s: IOMMU_DESTROY of IOAS %u: %s",
			map->name, m->ioas_id, strerror(errno));
	sys->close(m->fd);
	m->fd = -1;
	map->live = false;
}

static int iommufd_map(struct udk_dmamap *map, const struct udk_mapping *m)
{
	struct iommu_ioas_map req = iommufd_req_map(im(map)->ioas_id, m);
	int err;

	if (sys->ioctl(im(map)->fd, IOMMU_IOAS_MAP, &req) == 0)
		return 0;
	err = errno;
	switch (err) {
	case EEXIST:
	case ENOMEM:
		return udk_dma_map_error(map, m, err);
	case EADDRINUSE:
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"map on %s: IOVA 0x%llx+0x%llx lies in a range the attached IOMMUs reserve "
			"(IOMMU_IOAS_MAP: EADDRINUSE)", map->name, (unsigned long long)m->iova,
			(unsigned long long)m->len);
		return -UDK_ENOIOVA;
	default:
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"map on %s: IOMMU_IOAS_MAP of %p+0x%llx at IOVA 0x%llx: %s", map->name,
			(void *)m->vaddr, (unsigned long long)m->len, (unsigned long long)m->iova,
			strerror(err));
		return -err;
	}
}

static int iommufd_unmap(struct udk_dmamap *map, const struct udk_mapping *m)
{
	struct iommu_ioas_unmap req = iommufd_req_unmap(im(map)->ioas_id, m);
	int err = sys->ioctl(im(map)->fd, IOMMU_IOAS_UNMAP, &req) < 0 ? errno : 0;

	return udk_dma_unmap_result(map, m, "IOMMU_IOAS_UNMAP", err, req.length);
}

/* The mapping of the record that holds IOVA iova, for messages. */
static const struct udk_mapping *mapping_at_iova(const struct udk_dmamap *map, uint64_t iova)
{
	for (size_t i = 0; i < map->nm; i++)
		if (iova >= map->m[i].iova && iova - map->m[i].iova < map->m[i].len)
			return &map->m[i];
	return NULL;
}

int udk_iommufd_apply_ranges(struct udk_dmamap *map, const struct iommu_iova_range *r,
			     uint32_t n, const char *bdf)
{
	struct udk_iova_range *ranges, bad = {0, 0};
	const struct udk_mapping *m;
	int rc;

	if (n == 0) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"attach %s to %s: device incompatible with the map: the IOAS reports no "
			"usable IOVA range at all", bdf, map->name);
		return -UDK_EINCOMPATIBLE;
	}
	ranges = calloc(n, sizeof(*ranges));
	if (ranges == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		ranges[i] = (struct udk_iova_range){r[i].start, r[i].last};
	rc = udk_iova_space_restrict(map->iova, ranges, n, &bad);
	if (rc == -UDK_EINCOMPATIBLE) {
		m = mapping_at_iova(map, bad.start);
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"attach %s to %s: device incompatible with the map: its IOMMU cannot reach "
			"the mapping %p+0x%llx at IOVA 0x%llx-0x%llx (IOAS ranges 0x%llx-0x%llx, "
			"%u in all); create a separate map for this device",
			bdf, map->name, m ? (void *)m->vaddr : NULL,
			m ? (unsigned long long)m->len : 0ULL, (unsigned long long)bad.start,
			(unsigned long long)bad.last, (unsigned long long)r[0].start,
			(unsigned long long)r[n - 1].last, n);
	}
	free(ranges);
	return rc;
}

/* IOMMU_IOAS_IOVA_RANGES: what the IOAS allows now that one more device is
 * attached (its aperture minus its reserved regions). */
static int learn_aperture(struct udk_dmamap *map, const char *bdf)
{
	struct iommu_ioas_iova_ranges req;
	struct iommu_iova_range *r = NULL, *nr;
	uint32_t n = 8;
	int rc, err;

	for (;;) {
		nr = realloc(r, n * sizeof(*r));
		if (nr == NULL) {
			free(r);
			return -ENOMEM;
		}
		r = nr;
		req = iommufd_req_iova_ranges(im(map)->ioas_id, r, n);
		if (sys->ioctl(im(map)->fd, IOMMU_IOAS_IOVA_RANGES, &req) == 0)
			break;
		err = errno;
		if (err == EMSGSIZE && req.num_iovas > n && req.num_iovas <= 4096) {
			n = req.num_iovas;
			continue;
		}
		free(r);
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "attach %s to %s: IOMMU_IOAS_IOVA_RANGES: %s",
			bdf, map->name, strerror(err));
		return -err;
	}
	rc = udk_iommufd_apply_ranges(map, r, req.num_iovas, bdf);
	free(r);
	return rc;
}

/* The kernel refused the attach because a mapping lies outside the device's
 * aperture or in one of its reserved regions (EADDRINUSE).  Name it when the
 * group's reserved_regions in sysfs say which. */
static int attach_conflict(struct udk_dmamap *map, struct udk_device *dev, int err)
{
	char path[512], line[128];
	unsigned long long s, l;
	FILE *f;

	snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%d/reserved_regions",
		 udk_sysfs_root(), udk_device_iommu_group(dev));
	f = fopen(path, "r");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%llx %llx", &s, &l) != 2)
			continue;
		for (size_t i = 0; i < map->nm; i++) {
			const struct udk_mapping *m = &map->m[i];
			if (m->iova <= l && m->iova + m->len - 1 >= s) {
				fclose(f);
				udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
					"attach %s to %s: device incompatible with the map: the "
					"mapping %p+0x%llx at IOVA 0x%llx lies in the device's reserved "
					"IOVA region 0x%llx-0x%llx; create a separate map for this device",
					dev->bdf, map->name, (void *)m->vaddr,
					(unsigned long long)m->len, (unsigned long long)m->iova, s, l);
				return -UDK_EINCOMPATIBLE;
			}
		}
	}
	if (f != NULL)
		fclose(f);
	/* Not in a reserved region: outside the aperture, which the kernel does
	 * not tell before an attach succeeds.  The likely culprit is a mapping
	 * outside what every IOMMU udk has met accepts (UDK_IOVA_SAFE_*). */
	for (size_t i = 0; i < map->nm; i++) {
		const struct udk_mapping *m = &map->m[i];
		if (m->iova < UDK_IOVA_SAFE_START || m->iova + m->len - 1 > UDK_IOVA_SAFE_LAST) {
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"attach %s to %s: device incompatible with the map: the kernel "
				"refused to attach it (VFIO_DEVICE_ATTACH_IOMMUFD_PT: %s), most likely "
				"for the mapping %p+0x%llx at IOVA 0x%llx-0x%llx, outside its IOMMU's "
				"aperture; create a separate map for this device", dev->bdf,
				map->name, strerror(err), (void *)m->vaddr,
				(unsigned long long)m->len, (unsigned long long)m->iova,
				(unsigned long long)(m->iova + m->len - 1));
			return -UDK_EINCOMPATIBLE;
		}
	}
	udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
		"attach %s to %s: device incompatible with the map: the kernel refused to attach "
		"it (VFIO_DEVICE_ATTACH_IOMMUFD_PT: %s): a mapping lies outside its IOMMU's "
		"aperture; create a separate map for this device", dev->bdf, map->name,
		strerror(err));
	return -UDK_EINCOMPATIBLE;
}

/* Open the device's cdev and bind it to the map's context. */
static int open_and_bind(struct udk_dmamap *map, struct udk_device *dev)
{
	struct vfio_device_bind_iommufd bind = iommufd_req_bind(im(map)->fd);
	struct iommufd_dev *d = idev(dev);
	char path[64];
	int fd, err;

	if (d->cdev[0] == '\0') {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"attach %s to %s: the device has no VFIO cdev (no vfio-dev/vfioN/dev under "
			"its sysfs directory): the kernel lacks CONFIG_VFIO_DEVICE_CDEV; use a type1 "
			"map (--iommu-backend type1)", dev->bdf, map->name);
		return -UDK_ENOCDEV;
	}
	snprintf(path, sizeof(path), "%s/%s", UDK_VFIO_CDEV_DIR, d->cdev);
	fd = sys->open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		if (err == ENOENT) {
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"attach %s to %s: %s is missing although sysfs has %s (is devtmpfs "
				"mounted on /dev?)", dev->bdf, map->name, path, d->cdev);
			return -UDK_ENOCDEV;
		}
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "attach %s to %s: cannot open %s: %s%s",
			dev->bdf, map->name, path, strerror(err),
			err == EACCES || err == EPERM ? " (run as root, or chown the file)" : "");
		return -err;
	}
	if (sys->ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind) < 0) {
		err = errno;
		sys->close(fd);
		/* Linux 6.12: EINVAL when the device is already open through its
		 * cdev (vfio_df_open), EBUSY when its group file is open or the
		 * group has a device on a host driver (DMA ownership). */
		if (err == EINVAL) {
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"attach %s to %s: the device is in use elsewhere: already open "
				"through its cdev, in another process or bound to another iommufd "
				"context (VFIO_DEVICE_BIND_IOMMUFD: EINVAL)", dev->bdf, map->name);
			return -UDK_EDEVBUSY;
		}
		if (err == EBUSY) {
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"attach %s to %s: the device is in use elsewhere: its VFIO group "
				"/dev/vfio/%d is open (a VFIO type1 user), or a device of group %d "
				"is on a host driver (VFIO_DEVICE_BIND_IOMMUFD: EBUSY)", dev->bdf,
				map->name, udk_device_iommu_group(dev), udk_device_iommu_group(dev));
			return -UDK_EDEVBUSY;
		}
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "attach %s to %s: VFIO_DEVICE_BIND_IOMMUFD: %s",
			dev->bdf, map->name, strerror(err));
		return -err;
	}
	dev->fd = fd;
	d->bound_ctx = im(map)->ictx_serial;
	d->devid = bind.out_devid;
	return 0;
}

static void close_cdev(struct udk_device *dev)
{
	if (dev->fd >= 0)
		sys->close(dev->fd);
	dev->fd = -1;
	idev(dev)->bound_ctx = 0;
	idev(dev)->devid = 0;
}

/* Make dev this backend's: its state, with the cdev sysfs names. */
static int own_dev(struct udk_device *dev)
{
	struct iommufd_dev *d;

	if (dev->owner == &udk_dmamap_iommufd_ops)
		return 0;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	find_cdev(dev->bdf, d->cdev, sizeof(d->cdev));
	dev->priv = d;
	dev->owner = &udk_dmamap_iommufd_ops;
	return 0;
}

/* Open the cdev, bind it to the map's context, attach it to the IOAS. */
static int iommufd_attach(struct udk_dmamap *map, struct udk_device *dev)
{
	struct iommufd_map *m = im(map);
	struct vfio_device_attach_iommufd_pt at = iommufd_req_attach(m->ioas_id);
	struct vfio_device_detach_iommufd_pt dt = iommufd_req_detach();
	struct iommufd_dev *d;
	bool opened = false;
	int rc, err;

	rc = udk_device_take(dev, map); /* a type1 leftover goes */
	if (rc == 0)
		rc = own_dev(dev);
	if (rc < 0)
		return rc;
	d = idev(dev);
	/* No device of the group uses its file: iommufd needs it closed. */
	if (dev->grp->nb_attached == 0)
		udk_group_close_file(dev->grp);
	/* A cdev binds to one context per open: a device last used with another
	 * map is opened afresh, which resets it. */
	if (dev->fd >= 0 && d->bound_ctx != m->ictx_serial)
		close_cdev(dev);
	if (dev->fd < 0) {
		rc = open_and_bind(map, dev);
		if (rc < 0)
			return rc;
		opened = true;
	}
	if (sys->ioctl(dev->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) < 0) {
		err = errno;
		if (err == EADDRINUSE)
			rc = attach_conflict(map, dev, err);
		else {
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"attach %s to %s: VFIO_DEVICE_ATTACH_IOMMUFD_PT of IOAS %u: %s",
				dev->bdf, map->name, m->ioas_id, strerror(err));
			rc = -err;
		}
		goto err_close;
	}
	d->hwpt_id = at.pt_id;
	rc = learn_aperture(map, dev->bdf);
	if (rc < 0)
		goto err_detach;
	udk_log(UDK_LOG_DEBUG, UDK_DMA_LOG, "%s: cdev %s bound (devid %u), IOAS %u, page table %u",
		dev->bdf, d->cdev, d->devid, m->ioas_id, d->hwpt_id);
	return 0;

err_detach:
	if (sys->ioctl(dev->fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &dt) < 0)
		opened = true; /* cannot leave it half attached: closing detaches */
	d->hwpt_id = 0;
err_close:
	if (opened)
		close_cdev(dev);
	return rc;
}

/* The cdev stays open and bound: the device is not reset, and re-attaching
 * it to this map is one ioctl. */
static void iommufd_detach(struct udk_dmamap *map, struct udk_device *dev)
{
	struct vfio_device_detach_iommufd_pt req = iommufd_req_detach();

	if (sys->ioctl(dev->fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &req) < 0) {
		udk_log(UDK_LOG_WARN, UDK_DMA_LOG,
			"detach %s from %s: VFIO_DEVICE_DETACH_IOMMUFD_PT: %s; closing the device "
			"instead", dev->bdf, map->name, strerror(errno));
		close_cdev(dev);
	}
	idev(dev)->hwpt_id = 0;
}

/* The device closes, or goes to a type1 map: closing the cdev unbinds it. */
static int iommufd_release_dev(struct udk_device *dev, const struct udk_dmamap *to)
{
	(void)to;
	close_cdev(dev);
	free(dev->priv);
	dev->priv = NULL;
	return 0;
}

/* Check the device's cdev can be opened (exists, permission), without
 * holding it; the group file stays closed (the kernel refuses to bind a
 * device whose group file is open).  No cdev: the device goes through its
 * group, as under type1. */
static int iommufd_open_dev(struct udk_device *dev)
{
	struct iommufd_dev *d;
	char path[64];
	int rc, err;

	rc = own_dev(dev);
	if (rc < 0)
		return rc;
	d = idev(dev);
	if (d->cdev[0] == '\0') {
		iommufd_release_dev(dev, NULL);
		dev->owner = NULL;
		return udk_dmamap_type1_ops.open_dev(dev);
	}
	snprintf(path, sizeof(path), "%s/%s", UDK_VFIO_CDEV_DIR, d->cdev);
	if (sys->access(path, R_OK | W_OK) == 0)
		return 0;
	err = errno;
	if (err == ENOENT) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"open %s: %s is missing although sysfs has %s (is devtmpfs mounted on "
			"/dev?)", dev->bdf, path, d->cdev);
		return -UDK_ENOCDEV;
	}
	if (err == EACCES || err == EPERM) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"open %s: no permission to open %s: run as root, give your user the file "
			"(chown), or use udk-broker", dev->bdf, path);
		return -EACCES;
	}
	udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "open %s: cannot access %s: %s", dev->bdf, path,
		strerror(err));
	return -err;
}

static void iommufd_info(struct udk_dmamap *map, struct udk_dmamap_info *info)
{
	info->ioas_id = im(map)->ioas_id;
}

const struct udk_dmamap_ops udk_dmamap_iommufd_ops = {
	.backend = UDK_DMAMAP_IOMMUFD,
	.map_size = sizeof(struct iommufd_map),
	.init = iommufd_init,
	.open_dev = iommufd_open_dev,
	.attach = iommufd_attach,
	.detach = iommufd_detach,
	.release_dev = iommufd_release_dev,
	.map = iommufd_map,
	.unmap = iommufd_unmap,
	.info = iommufd_info,
	.fini = iommufd_fini,
};

int udk_device_iommufd_ids(const struct udk_device *dev, uint32_t *devid, uint32_t *hwpt_id)
{
	if (dev->map == NULL || dev->owner != &udk_dmamap_iommufd_ops)
		return -ENOTSUP;
	*devid = idev(dev)->devid;
	*hwpt_id = idev(dev)->hwpt_id;
	return 0;
}
