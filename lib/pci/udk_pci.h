/* udk_pci.h - PCI devices: addresses, the sysfs scan, binding to vfio-pci,
 * and the VFIO view of one function (regions, BARs, config space, bus
 * mastering, MSI-X to eventfds, reset).
 *
 * A struct udk_pci_dev sits on a struct udk_device of lib/dma, which owns the
 * group and the map attachment.  All calls are control path and may be made
 * from any thread, one thread per device at a time.
 */
#ifndef UDK_PCI_H
#define UDK_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "udk_dma.h"

#ifdef __cplusplus
extern "C" {
#endif

struct udk_pci_addr {
	uint16_t domain;
	uint8_t bus;
	uint8_t dev;  /* 0..31 */
	uint8_t func; /* 0..7 */
};

#define UDK_PCI_ADDR_STRLEN 13 /* "DDDD:BB:DD.F" + NUL */

/* "0000:03:00.1" or "03:00.1" (domain 0).  0 or -UDK_EBADADDR. */
int udk_pci_addr_parse(const char *s, struct udk_pci_addr *addr);
/* Always "DDDD:BB:DD.F". */
void udk_pci_addr_format(const struct udk_pci_addr *addr, char *buf, size_t len);
int udk_pci_addr_cmp(const struct udk_pci_addr *a, const struct udk_pci_addr *b);

/* What sysfs says about one function. */
struct udk_pci_info {
	struct udk_pci_addr addr;
	uint16_t vendor_id, device_id;
	uint16_t subsys_vendor_id, subsys_device_id;
	uint32_t class_code;   /* 24 bits: class, subclass, prog-if */
	int numa_node;         /* -1 when unknown */
	int iommu_group;       /* -1 when the device has none (IOMMU off) */
	char driver[64];       /* bound driver, "" if none */
	char driver_override[64];
};

/* Fill info for addr from udk_sysfs_root().  -ENODEV if there is no such
 * device. */
int udk_pci_info_get(const struct udk_pci_addr *addr, struct udk_pci_info *info);

/* Call fn for every PCI function, in address order, until it returns
 * non-zero (which scan then returns). */
int udk_pci_scan(int (*fn)(const struct udk_pci_info *info, void *arg), void *arg);

/* Why the group of addr is not viable: fills blocker with the first other
 * device of the group bound to a driver that is not vfio-pci (or pci-stub,
 * pcieport), and returns 1; 0 when viable; -errno on a read error. */
int udk_pci_group_blocker(int iommu_group, struct udk_pci_info *blocker);

/* Bind addr to vfio-pci (driver_override, unbind, drivers_probe).  Binding a
 * device already on vfio-pci succeeds.  -EACCES/-EPERM when not root,
 * -UDK_ENOVFIO when vfio-pci is not loaded. */
int udk_pci_bind_vfio(const struct udk_pci_addr *addr);
/* Give addr back to its kernel driver: clear driver_override, unbind from
 * vfio-pci and let the kernel probe its own driver again. */
int udk_pci_unbind_vfio(const struct udk_pci_addr *addr);

struct udk_pci_dev;

/* Open the function at addr through VFIO.  With map, attach it there; with
 * NULL, it gets a private map on first use (udk_device_fd()). */
int udk_pci_dev_open(const struct udk_pci_addr *addr, struct udk_dmamap *map,
		     struct udk_pci_dev **out);
void udk_pci_dev_close(struct udk_pci_dev *pdev);
/* The same with a VFIO device fd handed over by udk-broker (owned by pdev
 * from now on, closed on failure too); map must be a brokered map
 * (udk_device_open_fd()). */
int udk_pci_dev_open_fd(const struct udk_pci_addr *addr, int fd, struct udk_dmamap *map,
			struct udk_pci_dev **out);

struct udk_device *udk_pci_dev_device(struct udk_pci_dev *pdev);
const struct udk_pci_info *udk_pci_dev_info(const struct udk_pci_dev *pdev);

/* mmap BAR bar (0..5) and return its address and length.  The mapping is
 * made once and kept until the device is detached or closed; a detach drops
 * it, and the next call after a re-attach maps it again.  -ENOTSUP for an
 * I/O-port BAR or one VFIO cannot mmap. */
int udk_pci_bar_map(struct udk_pci_dev *pdev, int bar, void **va, size_t *len);

/* Config space through the VFIO config region.  0 or -errno. */
int udk_pci_cfg_read(struct udk_pci_dev *pdev, uint32_t off, void *buf, size_t len);
int udk_pci_cfg_write(struct udk_pci_dev *pdev, uint32_t off, const void *buf, size_t len);
int udk_pci_bus_master(struct udk_pci_dev *pdev, bool enable);

/* Route MSI-X vectors 0..nvec-1 to new eventfds (VFIO_DEVICE_SET_IRQS); efds
 * gets them (owned by pdev).  -ENOTSUP without MSI-X, -E2BIG past the table. */
int udk_pci_msix_enable(struct udk_pci_dev *pdev, unsigned int nvec, int *efds);
int udk_pci_msix_disable(struct udk_pci_dev *pdev);

/* Function-level reset through VFIO_DEVICE_RESET.  -ENOTSUP if the device
 * has none. */
int udk_pci_reset(struct udk_pci_dev *pdev);

#ifdef __cplusplus
}
#endif
#endif
