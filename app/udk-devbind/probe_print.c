/* SPDX-License-Identifier: BSD-3-Clause */
/* probe_print.c - udk-devbind probe's output: a block of text per device, or
 * one JSON object per device in an array (doc/udk-devbind.md lists the
 * fields). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "devbind.h"
#include "probe.h"

/* PCI Code and ID Assignment 1.11 §2: capability ids. */
static const char *cap_name(uint8_t id)
{
	switch (id) {
	case 0x01: return "PM";
	case 0x03: return "VPD";
	case 0x05: return "MSI";
	case 0x07: return "PCI-X";
	case 0x09: return "vendor";
	case 0x0a: return "debug";
	case 0x0c: return "hot-plug";
	case 0x0d: return "bridge-subsys";
	case 0x10: return "PCIe";
	case 0x11: return "MSI-X";
	case 0x12: return "SATA";
	case 0x13: return "AF";
	case 0x14: return "EA";
	default: return "other";
	}
}

/* virtio 1.1 §4.1.4: cfg_type of a virtio vendor capability. */
static const char *virtio_cap_name(int type)
{
	switch (type) {
	case 1: return "common";
	case 2: return "notify";
	case 3: return "isr";
	case 4: return "device";
	case 5: return "pci-cfg";
	case 8: return "shm";
	default: return "unknown";
	}
}

static const char *class_name(uint32_t cls)
{
	if (cls == 0x010802)
		return "NVMe controller";
	if ((cls >> 8) == 0x0200)
		return "Ethernet controller";
	if ((cls >> 16) == 0x01)
		return "storage controller";
	if ((cls >> 16) == 0x02)
		return "network controller";
	if ((cls >> 16) == 0x06)
		return "bridge";
	return "PCI device";
}

static const char *kind_name(enum probe_kind k)
{
	switch (k) {
	case PROBE_NVME: return "nvme";
	case PROBE_E1000: return "e1000";
	case PROBE_VIRTIO: return "virtio";
	default: return "generic";
	}
}

static void size_str(uint64_t n, char *buf, size_t len)
{
	static const char *unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;

	while (n >= 1024 && n % 1024 == 0 && u < 4) {
		n /= 1024;
		u++;
	}
	snprintf(buf, len, "%" PRIu64 " %s", n, unit[u]);
}

