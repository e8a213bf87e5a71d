/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit test for udk-nvme-perf's output pieces that need no device (out.c):
 * the progress line with its percent done and time left, and the latency
 * histogram as text (spdk_nvme_perf -LL's form) and as JSON buckets that
 * hold each sample and add up to the count. */
#include <stdlib.h>
#include <string.h>

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
	};

	return unit_run("nvme-perf-out", t, UDK_ARRAY_SIZE(t));
}
