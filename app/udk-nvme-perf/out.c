/* SPDX-License-Identifier: BSD-3-Clause */
/* out.c - udk-nvme-perf's progress line and latency histogram (out.h). */
#include <errno.h>
#include <string.h>

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

/* gnuplot's strings are in double quotes: keep a title or name that holds
 * one (or a backslash) out of the script rather than escape it. */
static int plot_safe(const char *s)
{
	return strpbrk(s, "\"\\\n") == NULL;
}

int out_hist_plot(const char *prefix, const char *title, const struct hist *h)
{
	char path[4096 + 8];
	uint64_t seen = 0;
	FILE *f;

	if (!plot_safe(prefix) || !plot_safe(title)) {
		fprintf(stderr, PROG ": --plot %s: a name with a quote, backslash or newline cannot "
			"go into a gnuplot script\n", prefix);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s.dat", prefix);
	if ((f = fopen(path, "w")) == NULL)
		goto fail;
	fprintf(f, "# lo_us hi_us count cumulative_percent (%s, %llu I/Os)\n", title,
		(unsigned long long)h->count);
	for (unsigned int i = 0; i < HIST_BUCKETS; i++) {
		if (h->bucket[i] == 0)
			continue;
		seen += h->bucket[i];
		fprintf(f, "%.3f %.3f %llu %.4f\n", (double)hist_low(i) / 1e3,
			(double)bucket_hi(h, i) / 1e3, (unsigned long long)h->bucket[i],
			100.0 * (double)seen / (double)h->count);
	}
	if (fclose(f) != 0)
		goto fail;
	snprintf(path, sizeof(path), "%s.gp", prefix);
	if ((f = fopen(path, "w")) == NULL)
		goto fail;
	fprintf(f, "# udk-nvme-perf --plot: run `gnuplot %s.gp` to draw %s.svg\n"
		"set terminal svg size 900,500 dynamic\n"
		"set output \"%s.svg\"\n"
		"set title \"udk-nvme-perf latency, %s (%llu I/Os)\"\n"
		"set logscale x\n"
		"set xlabel \"latency (us)\"\n"
		"set ylabel \"I/Os\"\n"
		"set y2label \"cumulative %%\"\n"
		"set y2range [0:100]\n"
		"set ytics nomirror\n"
		"set y2tics\n"
		"set style fill solid 0.5\n"
		"lo(a, b) = a > 0 ? a : b / 2\n"
		"plot \"%s.dat\" using (sqrt(lo($1,$2)*$2)):($3/2):(lo($1,$2)):2:(0):3 "
		"with boxxyerror title \"I/Os\", \\\n"
		"     \"%s.dat\" using 2:4 axes x1y2 with lines title \"cumulative %%\"\n",
		prefix, prefix, prefix, title, (unsigned long long)h->count, prefix, prefix);
	if (fclose(f) != 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, PROG ": --plot: cannot write %s: %s\n", path, strerror(errno));
	return -errno;
}
