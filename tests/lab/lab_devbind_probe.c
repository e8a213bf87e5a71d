/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_devbind_probe: `udk-devbind probe --bind --json` identifies the lab's
 * NVMe, virtio-net and e1000e through VFIO, and what it says matches what the
 * kernel's own drivers and QEMU's command line say: NVMe VS 1.4 and Identify
 * (model, serial), the e1000e's and the virtio-net's MAC as read by e1000e
 * and virtio_net, ACCESS_PLATFORM offered, the map on this guest's backend
 * (type1, or iommufd in the iommufd guest; `doctor` says the same).  Then the errors a user meets: a
 * device not bound to vfio-pci, a bad address.  Puts back every driver and
 * module it changed.  Runs the tool from PATH (lab.env's UDK_LAB_PATH).
 */
#include <dirent.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "labjson.h"
#include "labutil.h"

static char out[256 * 1024], err[16 * 1024];

/* Run a shell command; its stdout and stderr go to out and err. */
static int run(const char *cmd)
{
	int rc;

	printf("$ %s\n", cmd);
	rc = lab_sh("%s >probe.out 2>probe.err", cmd);
	out[0] = err[0] = '\0';
	FILE *f = fopen("probe.out", "r");
	if (f) {
		out[fread(out, 1, sizeof(out) - 1, f)] = '\0';
		fclose(f);
	}
	f = fopen("probe.err", "r");
	if (f) {
		err[fread(err, 1, sizeof(err) - 1, f)] = '\0';
		fclose(f);
	}
	printf("%s%s(exit %d)\n", out, err, rc);
	return rc;
}

static bool module_loaded(const char *name)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return stat(path, &st) == 0;
}

/* The MAC of the netdev a kernel driver made for bdf (under the PCI device,
 * or under its virtio device), waiting up to 5 s for it to appear. */
static int kernel_mac(const char *bdf, char *mac, size_t len)
{
	char pat[2][160];
	glob_t g;

	snprintf(pat[0], sizeof(pat[0]), "/sys/bus/pci/devices/%s/net/*/address", bdf);
	snprintf(pat[1], sizeof(pat[1]), "/sys/bus/pci/devices/%s/virtio*/net/*/address", bdf);
	for (int i = 0; i < 50; i++) {
		for (int k = 0; k < 2; k++) {
			if (glob(pat[k], 0, NULL, &g) == 0) {
				int rc = lab_read_file(g.gl_pathv[0], mac, len);

				globfree(&g);
				return rc;
			}
			globfree(&g);
		}
		usleep(100000);
	}
	return -1;
}

/* The map backend udk must pick in this guest, as the tools name it. */
static const char *want_backend(void)
{
	const char *b = lab_env("UDK_LAB_IOMMU_BACKEND");

	return b != NULL && strcmp(b, "iommufd") == 0 ? "iommufd" : "vfio-type1";
}

static void check_common(const char *dev, const char *bdf)
{
	char want[16];

	snprintf(want, sizeof(want), "%d", lab_device_group(bdf));
	CHECK_MSG(lab_json_is(dev, "address", bdf), "%s: address", bdf);
	CHECK_MSG(lab_json_is(dev, "error", "null"), "%s: no error", bdf);
	CHECK_MSG(lab_json_is(dev, "driver", "vfio-pci"), "%s: bound to vfio-pci", bdf);
	CHECK_MSG(lab_json_is(dev, "iommu_group", want), "%s: IOMMU group %s", bdf, want);
	CHECK_MSG(lab_json_is(dev, "map.backend", want_backend()), "%s: %s map", bdf,
		  want_backend());
	char name[64] = "";
	lab_json_text(lab_json_path(dev, "map.name"), name, sizeof(name));
	CHECK_MSG(strncmp(name, "private:", 8) == 0, "%s: map '%s' is private", bdf, name);
}

