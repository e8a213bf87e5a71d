/* SPDX-License-Identifier: BSD-3-Clause */
/* extmem.c - memory that is not udk's heap: long-lived buffers registered
 * with a map, and per-I/O mappings of any buffer with their two unmap modes.
 *
 * Ownership of a per-I/O IOVA, which is what keeps a freed IOVA from being
 * reused while the IOMMU still maps it: map_buf takes it from the lcore's
 * cache; unmap_buf in strict mode gives it back only after the kernel unmap
 * returned; in deferred mode it hands it to the lcore's queue, and only the
 * flush, after the kernel unmap of its run returned, gives it back.  If the
 * kernel refuses an unmap, nobody gives it back: the IOVA stays out of
 * circulation for the life of the map, rather than risk a second user.
 *
 * Every per-I/O mapping is also recorded (an IOVA-keyed table, under the map's
 * lock like the kernel call beside it) from map_buf until its kernel unmap
 * returned, so that a mapping made before any device is attached, or alive
 * while the last device leaves a type1 map, is replayed with the heap's
 * record when the map becomes live again (udk_dma_replay).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "dma_internal.h"
#include "udk_util.h"

#define PAGE 4096ULL
#define DEFQ_MAX 256
#define DEFQ_DEFAULT 64

/* One per-I/O mapping queued for a deferred unmap. */
struct qent {
	uint64_t iova, len;
};

struct defq {
	unsigned int n;
	struct qent e[DEFQ_MAX];
};

/* The record of per-I/O mappings: open addressing on the IOVA (page aligned,
 * unique while mapped), linear probing, deletion by backward shift. */
struct bufrec {
	uint64_t iova;
	uint64_t len; /* 0: an empty slot */
	uintptr_t va;
};

struct bufrecs {
	struct bufrec *slot;
	size_t cap, n; /* cap is 0 or a power of two; n < cap / 2 */
};

struct dma_ext {
	struct bufrecs rec; /* under map->lock */
	atomic_int mode;
	atomic_uint batch;
	/* One queue per lcore (cache index), created on its first deferred
	 * unmap and used by that lcore alone; the shared one under a lock. */
	_Atomic(struct defq *) q[UDK_IOVA_MAX_CACHES];
	pthread_mutex_t shared_lock;
	struct defq *shared;
	atomic_uint_fast64_t maps, unmaps, unmap_calls, flushes;
};

int dma_ext_init(struct udk_dmamap *map)
{
	struct dma_ext *x = calloc(1, sizeof(*x));
	int rc;

	if (x == NULL)
		return -ENOMEM;
	rc = udk_iova_xlate_create(&map->xlate);
	if (rc < 0) {
		free(x);
		return rc;
	}
	atomic_init(&x->mode, UDK_DMA_UNMAP_STRICT);
	atomic_init(&x->batch, DEFQ_DEFAULT);
	pthread_mutex_init(&x->shared_lock, NULL);
	map->ext = x;
	return 0;
}

/* The last reference is gone, so no device is attached and the kernel holds
 * no mapping: queued entries need no unmap, their IOVAs die with the space.
 * The translation table goes too: no reader can be left. */
void dma_ext_fini(struct udk_dmamap *map)
{
	struct dma_ext *x = map->ext;

	if (x == NULL)
		return;
	for (int i = 0; i < UDK_IOVA_MAX_CACHES; i++)
		free(atomic_load_explicit(&x->q[i], memory_order_relaxed));
	free(x->shared);
	pthread_mutex_destroy(&x->shared_lock);
	free(x->rec.slot);
	free(x);
	map->ext = NULL;
	udk_iova_xlate_destroy(map->xlate);
	map->xlate = NULL;
}

static size_t rec_home(const struct bufrecs *r, uint64_t iova)
{
	return (size_t)((iova >> 12) * 0x9e3779b97f4a7c15ULL >> 20) & (r->cap - 1);
}

