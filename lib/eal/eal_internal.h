/* SPDX-License-Identifier: BSD-3-Clause */
/* eal_internal.h - what eal.c needs from lcore.c.  Not installed. */
#ifndef UDK_EAL_INTERNAL_H
#define UDK_EAL_INTERNAL_H

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

#endif
