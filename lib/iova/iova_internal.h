/* SPDX-License-Identifier: BSD-3-Clause */
/* iova_internal.h - what iova.c (the range allocator) and iova_cache.c (the
 * magazines) share: the space itself.  Not installed. */
#ifndef UDK_IOVA_INTERNAL_H
#define UDK_IOVA_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "udk_iova.h"

#define IOVA_MIN_ALIGN 4096ULL
/* IOVAs per magazine.  64 keeps a magazine at 520 bytes and makes a depot
 * exchange (one lock/unlock) rare enough to cost < 1 ns per operation. */
#define MAG_SIZE 64
/* Magazines (full or empty) a class's depot may own. */
#define DEPOT_MAGS 32

struct mag {
	unsigned int n;
	uint64_t iova[MAG_SIZE];
};

/* One class of one cache: the loaded magazine serves first, prev is the
 * spare.  Between them a cache absorbs any run of MAG_SIZE allocs or frees
 * without visiting the depot (the Bonwick/Adams "magazine" layering). */
struct cache_class {
	struct mag *loaded;
	struct mag *prev;
};

/* Cache-line aligned and allocated on its own, so two lcores' caches never
 * share a line. */
struct iova_cache {
	_Alignas(64) struct cache_class cls[UDK_IOVA_NB_CLASSES];
};

/* Full and empty magazines of one class, traded one at a time under lock:
 * the lock is held for a pointer swap, never for an allocation. */
struct iova_depot {
	_Alignas(64) pthread_mutex_t lock;
	unsigned int nfull, nempty;
	struct mag *full[DEPOT_MAGS];
	struct mag *empty[DEPOT_MAGS];
};

struct alloc {
	uint64_t start;
	uint64_t len;
};

struct udk_iova_space {
	/* The range allocator: guards ap, a, used. */
	pthread_mutex_t lock;
	struct udk_iova_range *ap; /* sorted, disjoint */
	size_t nap;
	struct alloc *a;           /* sorted by start, disjoint */
	size_t na, cap;
	uint64_t used;

	struct iova_depot depot[UDK_IOVA_NB_CLASSES];
	/* Published once with a release store by the first call on the index;
	 * read with acquire by its owner. */
	_Atomic(struct iova_cache *) caches[UDK_IOVA_MAX_CACHES];
	pthread_mutex_t shared_lock; /* the shared path's cache */
	struct iova_cache *shared;
};

/* iova.c, for the caches: carve up to n IOVAs of size (aligned to size)
 * from the range allocator, or give n of them back.  Take sp->lock. */
unsigned int iova_carve(struct udk_iova_space *sp, uint64_t size, uint64_t *out, unsigned int n);
void iova_release(struct udk_iova_space *sp, uint64_t size, const uint64_t *iova, unsigned int n);

/* iova_cache.c, for iova.c */
void iova_caches_destroy(struct udk_iova_space *sp);
int iova_caches_init(struct udk_iova_space *sp);

#endif
