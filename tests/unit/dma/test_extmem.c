/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for lib/dma's external memory, on the host with no VFIO (the
 * maps are not live, so no kernel call is made; the lab test
 * lab_iova_map_buf does the same against a real IOMMU): registration and its
 * translation, per-I/O mapping of malloc'ed memory, stack refusal, and the
 * deferred mode's promise that an IOVA is not reused before the flush. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/unit.h"
#include "udk_dma.h"
#include "udk_mem.h"
#include "udk_util.h"

static void test_register_and_translate(void)
{
	struct udk_dmamap *map;
	char *buf = malloc(3 * 4096 + 100);
	uint64_t a, b;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(NULL, &map), 0);
	CU_ASSERT_EQUAL(udk_dma_register(map, buf + 10, 3 * 4096), 0);
	CU_ASSERT_EQUAL(udk_dmamap_virt2iova(map, buf + 10, &a), 0);
	CU_ASSERT_EQUAL(udk_dmamap_virt2iova(map, buf + 10 + 3 * 4096 - 1, &b), 0);
	CU_ASSERT_EQUAL(b, a + 3 * 4096 - 1);
	CU_ASSERT_EQUAL(a % 4096, (uintptr_t)(buf + 10) % 4096);
	/* Through the table a fast path reads directly. */
	CU_ASSERT_EQUAL(udk_iova_xlate_lookup(udk_dmamap_xlate(map), buf + 10), a);
	/* The same pages twice: an overlap. */
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_dma_register(map, buf + 20, 10), -UDK_EOVERLAP);
	CU_ASSERT_LAST_ERROR_HAS("overlaps the mapping");
	CU_ASSERT_EQUAL(udk_dma_unregister(map, buf + 10, 3 * 4096), 0);
	CU_ASSERT_EQUAL(udk_dmamap_virt2iova(map, buf + 10, &a), -UDK_ENOTMAPPED);
	CU_ASSERT_EQUAL(udk_dma_unregister(map, buf + 10, 3 * 4096), -UDK_ENOTMAPPED);
	udk_dmamap_put(map);
	free(buf);
}

static void test_stack_and_bad_buffers_are_refused(void)
{
	struct udk_dmamap *map;
	char on_stack[256];
	char *heap = malloc(64);
	uint64_t iova;

	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(NULL, &map), 0);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_dma_map_buf(map, on_stack, sizeof(on_stack), &iova), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("is on the calling thread's stack; DMA to the stack is refused");
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_dma_register(map, on_stack, sizeof(on_stack)), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("on the calling thread's stack");
	CU_ASSERT_EQUAL(udk_dma_map_buf(map, heap, 0, &iova), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("empty range");
	CU_ASSERT_EQUAL(udk_dma_map_buf(map, heap, (1ULL << 30) + 1, &iova), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("spans more than 1 GiB; register it instead");
	CU_ASSERT_EQUAL(udk_dma_unmap_buf(map, 0x100000, 0), -EINVAL);
	CU_ASSERT_EQUAL(udk_dma_set_unmap_mode(map, 7, 0), -EINVAL);
	CU_ASSERT_EQUAL(udk_dma_set_unmap_mode(map, UDK_DMA_UNMAP_DEFERRED, 257), -EINVAL);
	udk_dmamap_put(map);
	free(heap);
}

static void test_map_buf_strict(void)
{
	struct udk_dmamap *map;
	struct udk_dma_buf_stats st;
	char *buf = malloc(10000);
	uint64_t iova, again;

	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(NULL, &map), 0);
	CU_ASSERT_EQUAL(udk_dma_map_buf(map, buf + 1, 5000, &iova), 0);
	/* The byte offset in the page is kept; the IOVA sits in the space. */
	CU_ASSERT_EQUAL(iova % 4096, (uintptr_t)(buf + 1) % 4096);
	CU_ASSERT(iova >= UDK_IOVA_SAFE_START && iova < UDK_IOVA_SAFE_LAST);
	/* Per-I/O mappings are not in the translation table. */
	CU_ASSERT_EQUAL(udk_dmamap_virt2iova(map, buf + 1, &again), -UDK_ENOTMAPPED);
	CU_ASSERT_EQUAL(udk_dma_unmap_buf(map, iova, 5000), 0);
	/* Strict: unmapped, so the IOVA may serve the next I/O at once. */
	CU_ASSERT_EQUAL(udk_dma_map_buf(map, buf + 1, 5000, &again), 0);
	CU_ASSERT_EQUAL(again, iova);
	CU_ASSERT_EQUAL(udk_dma_unmap_buf(map, again, 5000), 0);
	udk_dma_buf_stats(map, &st);
	CU_ASSERT_EQUAL(st.maps, 2);
	CU_ASSERT_EQUAL(st.unmaps, 2);
	CU_ASSERT_EQUAL(st.unmap_calls, 0); /* no device, no kernel object */
	udk_dmamap_put(map);
	free(buf);
}

