/* SPDX-License-Identifier: BSD-3-Clause */
/* eal_internal.h - what lib/eal's files need from each other.  Not installed. */
#ifndef UDK_EAL_INTERNAL_H
#define UDK_EAL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "udk_eal.h"

/* Pin the caller as lcore 0 on cpus[0] and start workers 1..n-1; with n == 0
 * the caller is the only lcore, left where it runs.  Undone by stop. */
int eal_lcores_start(const unsigned int *cpus, size_t n);
void eal_lcores_stop(void);

/* eal_telemetry.c: start the server (unless --no-telemetry) before the
 * lcores, so that its thread keeps the process's CPU mask; register the
 * EAL's commands once init has succeeded.  stop undoes both. */
int eal_telemetry_start(const struct udk_eal_args *args, int argc, char **argv);
void eal_telemetry_register(void);
void eal_telemetry_stop(void);

/* eal.c, for map_mem.c: the memory options of the command line (defaults
 * when udk runs inside another environment); whether memory comes from
 * udk-broker; the event callback that maps a heap's segments into the map
 * given as arg as the heap grows, and unmaps them before they go. */
void eal_mem_opts(struct udk_mem_opts *mo);
bool eal_brokered(void);
int eal_map_follows_heap(enum udk_mem_event ev, struct udk_memseg *seg, void *arg);

#endif
