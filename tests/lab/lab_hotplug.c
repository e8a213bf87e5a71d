/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_hotplug: a guest test can unplug and replug a device through QMP
 * (labutil.h: lab_qmp, LAB.md "Hot-plug through QMP").  Removes the second
 * NVMe (QEMU id nvme1, behind root port rp1), sees it leave the guest's PCI
 * bus, adds a new controller with the same serial at the same place and sees
 * it come back, so later tests find the lab as it was.  No libudk.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labutil.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait up to 15 s until bdf is (present) or is not (!present) on the bus. */
static double wait_device(const char *bdf, int present)
{
	char path[128];
	double t0 = now();

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	while (now() - t0 < 15) {
		if ((access(path, F_OK) == 0) == present)
			return now() - t0;
		usleep(50 * 1000);
	}
	return -1;
}

int main(void)
{
	char out[4096], cmd[1024], bdf[LAB_BDF_LEN];
	const char *nvme2, *host_dir;
	double t;
	int rc;

	lab_require_guest();
	nvme2 = lab_env_require("UDK_LAB_NVME2");
	host_dir = lab_env_require("UDK_LAB_HOST_DIR");

	rc = lab_qmp("{\"execute\": \"device_del\", \"arguments\": {\"id\": \"nvme1\"}}",
		     "DEVICE_DELETED", 20, out, sizeof(out));
	printf("device_del nvme1: %d %s\n", rc, out);
	REQUIRE(rc == 0);
	t = wait_device(nvme2, 0);
	printf("%s left the bus after %.2f s\n", nvme2, t);
	REQUIRE(t >= 0);

	snprintf(cmd, sizeof(cmd),
		 "{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"raw\", "
		 "\"node-name\": \"nvhp\", \"file\": {\"driver\": \"file\", "
		 "\"filename\": \"%s/nvme-hotplug.img\"}}}",
		 host_dir);
	rc = lab_qmp(cmd, NULL, 10, out, sizeof(out));
	printf("blockdev-add: %d %s\n", rc, out);
	REQUIRE(rc == 0);
	rc = lab_qmp("{\"execute\": \"device_add\", \"arguments\": {\"driver\": \"nvme\", "
		     "\"id\": \"nvme1\", \"serial\": \"udk-lab-nvme1\", \"drive\": \"nvhp\", "
		     "\"bus\": \"rp1\"}}",
		     NULL, 10, out, sizeof(out));
	printf("device_add nvme1: %d %s\n", rc, out);
	REQUIRE(rc == 0);
	t = wait_device(nvme2, 1);
	printf("%s back on the bus after %.2f s\n", nvme2, t);
	CHECK(t >= 0);
	CHECK(lab_find_device(0x1b36, 0x0010, 1, bdf) == 0 && strcmp(bdf, nvme2) == 0);

	/* An error from QEMU comes back as -EIO with its text. */
	rc = lab_qmp("{\"execute\": \"device_del\", \"arguments\": {\"id\": \"no-such\"}}", NULL,
		     5, out, sizeof(out));
	printf("device_del no-such: %d %s\n", rc, out);
	CHECK(rc == -EIO && strstr(out, "no-such"));
	return lab_result();
}