static void rec_put(struct bufrecs *r, const struct bufrec *e)
{
	size_t i = rec_home(r, e->iova);

	while (r->slot[i].len != 0)
		i = (i + 1) & (r->cap - 1);
	r->slot[i] = *e;
	r->n++;
}

/* Record a per-I/O mapping.  0, or -ENOMEM when the table cannot grow. */
static int rec_add(struct bufrecs *r, const struct udk_mapping *m)
{
	struct bufrec e = {.iova = m->iova, .len = m->len, .va = m->vaddr};

	if ((r->n + 1) * 2 > r->cap) {
		struct bufrecs big = {.cap = r->cap ? r->cap * 2 : 64};

		big.slot = calloc(big.cap, sizeof(*big.slot));
		if (big.slot == NULL)
			return -ENOMEM;
		for (size_t i = 0; i < r->cap; i++)
			if (r->slot[i].len != 0)
				rec_put(&big, &r->slot[i]);
		free(r->slot);
		*r = big;
	}
	rec_put(r, &e);
	return 0;
}

/* The slot of the mapping at iova, or -1. */
static ssize_t rec_find(const struct bufrecs *r, uint64_t iova, uint64_t len)
{
	if (r->cap == 0)
		return -1;
	for (size_t i = rec_home(r, iova);; i = (i + 1) & (r->cap - 1)) {
		if (r->slot[i].len == 0)
			return -1;
		if (r->slot[i].iova == iova)
			return r->slot[i].len == len ? (ssize_t)i : -1;
	}
}

/* Forget the mapping in slot i. */
static void rec_del(struct bufrecs *r, size_t i)
{
	size_t j;

	/* Backward shift: pull later entries of the probe run into the hole
	 * when their home does not lie cyclically in (hole, their slot]. */
	for (j = i;;) {
		size_t home;

		r->slot[i].len = 0;
		do {
			j = (j + 1) & (r->cap - 1);
			if (r->slot[j].len == 0) {
				r->n--;
				return;
			}
			home = rec_home(r, r->slot[j].iova);
		} while (i <= j ? (i < home && home <= j) : (i < home || home <= j));
		r->slot[i] = r->slot[j];
		i = j;
	}
}

/* The map became live (first attach of type1, after the heap's record was
 * mapped): give the kernel every recorded per-I/O mapping.  Under map->lock.
 * On failure, what this call mapped is unmapped again. */
int dma_ext_replay(struct udk_dmamap *map)
{
	struct bufrecs *r = &map->ext->rec;
	struct udk_mapping m = {0};
	size_t i;
	int rc = 0;

	for (i = 0; i < r->cap; i++) {
		m = (struct udk_mapping){.vaddr = r->slot[i].va, .len = r->slot[i].len,
					 .iova = r->slot[i].iova};
		if (m.len != 0 && (rc = map->ops->map(map, &m)) < 0)
			break;
	}
	while (rc < 0 && i-- > 0) {
		m = (struct udk_mapping){.vaddr = r->slot[i].va, .len = r->slot[i].len,
					 .iova = r->slot[i].iova};
		if (m.len != 0)
			map->ops->unmap(map, &m);
	}
	return rc;
}

/* Is [va, va+len) on the calling thread's stack?  The bounds are read once
 * per thread (pthread_getattr_np reads /proc for the main thread). */
static bool on_stack(uintptr_t va, size_t len)
{
	static _Thread_local uintptr_t lo, hi;
	static _Thread_local bool known;

	if (!known) {
		pthread_attr_t a;
		void *addr;
		size_t size;

		if (pthread_getattr_np(pthread_self(), &a) == 0) {
			if (pthread_attr_getstack(&a, &addr, &size) == 0) {
				lo = (uintptr_t)addr;
				hi = lo + size;
			}
			pthread_attr_destroy(&a);
		}
		known = true;
	}
	return va < hi && va + len > lo;
}

