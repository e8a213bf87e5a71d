/* SPDX-License-Identifier: BSD-3-Clause */
/* sysfs.c - what sysfs says about PCI functions: one device's attributes,
 * the scan of every function in address order, and why an IOMMU group is
 * not viable.  Everything is read under udk_sysfs_root(), so tests can use a
 * fixture tree. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pci_internal.h"
#include "udk_util.h"

int pci_sysfs_path(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n, m;

	n = snprintf(buf, len, "%s/", udk_sysfs_root());
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	va_start(ap, fmt);
	m = vsnprintf(buf + n, len - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)m >= len - (size_t)n)
		return -ENAMETOOLONG;
	return 0;
}

int pci_dev_path(const struct udk_pci_addr *addr, const char *attr, char *buf, size_t len)
{
	char bdf[UDK_PCI_ADDR_STRLEN];

	udk_pci_addr_format(addr, bdf, sizeof(bdf));
	if (attr == NULL || *attr == '\0')
		return pci_sysfs_path(buf, len, "bus/pci/devices/%s", bdf);
	return pci_sysfs_path(buf, len, "bus/pci/devices/%s/%s", bdf, attr);
}

/* A hex attribute that must be there (vendor, device, class). */
static int read_hex(const struct udk_pci_addr *addr, const char *attr, uint64_t max,
		    uint64_t *val)
{
	char path[512], bdf[UDK_PCI_ADDR_STRLEN];
	int rc;

	rc = pci_dev_path(addr, attr, path, sizeof(path));
	if (rc == 0)
		rc = udk_sysfs_read_u64(path, val);
	if (rc == 0 && *val > max)
		rc = -ERANGE;
	if (rc < 0) {
		udk_pci_addr_format(addr, bdf, sizeof(bdf));
		udk_log(UDK_LOG_ERR, "pci", "reading %s of %s: %s (%s)", attr, bdf,
			udk_strerror(rc), path);
	}
	return rc;
}

/* An attribute that may be absent (older kernels, fixtures): 0 then. */
static uint64_t read_hex_opt(const struct udk_pci_addr *addr, const char *attr)
{
	char path[512];
	uint64_t v;

	if (pci_dev_path(addr, attr, path, sizeof(path)) < 0 ||
	    udk_sysfs_read_u64(path, &v) < 0 || v > UINT16_MAX)
		return 0;
	return v;
}

static int read_numa_node(const struct udk_pci_addr *addr)
{
	char path[512], buf[32], *end;
	long v;

	if (pci_dev_path(addr, "numa_node", path, sizeof(path)) < 0 ||
	    udk_sysfs_read(path, buf, sizeof(buf)) < 0)
		return -1;
	v = strtol(buf, &end, 10);
	if (end == buf || *end != '\0' || v < -1 || v > 4096)
		return -1;
	return (int)v;
}

static void read_link(const struct udk_pci_addr *addr, const char *attr, char *buf,
		      size_t len)
{
	char path[512];

	buf[0] = '\0';
	if (pci_dev_path(addr, attr, path, sizeof(path)) < 0 ||
	    udk_sysfs_link_name(path, buf, len) < 0)
		buf[0] = '\0';
}

/* quiet: a missing device is no error worth a line (it left mid-scan). */
static int info_read(const struct udk_pci_addr *addr, struct udk_pci_info *info, int quiet)
{
	char path[512], bdf[UDK_PCI_ADDR_STRLEN], group[32], *end;
	struct stat st;
	uint64_t v;
	long g;
	int rc;

	rc = pci_dev_path(addr, NULL, path, sizeof(path));
	if (rc < 0)
		return rc;
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		if (quiet)
			return -ENODEV;
		udk_pci_addr_format(addr, bdf, sizeof(bdf));
		udk_log(UDK_LOG_ERR, "pci", "no PCI device %s (nothing at %s): check the address "
			"with 'udk-devbind status --all'", bdf, path);
		return -ENODEV;
	}

	memset(info, 0, sizeof(*info));
	info->addr = *addr;
	rc = read_hex(addr, "vendor", UINT16_MAX, &v);
	if (rc < 0)
		return rc;
	info->vendor_id = (uint16_t)v;
	rc = read_hex(addr, "device", UINT16_MAX, &v);
	if (rc < 0)
		return rc;
	info->device_id = (uint16_t)v;
	rc = read_hex(addr, "class", 0xffffff, &v);
	if (rc < 0)
		return rc;
	info->class_code = (uint32_t)v;
	info->subsys_vendor_id = (uint16_t)read_hex_opt(addr, "subsystem_vendor");
	info->subsys_device_id = (uint16_t)read_hex_opt(addr, "subsystem_device");
	info->numa_node = read_numa_node(addr);

	read_link(addr, "driver", info->driver, sizeof(info->driver));
	read_link(addr, "iommu_group", group, sizeof(group));
	g = strtol(group, &end, 10);
	info->iommu_group = (group[0] != '\0' && *end == '\0' && g >= 0 && g <= INT32_MAX)
				    ? (int)g : -1;

	/* The kernel shows an unset override as "(null)". */
	if (pci_dev_path(addr, "driver_override", path, sizeof(path)) < 0 ||
	    udk_sysfs_read(path, info->driver_override, sizeof(info->driver_override)) < 0 ||
	    strcmp(info->driver_override, "(null)") == 0)
		info->driver_override[0] = '\0';
	return 0;
}

