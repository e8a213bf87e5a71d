/* SPDX-License-Identifier: BSD-3-Clause */
/* out.c - udk-nvme-perf's progress line and latency histogram (out.h). */
#include "out.h"
#include "opts.h"

void out_progress(FILE *f, double t, double dt, uint64_t ios, uint64_t io_size, double total)
{
	double pct = total > 0 ? 100 * t / total : 100, left = total - t;

	if (pct > 100)
		pct = 100;
	if (left < 0)
		left = 0;
	fprintf(f, PROG ": %5.1f s  %10.0f IOPS  %9.2f MiB/s  %3.0f%% done, %.1f s left\n", t,
		(double)ios / dt, (double)ios * (double)io_size / dt / 1048576, pct, left);
}

/* Bucket i's exclusive upper end; the last bucket holds everything above. */
static uint64_t bucket_hi(const struct hist *h, unsigned int i)
{
	if (i + 1 < HIST_BUCKETS)
		return hist_low(i + 1);
	return h->max + 1;
}

void out_hist_text(FILE *f, const char *title, const struct hist *h)
{
	uint64_t seen = 0;

	fprintf(f, "latency histogram, %s (%llu I/Os)\n", title, (unsigned long long)h->count);
	fprintf(f, "%27s %12s %12s\n", "range in us", "cumulative", "I/O count");
	for (unsigned int i = 0; i < HIST_BUCKETS; i++) {
		if (h->bucket[i] == 0)
			continue;
		seen += h->bucket[i];
		fprintf(f, "%12.3f - %12.3f: %10.4f%%  (%10llu)\n", (double)hist_low(i) / 1e3,
			(double)bucket_hi(h, i) / 1e3, 100.0 * (double)seen / (double)h->count,
			(unsigned long long)h->bucket[i]);
	}
}

void out_hist_json(FILE *f, const struct hist *h)
{
	const char *sep = "";

	fprintf(f, "\"histogram\":[");
	for (unsigned int i = 0; i < HIST_BUCKETS; i++) {
		if (h->bucket[i] == 0)
			continue;
		fprintf(f, "%s{\"lo_us\":%.3f,\"hi_us\":%.3f,\"count\":%llu}", sep,
			(double)hist_low(i) / 1e3, (double)bucket_hi(h, i) / 1e3,
			(unsigned long long)h->bucket[i]);
		sep = ",";
	}
	fprintf(f, "]");
}