/* The IOVA of a deferred unmap stays out of circulation until the flush:
 * held by the queue, it cannot be handed out, however many I/Os follow. */
static void test_deferred_iova_not_reused_before_flush(void)
{
	struct udk_dmamap *map;
	struct udk_dma_buf_stats st;
	enum { MORE = 500 };
	char *buf = malloc(4096);
	uint64_t first, *other = calloc(MORE, sizeof(*other)), iova;

	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(NULL, &map), 0);
	CU_ASSERT_EQUAL(udk_dma_set_unmap_mode(map, UDK_DMA_UNMAP_DEFERRED, 8), 0);
	CU_ASSERT_EQUAL(udk_dma_map_buf(map, buf, 100, &first), 0);
	CU_ASSERT_EQUAL(udk_dma_unmap_buf(map, first, 100), 0); /* queued */
	for (int i = 0; i < MORE; i++) {
		CU_ASSERT_EQUAL_FATAL(udk_dma_map_buf(map, buf, 100, &other[i]), 0);
		CU_ASSERT_NOT_EQUAL(other[i] & ~4095ULL, first & ~4095ULL);
	}
	udk_dma_buf_stats(map, &st);
	CU_ASSERT_EQUAL(st.unmaps, 0);
	CU_ASSERT_EQUAL(st.flushes, 0);
	CU_ASSERT_EQUAL(udk_dma_flush(map), 0);
	udk_dma_buf_stats(map, &st);
	CU_ASSERT_EQUAL(st.unmaps, 1);
	CU_ASSERT_EQUAL(st.flushes, 1);
	/* Flushed: the IOVA is free again, and the cache hands it out next. */
	CU_ASSERT_EQUAL(udk_dma_map_buf(map, buf, 100, &iova), 0);
	CU_ASSERT_EQUAL(iova & ~4095ULL, first & ~4095ULL);
	CU_ASSERT_EQUAL(udk_dma_unmap_buf(map, iova, 100), 0);
	/* A full queue flushes by itself: 8 per batch. */
	for (int i = 0; i < MORE; i++)
		CU_ASSERT_EQUAL(udk_dma_unmap_buf(map, other[i], 100), 0);
	udk_dma_buf_stats(map, &st);
	CU_ASSERT_EQUAL(st.flushes, 1 + (MORE + 1) / 8);
	CU_ASSERT_EQUAL(st.unmaps, 1 + (MORE + 1) / 8 * 8);
	/* Back to strict: the rest of the queue is flushed. */
	CU_ASSERT_EQUAL(udk_dma_set_unmap_mode(map, UDK_DMA_UNMAP_STRICT, 0), 0);
	udk_dma_buf_stats(map, &st);
	CU_ASSERT_EQUAL(st.unmaps, MORE + 2);
	udk_dmamap_put(map);
	free(buf);
	free(other);
}

/* An lcore (bound to a cache index) and the shared path both work, and an
 * lcore's deferred queue is its own. */
