/* SPDX-License-Identifier: BSD-3-Clause */
/* iova_bench - IOVA allocation and translation throughput, each against
 * baselines measured in the same run (these machines are noisy: compare the
 * ratios, not the absolute figures across runs).
 *
 * Allocation: alloc+free pairs of one size class, on 1 and 2 threads, by
 *   - udk: lib/iova's per-lcore caches (udk_iova_cache_alloc/free),
 *   - tree: the classic design, a mutex around an ordered tree of allocated
 *     ranges (glibc's tsearch, a red-black tree) with a next-fit cursor and
 *     one node allocated per IOVA,
 *   - bump: a mutex around a bump pointer (the cheapest locked allocator).
 * Every allocator holds BACKGROUND live ranges first, as a busy map does.
 * Each figure is the best of three runs.
 *
 * Translation: lookups of addresses spread over 64 heap segments of 2 MiB
 * and over 4 KiB registered pages, by udk_iova_xlate_lookup(), against a
 * mutex around a binary search of a sorted segment table (lib/mem's former
 * udk_virt2iova).
 *
 * Usage: iova_bench [--quick] [--json]   (not a pass/fail test)
 */
#include <math.h>
#include <pthread.h>
#include <search.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "udk_iova.h"
#include "udk_mem.h"
#include "udk_util.h"

#define BACKGROUND 1024
#define MAX_THREADS 2
#define AP_START (1ULL << 30)
#define AP_LAST ((1ULL << 39) - 1)

static long pairs = 4000000;
static bool json;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* ---- baseline: mutex + ordered tree ---- */

struct tnode {
	uint64_t start, len;
};

static int tcmp(const void *a, const void *b)
{
	const struct tnode *x = a, *y = b;

	if (x->start + x->len <= y->start)
		return -1;
	if (y->start + y->len <= x->start)
		return 1;
	return 0; /* overlapping ranges compare equal: tfind finds a collision */
}

struct tree_alloc {
	pthread_mutex_t lock;
	void *root;
	uint64_t cursor;
};

static int tree_alloc(struct tree_alloc *t, uint64_t size, uint64_t *iova)
{
	struct tnode probe, **hit, *n;
	uint64_t cand;
	bool wrapped = false;

	pthread_mutex_lock(&t->lock);
	cand = UDK_ALIGN_UP(t->cursor, size);
	for (;;) {
		if (cand + size - 1 > AP_LAST) {
			if (wrapped) {
				pthread_mutex_unlock(&t->lock);
				return -1;
			}
			wrapped = true;
			cand = AP_START;
		}
		probe = (struct tnode){cand, size};
		hit = tfind(&probe, &t->root, tcmp);
		if (hit == NULL)
			break;
		cand = UDK_ALIGN_UP((*hit)->start + (*hit)->len, size);
	}
	n = malloc(sizeof(*n));
	*n = probe;
	tsearch(n, &t->root, tcmp);
	t->cursor = cand + size;
	pthread_mutex_unlock(&t->lock);
	*iova = cand;
	return 0;
}

static void tree_free(struct tree_alloc *t, uint64_t iova, uint64_t size)
{
	struct tnode probe = {iova, size}, **hit, *n;

	pthread_mutex_lock(&t->lock);
	hit = tfind(&probe, &t->root, tcmp);
	n = *hit;
	tdelete(&probe, &t->root, tcmp);
	pthread_mutex_unlock(&t->lock);
	free(n);
}

/* ---- baseline: mutex + bump pointer ---- */

struct bump_alloc {
	pthread_mutex_t lock;
	uint64_t next;
	long live;
};

