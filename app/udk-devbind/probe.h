/* SPDX-License-Identifier: BSD-3-Clause */
/* probe.h - udk-devbind probe: what it learns about one device through VFIO
 * (probe.c collects the generic part, probe_nvme.c and probe_net.c the
 * device-specific part, probe_print.c prints it as text or JSON). */
#ifndef UDK_DEVBIND_PROBE_H
#define UDK_DEVBIND_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "udk_iova.h"
#include "udk_pci.h"

#define PROBE_MAX_CAPS 48
#define PROBE_MAX_RANGES 8
#define PROBE_ERR_LEN 512

/* One entry of the capability list (PCI Local Bus 3.0 §6.7). */
struct probe_cap {
	uint8_t id, off;
	int msix_table_size;  /* MSI-X: Table Size + 1 (§6.8.2.3); else -1 */
	int virtio_cfg_type;  /* vendor-specific on virtio: cfg_type; else -1 */
};

/* NVMe 1.4 §3.1: controller registers, and Identify Controller (§5.15). */
struct probe_nvme {
	uint64_t cap;
	uint32_t vs, cc, csts;
	uint32_t mqes;      /* CAP.MQES + 1: entries per queue */
	uint32_t dstrd;     /* doorbell stride: 4 << CAP.DSTRD bytes */
	uint32_t to_ms;     /* CAP.TO * 500 */
	bool css_nvm;       /* CAP.CSS bit 0: NVM command set */
	uint64_t mps_min, mps_max; /* bytes */
	/* Identify Controller, when it ran. */
	bool identified;
	char identify_skipped[128]; /* why not, when it did not run ("" if it did) */
	char model[41], serial[21], firmware[9];
	uint16_t cntlid;
	uint32_t nn;        /* number of namespaces */
	uint32_t ver;       /* VER in the Identify data */
	uint64_t identify_us;
};

/* 82574 / 8254x: receive address 0 and the device status. */
struct probe_e1000 {
	uint8_t mac[6];
	bool mac_valid;     /* RAH0.AV */
	uint32_t status;
	bool link_up, full_duplex;
	int speed_mbps;
};

/* virtio 1.1 §4.1.4: modern virtio over PCI. */
struct probe_virtio {
	bool common_found, device_found, notify_found, isr_found;
	uint64_t features;
	bool version_1, access_platform;
	uint16_t num_queues;
	bool net;           /* 1af4:1041 */
	bool has_mac;       /* VIRTIO_NET_F_MAC offered */
	uint8_t mac[6];
	uint8_t status_after; /* device_status when we left: 0 (reset) */
};

enum probe_kind { PROBE_GENERIC, PROBE_NVME, PROBE_E1000, PROBE_VIRTIO };

struct probe_result {
	char bdf[UDK_PCI_ADDR_STRLEN];
	char error[PROBE_ERR_LEN];    /* "" on success */
	struct udk_pci_info info;     /* sysfs, after --bind */
	char driver_before[64];       /* --bind: the driver it had */
	bool bound;                   /* --bind moved it to vfio-pci */
	/* config space through VFIO (PCI Local Bus 3.0 §6.2) */
	uint16_t vendor, device, subsys_vendor, subsys_device, command;
	uint8_t revision;
	uint32_t class_code;
	struct probe_cap caps[PROBE_MAX_CAPS];
	int ncaps;
	struct udk_pci_bar_info bars[6]; /* size 0: absent */
	/* the IOMMU side */
	int iommu_group;
	char map_name[64];
	const char *map_backend;
	uint64_t iova_pgsizes;
	struct udk_iova_range ranges[PROBE_MAX_RANGES];
	size_t nranges;
	enum probe_kind kind;
	union {
		struct probe_nvme nvme;
		struct probe_e1000 e1000;
		struct probe_virtio virtio;
	} u;
};

struct probe_opts {
	bool json, bind, no_dma, force;
};

/* Device-specific parts: 0, or a negative error after saying why (a
 * library error is already logged; our own goes through probe_fail). */
int probe_nvme(struct udk_pci_dev *pdev, struct probe_result *r, bool no_dma);
int probe_e1000(struct udk_pci_dev *pdev, struct probe_result *r);
int probe_virtio(struct udk_pci_dev *pdev, struct probe_result *r);

/* Record an error of our own for r (and print it on stderr):
 * "<bdf>: <message>".  Returns rc. */
int probe_fail(struct probe_result *r, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* MMIO helpers for the BARs (little-endian devices, x86 host). */
static inline uint32_t probe_rd32(const volatile void *base, uint32_t off)
{
	return *(const volatile uint32_t *)((const volatile uint8_t *)base + off);
}

static inline void probe_wr32(volatile void *base, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)((volatile uint8_t *)base + off) = v;
}

uint64_t probe_now_us(void);

void probe_print_text(const struct probe_result *r);
/* One element of the JSON array; first: no leading comma. */
void probe_print_json(const struct probe_result *r, bool first);

#endif
