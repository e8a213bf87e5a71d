/* SPDX-License-Identifier: BSD-3-Clause */
/* udk_dma.h - the map object (DESIGN.md, "The map object") and the devices
 * that attach to it.
 *
 * A struct udk_dmamap is a memory map of its own: it can be created with no
 * device, accepts mappings at once, and every device attaches to it the same
 * way.  Devices come and go; the map and its mappings stay.  A device that is
 * used without a map gets a private one on first use.
 *
 * A struct udk_device is one VFIO device (a PCI function bound to vfio-pci)
 * together with its IOMMU group.  lib/pci builds the PCI view on top of it.
 *
 * Thread rules: every call here is thread-safe (each map and the process's
 * group table have a lock).  All are control path except translation
 * (udk_dmamap_virt2iova: lock-free) and the per-I/O calls udk_dma_map_buf /
 * unmap_buf / flush, whose IOVA allocation is lock-free per lcore and whose
 * kernel call is a system call by nature.
 */
#ifndef UDK_DMA_H
#define UDK_DMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "udk_iova.h"

#ifdef __cplusplus
extern "C" {
#endif

struct udk_dmamap;
struct udk_device;

enum udk_dmamap_backend {
	UDK_DMAMAP_AUTO = 0,   /* iommufd when built in and /dev/iommu exists, else VFIO type1 */
	UDK_DMAMAP_VFIO_TYPE1, /* VFIO container, type1v2 when offered */
	UDK_DMAMAP_IOMMUFD,    /* iommufd IOAS; -ENOTSUP if not built, -UDK_ENOIOMMUFD without /dev/iommu */
	UDK_DMAMAP_BROKERED,   /* owned by udk-broker: holds only what the broker granted */
};

/* The backend's name, as tools and telemetry print it: "auto", "vfio-type1",
 * "iommufd", "brokered" ("unknown" for a value outside the enum).  A static
 * string; any thread. */
const char *udk_dmamap_backend_name(enum udk_dmamap_backend backend);

struct udk_dmamap_opts {
	size_t opts_size;                /* set by udk_dmamap_opts_init() */
	enum udk_dmamap_backend backend;
	const char *name;                /* for logs; copied */
	/* Apertures to allocate IOVAs in before the first device tells the real
	 * ones; NULL: UDK_IOVA_SAFE_*.  Copied. */
	const struct udk_iova_range *iova_ranges;
	size_t nb_iova_ranges;
};

void udk_dmamap_opts_init(struct udk_dmamap_opts *opts, size_t size);

/* Create a map (opts may be NULL).  The caller holds one reference.
 * VFIO type1: nothing is opened yet; the container is made at the first
 * attach and the mappings made before it are replayed.  iommufd: /dev/iommu
 * is opened and the IOAS made now (it takes mappings before any device, so
 * nothing is replayed).  0 or -errno/-UDK_E*: -ENOTSUP (iommufd asked for
 * but not built), -UDK_ENOIOMMUFD (no /dev/iommu), -EACCES. */
int udk_dmamap_create(const struct udk_dmamap_opts *opts, struct udk_dmamap **out);

/* Take and drop a reference.  The map is destroyed (every mapping unmapped)
 * when the last holder lets go; an attached device holds a reference. */
struct udk_dmamap *udk_dmamap_get(struct udk_dmamap *map);
void udk_dmamap_put(struct udk_dmamap *map);

/* Map [vaddr, vaddr+len) for DMA (page aligned) at an IOVA the map chooses
 * inside its apertures; the IOVA is aligned to the largest power of two up
 * to 1 GiB that divides len, so hugepage segments map with large IOMMU pages.
 * One call makes one mapping (one kernel DMA entry), whatever its size.
 * Errors: -UDK_EOVERLAP (part of the range is mapped), -UDK_ENOIOVA,
 * -UDK_EMEMLOCK, -EINVAL (unaligned), or the kernel's error. */
int udk_dmamap_map(struct udk_dmamap *map, void *vaddr, size_t len, uint64_t *iova);

/* The same at an IOVA the caller chooses. */
int udk_dmamap_map_at(struct udk_dmamap *map, void *vaddr, size_t len, uint64_t iova);

/* The same at an IOVA inside a range the caller already holds in the map's
 * IOVA space (udk_iova_alloc(udk_dmamap_iova_space(map), ...)): the IOVA is
 * not reserved again, and udk_dmamap_unmap() leaves it with the caller.  For
 * a user that keeps VA and IOVA in step over a region it maps piece by piece
 * (lib/dpdk: one DPDK memseg list, one hugepage at a time).  The caller
 * must not map two pieces at one IOVA: the kernel refuses the second. */
int udk_dmamap_map_in(struct udk_dmamap *map, void *vaddr, size_t len, uint64_t iova);

/* Remove the mapping that starts at vaddr and is len long.  The range must
 * be exactly one earlier mapping: -UDK_ENOTMAPPED otherwise.  A short unmap by
 * the kernel is reported as -EIO, never ignored. */
int udk_dmamap_unmap(struct udk_dmamap *map, void *vaddr, size_t len);

/* The IOVA of vaddr in this map; -UDK_ENOTMAPPED if it is not mapped (by
 * udk_dmamap_map/map_at or udk_dma_register; per-I/O mappings are not
 * translated: their IOVA is what udk_dma_map_buf() returned).  Lock-free,
 * O(1), any thread. */
int udk_dmamap_virt2iova(struct udk_dmamap *map, const void *vaddr, uint64_t *iova);

/* The map's translation table, for udk_iova_xlate_lookup() inline on a fast
 * path (and for udk_mem_set_xlate_fallback()).  Lives as long as the map. */
const struct udk_iova_xlate *udk_dmamap_xlate(const struct udk_dmamap *map);

/* The map's IOVA space (lib/iova), owned by the map. */
struct udk_iova_space *udk_dmamap_iova_space(const struct udk_dmamap *map);

/* ---- External memory: buffers that are not udk's heap ---- */

/* Register a long-lived buffer (any malloc'ed or mmap'ed memory) for DMA.
 * The range is widened to whole pages and mapped like udk_dmamap_map(); its
 * IOVAs come from udk_dmamap_virt2iova() (and udk_virt2iova() for the
 * default map).  Two registrations may not share a page (-UDK_EOVERLAP).
 * A buffer on the calling thread's stack is refused with -EINVAL.  Control
 * path, thread-safe. */
int udk_dma_register(struct udk_dmamap *map, void *vaddr, size_t len);
/* Undo exactly one udk_dma_register() (same vaddr and len). */
int udk_dma_unregister(struct udk_dmamap *map, void *vaddr, size_t len);

/* How udk_dma_unmap_buf() takes a per-I/O mapping down. */
enum udk_dma_unmap_mode {
	/* The IOMMU mapping is removed in the call: once it returns, the device
	 * can no longer reach the buffer.  One system call per I/O. */
	UDK_DMA_UNMAP_STRICT = 0,
	/* The unmap is queued on the calling lcore and done with others in one
	 * flush (adjacent IOVAs in one system call), when the queue holds
	 * `batch` entries or at udk_dma_flush().  Until then the device can
	 * still reach the buffer, and the IOVA is not reused: it returns to the
	 * allocator only after the flush has unmapped it. */
	UDK_DMA_UNMAP_DEFERRED,
};

/* Choose the mode (and, for deferred, the batch size, 1..256; 0 = 64).
 * Set it before the map's first per-I/O mapping.  Switching to strict
 * flushes the caller's queue; other lcores flush theirs at their next
 * udk_dma_flush().  Control path. */
int udk_dma_set_unmap_mode(struct udk_dmamap *map, enum udk_dma_unmap_mode mode,
			   unsigned int batch);

/* Map [vaddr, vaddr+len) for one I/O: any memory the process can write
 * (malloc, mmap'ed files; not the calling thread's stack: -EINVAL).  The
 * pages around it are mapped whole, at an IOVA from the caller's lcore cache
 * (lib/iova's size classes, up to 1 GiB); *iova is the IOVA of vaddr itself.
 * The IOVA allocation takes no lock; the kernel call (VFIO_IOMMU_MAP_DMA) is
 * made under the map's lock (the kernel serialises a container's mappings on
 * its own lock anyway).  A map with no device attached hands out the IOVA
 * and programs nothing: per-I/O mappings are not replayed at attach.
 * Any thread; an lcore uses its own cache (udk_iova_thread_cache()).
 * 0, -EINVAL (empty, > 1 GiB, stack), -UDK_ENOIOVA, or the kernel's error. */
int udk_dma_map_buf(struct udk_dmamap *map, const void *vaddr, size_t len, uint64_t *iova);

/* End the mapping udk_dma_map_buf() made for (iova, len), in the map's mode.
 * Strict: unmapped on return.  Deferred: queued (see above).  If the kernel
 * refuses the unmap the IOVA is never reused (it stays out of circulation)
 * and the error is returned.  Any thread, typically where the I/O completed. */
int udk_dma_unmap_buf(struct udk_dmamap *map, uint64_t iova, size_t len);

/* Carry out the calling thread's queued unmaps now (deferred mode), then
 * release their IOVAs.  0 or the first kernel error. */
int udk_dma_flush(struct udk_dmamap *map);

struct udk_dma_buf_stats {
	uint64_t maps;         /* udk_dma_map_buf() calls that succeeded */
	uint64_t unmaps;       /* per-I/O mappings taken down (strict or flushed) */
	uint64_t unmap_calls;  /* kernel unmap calls they took */
	uint64_t flushes;      /* deferred flushes */
	uint64_t mapped;       /* per-I/O mappings held now: mapped, or unmapped and queued
				* for a flush (what a device attached later gets replayed) */
};
void udk_dma_buf_stats(struct udk_dmamap *map, struct udk_dma_buf_stats *st);

/* The apertures IOVAs are chosen from: the safe default until a device is
 * attached, then the intersection of what every attached IOMMU reported. */
int udk_dmamap_iova_ranges(struct udk_dmamap *map, struct udk_iova_range *out, size_t max,
			   size_t *n);

struct udk_dmamap_info {
	enum udk_dmamap_backend backend;
	unsigned int nb_devices;
	unsigned int nb_mappings;
	uint64_t bytes_mapped;
	bool live;           /* the kernel holds the mappings (type1: a device is attached;
				iommufd: always) */
	uint64_t iova_pgsizes; /* IOMMU page sizes, 0 until a device is attached (and
				  always under iommufd, which does not report them) */
	uint32_t ioas_id;      /* iommufd: the map's IOAS in its own /dev/iommu context;
				  0 on other backends */
};
int udk_dmamap_info(struct udk_dmamap *map, struct udk_dmamap_info *info);
const char *udk_dmamap_name(const struct udk_dmamap *map);

/* The backend a map created with UDK_DMAMAP_AUTO gets on this system, in
 * *out, and why in a few words in why (for 'udk-devbind doctor').  With a
 * device (bdf not NULL) also whether it can go that way: -UDK_ENOCDEV when
 * AUTO picks iommufd but the device has no VFIO cdev.  Else 0. */
int udk_dmamap_auto_backend(const char *bdf, enum udk_dmamap_backend *out, char *why,
			    size_t len);

/* Open the VFIO device at PCI address bdf ("0000:00:04.0").  Checks it in
 * sysfs (-ENODEV, -UDK_ENOIOMMU, -UDK_ENOTBOUND, -UDK_EGROUP_NOT_VIABLE: the
 * message names the device and driver that make it so), then opens what its
 * backend will need.  When iommufd is usable (udk_dmamap_auto_backend()) and
 * the device has a VFIO cdev, only the cdev is checked (-UDK_ENOCDEV,
 * -EACCES) and opened at attach, and the IOMMU group file stays closed
 * (iommufd refuses a device whose group file is open); a type1 map opens the
 * group at attach.  Otherwise its IOMMU group is opened (or reused) now:
 * -UDK_ENOVFIO, -UDK_EGROUP_BUSY (another process holds the group), -EACCES.
 * The device is not attached: call udk_device_attach(), or udk_device_fd(),
 * which attaches it to a private map on first use. */
int udk_device_open(const char *bdf, struct udk_device **out);

/* Detach if attached, then close.  The group closes with its last device. */
void udk_device_close(struct udk_device *dev);

/* Attach dev to map: every mapping of the map becomes visible to the device.
 * Other devices of the map are not disturbed.  -UDK_EATTACHED if dev is
 * attached, -UDK_EGROUP_BUSY if another device of its group is attached to a
 * different map, -UDK_EINCOMPATIBLE if the device's IOMMU cannot hold a
 * mapping the map already has (the device is left detached; nothing is
 * remapped), -UDK_ENOCONTAINER.  iommufd maps also: -UDK_ENOCDEV (the kernel
 * gave the device no cdev), -UDK_EDEVBUSY (bound to another iommufd context
 * or open through its group). */
int udk_device_attach(struct udk_device *dev, struct udk_dmamap *map);

/* Detach: the device can no longer reach the map.  Its release callback runs
 * first, under both backends, so BAR mappings and interrupts are dropped; the
 * driver re-initialises the device after the next attach.  Under VFIO type1
 * the device's file descriptor is closed, which resets the device.  Under
 * iommufd it stays open and bound to the map's iommufd context (no reset);
 * attaching it to another map reopens it (a reset, as under type1).
 * -UDK_EDETACHED if it is not attached. */
int udk_device_detach(struct udk_device *dev);

/* The map dev is attached to, or NULL (no reference is taken). */
struct udk_dmamap *udk_device_map(const struct udk_device *dev);

/* The VFIO device fd; attaches dev to a new private map if it is not attached
 * (the simple case: a one-device program never names a map). */
int udk_device_fd(struct udk_device *dev, int *fd);

/* Called by udk_device_detach() and udk_device_close() before the device is
 * detached (and, under type1, its fd closed).  One callback per device
 * (lib/pci sets it). */
typedef void (*udk_device_release_fn)(struct udk_device *dev, void *arg);
void udk_device_set_release(struct udk_device *dev, udk_device_release_fn fn, void *arg);

const char *udk_device_name(const struct udk_device *dev); /* the PCI address */
int udk_device_iommu_group(const struct udk_device *dev);
/* iommufd: the device object id VFIO_DEVICE_BIND_IOMMUFD gave the device's
 * cdev and the page table VFIO_DEVICE_ATTACH_IOMMUFD_PT attached it to (ids
 * in its map's context).  -ENOTSUP when the device is not attached to an
 * iommufd map (type1, brokered, detached). */
int udk_device_iommufd_ids(const struct udk_device *dev, uint32_t *devid, uint32_t *hwpt_id);

/* ---- Brokered maps (udk-broker, doc/broker.md) ----
 *
 * A map created with UDK_DMAMAP_BROKERED mirrors a map that a udk-broker
 * process owns: this process has no container or IOAS, only device fds that
 * reach the broker's map.  It records, for translation, the segments the
 * broker mapped and told us about; any other mapping (udk_dmamap_map,
 * udk_dma_register, udk_dma_map_buf) fails with -EPERM and a line naming the
 * broker's policy. */

/* Tell map that the broker mapped [iova, iova+len); a later
 * udk_dmamap_map_at() of exactly that range (at any vaddr) is then accepted.
 * who names the broker and policy for messages ("udk-broker at SOCK, policy
 * for uid 1000"); copied.  len 0 only sets who.  -EINVAL if map is not
 * brokered. */
int udk_dmamap_broker_grant(struct udk_dmamap *map, uint64_t iova, uint64_t len,
			    const char *who);

/* A device whose VFIO device fd was handed over (udk-broker's SCM_RIGHTS):
 * no group is opened; the fd is owned by the device from now on (closed at
 * udk_device_close(), also on failure).  It can only attach to a brokered
 * map (-UDK_EINCOMPATIBLE otherwise). */
int udk_device_open_fd(const char *bdf, int fd, struct udk_device **out);

#ifdef __cplusplus
}
#endif
#endif