static void mac_str(const uint8_t *m, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void vs_str(uint32_t vs, char *buf, size_t len)
{
	/* NVMe 1.4 §3.1.2: MJR 31:16, MNR 15:08, TER 07:00 (shown when set) */
	if (vs & 0xff)
		snprintf(buf, len, "%u.%u.%u", vs >> 16, (vs >> 8) & 0xff, vs & 0xff);
	else
		snprintf(buf, len, "%u.%u", vs >> 16, (vs >> 8) & 0xff);
}

/* ---- text ---- */

static void text_caps(const struct probe_result *r)
{
	printf("  %-12s", "capabilities");
	if (r->ncaps == 0)
		printf(" none");
	for (int i = 0; i < r->ncaps; i++) {
		const struct probe_cap *c = &r->caps[i];

		printf("%s 0x%02x %s", i ? "," : "", c->off, cap_name(c->id));
		if (c->msix_table_size >= 0)
			printf(" (%d vectors)", c->msix_table_size);
		if (c->virtio_cfg_type >= 0)
			printf(" (virtio %s)", virtio_cap_name(c->virtio_cfg_type));
	}
	printf("\n");
}

static void text_bars(const struct probe_result *r)
{
	char sz[32], name[8];

	for (int i = 0; i < 6; i++) {
		const struct udk_pci_bar_info *b = &r->bars[i];

		if (b->size == 0)
			continue;
		size_str(b->size, sz, sizeof(sz));
		snprintf(name, sizeof(name), "BAR%d", i);
		printf("  %-12s %s, %s%s%s\n", name, sz,
		       b->io ? "I/O ports" : b->mem64 ? "memory 64-bit" : "memory 32-bit",
		       b->prefetch ? ", prefetchable" : "", b->mmap ? ", mmap" : "");
	}
}

static void text_nvme(const struct probe_nvme *n)
{
	char vs[16], lo[32], hi[32];

	size_str(n->mps_min, lo, sizeof(lo));
	size_str(n->mps_max, hi, sizeof(hi));
	vs_str(n->vs, vs, sizeof(vs));
	printf("  %-12s CAP 0x%016" PRIx64 ": %u entries per queue, doorbell stride %u bytes, "
	       "timeout %u ms, %s, pages %s to %s\n", "nvme", n->cap, n->mqes, n->dstrd, n->to_ms,
	       n->css_nvm ? "NVM command set" : "no NVM command set", lo, hi);
	printf("  %-12s VS %s, CC 0x%x, CSTS 0x%x (%s)\n", "", vs, n->cc, n->csts,
	       n->csts & 1 ? "ready" : "not ready");
	if (n->identified) {
		vs_str(n->ver, vs, sizeof(vs));
		printf("  %-12s model \"%s\", serial \"%s\", firmware \"%s\", %u namespace%s, "
		       "controller id %u, version %s (%.1f ms; controller disabled again)\n",
		       "identify", n->model, n->serial, n->firmware, n->nn, n->nn == 1 ? "" : "s",
		       n->cntlid, vs, (double)n->identify_us / 1000.0);
	} else if (n->identify_skipped[0]) {
		printf("  %-12s not run: %s\n", "identify", n->identify_skipped);
	}
}

static void text_e1000(const struct probe_e1000 *e)
{
	char mac[24];

	mac_str(e->mac, mac, sizeof(mac));
	printf("  %-12s MAC %s (RAL0/RAH0, %s), STATUS 0x%08x: link %s", "ethernet", mac,
	       e->mac_valid ? "valid" : "NOT valid", e->status, e->link_up ? "up" : "down");
	if (e->link_up)
		printf(", %d Mb/s, %s duplex", e->speed_mbps, e->full_duplex ? "full" : "half");
	printf("\n");
}

static void text_virtio(const struct probe_virtio *v)
{
	char mac[24];

	printf("  %-12s features 0x%016" PRIx64 ": VERSION_1 %s, ACCESS_PLATFORM %s; %u queues; "
	       "left reset (status %u)\n", "virtio", v->features, v->version_1 ? "yes" : "NO",
	       v->access_platform ? "yes" : "NO (would bypass the IOMMU)", v->num_queues,
	       v->status_after);
	if (v->net) {
		if (v->has_mac) {
			mac_str(v->mac, mac, sizeof(mac));
			printf("  %-12s MAC %s\n", "virtio-net", mac);
		} else {
			printf("  %-12s no MAC offered (VIRTIO_NET_F_MAC)\n", "virtio-net");
		}
	}
}

void probe_print_text(const struct probe_result *r)
{
	const char *drv = r->info.driver[0] ? r->info.driver : "(none)";

	printf("%s  %04x:%04x  %s\n", r->bdf, r->vendor, r->device, class_name(r->class_code));
	printf("  %-12s subsystem %04x:%04x, revision 0x%02x, class %06x\n", "config",
	       r->subsys_vendor, r->subsys_device, r->revision, r->class_code);
	if (r->bound)
		printf("  %-12s %s (was %s; bound by --bind)\n", "driver", drv,
		       r->driver_before[0] ? r->driver_before : "(none)");
	else
		printf("  %-12s %s\n", "driver", drv);
	printf("  %-12s group %d, map %s (%s), IOVA", "iommu", r->iommu_group, r->map_name,
	       r->map_backend ? r->map_backend : "?");
	for (size_t i = 0; i < r->nranges; i++)
		printf(" 0x%" PRIx64 "-0x%" PRIx64, r->ranges[i].start, r->ranges[i].last);
	printf("\n");
	text_caps(r);
	text_bars(r);
	if (r->error[0] != '\0' && r->kind == PROBE_GENERIC)
		return;
	switch (r->kind) {
	case PROBE_NVME:
		text_nvme(&r->u.nvme);
		break;
	case PROBE_E1000:
		text_e1000(&r->u.e1000);
		break;
	case PROBE_VIRTIO:
		text_virtio(&r->u.virtio);
		break;
	default:
		break;
	}
}

/* ---- JSON ---- */

static void json_nvme(const struct probe_nvme *n)
{
	char vs[16];

	vs_str(n->vs, vs, sizeof(vs));
	printf(",\n     \"nvme\": {\"cap\": \"0x%016" PRIx64 "\", \"queue_entries_max\": %u, "
	       "\"doorbell_stride\": %u, \"timeout_ms\": %u, \"css_nvm\": %s, "
	       "\"page_size_min\": %" PRIu64 ", \"page_size_max\": %" PRIu64 ", \"vs\": \"%s\", "
	       "\"cc\": \"0x%x\", \"csts\": \"0x%x\", \"identify\": ", n->cap, n->mqes, n->dstrd,
	       n->to_ms, n->css_nvm ? "true" : "false", n->mps_min, n->mps_max, vs, n->cc, n->csts);
	if (n->identified) {
		printf("{\"model\": ");
		json_str(n->model);
		printf(", \"serial\": ");
		json_str(n->serial);
		printf(", \"firmware\": ");
		json_str(n->firmware);
		vs_str(n->ver, vs, sizeof(vs));
		printf(", \"cntlid\": %u, \"namespaces\": %u, \"version\": \"%s\", "
		       "\"time_us\": %" PRIu64 "}", n->cntlid, n->nn, vs, n->identify_us);
	} else {
		printf("null");
	}
	printf(", \"identify_skipped\": ");
	if (n->identify_skipped[0])
		json_str(n->identify_skipped);
	else
		printf("null");
	printf("}");
}

static void json_e1000(const struct probe_e1000 *e)
{
	char mac[24];

	mac_str(e->mac, mac, sizeof(mac));
	printf(",\n     \"ethernet\": {\"mac\": \"%s\", \"mac_valid\": %s, \"status\": \"0x%08x\", "
	       "\"link_up\": %s, \"speed_mbps\": ", mac, e->mac_valid ? "true" : "false",
	       e->status, e->link_up ? "true" : "false");
	if (e->link_up)
		printf("%d, \"full_duplex\": %s}", e->speed_mbps, e->full_duplex ? "true" : "false");
	else
		printf("null, \"full_duplex\": null}");
}

static void json_virtio(const struct probe_virtio *v)
{
	char mac[24];

	printf(",\n     \"virtio\": {\"device_features\": \"0x%016" PRIx64 "\", \"version_1\": %s, "
	       "\"access_platform\": %s, \"num_queues\": %u, \"status_after\": %u, \"mac\": ",
	       v->features, v->version_1 ? "true" : "false",
	       v->access_platform ? "true" : "false", v->num_queues, v->status_after);
	if (v->net && v->has_mac) {
		mac_str(v->mac, mac, sizeof(mac));
		printf("\"%s\"}", mac);
	} else {
		printf("null}");
	}
}

void probe_print_json(const struct probe_result *r, bool first)
{
	printf("%s\n    {\"address\": \"%s\"", first ? "" : ",", r->bdf);
	if (r->error[0] != '\0') {
		printf(", \"error\": ");
		json_str(r->error);
	} else {
		printf(", \"error\": null");
	}
	if (r->vendor == 0) {
		printf("}");
		return;
	}
	printf(", \"vendor\": \"%04x\", \"device\": \"%04x\", \"subsystem_vendor\": \"%04x\", "
	       "\"subsystem_device\": \"%04x\", \"revision\": \"%02x\", \"class\": \"%06x\", "
	       "\"kind\": \"%s\", \"driver\": ", r->vendor, r->device, r->subsys_vendor,
	       r->subsys_device, r->revision, r->class_code, kind_name(r->kind));
	json_str(r->info.driver);
	printf(", \"driver_before\": ");
	if (r->bound)
		json_str(r->driver_before);
	else
		printf("null");
	printf(",\n     \"iommu_group\": %d, \"map\": {\"name\": ", r->iommu_group);
	json_str(r->map_name);
	printf(", \"backend\": \"%s\", \"iova_pgsizes\": \"0x%" PRIx64 "\", \"iova_ranges\": [",
	       r->map_backend ? r->map_backend : "?", r->iova_pgsizes);
	for (size_t i = 0; i < r->nranges; i++)
		printf("%s[\"0x%" PRIx64 "\", \"0x%" PRIx64 "\"]", i ? ", " : "", r->ranges[i].start,
		       r->ranges[i].last);
	printf("]},\n     \"capabilities\": [");
	for (int i = 0; i < r->ncaps; i++) {
		const struct probe_cap *c = &r->caps[i];

		printf("%s{\"offset\": \"0x%02x\", \"id\": \"0x%02x\", \"name\": \"%s\"", i ? ", " : "",
		       c->off, c->id, cap_name(c->id));
		if (c->msix_table_size >= 0)
			printf(", \"table_size\": %d", c->msix_table_size);
		if (c->virtio_cfg_type >= 0)
			printf(", \"virtio\": \"%s\"", virtio_cap_name(c->virtio_cfg_type));
		printf("}");
	}
	printf("],\n     \"bars\": [");
	for (int i = 0, n = 0; i < 6; i++) {
		const struct udk_pci_bar_info *b = &r->bars[i];

		if (b->size == 0)
			continue;
		printf("%s{\"bar\": %d, \"size\": %" PRIu64 ", \"type\": \"%s\", "
		       "\"prefetchable\": %s, \"mmap\": %s}", n++ ? ", " : "", i, b->size,
		       b->io ? "io" : b->mem64 ? "mem64" : "mem32", b->prefetch ? "true" : "false",
		       b->mmap ? "true" : "false");
	}
	printf("]");
	switch (r->kind) {
	case PROBE_NVME:
		json_nvme(&r->u.nvme);
		break;
	case PROBE_E1000:
		json_e1000(&r->u.e1000);
		break;
	case PROBE_VIRTIO:
		json_virtio(&r->u.virtio);
		break;
	default:
		break;
	}
	printf("}");
}