static int refuse_stack(struct udk_dmamap *map, const char *step, const void *vaddr, size_t len)
{
	udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
		"%s on %s: %p+0x%zx is on the calling thread's stack; DMA to the stack is "
		"refused (the memory dies with the function while the device may still "
		"write it): use malloc'ed or udk_mem_default_zmalloc() memory", step, map->name, vaddr,
		len);
	return -EINVAL;
}

/* [vaddr, vaddr+len) widened to whole pages. */
static int page_span(const void *vaddr, size_t len, uintptr_t *va0, uint64_t *plen)
{
	uintptr_t va = (uintptr_t)vaddr;

	if (len == 0 || va + len < va)
		return -EINVAL;
	*va0 = va & ~(uintptr_t)(PAGE - 1);
	*plen = UDK_ALIGN_UP((uint64_t)(va + len), PAGE) - *va0;
	return 0;
}

int udk_dma_register(struct udk_dmamap *map, void *vaddr, size_t len)
{
	uintptr_t va0;
	uint64_t plen;

	if (page_span(vaddr, len, &va0, &plen) < 0) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "register on %s: %p+0x%zx is an empty range",
			map->name, vaddr, len);
		return -EINVAL;
	}
	if (on_stack((uintptr_t)vaddr, len))
		return refuse_stack(map, "register", vaddr, len);
	return udk_dmamap_map(map, (void *)va0, plen, NULL);
}

int udk_dma_unregister(struct udk_dmamap *map, void *vaddr, size_t len)
{
	uintptr_t va0;
	uint64_t plen;

	if (page_span(vaddr, len, &va0, &plen) < 0)
		return -UDK_ENOTMAPPED;
	return udk_dmamap_unmap(map, (void *)va0, plen);
}

/* The kernel side of an unmap of the run [iova, iova+len), made of the n
 * whole per-I/O mappings e[] (adjacent in IOVA); once the kernel let go of
 * them (or never had them: the map is not live), they leave the record.
 * Under the map's lock: live and the kernel object may change with an attach
 * or detach. */
static int kernel_unmap(struct udk_dmamap *map, uint64_t iova, uint64_t len,
			const struct qent *e, unsigned int n)
{
	struct udk_mapping m = {.vaddr = 0, .len = len, .iova = iova};
	struct bufrecs *r = &map->ext->rec;
	int rc = 0;

	pthread_mutex_lock(&map->lock);
	for (unsigned int i = 0; i < n; i++)
		if (rec_find(r, e[i].iova, e[i].len) < 0) {
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"unmap_buf on %s: IOVA 0x%llx+0x%llx is not a per-I/O mapping of "
				"this map (already unmapped, or not from udk_dma_map_buf())",
				map->name, (unsigned long long)e[i].iova,
				(unsigned long long)e[i].len);
			rc = -UDK_ENOTMAPPED;
		}
	if (rc == 0 && map->live) {
		rc = map->ops->unmap(map, &m);
		atomic_fetch_add_explicit(&map->ext->unmap_calls, 1, memory_order_relaxed);
	}
	if (rc == 0)
		for (unsigned int i = 0; i < n; i++)
			rec_del(r, (size_t)rec_find(r, e[i].iova, e[i].len));
	pthread_mutex_unlock(&map->lock);
	return rc;
}

int udk_dma_set_unmap_mode(struct udk_dmamap *map, enum udk_dma_unmap_mode mode,
			   unsigned int batch)
{
	if ((mode != UDK_DMA_UNMAP_STRICT && mode != UDK_DMA_UNMAP_DEFERRED) ||
	    batch > DEFQ_MAX) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"unmap mode on %s: mode %d batch %u: expected strict or deferred with a "
			"batch of at most %d", map->name, (int)mode, batch, DEFQ_MAX);
		return -EINVAL;
	}
	atomic_store(&map->ext->batch, batch == 0 ? DEFQ_DEFAULT : batch);
	atomic_store(&map->ext->mode, (int)mode);
	return mode == UDK_DMA_UNMAP_STRICT ? udk_dma_flush(map) : 0;
}

