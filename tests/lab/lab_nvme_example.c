/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_nvme_example: the driver guide's example program (examples/nvme-hello,
 * built by meson next to this test) runs against the first lab NVMe: it must
 * attach, report the controller and namespace, write, read back and verify,
 * and exit 0; with an LBA past the end of the namespace it must exit 1 with
 * the driver's error line; --help exits 0.
 */
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "labrun.h"
#include "labutil.h"

static char exe[4096], out[16384];

static int hello(const char *args)
{
	return lab_run(out, sizeof(out), "%s %s", exe, args);
}

int main(void)
{
	char self[4096], drv[64] = "", args[256];
	const char *bdf;
	ssize_t n;

	setvbuf(stdout, NULL, _IONBF, 0);
	lab_require_guest();
	bdf = lab_env_require("UDK_LAB_NVME");
	/* build/tests/lab/lab_nvme_example -> build/examples/nvme-hello/nvme-hello */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	REQUIRE(n > 0);
	self[n] = '\0';
	snprintf(exe, sizeof(exe), "%s/../../examples/nvme-hello/nvme-hello", dirname(self));
	REQUIRE(access(exe, X_OK) == 0);
	lab_device_driver(bdf, drv, sizeof(drv));
	REQUIRE(lab_bind_vfio(bdf) == 0);

	CHECK(hello("--help") == 0 && strstr(out, "usage: nvme-hello") != NULL);

	snprintf(args, sizeof(args), "-m 64 -a %s -- --lba 450000 --blocks 16", bdf);
	CHECK(hello(args) == 0);
	CHECK(strstr(out, "controller ") != NULL && strstr(out, "QEMU NVMe Ctrl") != NULL);
	CHECK(strstr(out, "namespace 1: ") != NULL && strstr(out, "blocks of 512 bytes") != NULL);
	CHECK(strstr(out, "wrote 8192 bytes at LBA 450000") != NULL);
	CHECK(strstr(out, "read back and verified 8192 bytes: \"hello from udk, LBA 450000\"") !=
	      NULL);

	snprintf(args, sizeof(args), "-m 64 -a %s -- --lba 999999999", bdf);
	CHECK(hello(args) == 1);
	CHECK(strstr(out, "is past the end of namespace 1") != NULL);
	CHECK(strstr(out, "verified") == NULL);

	lab_bind(bdf, drv);
	return lab_result();
}
