/* SPDX-License-Identifier: BSD-3-Clause */
/* dma_internal.h - the insides of the map object and of a device, shared by
 * the generic code (dmamap.c, device.c, backend.c) and the backends
 * (vfio_type1.c, iommufd.c, brokered.c). */
#ifndef UDK_DMA_INTERNAL_H
#define UDK_DMA_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>

#include "udk_dma.h"

#define UDK_DMA_LOG "dma"

/* The struct of type whose member is at p (a backend's map from the map). */
#define dma_container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* One mapping of a map: a contiguous VA range at a contiguous IOVA range. */
struct udk_mapping {
	uintptr_t vaddr;
	uint64_t len;
	uint64_t iova;
	bool caller_iova; /* udk_dmamap_map_in(): the IOVA stays the caller's at unmap */
};

struct udk_group;

/* A backend turns the map's record into kernel state and gives devices a way
 * into it.  The generic code (dmamap.c, device.c) keeps the record, the IOVA
 * space, the group table and the counts, and never asks which backend it
 * has: every hook is set, and all backend state lives in the backend's own
 * struct, which embeds struct udk_dmamap first (map_size bytes, found again
 * with container_of).  Hooks run with map->lock held (init and fini: with no
 * other holder); the device hooks also with the group table's lock. */
struct udk_dmamap_ops {
	enum udk_dmamap_backend backend;
	size_t map_size; /* sizeof the backend's map struct */
	/* At create, on the zeroed struct: set up what the backend keeps
	 * (iommufd: the IOAS, which takes mappings before any device, so the
	 * map is live from the start). */
	int (*init)(struct udk_dmamap *map);
	/* At udk_device_open(), on the backend AUTO picks (no map is known
	 * yet): open or check now what this backend will need, so the error
	 * comes at open (type1: the group file; iommufd: the cdev). */
	int (*open_dev)(struct udk_device *dev);
	/* Give dev a device fd that is bound to the map and attached to it,
	 * whatever that takes (type1: the group into the container, then
	 * VFIO_GROUP_GET_DEVICE_FD; iommufd: the cdev opened, bound and
	 * attached; brokered: the fd the broker handed over).  Sets dev->fd
	 * and dev->owner, and narrows the IOVA space to the device's aperture.
	 * The first device of its group has dev->grp->nb_attached == 0.  On
	 * failure the device is left detached (dev->fd may stay open, owned). */
	int (*attach)(struct udk_dmamap *map, struct udk_device *dev);
	/* Undo attach (nb_attached still counts dev).  dev->fd may stay open
	 * for a re-attach (iommufd: bound to the map's context). */
	void (*detach)(struct udk_dmamap *map, struct udk_device *dev);
	/* dev->owner is this backend and the device is closing (to NULL) or
	 * going to map to of another backend: drop dev->fd and dev->priv.  May
	 * refuse a move (never a close), with the one-line reason. */
	int (*release_dev)(struct udk_device *dev, const struct udk_dmamap *to);
	/* Only called while map->live. */
	int (*map)(struct udk_dmamap *map, const struct udk_mapping *m);
	int (*unmap)(struct udk_dmamap *map, const struct udk_mapping *m);
	/* The backend's part of udk_dmamap_info() (page sizes, IOAS). */
	void (*info)(struct udk_dmamap *map, struct udk_dmamap_info *info);
	void (*fini)(struct udk_dmamap *map);
};

extern const struct udk_dmamap_ops udk_dmamap_type1_ops;
extern const struct udk_dmamap_ops udk_dmamap_broker_ops;
#ifdef UDK_HAVE_IOMMUFD
extern const struct udk_dmamap_ops udk_dmamap_iommufd_ops;
#endif

/* The generic map; a backend's struct embeds it as its first member. */
struct udk_dmamap {
	pthread_mutex_t lock;
	atomic_int refcnt;
	char name[48];
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
};

/* An IOMMU group, opened once per process and shared by its devices.  Its
 * file is opened only when a backend needs it (type1): iommufd refuses to
 * bind a device whose group file is open. */
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
	/* The VFIO device fd, or -1, and the backend that holds it and priv
	 * (NULL: none).  type1: open while attached.  iommufd: the cdev, open
	 * from the first attach to close (a detach keeps it).  brokered: the
	 * fd handed over, open until close. */
	int fd;
	const struct udk_dmamap_ops *owner;
	void *priv;             /* owner's per-device state */
	udk_device_release_fn release;
	void *release_arg;
};

/* device.c, for backends (group table lock held). */
/* Open the group's file /dev/vfio/N and check the kernel finds it viable. */
int udk_group_open_file(struct udk_group *g, const char *bdf);
void udk_group_close_file(struct udk_group *g);
/* A new device entry in group num (-1: unknown), no fd, not attached. */
int udk_device_new(const char *bdf, int num, struct udk_device **out);
/* Free a detached device: its owner's state (release_dev), its group. */
void udk_device_free(struct udk_device *dev);
/* In a backend's attach, before it touches dev->fd: a device whose fd or
 * priv another backend holds is released by it (an iommufd cdev left open
 * is closed; a handed-over fd refuses).  0 or that backend's error. */
int udk_device_take(struct udk_device *dev, const struct udk_dmamap *to);

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
			 const struct udk_dmamap_ops **ops);
/* The backend AUTO picks on this system (devices are opened for it). */
const struct udk_dmamap_ops *udk_dma_backend_auto(void);

/* iommufd.c (when it is not built, backend.c answers UDK_IOMMUFD_NOT_BUILT
 * with the reason): whether maps can use
 * iommufd here, and why (not) in a few words. */
enum udk_iommufd_state {
	UDK_IOMMUFD_USABLE,
	UDK_IOMMUFD_NOT_BUILT,
	UDK_IOMMUFD_NO_DEV,   /* no /dev/iommu */
	UDK_IOMMUFD_NO_CDEVS, /* /dev/iommu, but VFIO devices without a cdev */
};
enum udk_iommufd_state udk_iommufd_state(char *why, size_t len);
/* Whether device bdf can go the iommufd way (it has a cdev): 0, or
 * -UDK_ENOCDEV with why. */
int udk_iommufd_dev_usable(const char *bdf, char *why, size_t len);

#endif
