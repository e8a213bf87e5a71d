/* SPDX-License-Identifier: BSD-3-Clause */
/* iova_cache.c - the fast path of IOVA allocation: per-lcore magazines in
 * front of a per-class depot (the magazine layering of Bonwick and Adams,
 * as Linux's iova.c uses it), over the range allocator of iova.c.
 *
 * Ownership keeps it simple: a cache (two magazines per class) belongs to one
 * thread, so a hit is a plain load and store on memory no one else writes.
 * Magazines move between caches only through a depot, under its lock, one
 * pointer swap at a time; the magazine's contents travel with the lock's
 * release/acquire.  Nothing is allocated after a cache's first use except
 * the depot's own magazines, at most DEPOT_MAGS per class per space.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iova_internal.h"
#include "udk_util.h"

static _Thread_local unsigned int thread_cache = UDK_IOVA_SHARED;

unsigned int udk_iova_thread_cache(void)
{
	return thread_cache;
}

void udk_iova_thread_set_cache(unsigned int idx)
{
	thread_cache = idx < UDK_IOVA_MAX_CACHES ? idx : UDK_IOVA_SHARED;
}

static void cache_free_mem(struct iova_cache *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < UDK_IOVA_NB_CLASSES; i++) {
		free(c->cls[i].loaded);
		free(c->cls[i].prev);
	}
	free(c);
}

static struct iova_cache *cache_new(void)
{
	struct iova_cache *c = aligned_alloc(64, sizeof(*c));

	if (c == NULL)
		return NULL;
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < UDK_IOVA_NB_CLASSES; i++) {
		c->cls[i].loaded = calloc(1, sizeof(struct mag));
		c->cls[i].prev = calloc(1, sizeof(struct mag));
		if (c->cls[i].loaded == NULL || c->cls[i].prev == NULL) {
			cache_free_mem(c);
			return NULL;
		}
	}
	return c;
}

int iova_caches_init(struct udk_iova_space *sp)
{
	for (int i = 0; i < UDK_IOVA_NB_CLASSES; i++)
		pthread_mutex_init(&sp->depot[i].lock, NULL);
	for (int i = 0; i < UDK_IOVA_MAX_CACHES; i++)
		atomic_init(&sp->caches[i], NULL);
	pthread_mutex_init(&sp->shared_lock, NULL);
	return 0;
}

void iova_caches_destroy(struct udk_iova_space *sp)
{
	for (int i = 0; i < UDK_IOVA_NB_CLASSES; i++) {
		struct iova_depot *d = &sp->depot[i];

		for (unsigned int k = 0; k < d->nfull; k++)
			free(d->full[k]);
		for (unsigned int k = 0; k < d->nempty; k++)
			free(d->empty[k]);
		pthread_mutex_destroy(&d->lock);
	}
	for (int i = 0; i < UDK_IOVA_MAX_CACHES; i++)
		cache_free_mem(atomic_load_explicit(&sp->caches[i], memory_order_relaxed));
	cache_free_mem(sp->shared);
	pthread_mutex_destroy(&sp->shared_lock);
}

/* The cache of index idx, created on first use.  Creation takes the space's
 * lock so that two first uses of one index (a caller bug) cannot both publish. */
static struct iova_cache *get_cache(struct udk_iova_space *sp, unsigned int idx)
{
	struct iova_cache *c = atomic_load_explicit(&sp->caches[idx], memory_order_acquire);

	if (likely(c != NULL))
		return c;
	pthread_mutex_lock(&sp->lock);
	c = atomic_load_explicit(&sp->caches[idx], memory_order_acquire);
	if (c == NULL) {
		c = cache_new();
		if (c != NULL)
			atomic_store_explicit(&sp->caches[idx], c, memory_order_release);
	}
	pthread_mutex_unlock(&sp->lock);
	if (c == NULL)
		udk_log(UDK_LOG_ERR, "iova", "out of memory for the IOVA cache of lcore %u", idx);
	return c;
}

/* How many IOVAs a magazine of class cls holds, and how many magazines its
 * depot may own.  1 GiB IOVAs are few (512 in a 39-bit space): a cache keeps
 * at most two of them and the depot four, so idle lcores cannot hoard the
 * space; every smaller class gets full 64-entry magazines. */
