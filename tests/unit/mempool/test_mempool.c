/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for lib/mempool on --no-huge memory: option errors, all-or-none
 * gets, exhaustion, IOVAs, per-lcore caches, and a stress on two lcores plus
 * two plain threads whose shadow flags prove no object is handed out twice
 * and none is lost (also under ThreadSanitizer, suite tsan). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "../common/unit.h"
#include "udk_eal.h"
#include "udk_mempool.h"

static int eal_up(const char *lcores)
{
	char *argv[] = {"test", "--no-huge", "-m", "64", "-l", (char *)lcores, NULL};

	return udk_eal_init(6, argv);
}

static struct udk_mempool *pool(uint32_t count, uint32_t elt, uint32_t cache)
{
	struct udk_mempool_opts o;
	struct udk_mempool *mp = NULL;

	udk_mempool_opts_init(&o, sizeof(o));
	o.name = "test";
	o.count = count;
	o.elt_size = elt;
	o.cache_size = cache;
	CU_ASSERT_EQUAL(udk_mempool_create(&o, &mp), 0);
	return mp;
}

static void test_option_errors(void)
{
	struct udk_mempool_opts o;
	struct udk_mempool *mp;

	udk_mempool_opts_init(&o, sizeof(o));
	o.count = 8;
	o.elt_size = 64;
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_mempool_create(&o, &mp), -EINVAL); /* no EAL, no memory */
	CU_ASSERT_LAST_ERROR_HAS("udk_eal_init");
	CU_ASSERT_EQUAL_FATAL(eal_up("0"), 6);
	o.count = 0;
	CU_ASSERT_EQUAL(udk_mempool_create(&o, &mp), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("count 0 is out of range");
	o.count = 8;
	o.elt_size = 0;
	CU_ASSERT_EQUAL(udk_mempool_create(&o, &mp), -EINVAL);
	o.elt_size = 64;
	o.cache_size = 16;
	CU_ASSERT_EQUAL(udk_mempool_create(&o, &mp), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("cache size 16");
	o.cache_size = 0;
	o.count = 1u << 20;
	o.elt_size = 1u << 10; /* 1 GiB, over the -m 64 limit */
	CU_ASSERT_EQUAL(udk_mempool_create(&o, &mp), -ENOMEM);
	CU_ASSERT_LAST_ERROR_HAS("cannot allocate");
	udk_eal_cleanup();
}

static void test_get_put_exhaustion_iova(void)
{
	void *objs[101];
	struct udk_mempool *mp;

	CU_ASSERT_EQUAL_FATAL(eal_up("0"), 6);
	mp = pool(100, 100, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mp);
	CU_ASSERT_EQUAL(udk_mempool_avail_count(mp), 100);
	CU_ASSERT_EQUAL(udk_mempool_get_bulk(mp, objs, 101), -ENOBUFS);
	CU_ASSERT_EQUAL(udk_mempool_avail_count(mp), 100); /* all or none */
	CU_ASSERT_EQUAL(udk_mempool_get_bulk(mp, objs, 100), 0);
	CU_ASSERT_EQUAL(udk_mempool_get(mp, &objs[100]), -ENOBUFS);
	for (int i = 0; i < 100; i++) {
		CU_ASSERT(udk_mempool_contains(mp, objs[i]));
		CU_ASSERT_EQUAL(udk_mempool_virt2iova(mp, objs[i]), udk_virt2iova(objs[i]));
		CU_ASSERT_EQUAL((uintptr_t)objs[i] % 64, 0);
		for (int j = 0; j < i; j++)
			CU_ASSERT_PTR_NOT_EQUAL(objs[i], objs[j]);
	}
	CU_ASSERT_FALSE(udk_mempool_contains(mp, (char *)objs[0] + 1));
	CU_ASSERT_EQUAL(udk_mempool_avail_count(mp), 0);
	udk_mempool_put_bulk(mp, objs, 100);
	CU_ASSERT_EQUAL(udk_mempool_avail_count(mp), 100);
	udk_mempool_free(mp);
	udk_eal_cleanup();
}

/* A pool on another map's heap: objects carry that map's IOVAs, and the
 * pool keeps the heap (and its mappings) alive after the one who made the
 * heap lets go, until the pool is freed. */
static void test_other_map(void)
{
	struct udk_dmamap_opts mo;
	struct udk_dmamap_info info;
	struct udk_mempool_opts o;
	struct udk_dmamap *b;
	struct udk_mempool *mp;
	struct udk_mem *mb;
	uint64_t iova;
	void *obj;

	CU_ASSERT_EQUAL_FATAL(eal_up("0"), 6);
	udk_dmamap_opts_init(&mo, sizeof(mo));
	mo.backend = UDK_DMAMAP_VFIO_TYPE1;
	mo.name = "B";
	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(&mo, &b), 0);
	CU_ASSERT_EQUAL_FATAL(udk_eal_map_mem_get(b, &mb), 0);
	udk_mempool_opts_init(&o, sizeof(o));
	o.name = "on-b";
	o.count = 16;
	o.elt_size = 256;
	o.mem = mb;
	CU_ASSERT_EQUAL_FATAL(udk_mempool_create(&o, &mp), 0);
	udk_eal_map_mem_put(mb); /* the pool holds it now */
	CU_ASSERT_EQUAL(udk_dmamap_info(b, &info), 0);
	CU_ASSERT_EQUAL(info.nb_mappings, 1);
	CU_ASSERT_EQUAL_FATAL(udk_mempool_get(mp, &obj), 0);
	CU_ASSERT_EQUAL(udk_dmamap_virt2iova(b, obj, &iova), 0);
	CU_ASSERT_EQUAL(udk_mempool_virt2iova(mp, obj), iova);
	CU_ASSERT_EQUAL(udk_virt2iova(obj), UDK_IOVA_BAD); /* not in the default map */
	udk_mempool_put(mp, obj);
	udk_mempool_free(mp); /* the heap's last reference: unmapped from B */
	CU_ASSERT_EQUAL(udk_dmamap_info(b, &info), 0);
	CU_ASSERT_EQUAL(info.nb_mappings, 0);
	udk_dmamap_put(b);
	udk_eal_cleanup();
}

