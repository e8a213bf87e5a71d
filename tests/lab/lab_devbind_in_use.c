/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_devbind_in_use: `udk-devbind bind` refuses a device the machine is
 * using, names the use and says what to do, and changes nothing.  The lab's
 * NVMe on the kernel's nvme driver with an ext4 file system mounted from
 * namespace 1 and a swap area active on namespace 2: refused, naming the
 * mount point and the swap area; unmounted and swapped off, the same bind
 * goes through.  An e1000 with an address and the default route: refused,
 * naming both; `--force` takes it anyway (nothing else uses that
 * interface).  Puts back the drivers it found and unloads what it loaded.
 * Runs the tool from PATH (lab.env's UDK_LAB_PATH).  A guest kernel with no
 * ext4 or no swap (the iommufd guest's) runs only the e1000 half.
 */
#include <glob.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "labutil.h"

#define MNT "/tmp/lab-devbind-in-use" /* the guest's own tmpfs */

static char out[64 * 1024];
static char swap_dev[64]; /* set while namespace 2 may be a swap area */

/* Whatever happens (a REQUIRE exits), the guest keeps no mount or swap area
 * of this test. */
static void undo(void)
{
	lab_sh("umount " MNT " 2>/dev/null; rmdir " MNT " 2>/dev/null");
	if (swap_dev[0] != '\0')
		lab_sh("swapoff %s 2>/dev/null", swap_dev);
}

/* udk-devbind ARGS with stderr kept too; its exit status, or -1. */
static int devbind(const char *args)
{
	char cmd[512];
	int st;

	snprintf(cmd, sizeof(cmd), "udk-devbind %s 2>&1", args);
	st = lab_run_output(cmd, out, sizeof(out));
	printf("(exit %d)\n", st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool has(const char *text)
{
	bool ok = strstr(out, text) != NULL;

	if (!ok)
		printf("missing from the output: %s\n", text);
	return ok;
}

static bool driver_is(const char *bdf, const char *want)
{
	char drv[64] = "";

	lab_device_driver(bdf, drv, sizeof(drv));
	return strcmp(drv, want) == 0;
}

static void nvme_in_use(const char *bdf)
{
	char ns1[64], ns2[64], args[128], want[256];

	/* The iommufd guest's kernel (allnoconfig + a fragment) has neither ext4
	 * nor swap: the Debian guest runs this half; udk-devbind's checks do not
	 * depend on the VFIO backend. */
	lab_sh("modprobe ext4 2>/dev/null");
	if (lab_sh("grep -qw ext4 /proc/filesystems && test -e /proc/swaps") != 0) {
		printf("== NVMe half not run: this guest's kernel has no ext4 or no swap "
		       "(the Debian guest runs it)\n");
		return;
	}
	REQUIRE(lab_bind(bdf, "nvme") == 0);
	REQUIRE(lab_nvme_disk(bdf, 1, ns1, sizeof(ns1)) == 0);
	REQUIRE(lab_nvme_disk(bdf, 2, ns2, sizeof(ns2)) == 0);
	REQUIRE(lab_sh("mkfs.ext4 -q -F %s", ns1) == 0);
	REQUIRE(lab_sh("mkdir -p " MNT " && mount -t ext4 %s " MNT, ns1) == 0);
	snprintf(swap_dev, sizeof(swap_dev), "%s", ns2);
	REQUIRE(lab_sh("mkswap %s >/dev/null && swapon %s", ns2, ns2) == 0);

	snprintf(args, sizeof(args), "bind %s", bdf);
	CHECK(devbind(args) == 1);
	snprintf(want, sizeof(want), "udk-devbind: bind %s: in use: %s is mounted on " MNT
		 ": unmount it first ('umount " MNT "')", bdf, ns1);
	CHECK(has(want));
	snprintf(want, sizeof(want), "udk-devbind: bind %s: in use: %s is an active swap area: "
		 "'swapoff %s' first", bdf, ns2, ns2);
	CHECK(has(want));
	snprintf(want, sizeof(want), "udk-devbind: bind %s: refused: the machine uses it through "
		 "nvme (above)", bdf);
	CHECK(has(want));
	CHECK(has("give --force to bind it anyway"));
	CHECK(driver_is(bdf, "nvme"));
	CHECK(lab_sh("grep -q ' " MNT " ' /proc/self/mountinfo") == 0); /* still mounted */

	/* probe --bind takes a device from its driver too. */
	snprintf(args, sizeof(args), "probe --bind %s", bdf);
	CHECK(devbind(args) == 1);
	snprintf(want, sizeof(want), "udk-devbind: probe --bind %s: refused", bdf);
	CHECK(has(want));
	CHECK(driver_is(bdf, "nvme"));

	/* Freed: the same command binds it. */
	CHECK(lab_sh("umount " MNT " && swapoff %s", ns2) == 0);
	snprintf(args, sizeof(args), "bind %s", bdf);
	CHECK(devbind(args) == 0);
	CHECK(strstr(out, "in use") == NULL);
	CHECK(driver_is(bdf, "vfio-pci"));
}

/* The interface the kernel's e1000 made for bdf, waiting up to 5 s. */
static int netdev(const char *bdf, char *name, size_t len)
{
	char pat[160];
	glob_t g;

	snprintf(pat, sizeof(pat), "/sys/bus/pci/devices/%s/net/*", bdf);
	for (int i = 0; i < 50; i++, usleep(100000)) {
		if (glob(pat, 0, NULL, &g) != 0)
			continue;
		snprintf(name, len, "%s", strrchr(g.gl_pathv[0], '/') + 1);
		globfree(&g);
		return 0;
	}
	return -1;
}

static void e1000_in_use(const char *bdf)
{
	char ifname[64], args[128], want[256];

	REQUIRE(lab_bind(bdf, "e1000") == 0);
	REQUIRE(netdev(bdf, ifname, sizeof(ifname)) == 0);
	REQUIRE(lab_sh("ip link set %s up && ip addr add 192.0.2.1/24 dev %s && "
		       "ip route add default via 192.0.2.254 dev %s metric 4242", ifname, ifname,
		       ifname) == 0);

	/* status (dpdk-devbind's -s too) names the interface next to the device */
	CHECK(devbind("-s") == 0);
	snprintf(want, sizeof(want), "%s  ", bdf);
	const char *line = strstr(out, want), *eol = line ? strchr(line, '\n') : NULL;
	snprintf(want, sizeof(want), "  %s", ifname);
	CHECK(line != NULL && eol != NULL && (size_t)(eol - line) > strlen(want) &&
	      strncmp(eol - strlen(want), want, strlen(want)) == 0);
	CHECK(devbind("status --json") == 0);
	snprintf(want, sizeof(want), "\"interfaces\": [\"%s\"]", ifname);
	CHECK(has(want));

	snprintf(args, sizeof(args), "bind %s", bdf);
	CHECK(devbind(args) == 1);
	snprintf(want, sizeof(want), "udk-devbind: bind %s: in use: interface %s has address "
		 "192.0.2.1: remove it ('ip addr flush dev %s')", bdf, ifname, ifname);
	CHECK(has(want));
	snprintf(want, sizeof(want), "udk-devbind: bind %s: in use: interface %s carries the IPv4 "
		 "default route", bdf, ifname);
	CHECK(has(want));
	CHECK(strstr(out, "fe80:") == NULL); /* the link-local address every up interface has */
	snprintf(want, sizeof(want), "udk-devbind: bind %s: refused: the machine uses it through "
		 "e1000 (above)", bdf);
	CHECK(has(want));
	CHECK(driver_is(bdf, "e1000"));

	snprintf(args, sizeof(args), "bind --force %s", bdf);
	CHECK(devbind(args) == 0);
	snprintf(want, sizeof(want), "udk-devbind: bind %s: --force: taking it from e1000 although "
		 "the machine uses it", bdf);
	CHECK(has(want));
	snprintf(want, sizeof(want), "%s: e1000 -> vfio-pci", bdf);
	CHECK(has(want));
	CHECK(driver_is(bdf, "vfio-pci"));
}

int main(void)
{
	char nvme_drv[64] = "", e1000_drv[64] = "";
	const char *nvme, *e1000;

	setvbuf(stdout, NULL, _IONBF, 0);
	lab_require_guest();
	nvme = lab_env_require("UDK_LAB_NVME");
	e1000 = lab_env_require("UDK_LAB_E1000_A");
	if (lab_sh("command -v mkfs.ext4 mkswap swapon ip >/dev/null") != 0)
		lab_skip("mkfs.ext4, mkswap, swapon or ip is missing (e2fsprogs, util-linux, "
			 "iproute2: scripts/setup.sh)");
	lab_device_driver(nvme, nvme_drv, sizeof(nvme_drv));
	lab_device_driver(e1000, e1000_drv, sizeof(e1000_drv));
	atexit(undo);

	nvme_in_use(nvme);
	undo();
	lab_bind(nvme, nvme_drv);
	lab_sh("modprobe -r nvme");

	e1000_in_use(e1000);
	lab_bind(e1000, e1000_drv);
	lab_sh("modprobe -r e1000");
	return lab_result();
}
