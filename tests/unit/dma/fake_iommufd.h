/* SPDX-License-Identifier: BSD-3-Clause */
/* fake_iommufd.h - a fake kernel for the iommufd backend's unit tests: it
 * stands in for open/close/ioctl/access (struct udk_iommufd_sys), records
 * every request and plays the replies LAB.md saw; plus a fixture sysfs tree
 * with VFIO devices and their cdevs. */
#ifndef UDK_TEST_FAKE_IOMMUFD_H
#define UDK_TEST_FAKE_IOMMUFD_H

#include <stdbool.h>

#include "iommufd_internal.h"

#define IOMMUFD_FD 1001 /* far above what the test process opens */
#define CDEV_FD 2001
#define IOAS_ID 1
#define HWPT_ID 3

struct req {
	int fd;
	unsigned long code;
	union {
		struct iommu_ioas_alloc alloc;
		struct iommu_ioas_map map;
		struct iommu_ioas_unmap unmap;
		struct iommu_ioas_iova_ranges ranges;
		struct iommu_destroy destroy;
		struct vfio_device_bind_iommufd bind;
		struct vfio_device_attach_iommufd_pt attach;
		struct vfio_device_detach_iommufd_pt detach;
	} u;
};

struct fake_kernel {
	bool iommu_present;
	int open_errno;           /* for /dev/iommu */
	int cdev_access_errno;
	unsigned long fail_code;  /* the next request with this code fails... */
	int fail_errno;           /* ...with this errno */
	uint64_t unmap_short;     /* the kernel unmaps this much less than asked */
	struct iommu_iova_range ranges[4];
	uint32_t nranges;
	int next_iommufd, next_cdev;
	struct req log[64];
	int nlog;
	int closed[16];
	int nclosed;
	char opened[4][64];
	int nopened;
};

extern struct fake_kernel fk;

/* The lab's aperture after an attach (LAB.md, "An iommufd guest"). */
extern const struct iommu_iova_range lab_ranges[2];

/* Clear the record, set whether /dev/iommu exists, install the fake. */
void fake_reset(bool present);
/* The last request with this code, or NULL; how many were sent. */
const struct req *last_req(unsigned long code);
int count_req(unsigned long code);
bool was_closed(int fd);

/* A fixture sysfs in a temporary directory (UDK_SYSFS_ROOT points at it). */
int fixture_setup(void);
void fixture_teardown(void);
/* A vfio-pci device in its own group (reserved region: the MSI window);
 * cdev: its VFIO cdev name ("vfio0"), or NULL for a kernel without them. */
void fixture_dev(const char *bdf, int group, const char *cdev);
/* A file under the fixture root with text, or a directory (text NULL). */
void fixture_put(const char *rel, const char *text);

#endif