static int bump_alloc(struct bump_alloc *b, uint64_t size, uint64_t *iova)
{
	pthread_mutex_lock(&b->lock);
	b->next = UDK_ALIGN_UP(b->next, size);
	if (b->next + size - 1 > AP_LAST)
		b->next = AP_START; /* a benchmark may wrap; a real one could not */
	*iova = b->next;
	b->next += size;
	b->live++;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static void bump_free(struct bump_alloc *b, uint64_t iova, uint64_t size)
{
	(void)iova;
	(void)size;
	pthread_mutex_lock(&b->lock);
	b->live--;
	pthread_mutex_unlock(&b->lock);
}

/* ---- the runs ---- */

enum kind { UDK, TREE, BUMP };
static const char *const kind_name[] = {"udk", "tree", "bump"};

struct run {
	enum kind kind;
	unsigned int cls;
	unsigned int cache;
	struct udk_iova_space *sp;
	struct tree_alloc *tree;
	struct bump_alloc *bump;
	pthread_barrier_t *start;
	double ns;
	int err;
};

static void *run_pairs(void *arg)
{
	struct run *r = arg;
	uint64_t size = udk_iova_class_size(r->cls), iova = 0, sum = 0;
	double t0;

	/* Warm up: the first calls make the cache and fill the magazines. */
	for (int i = 0; i < 1000; i++) {
		if (r->kind == UDK && udk_iova_cache_alloc(r->sp, r->cache, r->cls, &iova) == 0)
			udk_iova_cache_free(r->sp, r->cache, r->cls, iova);
	}
	pthread_barrier_wait(r->start);
	t0 = now_ns();
	for (long i = 0; i < pairs; i++) {
		switch (r->kind) {
		case UDK:
			if (udk_iova_cache_alloc(r->sp, r->cache, r->cls, &iova) < 0) {
				r->err = 1;
				return NULL;
			}
			sum += iova;
			udk_iova_cache_free(r->sp, r->cache, r->cls, iova);
			break;
		case TREE:
			tree_alloc(r->tree, size, &iova);
			sum += iova;
			tree_free(r->tree, iova, size);
			break;
		case BUMP:
			bump_alloc(r->bump, size, &iova);
			sum += iova;
			bump_free(r->bump, iova, size);
			break;
		}
	}
	r->ns = now_ns() - t0;
	__asm__ volatile("" : : "r"(sum));
	return NULL;
}

/* ns per alloc+free pair over all threads (wall time / total pairs) */
static double measure(enum kind kind, unsigned int cls, int threads)
{
	struct udk_iova_range ap = {AP_START, AP_LAST};
	struct tree_alloc tree = {.lock = PTHREAD_MUTEX_INITIALIZER, .cursor = AP_START};
	struct bump_alloc bump = {.lock = PTHREAD_MUTEX_INITIALIZER, .next = AP_START};
	struct udk_iova_space *sp = NULL;
	pthread_barrier_t start;
	pthread_t t[MAX_THREADS];
	struct run r[MAX_THREADS];
	uint64_t size = udk_iova_class_size(cls), iova;
	double worst = 0;

	udk_iova_space_create(&ap, 1, &sp);
	/* The background: live ranges a busy map holds (segments, I/Os). */
	for (int i = 0; i < BACKGROUND; i++) {
		if (kind == UDK)
			udk_iova_alloc(sp, 4096, 4096, &iova);
		else if (kind == TREE)
			tree_alloc(&tree, 4096, &iova);
		else
			bump_alloc(&bump, 4096, &iova);
	}
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	pthread_barrier_init(&start, NULL, (unsigned int)threads);
	for (int i = 0; i < threads; i++) {
		r[i] = (struct run){kind, cls, (unsigned int)i, sp, &tree, &bump, &start, 0, 0};
		pthread_create(&t[i], NULL, run_pairs, &r[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		if (r[i].ns > worst)
			worst = r[i].ns;
		if (r[i].err)
			fprintf(stderr, "iova_bench: %s class %u: allocation failed\n",
				kind_name[kind], cls);
	}
	pthread_barrier_destroy(&start);
	udk_iova_space_destroy(sp);
	tdestroy(tree.root, free);
	(void)size;
	return worst / ((double)pairs * threads);
}

/* The machine is shared and noisy: each figure is the best of REPEAT runs,
 * for every allocator alike (interference only ever adds time). */
#define REPEAT 3

static double best_of(enum kind kind, unsigned int cls, int threads)
{
	double best = measure(kind, cls, threads);

	for (int i = 1; i < REPEAT; i++) {
		double ns = measure(kind, cls, threads);

		if (ns < best)
			best = ns;
	}
	return best;
}

/* ---- translation ---- */

#define NSEG 64
#define NADDR 4096

struct seg {
	uintptr_t va;
	uint64_t len, iova;
};

static pthread_mutex_t seg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct seg segs[NSEG];

static uint64_t bsearch_xlate(const void *p)
{
	uintptr_t va = (uintptr_t)p;
	size_t lo = 0, hi = NSEG;
	uint64_t r = UDK_IOVA_BAD;

	pthread_mutex_lock(&seg_lock);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (segs[mid].va <= va)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && va < segs[lo - 1].va + segs[lo - 1].len)
		r = segs[lo - 1].iova + (va - segs[lo - 1].va);
	pthread_mutex_unlock(&seg_lock);
	return r;
}

static struct udk_mem *mem;

static double measure_xlate(struct udk_iova_xlate *x, void *const *addr, int how, long n)
{
	uint64_t sum = 0;
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		const void *p = addr[i & (NADDR - 1)];

		if (how == 0)
			sum += udk_iova_xlate_lookup(x, p);
		else if (how == 1)
			sum += bsearch_xlate(p);
		else
			sum += udk_mem_virt2iova(mem, p);
	}
	__asm__ volatile("" : : "r"(sum));
	return (now_ns() - t0) / (double)n;
}

static int give_iova(enum udk_mem_event ev, struct udk_memseg *seg, void *arg)
{
	uint64_t *next = arg;

	if (ev == UDK_MEM_EVENT_ALLOC) {
		seg->iova = *next;
		*next += seg->len + (1ULL << 21);
	}
	return 0;
}

/* NADDR addresses inside 32 heap allocations of 1 MiB. */
static int heap_addresses(void **addr)
{
	static uint64_t next_iova = 1ULL << 32;
	struct udk_mem_opts o;
	void *blk[32];

	udk_mem_opts_init(&o, sizeof(o));
	o.no_huge = true;
	if (udk_mem_create(&o, &mem) < 0 || udk_mem_event_register(mem, give_iova, &next_iova) < 0)
		return -1;
	for (int i = 0; i < 32; i++)
		if ((blk[i] = udk_mem_zmalloc(mem, 1 << 20, 4096, 0)) == NULL)
			return -1;
	for (int i = 0; i < NADDR; i++)
		addr[i] = (char *)blk[rand() % 32] + rand() % (1 << 20);
	return 0;
}

static void print_line(const char *what, double udk, double tree, double bump, bool first)
{
	if (json)
		printf("%s{\"case\": \"%s\", \"udk_ns\": %.2f, \"tree_ns\": %.2f, \"bump_ns\": %.2f, "
		       "\"x_tree\": %.1f, \"x_bump\": %.1f}",
		       first ? "" : ",\n  ", what, udk, tree, bump, tree / udk, bump / udk);
	else
		printf("%-22s %8.2f %9.2f %9.2f %9.1fx %9.1fx\n", what, udk, tree, bump, tree / udk,
		       bump / udk);
}

int main(int argc, char **argv)
{
	static const char *const cls_name[] = {"4K", "8K", "16K", "32K", "64K", "128K",
					       "256K", "512K", "1M", "2M", "1G"};
	struct udk_iova_xlate *x;
	void **addr;
	bool first = true;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			pairs = 200000;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else {
			fprintf(stderr, "usage: iova_bench [--quick] [--json]\n");
			return strcmp(argv[i], "--help") == 0 ? 0 : 2;
		}
	}
	udk_log_set_level(UDK_LOG_ERR);
	if (json)
		printf("{\"alloc_free_pairs\": [\n  ");
	else
		printf("alloc+free pairs, ns per pair (all threads; lower is better)\n"
		       "%-22s %8s %9s %9s %10s %10s\n", "class/threads", "udk", "tree", "bump",
		       "tree/udk", "bump/udk");
	for (int threads = 1; threads <= MAX_THREADS; threads++) {
		for (unsigned int cls = 0; cls < UDK_IOVA_NB_CLASSES; cls++) {
			char what[32];
			double u = best_of(UDK, cls, threads);
			double t = best_of(TREE, cls, threads);
			double b = best_of(BUMP, cls, threads);

			snprintf(what, sizeof(what), "%s x%d thread%s", cls_name[cls], threads,
				 threads > 1 ? "s" : "");
			print_line(what, u, t, b, first);
			first = false;
		}
	}

	/* Translation: 64 segments of 2 MiB, and 4 KiB pages registered one
	 * by one in between, at addresses the table and the baseline share. */
	udk_iova_xlate_create(&x);
	addr = malloc(NADDR * sizeof(*addr));
	for (int i = 0; i < NSEG; i++) {
		segs[i] = (struct seg){0x7f0000000000ULL + (uintptr_t)i * (4ULL << 20), 2ULL << 20,
				       (1ULL << 32) + (uint64_t)i * (2ULL << 20)};
		udk_iova_xlate_insert(x, segs[i].va, segs[i].len, segs[i].iova);
		udk_iova_xlate_insert(x, segs[i].va + (2ULL << 20), 4096, (1ULL << 34) + i * 4096ULL);
	}
	srand(1);
	for (int i = 0; i < NADDR; i++)
		addr[i] = (void *)(segs[rand() % NSEG].va + (uintptr_t)(rand() % (2 << 20)));
	long n = pairs * 4;
	double xs = 1e9, bs = 1e9, xp = 1e9, mv = -1;
	for (int r = 0; r < REPEAT; r++) {
		xs = fmin(xs, measure_xlate(x, addr, 0, n));
		bs = fmin(bs, measure_xlate(x, addr, 1, n));
	}
	for (int i = 0; i < NADDR; i++)
		addr[i] = (void *)(segs[rand() % NSEG].va + (2ULL << 20) + (uintptr_t)(rand() % 4096));
	for (int r = 0; r < REPEAT; r++)
		xp = fmin(xp, measure_xlate(x, addr, 0, n));
	/* The whole udk_mem_virt2iova() call on real heap memory: 4 KiB-page
	 * memfd segments (--no-huge), whose IOVA a callback gives. */
	if (heap_addresses(addr) == 0) {
		mv = 1e9;
		for (int r = 0; r < REPEAT; r++)
			mv = fmin(mv, measure_xlate(NULL, addr, 2, n));
	}
	if (json) {
		printf("\n],\n\"translate\": {\"segment_ns\": %.2f, \"page_ns\": %.2f, "
		       "\"mem_virt2iova_ns\": %.2f, \"mutex_bsearch_ns\": %.2f, "
		       "\"x_bsearch\": %.1f}}\n", xs, xp, mv, bs, bs / xs);
	} else {
		printf("\ntranslation, ns per lookup\n"
		       "  udk_iova_xlate_lookup, heap segment (2 MiB slot)  %6.2f\n"
		       "  udk_iova_xlate_lookup, registered 4 KiB page      %6.2f\n"
		       "  udk_mem_virt2iova, heap memory (a call)           %6.2f\n"
		       "  mutex + binary search of %d segments (baseline)   %6.2f   (%.1fx the "
		       "segment lookup)\n", xs, xp, mv, NSEG, bs, bs / xs);
	}
	udk_mem_destroy(mem);
	udk_iova_xlate_destroy(x);
	free(addr);
	return 0;
}
