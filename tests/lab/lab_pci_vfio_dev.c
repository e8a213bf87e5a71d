/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_pci_vfio_dev: lib/pci's VFIO view of a real (emulated) NVMe: open with a
 * private map and in a shared one, config reads, BAR0 (16 KiB, VS 1.4), what
 * each BAR is (udk_pci_bar_info(), against the BAR registers), bus mastering
 * read back from the command register, MSI-X with 2 and 1 vectors
 * and too many, refused BARs (absent, I/O ports), function reset, and a detach
 * that drops BARs and eventfds, after which the BAR maps again.  Puts every
 * device back on the driver it had.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "labbackend.h"
#include "labutil.h"
#include "udk_pci.h"
#include "udk_util.h"

#define PCI_COMMAND 0x04
#define PCI_COMMAND_MASTER 0x4
#define NVME_VS 0x08
#define NVME_CC 0x14
#define NVME_CC_SIZES (6u << 16 | 4u << 20) /* IOSQES 64 B, IOCQES 16 B, EN 0 */
#define NVME_AQA 0x24
#define NVME_VS_1_4 0x00010400u

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static bool still_mapped(void *va)
{
	/* msync fails with ENOMEM on an address range that is not mapped. */
	return msync(va, 4096, MS_ASYNC) == 0;
}

static bool error_has(const char *text)
{
	bool ok = strstr(udk_last_error(), text) != NULL;

	printf("  error: \"%s\"%s\n", udk_last_error(), ok ? "" : "  <- expected to contain it");
	return ok;
}

static uint32_t rd32(void *bar, uint32_t off)
{
	return *(volatile uint32_t *)((volatile uint8_t *)bar + off);
}

/* udk_pci_bar_info() of bar, printed, its type checked against the BAR
 * register read here (PCI Local Bus 3.0 §6.2.5.1: bit 0 I/O; memory: bits
 * 2:1 = 10b 64-bit, bit 3 prefetchable). */
static struct udk_pci_bar_info bar_info(struct udk_pci_dev *p, int bar)
{
	struct udk_pci_bar_info bi = {0};
	uint32_t raw = 0;

	CHECK(udk_pci_bar_info(p, bar, &bi) == 0);
	CHECK(udk_pci_cfg_read(p, 0x10 + 4u * (unsigned int)bar, &raw, 4) == 0);
	printf("  BAR%d info: %llu bytes%s%s%s%s (register 0x%08x)\n", bar,
	       (unsigned long long)bi.size, bi.io ? ", I/O" : "", bi.mem64 ? ", 64-bit" : "",
	       bi.prefetch ? ", prefetchable" : "", bi.mmap ? ", mmap" : "", raw);
	if (bi.size != 0) {
		CHECK(bi.io == ((raw & 1) != 0));
		if (!bi.io)
			CHECK(bi.mem64 == ((raw & 6) == 4) && bi.prefetch == ((raw & 8) != 0));
	}
	return bi;
}

static uint16_t command(struct udk_pci_dev *p)
{
	uint16_t cmd = 0xffff;

	CHECK(udk_pci_cfg_read(p, PCI_COMMAND, &cmd, 2) == 0);
	return cmd;
}

/* The MSI-X capability's Message Control (PCI 3.0 §6.8.2.3), or 0. */
static uint16_t msix_control(struct udk_pci_dev *p)
{
	uint8_t pos = 0, hdr[4];

	udk_pci_cfg_read(p, 0x34, &pos, 1);
	for (int guard = 0; pos >= 0x40 && guard < 48; guard++) {
		if (udk_pci_cfg_read(p, pos, hdr, 4) < 0)
			return 0;
		if (hdr[0] == 0x11)
			return (uint16_t)(hdr[2] | hdr[3] << 8);
		pos = hdr[1] & 0xfc;
	}
	return 0;
}

