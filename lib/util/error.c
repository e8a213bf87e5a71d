/* SPDX-License-Identifier: BSD-3-Clause */
/* error.c - descriptions of udk's error codes and of the errno values the
 * library passes through. */
#include <errno.h>
#include <string.h>

#include "udk_util.h"

static const struct {
	const char *name;
	const char *text;
} udk_errors[UDK_ELAST - UDK_EBASE] = {
	[0] = {"UDK_EBASE", "unknown udk error"},
#define E(code, txt) [code - UDK_EBASE] = {#code, txt}
	E(UDK_ENOVFIO, "VFIO is not available (load vfio-pci: modprobe vfio-pci)"),
	E(UDK_ENOIOMMU, "no IOMMU (enable VT-d/AMD-Vi in firmware and intel_iommu=on or amd_iommu=on on the kernel command line)"),
	E(UDK_EIOMMU_UNSUPPORTED, "the kernel offers no IOMMU model udk supports (VFIO type1 or iommufd)"),
	E(UDK_EGROUP_NOT_VIABLE, "IOMMU group not viable: another device of the group is bound to a host driver"),
	E(UDK_EGROUP_BUSY, "IOMMU group is in use by another process or another map"),
	E(UDK_EINCOMPATIBLE, "device is incompatible with this map (its IOMMU cannot hold the map's mappings)"),
	E(UDK_ENOCONTAINER, "out of VFIO containers or IOMMU domains"),
	E(UDK_EOVERLAP, "mapping overlaps an existing mapping"),
	E(UDK_ENOIOVA, "IOVA space of the map is exhausted"),
	E(UDK_ENOHUGE, "not enough free hugepages"),
	E(UDK_ENOTMAPPED, "range is not exactly one existing mapping"),
	E(UDK_ENOTBOUND, "device is not bound to vfio-pci"),
	E(UDK_EBADADDR, "malformed PCI address (expected DDDD:BB:DD.F or BB:DD.F)"),
	E(UDK_EARGS, "invalid option or argument"),
	E(UDK_EMEMLIMIT, "memory limit (-m/--socket-mem) reached"),
	E(UDK_EMEMLOCK, "RLIMIT_MEMLOCK too low to pin DMA memory (raise it with ulimit -l or run as root)"),
	E(UDK_EDEVSTATE, "device is in a state that does not allow this operation"),
	E(UDK_EATTACHED, "device is already attached to a map (detach it first)"),
	E(UDK_EDETACHED, "device is not attached to a map"),
	E(UDK_EREMOVED, "the device was removed (hot-unplug, or the kernel took it back): its I/O ended; close it"),
	E(UDK_ENOIOMMUFD, "no /dev/iommu: the kernel lacks CONFIG_IOMMUFD (use the VFIO type1 backend)"),
	E(UDK_ENOCDEV, "the device has no VFIO cdev: the kernel lacks CONFIG_VFIO_DEVICE_CDEV (use the VFIO type1 backend)"),
	E(UDK_EDEVBUSY, "device is in use elsewhere (bound to another iommufd context, or open through its VFIO group)"),
#undef E
};

static const struct {
	int code;
	const char *name;
} errno_names[] = {
	{EPERM, "EPERM"}, {ENOENT, "ENOENT"}, {EIO, "EIO"}, {ENXIO, "ENXIO"},
	{EBADF, "EBADF"}, {EAGAIN, "EAGAIN"}, {ENOMEM, "ENOMEM"}, {EACCES, "EACCES"},
	{EFAULT, "EFAULT"}, {EBUSY, "EBUSY"}, {EEXIST, "EEXIST"}, {ENODEV, "ENODEV"},
	{EINVAL, "EINVAL"}, {ENOSPC, "ENOSPC"}, {ERANGE, "ERANGE"}, {ENOSYS, "ENOSYS"},
	{ENOTSUP, "ENOTSUP"}, {ETIMEDOUT, "ETIMEDOUT"}, {EALREADY, "EALREADY"},
	{E2BIG, "E2BIG"}, {ENOTTY, "ENOTTY"}, {EOVERFLOW, "EOVERFLOW"},
	{EPROTO, "EPROTO"}, {EADDRINUSE, "EADDRINUSE"}, {ENAMETOOLONG, "ENAMETOOLONG"},
};

const char *udk_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err == 0)
		return "success";
	if (err >= UDK_EBASE && err < UDK_ELAST)
		return udk_errors[err - UDK_EBASE].text ? udk_errors[err - UDK_EBASE].text
							 : "unknown udk error";
	if (err > UDK_EBASE)
		return "unknown udk error";
	return strerror(err);
}

const char *udk_strerror_name(int err)
{
	if (err < 0)
		err = -err;
	if (err > UDK_EBASE && err < UDK_ELAST && udk_errors[err - UDK_EBASE].name)
		return udk_errors[err - UDK_EBASE].name;
	for (size_t i = 0; i < UDK_ARRAY_SIZE(errno_names); i++)
		if (errno_names[i].code == err)
			return errno_names[i].name;
	return "?";
}
