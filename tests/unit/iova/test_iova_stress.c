/* SPDX-License-Identifier: BSD-3-Clause */
/* Multi-thread stress of lib/iova, also built with ThreadSanitizer (suite
 * 'tsan'): lcores allocate and free IOVAs of every class through their own
 * caches and the shared path while a shadow bitmap (one bit per 4 KiB of the
 * space, set and cleared with atomic read-modify-writes) proves that no IOVA
 * is handed out twice (frees come also from other lcores, as I/Os complete
 * elsewhere); after the threads end and the caches are flushed, the
 * range allocator must be back to zero bytes used (none leaked).  A second
 * test races translation readers against a writer that inserts and removes
 * mappings: a reader sees the right IOVA or none, never another. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../common/unit.h"
#include "udk_iova.h"
#include "udk_util.h"

#define AP_START (1ULL << 30)
#define AP_LEN (64ULL << 30)
#define NB_PAGES (AP_LEN / 4096)
#define THREADS 4
#define HELD_MAX 1024
#define ITER 200000
#define INBOX 256

static _Atomic uint64_t shadow[NB_PAGES / 64];
static atomic_uint twice, unowned, outside, failed_alloc;
static struct udk_iova_space *space;

/* The bits of [iova, iova+size) word by word: an IOVA is aligned to its
 * size, so it fills whole 64-bit words (>= 256 KiB) or lies inside one. */
#define FOR_EACH_WORD(iova, size, w, mask)                                               \
	for (uint64_t p_ = ((iova) - AP_START) / 4096, e_ = p_ + (size) / 4096, w, mask;  \
	     p_ < e_ && (w = p_ / 64, mask = e_ - p_ >= 64 ? ~0ULL                       \
				  : ((1ULL << (e_ - p_)) - 1) << (p_ % 64), 1);          \
	     p_ += e_ - p_ >= 64 ? 64 : e_ - p_)

/* Mark [iova, iova+size) taken; count any page that already was. */
static void shadow_take(uint64_t iova, uint64_t size)
{
	if (iova < AP_START || iova + size > AP_START + AP_LEN) {
		atomic_fetch_add(&outside, 1);
		return;
	}
	FOR_EACH_WORD(iova, size, w, mask)
		if (atomic_fetch_or(&shadow[w], mask) & mask)
			atomic_fetch_add(&twice, 1);
}

/* Clear it; count any page that was not marked. */
static void shadow_give(uint64_t iova, uint64_t size)
{
	FOR_EACH_WORD(iova, size, w, mask)
		if ((atomic_fetch_and(&shadow[w], ~mask) & mask) != mask)
			atomic_fetch_add(&unowned, 1);
}

/* Small classes are the common case; now and then a 2 MiB or 1 GiB one. */
static unsigned int pick_class(unsigned int *seed)
{
	unsigned int r = (unsigned int)rand_r(seed) % 1000;

	if (r == 0)
		return UDK_IOVA_CLASS_1G;
	if (r < 10)
		return 9;
	return r % 4;
}

struct held {
	uint64_t iova;
	unsigned int cls;
};

/* I/Os complete on other lcores: a thread hands some of its IOVAs to the
 * next one, which frees them through its own cache.  (The handoff is the
 * test's, under its own lock; the allocator sees only frees from afar.) */
static struct inbox {
	pthread_mutex_t lock;
	int n;
	struct held h[INBOX];
} inbox[THREADS];

static bool hand_over(unsigned int to, struct held h)
{
	bool ok;

	pthread_mutex_lock(&inbox[to].lock);
	ok = inbox[to].n < INBOX;
	if (ok)
		inbox[to].h[inbox[to].n++] = h;
	pthread_mutex_unlock(&inbox[to].lock);
	return ok;
}

static void take_delivery(unsigned int id, unsigned int cache)
{
	struct held got[INBOX];
	int n;

	pthread_mutex_lock(&inbox[id].lock);
	n = inbox[id].n;
	memcpy(got, inbox[id].h, (size_t)n * sizeof(got[0]));
	inbox[id].n = 0;
	pthread_mutex_unlock(&inbox[id].lock);
	for (int i = 0; i < n; i++) {
		shadow_give(got[i].iova, udk_iova_class_size(got[i].cls));
		udk_iova_cache_free(space, cache, got[i].cls, got[i].iova);
	}
}

static void *worker(void *arg)
{
	unsigned int id = (unsigned int)(uintptr_t)arg;
	/* The last thread is not an lcore: it takes the shared path. */
	unsigned int cache = id == THREADS - 1 ? UDK_IOVA_SHARED : id;
	unsigned int seed = id * 7919 + 1;
	struct held *h = calloc(HELD_MAX, sizeof(*h));
	bool filling = true;
	int n = 0;

	/* Phases of mostly-alloc and mostly-free, hundreds deep: far more than
	 * two magazines hold, so magazines go through the depot and the
	 * depot to and from the range allocator. */
	for (int i = 0; i < ITER; i++) {
		bool alloc;

		if (i % 64 == 0)
			take_delivery(id, cache);
		if (n == HELD_MAX || (filling && rand_r(&seed) % 600 == 0))
			filling = false;
		else if (n == 0)
			filling = true;
		alloc = rand_r(&seed) % 10 < (filling ? 9 : 1);
		if (n == 0 || n == HELD_MAX)
			alloc = n == 0;
		if (alloc) {
			unsigned int cls = pick_class(&seed);
			uint64_t iova;

			if (udk_iova_cache_alloc(space, cache, cls, &iova) < 0) {
				atomic_fetch_add(&failed_alloc, 1);
				continue;
			}
			shadow_take(iova, udk_iova_class_size(cls));
			h[n++] = (struct held){iova, cls};
		} else {
			int k = rand_r(&seed) % n;

			if (rand_r(&seed) % 4 != 0 || !hand_over((id + 1) % THREADS, h[k])) {
				shadow_give(h[k].iova, udk_iova_class_size(h[k].cls));
				udk_iova_cache_free(space, cache, h[k].cls, h[k].iova);
			}
			h[k] = h[--n];
		}
	}
	while (n > 0) {
		n--;
		shadow_give(h[n].iova, udk_iova_class_size(h[n].cls));
		udk_iova_cache_free(space, cache, h[n].cls, h[n].iova);
	}
	free(h);
	return NULL;
}

