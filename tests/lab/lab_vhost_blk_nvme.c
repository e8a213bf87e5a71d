/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_vhost_blk_nvme: udk-vhost-blk serves the lab's first NVMe (namespace 1,
 * through udk's driver, EAL -a) over a vhost-user socket to a nested QEMU
 * (qemu-system-x86_64 -accel tcg inside this guest: shared memfd memory,
 * vhost-user-blk-pci, the lab's own vmlinux and initramfs, this guest's root
 * over 9p as the lab does).  One nested boot: its virtio-blk driver writes a
 * 4 MiB random pattern at 1 MiB with O_DIRECT (64 KiB requests, several
 * guest pages each), reads it back and compares.  Then, the target stopped,
 * the same blocks read through udk-nvme must be the pattern, and the
 * target's counters must show that every read and write went straight
 * between the NVMe and guest RAM (direct > 0, bounced 0): the guest memory
 * regions were mapped into the controller's IOMMU map; and the controller's
 * SMART command counters must have grown by one command per request.
 *
 * In the same nested boot, a second disk: udk-vhost-blk run as uid 1000
 * (setpriv) with --broker, serving the second lab NVMe that udk-broker lends
 * it.  The guest verifies its pattern on that disk too and udk-nvme finds it
 * on the NVMe afterwards.  A brokered map holds only what the broker mapped,
 * so there the guest's regions cannot be registered: its counters must say
 * so (every read and write bounced, none direct), and the log why.
 *
 * Needs qemu-system-x86_64 (the host's, over 9p), the lab's vmlinux and
 * initramfs (lab.py passes their paths in lab.env) and the Debian guest (the
 * nested guest loads virtio_blk from the host's /lib/modules).  The nested
 * boot takes minutes under TCG in TCG (about 80 s to its init here).
 */
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "labrun.h"
#include "labutil.h"

#define W "/tmp/vhn"
#define SOCK W "/vhost.sock"
#define LOG W "/udk-vhost-blk.log"
#define CONSOLE W "/nested-console.log"
#define SERIAL "udkvnvme"
#define PAT_MIB 4
#define PAT_LBA 2048 /* 1 MiB in 512-byte blocks */
#define NESTED_TIMEOUT 1500
#define BW W "/broker"
#define BSOCK BW "/vhost.sock"
#define BLOG BW "/udk-vhost-blk.log"
#define BROKER_SOCK BW "/broker.sock"
#define BSERIAL "udkvbrkr"

#define AS1000 "setpriv --reuid 1000 --regid 1000 --clear-groups "

static char out[65536];

/* The nested guest's script (run by the lab's init.sh from its share at
 * /mnt): the pattern onto the vhost-user disk and back. */
static const char nested_sh[] =
	"#!/bin/sh\n"
	"export PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
	"say() { echo \"nested: $*\"; }\n"
	"end() { echo \"$1\" > /mnt/done; sync; busybox poweroff -f; }\n"
	"say \"up at $(cut -d' ' -f1 /proc/uptime) s\"\n"
	"modprobe virtio_blk || say 'modprobe virtio_blk failed'\n"
	"disk() { for d in /sys/block/vd*; do [ \"$(cat $d/serial 2>/dev/null)\" = \"$1\" ] && "
	"echo /dev/${d##*/}; done; }\n"
	"[ -s /mnt/serials ] || end 'no /mnt/serials: the disks to check'\n"
	"for s in $(cat /mnt/serials); do\n"
	"	for i in $(seq 100); do [ -n \"$(disk $s)\" ] && break; sleep 0.2; done\n"
	"	d=$(disk $s)\n"
	"	[ -n \"$d\" ] || end \"no disk with serial $s: its vhost-user-blk device did not appear\"\n"
	"	say \"$s is $d, $(cat /sys/block/${d#/dev/}/size) sectors\"\n"
	"	dd if=/mnt/pat of=$d bs=64k seek=16 oflag=direct conv=fsync 2>&1 || end \"dd write to $s failed\"\n"
	"	dd if=$d of=/tmp/back bs=64k skip=16 count=64 iflag=direct 2>&1 || end \"dd read of $s failed\"\n"
	"	cmp /mnt/pat /tmp/back || end \"the pattern read back from $s differs\"\n"
	"	say \"$s: pattern verified at $(cut -d' ' -f1 /proc/uptime) s\"\n"
	"done\n"
	"end ok\n";

static pid_t spawn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static pid_t spawn(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int stop_target(pid_t pid)
{
	int st = -1;

	for (int i = 0; i < 600; i++) { /* --once: it ends with the connection */
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (i == 100)
			kill(pid, SIGTERM);
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static int wait_socket(const char *sock, pid_t pid, int secs)
{
	for (int i = 0; i < secs * 10; i++) {
		if (access(sock, F_OK) == 0)
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		usleep(100000);
	}
	return -1;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

struct counters {
	unsigned long long reads, writes, direct, bounced, errors;
};

/* The bdev counters of a target's log (its line at the disconnect). */
static bool counters(const char *log, struct counters *c)
{
	const char *s;

	lab_run(out, sizeof(out), "cat %s", log);
	s = strstr(out, "udk-vhost-blk: bdev: "); /* not lib/bdev's "udk: bdev: error" lines */
	return s != NULL && sscanf(s, "udk-vhost-blk: bdev: %llu reads, %llu writes, %llu direct, %llu bounced, "
				   "%llu errors", &c->reads, &c->writes, &c->direct, &c->bounced,
				   &c->errors) == 5;
}

/* Read and write commands the NVMe at bdf has served (SMART, through
 * udk-nvme: the device must be free), or -1. */
static long long nvme_cmds(const char *bdf)
{
	const char *r, *w;

	if (lab_run(out, sizeof(out), "udk-nvme -m 64 --no-telemetry -a %s smart-log --json",
		    bdf) != 0)
		return -1;
	r = strstr(out, "\"host_read_commands\":");
	w = strstr(out, "\"host_write_commands\":");
	if (r == NULL || w == NULL)
		return -1;
	return strtoll(r + strlen("\"host_read_commands\":"), NULL, 10) +
	       strtoll(w + strlen("\"host_write_commands\":"), NULL, 10);
}

/* The broker phase: udk-broker lends bdf2 to uid 1000, whose udk-vhost-blk
 * serves it on BSOCK.  The broker's pid in *broker, the target's returned;
 * -1 (with the reason printed) when this guest cannot run it. */
static pid_t start_brokered(const char *bdf2, pid_t *broker)
{
	FILE *f;
	pid_t pid;

	*broker = -1;
	if (access("/usr/bin/setpriv", X_OK) != 0) {
		printf("broker phase not run: no setpriv (util-linux) to run as uid 1000\n");
		return -1;
	}
	if (lab_sh(AS1000 "udk-vhost-blk --version >/dev/null 2>&1") != 0) {
		printf("broker phase not run: uid 1000 cannot run the build tree's udk-vhost-blk\n");
		return -1;
	}
	REQUIRE(lab_sh("mkdir -p " BW " && chmod 1777 " BW) == 0);
	f = fopen(BW "/policy", "w");
	REQUIRE(f != NULL);
	fprintf(f, "user 1000 devices %s mem 96M\n", bdf2);
	fclose(f);
	REQUIRE(lab_bind_vfio(bdf2) == 0);
	*broker = spawn("exec udk-broker --policy " BW "/policy --socket " BROKER_SOCK " --log "
			BW "/broker.log 2>" BW "/broker.err");
	REQUIRE(*broker > 0);
	if (wait_socket(BROKER_SOCK, *broker, 30) < 0) {
		lab_sh("cat " BW "/broker.err " BW "/broker.log");
		lab_fatal("udk-broker did not listen on " BROKER_SOCK " in 30 s");
	}
	pid = spawn("exec " AS1000 "udk-vhost-blk --broker " BROKER_SOCK " -a %s -m 64 "
		    "--no-telemetry -- --socket " BSOCK " --nvme 1 --name " BSERIAL " --once "
		    "--poll-us 0 >" BLOG " 2>&1", bdf2);
	REQUIRE(pid > 0);
	if (wait_socket(BSOCK, pid, 60) < 0) {
		lab_sh("cat " BLOG " " BW "/broker.log");
		lab_fatal("uid 1000's udk-vhost-blk --broker did not listen on " BSOCK " in 60 s");
	}
	lab_sh("cat " BLOG);
	return pid;
}

int main(void)
{
	struct counters c = {0, 0, 0, ~0ULL, ~0ULL}, cb = {0, 0, ~0ULL, 0, ~0ULL};
	const char *bdf, *bdf2 = NULL, *vmlinux, *initrd, *guest;
	char done[256] = "", dev2[160] = "";
	pid_t pid, bpid = -1, broker = -1;
	long long cmds0, cmds1;
	int rc;

	setvbuf(stdout, NULL, _IONBF, 0);
	lab_require_guest();
	bdf = lab_env_require("UDK_LAB_NVME");
	guest = lab_env("UDK_LAB_GUEST");
	if (guest != NULL && strcmp(guest, "debian") != 0)
		lab_skip("the nested guest needs the Debian lab kernel's modules (this is the %s guest)",
			 guest);
	vmlinux = lab_env("UDK_LAB_VMLINUX");
	initrd = lab_env("UDK_LAB_INITRD");
	if (vmlinux == NULL || initrd == NULL || access(vmlinux, R_OK) || access(initrd, R_OK))
		lab_skip("lab.env names no readable UDK_LAB_VMLINUX/UDK_LAB_INITRD for the nested guest");
	if (lab_sh("command -v qemu-system-x86_64 >/dev/null") != 0)
		lab_skip("no qemu-system-x86_64 in this guest (the host's Debian package "
			 "qemu-system-x86, seen over 9p)");

	REQUIRE(lab_sh("rm -rf " W " && mkdir -p " W "/share") == 0);
	REQUIRE(write_file(W "/share/guest.sh", nested_sh) == 0);
	REQUIRE(write_file(W "/share/host-binds", "") == 0);
	REQUIRE(lab_sh("dd if=/dev/urandom of=" W "/share/pat bs=1M count=%d 2>/dev/null", PAT_MIB) == 0);
	REQUIRE(lab_bind_vfio(bdf) == 0);
	cmds0 = nvme_cmds(bdf);

	pid = spawn("exec udk-vhost-blk -a %s -m 64 --no-telemetry -- --socket " SOCK " --nvme 1 "
		    "--name " SERIAL " --once --poll-us 0 >" LOG " 2>&1", bdf);
	REQUIRE(pid > 0);
	if (wait_socket(SOCK, pid, 60) < 0) {
		lab_sh("cat " LOG);
		lab_fatal("udk-vhost-blk did not listen on " SOCK " in 60 s");
	}
	lab_sh("cat " LOG);
	bdf2 = lab_env("UDK_LAB_NVME2");
	bpid = bdf2 != NULL ? start_brokered(bdf2, &broker) : -1;
	if (bdf2 == NULL)
		printf("broker phase not run: no second lab NVMe\n");
	if (bpid > 0)
		snprintf(dev2, sizeof(dev2), "-chardev socket,id=c2,path=" BSOCK " -device "
			 "vhost-user-blk-pci,chardev=c2,num-queues=1,addr=0x6");
	REQUIRE(write_file(W "/share/serials", bpid > 0 ? SERIAL " " BSERIAL "\n" : SERIAL "\n") == 0);

	printf("booting the nested guest (TCG inside TCG; console in " CONSOLE ", timeout %d s)\n",
	       NESTED_TIMEOUT);
	rc = lab_sh("timeout -k 10 %d qemu-system-x86_64 -machine q35,accel=tcg -cpu max -m 256 "
		    "-smp 1 -nographic -no-reboot -net none -vga none -kernel %s -initrd %s "
		    "-append 'console=ttyS0 quiet panic=-1 tsc=reliable no_timer_check' "
		    "-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem "
		    "-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,"
		    "multidevs=remap -virtfs local,path=" W "/share,mount_tag=labdir,"
		    "security_model=none -chardev socket,id=c,path=" SOCK " "
		    "-device vhost-user-blk-pci,chardev=c,num-queues=1,addr=0x5 %s "
		    "</dev/null >" CONSOLE " 2>&1", NESTED_TIMEOUT, vmlinux, initrd, dev2);
	lab_read_file(W "/share/done", done, sizeof(done));
	printf("nested QEMU exited %d; the nested guest says: %s\n", rc, done[0] ? done : "(nothing)");
	if (lab_env("UDK_LAB_DIR") != NULL) /* the host sees the lab share */
		lab_sh("cp " CONSOLE " %s/results/lab_vhost_blk_nvme.nested-console.log",
		       lab_env("UDK_LAB_DIR"));
	lab_sh("grep '^nested:' " CONSOLE);
	if (strcmp(done, "ok") != 0) {
		printf("nested console, last lines:\n");
		lab_sh("tail -40 " CONSOLE);
	}
	CHECK_MSG(strcmp(done, "ok") == 0, "the nested guest did not verify its pattern (rc %d)", rc);

	CHECK_MSG(stop_target(pid) == 0, "udk-vhost-blk did not exit cleanly");
	CHECK_MSG(counters(LOG, &c), "no bdev counters in the target's log");
	printf("zero copy: %llu reads, %llu writes: %llu direct, %llu bounced, %llu errors\n", c.reads,
	       c.writes, c.direct, c.bounced, c.errors);
	CHECK_MSG(c.writes > 0 && c.direct > 0 && c.bounced == 0 && c.errors == 0,
		  "guest I/O did not all go straight between the NVMe and guest RAM");
	CHECK(strstr(out, "cannot reach it") == NULL);
	/* A request of several guest pages goes to the NVMe as one command
	 * (lib/bdev's nvme backend, udk_nvme_ns_iov()). */
	cmds1 = nvme_cmds(bdf);
	printf("NVMe read and write commands (SMART): %lld for %llu requests: %.2f per request\n",
	       cmds1 - cmds0, c.reads + c.writes,
	       c.reads + c.writes ? (double)(cmds1 - cmds0) / (double)(c.reads + c.writes) : 0.0);
	CHECK_MSG(cmds0 >= 0 && cmds1 >= cmds0 && c.reads + c.writes > 0 &&
		  (double)(cmds1 - cmds0) <= 1.05 * (double)(c.reads + c.writes),
		  "guest requests did not go as one NVMe command each");
	if (bpid > 0) {
		CHECK_MSG(stop_target(bpid) == 0, "uid 1000's udk-vhost-blk did not exit cleanly");
		CHECK_MSG(counters(BLOG, &cb), "no bdev counters in uid 1000's target's log");
		printf("through udk-broker: %llu reads, %llu writes: %llu direct, %llu bounced, "
		       "%llu errors\n", cb.reads, cb.writes, cb.direct, cb.bounced, cb.errors);
		CHECK_MSG(cb.writes > 0 && cb.direct == 0 && cb.bounced == cb.reads + cb.writes &&
			  cb.errors == 0, "a brokered target's guest I/O is bounced, all of it");
		CHECK_MSG(strstr(out, "cannot reach it") != NULL,
			  "the brokered target did not say why its I/O is bounced");
		kill(broker, SIGTERM);
		waitpid(broker, NULL, 0);
		CHECK_MSG(lab_run(out, sizeof(out), "udk-nvme -m 64 --no-telemetry -a %s read --lba %d "
				  "--count %d --file " W "/udk2.back 2>&1 && cmp " W "/share/pat "
				  W "/udk2.back", bdf2, PAT_LBA, PAT_MIB << 11) == 0,
			  "the second NVMe read through udk-nvme is not what the nested guest wrote");
	}

	/* What the nested guest wrote, read through udk's driver. */
	CHECK_MSG(lab_run(out, sizeof(out), "udk-nvme -m 64 --no-telemetry -a %s read --lba %d --count %d "
			  "--file " W "/udk.back 2>&1 && cmp " W "/share/pat " W "/udk.back", bdf, PAT_LBA,
			  PAT_MIB << 11) == 0,
		  "the NVMe read through udk-nvme is not what the nested guest wrote");
	return lab_result();
}
