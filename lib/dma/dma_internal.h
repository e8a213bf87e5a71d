/* SPDX-License-Identifier: BSD-3-Clause */
/* dma_internal.h - the insides of the map object and of a device, shared by
 * the generic code (dmamap.c, device.c, backend.c) and the backends
 * (vfio_type1.c, iommufd.c). */
#ifndef UDK_DMA_INTERNAL_H
#define UDK_DMA_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "udk_dma.h"

#define UDK_DMA_LOG "dma"

/* One mapping of a map: a contiguous VA range at a contiguous IOVA range. */
struct udk_mapping {
	uintptr_t vaddr;
	uint64_t len;
	uint64_t iova;
	bool caller_iova; /* udk_dmamap_map_in(): the IOVA stays the caller's at unmap */
};

struct udk_group;

/* A backend turns the map's record into kernel state.  The generic code keeps
 * the record and the IOVA space; a backend is called with map->lock held
 * (init and fini: with no other holder).  Every hook but map/unmap may be NULL.
 *
 * Two shapes: VFIO type1 attaches groups (attach_group; device.c then asks
 * the group for the device fd), iommufd attaches devices (attach_dev opens
 * the device's cdev itself; the group file must stay closed). */
struct udk_dmamap_ops {
	const char *name;
	/* At create: make the kernel object now (iommufd: the IOAS, which takes
	 * mappings before any device, so the map is live from the start). */
	int (*init)(struct udk_dmamap *map);
	/* Make the group's devices see the map (first group: create the kernel
	 * object, learn the aperture, replay the record).  bdf names the device
	 * whose attach brought the group, for messages. */
	int (*attach_group)(struct udk_dmamap *map, struct udk_group *grp, const char *bdf);
	void (*detach_group)(struct udk_dmamap *map, struct udk_group *grp);
	/* Attach one device: set dev->fd to a device fd that reaches the map and
	 * narrow the IOVA space to its aperture; on failure leave it detached.
	 * detach_dev undoes it, and may leave dev->fd open (the generic code
	 * closes an open dev->fd at udk_device_close()). */
	int (*attach_dev)(struct udk_dmamap *map, struct udk_device *dev);
	void (*detach_dev)(struct udk_dmamap *map, struct udk_device *dev);
	/* Only called while map->live. */
	int (*map)(struct udk_dmamap *map, const struct udk_mapping *m);
	int (*unmap)(struct udk_dmamap *map, const struct udk_mapping *m);
	void (*fini)(struct udk_dmamap *map);
};

extern const struct udk_dmamap_ops udk_dmamap_type1_ops;
extern const struct udk_dmamap_ops udk_dmamap_broker_ops;
#ifdef UDK_HAVE_IOMMUFD
extern const struct udk_dmamap_ops udk_dmamap_iommufd_ops;
#endif

struct udk_dmamap {
	pthread_mutex_t lock;
	atomic_int refcnt;
	char name[48];
	enum udk_dmamap_backend backend;
	const struct udk_dmamap_ops *ops;
	struct udk_iova_space *iova;
	struct udk_iova_xlate *xlate; /* every record entry, for lock-free virt2iova */
	struct dma_ext *ext;          /* per-I/O mapping state (extmem.c) */
	struct udk_mapping *m; /* sorted by vaddr, disjoint */
	size_t nm, capm;
	uint64_t bytes;
	bool live;             /* the kernel holds the record */
	unsigned int nb_groups;
	unsigned int nb_devices;
	uint64_t pgsizes;
	int container_fd;      /* type1 */
	int iommufd;           /* iommufd: this map's /dev/iommu context, or -1 */
	uint32_t ioas_id;      /* iommufd: the IOAS in it */
	uint64_t ictx_serial;  /* iommufd: tells this context from a closed one */
	struct dma_broker *broker; /* brokered: the granted ranges (brokered.c) */
};

/* An IOMMU group, opened once per process and shared by its devices.  Its
 * file is opened at udk_device_open() when the device will go through it
 * (type1), else only when a type1 map needs it: iommufd refuses to bind a
 * device whose group file is open. */
struct udk_group {
	int num;
	int fd;                   /* /dev/vfio/N, or -1 while not needed */
	int refcnt;               /* open udk_devices of this group */
	unsigned int nb_attached; /* of those, attached to map */
	struct udk_dmamap *map;   /* the map the group is in, or NULL */
	struct udk_group *next;
};

struct udk_device {
	char bdf[16];
	struct udk_group *grp;
	struct udk_dmamap *map; /* holds a reference while attached */
	/* VFIO device fd, or -1.  type1: open while attached.  iommufd: the
	 * cdev, open from the first attach to close, bound to the iommufd
	 * context bound_ctx (a detach keeps it open and bound). */
	int fd;
	char cdev[16];          /* "vfio0" (/dev/vfio/devices/), "" if the kernel has none */
	uint64_t bound_ctx;     /* iommufd: ictx_serial dev->fd is bound to, 0 if none */
	uint32_t devid;         /* iommufd: from VFIO_DEVICE_BIND_IOMMUFD */
	uint32_t hwpt_id;       /* iommufd: the page table ATTACH_PT answered */
	udk_device_release_fn release;
	void *release_arg;
	bool given_fd;          /* fd handed over (udk_device_open_fd): no group path */
};

/* extmem.c: a map's translation table and per-I/O mapping state; init
 * before the map is used, fini at its destruction. */
int dma_ext_init(struct udk_dmamap *map);
void dma_ext_fini(struct udk_dmamap *map);
/* Map every recorded per-I/O mapping (the map is becoming live; under
 * map->lock).  0, or the backend's error with nothing of them left mapped. */
int dma_ext_replay(struct udk_dmamap *map);

/* Kernel-facing helpers of the generic code, for backends. */
int udk_dma_replay(struct udk_dmamap *map);
void udk_dma_kernel_lost(struct udk_dmamap *map);
/* The shared report of a kernel map refusal (EEXIST, ENOMEM). */
int udk_dma_map_error(struct udk_dmamap *map, const struct udk_mapping *m, int err);
/* The shared judgement of a kernel unmap (error, or short unmap = -EIO). */
int udk_dma_unmap_result(struct udk_dmamap *map, const struct udk_mapping *m, const char *call,
			 int err, uint64_t done);

/* backend.c: the backend a map gets (requested: what the caller asked for),
 * with the one-line error when it cannot be had.  0 or -errno/-UDK_E*. */
int udk_dma_backend_pick(enum udk_dmamap_backend requested, const char *mapname,
			 enum udk_dmamap_backend *out, const struct udk_dmamap_ops **ops);
/* Compiled in, /dev/iommu present, and the kernel not known to lack device
 * cdevs: what AUTO needs to choose iommufd. */
bool udk_dma_iommufd_usable(char *why, size_t len);
/* The device's cdev name from sysfs (vfio-dev/vfioN with a 'dev' node), or
 * "" when the kernel gives it none (no CONFIG_VFIO_DEVICE_CDEV). */
void udk_dma_find_cdev(const char *bdf, char *name, size_t len);
/* udk_device_open() on the iommufd path: check the cdev can be opened
 * (exists, permission), without holding it.  0 or -errno with a message. */
int udk_dma_cdev_check(const struct udk_device *dev);
/* Close a device fd (through the iommufd backend's call table when built,
 * so a test's fake sees it). */
void udk_dma_close_fd(int fd);

#endif