int udk_pci_info_get(const struct udk_pci_addr *addr, struct udk_pci_info *info)
{
	return info_read(addr, info, 0);
}

static int addr_qsort_cmp(const void *a, const void *b)
{
	return udk_pci_addr_cmp(a, b);
}

/* Every PCI address named in directory path, sorted.  *out is malloc'd. */
static int list_addrs(const char *path, struct udk_pci_addr **out, size_t *n)
{
	struct udk_pci_addr *v = NULL, *nv, a;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int rc;

	d = opendir(path);
	if (d == NULL)
		return -errno;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (pci_addr_parse_quiet(de->d_name, &a) < 0)
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 32;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				rc = -ENOMEM;
				goto err_free;
			}
			v = nv;
		}
		v[cnt++] = a;
	}
	if (errno != 0) {
		rc = -errno;
		goto err_free;
	}
	closedir(d);
	if (cnt > 1)
		qsort(v, cnt, sizeof(*v), addr_qsort_cmp);
	*out = v;
	*n = cnt;
	return 0;

err_free:
	free(v);
	closedir(d);
	return rc;
}

int udk_pci_scan(int (*fn)(const struct udk_pci_info *info, void *arg), void *arg)
{
	struct udk_pci_addr *addrs = NULL;
	struct udk_pci_info info;
	char path[512];
	size_t n = 0;
	int rc;

	rc = pci_sysfs_path(path, sizeof(path), "bus/pci/devices");
	if (rc == 0)
		rc = list_addrs(path, &addrs, &n);
	if (rc < 0) {
		udk_log(UDK_LOG_ERR, "pci", "scanning PCI devices: cannot list %s: %s", path,
			udk_strerror(rc));
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		rc = info_read(&addrs[i], &info, 1);
		if (rc == -ENODEV) { /* removed while we scanned */
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		rc = fn(&info, arg);
		if (rc != 0)
			break;
	}
	free(addrs);
	return rc;
}

/* Drivers that leave a group viable (the kernel's own list is those that
 * manage DMA themselves: vfio-pci, pci-stub, and bridges' pcieport). */
static int driver_keeps_viable(const char *drv)
{
	return drv[0] == '\0' || strcmp(drv, "vfio-pci") == 0 || strcmp(drv, "pci-stub") == 0 ||
	       strcmp(drv, "pcieport") == 0;
}

int udk_pci_group_blocker(int iommu_group, struct udk_pci_info *blocker)
{
	struct udk_pci_addr *addrs = NULL;
	struct udk_pci_info info;
	char path[512];
	size_t n = 0;
	int rc;

	if (iommu_group < 0)
		return -EINVAL;
	rc = pci_sysfs_path(path, sizeof(path), "kernel/iommu_groups/%d/devices", iommu_group);
	if (rc == 0)
		rc = list_addrs(path, &addrs, &n);
	if (rc < 0) {
		udk_log(UDK_LOG_ERR, "pci", "IOMMU group %d: cannot list %s: %s", iommu_group,
			path, udk_strerror(rc));
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		rc = info_read(&addrs[i], &info, 1);
		if (rc == -ENODEV) {
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		if (!driver_keeps_viable(info.driver)) {
			if (blocker != NULL)
				*blocker = info;
			rc = 1;
			break;
		}
	}
	free(addrs);
	return rc;
}
