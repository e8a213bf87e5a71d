/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_boot: proves the lab guest is what lab tests rely on (doc/lab.md):
 * VFIO loaded, an IOMMU with groups, hugepages, and every emulated device
 * present in an IOMMU group, the two e1000 behind the PCI bridge sharing one.
 * No libudk: this test says whether the lab works, not whether udk does.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "labutil.h"

static const struct {
	const char *env; /* lab.env key naming this device */
	const char *what;
	unsigned short vendor, device;
	unsigned int nth;
} devices[] = {
	{ "UDK_LAB_NVME", "NVMe (udk-lab-nvme0)", 0x1b36, 0x0010, 0 },
	{ "UDK_LAB_NVME2", "NVMe (udk-lab-nvme1)", 0x1b36, 0x0010, 1 },
	{ "UDK_LAB_VIRTIO", "virtio-net, modern", 0x1af4, 0x1041, 0 },
	{ "UDK_LAB_E1000E", "e1000e", 0x8086, 0x10d3, 0 },
	{ "UDK_LAB_E1000_A", "e1000 behind bridge", 0x8086, 0x100e, 0 },
	{ "UDK_LAB_E1000_B", "e1000 behind bridge", 0x8086, 0x100e, 1 },
};
#define NDEV (sizeof(devices) / sizeof(devices[0]))

static int count_groups(void)
{
	DIR *d = opendir("/sys/kernel/iommu_groups");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int main(void)
{
	int group[NDEV];
	struct stat st;
	int ngroups;

	lab_require_guest();

	CHECK_MSG(stat("/dev/vfio/vfio", &st) == 0 && S_ISCHR(st.st_mode),
		  "/dev/vfio/vfio missing: vfio-pci not loaded?");
	ngroups = count_groups();
	printf("IOMMU groups: %d\n", ngroups);
	CHECK_MSG(ngroups > 0, "no IOMMU groups: is the intel-iommu device on the QEMU line?");
	printf("hugepages: %ld total, %ld free (lab.env says %s)\n", lab_hugepages_total(),
	       lab_hugepages_free(), lab_env("UDK_LAB_HUGEPAGES") ? lab_env("UDK_LAB_HUGEPAGES") : "?");
	CHECK(lab_hugepages_total() > 0);

	printf("%-14s %-9s %-5s %-10s %-20s %s\n", "address", "id", "group", "driver", "device",
	       "lab.env");
	for (size_t i = 0; i < NDEV; i++) {
		char bdf[LAB_BDF_LEN] = "", drv[64] = "";
		const char *env = lab_env(devices[i].env);

		group[i] = -1;
		if (lab_find_device(devices[i].vendor, devices[i].device, devices[i].nth, bdf)) {
			CHECK_MSG(0, "no %04x:%04x (%s) in the guest", devices[i].vendor,
				  devices[i].device, devices[i].what);
			continue;
		}
		group[i] = lab_device_group(bdf);
		lab_device_driver(bdf, drv, sizeof(drv));
		printf("%-14s %04x:%04x %-5d %-10s %-20s %s=%s\n", bdf, devices[i].vendor,
		       devices[i].device, group[i], *drv ? drv : "-", devices[i].what,
		       devices[i].env, env ? env : "(unset)");
		CHECK_MSG(group[i] >= 0, "%s has no IOMMU group", bdf);
		CHECK_MSG(env != NULL, "%s not set in lab.env", devices[i].env);
		CHECK_MSG(!env || strcmp(env, bdf) == 0, "%s=%s, but device %zu of its id is %s",
			  devices[i].env, env, (size_t)devices[i].nth, bdf);
	}
	/* Bridge rule (LAB.md, "IOMMU groups seen"): the e1000 pair shares a
	 * group; everything on the root complex has one of its own. */
	CHECK_MSG(group[4] >= 0 && group[4] == group[5], "e1000 groups %d and %d", group[4],
		  group[5]);
	for (size_t i = 0; i < 4; i++)
		for (size_t j = i + 1; j < NDEV; j++)
			CHECK_MSG(group[i] != group[j], "%s and %s share group %d",
				  devices[i].env, devices[j].env, group[i]);

	/* The kernel log is readable: lab_kmsg_find sees the IOMMU's boot line,
	 * and a mark hides what came before it. */
	CHECK_MSG(lab_kmsg_find(0, "DMAR: (IOMMU enabled|Intel\\(R\\) Virtualization)", 0, NULL,
				0) == 1,
		  "no DMAR line in /dev/kmsg");
	uint64_t mark = lab_kmsg_mark();
	/* With its newline, or the record stays open and unread. */
	CHECK(lab_write_file("/dev/kmsg", "lab_boot: kmsg marker\n") == 0);
	CHECK(lab_kmsg_find(mark, "lab_boot: kmsg marker", 2000, NULL, 0) == 1);
	CHECK(lab_kmsg_find(lab_kmsg_mark(), "lab_boot: kmsg marker", 0, NULL, 0) == 0);
	return lab_result();
}
