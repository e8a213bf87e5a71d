/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_nvmf_tcp: the Linux kernel's NVMe/TCP initiator (nvme-tcp through
 * nvme-cli, unmodified) against udk-nvmf-tgt (from PATH) serving a malloc
 * bdev on 127.0.0.1:4420: nvme discover lists the subsystem; nvme connect
 * gives a /dev/nvmeXnY of the bdev's size; a random pattern written with dd
 * (1 MiB direct writes: R2T/H2CData; 4 KiB ones: in-capsule data) reads back
 * identical; fio --verify=crc32c write-then-verify passes; nvme disconnect;
 * the same again with header and data digests (-g -G) and two I/O queues;
 * an ext4 file system made, mounted, filled with a copy of a tree, checked
 * clean by fsck and read back identical after a remount;
 * a host NQN not on the allow-list is refused; SIGINT stops the target with
 * exit status 0; the target SIGKILLed and restarted (a file bdev on tmpfs)
 * while fio --verify writes: the host, connected with --ctrl-loss-tmo,
 * reconnects and fio ends with no error.  Then the second lab NVMe through udk's driver (an nvme
 * bdev): the same dd round trip from the kernel's side, and after the target
 * stopped, the blocks read through udk-nvme are the pattern the kernel wrote.
 * Between: a namespace added at run time through telemetry (nvmf_ns_add)
 * while the host is connected appears as a second disk that takes I/O, and
 * goes when removed (nvmf_ns_remove), namespace 1 keeping its data.
 * Then the target with two poll groups (-l 0-1) and the kernel host with
 * --nr-io-queues 2: fio --verify from both vCPUs passes, and telemetry
 * shows both groups served I/O.
 * Last, that NVMe (namespace 1) and a malloc bdev (namespace 2) in one
 * subsystem, and the NVMe hot-removed (sysfs remove): the target drops
 * namespace 1 and completes the host's AER; the kernel rescans and removes
 * that disk; namespace 2 keeps its data and takes I/O.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "labnvmf.h"
#include "labrun.h"
#include "labutil.h"

#define NQN "nqn.2026-12.io.udk:lab"
#define NQN_NVME "nqn.2026-12.io.udk:labnvme"
#define HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:0a0b0c0d-1111-2222-3333-444455556666"
#define OTHER "nqn.2014-08.org.nvmexpress:uuid:0a0b0c0d-9999-2222-3333-444455556666"
#define LOG "/tmp/udk-nvmf-tgt.log"

static char out[65536];

static int wait_log(const char *text, int secs)
{
	return lab_nvmf_wait_log(LOG, text, secs);
}

