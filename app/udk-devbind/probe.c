/* SPDX-License-Identifier: BSD-3-Clause */
/* probe.c - udk-devbind probe: open each device through VFIO (a private map
 * on first use) and identify it from what VFIO shows: config space, the
 * capability list, the BARs, the IOMMU group and the map, then the device's
 * own registers (probe_nvme.c, probe_net.c).  Everything is read through
 * lib/pci, never through sysfs resource files or VFIO ioctls of our own. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "devbind.h"
#include "probe.h"
#include "udk_util.h"

/* PCI Local Bus 3.0 §6.2 (type 0 header) and §6.7 (capabilities). */
#define CFG_VENDOR 0x00
#define CFG_COMMAND 0x04
#define CFG_STATUS 0x06
#define CFG_STATUS_CAPLIST 0x10   /* §6.2.3: bit 4, Capabilities List */
#define CFG_REVISION 0x08
#define CFG_SUBSYS_VENDOR 0x2c
#define CFG_CAP_PTR 0x34
#define CFG_HDR_LEN 0x40
#define CAP_ID_MSIX 0x11
#define CAP_ID_VENDOR 0x09

uint64_t probe_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int probe_fail(struct probe_result *r, int rc, const char *fmt, ...)
{
	char msg[PROBE_ERR_LEN - UDK_PCI_ADDR_STRLEN - 4];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(r->error, sizeof(r->error), "%s: %s", r->bdf, msg);
	errmsg("%s", r->error);
	return rc;
}

/* After a library call failed: keep the line it logged (already on stderr
 * through the log sink), or at least the code's meaning. */
static int lib_fail(struct probe_result *r, int rc, const char *step)
{
	const char *last = udk_last_error();

	if (last[0] != '\0') {
		snprintf(r->error, sizeof(r->error), "%s", last);
		return rc;
	}
	return probe_fail(r, rc, "%s: %s", step, udk_strerror(rc));
}

/* The capability list: at most 48 entries (256-byte space, 4-byte aligned,
 * not below 0x40), which also ends a looping list. */
static int walk_caps(struct udk_pci_dev *pdev, struct probe_result *r, uint16_t status)
{
	uint8_t pos, hdr[4];
	int rc;

	if (!(status & CFG_STATUS_CAPLIST))
		return 0;
	rc = udk_pci_cfg_read(pdev, CFG_CAP_PTR, &pos, 1);
	if (rc < 0)
		return rc;
	pos &= 0xfc;
	while (pos >= CFG_HDR_LEN && r->ncaps < PROBE_MAX_CAPS) {
		struct probe_cap *c = &r->caps[r->ncaps++];

		rc = udk_pci_cfg_read(pdev, pos, hdr, sizeof(hdr));
		if (rc < 0)
			return rc;
		c->id = hdr[0];
		c->off = pos;
		c->msix_table_size = -1;
		c->virtio_cfg_type = -1;
		if (c->id == CAP_ID_MSIX) {
			/* §6.8.2.3 Message Control: bits 10:0, Table Size (N-1) */
			uint16_t ctl = (uint16_t)(hdr[2] | hdr[3] << 8);

			c->msix_table_size = (ctl & 0x7ff) + 1;
		} else if (c->id == CAP_ID_VENDOR && r->vendor == 0x1af4) {
			uint8_t type;

			/* virtio 1.1 §4.1.4: struct virtio_pci_cap, cfg_type at 3 */
			rc = udk_pci_cfg_read(pdev, pos + 3u, &type, 1);
			if (rc < 0)
				return rc;
			c->virtio_cfg_type = type;
		}
		pos = hdr[1] & 0xfc;
	}
	return 0;
}

/* Each BAR as lib/pci describes it (VFIO's region info, the BAR register). */
static int read_bars(struct udk_pci_dev *pdev, struct probe_result *r)
{
	int rc;

	for (int i = 0; i < 6; i++) {
		rc = udk_pci_bar_info(pdev, i, &r->bars[i]);
		if (rc < 0)
			return rc; /* lib/pci said why */
	}
	return 0;
}

static int read_map(struct udk_pci_dev *pdev, struct probe_result *r)
{
	struct udk_device *dev = udk_pci_dev_device(pdev);
	struct udk_dmamap *map = udk_device_map(dev);
	struct udk_dmamap_info mi;
	int rc;

	r->iommu_group = udk_device_iommu_group(dev);
	if (map == NULL)
		return probe_fail(r, -UDK_EDETACHED, "the device is attached to no map");
	snprintf(r->map_name, sizeof(r->map_name), "%s", udk_dmamap_name(map));
	rc = udk_dmamap_info(map, &mi);
	if (rc < 0)
		return rc;
	r->map_backend = udk_dmamap_backend_name(mi.backend);
	r->iova_pgsizes = mi.iova_pgsizes;
	return udk_dmamap_iova_ranges(map, r->ranges, PROBE_MAX_RANGES, &r->nranges);
}