static void test_lcore_cache(void)
{
	void *objs[64], *again;
	struct udk_mempool *mp;

	CU_ASSERT_EQUAL_FATAL(eal_up("0"), 6);
	CU_ASSERT_EQUAL(udk_lcore_id(), 0);
	mp = pool(64, 64, 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mp);
	CU_ASSERT_EQUAL(udk_mempool_get(mp, &objs[0]), 0);
	/* The refill took more than asked into lcore 0's cache. */
	CU_ASSERT(udk_ring_count(mp->ring) < 63);
	CU_ASSERT_EQUAL(udk_mempool_avail_count(mp), 63);
	udk_mempool_put(mp, objs[0]);
	CU_ASSERT_EQUAL(udk_mempool_get(mp, &again), 0);
	CU_ASSERT_PTR_EQUAL(again, objs[0]); /* last freed, first reused */
	udk_mempool_put(mp, again);
	/* Every object can still be had, cache or not. */
	CU_ASSERT_EQUAL(udk_mempool_get_bulk(mp, objs, 64), 0);
	udk_mempool_put_bulk(mp, objs, 64);
	CU_ASSERT(mp->cache[0].len <= mp->cache[0].flush);
	CU_ASSERT_EQUAL(udk_mempool_avail_count(mp), 64);
	udk_mempool_cache_flush(mp);
	CU_ASSERT_EQUAL(udk_ring_count(mp->ring), 64);
	udk_mempool_free(mp);
	udk_eal_cleanup();
}

#define STRESS_OBJS 512
#define STRESS_ROUNDS 5000

struct stress {
	struct udk_mempool *mp;
	_Atomic uint8_t taken[STRESS_OBJS];
	_Atomic unsigned int twice, enobufs;
};

static int churn(void *arg)
{
	struct stress *s = arg;
	void *objs[32];

	for (unsigned int r = 0; r < STRESS_ROUNDS; r++) {
		unsigned int n = 1 + r % 32;
		if (udk_mempool_get_bulk(s->mp, objs, n) != 0) {
			atomic_fetch_add(&s->enobufs, 1);
			continue;
		}
		for (unsigned int i = 0; i < n; i++) {
			size_t idx = (size_t)((uint8_t *)objs[i] - s->mp->base) / s->mp->elt_size;
			if (atomic_exchange(&s->taken[idx], 1) != 0)
				atomic_fetch_add(&s->twice, 1);
		}
		for (unsigned int i = 0; i < n; i++) {
			size_t idx = (size_t)((uint8_t *)objs[i] - s->mp->base) / s->mp->elt_size;
			atomic_store(&s->taken[idx], 0);
		}
		udk_mempool_put_bulk(s->mp, objs, n);
	}
	udk_mempool_cache_flush(s->mp);
	return 0;
}

static void *churn_thread(void *arg)
{
	churn(arg);
	return NULL;
}

static void test_stress_lcores_and_threads(void)
{
	static struct stress s;
	pthread_t t[2];

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		printf("SKIP: needs 2 CPUs for two lcores ");
		return;
	}
	CU_ASSERT_EQUAL_FATAL(eal_up("0,1"), 6);
	memset(&s, 0, sizeof(s));
	s.mp = pool(STRESS_OBJS, 64, 32);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s.mp);
	CU_ASSERT_EQUAL(udk_lcore_launch(1, churn, &s), 0);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, churn_thread, &s);
	churn(&s);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CU_ASSERT_EQUAL(udk_lcore_wait(1), 0);
	CU_ASSERT_EQUAL(atomic_load(&s.twice), 0);
	CU_ASSERT_EQUAL(udk_ring_count(s.mp->ring), STRESS_OBJS); /* none lost */
	CU_ASSERT_EQUAL(udk_mempool_avail_count(s.mp), STRESS_OBJS);
	udk_mempool_free(s.mp);
	udk_eal_cleanup();
}

int main(void)
{
	static const struct unit_test t[] = {
		{"option errors", test_option_errors},
		{"get/put, exhaustion, IOVAs", test_get_put_exhaustion_iova},
		{"per-lcore cache", test_lcore_cache},
		{"a pool on another map's heap holds it", test_other_map},
		{"stress: two lcores and two threads", test_stress_lcores_and_threads},
	};

	unit_quiet_logs();
	return unit_run("mempool", t, UDK_ARRAY_SIZE(t));
}
