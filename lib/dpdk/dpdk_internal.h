/* SPDX-License-Identifier: BSD-3-Clause */
/* dpdk_internal.h - what lib/dpdk gives drivers/net/dpdk inside
 * libudk_dpdk.  Not installed. */
#ifndef UDK_DPDK_INTERNAL_H
#define UDK_DPDK_INTERNAL_H

#include <stdbool.h>

/* Make sure DPDK's EAL runs: nothing if the application initialised it,
 * else rte_eal_init() with udk_dpdk_eal_args()'s arguments (the calling
 * thread's CPU affinity is kept).  0 or a negative error, logged. */
int dpdk_eal_ensure(void);

#endif