/* udk-nvmf-tgt with EAL options eal, then the target's own args. */
static pid_t start_target(const char *eal, const char *args)
{
	pid_t pid;

	unlink(LOG); /* so wait_log() reads this run's lines only */
	pid = fork();
	if (pid == 0) {
		char cmd[1024];

		snprintf(cmd, sizeof(cmd), "exec udk-nvmf-tgt -m 192 %s %s -- %s "
			 "--listen 127.0.0.1:4420 >" LOG " 2>&1",
			 strstr(eal, "--telemetry-path") ? "" : "--no-telemetry", eal, args);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* connect to nqn, check the disk has sectors, write and verify, disconnect;
 * opts are extra nvme connect options. */
static void session(const char *nqn, const char *sectors, const char *opts, const char *what)
{
	char before[1024], disk[64] = "", sz[64] = "";
	int rc;

	printf("---- %s\n", what);
	lab_nvmf_disks(before, sizeof(before));
	rc = lab_run(out, sizeof(out), "nvme connect -t tcp -a 127.0.0.1 -s 4420 -n %s"
		     " --hostnqn " HOSTNQN " %s", nqn, opts);
	CHECK_MSG(rc == 0, "%s: nvme connect exit %d", what, rc);
	if (rc != 0) {
		lab_sh("tail -30 " LOG "; dmesg | tail -20");
		return;
	}
	CHECK_MSG(lab_nvmf_new_disk(before, disk, sizeof(disk)) == 0, "%s: no new /dev/nvme*n* after connect", what);
	if (disk[0]) {
		char path[128];

		printf("disk: /dev/%s\n", disk);
		snprintf(path, sizeof(path), "/sys/block/%s/size", disk);
		lab_read_file(path, sz, sizeof(sz));
		CHECK_MSG(!strcmp(sz, sectors), "%s: /dev/%s has %s sectors, not %s", what, disk, sz, sectors);
		CHECK(lab_run(out, sizeof(out), "dd if=/dev/urandom of=/tmp/nvmf.pat bs=1M count=8 2>&1") == 0);
		/* 1 MiB writes: the kernel sends them through R2T/H2CData */
		CHECK_MSG(lab_run(out, sizeof(out), "dd if=/tmp/nvmf.pat of=/dev/%s bs=1M count=8 oflag=direct "
				  "2>&1", disk) == 0, "%s: dd write 1M", what);
		CHECK_MSG(lab_run(out, sizeof(out), "dd if=/dev/%s of=/tmp/nvmf.back bs=1M count=8 iflag=direct "
				  "2>&1 && cmp /tmp/nvmf.pat /tmp/nvmf.back", disk) == 0,
			  "%s: 8 MiB read back differs", what);
		/* 4 KiB writes at 16 MiB: in-capsule data */
		CHECK_MSG(lab_run(out, sizeof(out), "dd if=/tmp/nvmf.pat of=/dev/%s bs=4k count=64 seek=4096 "
				  "oflag=direct 2>&1 && dd if=/dev/%s of=/tmp/nvmf.back bs=4k count=64 skip=4096 "
				  "iflag=direct 2>&1 && cmp -n 262144 /tmp/nvmf.pat /tmp/nvmf.back", disk, disk) == 0,
			  "%s: 4 KiB writes read back differ", what);
		if (lab_sh("command -v fio >/dev/null") == 0)
			CHECK_MSG(lab_run(out, sizeof(out), "fio --name=verify --filename=/dev/%s --rw=randwrite "
					  "--bs=4k --size=32M --offset=32M --ioengine=libaio --iodepth=16 --direct=1 "
					  "--verify=crc32c --do_verify=1 --verify_fatal=1 2>&1", disk) == 0 &&
				  strstr(out, "err= 0") != NULL && strstr(out, "verify failed") == NULL,
				  "%s: fio --verify=crc32c", what);
	}
	rc = lab_run(out, sizeof(out), "nvme disconnect -n %s", nqn);
	CHECK_MSG(rc == 0 && strstr(out, "disconnected 1 controller") != NULL, "%s: nvme disconnect", what);
}

/* mkfs.ext4 on the target's disk, a tree copied in, fsck clean, the copy
 * identical after a remount. */
static void fs_session(void)
{
	char before[1024], disk[64] = "";

	printf("---- ext4 on the malloc namespace\n");
	lab_nvmf_disks(before, sizeof(before));
	CHECK(lab_run(out, sizeof(out), "nvme connect -t tcp -a 127.0.0.1 -s 4420 -n " NQN
		      " --hostnqn " HOSTNQN) == 0);
	if (lab_nvmf_new_disk(before, disk, sizeof(disk)) < 0) {
		CHECK_MSG(0, "ext4: no disk after connect");
		return;
	}
	CHECK(lab_run(out, sizeof(out), "mkfs.ext4 -q -F /dev/%s 2>&1", disk) == 0);
	CHECK(lab_run(out, sizeof(out), "mkdir -p /tmp/nvmf.mnt && mount /dev/%s /tmp/nvmf.mnt && "
		      "cp -a /usr/include/linux /tmp/nvmf.mnt/ && sync && umount /tmp/nvmf.mnt", disk) == 0);
	CHECK_MSG(lab_run(out, sizeof(out), "fsck.ext4 -fn /dev/%s 2>&1", disk) == 0, "fsck is not clean");
	CHECK_MSG(lab_run(out, sizeof(out), "echo 3 > /proc/sys/vm/drop_caches; mount /dev/%s /tmp/nvmf.mnt && "
			  "diff -r /usr/include/linux /tmp/nvmf.mnt/linux && echo same; umount /tmp/nvmf.mnt",
			  disk) == 0 && strstr(out, "same") != NULL, "the tree read back differs");
	CHECK(lab_run(out, sizeof(out), "nvme disconnect -n " NQN) == 0);
}

/* The target SIGKILLed under fio and started again on the same file bdev
 * (on the guest's tmpfs, so the data outlives the process): the host keeps
 * the controller (--ctrl-loss-tmo), reconnects, and fio carries on and
 * verifies every block it wrote. */
static void reconnect(void)
{
	char before[1024], disk[64] = "", fio[32] = "";
	uint64_t mark;
	pid_t pid;
	int i;

	printf("---- the target killed (SIGKILL) and restarted under fio\n");
	REQUIRE(lab_sh("rm -f /tmp/nvmf.img && truncate -s 64M /tmp/nvmf.img") == 0);
	pid = start_target("", "--file f0:/tmp/nvmf.img --nqn " NQN);
	REQUIRE(pid > 0);
	REQUIRE(wait_log("ready", 60) == 0);
	lab_nvmf_disks(before, sizeof(before));
	CHECK(lab_run(out, sizeof(out), "nvme connect -t tcp -a 127.0.0.1 -s 4420 -n " NQN " --hostnqn "
		      HOSTNQN " --ctrl-loss-tmo=60 --reconnect-delay=1") == 0);
	if (lab_nvmf_new_disk(before, disk, sizeof(disk)) < 0) {
		CHECK_MSG(0, "reconnect: no disk after connect");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return;
	}
	CHECK(lab_run(fio, sizeof(fio), "(fio --name=reconnect --filename=/dev/%s --rw=randwrite --bs=4k "
		      "--size=48M --ioengine=libaio --iodepth=8 --direct=1 --verify=crc32c --do_verify=1 "
		      "--verify_fatal=1; echo \"fio exit $?\") >/tmp/nvmf.fio 2>&1 & echo $!", disk) == 0);
	fio[strcspn(fio, "\n")] = '\0';
	sleep(3);
	CHECK_MSG(lab_sh("kill -0 %s", fio) == 0, "fio ended before the target was killed: make it longer");
	mark = lab_kmsg_mark();
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	sleep(1);
	pid = start_target("", "--file f0:/tmp/nvmf.img --nqn " NQN);
	REQUIRE(pid > 0);
	REQUIRE(wait_log("ready", 60) == 0);
	CHECK_MSG(lab_kmsg_find(mark, "Successfully reconnected", 60000, NULL, 0) == 1,
		  "the host did not reconnect to the restarted target in 60 s");
	for (i = 0; i < 1200 && lab_sh("kill -0 %s 2>/dev/null", fio) == 0; i++)
		usleep(100000);
	if (lab_run(out, sizeof(out), "cat /tmp/nvmf.fio") != 0 || strstr(out, "fio exit 0") == NULL)
		lab_sh("dmesg | grep -i nvme | tail -20; tail -20 " LOG);
	CHECK_MSG(strstr(out, "fio exit 0") != NULL && strstr(out, "err= 0") != NULL &&
		  strstr(out, "verify failed") == NULL, "fio across the restart: %s", out);
	CHECK(wait_log("controller 1 of " NQN " for host", 5) == 0);
	CHECK(lab_run(out, sizeof(out), "nvme disconnect -n " NQN) == 0);
	CHECK(lab_nvmf_stop(pid) == 0);
}

static void hot_remove(const char *bdf)
{
	char before[1024], eal[64], args[256], nv[64] = "", ram[64] = "";
	pid_t pid;
	int i;

	printf("---- the NVMe hot-removed under a connected host\n");
	snprintf(eal, sizeof(eal), "-a %s", bdf);
	snprintf(args, sizeof(args), "--nvme nv0:%s --malloc m0:64 --nqn " NQN_NVME, bdf);
	pid = start_target(eal, args);
	REQUIRE(pid > 0);
	REQUIRE(wait_log("ready", 60) == 0);
	lab_nvmf_disks(before, sizeof(before));
	CHECK(lab_run(out, sizeof(out), "nvme connect -t tcp -a 127.0.0.1 -s 4420 -n " NQN_NVME
		      " --hostnqn " HOSTNQN) == 0);
	for (i = 0; i < 200 && (lab_nvmf_disk_of_size(before, "524288", nv, sizeof(nv)) < 0 ||
				lab_nvmf_disk_of_size(before, "131072", ram, sizeof(ram)) < 0); i++)
		usleep(100000);
	CHECK_MSG(nv[0] && ram[0], "two disks (nvme %s, malloc %s) after connect", nv, ram);
	if (nv[0] && ram[0]) {
		usleep(500000);
		CHECK(lab_run(out, sizeof(out), "dd if=/tmp/nvmf.pat of=/dev/%s bs=1M count=8 oflag=direct 2>&1",
			      ram) == 0);
		CHECK(lab_sh("echo 1 > /sys/bus/pci/devices/%s/remove", bdf) == 0);
		CHECK_MSG(wait_log("namespace 1 of " NQN_NVME " removed", 30) == 0,
			  "the target did not drop namespace 1");
		lab_nvmf_check_dropped(nv, ram, "/tmp/nvmf.pat");
	}
	CHECK(lab_run(out, sizeof(out), "nvme disconnect -n " NQN_NVME) == 0);
	CHECK(lab_nvmf_stop(pid) == 0);
	lab_sh("grep -E 'removed|ended|closed' " LOG " | tail -8");
}

/* One telemetry request to the target at TEL_SOCK; the answer line into
 * ans.  0 or -1. */
#define TEL_SOCK "/tmp/udk-nvmf-lab.sock"
static int telemetry(const char *req, char *ans, size_t len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t got = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", TEL_SOCK);
	ans[0] = '\0';
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req) || write(fd, "\n", 1) != 1) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (got + 1 < len && memchr(ans, '\n', got) == NULL) {
		ssize_t n = read(fd, ans + got, len - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
		ans[got] = '\0';
	}
	close(fd);
	printf("telemetry: %s -> %s", req, ans);
	return memchr(ans, '\n', got) != NULL ? 0 : -1;
}

/* A namespace added at run time (nvmf_ns_add, a 32 MiB malloc bdev) under
 * a connected host: the kernel gets the AEN and shows a second disk that
 * takes I/O; removed (nvmf_ns_remove): that disk goes, namespace 1 keeps its
 * data. */
static void runtime_namespaces(void)
{
	char before[1024], n1[64] = "", n2[64] = "", ans[4096];
	pid_t pid;
	int i;

	printf("---- namespaces added and removed at run time\n");
	pid = start_target("--telemetry-path " TEL_SOCK, "--malloc m0:64 --nqn " NQN);
	REQUIRE(pid > 0);
	REQUIRE(wait_log("ready", 60) == 0);
	lab_nvmf_disks(before, sizeof(before));
	CHECK(lab_run(out, sizeof(out), "nvme connect -t tcp -a 127.0.0.1 -s 4420 -n " NQN
		      " --hostnqn " HOSTNQN) == 0);
	CHECK_MSG(lab_nvmf_new_disk(before, n1, sizeof(n1)) == 0, "no disk after connect");
	if (n1[0]) {
		CHECK(lab_run(out, sizeof(out), "dd if=/tmp/nvmf.pat of=/dev/%s bs=1M count=8 oflag=direct "
			      "2>&1", n1) == 0);
		lab_nvmf_disks(before, sizeof(before));
		CHECK(telemetry("{\"cmd\":\"nvmf_ns_add\",\"params\":{\"subsystem\":\"" NQN "\","
				"\"bdev\":\"malloc:rt1:32\"}}", ans, sizeof(ans)) == 0 &&
		      strstr(ans, "\"nsid\":2") != NULL);
		CHECK_MSG(wait_log("namespace 2 of " NQN " added", 10) == 0, "the target did not add namespace 2");
		for (i = 0; i < 300 && lab_nvmf_disk_of_size(before, "65536", n2, sizeof(n2)) < 0; i++)
			usleep(100000);
		CHECK_MSG(n2[0], "no 32 MiB disk within 30 s of nvmf_ns_add (the AEN not seen?)");
		lab_sh("dmesg | grep -i nvme | tail -4");
	}
	if (n2[0]) {
		printf("new disk: /dev/%s\n", n2);
		usleep(500000);
		CHECK_MSG(lab_run(out, sizeof(out), "dd if=/tmp/nvmf.pat of=/dev/%s bs=1M count=8 seek=8 "
				  "oflag=direct 2>&1 && dd if=/dev/%s of=/tmp/nvmf.back bs=1M count=8 skip=8 "
				  "iflag=direct 2>&1 && cmp /tmp/nvmf.pat /tmp/nvmf.back", n2, n2) == 0,
			  "the added namespace: 8 MiB read back differs");
		CHECK(telemetry("{\"cmd\":\"nvmf_ns_remove\",\"params\":{\"subsystem\":\"" NQN "\","
				"\"nsid\":2}}", ans, sizeof(ans)) == 0 && strstr(ans, "\"data\"") != NULL);
		lab_nvmf_check_dropped(n2, n1, "/tmp/nvmf.pat");
		lab_sh("dmesg | grep -i nvme | tail -4");
	}
	CHECK(lab_run(out, sizeof(out), "nvme disconnect -n " NQN) == 0);
	CHECK(lab_nvmf_stop(pid) == 0);
	lab_sh("grep -E 'namespace|ended' " LOG " | tail -8");
}

/* The I/O a poll group served, from the "nvmf" answer: -1 if not there. */
static long long group_ios(const char *ans, int id)
{
	char key[32];
	const char *p, *q;

	snprintf(key, sizeof(key), "{\"id\":%d,", id);
	p = strstr(ans, key);
	q = p ? strstr(p, "\"ios\":") : NULL;
	return q ? atoll(q + 6) : -1;
}

/* Two poll groups (-l 0-1): the kernel host with 2 I/O queues (admin and
 * two I/O connections, spread over both groups), fio --verify from both
 * vCPUs (blk-mq gives each CPU its own queue), and telemetry shows both
 * groups served I/O. */
static void two_groups(void)
{
	char before[1024], disk[64] = "", ans[8192] = "";
	long long g0 = -1, g1 = -1;
	pid_t pid;

	printf("---- two poll groups (-l 0-1), 2 I/O queues\n");
	pid = start_target("-l 0-1 --telemetry-path " TEL_SOCK, "--malloc m0:64 --nqn " NQN);
	REQUIRE(pid > 0);
	if (wait_log("ready: 2 poll groups", 60) < 0) {
		lab_sh("cat " LOG);
		CHECK_MSG(0, "udk-nvmf-tgt -l 0-1 did not become ready with 2 poll groups in 60 s");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return;
	}
	lab_nvmf_disks(before, sizeof(before));
	CHECK(lab_run(out, sizeof(out), "nvme connect -t tcp -a 127.0.0.1 -s 4420 -n " NQN
		      " --hostnqn " HOSTNQN " --nr-io-queues 2") == 0);
	CHECK_MSG(lab_nvmf_new_disk(before, disk, sizeof(disk)) == 0, "two groups: no disk after connect");
	if (disk[0]) {
		CHECK_MSG(lab_run(out, sizeof(out), "fio --name=verify2 --filename=/dev/%s --rw=randwrite "
				  "--bs=4k --size=16M --offset_increment=16M --numjobs=2 --cpus_allowed=0-1 "
				  "--cpus_allowed_policy=split --ioengine=libaio --iodepth=16 --direct=1 "
				  "--verify=crc32c --do_verify=1 --verify_fatal=1 2>&1", disk) == 0 &&
			  strstr(out, "err= 0") != NULL && strstr(out, "verify failed") == NULL,
			  "two groups: fio --verify=crc32c from both vCPUs");
		CHECK(telemetry("{\"cmd\":\"nvmf\"}", ans, sizeof(ans)) == 0);
		g0 = group_ios(ans, 0);
		g1 = group_ios(ans, 1);
		CHECK_MSG(g0 > 0 && g1 > 0, "two groups: both served I/O (group 0: %lld, group 1: %lld)", g0, g1);
	}
	lab_sh("grep -E 'poll group|polled by' " LOG " | tail -6");
	CHECK(lab_run(out, sizeof(out), "nvme disconnect -n " NQN) == 0);
	CHECK(lab_nvmf_stop(pid) == 0);
}

int main(void)
{
	pid_t pid;
	int rc;

	setvbuf(stdout, NULL, _IONBF, 0);
	lab_require_guest();
	if (lab_sh("command -v nvme >/dev/null") != 0)
		lab_skip("nvme-cli is not installed (scripts/setup.sh installs it)");
	lab_sh("ip link set lo up");
	if (lab_sh("modprobe nvme-tcp") != 0)
		lab_skip("this guest kernel has no nvme-tcp module");

	pid = start_target("", "--malloc m0:64 --nqn " NQN);
	REQUIRE(pid > 0);
	if (wait_log("ready", 60) < 0) {
		lab_sh("cat " LOG);
		lab_fatal("udk-nvmf-tgt did not become ready in 60 s");
	}
	rc = lab_run(out, sizeof(out), "nvme discover -t tcp -a 127.0.0.1 -s 4420 --hostnqn " HOSTNQN);
	CHECK_MSG(rc == 0 && strstr(out, "subnqn:  " NQN) != NULL && strstr(out, "trsvcid: 4420") != NULL &&
		  strstr(out, "trtype:  tcp") != NULL, "nvme discover (exit %d)", rc);

	session(NQN, "131072", "", "malloc, plain");
	session(NQN, "131072", "-g -G --nr-io-queues 2", "malloc, header and data digests, 2 I/O queues");
	fs_session();
	CHECK(lab_nvmf_stop(pid) == 0);
	lab_sh("grep -E 'closed|ended|refused' " LOG " | tail -20");
	runtime_namespaces();
	two_groups();

	/* An allow-list without this host: Connect refused, the reason logged. */
	pid = start_target("", "--malloc m0:64 --nqn " NQN " --host " HOSTNQN);
	REQUIRE(pid > 0);
	REQUIRE(wait_log("ready", 60) == 0);
	rc = lab_run(out, sizeof(out), "nvme connect -t tcp -a 127.0.0.1 -s 4420 -n " NQN " --hostnqn " OTHER);
	CHECK_MSG(rc != 0, "a host not on the allow-list connected");
	CHECK(wait_log("host " OTHER " is not on the allow-list", 5) == 0);
	CHECK(lab_nvmf_stop(pid) == 0);
	lab_sh("nvme disconnect -n " NQN " >/dev/null 2>&1");

	reconnect();

	/* The second lab NVMe (256 MiB) through udk's driver. */
	{
		const char *bdf = lab_env_require("UDK_LAB_NVME2");
		char drv[64] = "", eal[64], args[256];

		lab_device_driver(bdf, drv, sizeof(drv));
		REQUIRE(lab_bind_vfio(bdf) == 0);
		snprintf(eal, sizeof(eal), "-a %s", bdf);
		snprintf(args, sizeof(args), "--nvme nv0:%s --nqn " NQN_NVME, bdf);
		pid = start_target(eal, args);
		REQUIRE(pid > 0);
		if (wait_log("ready", 60) < 0) {
			lab_sh("cat " LOG);
			lab_fatal("udk-nvmf-tgt with an nvme bdev did not become ready in 60 s");
		}
		session(NQN_NVME, "524288", "-G", "nvme bdev, data digest");
		CHECK(lab_nvmf_stop(pid) == 0);
		/* What the kernel wrote, read through udk: the first 8 MiB. */
		CHECK_MSG(lab_run(out, sizeof(out), "udk-nvme -m 64 -a %s read --lba 0 --count 16384 --file "
				  "/tmp/nvmf.udk 2>&1 && cmp /tmp/nvmf.pat /tmp/nvmf.udk", bdf) == 0,
			  "the NVMe read through udk-nvme is not what the kernel wrote over NVMe/TCP");
		hot_remove(bdf);
		lab_sh("echo 1 > /sys/bus/pci/rescan");
		for (int i = 0; i < 50 && lab_sh("test -e /sys/bus/pci/devices/%s", bdf) != 0; i++)
			usleep(100000);
		lab_bind(bdf, drv);
	}
	return lab_result();
}