static void test_lcore_and_shared_paths(void)
{
	struct udk_dmamap *map;
	struct udk_dma_buf_stats st;
	char *buf = malloc(4096);
	uint64_t a, b;

	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(NULL, &map), 0);
	CU_ASSERT_EQUAL(udk_dma_set_unmap_mode(map, UDK_DMA_UNMAP_DEFERRED, 0), 0);
	udk_iova_thread_set_cache(3);
	CU_ASSERT_EQUAL(udk_dma_map_buf(map, buf, 4096, &a), 0);
	CU_ASSERT_EQUAL(udk_dma_unmap_buf(map, a, 4096), 0);
	udk_iova_thread_set_cache(UDK_IOVA_SHARED);
	CU_ASSERT_EQUAL(udk_dma_map_buf(map, buf, 4096, &b), 0);
	CU_ASSERT_NOT_EQUAL(a, b);
	CU_ASSERT_EQUAL(udk_dma_unmap_buf(map, b, 4096), 0);
	CU_ASSERT_EQUAL(udk_dma_flush(map), 0); /* the shared queue only */
	udk_dma_buf_stats(map, &st);
	CU_ASSERT_EQUAL(st.unmaps, 1);
	udk_iova_thread_set_cache(3);
	CU_ASSERT_EQUAL(udk_dma_flush(map), 0);
	udk_dma_buf_stats(map, &st);
	CU_ASSERT_EQUAL(st.unmaps, 2);
	udk_iova_thread_set_cache(UDK_IOVA_SHARED);
	udk_dmamap_put(map);
	free(buf);
}

/* Per-I/O mappings made while no device is attached are recorded until
 * their unmap (so the first attach replays them): thousands held at once,
 * freed in a scrambled order (the record's deletions), the count back to 0;
 * an unmap of an IOVA the map never gave is refused without touching the
 * record; and a deferred unmap stays recorded until its flush. */
static void test_record_of_live_mappings(void)
{
	struct udk_dmamap *map;
	struct udk_dma_buf_stats st;
	enum { N = 3000 };
	char *buf = malloc(4096);
	uint64_t *iova = calloc(N, sizeof(*iova)), x;

	CU_ASSERT_PTR_NOT_NULL_FATAL(iova);
	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(NULL, &map), 0);
	for (int i = 0; i < N; i++)
		CU_ASSERT_EQUAL_FATAL(udk_dma_map_buf(map, buf, 4096, &iova[i]), 0);
	udk_dma_buf_stats(map, &st);
	CU_ASSERT_EQUAL(st.mapped, N);
	/* Every third, then the rest backwards: holes all over the table. */
	for (int i = 0; i < N; i += 3)
		CU_ASSERT_EQUAL(udk_dma_unmap_buf(map, iova[i], 4096), 0);
	udk_dma_buf_stats(map, &st);
	CU_ASSERT_EQUAL(st.mapped, N - (N + 2) / 3);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_dma_unmap_buf(map, iova[0], 4096), -UDK_ENOTMAPPED);
	CU_ASSERT_LAST_ERROR_HAS("is not a per-I/O mapping of this map");
	CU_ASSERT_EQUAL(udk_dma_unmap_buf(map, iova[1], 8192), -UDK_ENOTMAPPED);
	for (int i = N - 1; i >= 0; i--)
		if (i % 3 != 0)
			CU_ASSERT_EQUAL(udk_dma_unmap_buf(map, iova[i], 4096), 0);
	udk_dma_buf_stats(map, &st);
	CU_ASSERT_EQUAL(st.mapped, 0);
	CU_ASSERT_EQUAL(st.unmaps, N);
	/* Deferred: recorded until the flush. */
	CU_ASSERT_EQUAL(udk_dma_set_unmap_mode(map, UDK_DMA_UNMAP_DEFERRED, 16), 0);
	CU_ASSERT_EQUAL(udk_dma_map_buf(map, buf, 4096, &x), 0);
	CU_ASSERT_EQUAL(udk_dma_unmap_buf(map, x, 4096), 0);
	udk_dma_buf_stats(map, &st);
	CU_ASSERT_EQUAL(st.mapped, 1);
	CU_ASSERT_EQUAL(udk_dma_flush(map), 0);
	udk_dma_buf_stats(map, &st);
	CU_ASSERT_EQUAL(st.mapped, 0);
	udk_dmamap_put(map);
	free(iova);
	free(buf);
}

int main(void)
{
	static const struct unit_test t[] = {
		{"register: translation, overlap, unregister", test_register_and_translate},
		{"stack and bad buffers are refused", test_stack_and_bad_buffers_are_refused},
		{"map_buf, strict unmap", test_map_buf_strict},
		{"deferred: no reuse before the flush", test_deferred_iova_not_reused_before_flush},
		{"lcore and shared paths", test_lcore_and_shared_paths},
		{"record of live per-I/O mappings", test_record_of_live_mappings},
	};
	udk_log_set_level(UDK_LOG_ERR);
	return unit_run("dma_extmem", t, UDK_ARRAY_SIZE(t));
}
