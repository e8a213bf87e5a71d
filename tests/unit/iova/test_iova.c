/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for lib/iova: apertures, first-fit allocation, reservation,
 * exact frees, restriction to a device's aperture, exhaustion; the size-class
 * caches on one thread (test_iova_stress.c has the threads). */
#include <errno.h>
#include <stdlib.h>

#include "../common/unit.h"
#include "udk_iova.h"
#include "udk_util.h"

static void test_default_space_avoids_msi_and_39_bits(void)
{
	struct udk_iova_space *sp;
	struct udk_iova_range r[4];
	size_t n;
	uint64_t iova;

	CU_ASSERT_EQUAL_FATAL(udk_iova_space_create(NULL, 0, &sp), 0);
	CU_ASSERT_EQUAL(udk_iova_space_ranges(sp, r, 4, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(r[0].start, UDK_IOVA_SAFE_START);
	CU_ASSERT_EQUAL(r[0].last, UDK_IOVA_MSI_START - 1);
	CU_ASSERT_EQUAL(r[1].start, UDK_IOVA_MSI_LAST + 1);
	CU_ASSERT_EQUAL(r[1].last, (1ULL << 39) - 1);
	/* The MSI window is never handed out: a reservation there fails. */
	CU_ASSERT_EQUAL(udk_iova_reserve(sp, UDK_IOVA_MSI_START, 4096), -UDK_ENOIOVA);
	CU_ASSERT_EQUAL(udk_iova_alloc(sp, 1ULL << 30, 1ULL << 30, &iova), 0);
	CU_ASSERT_EQUAL(iova % (1ULL << 30), 0);
	CU_ASSERT(iova + (1ULL << 30) - 1 < UDK_IOVA_MSI_START || iova > UDK_IOVA_MSI_LAST);
	udk_iova_space_destroy(sp);
}

static void test_alloc_first_fit_and_alignment(void)
{
	struct udk_iova_range ap = {0x10000, 0x1fffff};
	struct udk_iova_space *sp;
	uint64_t a, b, c;

	CU_ASSERT_EQUAL_FATAL(udk_iova_space_create(&ap, 1, &sp), 0);
	CU_ASSERT_EQUAL(udk_iova_alloc(sp, 0x1000, 0x1000, &a), 0);
	CU_ASSERT_EQUAL(a, 0x10000);
	CU_ASSERT_EQUAL(udk_iova_alloc(sp, 0x1000, 0x10000, &b), 0);
	CU_ASSERT_EQUAL(b, 0x20000);
	CU_ASSERT_EQUAL(udk_iova_alloc(sp, 0x1000, 0x1000, &c), 0);
	CU_ASSERT_EQUAL(c, 0x11000); /* first fit fills the gap left by alignment */
	CU_ASSERT_EQUAL(udk_iova_space_used(sp), 0x3000);
	CU_ASSERT_EQUAL(udk_iova_free(sp, a, 0x1000), 0);
	CU_ASSERT_EQUAL(udk_iova_alloc(sp, 0x1000, 0x1000, &a), 0);
	CU_ASSERT_EQUAL(a, 0x10000); /* freed IOVA is reusable after the free */
	CU_ASSERT_EQUAL(udk_iova_alloc(sp, 0, 0x1000, &a), -EINVAL);
	CU_ASSERT_EQUAL(udk_iova_alloc(sp, 0x1000, 0x3000, &a), -EINVAL);
	CU_ASSERT_EQUAL(udk_iova_alloc(sp, 0x1001, 0x1000, &a), -EINVAL);
	udk_iova_space_destroy(sp);
}

static void test_exhaustion_is_reported(void)
{
	struct udk_iova_range ap = {0x100000, 0x4fffff}; /* 4 MiB */
	struct udk_iova_space *sp;
	uint64_t a;

	CU_ASSERT_EQUAL_FATAL(udk_iova_space_create(&ap, 1, &sp), 0);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(udk_iova_alloc(sp, 1 << 20, 1 << 20, &a), 0);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_iova_alloc(sp, 4096, 4096, &a), -UDK_ENOIOVA);
	CU_ASSERT_LAST_ERROR_HAS("IOVA space exhausted");
	/* Larger than the whole space. */
	CU_ASSERT_EQUAL(udk_iova_alloc(sp, 1ULL << 40, 4096, &a), -UDK_ENOIOVA);
	/* Near the top of the 64-bit space, alignment must not wrap. */
	struct udk_iova_range top = {UINT64_MAX - 0xffff, UINT64_MAX};
	struct udk_iova_space *sp2;
	CU_ASSERT_EQUAL_FATAL(udk_iova_space_create(&top, 1, &sp2), 0);
	CU_ASSERT_EQUAL(udk_iova_alloc(sp2, 0x10000, 0x10000, &a), 0);
	CU_ASSERT_EQUAL(udk_iova_alloc(sp2, 0x1000, 1ULL << 63, &a), -UDK_ENOIOVA);
	udk_iova_space_destroy(sp2);
	udk_iova_space_destroy(sp);
}

static void test_reserve_and_exact_free(void)
{
	struct udk_iova_space *sp;
	uint64_t a;

	CU_ASSERT_EQUAL_FATAL(udk_iova_space_create(NULL, 0, &sp), 0);
	CU_ASSERT_EQUAL(udk_iova_reserve(sp, 0x40000000, 0x200000), 0);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_iova_reserve(sp, 0x401ff000, 0x2000), -UDK_EOVERLAP);
	CU_ASSERT_LAST_ERROR_HAS("overlaps");
	CU_ASSERT_EQUAL(udk_iova_reserve(sp, 1ULL << 45, 0x1000), -UDK_ENOIOVA);
	CU_ASSERT_EQUAL(udk_iova_reserve(sp, 0x1001, 0x1000), -EINVAL);
	CU_ASSERT_EQUAL(udk_iova_free(sp, 0x40000000, 0x1000), -UDK_ENOTMAPPED);
	CU_ASSERT_EQUAL(udk_iova_free(sp, 0x40001000, 0x1ff000), -UDK_ENOTMAPPED);
	CU_ASSERT_EQUAL(udk_iova_free(sp, 0x40000000, 0x200000), 0);
	CU_ASSERT_EQUAL(udk_iova_free(sp, 0x40000000, 0x200000), -UDK_ENOTMAPPED);
	CU_ASSERT_EQUAL(udk_iova_alloc(sp, 0x1000, 0x1000, &a), 0);
	CU_ASSERT_EQUAL(udk_iova_space_used(sp), 0x1000);
	udk_iova_space_destroy(sp);
}