static inline unsigned int mag_cap(unsigned int cls)
{
	return cls == UDK_IOVA_CLASS_1G ? 1 : MAG_SIZE;
}

static inline unsigned int depot_cap(unsigned int cls)
{
	return cls == UDK_IOVA_CLASS_1G ? 4 : DEPOT_MAGS;
}

static void swap_mags(struct cache_class *cc)
{
	struct mag *t = cc->loaded;

	cc->loaded = cc->prev;
	cc->prev = t;
}

static void log_class_exhausted(struct udk_iova_space *sp, unsigned int cls)
{
	uint64_t size = udk_iova_class_size(cls);

	udk_log(UDK_LOG_ERR, "iova",
		"IOVA space exhausted: no free %llu KiB IOVA (class %u) is left (%llu bytes "
		"allocated, some may sit free in other lcores' caches); unmap buffers, flush "
		"idle lcores' caches (udk_iova_cache_flush) or narrow the I/O sizes",
		(unsigned long long)(size >> 10), cls,
		(unsigned long long)udk_iova_space_used(sp));
}

/* Both magazines are empty: trade the loaded one for a full one from the
 * depot, else carve half a magazine from the range allocator. */
static int refill(struct udk_iova_space *sp, struct cache_class *cc, unsigned int cls)
{
	struct iova_depot *d = &sp->depot[cls];
	struct mag *m = cc->loaded;

	pthread_mutex_lock(&d->lock);
	if (d->nfull > 0) {
		cc->loaded = d->full[--d->nfull];
		d->empty[d->nempty++] = m;
		pthread_mutex_unlock(&d->lock);
		return 0;
	}
	pthread_mutex_unlock(&d->lock);
	/* Half, not all: the IOVAs carved now are held by this lcore alone. */
	m->n = iova_carve(sp, udk_iova_class_size(cls), m->iova, (mag_cap(cls) + 1) / 2);
	return m->n > 0 ? 0 : -UDK_ENOIOVA;
}

/* Both magazines are full: hand the spare to the depot for an empty one; if
 * the depot has none to give, make one (at most DEPOT_MAGS per class); if the
 * depot is full of full magazines, empty the spare into the range allocator. */
static void spill(struct udk_iova_space *sp, struct cache_class *cc, unsigned int cls)
{
	struct iova_depot *d = &sp->depot[cls];
	struct mag *m = cc->prev, *e = NULL;

	pthread_mutex_lock(&d->lock);
	if (d->nempty > 0) {
		e = d->empty[--d->nempty];
	} else if (d->nfull + d->nempty < depot_cap(cls)) {
		e = malloc(sizeof(*e)); /* slow path, bounded: see above */
	}
	if (e != NULL) {
		e->n = 0;
		d->full[d->nfull++] = m;
		cc->prev = e;
	}
	pthread_mutex_unlock(&d->lock);
	if (e == NULL) {
		iova_release(sp, udk_iova_class_size(cls), m->iova, m->n);
		m->n = 0;
	}
}

static int cache_alloc(struct udk_iova_space *sp, struct iova_cache *c, unsigned int cls,
		       uint64_t *iova)
{
	struct cache_class *cc = &c->cls[cls];

	if (likely(cc->loaded->n > 0)) {
		*iova = cc->loaded->iova[--cc->loaded->n];
		return 0;
	}
	if (cc->prev->n > 0) {
		swap_mags(cc);
		*iova = cc->loaded->iova[--cc->loaded->n];
		return 0;
	}
	if (refill(sp, cc, cls) < 0) {
		/* Free IOVAs of other classes may sit in their depots, cutting
		 * the space into pieces: give them back, and look once more
		 * (another lcore may also just have filled this depot). */
		udk_iova_space_drain(sp);
		if (refill(sp, cc, cls) < 0)
			return -UDK_ENOIOVA;
	}
	*iova = cc->loaded->iova[--cc->loaded->n];
	return 0;
}

static void cache_free(struct udk_iova_space *sp, struct iova_cache *c, unsigned int cls,
		       uint64_t iova)
{
	struct cache_class *cc = &c->cls[cls];

	if (unlikely(cc->loaded->n == mag_cap(cls))) {
		if (cc->prev->n == mag_cap(cls))
			spill(sp, cc, cls);
		swap_mags(cc);
	}
	cc->loaded->iova[cc->loaded->n++] = iova;
}

