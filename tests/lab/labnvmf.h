/* SPDX-License-Identifier: BSD-3-Clause */
/* labnvmf.h - what the udk-nvmf-tgt lab tests share: the kernel's NVMe/TCP
 * disks as they come and go, the target's log, stopping it. */
#ifndef UDK_LABNVMF_H
#define UDK_LABNVMF_H

#include <stddef.h>
#include <sys/types.h>

/* The names of /dev/nvme*n* block devices, space separated (not the hidden
 * per-path nodes nvmeXcYnZ of native multipath, which have no /dev node). */
void lab_nvmf_disks(char *buf, size_t len);
/* Wait up to 30 s for a disk not in before (a lab_nvmf_disks() list), and
 * for its /dev node to open; its name into name.  0 or -1. */
int lab_nvmf_new_disk(const char *before, char *name, size_t len);
/* The disk of this many 512-byte sectors among those not in before (name
 * into disk), now.  0 or -1. */
int lab_nvmf_disk_of_size(const char *before, const char *sectors, char *disk, size_t len);
/* Wait up to secs for a line of the file log that contains text.  0 or -1. */
int lab_nvmf_wait_log(const char *log, const char *text, int secs);
/* After the namespace behind disk `gone` went away (AEN sent): the kernel
 * drops that disk within 30 s, keeps `stayed`, whose first 8 MiB read back
 * as the file `pattern`.  Failures are CHECKs. */
void lab_nvmf_check_dropped(const char *gone, const char *stayed, const char *pattern);
/* SIGINT to pid, up to 20 s to exit (then SIGKILL): its exit status,
 * 128 + signal if a signal ended it, -1 if it had to be killed. */
int lab_nvmf_stop(pid_t pid);

#endif
