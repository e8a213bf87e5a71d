/* SPDX-License-Identifier: BSD-3-Clause */
/* dpdk_eal.c - DPDK's EAL inside a udk application: the arguments the user
 * passed through (udk-fwd --dpdk-args), and rte_eal_init() when the first
 * dpdk port needs it. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include "dpdk_internal.h"
#include "udk_dpdk.h"
#include "udk_util.h"

#define LOG "dpdk"
#define MAX_ARGS 64
#define DEFAULT_ARGS "--no-pci --no-huge -m 256 --no-shconf --no-telemetry"

static char eal_args[1024] = DEFAULT_ARGS;
static bool we_started;

int udk_dpdk_eal_args(const char *args)
{
	if (rte_lcore_count() > 0) {
		udk_log(UDK_LOG_ERR, LOG, "DPDK's EAL runs already; its arguments can no longer "
			"change");
		return -EBUSY;
	}
	if (args == NULL || strlen(args) >= sizeof(eal_args)) {
		udk_log(UDK_LOG_ERR, LOG, "DPDK EAL arguments: missing or longer than %zu bytes",
			sizeof(eal_args) - 1);
		return -EINVAL;
	}
	strcpy(eal_args, args);
	return 0;
}

int dpdk_eal_ensure(void)
{
	char buf[sizeof(eal_args)], *argv[MAX_ARGS + 2], *save, *tok;
	cpu_set_t cpus;
	int argc = 0, rc;
	bool have_cpus;

	if (rte_lcore_count() > 0)
		return 0; /* the application (or an earlier port) started DPDK */
	if (we_started) {
		udk_log(UDK_LOG_ERR, LOG, "DPDK's EAL failed to start before; it cannot be "
			"started twice in one process");
		return -EINVAL;
	}
	strcpy(buf, eal_args);
	argv[argc++] = (char *)"udk-dpdk";
	for (tok = strtok_r(buf, " \t", &save); tok != NULL; tok = strtok_r(NULL, " \t", &save)) {
		if (argc == MAX_ARGS + 1) {
			udk_log(UDK_LOG_ERR, LOG, "DPDK EAL arguments: more than %d", MAX_ARGS);
			return -E2BIG;
		}
		argv[argc++] = tok;
	}
	argv[argc] = NULL;
	/* rte_eal_init() pins the calling thread to DPDK's main lcore; this
	 * thread is udk's, so it keeps the CPUs it had. */
	have_cpus = pthread_getaffinity_np(pthread_self(), sizeof(cpus), &cpus) == 0;
	we_started = true;
	rc = rte_eal_init(argc, argv);
	if (have_cpus)
		pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
	if (rc < 0) {
		udk_log(UDK_LOG_ERR, LOG, "rte_eal_init(%s) failed: %s; check the DPDK EAL "
			"arguments (udk-fwd --dpdk-args)", eal_args, rte_strerror(rte_errno));
		return -(rte_errno ? rte_errno : EINVAL);
	}
	return 0;
}
