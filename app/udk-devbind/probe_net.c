/* SPDX-License-Identifier: BSD-3-Clause */
/* probe_net.c - identify the lab's NICs through VFIO by reading their
 * registers: Intel 82574 (e1000e) and 8254x (e1000) receive address 0 and
 * device status, and modern virtio devices' features and (virtio-net) MAC.
 * Nothing here does DMA; a virtio device is left reset (status 0). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "devbind.h"
#include "probe.h"
#include "udk_util.h"

/* ---- Intel 82574 / 8254x ------------------------------------------------
 * The 82574 (Intel 82574 GbE Controller Family Datasheet, rev 3.4, §10.2
 * register descriptions: STATUS at 0x00008, RAL/RAH at 0x05400/0x05404) keeps
 * the registers of the 8254x family (PCI/PCI-X Family of Gigabit Ethernet
 * Controllers Software Developer's Manual: §13.4.2 STATUS, §13.5.2 RAL,
 * §13.5.3 RAH, §2.5 byte order: RAL bits 7:0 are the first byte on the wire).
 * After reset the device loads RAL0/RAH0 from its NVM, with AV set. */
#define E1000_STATUS 0x0008
#define E1000_STATUS_FD 0x1          /* bit 0: full duplex */
#define E1000_STATUS_LU 0x2          /* bit 1: link up */
#define E1000_STATUS_SPEED_SHIFT 6   /* bits 7:6: 00 10, 01 100, 1x 1000 Mb/s */
#define E1000_RAL0 0x5400            /* address bytes 3:0, first byte lowest */
#define E1000_RAH0 0x5404            /* bytes 5:4 in bits 15:0 */
#define E1000_RAH_AV 0x80000000u     /* bit 31: Address Valid */

int probe_e1000(struct udk_pci_dev *pdev, struct probe_result *r)
{
	struct probe_e1000 *e = &r->u.e1000;
	static const int speeds[4] = {10, 100, 1000, 1000};
	uint32_t ral, rah;
	size_t len;
	void *va;
	int rc;

	rc = udk_pci_bar_map(pdev, 0, &va, &len);
	if (rc < 0)
		return rc;
	if (len < E1000_RAH0 + 4)
		return probe_fail(r, -ENOTSUP, "BAR0 is %zu bytes: too small for the MAC registers",
				  len);
	e->status = probe_rd32(va, E1000_STATUS);
	ral = probe_rd32(va, E1000_RAL0);
	rah = probe_rd32(va, E1000_RAH0);
	if (e->status == 0xffffffffu && rah == 0xffffffffu)
		return probe_fail(r, -ENODEV, "BAR0 reads all ones: the device is not there");
	for (int i = 0; i < 4; i++)
		e->mac[i] = (uint8_t)(ral >> (8 * i));
	e->mac[4] = (uint8_t)rah;
	e->mac[5] = (uint8_t)(rah >> 8);
	e->mac_valid = (rah & E1000_RAH_AV) != 0;
	e->link_up = (e->status & E1000_STATUS_LU) != 0;
	e->full_duplex = (e->status & E1000_STATUS_FD) != 0;
	e->speed_mbps = speeds[(e->status >> E1000_STATUS_SPEED_SHIFT) & 3];
	return 0;
}

/* ---- virtio over PCI, modern (virtio 1.1 §4.1) --------------------------- */

/* §4.1.4: struct virtio_pci_cap, and its cfg_type values. */
#define VIRTIO_CAP_BAR 4
#define VIRTIO_CAP_OFFSET 8
#define VIRTIO_CAP_LENGTH 12
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4

/* §4.1.4.3: struct virtio_pci_common_cfg. */
#define VC_DEVICE_FEATURE_SELECT 0
#define VC_DEVICE_FEATURE 4
#define VC_NUM_QUEUES 18
#define VC_DEVICE_STATUS 20
#define VC_CONFIG_GENERATION 21
#define VC_COMMON_MIN_LEN 56

/* §2.1: device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2

/* §6: reserved feature bits; §5.1.3: virtio-net feature bits. */
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_CFG_MAC 0         /* §5.1.4: mac[6] at offset 0 */

struct vregion {
	volatile uint8_t *va;
	uint32_t len;
};

/* Map the BAR a virtio capability points into and check the window fits. */
static int virtio_region(struct udk_pci_dev *pdev, struct probe_result *r, uint8_t pos,
			 struct vregion *out)
{
	uint8_t cap[16];
	uint32_t off, clen;
	size_t blen;
	void *va;
	int rc;

