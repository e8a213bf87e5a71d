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
 * regions were mapped into the controller's IOMMU map.
 *
 * Needs qemu-system-x86_64 (the host's, over 9p), the lab's vmlinux and
 * initramfs (lab.py passes their paths in lab.env) and the Debian guest (the
 * nested guest loads virtio_blk from the host's /lib/modules).  The nested
 * boot takes minutes under TCG in TCG (about 80 s to its init here).
 */
#include <signal.h>
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
	"for i in $(seq 100); do [ -b /dev/vda ] && break; sleep 0.2; done\n"
	"[ -b /dev/vda ] || end 'no /dev/vda: the vhost-user-blk device did not appear'\n"
	"say \"vda: $(cat /sys/block/vda/size) sectors, serial $(cat /sys/block/vda/serial)\"\n"
	"[ \"$(cat /sys/block/vda/serial)\" = " SERIAL " ] || end 'vda is not udk-vhost-blk'\n"
	"dd if=/mnt/pat of=/dev/vda bs=64k seek=16 oflag=direct conv=fsync 2>&1 || end 'dd write failed'\n"
	"dd if=/dev/vda of=/tmp/back bs=64k skip=16 count=64 iflag=direct 2>&1 || end 'dd read failed'\n"
	"cmp /mnt/pat /tmp/back || end 'the pattern read back differs'\n"
	"say \"pattern verified at $(cut -d' ' -f1 /proc/uptime) s\"\n"
	"end ok\n";

static pid_t start_target(const char *bdf)
{
	pid_t pid = fork();

	if (pid == 0) {
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "exec udk-vhost-blk -a %s -m 64 --no-telemetry -- --socket "
			 SOCK " --nvme 1 --name " SERIAL " --once --poll-us 0 >" LOG " 2>&1", bdf);
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

static int wait_socket(pid_t pid, int secs)
{
	for (int i = 0; i < secs * 10; i++) {
		if (access(SOCK, F_OK) == 0)
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

int main(void)
{
	unsigned long long reads = 0, writes = 0, direct = 0, bounced = ~0ULL, errors = ~0ULL;
	const char *bdf, *vmlinux, *initrd, *guest;
	char done[256] = "";
	pid_t pid;
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

	pid = start_target(bdf);
	REQUIRE(pid > 0);
	if (wait_socket(pid, 60) < 0) {
		lab_sh("cat " LOG);
		lab_fatal("udk-vhost-blk did not listen on " SOCK " in 60 s");
	}
	lab_sh("cat " LOG);

	printf("booting the nested guest (TCG inside TCG; console in " CONSOLE ", timeout %d s)\n",
	       NESTED_TIMEOUT);
	rc = lab_sh("timeout -k 10 %d qemu-system-x86_64 -machine q35,accel=tcg -cpu max -m 256 "
		    "-smp 1 -nographic -no-reboot -net none -vga none -kernel %s -initrd %s "
		    "-append 'console=ttyS0 quiet panic=-1 tsc=reliable no_timer_check' "
		    "-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem "
		    "-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,"
		    "multidevs=remap -virtfs local,path=" W "/share,mount_tag=labdir,"
		    "security_model=none -chardev socket,id=c,path=" SOCK " "
		    "-device vhost-user-blk-pci,chardev=c,num-queues=1,addr=0x5 "
		    "</dev/null >" CONSOLE " 2>&1", NESTED_TIMEOUT, vmlinux, initrd);
	lab_read_file(W "/share/done", done, sizeof(done));
	printf("nested QEMU exited %d; the nested guest says: %s\n", rc, done[0] ? done : "(nothing)");
	lab_sh("grep '^nested:' " CONSOLE);
	if (strcmp(done, "ok") != 0) {
		printf("nested console, last lines:\n");
		lab_sh("tail -40 " CONSOLE);
	}
	CHECK_MSG(strcmp(done, "ok") == 0, "the nested guest did not verify its pattern (rc %d)", rc);

	CHECK_MSG(stop_target(pid) == 0, "udk-vhost-blk did not exit cleanly");
	lab_run(out, sizeof(out), "cat " LOG);
	{
		const char *s = strstr(out, "bdev: ");
		CHECK_MSG(s != NULL && sscanf(s, "bdev: %llu reads, %llu writes, %llu direct, %llu bounced, "
					      "%llu errors", &reads, &writes, &direct, &bounced,
					      &errors) == 5, "no bdev counters in the target's log");
	}
	printf("zero copy: %llu reads, %llu writes: %llu direct, %llu bounced, %llu errors\n", reads,
	       writes, direct, bounced, errors);
	CHECK_MSG(writes > 0 && direct > 0 && bounced == 0 && errors == 0,
		  "guest I/O did not all go straight between the NVMe and guest RAM");
	CHECK(strstr(out, "cannot reach it") == NULL);

	/* What the nested guest wrote, read through udk's driver. */
	CHECK_MSG(lab_run(out, sizeof(out), "udk-nvme -m 64 --no-telemetry -a %s read --lba %d --count %d "
			  "--file " W "/udk.back 2>&1 && cmp " W "/share/pat " W "/udk.back", bdf, PAT_LBA,
			  PAT_MIB << 11) == 0,
		  "the NVMe read through udk-nvme is not what the nested guest wrote");
	return lab_result();
}
