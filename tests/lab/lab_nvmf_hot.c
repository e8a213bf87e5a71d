/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_nvmf_hot: udk-nvmf-tgt serving the lab's second NVMe (an nvme bdev)
 * in the ways a storage server lives, to the kernel's nvme-tcp (nvme-cli).
 *
 * 1. Unprivileged: the target runs as uid 1000 (setpriv) with --broker,
 *    udk-broker lending it the NVMe and its memory; the kernel, connected
 *    with --keep-alive-tmo=2, writes a random pattern with dd and reads it
 *    back identical.  Keep-alive: the host then stays idle for five KATO
 *    periods; its controller is not ended (the kernel's Keep Alive commands
 *    keep it) and the disk still reads the pattern.
 * 2. Hot-removed under load: the NVMe (namespace 1) and a malloc bdev
 *    (namespace 2) in one subsystem, fio on both disks, and the NVMe taken
 *    away by QMP device_del (QEMU's own unplug, as a pulled drive): the
 *    target logs the removal and keeps running; fio on namespace 2 ends with
 *    no error and a pattern written there before reads back identical; fio
 *    on namespace 1 gets errors and ends (no I/O hangs); the kernel gets the
 *    namespace-changed AEN and drops that disk.  The NVMe is put back by
 *    QMP device_add (same id, serial and image) for the tests after this one.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "labnvmf.h"
#include "labrun.h"
#include "labutil.h"

#define NQN "nqn.2026-12.io.udk:labhot"
#define HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:0a0b0c0d-1111-2222-3333-4444555566aa"
#define LOG "/tmp/udk-nvmf-hot.log"
#define BROKER_SOCK "/tmp/udk-nvmf-hot-broker.sock"
#define BROKER_LOG "/tmp/udk-nvmf-hot-broker.log"
#define POLICY "/tmp/udk-nvmf-hot.policy"
#define AS1000 "setpriv --reuid 1000 --regid 1000 --clear-groups "
#define NVME_SECTORS "524288" /* the lab NVMe: 256 MiB */
#define RAM_SECTORS "131072"  /* --malloc m0:64 */

static char out[65536];

static pid_t spawn(const char *cmd)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* The target, run by prefix (e.g. setpriv), with EAL options eal and its own args. */
static pid_t start_target(const char *prefix, const char *eal, const char *args)
{
	char cmd[1024];

	unlink(LOG);
	snprintf(cmd, sizeof(cmd), "exec %sudk-nvmf-tgt --no-telemetry %s -- %s --listen 127.0.0.1:4420 "
		 ">" LOG " 2>&1", prefix, eal, args);
	return spawn(cmd);
}

static void show_log(void)
{
	lab_sh("tail -25 " LOG "; dmesg | grep -i nvme | tail -10");
}

/* nvme connect; the new disk of `sectors` into disk.  0 or -1. */
static int connect_disk(const char *opts, const char *sectors, char *disk, size_t len)
{
	char before[1024];
	int rc;

	lab_nvmf_disks(before, sizeof(before));
	rc = lab_run(out, sizeof(out), "nvme connect -t tcp -a 127.0.0.1 -s 4420 -n " NQN " --hostnqn "
		     HOSTNQN " %s", opts);
	CHECK_MSG(rc == 0, "nvme connect %s: exit %d", opts, rc);
	if (rc != 0 || lab_nvmf_new_disk(before, disk, len) < 0) {
		show_log();
		return -1;
	}
	for (int i = 0; i < 100 && lab_nvmf_disk_of_size(before, sectors, disk, len) < 0; i++)
		usleep(100000);
	return lab_nvmf_disk_of_size(before, sectors, disk, len);
}

static void brokered(const char *bdf)
{
	char disk[64] = "", eal[256], args[128], path[64];
	pid_t broker, tgt;
	FILE *f;

	printf("---- the target as uid 1000 through udk-broker\n");
	f = fopen(POLICY, "w");
	REQUIRE(f != NULL);
	fprintf(f, "# lab_nvmf_hot: uid 1000 serves the second NVMe over NVMe/TCP\n"
		   "user 1000 devices %s mem 160M\n", bdf);
	fclose(f);
	REQUIRE(lab_sh("udk-broker --policy " POLICY " --check") == 0);
	unlink(BROKER_LOG);
	broker = spawn("exec udk-broker --policy " POLICY " --socket " BROKER_SOCK " --log " BROKER_LOG
		       " 2>/tmp/udk-nvmf-hot-broker.err");
	REQUIRE(broker > 0);
	REQUIRE(lab_nvmf_wait_log(BROKER_LOG, "listening on", 30) == 0);

	snprintf(eal, sizeof(eal), "--broker " BROKER_SOCK " -a %s -m 128", bdf);
	snprintf(args, sizeof(args), "--nvme nv0:%s --nqn " NQN, bdf);
	tgt = start_target(AS1000, eal, args);
	REQUIRE(tgt > 0);
	if (lab_nvmf_wait_log(LOG, "ready", 90) < 0) {
		lab_sh("cat " LOG " /tmp/udk-nvmf-hot-broker.err; tail " BROKER_LOG);
		CHECK_MSG(0, "udk-nvmf-tgt --broker as uid 1000 did not become ready in 90 s");
		goto out;
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tgt);
	CHECK_MSG(lab_run(out, sizeof(out), "grep -E '^Uid:' %s", path) == 0 && strstr(out, "\t1000\t") != NULL,
		  "the target does not run as uid 1000: %s", out);
	CHECK(lab_nvmf_wait_log(BROKER_LOG, "GRANTED uid 1000", 5) == 0);

	if (connect_disk("--keep-alive-tmo=2", NVME_SECTORS, disk, sizeof(disk)) < 0) {
		CHECK_MSG(0, "no %s-sector disk after nvme connect", NVME_SECTORS);
		goto out_tgt;
	}
	printf("disk: /dev/%s (the NVMe, served by uid 1000)\n", disk);
	CHECK_MSG(lab_run(out, sizeof(out), "dd if=/tmp/nvmfhot.pat of=/dev/%s bs=1M count=8 oflag=direct && "
			  "dd if=/dev/%s of=/tmp/nvmfhot.back bs=1M count=8 iflag=direct && "
			  "cmp /tmp/nvmfhot.pat /tmp/nvmfhot.back", disk, disk) == 0,
		  "brokered: the 8 MiB pattern does not read back");
	CHECK_MSG(lab_run(out, sizeof(out), "dd if=/tmp/nvmfhot.pat of=/dev/%s bs=4k count=64 seek=4096 "
			  "oflag=direct && dd if=/dev/%s of=/tmp/nvmfhot.back bs=4k count=64 skip=4096 "
			  "iflag=direct && cmp -n 262144 /tmp/nvmfhot.pat /tmp/nvmfhot.back", disk, disk) == 0,
		  "brokered: 4 KiB writes do not read back");

	/* Idle for five KATO periods: only the kernel's Keep Alive commands
	 * keep the controller (the target ends it at 1.5 KATO without one). */
	CHECK(lab_nvmf_wait_log(LOG, "KATO 2000 ms", 5) == 0);
	sleep(10);
	CHECK_MSG(lab_nvmf_wait_log(LOG, "ended", 1) < 0, "the controller of a host sending Keep Alive ended");
	CHECK_MSG(lab_run(out, sizeof(out), "dd if=/dev/%s of=/tmp/nvmfhot.back bs=1M count=8 iflag=direct && "
			  "cmp /tmp/nvmfhot.pat /tmp/nvmfhot.back", disk) == 0,
		  "after 10 s idle (KATO 2 s): the pattern does not read back");
	CHECK(lab_run(out, sizeof(out), "nvme disconnect -n " NQN) == 0);
out_tgt:
	CHECK_MSG(lab_nvmf_stop(tgt) == 0, "the brokered target did not exit 0 on SIGINT");
	lab_sh("grep -E 'controller|closed' " LOG " | tail -6");
out:
	kill(broker, SIGTERM);
	waitpid(broker, NULL, 0);
	lab_sh("tail -4 " BROKER_LOG);
}

/* QEMU's nvme1 (UDK_LAB_NVME2) back on rp1, on its own image. */
static int qmp_readd(const char *bdf)
{
	const char *host_dir = lab_env_require("UDK_LAB_HOST_DIR");
	char cmd[1024], ans[4096];
	int rc;

	snprintf(cmd, sizeof(cmd), "{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"raw\", "
		 "\"node-name\": \"nvmfhot\", \"file\": {\"driver\": \"file\", \"filename\": "
		 "\"%s/nvme1.img\"}}}", host_dir);
	rc = lab_qmp(cmd, NULL, 10, ans, sizeof(ans));
	if (rc != 0) {
		printf("blockdev-add: %d %s\n", rc, ans);
		return rc;
	}
	rc = lab_qmp("{\"execute\": \"device_add\", \"arguments\": {\"driver\": \"nvme\", \"id\": \"nvme1\", "
		     "\"serial\": \"udk-lab-nvme1\", \"drive\": \"nvmfhot\", \"bus\": \"rp1\"}}",
		     NULL, 10, ans, sizeof(ans));
	if (rc != 0) {
		printf("device_add: %d %s\n", rc, ans);
		return rc;
	}
	for (int i = 0; i < 300 && lab_sh("test -e /sys/bus/pci/devices/%s", bdf) != 0; i++)
		usleep(100000);
	return lab_sh("test -e /sys/bus/pci/devices/%s", bdf);
}

/* fio in the background on /dev/disk for secs (randrw from offset 16 MiB),
 * its output and "fio exit N" into file. */
static void fio_start(const char *disk, const char *file, int secs)
{
	CHECK(lab_sh("(fio --name=%s --filename=/dev/%s --rw=randrw --bs=4k --offset=16M --size=40M "
		     "--ioengine=libaio --iodepth=16 --direct=1 --time_based --runtime=%d; echo \"fio exit $?\") "
		     ">%s 2>&1 &", disk, disk, secs, file) == 0);
}

/* Wait up to secs for file to say "fio exit"; its text into out.  0 or -1. */
static int fio_wait(const char *file, int secs)
{
	for (int i = 0; i < secs * 10 && lab_sh("grep -q 'fio exit' %s", file) != 0; i++)
		usleep(100000);
	return lab_run(out, sizeof(out), "cat %s", file) == 0 && strstr(out, "fio exit") != NULL ? 0 : -1;
}

static void hot_remove(const char *bdf)
{
	char eal[64], args[256], nv[64] = "", ram[64] = "", before[1024], line[512];
	uint64_t mark;
	pid_t tgt;
	int i, rc;

	printf("---- the NVMe removed by QMP under fio\n");
	snprintf(eal, sizeof(eal), "-a %s -m 128", bdf);
	snprintf(args, sizeof(args), "--nvme nv0:%s --malloc m0:64 --nqn " NQN, bdf);
	tgt = start_target("", eal, args);
	REQUIRE(tgt > 0);
	if (lab_nvmf_wait_log(LOG, "ready", 60) < 0) {
		show_log();
		lab_fatal("udk-nvmf-tgt with an nvme and a malloc bdev did not become ready in 60 s");
	}
	lab_nvmf_disks(before, sizeof(before));
	CHECK(lab_run(out, sizeof(out), "nvme connect -t tcp -a 127.0.0.1 -s 4420 -n " NQN " --hostnqn "
		      HOSTNQN) == 0);
	for (i = 0; i < 300 && (lab_nvmf_disk_of_size(before, NVME_SECTORS, nv, sizeof(nv)) < 0 ||
				lab_nvmf_disk_of_size(before, RAM_SECTORS, ram, sizeof(ram)) < 0); i++)
		usleep(100000);
	CHECK_MSG(nv[0] && ram[0], "two disks (nvme '%s', malloc '%s') after connect", nv, ram);
	if (!nv[0] || !ram[0]) {
		show_log();
		goto out;
	}
	usleep(500000);
	/* A pattern outside fio's range of namespace 2, to read back after. */
	CHECK(lab_run(out, sizeof(out), "dd if=/tmp/nvmfhot.pat of=/dev/%s bs=1M count=8 oflag=direct", ram) == 0);
	fio_start(nv, "/tmp/nvmfhot.fio1", 25);
	fio_start(ram, "/tmp/nvmfhot.fio2", 25);
	sleep(5);
	CHECK_MSG(lab_sh("grep -q 'fio exit' /tmp/nvmfhot.fio1 /tmp/nvmfhot.fio2") != 0,
		  "a fio ended before the NVMe was removed");
	mark = lab_kmsg_mark();
	rc = lab_qmp("{\"execute\": \"device_del\", \"arguments\": {\"id\": \"nvme1\"}}", "DEVICE_DELETED", 60,
		     out, sizeof(out));
	CHECK_MSG(rc == 0, "QMP device_del nvme1: %d %s (the unplug waits for udk to close the device)", rc, out);
	CHECK_MSG(lab_nvmf_wait_log(LOG, "namespace 1 of " NQN " removed", 30) == 0,
		  "the target did not log namespace 1's removal");
	CHECK_MSG(lab_sh("kill -0 %d", (int)tgt) == 0, "the target died when its NVMe went");

	CHECK_MSG(fio_wait("/tmp/nvmfhot.fio2", 90) == 0, "fio on namespace 2 did not end in 90 s");
	CHECK_MSG(strstr(out, "fio exit 0") != NULL && strstr(out, "err= 0") != NULL,
		  "fio on namespace 2, which stayed, had an error");
	CHECK_MSG(fio_wait("/tmp/nvmfhot.fio1", 90) == 0,
		  "fio on the removed namespace 1 did not end in 90 s: I/O hung");
	CHECK_MSG(strstr(out, "fio exit 0") == NULL, "fio on the removed namespace 1 saw no error");

	lab_nvmf_check_dropped(nv, ram, "/tmp/nvmfhot.pat");
	CHECK_MSG(lab_kmsg_find(mark, "nvme nvme[0-9]+: rescanning namespaces", 1000, line, sizeof(line)) == 1,
		  "the kernel did not rescan: no namespace-changed AEN reached it");
	/* Every command at the NVMe got its answer: the host timed none out. */
	CHECK_MSG(lab_kmsg_find(mark, "nvme.*([Tt]imeout|timed out|[Aa]bort)", 0, line, sizeof(line)) == 0,
		  "the kernel timed out a command after the removal: %s", line);
	CHECK(lab_run(out, sizeof(out), "nvme disconnect -n " NQN) == 0);
out:
	CHECK_MSG(lab_nvmf_stop(tgt) == 0, "the target did not exit 0 on SIGINT after the removal");
	lab_sh("grep -E 'removed|ended|closed|error' " LOG " | tail -10");
}

int main(void)
{
	const char *bdf;
	char drv[64] = "";

	setvbuf(stdout, NULL, _IONBF, 0);
	lab_require_guest();
	if (lab_sh("command -v nvme >/dev/null && command -v fio >/dev/null") != 0)
		lab_skip("nvme-cli or fio is not installed (scripts/setup.sh installs them)");
	if (access("/usr/bin/setpriv", X_OK) != 0)
		lab_skip("no setpriv (util-linux) to run as another user");
	lab_sh("ip link set lo up");
	if (lab_sh("modprobe nvme-tcp") != 0)
		lab_skip("this guest kernel has no nvme-tcp module");
	if (lab_sh(AS1000 "udk-nvmf-tgt --version >/dev/null 2>&1") != 0)
		lab_skip("uid 1000 cannot run the build tree's udk-nvmf-tgt (a directory above it is closed "
			 "to other users)");
	bdf = lab_env_require("UDK_LAB_NVME2");
	lab_device_driver(bdf, drv, sizeof(drv));
	REQUIRE(lab_bind_vfio(bdf) == 0);
	REQUIRE(lab_sh("dd if=/dev/urandom of=/tmp/nvmfhot.pat bs=1M count=8 2>/dev/null") == 0);

	brokered(bdf);
	hot_remove(bdf);

	CHECK_MSG(qmp_readd(bdf) == 0, "QMP device_add of nvme1 back on rp1");
	lab_bind(bdf, drv);
	return lab_result();
}