	rc = udk_pci_cfg_read(pdev, pos, cap, sizeof(cap));
	if (rc < 0)
		return rc;
	memcpy(&off, cap + VIRTIO_CAP_OFFSET, 4);
	memcpy(&clen, cap + VIRTIO_CAP_LENGTH, 4);
	if (cap[VIRTIO_CAP_BAR] > 5)
		return probe_fail(r, -EINVAL, "virtio capability at 0x%02x names BAR %u", pos,
				  cap[VIRTIO_CAP_BAR]);
	rc = udk_pci_bar_map(pdev, cap[VIRTIO_CAP_BAR], &va, &blen);
	if (rc < 0)
		return rc;
	if ((uint64_t)off + clen > blen)
		return probe_fail(r, -EINVAL, "virtio capability at 0x%02x: window 0x%x+0x%x is "
				  "outside BAR %u (%zu bytes)", pos, off, clen,
				  cap[VIRTIO_CAP_BAR], blen);
	out->va = (volatile uint8_t *)va + off;
	out->len = clen;
	return 0;
}

#define C8(o) (*(volatile uint8_t *)(common.va + (o)))
#define C16(o) (*(volatile uint16_t *)(common.va + (o)))
#define C32(o) (*(volatile uint32_t *)(common.va + (o)))

/* §4.1.4.3.2: writing 0 to device_status resets the device; the driver
 * waits until it reads back 0. */
static int virtio_reset(struct vregion common)
{
	uint64_t end = probe_now_us() + 5000000u;

	C8(VC_DEVICE_STATUS) = 0;
	while (C8(VC_DEVICE_STATUS) != 0) {
		if (probe_now_us() > end)
			return -ETIMEDOUT;
		usleep(100);
	}
	return 0;
}

int probe_virtio(struct udk_pci_dev *pdev, struct probe_result *r)
{
	struct probe_virtio *v = &r->u.virtio;
	struct vregion common = {0}, devcfg = {0};
	int rc;

	v->net = r->device == 0x1041; /* §4.1.2: 0x1040 + device type 1 */
	for (int i = 0; i < r->ncaps; i++) {
		const struct probe_cap *c = &r->caps[i];

		switch (c->virtio_cfg_type) {
		case VIRTIO_PCI_CAP_COMMON_CFG:
			/* §4.1.4.1: the first capability of a type is the one to use */
			if (v->common_found)
				break;
			rc = virtio_region(pdev, r, c->off, &common);
			if (rc < 0)
				return rc;
			v->common_found = true;
			break;
		case VIRTIO_PCI_CAP_DEVICE_CFG:
			if (v->device_found)
				break;
			rc = virtio_region(pdev, r, c->off, &devcfg);
			if (rc < 0)
				return rc;
			v->device_found = true;
			break;
		case VIRTIO_PCI_CAP_NOTIFY_CFG:
			v->notify_found = true;
			break;
		case VIRTIO_PCI_CAP_ISR_CFG:
			v->isr_found = true;
			break;
		}
	}
	if (!v->common_found || common.len < VC_COMMON_MIN_LEN)
		return probe_fail(r, -ENOTSUP, "no virtio common configuration capability: not a "
				  "modern (virtio 1.0+) PCI device");

	/* §3.1.1 steps 1-4: reset, ACKNOWLEDGE, DRIVER, read the device's
	 * features; a driver may read the device configuration before
	 * accepting them.  We accept nothing and reset again. */
	rc = virtio_reset(common);
	if (rc < 0)
		return probe_fail(r, rc, "virtio: device_status did not read back 0 after reset");
	C8(VC_DEVICE_STATUS) = VIRTIO_STATUS_ACKNOWLEDGE;
	C8(VC_DEVICE_STATUS) = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	C32(VC_DEVICE_FEATURE_SELECT) = 0;
	v->features = C32(VC_DEVICE_FEATURE);
	C32(VC_DEVICE_FEATURE_SELECT) = 1;
	v->features |= (uint64_t)C32(VC_DEVICE_FEATURE) << 32;
	v->num_queues = C16(VC_NUM_QUEUES);
	v->version_1 = (v->features >> VIRTIO_F_VERSION_1) & 1;
	v->access_platform = (v->features >> VIRTIO_F_ACCESS_PLATFORM) & 1;

	if (v->net && (v->features >> VIRTIO_NET_F_MAC & 1) && v->device_found &&
	    devcfg.len >= VIRTIO_NET_CFG_MAC + 6) {
		uint8_t gen;
		int tries = 0;

		v->has_mac = true;
		/* §4.1.4.3.1 / §2.4: read until config_generation is stable. */
		do {
			gen = C8(VC_CONFIG_GENERATION);
			for (int i = 0; i < 6; i++)
				v->mac[i] = devcfg.va[VIRTIO_NET_CFG_MAC + i];
		} while (gen != C8(VC_CONFIG_GENERATION) && ++tries < 100);
	}

	rc = virtio_reset(common);
	v->status_after = C8(VC_DEVICE_STATUS);
	if (rc < 0)
		return probe_fail(r, rc, "virtio: device_status did not read back 0 after the "
				  "final reset (0x%x)", v->status_after);
	if (!v->access_platform)
		errmsg("warning: %s: virtio device does not offer VIRTIO_F_ACCESS_PLATFORM: it "
		       "would bypass the IOMMU, and udk will refuse it (QEMU: iommu_platform=on)",
		       r->bdf);
	return 0;
}
