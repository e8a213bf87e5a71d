/* SPDX-License-Identifier: BSD-3-Clause */
/* Multi-thread stress of per-I/O mapping (lib/dma extmem.c), also run under
 * ThreadSanitizer (suite 'tsan'): two lcores and one thread that is not an
 * lcore map and unmap buffers in deferred mode on one map.  A shadow set marks
 * an IOVA from the moment udk_dma_map_buf() returns it until its owner is
 * about to flush the queue that holds it: no map_buf may return a marked
 * IOVA, which is "never reused before the flush" checked across threads.
 * The map has no device, so no kernel call is made: what is under test is
 * the IOVA ownership, the queues and the statistics. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "../common/unit.h"
#include "udk_dma.h"
#include "udk_util.h"

#define THREADS 3
#define ITER 30000
#define PENDING 200 /* below the batch (256): the test decides when to flush */
#define SLOTS (1u << 20)

static struct udk_dmamap *map;
/* One bit per 4 KiB of the first 4 GiB of IOVA space, where the map's
 * per-I/O IOVAs land in this test. */
static _Atomic uint64_t shadow[SLOTS / 64];
static atomic_uint reused, outside, errors;
static char *bufs;

static void mark(uint64_t iova)
{
	uint64_t page = iova >> 12;

	if (page >= SLOTS) {
		atomic_fetch_add(&outside, 1);
		return;
	}
	if (atomic_fetch_or(&shadow[page / 64], 1ULL << (page % 64)) & (1ULL << (page % 64)))
		atomic_fetch_add(&reused, 1);
}

static void unmark(uint64_t iova)
{
	uint64_t page = iova >> 12;

	if (page < SLOTS)
		atomic_fetch_and(&shadow[page / 64], ~(1ULL << (page % 64)));
}

static void *worker(void *arg)
{
	unsigned int id = (unsigned int)(uintptr_t)arg;
	unsigned int seed = id + 1;
	uint64_t pending[PENDING];
	int np = 0;

	/* Threads 0 and 1 are lcores; the last one is not (shared path). */
	udk_iova_thread_set_cache(id == THREADS - 1 ? UDK_IOVA_SHARED : id + 1);
	for (int i = 0; i < ITER; i++) {
		/* One page, at an offset, from this thread's own 64 pages. */
		char *p = bufs + ((size_t)id * 64 + (size_t)(rand_r(&seed) % 64)) * 4096 +
			  (size_t)(rand_r(&seed) % 512);
		uint64_t iova;

		if (udk_dma_map_buf(map, p, 1000, &iova) < 0) {
			atomic_fetch_add(&errors, 1);
			continue;
		}
		mark(iova);
		if (udk_dma_unmap_buf(map, iova, 1000) < 0)
			atomic_fetch_add(&errors, 1);
		pending[np++] = iova;
		if (np == PENDING || rand_r(&seed) % 150 == 0) {
			/* Unmark just before the flush frees them: from here on
			 * the allocator may hand them out again. */
			while (np > 0)
				unmark(pending[--np]);
			if (udk_dma_flush(map) < 0)
				atomic_fetch_add(&errors, 1);
		}
	}
	while (np > 0)
		unmark(pending[--np]);
	udk_dma_flush(map);
	udk_iova_thread_set_cache(UDK_IOVA_SHARED);
	return NULL;
}

static void test_deferred_no_reuse_across_threads(void)
{
	struct udk_dma_buf_stats st;
	pthread_t t[THREADS];
	struct udk_iova_range low = {UDK_IOVA_SAFE_START, (1ULL << 32) - 1};
	struct udk_dmamap_opts o;

	udk_dmamap_opts_init(&o, sizeof(o));
	o.iova_ranges = &low;
	o.nb_iova_ranges = 1;
	bufs = aligned_alloc(4096, THREADS * 64 * 4096 + 4096);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bufs);
	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(&o, &map), 0);
	CU_ASSERT_EQUAL(udk_dma_set_unmap_mode(map, UDK_DMA_UNMAP_DEFERRED, 256), 0);
	for (unsigned int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i);
	for (unsigned int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	CU_ASSERT_EQUAL(atomic_load(&reused), 0);
	CU_ASSERT_EQUAL(atomic_load(&outside), 0);
	CU_ASSERT_EQUAL(atomic_load(&errors), 0);
	udk_dma_buf_stats(map, &st);
	CU_ASSERT_EQUAL(st.maps, (uint64_t)THREADS * ITER);
	CU_ASSERT_EQUAL(st.unmaps, (uint64_t)THREADS * ITER);
	CU_ASSERT(st.flushes > 0);
	udk_dmamap_put(map);
	free(bufs);
}

int main(void)
{
	static const struct unit_test t[] = {
		{"deferred: no IOVA reused before its flush (3 threads)",
		 test_deferred_no_reuse_across_threads},
	};
	udk_log_set_level(UDK_LOG_ERR);
	return unit_run("dma_extmem_stress", t, UDK_ARRAY_SIZE(t));
}