int udk_dma_map_buf(struct udk_dmamap *map, const void *vaddr, size_t len, uint64_t *iova)
{
	struct udk_mapping m;
	uint64_t plen;
	uintptr_t va0;
	int cls, rc = 0;

	if (unlikely(page_span(vaddr, len, &va0, &plen) < 0)) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "map_buf on %s: %p+0x%zx is an empty range",
			map->name, vaddr, len);
		return -EINVAL;
	}
	cls = udk_iova_class_of(plen);
	if (unlikely(cls < 0)) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"map_buf on %s: %p+0x%zx spans more than 1 GiB; register it instead "
			"(udk_dma_register)", map->name, vaddr, len);
		return -EINVAL;
	}
	if (unlikely(on_stack((uintptr_t)vaddr, len)))
		return refuse_stack(map, "map_buf", vaddr, len);
	m = (struct udk_mapping){.vaddr = va0, .len = plen};
	rc = udk_iova_cache_alloc(map->iova, udk_iova_thread_cache(), (unsigned int)cls, &m.iova);
	if (unlikely(rc < 0))
		return rc;
	pthread_mutex_lock(&map->lock);
	if (map->live)
		rc = map->ops->map(map, &m);
	if (likely(rc == 0) && unlikely((rc = rec_add(&map->ext->rec, &m)) < 0)) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"map_buf on %s: out of memory recording the mapping %p+0x%zx", map->name,
			vaddr, len);
		if (map->live)
			map->ops->unmap(map, &m);
	}
	pthread_mutex_unlock(&map->lock);
	if (unlikely(rc < 0)) {
		/* Never mapped: the IOVA may go straight back. */
		udk_iova_cache_free(map->iova, udk_iova_thread_cache(), (unsigned int)cls, m.iova);
		return rc;
	}
	atomic_fetch_add_explicit(&map->ext->maps, 1, memory_order_relaxed);
	*iova = m.iova + ((uintptr_t)vaddr - va0);
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Unmap everything in q, one kernel call per run of adjacent IOVAs, and give
 * each IOVA back to `cache` once its run is unmapped.  The caller owns q. */
static int flush_queue(struct udk_dmamap *map, struct defq *q, unsigned int cache)
{
	struct dma_ext *x = map->ext;
	int first_err = 0;

	qsort(q->e, q->n, sizeof(q->e[0]), cmp_entry);
	for (unsigned int i = 0, j; i < q->n; i = j) {
		uint64_t start = q->e[i].iova, len = q->e[i].len;
		int rc;

		for (j = i + 1; j < q->n && q->e[j].iova == start + len; j++)
			len += q->e[j].len;
		rc = kernel_unmap(map, start, len, &q->e[i], j - i);
		if (rc < 0) {
			/* The kernel may still map some of it: keep these IOVAs
			 * out of circulation for good (the backend logged why). */
			if (first_err == 0)
				first_err = rc;
			continue;
		}
		for (unsigned int k = i; k < j; k++)
			udk_iova_cache_free(map->iova, cache,
					    (unsigned int)udk_iova_class_of(q->e[k].len),
					    q->e[k].iova);
		atomic_fetch_add_explicit(&x->unmaps, j - i, memory_order_relaxed);
	}
	q->n = 0;
	atomic_fetch_add_explicit(&x->flushes, 1, memory_order_relaxed);
	return first_err;
}

/* The calling lcore's queue, made on first use (the only allocation of the
 * deferred path, once per lcore per map). */
static struct defq *own_queue(struct dma_ext *x, unsigned int cache)
{
	struct defq *q = atomic_load_explicit(&x->q[cache], memory_order_acquire);

	if (q == NULL) {
		q = calloc(1, sizeof(*q));
		if (q != NULL)
			atomic_store_explicit(&x->q[cache], q, memory_order_release);
	}
	return q;
}