static void private_map(const char *bdf, const struct udk_pci_addr *a)
{
	struct udk_pci_bar_info bi;
	struct udk_pci_dev *p;
	struct udk_device *dev;
	uint16_t ids[2] = {0}, cmd0;
	uint8_t cls[3] = {0};
	int efds[2], old[2], rc;
	void *bar, *bar2;
	size_t len, len2;

	printf("-- %s with a private map\n", bdf);
	REQUIRE(udk_pci_dev_open(a, NULL, &p) == 0);
	dev = udk_pci_dev_device(p);
	CHECK_MSG(udk_device_map(dev) == NULL, "a private map before first use");

	/* Config space through the VFIO config region (PCI 3.0 §6.2.1). */
	CHECK(udk_pci_cfg_read(p, 0, ids, sizeof(ids)) == 0);
	CHECK(udk_pci_cfg_read(p, 9, cls, sizeof(cls)) == 0);
	printf("  config: %04x:%04x class %02x%02x%02x\n", ids[0], ids[1], cls[2], cls[1], cls[0]);
	CHECK(ids[0] == 0x1b36 && ids[1] == 0x0010);
	CHECK(cls[2] == 0x01 && cls[1] == 0x08 && cls[0] == 0x02);
	CHECK_MSG(udk_device_map(dev) != NULL &&
		  strncmp(udk_dmamap_name(udk_device_map(dev)), "private:", 8) == 0,
		  "first use attached the device to a private map");
	CHECK(udk_pci_cfg_read(p, 4095, ids, 2) == -EINVAL && error_has("outside the"));

	/* BAR0: the NVMe registers (NVMe 1.4 §3.1), 16 KiB on QEMU's NVMe. */
	REQUIRE(udk_pci_bar_map(p, 0, &bar, &len) == 0);
	printf("  BAR0: %zu bytes, VS 0x%08x\n", len, rd32(bar, NVME_VS));
	CHECK(len == 16384);
	CHECK(rd32(bar, NVME_VS) == NVME_VS_1_4);
	CHECK(udk_pci_bar_map(p, 0, &bar2, &len2) == 0 && bar2 == bar && len2 == len);
	CHECK(udk_pci_bar_map(p, 2, &bar2, &len2) == -ENOENT && error_has("does not implement"));
	CHECK(udk_pci_bar_map(p, 6, &bar2, &len2) == -EINVAL && error_has("BARs 0 to 5"));

	/* What each BAR is, without mapping: BAR0 64-bit memory (so VFIO shows
	 * BAR1, its upper half, as absent), BAR2 not implemented. */
	bi = bar_info(p, 0);
	CHECK(bi.size == len && bi.mmap && !bi.io && bi.mem64);
	bi = bar_info(p, 1);
	CHECK(bi.size == 0 && !bi.mmap && !bi.io && !bi.mem64 && !bi.prefetch);
	bi = bar_info(p, 2);
	CHECK(bi.size == 0);
	CHECK(udk_pci_bar_info(p, 6, &bi) == -EINVAL && error_has("BARs 0 to 5"));
	CHECK(udk_pci_bar_info(p, -1, &bi) == -EINVAL && error_has("BARs 0 to 5"));
	CHECK(udk_pci_bar_info(p, 0, NULL) == -EINVAL &&
	      error_has("no struct udk_pci_bar_info to fill"));

	/* Bus mastering, read back from the command register (§6.2.2 bit 2). */
	cmd0 = command(p);
	CHECK(udk_pci_bus_master(p, true) == 0);
	CHECK(command(p) & PCI_COMMAND_MASTER);
	CHECK(udk_pci_bus_master(p, false) == 0);
	CHECK(!(command(p) & PCI_COMMAND_MASTER));
	CHECK(udk_pci_bus_master(p, cmd0 & PCI_COMMAND_MASTER) == 0);

	/* MSI-X: 2 vectors, then 1 (a new count replaces the old eventfds). */
	REQUIRE(udk_pci_msix_enable(p, 2, efds) == 0);
	printf("  MSI-X 2 vectors: eventfds %d %d, control 0x%04x\n", efds[0], efds[1],
	       msix_control(p));
	CHECK(efds[0] != efds[1] && fd_open(efds[0]) && fd_open(efds[1]));
	CHECK_MSG(msix_control(p) & 0x8000, "MSI-X Enable set in Message Control");
	old[0] = efds[0];
	old[1] = efds[1];
	CHECK(udk_pci_msix_enable(p, 1, efds) == 0 && fd_open(efds[0]));
	CHECK_MSG(!fd_open(old[1]) || old[1] == efds[0], "vector 1's old eventfd closed");
	rc = udk_pci_msix_enable(p, 10000, efds);
	CHECK_MSG(rc == -E2BIG, "10000 vectors: %d", rc);
	CHECK(error_has("10000 vectors asked, the table has"));
	CHECK(udk_pci_msix_disable(p) == 0);
	CHECK_MSG(!(msix_control(p) & 0x8000), "MSI-X Enable clear after disable");
	CHECK(!fd_open(efds[0]));
	CHECK(udk_pci_msix_disable(p) == 0);

	/* Function reset: the controller's registers go back to their reset
	 * values: CC is 0 after a reset (NVMe 1.4 §3.1.5).  CC is written with
	 * EN clear (queue entry sizes only), so nothing is enabled meanwhile.
	 * (AQA should be 0 too, §3.1.8, but QEMU 7.2's NVMe keeps it across a
	 * function reset: seen in this lab, so it is only printed.) */
	*(volatile uint32_t *)((uint8_t *)bar + NVME_CC) = NVME_CC_SIZES;
	*(volatile uint32_t *)((uint8_t *)bar + NVME_AQA) = 0x001f001f;
	printf("  before reset: CC 0x%x AQA 0x%x\n", rd32(bar, NVME_CC), rd32(bar, NVME_AQA));
	CHECK(rd32(bar, NVME_CC) == NVME_CC_SIZES);
	rc = udk_pci_reset(p);
	printf("  reset: %d%s%s; after: CC 0x%x AQA 0x%x\n", rc, rc ? ", " : "",
	       rc ? udk_last_error() : "", rd32(bar, NVME_CC), rd32(bar, NVME_AQA));
	if (rc == 0) {
		CHECK_MSG(rd32(bar, NVME_CC) == 0, "CC 0x%x after reset", rd32(bar, NVME_CC));
		CHECK(rd32(bar, NVME_VS) == NVME_VS_1_4);
	} else {
		CHECK(rc == -ENOTSUP && error_has("no function-level reset"));
	}
	*(volatile uint32_t *)((uint8_t *)bar + NVME_AQA) = 0;

	/* Detach drops the BAR mapping and the eventfds; the next use attaches
	 * a new private map and maps the BAR again. */
	REQUIRE(udk_pci_msix_enable(p, 2, efds) == 0);
	CHECK(udk_device_detach(dev) == 0);
	CHECK(udk_device_map(dev) == NULL);
	CHECK_MSG(!still_mapped(bar), "BAR0 unmapped by detach");
	CHECK_MSG(!fd_open(efds[0]) && !fd_open(efds[1]), "eventfds closed by detach");
	CHECK(udk_device_detach(dev) == -UDK_EDETACHED);
	REQUIRE(udk_pci_bar_map(p, 0, &bar, &len) == 0);
	printf("  after re-attach: BAR0 %zu bytes, VS 0x%08x, map %s\n", len, rd32(bar, NVME_VS),
	       udk_device_map(dev) ? udk_dmamap_name(udk_device_map(dev)) : "(none)");
	CHECK(len == 16384 && rd32(bar, NVME_VS) == NVME_VS_1_4);
	CHECK(udk_device_map(dev) != NULL);
	udk_pci_dev_close(p);
	CHECK_MSG(!still_mapped(bar), "BAR0 unmapped by close");
}

