/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_vfio_groups: the lab can put VFIO groups in the states udk's tests
 * need, checked through the raw VFIO uapi (no libudk): a device moved to
 * vfio-pci gets /dev/vfio/<group>; the e1000 pair behind the PCI bridge is
 * "not viable" while one of them stays on the e1000 driver, and viable once
 * the other is unbound or on vfio-pci too.  Leaves every device (and the
 * e1000 module) as found.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "labutil.h"

/* 1 viable, 0 not viable, -errno if the group cannot be opened or asked. */
static int group_viable(int group)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[64];
	int fd, rc;

	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = ioctl(fd, VFIO_GROUP_GET_STATUS, &st) ? -errno : !!(st.flags & VFIO_GROUP_FLAGS_VIABLE);
	close(fd);
	return rc;
}

static void show(const char *step, const char *a, const char *b, int group)
{
	char da[64] = "", db[64] = "";

	lab_device_driver(a, da, sizeof(da));
	lab_device_driver(b, db, sizeof(db));
	printf("%-34s %s on %-9s %s on %-9s group %d: %s\n", step, a, *da ? da : "-", b,
	       *db ? db : "-", group,
	       group_viable(group) == 1 ? "viable" : group_viable(group) == 0 ? "NOT viable" :
									 strerror(-group_viable(group)));
}

int main(void)
{
	char nvme_drv[64] = "", a_drv[64] = "", b_drv[64] = "";
	const char *nvme, *a, *b;
	bool e1000_loaded;
	char path[64];
	int g;

	lab_require_guest();
	nvme = lab_env_require("UDK_LAB_NVME2");
	a = lab_env_require("UDK_LAB_E1000_A");
	b = lab_env_require("UDK_LAB_E1000_B");
	lab_device_driver(nvme, nvme_drv, sizeof(nvme_drv));
	lab_device_driver(a, a_drv, sizeof(a_drv));
	lab_device_driver(b, b_drv, sizeof(b_drv));
	e1000_loaded = access("/sys/module/e1000", F_OK) == 0;

	/* A device alone in its group. */
	g = lab_device_group(nvme);
	REQUIRE(g >= 0);
	REQUIRE(lab_bind_vfio(nvme) == 0);
	snprintf(path, sizeof(path), "/dev/vfio/%d", g);
	CHECK_MSG(access(path, F_OK) == 0, "%s missing after binding %s", path, nvme);
	CHECK(group_viable(g) == 1);
	printf("%s (NVMe) on vfio-pci: group %d viable\n", nvme, g);
	CHECK(lab_bind(nvme, nvme_drv) == 0);

	/* The shared group behind the bridge. */
	g = lab_device_group(a);
	REQUIRE(g >= 0 && g == lab_device_group(b));
	REQUIRE(lab_bind(b, "e1000") == 0);
	REQUIRE(lab_bind_vfio(a) == 0);
	show("A on vfio-pci, B on e1000:", a, b, g);
	CHECK_MSG(group_viable(g) == 0, "group %d should not be viable while %s is on e1000", g, b);
	REQUIRE(lab_bind(b, NULL) == 0);
	show("A on vfio-pci, B unbound:", a, b, g);
	CHECK(group_viable(g) == 1);
	REQUIRE(lab_bind_vfio(b) == 0);
	show("both on vfio-pci:", a, b, g);
	CHECK(group_viable(g) == 1);

	CHECK(lab_bind(a, a_drv) == 0);
	CHECK(lab_bind(b, b_drv) == 0);
	if (!e1000_loaded)
		CHECK(lab_sh("modprobe -r e1000") == 0);
	return lab_result();
}