static int defer(struct udk_dmamap *map, uint64_t base, uint64_t plen)
{
	struct dma_ext *x = map->ext;
	unsigned int cache = udk_iova_thread_cache();
	unsigned int batch = atomic_load_explicit(&x->batch, memory_order_relaxed);
	struct defq *q;
	int rc = 0;

	if (cache == UDK_IOVA_SHARED) {
		pthread_mutex_lock(&x->shared_lock);
		if (x->shared == NULL)
			x->shared = calloc(1, sizeof(*x->shared));
		q = x->shared;
	} else {
		q = own_queue(x, cache);
	}
	if (unlikely(q == NULL)) {
		/* No queue: do it the strict way rather than lose the IOVA. */
		struct qent e = {base, plen};

		rc = kernel_unmap(map, base, plen, &e, 1);
		if (rc == 0) {
			udk_iova_cache_free(map->iova, cache, (unsigned int)udk_iova_class_of(plen),
					    base);
			atomic_fetch_add_explicit(&x->unmaps, 1, memory_order_relaxed);
		}
	} else {
		q->e[q->n].iova = base;
		q->e[q->n].len = plen;
		if (++q->n >= batch)
			rc = flush_queue(map, q, cache);
	}
	if (cache == UDK_IOVA_SHARED)
		pthread_mutex_unlock(&x->shared_lock);
	return rc;
}

int udk_dma_unmap_buf(struct udk_dmamap *map, uint64_t iova, size_t len)
{
	uint64_t base = iova & ~(PAGE - 1), plen;
	int cls, rc;

	plen = UDK_ALIGN_UP((iova - base) + len, PAGE);
	cls = udk_iova_class_of(plen);
	if (unlikely(len == 0 || cls < 0)) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"unmap_buf on %s: IOVA 0x%llx+0x%zx is not a per-I/O mapping", map->name,
			(unsigned long long)iova, len);
		return -EINVAL;
	}
	if (atomic_load_explicit(&map->ext->mode, memory_order_relaxed) == UDK_DMA_UNMAP_DEFERRED)
		return defer(map, base, plen);
	rc = kernel_unmap(map, base, plen, &(struct qent){base, plen}, 1);
	if (rc < 0)
		return rc; /* the IOVA stays out of circulation: see the top */
	udk_iova_cache_free(map->iova, udk_iova_thread_cache(), (unsigned int)cls, base);
	atomic_fetch_add_explicit(&map->ext->unmaps, 1, memory_order_relaxed);
	return 0;
}

int udk_dma_flush(struct udk_dmamap *map)
{
	struct dma_ext *x = map->ext;
	unsigned int cache = udk_iova_thread_cache();
	struct defq *q;
	int rc = 0;

	if (cache == UDK_IOVA_SHARED) {
		pthread_mutex_lock(&x->shared_lock);
		if (x->shared != NULL && x->shared->n > 0)
			rc = flush_queue(map, x->shared, cache);
		pthread_mutex_unlock(&x->shared_lock);
		return rc;
	}
	q = atomic_load_explicit(&x->q[cache], memory_order_acquire);
	if (q != NULL && q->n > 0)
		rc = flush_queue(map, q, cache);
	return rc;
}

void udk_dma_buf_stats(struct udk_dmamap *map, struct udk_dma_buf_stats *st)
{
	struct dma_ext *x = map->ext;

	st->maps = atomic_load_explicit(&x->maps, memory_order_relaxed);
	st->unmaps = atomic_load_explicit(&x->unmaps, memory_order_relaxed);
	st->unmap_calls = atomic_load_explicit(&x->unmap_calls, memory_order_relaxed);
	st->flushes = atomic_load_explicit(&x->flushes, memory_order_relaxed);
	pthread_mutex_lock(&map->lock);
	st->mapped = x->rec.n;
	pthread_mutex_unlock(&map->lock);
}