static void shared_map(const struct udk_pci_addr *a, const struct udk_pci_addr *a2)
{
	struct udk_pci_dev *p, *p2 = NULL;
	struct udk_dmamap_info mi;
	struct udk_dmamap *map;
	void *bar;
	size_t len;

	printf("-- NVMe in a shared map\n");
	REQUIRE(udk_dmamap_create(NULL, &map) == 0);
	REQUIRE(lab_backend_ok(map));
	REQUIRE(udk_pci_dev_open(a, map, &p) == 0);
	CHECK(udk_device_map(udk_pci_dev_device(p)) == map);
	CHECK(udk_pci_bar_map(p, 0, &bar, &len) == 0 && rd32(bar, NVME_VS) == NVME_VS_1_4);
	if (a2 != NULL) {
		CHECK(udk_pci_dev_open(a2, map, &p2) == 0);
		if (p2 != NULL)
			CHECK(udk_device_map(udk_pci_dev_device(p2)) == map);
	}
	CHECK(udk_dmamap_info(map, &mi) == 0);
	printf("  map %s: %u devices, live %d\n", udk_dmamap_name(map), mi.nb_devices, mi.live);
	CHECK(mi.nb_devices == (p2 ? 2u : 1u) && mi.live);
	udk_pci_dev_close(p2);
	udk_pci_dev_close(p);
	CHECK(udk_dmamap_info(map, &mi) == 0 && mi.nb_devices == 0);
	udk_dmamap_put(map);
}

