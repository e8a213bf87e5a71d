/* SPDX-License-Identifier: BSD-3-Clause */
/* out.h - pieces of udk-nvme-perf's output that need no device: the live
 * progress line and the latency histogram (text and JSON), so that a unit
 * test can check them. */
#ifndef UDK_NVME_PERF_OUT_H
#define UDK_NVME_PERF_OUT_H

#include <stdint.h>
#include <stdio.h>

#include "hist.h"

/* The progress line for the second ending at t of a run of total seconds:
 * "udk-nvme-perf:   2.0 s      1234 IOPS      4.82 MiB/s   40% done, 3.0 s left". */
void out_progress(FILE *f, double t, double dt, uint64_t ios, uint64_t io_size, double total);

/* spdk_nvme_perf -LL's histogram: every non-empty bucket as "LO - HI: CUM% (COUNT)",
 * in microseconds, after a title line. */
void out_hist_text(FILE *f, const char *title, const struct hist *h);

/* The same buckets as a JSON member: "histogram":[{"lo_us":..,"hi_us":..,"count":..},..]
 * (lo inclusive, hi exclusive). */
void out_hist_json(FILE *f, const struct hist *h);

/* The same buckets for gnuplot: PREFIX.dat ("lo_us hi_us count cumulative%"
 * per non-empty bucket, after a comment line) and PREFIX.gp, a script that
 * draws the counts as boxes on a log latency axis and the cumulative
 * percentage on the second axis into PREFIX.svg.  0, or -errno after a line
 * on stderr naming the file. */
int out_hist_plot(const char *prefix, const char *title, const struct hist *h);

#endif
