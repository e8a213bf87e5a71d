/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit test for udk-nvme-perf's output pieces that need no device (out.c):
 * the progress line with its percent done and time left, and the latency
 * histogram as text (spdk_nvme_perf -LL's form) and as JSON buckets that
 * hold each sample and add up to the count. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../tests/unit/common/unit.h"
#include "out.h"

static char buf[65536];

static FILE *open_buf(void)
{
	memset(buf, 0, sizeof(buf));
	return fmemopen(buf, sizeof(buf) - 1, "w");
}

static void test_progress(void)
{
	FILE *f = open_buf();

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	out_progress(f, 2.0, 1.0, 1000, 4096, 5);
	fclose(f);
	CU_ASSERT_STRING_EQUAL(buf, "udk-nvme-perf:   2.0 s        1000 IOPS       3.91 MiB/s   "
			       "40% done, 3.0 s left\n");
	/* The last line may come a little after --time: never past 100%. */
	f = open_buf();
	out_progress(f, 5.2, 1.0, 0, 4096, 5);
	fclose(f);
	CU_ASSERT(strstr(buf, " 0 IOPS") != NULL);
	CU_ASSERT(strstr(buf, "100% done, 0.0 s left\n") != NULL);
}

static void test_hist_text(void)
{
	struct hist h;
	FILE *f;

	hist_init(&h);
	for (int i = 0; i < 3; i++)
		hist_add(&h, 1000);
	hist_add(&h, 2000);
	f = open_buf();
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	out_hist_text(f, "total", &h);
	fclose(f);
	CU_ASSERT_STRING_EQUAL(buf, "latency histogram, total (4 I/Os)\n"
			       "                range in us   cumulative    I/O count\n"
			       "       0.992 -        1.008:    75.0000%  (         3)\n"
			       "       1.984 -        2.016:   100.0000%  (         1)\n");
}

/* --plot: the data file holds every non-empty bucket with its cumulative
 * percentage, and gnuplot (scripts/setup.sh: gnuplot-nox) draws the script
 * into an SVG with no complaint. */
static void test_hist_plot(void)
{
	char dir[] = "/tmp/udk-plot-XXXXXX", prefix[64], path[96], line[256], cmd[256];
	unsigned int rows = 0;
	double lo, hi, cum = 0;
	unsigned long long n, sum = 0;
	struct hist h;
	FILE *f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(prefix, sizeof(prefix), "%s/lat", dir);
	hist_init(&h);
	for (int i = 0; i < 300; i++)
		hist_add(&h, 1000 + (uint64_t)i * 977);
	hist_add(&h, 5);
	CU_ASSERT_EQUAL(out_hist_plot(prefix, "total", &h), 0);
	snprintf(path, sizeof(path), "%s.dat", prefix);
	f = fopen(path, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (line[0] == '#')
			continue;
		CU_ASSERT_EQUAL(sscanf(line, "%lf %lf %llu %lf", &lo, &hi, &n, &cum), 4);
		CU_ASSERT(lo < hi);
		sum += n;
		rows++;
	}
	fclose(f);
	CU_ASSERT(rows > 1);
	CU_ASSERT_EQUAL(sum, 301);
	CU_ASSERT(cum > 99.999);
	/* A prefix gnuplot could not read back is refused, not written. */
	CU_ASSERT_EQUAL(out_hist_plot("/tmp/a\"b", "total", &h), -EINVAL);
	if (access("/usr/bin/gnuplot", X_OK) != 0) {
		CU_FAIL("no /usr/bin/gnuplot: scripts/setup.sh installs gnuplot-nox");
	} else {
		snprintf(cmd, sizeof(cmd), "cd %s && gnuplot lat.gp 2>lat.err && ! test -s lat.err", dir);
		CU_ASSERT_EQUAL(system(cmd), 0);
		snprintf(path, sizeof(path), "%s.svg", prefix);
		f = fopen(path, "r");
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		CU_ASSERT(fread(line, 1, sizeof(line) - 1, f) > 0);
		fclose(f);
		line[sizeof(line) - 1] = '\0';
		CU_ASSERT(strstr(line, "<svg") != NULL || strstr(line, "<?xml") != NULL);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

static void test_hist_json(void)
{
	struct hist h;
	uint64_t sum = 0;
	FILE *f;
	char *p;

	hist_init(&h);
	f = open_buf();
	out_hist_json(f, &h);
	fclose(f);
	CU_ASSERT_STRING_EQUAL(buf, "\"histogram\":[]");

	hist_add(&h, 1000);
	hist_add(&h, 2000);
	hist_add(&h, 2000);
	f = open_buf();
	out_hist_json(f, &h);
	fclose(f);
	CU_ASSERT_STRING_EQUAL(buf, "\"histogram\":[{\"lo_us\":0.992,\"hi_us\":1.008,\"count\":1},"
			       "{\"lo_us\":1.984,\"hi_us\":2.016,\"count\":2}]");

	/* Samples over the whole range: the counts add up, the buckets ascend. */
	hist_init(&h);
	for (uint64_t v = 1; v < (1ull << 40); v = v * 3 + 7)
		hist_add(&h, v);
	hist_add(&h, UINT64_MAX / 2); /* into the last bucket */
	f = open_buf();
	out_hist_json(f, &h);
	fclose(f);
	double prev_hi = 0;
	for (p = strstr(buf, "{\"lo_us\":"); p != NULL; p = strstr(p + 1, "{\"lo_us\":")) {
		double lo, hi;
		unsigned long long c;

		CU_ASSERT_EQUAL_FATAL(sscanf(p, "{\"lo_us\":%lf,\"hi_us\":%lf,\"count\":%llu}", &lo,
					     &hi, &c), 3);
		CU_ASSERT(lo >= prev_hi && hi > lo && c > 0);
		prev_hi = hi;
		sum += c;
	}
	CU_ASSERT_EQUAL(sum, h.count);
	CU_ASSERT(prev_hi * 1e3 >= (double)h.max);
}

int main(void)
{
	static const struct unit_test t[] = {
		{"progress line: percent done, time left", test_progress},
		{"histogram as text", test_hist_text},
		{"histogram as JSON buckets", test_hist_json},
		{"histogram for gnuplot (--plot)", test_hist_plot},
	};

	return unit_run("nvme-perf-out", t, UDK_ARRAY_SIZE(t));
}
