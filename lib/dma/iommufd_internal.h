/* SPDX-License-Identifier: BSD-3-Clause */
/* iommufd_internal.h - the iommufd backend's requests, built apart from the
 * calls that send them, and the small table of system calls it sends them
 * with.  The unit tests replace that table with a fake that records every
 * request and scripts the kernel's replies (tests/unit/dma/test_iommufd.c).
 * Only built with UDK_HAVE_IOMMUFD (<linux/iommufd.h> present). */
#ifndef UDK_IOMMUFD_INTERNAL_H
#define UDK_IOMMUFD_INTERNAL_H

#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "dma_internal.h"

#define UDK_IOMMUFD_PATH "/dev/iommu"
#define UDK_VFIO_CDEV_DIR "/dev/vfio/devices"

/* Every call the backend makes to the kernel.  Calls fail as the real ones
 * do: -1 with errno set. */
struct udk_iommufd_sys {
	int (*open)(const char *path, int flags);
	int (*close)(int fd);
	int (*ioctl)(int fd, unsigned long req, void *arg);
	int (*access)(const char *path, int mode);
};

/* The table in use; set NULL to restore the real calls.  For tests: not
 * thread-safe, set it while no map or device exists. */
const struct udk_iommufd_sys *udk_iommufd_sys(void);
void udk_iommufd_set_sys(const struct udk_iommufd_sys *sys);

/* Narrow map's IOVA space to the n ranges IOMMU_IOAS_IOVA_RANGES replied
 * (after attaching bdf).  -UDK_EINCOMPATIBLE, naming the mapping that would
 * not fit, and nothing changed; the caller detaches the device again. */
int udk_iommufd_apply_ranges(struct udk_dmamap *map, const struct iommu_iova_range *r,
			     uint32_t n, const char *bdf);

/* ---- requests (iommufd.h and vfio.h of Linux 6.6+) ---- */

static inline struct iommu_ioas_alloc iommufd_req_ioas_alloc(void)
{
	return (struct iommu_ioas_alloc){.size = sizeof(struct iommu_ioas_alloc)};
}

/* A mapping goes exactly where lib/iova put it (FIXED_IOVA), for DMA both
 * ways. */
static inline struct iommu_ioas_map iommufd_req_map(uint32_t ioas_id, const struct udk_mapping *m)
{
	return (struct iommu_ioas_map){
		.size = sizeof(struct iommu_ioas_map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas_id,
		.user_va = (uint64_t)m->vaddr,
		.length = m->len,
		.iova = m->iova,
	};
}

/* The reply's length is what the kernel unmapped: it must equal m->len. */
static inline struct iommu_ioas_unmap iommufd_req_unmap(uint32_t ioas_id,
							const struct udk_mapping *m)
{
	return (struct iommu_ioas_unmap){
		.size = sizeof(struct iommu_ioas_unmap),
		.ioas_id = ioas_id,
		.iova = m->iova,
		.length = m->len,
	};
}

/* Room for n ranges in buf; the kernel answers EMSGSIZE with num_iovas set
 * when it has more. */
static inline struct iommu_ioas_iova_ranges iommufd_req_iova_ranges(uint32_t ioas_id,
								     struct iommu_iova_range *buf,
								     uint32_t n)
{
	return (struct iommu_ioas_iova_ranges){
		.size = sizeof(struct iommu_ioas_iova_ranges),
		.ioas_id = ioas_id,
		.num_iovas = n,
		.allowed_iovas = (uint64_t)(uintptr_t)buf,
	};
}

static inline struct iommu_destroy iommufd_req_destroy(uint32_t id)
{
	return (struct iommu_destroy){.size = sizeof(struct iommu_destroy), .id = id};
}

static inline struct vfio_device_bind_iommufd iommufd_req_bind(int iommufd)
{
	return (struct vfio_device_bind_iommufd){
		.argsz = sizeof(struct vfio_device_bind_iommufd),
		.iommufd = iommufd,
	};
}

/* pt_id in: the IOAS; out: the hardware page table the kernel attached to
 * (LAB.md saw 3 for IOAS 1). */
static inline struct vfio_device_attach_iommufd_pt iommufd_req_attach(uint32_t ioas_id)
{
	return (struct vfio_device_attach_iommufd_pt){
		.argsz = sizeof(struct vfio_device_attach_iommufd_pt),
		.pt_id = ioas_id,
	};
}

static inline struct vfio_device_detach_iommufd_pt iommufd_req_detach(void)
{
	return (struct vfio_device_detach_iommufd_pt){
		.argsz = sizeof(struct vfio_device_detach_iommufd_pt),
	};
}

#endif
