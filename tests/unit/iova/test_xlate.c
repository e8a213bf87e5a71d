/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for lib/iova's translation table: direct 2 MiB slots, 4 KiB
 * leaves at the edges, misses around a mapping, overlap refusal, removal,
 * and addresses the table cannot hold. */
#include <errno.h>

#include "../common/unit.h"
#include "udk_iova.h"
#include "udk_util.h"

#define MIB (1ULL << 20)
#define T(va) ((void *)(uintptr_t)(va))

static void test_segment_and_edges(void)
{
	struct udk_iova_xlate *x;
	/* 5 MiB starting 12 KiB before a 2 MiB boundary: a leaf, two direct
	 * slots, a leaf. */
	uint64_t va = 0x7f1234200000ULL - 0x3000, len = 5 * MIB, iova = 0x40000000;

	CU_ASSERT_EQUAL_FATAL(udk_iova_xlate_create(&x), 0);
	CU_ASSERT_EQUAL(udk_iova_xlate_lookup(x, T(va)), UDK_IOVA_BAD);
	CU_ASSERT_EQUAL(udk_iova_xlate_insert(x, va, len, iova), 0);
	CU_ASSERT_EQUAL(udk_iova_xlate_lookup(x, T(va)), iova);
	CU_ASSERT_EQUAL(udk_iova_xlate_lookup(x, T(va + 0x2fff)), iova + 0x2fff);
	CU_ASSERT_EQUAL(udk_iova_xlate_lookup(x, T(va + 0x3000)), iova + 0x3000);
	CU_ASSERT_EQUAL(udk_iova_xlate_lookup(x, T(va + 3 * MIB + 17)), iova + 3 * MIB + 17);
	CU_ASSERT_EQUAL(udk_iova_xlate_lookup(x, T(va + len - 1)), iova + len - 1);
	CU_ASSERT_EQUAL(udk_iova_xlate_lookup(x, T(va + len)), UDK_IOVA_BAD);
	CU_ASSERT_EQUAL(udk_iova_xlate_lookup(x, T(va - 1)), UDK_IOVA_BAD);
	/* Any overlap is refused and changes nothing. */
	CU_ASSERT_EQUAL(udk_iova_xlate_insert(x, va + len - 4096, 8192, 0x1000), -UDK_EOVERLAP);
	CU_ASSERT_EQUAL(udk_iova_xlate_insert(x, va + MIB, 4096, 0x1000), -UDK_EOVERLAP);
	CU_ASSERT_EQUAL(udk_iova_xlate_lookup(x, T(va + len)), UDK_IOVA_BAD);
	/* A neighbour in the same leaf. */
	CU_ASSERT_EQUAL(udk_iova_xlate_insert(x, va + len, 4096, 0x1000), 0);
	CU_ASSERT_EQUAL(udk_iova_xlate_lookup(x, T(va + len + 5)), 0x1005);
	udk_iova_xlate_remove(x, va, len);
	CU_ASSERT_EQUAL(udk_iova_xlate_lookup(x, T(va)), UDK_IOVA_BAD);
	CU_ASSERT_EQUAL(udk_iova_xlate_lookup(x, T(va + 3 * MIB)), UDK_IOVA_BAD);
	CU_ASSERT_EQUAL(udk_iova_xlate_lookup(x, T(va + len + 5)), 0x1005);
	/* The same range again, now at another IOVA, reusing the pages. */
	CU_ASSERT_EQUAL(udk_iova_xlate_insert(x, va, len, 0x80000000), 0);
	CU_ASSERT_EQUAL(udk_iova_xlate_lookup(x, T(va + 2 * MIB)), 0x80000000 + 2 * MIB);
	udk_iova_xlate_destroy(x);
}

static void test_iova_zero_and_bad_input(void)
{
	struct udk_iova_xlate *x;

	CU_ASSERT_EQUAL_FATAL(udk_iova_xlate_create(&x), 0);
	/* IOVA 0 is a valid IOVA, not "empty". */
	CU_ASSERT_EQUAL(udk_iova_xlate_insert(x, 0x200000, 2 * MIB, 0), 0);
	CU_ASSERT_EQUAL(udk_iova_xlate_lookup(x, T(0x200000)), 0);
	CU_ASSERT_EQUAL(udk_iova_xlate_insert(x, 0x600000, 4096, 0), 0);
	CU_ASSERT_EQUAL(udk_iova_xlate_lookup(x, T(0x600010)), 0x10);
	CU_ASSERT_EQUAL(udk_iova_xlate_insert(x, 0x1001, 4096, 0), -EINVAL);
	CU_ASSERT_EQUAL(udk_iova_xlate_insert(x, 0x1000, 4095, 0), -EINVAL);
	CU_ASSERT_EQUAL(udk_iova_xlate_insert(x, 0x1000, 0, 0), -EINVAL);
	CU_ASSERT_EQUAL(udk_iova_xlate_insert(x, 1ULL << 47, 4096, 0), -EINVAL);
	CU_ASSERT_EQUAL(udk_iova_xlate_insert(x, (1ULL << 47) - 4096, 8192, 0), -EINVAL);
	CU_ASSERT_EQUAL(udk_iova_xlate_lookup(x, T(1ULL << 47)), UDK_IOVA_BAD);
	CU_ASSERT_EQUAL(udk_iova_xlate_lookup(x, T(UINTPTR_MAX)), UDK_IOVA_BAD);
	udk_iova_xlate_destroy(x);
}

int main(void)
{
	static const struct unit_test t[] = {
		{"a segment: direct slots and leaf edges", test_segment_and_edges},
		{"IOVA 0 and bad input", test_iova_zero_and_bad_input},
	};
	udk_log_set_level(UDK_LOG_ERR);
	return unit_run("iova_xlate", t, UDK_ARRAY_SIZE(t));
}
