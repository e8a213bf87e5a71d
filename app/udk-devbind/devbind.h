/* SPDX-License-Identifier: BSD-3-Clause */
/* devbind.h - what the parts of udk-devbind share. */
#ifndef UDK_DEVBIND_H
#define UDK_DEVBIND_H

#include <stdbool.h>

#include "udk_pci.h"

#define PROG "udk-devbind"

/* Exit codes. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* "udk-devbind: <msg>" on stderr. */
void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* doctor: checks the host, then each address (all vfio-pci devices when
 * naddrs is 0).  Returns an exit code. */
int cmd_doctor(const struct udk_pci_addr *addrs, int naddrs, bool json);

/* hugepages COUNT [--size SIZE] [--node N]: reserve COUNT hugepages of SIZE
 * (kernel/mm/hugepages, or one node's), then read back what the kernel
 * gave.  Returns an exit code. */
int cmd_hugepages(const char *count, const char *size, const char *node);

/* inuse.c: print one line "STEP BDF: in use: ..." for each way the machine
 * uses the device (a mounted, swapping or held disk; an interface with an
 * address or the default route), each with what to do.  Returns how many. */
int devbind_in_use(const char *step, const char *bdf);

/* The kernel's names for a device: its network interfaces and its disks
 * (NVMe namespaces, virtio-blk), each list comma-separated, "" if none. */
struct devbind_names {
	char ifs[256], disks[256];
};
void devbind_kernel_names(const char *bdf, struct devbind_names *names);

/* Refuse (1) or allow (0) taking bdf from its driver drv for step; prints the
 * uses, then the refusal or, with force, that it goes ahead anyway. */
int devbind_refuse_in_use(const char *step, const char *bdf, const char *drv, bool force);

/* s as a JSON string, quoted and escaped, on stdout. */
void json_str(const char *s);

/* probe (probe.c): open each address through VFIO and identify it.
 * Returns an exit code. */
int cmd_probe(const struct udk_pci_addr *addrs, int naddrs, bool json, bool bind, bool no_dma,
	      bool force);

#endif
