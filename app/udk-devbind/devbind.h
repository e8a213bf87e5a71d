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
int cmd_doctor(const struct udk_pci_addr *addrs, int naddrs);

/* s as a JSON string, quoted and escaped, on stdout. */
void json_str(const char *s);

/* probe (probe.c): open each address through VFIO and identify it.
 * Returns an exit code. */
int cmd_probe(const struct udk_pci_addr *addrs, int naddrs, bool json, bool bind, bool no_dma);

#endif