/* An MSI-X capability with a table, named in the capability list. */
static bool has_msix(const char *dev)
{
	const char *caps = lab_json_member(dev, "capabilities");

	for (int i = 0; lab_json_index(caps, i) != NULL; i++) {
		const char *c = lab_json_index(caps, i);
		char n[16];

		if (lab_json_is(c, "name", "MSI-X") &&
		    lab_json_text(lab_json_member(c, "table_size"), n, sizeof(n)) == 0 && atoi(n) > 0)
			return true;
	}
	return false;
}

int main(void)
{
	const char *nvme, *virtio, *e1000e, *mac_e1000e, *mac_virtio;
	char drv_nvme[64] = "", drv_virtio[64] = "", drv_e1000e[64] = "";
	char kmac_e1000e[32] = "", kmac_virtio[32] = "", cmd[512], want[512];
	bool had_e1000e, had_virtio_net;
	char fault[256] = "";
	const char *dev;
	uint64_t mark;
	int rc;

	lab_require_guest();
	nvme = lab_env_require("UDK_LAB_NVME");
	virtio = lab_env_require("UDK_LAB_VIRTIO");
	e1000e = lab_env_require("UDK_LAB_E1000E");
	mac_e1000e = lab_env_require("UDK_LAB_MAC_E1000E");
	mac_virtio = lab_env_require("UDK_LAB_MAC_VIRTIO");
	lab_device_driver(nvme, drv_nvme, sizeof(drv_nvme));
	lab_device_driver(virtio, drv_virtio, sizeof(drv_virtio));
	lab_device_driver(e1000e, drv_e1000e, sizeof(drv_e1000e));
	had_e1000e = module_loaded("e1000e");
	had_virtio_net = module_loaded("virtio_net");

	/* What the kernel's drivers read: the reference for the MACs. */
	CHECK(lab_bind(e1000e, "e1000e") == 0);
	CHECK(kernel_mac(e1000e, kmac_e1000e, sizeof(kmac_e1000e)) == 0);
	lab_sh("modprobe virtio_net");
	CHECK(lab_bind(virtio, "virtio-pci") == 0);
	CHECK(kernel_mac(virtio, kmac_virtio, sizeof(kmac_virtio)) == 0);
	printf("kernel: e1000e %s (QEMU mac=%s), virtio_net %s (QEMU mac=%s)\n", kmac_e1000e,
	       mac_e1000e, kmac_virtio, mac_virtio);
	CHECK(strcmp(kmac_e1000e, mac_e1000e) == 0);
	CHECK(strcmp(kmac_virtio, mac_virtio) == 0);

	snprintf(cmd, sizeof(cmd), "udk-devbind probe --bind --json %s %s %s", nvme, virtio, e1000e);
	mark = lab_kmsg_mark();
	rc = run(cmd);
	/* Identify's DMA went through the device's map: the IOMMU blocked nothing. */
	CHECK_MSG(lab_kmsg_find(mark, "DMAR: \\[DMA", 500, fault, sizeof(fault)) == 0,
		  "DMA fault during probe: %s", fault);
	CHECK_MSG(rc == 0, "probe exit %d", rc);
	CHECK_MSG(err[0] == '\0', "nothing on stderr");
	REQUIRE(lab_json_valid(out));
	REQUIRE(lab_json_length(out) == 3);

	dev = lab_json_index(out, 0);
	check_common(dev, nvme);
	CHECK(lab_json_is(dev, "vendor", "1b36") && lab_json_is(dev, "device", "0010"));
	CHECK(lab_json_is(dev, "class", "010802") && lab_json_is(dev, "kind", "nvme"));
	CHECK(lab_json_is(dev, "nvme.vs", "1.4"));
	CHECK(lab_json_is(dev, "nvme.css_nvm", "true"));
	CHECK(lab_json_is(dev, "nvme.identify.model", "QEMU NVMe Ctrl"));
	CHECK(lab_json_is(dev, "nvme.identify.serial", "udk-lab-nvme0"));
	CHECK_MSG(lab_json_is(dev, "nvme.csts", "0x0"), "the controller was found disabled");
	CHECK(lab_json_is(lab_json_index(lab_json_member(dev, "bars"), 0), "size", "16384"));
	CHECK(has_msix(dev));

	dev = lab_json_index(out, 1);
	check_common(dev, virtio);
	CHECK(lab_json_is(dev, "kind", "virtio") && lab_json_is(dev, "driver_before", "virtio-pci"));
	CHECK(lab_json_is(dev, "virtio.version_1", "true"));
	CHECK(lab_json_is(dev, "virtio.access_platform", "true"));
	CHECK(lab_json_is(dev, "virtio.mac", kmac_virtio));
	CHECK(lab_json_is(dev, "virtio.status_after", "0"));

	dev = lab_json_index(out, 2);
	check_common(dev, e1000e);
	CHECK(lab_json_is(dev, "kind", "e1000") && lab_json_is(dev, "driver_before", "e1000e"));
	CHECK(lab_json_is(dev, "ethernet.mac", kmac_e1000e));
	CHECK(lab_json_is(dev, "ethernet.mac_valid", "true"));
	CHECK(has_msix(dev));

	/* The text form, and --no-dma leaving the controller alone. */
	snprintf(cmd, sizeof(cmd), "udk-devbind probe %s", nvme);
	CHECK(run(cmd) == 0);
	CHECK(strstr(out, "identify     model \"QEMU NVMe Ctrl\", serial \"udk-lab-nvme0\"") != NULL);
	CHECK(strstr(out, "VS 1.4, CC 0x0, CSTS 0x0") != NULL);
	snprintf(cmd, sizeof(cmd), "udk-devbind probe --no-dma %s", nvme);
	CHECK(run(cmd) == 0 && strstr(out, "identify     not run: --no-dma") != NULL);

	/* doctor says which backend the device will use (and why). */
	snprintf(cmd, sizeof(cmd), "udk-devbind doctor %s", nvme);
	run(cmd);
	snprintf(want, sizeof(want), "backend %s: ", want_backend());
	CHECK_MSG(strstr(out, want) != NULL, "doctor says '%s'", want);

	/* Errors: a device on no driver, without --bind; a bad address. */
	CHECK(lab_bind(e1000e, NULL) == 0);
	snprintf(cmd, sizeof(cmd), "udk-devbind probe %s", e1000e);
	CHECK(run(cmd) == 1);
	snprintf(want, sizeof(want), "udk-devbind: open %s: the device is not bound to a driver "
		 "(udk needs vfio-pci): run 'udk-devbind bind %s'\n", e1000e, e1000e);
	CHECK_MSG(strcmp(err, want) == 0, "stderr is exactly: %s", want);
	CHECK(out[0] == '\0');
	snprintf(cmd, sizeof(cmd), "udk-devbind probe --json %s", e1000e);
	CHECK(run(cmd) == 1 && lab_json_valid(out));
	CHECK(lab_json_text(lab_json_path(lab_json_index(out, 0), "error"), want, sizeof(want)) == 0 &&
	      strstr(want, "not bound to a driver") != NULL);
	CHECK(run("udk-devbind probe 0000:00:1f.9") == 2);
	CHECK(strstr(err, "udk-devbind: bad PCI address '0000:00:1f.9'") == err);

	/* Put back: drivers as found (with no override left), modules. */
	CHECK(lab_bind(nvme, drv_nvme) == 0);
	CHECK(lab_bind(e1000e, drv_e1000e) == 0);
	CHECK(lab_bind(virtio, drv_virtio) == 0);
	snprintf(cmd, sizeof(cmd), "/sys/bus/pci/devices/%s/driver_override", virtio);
	CHECK(lab_write_file(cmd, "\n") == 0);
	if (!had_virtio_net)
		lab_sh("modprobe -r virtio_net");
	if (!had_e1000e)
		lab_sh("modprobe -r e1000e");
	return lab_result();
}
