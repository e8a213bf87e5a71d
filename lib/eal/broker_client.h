/* SPDX-License-Identifier: BSD-3-Clause */
/* broker_client.h - lib/eal's side of udk-broker (--broker SOCK): what eal.c
 * calls instead of opening memory and devices itself.  Not installed. */
#ifndef UDK_EAL_BROKER_CLIENT_H
#define UDK_EAL_BROKER_CLIENT_H

#include "udk_eal.h"

/* Connect to the broker, authenticate (the kernel tells it our uid), ask for
 * the -a devices and -m memory, and keep the fds of its GRANT.  0 or a
 * negative code after one line saying what the broker or the socket said. */
int eal_broker_connect(const struct udk_eal_args *args);
/* The lib/mem segment source: granted segments first, then MEM requests. */
const struct udk_mem_source *eal_broker_mem_source(void);
/* Tell the brokered map about every segment the broker mapped, now and as
 * the heap grows. */
int eal_broker_adopt_map(struct udk_dmamap *map);
/* The memory event callback that records a granted segment in the map. */
int eal_broker_seg_event(enum udk_mem_event ev, struct udk_memseg *seg, void *arg);
/* Open -a device addr from the fd the broker handed over, in map. */
int eal_broker_open_device(const struct udk_pci_addr *addr, struct udk_dmamap *map,
			   struct udk_pci_dev **out);
/* Close the socket (the broker then resets our devices) and every fd not
 * handed on. */
void eal_broker_close(void);

#endif
