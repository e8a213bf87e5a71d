/* dma_internal.h - the insides of the map object and of a device, shared by
 * the generic code (dmamap.c, device.c) and the backends (vfio_type1.c). */
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
};

struct udk_group;

/* A backend turns the map's record into kernel state.  The generic code keeps
 * the record and the IOVA space; a backend is called with map->lock held. */
struct udk_dmamap_ops {
	const char *name;
	/* Make the group's devices see the map (first group: create the kernel
	 * object, learn the aperture, replay the record).  bdf names the device
	 * whose attach brought the group, for messages. */
	int (*attach_group)(struct udk_dmamap *map, struct udk_group *grp, const char *bdf);
	void (*detach_group)(struct udk_dmamap *map, struct udk_group *grp);
	/* Only called while map->live. */
	int (*map)(struct udk_dmamap *map, const struct udk_mapping *m);
	int (*unmap)(struct udk_dmamap *map, const struct udk_mapping *m);
	void (*fini)(struct udk_dmamap *map);
};

extern const struct udk_dmamap_ops udk_dmamap_type1_ops;

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
};

/* An IOMMU group, opened once per process and shared by its devices. */
struct udk_group {
	int num;
	int fd;
	int refcnt;               /* open udk_devices of this group */
	unsigned int nb_attached; /* of those, attached to map */
	struct udk_dmamap *map;   /* the map the group is in, or NULL */
	struct udk_group *next;
};

struct udk_device {
	char bdf[16];
	struct udk_group *grp;
	struct udk_dmamap *map; /* holds a reference while attached */
	int fd;                 /* VFIO device fd while attached, else -1 */
	udk_device_release_fn release;
	void *release_arg;
};

/* extmem.c: a map's translation table and per-I/O mapping state; init
 * before the map is used, fini at its destruction. */
int dma_ext_init(struct udk_dmamap *map);
void dma_ext_fini(struct udk_dmamap *map);

/* Kernel-facing helpers of the generic code, for backends. */
int udk_dma_replay(struct udk_dmamap *map);
void udk_dma_kernel_lost(struct udk_dmamap *map);

#endif
