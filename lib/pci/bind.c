/* SPDX-License-Identifier: BSD-3-Clause */
/* bind.c - moving a function between its kernel driver and vfio-pci through
 * sysfs: driver_override, the driver's unbind file and drivers_probe.  Each
 * step that fails says which step, which device and what to do. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "pci_internal.h"
#include "udk_util.h"

/* Write val to path as step `step` of `what` for device bdf; logs the one
 * error line (permission gets the "needs root" remedy). */
static int step_write(const char *what, const char *bdf, const char *step, const char *path,
		      const char *val)
{
	int rc = udk_sysfs_write(path, val);

	if (rc == -EACCES || rc == -EPERM || rc == -EROFS)
		udk_log(UDK_LOG_ERR, "pci", "%s %s: %s: binding needs root (or write access to %s)",
			what, bdf, step, path);
	else if (rc < 0)
		udk_log(UDK_LOG_ERR, "pci", "%s %s: %s: writing '%s' to %s failed: %s", what, bdf,
			step, val[0] == '\n' ? "\\n" : val, path, udk_strerror(rc));
	return rc;
}

static int vfio_pci_loaded(void)
{
	char path[512];
	struct stat st;

	if (pci_sysfs_path(path, sizeof(path), "bus/pci/drivers/vfio-pci") < 0)
		return 0;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Undo a bind that got past the unbind step: drop the override and let the
 * kernel probe its own driver again.  Best effort: the error that led here
 * has been logged already. */
static void bind_rollback(const struct udk_pci_addr *addr, const char *bdf)
{
	char path[512];

	if (pci_dev_path(addr, "driver_override", path, sizeof(path)) == 0)
		(void)udk_sysfs_write(path, "\n");
	if (pci_sysfs_path(path, sizeof(path), "bus/pci/drivers_probe") == 0)
		(void)udk_sysfs_write(path, bdf);
}

int udk_pci_bind_vfio(const struct udk_pci_addr *addr)
{
	char bdf[UDK_PCI_ADDR_STRLEN], path[512];
	struct udk_pci_info info;
	int rc;

	rc = udk_pci_info_get(addr, &info);
	if (rc < 0)
		return rc;
	udk_pci_addr_format(addr, bdf, sizeof(bdf));
	if (strcmp(info.driver, "vfio-pci") == 0)
		return 0;
	if (!vfio_pci_loaded()) {
		udk_log(UDK_LOG_ERR, "pci", "bind %s: vfio-pci is not loaded: run 'modprobe vfio-pci'",
			bdf);
		return -UDK_ENOVFIO;
	}

	rc = pci_dev_path(addr, "driver_override", path, sizeof(path));
	if (rc == 0)
		rc = step_write("bind", bdf, "set driver_override", path, "vfio-pci");
	if (rc < 0)
		return rc;

	if (info.driver[0] != '\0') {
		char step[96];

		snprintf(step, sizeof(step), "unbind from %s", info.driver);
		rc = pci_dev_path(addr, "driver/unbind", path, sizeof(path));
		if (rc == 0)
			rc = step_write("bind", bdf, step, path, bdf);
		if (rc < 0)
			goto err_clear_override;
	}

	rc = pci_sysfs_path(path, sizeof(path), "bus/pci/drivers_probe");
	if (rc == 0)
		rc = step_write("bind", bdf, "probe vfio-pci", path, bdf);
	if (rc < 0)
		goto err_rollback;

	rc = pci_dev_path(addr, "driver", path, sizeof(path));
	if (rc == 0 && (udk_sysfs_link_name(path, info.driver, sizeof(info.driver)) < 0))
		info.driver[0] = '\0';
	if (strcmp(info.driver, "vfio-pci") != 0) {
		if (info.iommu_group < 0) {
			udk_log(UDK_LOG_ERR, "pci", "bind %s: vfio-pci refused the device: it has no "
				"IOMMU group; enable the IOMMU (intel_iommu=on or amd_iommu=on, and "
				"VT-d/AMD-Vi in the firmware)", bdf);
			rc = -UDK_ENOIOMMU;
		} else {
			udk_log(UDK_LOG_ERR, "pci", "bind %s: after drivers_probe the device is %s%s, "
				"not vfio-pci; see dmesg for why vfio-pci did not take it", bdf,
				info.driver[0] ? "bound to " : "unbound", info.driver);
			rc = -UDK_ENOTBOUND;
		}
		goto err_rollback;
	}
	udk_log(UDK_LOG_INFO, "pci", "%s bound to vfio-pci", bdf);
	return 0;

err_rollback:
	bind_rollback(addr, bdf);
	return rc;
err_clear_override:
	if (pci_dev_path(addr, "driver_override", path, sizeof(path)) == 0)
		(void)udk_sysfs_write(path, "\n");
	return rc;
}

int udk_pci_unbind_vfio(const struct udk_pci_addr *addr)
{
	char bdf[UDK_PCI_ADDR_STRLEN], path[512];
	struct udk_pci_info info;
	int rc;

	rc = udk_pci_info_get(addr, &info);
	if (rc < 0)
		return rc;
	udk_pci_addr_format(addr, bdf, sizeof(bdf));

	rc = pci_dev_path(addr, "driver_override", path, sizeof(path));
	if (rc == 0)
		rc = step_write("unbind", bdf, "clear driver_override", path, "\n");
	if (rc < 0)
		return rc;
	if (info.driver[0] != '\0' && strcmp(info.driver, "vfio-pci") != 0)
		return 0; /* already on a kernel driver */

	if (info.driver[0] != '\0') {
		rc = pci_dev_path(addr, "driver/unbind", path, sizeof(path));
		if (rc == 0)
			rc = step_write("unbind", bdf, "unbind from vfio-pci", path, bdf);
		if (rc < 0)
			return rc;
	}

	rc = pci_sysfs_path(path, sizeof(path), "bus/pci/drivers_probe");
	if (rc == 0)
		rc = step_write("unbind", bdf, "probe the kernel driver", path, bdf);
	if (rc < 0)
		return rc;

	rc = pci_dev_path(addr, "driver", path, sizeof(path));
	if (rc == 0 && udk_sysfs_link_name(path, info.driver, sizeof(info.driver)) == 0)
		udk_log(UDK_LOG_INFO, "pci", "%s is back on %s", bdf, info.driver);
	else
		udk_log(UDK_LOG_NOTICE, "pci", "%s unbound; no kernel driver took it", bdf);
	return 0;
}