static enum probe_kind kind_of(const struct probe_result *r)
{
	if (r->class_code == 0x010802)
		return PROBE_NVME; /* mass storage, NVM, NVMe I/O controller */
	if (r->vendor == 0x8086 && (r->device == 0x10d3 || r->device == 0x100e))
		return PROBE_E1000; /* 82574L (e1000e), 82540EM (e1000) */
	if (r->vendor == 0x1af4 && r->device >= 0x1040 && r->device <= 0x107f)
		return PROBE_VIRTIO; /* virtio 1.1 §4.1.2: modern device ids */
	return PROBE_GENERIC;
}

static int probe_open_dev(struct udk_pci_dev *pdev, struct probe_result *r,
			  const struct probe_opts *o)
{
	uint8_t hdr[CFG_HDR_LEN];
	uint16_t status;
	int fd, rc;

	/* The simple case: the device's first use attaches it to a private map. */
	rc = udk_device_fd(udk_pci_dev_device(pdev), &fd);
	if (rc < 0)
		return lib_fail(r, rc, "attach to a private map");
	rc = udk_pci_cfg_read(pdev, 0, hdr, sizeof(hdr));
	if (rc < 0)
		return lib_fail(r, rc, "config read");
	memcpy(&r->vendor, hdr + CFG_VENDOR, 2);
	memcpy(&r->device, hdr + CFG_VENDOR + 2, 2);
	memcpy(&r->command, hdr + CFG_COMMAND, 2);
	memcpy(&status, hdr + CFG_STATUS, 2);
	r->revision = hdr[CFG_REVISION];
	r->class_code = (uint32_t)hdr[0x0b] << 16 | (uint32_t)hdr[0x0a] << 8 | hdr[0x09];
	memcpy(&r->subsys_vendor, hdr + CFG_SUBSYS_VENDOR, 2);
	memcpy(&r->subsys_device, hdr + CFG_SUBSYS_VENDOR + 2, 2);
	if ((hdr[0x0e] & 0x7f) != 0)
		return probe_fail(r, -ENOTSUP, "header type %u is not a type 0 (endpoint) header",
				  hdr[0x0e] & 0x7f);

	rc = walk_caps(pdev, r, status);
	if (rc < 0)
		return lib_fail(r, rc, "capability list");
	rc = read_bars(pdev, r);
	if (rc < 0)
		return lib_fail(r, rc, "BARs");
	rc = read_map(pdev, r);
	if (rc < 0)
		return r->error[0] ? rc : lib_fail(r, rc, "map");

	r->kind = kind_of(r);
	switch (r->kind) {
	case PROBE_NVME:
		rc = probe_nvme(pdev, r, o->no_dma);
		break;
	case PROBE_E1000:
		rc = probe_e1000(pdev, r);
		break;
	case PROBE_VIRTIO:
		rc = probe_virtio(pdev, r);
		break;
	default:
		rc = 0;
	}
	if (rc < 0 && r->error[0] == '\0')
		lib_fail(r, rc, "device registers");
	return rc;
}

static int probe_one(const struct udk_pci_addr *addr, struct probe_result *r,
		     const struct probe_opts *o)
{
	struct udk_pci_dev *pdev;
	int rc;

	udk_last_error_clear();
	udk_pci_addr_format(addr, r->bdf, sizeof(r->bdf));
	rc = udk_pci_info_get(addr, &r->info);
	if (rc < 0)
		return lib_fail(r, rc, "sysfs");
	if (o->bind && strcmp(r->info.driver, "vfio-pci") != 0) {
		if (devbind_refuse_in_use("probe --bind", r->bdf, r->info.driver, o->force))
			return probe_fail(r, -EBUSY, "not bound, not probed: the machine uses it "
					  "(see above)");
		snprintf(r->driver_before, sizeof(r->driver_before), "%s", r->info.driver);
		rc = udk_pci_bind_vfio(addr);
		if (rc < 0)
			return lib_fail(r, rc, "bind to vfio-pci");
		r->bound = true;
		rc = udk_pci_info_get(addr, &r->info);
		if (rc < 0)
			return lib_fail(r, rc, "sysfs");
	}
	rc = udk_pci_dev_open(addr, NULL, &pdev);
	if (rc < 0)
		return lib_fail(r, rc, "open");
	rc = probe_open_dev(pdev, r, o);
	udk_pci_dev_close(pdev);
	return rc;
}

int cmd_probe(const struct udk_pci_addr *addrs, int n, bool json, bool bind, bool no_dma,
	      bool force)
{
	struct probe_opts o = {.json = json, .bind = bind, .no_dma = no_dma, .force = force};
	static struct probe_result r; /* large: not on the stack */
	int status = EXIT_OK;

	if (json)
		printf("[");
	for (int i = 0; i < n; i++) {
		memset(&r, 0, sizeof(r));
		if (probe_one(&addrs[i], &r, &o) < 0)
			status = EXIT_FAIL;
		if (json)
			probe_print_json(&r, i == 0);
		else if (r.error[0] == '\0' || r.vendor != 0)
			probe_print_text(&r);
		fflush(stdout);
	}
	if (json)
		printf("\n]\n");
	return status;
}
