/* SPDX-License-Identifier: BSD-3-Clause */
/* opts.h - udk-nvme-perf's options: what the command line asks for. */
#ifndef UDK_NVME_PERF_OPTS_H
#define UDK_NVME_PERF_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define PROG "udk-nvme-perf"
#define MAX_NS 16 /* namespaces per controller */

enum mode { M_POLL, M_INTERRUPT, M_ADAPTIVE }; /* the order of udk_nvme_intr_mode */
extern const char *const mode_names[];

enum pattern { P_READ, P_WRITE, P_RANDREAD, P_RANDWRITE, P_RW, P_RANDRW };
extern const char *const pattern_names[];

struct opts {
	uint32_t qd;
	uint64_t io_size;
	enum pattern pattern;
	int mix;        /* % reads; -1: from the pattern */
	double time;
	uint32_t nsids[MAX_NS]; /* --ns list, or every active namespace with ns_all */
	unsigned int nb_nsids;
	bool ns_all;
	const char *ns_arg;
	bool json;
	bool verify;    /* read back every acknowledged write after the run */
	bool qpair_latency;
	bool histogram; /* --histogram (-LL): the total's latency buckets */
	const char *plot; /* --plot PREFIX: PREFIX.dat and a gnuplot script PREFIX.gp */
	enum mode mode; /* --mode (default poll) */
	uint32_t spin;  /* --spin: adaptive mode's empty polls before a sleep */
	int coalesce_thr, coalesce_time; /* --coalesce THR,TIME; -1: not asked */
};

/* "udk-nvme-perf: " fmt on stderr; returns 1 (the runtime-error exit code). */
int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void usage(FILE *f);

/* The options after the EAL's: 0, or the exit code 2 with a line on stderr. */
int parse(int argc, char **argv, struct opts *o);

#endif