static void test_no_iova_twice_none_leaked(void)
{
	struct udk_iova_range ap = {AP_START, AP_START + AP_LEN - 1};
	pthread_t t[THREADS];

	CU_ASSERT_EQUAL_FATAL(udk_iova_space_create(&ap, 1, &space), 0);
	for (unsigned int i = 0; i < THREADS; i++)
		pthread_mutex_init(&inbox[i].lock, NULL);
	for (unsigned int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i);
	for (unsigned int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	/* What was handed over after its receiver's last look. */
	for (unsigned int i = 0; i < THREADS; i++)
		take_delivery(i, i == THREADS - 1 ? UDK_IOVA_SHARED : i);
	CU_ASSERT_EQUAL(atomic_load(&twice), 0);
	CU_ASSERT_EQUAL(atomic_load(&unowned), 0);
	CU_ASSERT_EQUAL(atomic_load(&outside), 0);
	CU_ASSERT_EQUAL(atomic_load(&failed_alloc), 0);
	for (size_t i = 0; i < NB_PAGES / 64; i++)
		if (atomic_load(&shadow[i]) != 0) {
			CU_FAIL("a shadow page is still marked taken");
			break;
		}
	/* Everything is free: once the caches and the depot give their IOVAs
	 * back, the range allocator holds nothing. */
	CU_ASSERT(udk_iova_space_used(space) > 0);
	for (unsigned int i = 0; i < THREADS - 1; i++)
		udk_iova_cache_flush(space, i);
	udk_iova_cache_flush(space, UDK_IOVA_SHARED);
	udk_iova_space_drain(space);
	CU_ASSERT_EQUAL(udk_iova_space_used(space), 0);
	udk_iova_space_destroy(space);
}

/* ---- translation readers against a writer ---- */

#define X_BASE 0x7f0000000000ULL /* fake addresses: the table maps numbers */
#define X_SPAN (64ULL << 20)
#define X_IOVA(va) ((va) - X_BASE + (1ULL << 32))

static struct udk_iova_xlate *xt;
static atomic_bool x_stop;
static atomic_uint x_wrong, x_hits;

static void *reader(void *arg)
{
	unsigned int seed = (unsigned int)(uintptr_t)arg;
	while (!atomic_load_explicit(&x_stop, memory_order_relaxed)) {
		unsigned int hits = 0;

		for (int i = 0; i < 1000; i++) {
			uint64_t va = X_BASE + ((uint64_t)rand_r(&seed) * 4099) % X_SPAN;
			uint64_t iova = udk_iova_xlate_lookup(xt, (void *)(uintptr_t)va);

			if (iova == UDK_IOVA_BAD)
				continue;
			hits++;
			if (iova != X_IOVA(va))
				atomic_fetch_add(&x_wrong, 1);
		}
		atomic_fetch_add(&x_hits, hits);
	}
	return NULL;
}

static void test_xlate_readers_race_writer(void)
{
	struct { uint64_t va, len; } live[8] = {{0, 0}};
	pthread_t r[2];
	unsigned int seed = 3;

	CU_ASSERT_EQUAL_FATAL(udk_iova_xlate_create(&xt), 0);
	for (uintptr_t i = 0; i < 2; i++)
		pthread_create(&r[i], NULL, reader, (void *)(i + 11));
	/* Mappings of 4 KiB to 6 MiB at page offsets (direct slots, leaves,
	 * and both in one mapping), eight alive at a time, each replaced in
	 * turn, until the readers have found a good many of them. */
	for (int round = 0; round < 20000 || atomic_load(&x_hits) < 100000; round++) {
		uint64_t len = (1 + (uint64_t)rand_r(&seed) % 1536) * 4096;
		uint64_t va = X_BASE + ((uint64_t)rand_r(&seed) % ((X_SPAN - len) / 4096)) * 4096;
		int k = round % 8;

		if (live[k].len != 0)
			udk_iova_xlate_remove(xt, live[k].va, live[k].len);
		live[k].len = 0;
		if (udk_iova_xlate_insert(xt, va, len, X_IOVA(va)) == 0)
			live[k].va = va, live[k].len = len;
		if (round > 10000000)
			break;
	}
	atomic_store(&x_stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(r[i], NULL);
	CU_ASSERT_EQUAL(atomic_load(&x_wrong), 0);
	CU_ASSERT(atomic_load(&x_hits) > 0);
	udk_iova_xlate_destroy(xt);
}

int main(void)
{
	static const struct unit_test t[] = {
		{"no IOVA handed out twice, none leaked (4 threads)", test_no_iova_twice_none_leaked},
		{"translation readers race a writer", test_xlate_readers_race_writer},
	};
	udk_log_set_level(UDK_LOG_ERR);
	return unit_run("iova_stress", t, UDK_ARRAY_SIZE(t));
}
