/* SPDX-License-Identifier: BSD-3-Clause */
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

/* One BAR, as VFIO and the BAR register describe it (PCI Local Bus 3.0
 * §6.2.5.1).  A small value type: the caller owns it. */
struct udk_pci_bar_info {
	uint64_t size;  /* bytes; 0 when the device does not implement the BAR
	                 * (or it is the upper half of a 64-bit BAR) */
	bool mmap;      /* VFIO lets udk_pci_bar_map() map it */
	bool io;        /* I/O space; else memory */
	bool mem64;     /* memory BAR: 64-bit (it takes the next BAR's slot too) */
	bool prefetch;  /* memory BAR: prefetchable */
};

/* Describe BAR bar (0..5) into info without mapping it: size and mmap flag
 * from VFIO's region info, type from the BAR register in config space.  An
 * absent BAR is no error (size 0, all false).  0, -EINVAL for a bar outside
 * 0..5 or a NULL info, -UDK_EREMOVED after removal, or -errno of VFIO (each
 * failure logged).  Attaches the device to a private map on first use, as
 * every VFIO call here does. */
int udk_pci_bar_info(struct udk_pci_dev *pdev, int bar, struct udk_pci_bar_info *info);

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
/* The MSI-X table size VFIO reports (vectors udk_pci_msix_enable() may ask
 * for): > 0, -ENOTSUP without MSI-X (with a line), or -errno of VFIO. */
int udk_pci_msix_count(struct udk_pci_dev *pdev);

/* Function-level reset through VFIO_DEVICE_RESET.  -ENOTSUP if the device
 * has none. */
int udk_pci_reset(struct udk_pci_dev *pdev);

/* ---- hot-plug (doc/hotplug.md) ----
 *
 * Surprise removal.  Every device opened here registers VFIO's request
 * interrupt (VFIO_PCI_REQ_IRQ_INDEX) on an eventfd that lib/pci's hot-plug
 * thread watches (epoll; started with the first device).  When the kernel
 * asks for the device back (hot-unplug, `echo 1 > .../remove`, unbind), that
 * thread removes it: it marks it removed, calls the driver's remove handler,
 * swaps every mapped BAR for anonymous memory filled with 0xff (so a late
 * MMIO read returns all ones and a late write lands nowhere, never SIGBUS or
 * SIGSEGV), closes the udk_device (detached from its map, other devices of
 * the map untouched; device fd and, with its last device, group fd closed,
 * so the kernel's unplug completes), then tells the event callbacks.  The
 * struct udk_pci_dev stays valid until its owner calls udk_pci_dev_close();
 * every call on it but close answers -UDK_EREMOVED. */

/* Called on the hot-plug thread when removal begins, before the BARs are
 * swapped and the device closed.  The driver flags its queues removed (what
 * its fast path reads; the queues' own threads then complete what is
 * outstanding with -UDK_EREMOVED).  It runs under lib/pci's hot-plug lock:
 * it must not block, take a lock held around udk_pci_dev_close(), or close
 * the device.  One handler per device; NULL removes it. */
typedef void (*udk_pci_remove_fn)(struct udk_pci_dev *pdev, void *arg);
void udk_pci_dev_set_remove_handler(struct udk_pci_dev *pdev, udk_pci_remove_fn fn, void *arg);

/* True once removal has begun.  Lock-free (one relaxed load), any thread. */
bool udk_pci_dev_removed(const struct udk_pci_dev *pdev);

/* Remove pdev as the request interrupt would (the same steps, on the calling
 * thread): for an application that gives a device back, and for tests.
 * 0, or 0 again when it was already removed.  Control path. */
int udk_pci_dev_remove(struct udk_pci_dev *pdev);

enum udk_pci_event_type {
	UDK_PCI_EVENT_REMOVED = 1, /* a device of this process was removed */
	UDK_PCI_EVENT_ADDED,       /* the hot-add monitor opened a new device */
};

struct udk_pci_event {
	enum udk_pci_event_type type;
	struct udk_pci_addr addr;
	char bdf[UDK_PCI_ADDR_STRLEN];
	uint16_t vendor_id, device_id;
	/* REMOVED: the removed device, for identity (its owner still closes
	 * it).  ADDED: the new device, opened and attached to the monitor's map;
	 * it belongs to the application from now on (udk_pci_dev_close()). */
	struct udk_pci_dev *pdev;
};

/* Called on the hot-plug thread with no lib/pci lock held: it may open and
 * attach devices (start an ADDED device's driver) and should hand the rest
 * to the application's own threads.  It must not close ev->pdev of a
 * REMOVED event: its owner does that, on its own thread. */
typedef void (*udk_pci_event_fn)(const struct udk_pci_event *ev, void *arg);

/* Register / unregister an event callback (up to 8; the same fn and arg
 * once).  0, -ENOSPC, -EEXIST; unregister: 0 or -ENOENT.  Thread-safe. */
int udk_pci_event_register(udk_pci_event_fn fn, void *arg);
int udk_pci_event_unregister(udk_pci_event_fn fn, void *arg);

/* Hot-add: a netlink (NETLINK_KOBJECT_UEVENT) monitor on the hot-plug thread
 * that notices PCI functions appearing and opens those the allow-list takes
 * (a vendor:device pair or an address), attached to map, and hands them to
 * the event callbacks as UDK_PCI_EVENT_ADDED.  With bind, a device that is
 * not on vfio-pci is bound to it first (root); without, the monitor waits
 * for someone else to bind it.  Devices already open are left alone, and
 * the map and its other devices are not touched. */
struct udk_pci_id {
	uint16_t vendor_id, device_id;
};
struct udk_pci_hotadd_opts {
	size_t opts_size;          /* set by udk_pci_hotadd_opts_init() */
	struct udk_dmamap *map;    /* required; a reference is held while monitoring */
	bool bind;                 /* bind matching devices to vfio-pci */
	const struct udk_pci_id *ids; /* copied */
	size_t nb_ids;
	const struct udk_pci_addr *addrs; /* copied */
	size_t nb_addrs;
};
void udk_pci_hotadd_opts_init(struct udk_pci_hotadd_opts *opts, size_t size);
/* Start the monitor (one per process).  0, -EBUSY (running), -EINVAL (no map
 * or an empty allow-list), or the socket's error. */
int udk_pci_hotadd_start(const struct udk_pci_hotadd_opts *opts);
void udk_pci_hotadd_stop(void);

/* Stop the hot-plug thread and the monitor (udk_eal_cleanup() calls it once
 * every device is closed). */
void udk_pci_hotplug_fini(void);

#ifdef __cplusplus
}
#endif
#endif
