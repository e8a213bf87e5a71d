/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_nvme_kernel: udk and the Linux kernel's nvme driver agree on the data.
 * udk writes a pattern to namespace 1; the device is rebound to `nvme` and
 * the kernel reads it back from that namespace's disk, /dev/nvmeXnY (pread,
 * O_DIRECT); the kernel writes a second pattern (pwrite, O_DIRECT, fsync);
 * the device goes back to vfio-pci and udk reads the kernel's pattern and its
 * own.  Each udk phase runs in a child
 * process of its own (one EAL per process).  Puts the device back unbound and
 * unloads nvme.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "labbackend.h"
#include "labutil.h"
#include "udk_eal.h"
#include "udk_nvme.h"
#include "udk_util.h"

#define UDK_LBA 2048u
#define UDK_NLB 1024u    /* 512 KiB */
#define KERNEL_LBA 8192u
#define KERNEL_NLB 512u  /* 256 KiB */
#define BS 512u

static void fill(uint8_t *buf, uint64_t lba, uint32_t nlb, uint64_t seed)
{
	uint64_t *w = (uint64_t *)buf;

	for (uint64_t i = 0; i < (uint64_t)nlb * BS / 8; i++)
		w[i] = seed << 56 ^ (lba + i / (BS / 8)) << 16 ^ i;
}

static long verify(const uint8_t *buf, uint64_t lba, uint32_t nlb, uint64_t seed)
{
	const uint64_t *w = (const uint64_t *)buf;

	for (uint64_t i = 0; i < (uint64_t)nlb * BS / 8; i++)
		if (w[i] != (seed << 56 ^ (lba + i / (BS / 8)) << 16 ^ i))
			return (long)(lba + i / (BS / 8));
	return -1;
}

/* The udk side, in a child: write (phase 0) or check both patterns (1). */
static int udk_phase(const char *bdf, int phase)
{
	char *argv[] = {"lab", "-m", "64", "-a", (char *)bdf, NULL};
	struct udk_nvme_ctrlr *c;
	struct udk_nvme_qpair *qp;
	struct udk_nvme_ns *ns;
	uint8_t *buf;
	long bad;

	REQUIRE(udk_eal_init(5, argv) == 5);
	REQUIRE(lab_backend_ok(udk_eal_dmamap()));
	REQUIRE(udk_nvme_ctrlr_attach(udk_eal_device(0), NULL, &c) == 0);
	REQUIRE(udk_nvme_ctrlr_ns(c, 1, &ns) == 0);
	REQUIRE(udk_nvme_qpair_create(c, NULL, &qp) == 0);
	buf = udk_mem_default_zmalloc(UDK_NLB * BS, 4096, UDK_SOCKET_ANY);
	REQUIRE(buf != NULL);
	if (phase == 0) {
		fill(buf, UDK_LBA, UDK_NLB, 0x5);
		CHECK(udk_nvme_ns_io_sync(qp, ns, UDK_NVME_IO_WRITE, buf, UDK_LBA, UDK_NLB, NULL) == 0);
		CHECK(udk_nvme_ns_io_sync(qp, ns, UDK_NVME_IO_FLUSH, NULL, 0, 0, NULL) == 0);
		printf("udk wrote LBA %u+%u\n", UDK_LBA, UDK_NLB);
	} else {
		CHECK(udk_nvme_ns_io_sync(qp, ns, UDK_NVME_IO_READ, buf, KERNEL_LBA, KERNEL_NLB,
					  NULL) == 0);
		bad = verify(buf, KERNEL_LBA, KERNEL_NLB, 0x6);
		printf("udk read the kernel's LBA %u+%u: first bad LBA %ld\n", KERNEL_LBA,
		       KERNEL_NLB, bad);
		CHECK(bad < 0);
		CHECK(udk_nvme_ns_io_sync(qp, ns, UDK_NVME_IO_READ, buf, UDK_LBA, UDK_NLB, NULL) == 0);
		bad = verify(buf, UDK_LBA, UDK_NLB, 0x5);
		printf("udk read its own LBA %u+%u again: first bad LBA %ld\n", UDK_LBA, UDK_NLB, bad);
		CHECK(bad < 0);
	}
	udk_mem_default_free(buf);
	udk_nvme_qpair_destroy(qp);
	udk_nvme_ctrlr_detach(c);
	udk_eal_cleanup();
	return lab_result();
}

static int in_child(const char *bdf, int phase)
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		fflush(stdout);
		_exit(udk_phase(bdf, phase));
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void)
{
	char drv[64] = "", dev[64];
	const char *bdf;
	uint8_t *buf;
	long bad;
	int fd;

	setvbuf(stdout, NULL, _IONBF, 0);
	lab_require_guest();
	bdf = lab_env_require("UDK_LAB_NVME");
	lab_device_driver(bdf, drv, sizeof(drv));
	REQUIRE(posix_memalign((void **)&buf, 4096, UDK_NLB * BS) == 0);

	REQUIRE(lab_bind_vfio(bdf) == 0);
	REQUIRE(in_child(bdf, 0) == 0);

	REQUIRE(lab_bind(bdf, "nvme") == 0);
	REQUIRE(lab_nvme_disk(bdf, 1, dev, sizeof(dev)) == 0);
	fd = open(dev, O_RDWR | O_DIRECT);
	REQUIRE(fd >= 0);
	CHECK(pread(fd, buf, UDK_NLB * BS, (off_t)UDK_LBA * BS) == (ssize_t)(UDK_NLB * BS));
	bad = verify(buf, UDK_LBA, UDK_NLB, 0x5);
	printf("the kernel read udk's LBA %u+%u from %s: first bad LBA %ld\n", UDK_LBA, UDK_NLB,
	       dev, bad);
	CHECK(bad < 0);
	fill(buf, KERNEL_LBA, KERNEL_NLB, 0x6);
	CHECK(pwrite(fd, buf, KERNEL_NLB * BS, (off_t)KERNEL_LBA * BS) == (ssize_t)(KERNEL_NLB * BS));
	CHECK(fsync(fd) == 0);
	close(fd);
	printf("the kernel wrote LBA %u+%u\n", KERNEL_LBA, KERNEL_NLB);

	REQUIRE(lab_bind_vfio(bdf) == 0);
	CHECK(in_child(bdf, 1) == 0);

	lab_bind(bdf, drv);
	lab_sh("modprobe -r nvme");
	free(buf);
	return lab_result();
}