int udk_iova_cache_alloc(struct udk_iova_space *sp, unsigned int cache, unsigned int cls,
			 uint64_t *iova)
{
	struct iova_cache *c;
	int rc;

	if (unlikely(cls >= UDK_IOVA_NB_CLASSES))
		return -EINVAL;
	if (likely(cache < UDK_IOVA_MAX_CACHES)) {
		c = get_cache(sp, cache);
		if (unlikely(c == NULL))
			return -ENOMEM;
		rc = cache_alloc(sp, c, cls, iova);
	} else if (cache == UDK_IOVA_SHARED) {
		pthread_mutex_lock(&sp->shared_lock);
		if (sp->shared == NULL)
			sp->shared = cache_new();
		rc = sp->shared != NULL ? cache_alloc(sp, sp->shared, cls, iova) : -ENOMEM;
		pthread_mutex_unlock(&sp->shared_lock);
	} else {
		return -EINVAL;
	}
	if (unlikely(rc == -UDK_ENOIOVA))
		log_class_exhausted(sp, cls);
	return rc;
}

int udk_iova_cache_free(struct udk_iova_space *sp, unsigned int cache, unsigned int cls,
			uint64_t iova)
{
	struct iova_cache *c;

	if (unlikely(cls >= UDK_IOVA_NB_CLASSES || (iova & (udk_iova_class_size(cls) - 1)) != 0))
		return -EINVAL;
	if (likely(cache < UDK_IOVA_MAX_CACHES)) {
		c = get_cache(sp, cache);
		if (unlikely(c == NULL)) {
			/* No cache to park it in: straight back to the ranges. */
			iova_release(sp, udk_iova_class_size(cls), &iova, 1);
			return 0;
		}
		cache_free(sp, c, cls, iova);
		return 0;
	}
	if (cache != UDK_IOVA_SHARED)
		return -EINVAL;
	pthread_mutex_lock(&sp->shared_lock);
	if (sp->shared == NULL)
		sp->shared = cache_new();
	if (sp->shared != NULL)
		cache_free(sp, sp->shared, cls, iova);
	else
		iova_release(sp, udk_iova_class_size(cls), &iova, 1);
	pthread_mutex_unlock(&sp->shared_lock);
	return 0;
}

static void flush_one(struct udk_iova_space *sp, struct iova_cache *c)
{
	for (unsigned int i = 0; i < UDK_IOVA_NB_CLASSES; i++) {
		struct cache_class *cc = &c->cls[i];

		iova_release(sp, udk_iova_class_size(i), cc->loaded->iova, cc->loaded->n);
		cc->loaded->n = 0;
		iova_release(sp, udk_iova_class_size(i), cc->prev->iova, cc->prev->n);
		cc->prev->n = 0;
	}
}

void udk_iova_cache_flush(struct udk_iova_space *sp, unsigned int cache)
{
	struct iova_cache *c;

	if (cache < UDK_IOVA_MAX_CACHES) {
		c = atomic_load_explicit(&sp->caches[cache], memory_order_acquire);
		if (c != NULL)
			flush_one(sp, c);
	} else if (cache == UDK_IOVA_SHARED) {
		pthread_mutex_lock(&sp->shared_lock);
		if (sp->shared != NULL)
			flush_one(sp, sp->shared);
		pthread_mutex_unlock(&sp->shared_lock);
	}
}

void udk_iova_space_drain(struct udk_iova_space *sp)
{
	for (unsigned int i = 0; i < UDK_IOVA_NB_CLASSES; i++) {
		struct iova_depot *d = &sp->depot[i];

		/* Lock order: a depot, then the range allocator (never the
		 * reverse; refill and spill drop the depot lock first). */
		pthread_mutex_lock(&d->lock);
		while (d->nfull > 0) {
			struct mag *m = d->full[--d->nfull];

			iova_release(sp, udk_iova_class_size(i), m->iova, m->n);
			m->n = 0;
			d->empty[d->nempty++] = m;
		}
		pthread_mutex_unlock(&d->lock);
	}
}