static void test_restrict_to_device_aperture(void)
{
	struct udk_iova_range wide = {0x1000, (1ULL << 48) - 1};
	/* What the lab's vIOMMU reports (LAB.md). */
	struct udk_iova_range lab[] = {{0, 0xfedfffff}, {0xfef00000, 0x7fffffffffULL}};
	struct udk_iova_range r[4], bad;
	struct udk_iova_space *sp;
	size_t n;

	CU_ASSERT_EQUAL_FATAL(udk_iova_space_create(&wide, 1, &sp), 0);
	CU_ASSERT_EQUAL(udk_iova_reserve(sp, 1ULL << 45, 0x200000), 0);
	CU_ASSERT_EQUAL(udk_iova_space_restrict(sp, lab, 2, &bad), -UDK_EINCOMPATIBLE);
	CU_ASSERT_EQUAL(bad.start, 1ULL << 45);
	CU_ASSERT_EQUAL(bad.last, (1ULL << 45) + 0x200000 - 1);
	/* Nothing changed after the refusal. */
	CU_ASSERT_EQUAL(udk_iova_space_ranges(sp, r, 4, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(udk_iova_free(sp, 1ULL << 45, 0x200000), 0);
	CU_ASSERT_EQUAL(udk_iova_space_restrict(sp, lab, 2, &bad), 0);
	CU_ASSERT_EQUAL(udk_iova_space_ranges(sp, r, 4, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(r[0].start, 0x1000);
	CU_ASSERT_EQUAL(r[0].last, 0xfedfffff);
	CU_ASSERT_EQUAL(r[1].start, 0xfef00000);
	CU_ASSERT_EQUAL(r[1].last, 0x7fffffffffULL);
	/* Disjoint apertures leave nothing: incompatible. */
	struct udk_iova_range high = {1ULL << 50, (1ULL << 51) - 1};
	CU_ASSERT_EQUAL(udk_iova_space_restrict(sp, &high, 1, &bad), -UDK_EINCOMPATIBLE);
	udk_iova_space_destroy(sp);
}

static void test_unsorted_overlapping_ranges_are_merged(void)
{
	struct udk_iova_range in[] = {{0x300000, 0x3fffff}, {0x100000, 0x1fffff},
				      {0x180000, 0x2fffff}, {0x900000, 0x8fffff} /* empty */};
	struct udk_iova_range r[4];
	struct udk_iova_space *sp;
	size_t n;

	CU_ASSERT_EQUAL_FATAL(udk_iova_space_create(in, 4, &sp), 0);
	CU_ASSERT_EQUAL(udk_iova_space_ranges(sp, r, 4, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(r[0].start, 0x100000);
	CU_ASSERT_EQUAL(r[0].last, 0x3fffff);
	udk_iova_space_destroy(sp);
	struct udk_iova_range empty = {5, 4};
	CU_ASSERT_EQUAL(udk_iova_space_create(&empty, 1, &sp), -UDK_ENOIOVA);
}

static void test_classes(void)
{
	CU_ASSERT_EQUAL(udk_iova_class_size(0), 4096);
	CU_ASSERT_EQUAL(udk_iova_class_size(9), 2 << 20);
	CU_ASSERT_EQUAL(udk_iova_class_size(UDK_IOVA_CLASS_1G), 1ULL << 30);
	CU_ASSERT_EQUAL(udk_iova_class_of(0), -1);
	CU_ASSERT_EQUAL(udk_iova_class_of(1), 0);
	CU_ASSERT_EQUAL(udk_iova_class_of(4096), 0);
	CU_ASSERT_EQUAL(udk_iova_class_of(4097), 1);
	CU_ASSERT_EQUAL(udk_iova_class_of(8192), 1);
	CU_ASSERT_EQUAL(udk_iova_class_of(65536), 4);
	CU_ASSERT_EQUAL(udk_iova_class_of(2 << 20), 9);
	CU_ASSERT_EQUAL(udk_iova_class_of((2 << 20) + 1), UDK_IOVA_CLASS_1G);
	CU_ASSERT_EQUAL(udk_iova_class_of(1ULL << 30), UDK_IOVA_CLASS_1G);
	CU_ASSERT_EQUAL(udk_iova_class_of((1ULL << 30) + 1), -1);
}

/* Every class, through a per-lcore cache and the shared path: aligned to the
 * class, inside the apertures, distinct while held, and all of it back in the
 * range allocator after a flush and a drain. */
static void test_cache_alloc_free_every_class(void)
{
	struct udk_iova_space *sp;
	enum { N = 200 };
	uint64_t *got = calloc(N, sizeof(*got));

	CU_ASSERT_EQUAL_FATAL(udk_iova_space_create(NULL, 0, &sp), 0);
	for (unsigned int cls = 0; cls < UDK_IOVA_NB_CLASSES; cls++) {
		uint64_t size = udk_iova_class_size(cls);
		unsigned int cache = cls % 2 ? 3 : UDK_IOVA_SHARED;
		int n = cls == UDK_IOVA_CLASS_1G ? 8 : N;

		for (int i = 0; i < n; i++) {
			CU_ASSERT_EQUAL_FATAL(udk_iova_cache_alloc(sp, cache, cls, &got[i]), 0);
			CU_ASSERT_EQUAL(got[i] % size, 0);
			CU_ASSERT(got[i] >= UDK_IOVA_SAFE_START &&
				  got[i] + size - 1 <= UDK_IOVA_SAFE_LAST);
			CU_ASSERT(got[i] + size - 1 < UDK_IOVA_MSI_START || got[i] > UDK_IOVA_MSI_LAST);
			for (int k = 0; k < i; k++)
				CU_ASSERT_NOT_EQUAL(got[k], got[i]);
		}
		for (int i = 0; i < n; i++)
			CU_ASSERT_EQUAL(udk_iova_cache_free(sp, cache, cls, got[i]), 0);
	}
	CU_ASSERT(udk_iova_space_used(sp) > 0); /* parked in caches and the depot */
	udk_iova_cache_flush(sp, 3);
	udk_iova_cache_flush(sp, UDK_IOVA_SHARED);
	udk_iova_space_drain(sp);
	CU_ASSERT_EQUAL(udk_iova_space_used(sp), 0);
	udk_iova_space_destroy(sp);
	free(got);
}

static void test_cache_bad_arguments(void)
{
	struct udk_iova_space *sp;
	uint64_t iova;

	CU_ASSERT_EQUAL_FATAL(udk_iova_space_create(NULL, 0, &sp), 0);
	CU_ASSERT_EQUAL(udk_iova_cache_alloc(sp, 0, UDK_IOVA_NB_CLASSES, &iova), -EINVAL);
	CU_ASSERT_EQUAL(udk_iova_cache_alloc(sp, UDK_IOVA_MAX_CACHES, 0, &iova), -EINVAL);
	CU_ASSERT_EQUAL(udk_iova_cache_alloc(sp, 0, 1, &iova), 0);
	CU_ASSERT_EQUAL(udk_iova_cache_free(sp, 0, 1, iova + 4096), -EINVAL); /* misaligned */
	CU_ASSERT_EQUAL(udk_iova_cache_free(sp, 0, 1, iova), 0);
	/* The thread's cache index: shared until bound. */
	CU_ASSERT_EQUAL(udk_iova_thread_cache(), UDK_IOVA_SHARED);
	udk_iova_thread_set_cache(5);
	CU_ASSERT_EQUAL(udk_iova_thread_cache(), 5);
	udk_iova_thread_set_cache(UDK_IOVA_MAX_CACHES + 7);
	CU_ASSERT_EQUAL(udk_iova_thread_cache(), UDK_IOVA_SHARED);
	udk_iova_space_destroy(sp);
}

/* A small space runs dry: the error is clear, nothing is handed out twice,
 * and IOVAs freed into a cache serve the next allocations. */
static void test_cache_exhaustion(void)
{
	struct udk_iova_range ap = {0x100000, 0x100000 + 64 * 4096 - 1};
	struct udk_iova_space *sp;
	uint64_t got[64], x;
	int n = 0;

	CU_ASSERT_EQUAL_FATAL(udk_iova_space_create(&ap, 1, &sp), 0);
	while (n < 64 && udk_iova_cache_alloc(sp, 0, 0, &got[n]) == 0)
		n++;
	CU_ASSERT_EQUAL(n, 64);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_iova_cache_alloc(sp, 0, 0, &x), -UDK_ENOIOVA);
	CU_ASSERT_LAST_ERROR_HAS("IOVA space exhausted: no free 4 KiB IOVA (class 0)");
	/* Another class cannot be carved either. */
	CU_ASSERT_EQUAL(udk_iova_cache_alloc(sp, 0, 1, &x), -UDK_ENOIOVA);
	CU_ASSERT_EQUAL(udk_iova_cache_free(sp, 0, 0, got[17]), 0);
	CU_ASSERT_EQUAL(udk_iova_cache_alloc(sp, 1, 0, &x), -UDK_ENOIOVA); /* in cache 0, not 1 */
	CU_ASSERT_EQUAL(udk_iova_cache_alloc(sp, 0, 0, &x), 0);
	CU_ASSERT_EQUAL(x, got[17]);
	/* The range allocator gets cached IOVAs back once they are flushed. */
	for (int i = 0; i < 64; i++)
		CU_ASSERT_EQUAL(udk_iova_cache_free(sp, 0, 0, got[i]), 0);
	udk_iova_cache_flush(sp, 0);
	CU_ASSERT_EQUAL(udk_iova_alloc(sp, 64 * 4096, 4096, &x), 0);
	CU_ASSERT_EQUAL(x, 0x100000);
	udk_iova_space_destroy(sp);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Long runs of frees overflow both magazines into the depot, and the depot
 * into the range allocator; the IOVAs all come back, none twice. */
static void test_cache_depot_round_trip(void)
{
	struct udk_iova_space *sp;
	enum { N = 5000 };
	uint64_t *got = calloc(N, sizeof(*got)), *again = calloc(N, sizeof(*again));

	CU_ASSERT_EQUAL_FATAL(udk_iova_space_create(NULL, 0, &sp), 0);
	for (int i = 0; i < N; i++)
		CU_ASSERT_EQUAL_FATAL(udk_iova_cache_alloc(sp, 0, 0, &got[i]), 0);
	for (int i = 0; i < N; i++)
		CU_ASSERT_EQUAL(udk_iova_cache_free(sp, 1, 0, got[i]), 0); /* another lcore */
	/* Cache 2 is empty: it is fed from the depot's full magazines. */
	for (int i = 0; i < N; i++)
		CU_ASSERT_EQUAL_FATAL(udk_iova_cache_alloc(sp, 2, 0, &again[i]), 0);
	qsort(again, N, sizeof(*again), cmp_u64);
	for (int i = 1; i < N; i++)
		CU_ASSERT_NOT_EQUAL(again[i - 1], again[i]);
	for (int i = 0; i < N; i++)
		udk_iova_cache_free(sp, 2, 0, again[i]);
	for (unsigned int c = 0; c < 3; c++)
		udk_iova_cache_flush(sp, c);
	udk_iova_space_drain(sp);
	CU_ASSERT_EQUAL(udk_iova_space_used(sp), 0);
	udk_iova_space_destroy(sp);
	free(got);
	free(again);
}

int main(void)
{
	static const struct unit_test t[] = {
		{"default space avoids the MSI window and 39 bits", test_default_space_avoids_msi_and_39_bits},
		{"first fit and alignment", test_alloc_first_fit_and_alignment},
		{"exhaustion is reported", test_exhaustion_is_reported},
		{"reserve and exact free", test_reserve_and_exact_free},
		{"restrict to a device aperture", test_restrict_to_device_aperture},
		{"ranges are sorted and merged", test_unsorted_overlapping_ranges_are_merged},
		{"size classes", test_classes},
		{"cache: every class, lcore and shared", test_cache_alloc_free_every_class},
		{"cache: bad arguments, thread binding", test_cache_bad_arguments},
		{"cache: exhaustion is reported", test_cache_exhaustion},
		{"cache: magazines round-trip through the depot", test_cache_depot_round_trip},
	};
	udk_log_set_level(UDK_LOG_ERR);
	return unit_run("iova", t, UDK_ARRAY_SIZE(t));
}
