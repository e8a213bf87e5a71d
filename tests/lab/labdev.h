/* SPDX-License-Identifier: BSD-3-Clause */
/* labdev.h - just enough of an NVMe controller and of a virtio-net device to
 * make each do real DMA through a udk map in the lab: an admin queue pair with
 * Identify (NVMe 1.4 §5.15), and one transmit virtqueue (virtio 1.1 §2.6,
 * §5.1).  These are test instruments for the map object, not the drivers
 * (those are drivers/nvme and drivers/net/virtio). */
#ifndef UDK_LABDEV_H
#define UDK_LABDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "udk_dma.h"
#include "udk_pci.h"

/* Exit codes meson understands. */
#define LAB_PASS 0
#define LAB_FAIL 1
#define LAB_SKIP 77

/* Print the failed expression with its place, the last udk error, and fail. */
#define LAB_CHECK(cond)                                                                    \
	do {                                                                               \
		if (!(cond)) {                                                             \
			lab_fail(__FILE__, __LINE__, #cond);                               \
			return LAB_FAIL;                                                   \
		}                                                                          \
	} while (0)
/* rc must equal want; prints both with their names. */
#define LAB_CHECK_RC(expr, want)                                                           \
	do {                                                                               \
		int rc_ = (expr);                                                          \
		if (rc_ != (want)) {                                                       \
			lab_fail_rc(__FILE__, __LINE__, #expr, rc_, (want));               \
			return LAB_FAIL;                                                   \
		}                                                                          \
	} while (0)

void lab_fail(const char *file, int line, const char *expr);
void lab_fail_rc(const char *file, int line, const char *expr, int rc, int want);
/* Does udk_last_error() contain text?  Prints it either way. */
bool lab_last_error_has(const char *text);

/* The nth (0-based) PCI function with vendor:device.  0, or -ENODEV. */
int lab_find(uint16_t vendor, uint16_t device, int nth, struct udk_pci_addr *addr, char *bdf,
	     size_t len);
/* The same, bound to vfio-pci on the way. */
int lab_find_bind(uint16_t vendor, uint16_t device, int nth, struct udk_pci_addr *addr,
		  char *bdf, size_t len);

/* Give the nth vendor:device NIC to its kernel driver and bring its
 * interface up, so it takes what the hub sends it: QEMU's hub holds a
 * sender's frames while no peer receives (LAB.md), and a transmit would then
 * never complete. */
int lab_peer_up(uint16_t vendor, uint16_t device, int nth, const char *driver);

struct lab_nvme {
	struct udk_pci_dev *pdev;
	struct udk_dmamap *map;
	volatile uint8_t *bar;
	uint32_t dstrd;
	uint32_t timeout_ms;
	void *sq, *cq;
	uint64_t sq_iova, cq_iova;
	uint16_t sq_tail, cq_head, cid;
	uint8_t phase;
};

/* Reset the controller and bring up an admin queue pair whose memory comes
 * from udk_mem_default_zmalloc() and whose IOVAs are taken from map. */
int lab_nvme_init(struct lab_nvme *n, struct udk_pci_dev *pdev, struct udk_dmamap *map);
/* Identify Controller into the 4 KiB at IOVA prp1; waits for the completion
 * and returns its status field (0 = success), or a negative error. */
int lab_nvme_identify(struct lab_nvme *n, uint64_t prp1);
/* Does the 4 KiB Identify Controller data say "QEMU NVMe Ctrl"? */
bool lab_nvme_identify_ok(const void *data, const char *serial);
/* Disable the controller (when touch: not after a detach, which took the
 * BARs away) and free the queues. */
void lab_nvme_fini(struct lab_nvme *n, bool touch);

struct lab_virtio {
	struct udk_pci_dev *pdev;
	struct udk_dmamap *map;
	volatile uint8_t *common, *notify, *isr;
	uint32_t notify_mult;
	uint16_t qsize, notify_off, avail_idx, used_seen;
	void *ring;  /* descriptor table, avail ring, used ring */
	void *bufs;  /* one 2 KiB buffer per descriptor */
	uint64_t ring_iova, bufs_iova;
	uint64_t features;
};

/* Reset the device, negotiate VERSION_1 and ACCESS_PLATFORM (refused when
 * absent: then the device would bypass the IOMMU), and set up the transmit
 * queue (queue 1) in memory from udk_mem_default_zmalloc() mapped in map. */
int lab_virtio_init(struct lab_virtio *v, struct udk_pci_dev *pdev, struct udk_dmamap *map);
/* Send one frame and wait until the device has consumed it (used ring). */
int lab_virtio_tx(struct lab_virtio *v, const void *frame, size_t len);
void lab_virtio_fini(struct lab_virtio *v, bool touch);

#endif