static void io_bar(const char *bdf)
{
	struct udk_pci_bar_info bi;
	struct udk_pci_addr a;
	struct udk_pci_dev *p;
	void *va;
	size_t len;

	/* The 82574's BAR2 is its I/O-port window (32 bytes). */
	printf("-- %s (e1000e): BAR2 is I/O ports\n", bdf);
	REQUIRE(udk_pci_addr_parse(bdf, &a) == 0);
	REQUIRE(udk_pci_dev_open(&a, NULL, &p) == 0);
	CHECK(udk_pci_bar_map(p, 2, &va, &len) == -ENOTSUP && error_has("I/O-port BAR"));
	CHECK(udk_pci_bar_map(p, 0, &va, &len) == 0 && len == 128 * 1024);
	bi = bar_info(p, 2);
	CHECK(bi.size == 32 && bi.io && !bi.mmap && !bi.mem64 && !bi.prefetch);
	bi = bar_info(p, 0);
	CHECK(bi.size == 128 * 1024 && !bi.io && bi.mmap);
	udk_pci_dev_close(p);
}

int main(void)
{
	const char *nvme, *nvme2, *e1000e;
	char drv[3][64] = {"", "", ""};
	struct udk_pci_addr a, a2;
	bool have2;

	lab_require_guest();
	nvme = lab_env_require("UDK_LAB_NVME");
	e1000e = lab_env_require("UDK_LAB_E1000E");
	nvme2 = lab_env("UDK_LAB_NVME2");
	have2 = nvme2 != NULL;

	lab_device_driver(nvme, drv[0], sizeof(drv[0]));
	lab_device_driver(e1000e, drv[1], sizeof(drv[1]));
	if (have2)
		lab_device_driver(nvme2, drv[2], sizeof(drv[2]));
	REQUIRE(lab_bind_vfio(nvme) == 0);
	REQUIRE(lab_bind_vfio(e1000e) == 0);
	have2 = have2 && lab_bind_vfio(nvme2) == 0;
	REQUIRE(udk_pci_addr_parse(nvme, &a) == 0);
	if (have2)
		REQUIRE(udk_pci_addr_parse(nvme2, &a2) == 0);

	private_map(nvme, &a);
	shared_map(&a, have2 ? &a2 : NULL);
	io_bar(e1000e);

	CHECK(lab_bind(nvme, drv[0]) == 0);
	CHECK(lab_bind(e1000e, drv[1]) == 0);
	if (have2)
		CHECK(lab_bind(nvme2, drv[2]) == 0);
	return lab_result();
}
