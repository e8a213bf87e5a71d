/* SPDX-License-Identifier: BSD-3-Clause */
/* udk_mempool.h - pools of fixed-size objects in udk DMA memory, with a
 * cache per lcore in front of a shared lock-free ring.
 *
 * All objects of a pool sit in one allocation from lib/mem, which lies in one
 * heap segment: the pool's memory is contiguous in IOVA space, so an object's
 * IOVA is the pool's base IOVA plus its offset (udk_mempool_virt2iova()).
 *
 * Get and put are inline, take no lock and make no system call.  On an lcore
 * (udk_lcore_id() != UDK_LCORE_ANY) they use that lcore's cache, which only
 * that lcore touches; other threads go to the shared ring directly.
 */
#ifndef UDK_MEMPOOL_H
#define UDK_MEMPOOL_H

#include <errno.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "udk_eal.h"
#include "udk_mem.h"
#include "udk_ring.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UDK_MEMPOOL_CACHE_MAX 512

struct udk_mempool;

/* Called once per object at creation, e.g. to lay out an mbuf. */
typedef void (*udk_mempool_obj_fn)(struct udk_mempool *mp, void *obj, uint32_t idx, void *arg);

struct udk_mempool_opts {
	size_t opts_size;        /* set by udk_mempool_opts_init() */
	const char *name;        /* copied */
	uint32_t count;          /* objects in the pool */
	uint32_t elt_size;       /* bytes per object; rounded up to 64 */
	uint32_t cache_size;     /* objects per lcore cache, 0..UDK_MEMPOOL_CACHE_MAX */
	int socket;              /* NUMA node, or UDK_SOCKET_ANY */
	struct udk_mem *mem;     /* NULL: udk_mem_default(); a map's heap
				  * (udk_eal_map_mem_get()) is held until the
				  * pool is freed */
	udk_mempool_obj_fn obj_init;
	void *obj_init_arg;
	uint32_t flags;          /* UDK_MEMPOOL_F_*: what the objects are */
};

/* The objects are packet buffers (set by udk_pktmbuf_pool_create()). */
#define UDK_MEMPOOL_F_PKTMBUF 0x1u

void udk_mempool_opts_init(struct udk_mempool_opts *opts, size_t size);

/* Create a pool.  0, or -EINVAL (bad options, with a message), -ENOMEM
 * (the memory could not be had: lib/mem logged why), -UDK_ENOTMAPPED (the
 * memory has no IOVA: it is not in the default map). */
int udk_mempool_create(const struct udk_mempool_opts *opts, struct udk_mempool **out);

/* Free the pool and its memory.  Every object must be back (a pool freed
 * with objects out logs a warning with the count). */
void udk_mempool_free(struct udk_mempool *mp);

/* A pool whose objects live elsewhere, e.g. DPDK's mbuf pools seen by udk
 * (drivers/net/dpdk): get and put go to these calls.  Such a pool has no
 * ring, no cache and no memory of its own. */
struct udk_mempool_ops {
	/* n objects, all or none: 0 or -ENOBUFS. */
	int (*get)(struct udk_mempool *mp, void **objs, unsigned int n);
	/* Take n objects back; never fails. */
	void (*put)(struct udk_mempool *mp, void *const *objs, unsigned int n);
	/* Free objects (a snapshot), for udk_mempool_avail_count(). */
	unsigned int (*avail)(const struct udk_mempool *mp);
};

/* Create such a pool of count objects of elt_size bytes; arg is for the ops
 * (udk_mempool_ops_arg()).  0, -EINVAL (with a message) or -ENOMEM.
 * udk_mempool_free() frees only the udk_mempool. */
int udk_mempool_create_ops(const char *name, const struct udk_mempool_ops *ops, void *arg,
			   uint32_t count, uint32_t elt_size, struct udk_mempool **out);

/* Internal layout, public for the inline fast path: use the calls. */
struct udk_mempool_cache {
	uint32_t len;
	uint32_t size;       /* target fill */
	uint32_t flush;      /* put flushes down to size above this */
	/* At rest len <= flush <= 1.5 x size; a put of up to CACHE_MAX lands on top. */
	alignas(UDK_CACHE_LINE) void *objs[UDK_MEMPOOL_CACHE_MAX * 3 / 2 + UDK_MEMPOOL_CACHE_MAX];
};

struct udk_mempool {
	char name[32];
	struct udk_ring *ring;
	uint8_t *base;
	uint64_t base_iova;
	size_t bytes;
	uint32_t count;
	uint32_t elt_size;
	uint32_t cache_size;
	struct udk_mem *mem;
	struct udk_mempool_cache *cache; /* UDK_MAX_LCORES of them, or NULL */
	const struct udk_mempool_ops *ops; /* NULL for udk's own pools */
	void *ops_arg;
	uint32_t flags;                  /* UDK_MEMPOOL_F_* */
	struct udk_mempool *walk_next;   /* udk_mempool_walk()'s list */
	bool mem_held;                   /* holds a reference on mem, a map's heap */
};

static inline void *udk_mempool_ops_arg(const struct udk_mempool *mp)
{
	return mp->ops_arg;
}

/* Get n objects, all or none: 0, or -ENOBUFS when the pool has fewer free
 * (the fast path does not log; the caller counts). */
static inline int udk_mempool_get_bulk(struct udk_mempool *mp, void **objs, unsigned int n)
{
	unsigned int lc = udk_lcore_id();
	struct udk_mempool_cache *c;

	if (mp->cache == NULL || lc >= UDK_MAX_LCORES || n > UDK_MEMPOOL_CACHE_MAX) {
		if (unlikely(mp->ops != NULL))
			return mp->ops->get(mp, objs, n);
		return udk_ring_dequeue_bulk(mp->ring, objs, n) == n ? 0 : -ENOBUFS;
	}
	c = &mp->cache[lc];
	if (c->len < n) {
		/* Refill to the target plus what is asked, in one ring access. */
		unsigned int want = c->size + n - c->len;
		unsigned int got = udk_ring_dequeue_burst(mp->ring, &c->objs[c->len], want);
		c->len += got;
		if (c->len < n)
			return -ENOBUFS;
	}
	/* Hand out the n most recently freed (cache-warm) objects: the top of
	 * the stack, copied forward (vector moves) rather than popped one by one. */
	c->len -= n;
	udk_ring_copy_(objs, &c->objs[c->len], n);
	return 0;
}

/* Give back n objects of this pool.  Never fails. */
static inline void udk_mempool_put_bulk(struct udk_mempool *mp, void *const *objs, unsigned int n)
{
	unsigned int lc = udk_lcore_id();
	struct udk_mempool_cache *c;

	if (mp->cache == NULL || lc >= UDK_MAX_LCORES || n > UDK_MEMPOOL_CACHE_MAX) {
		if (unlikely(mp->ops != NULL))
			mp->ops->put(mp, objs, n);
		else
			udk_ring_enqueue_burst(mp->ring, objs, n); /* the ring holds every object */
		return;
	}
	c = &mp->cache[lc];
	/* Not memcpy(): with n unknown at compile time that is a libc call. */
	udk_ring_copy_(&c->objs[c->len], objs, n);
	c->len += n;
	if (c->len > c->flush) {
		udk_ring_enqueue_burst(mp->ring, &c->objs[c->size], c->len - c->size);
		c->len = c->size;
	}
}

static inline int udk_mempool_get(struct udk_mempool *mp, void **obj)
{
	return udk_mempool_get_bulk(mp, obj, 1);
}

static inline void udk_mempool_put(struct udk_mempool *mp, void *obj)
{
	udk_mempool_put_bulk(mp, &obj, 1);
}

/* IOVA of (a byte in) an object of mp. */
static inline uint64_t udk_mempool_virt2iova(const struct udk_mempool *mp, const void *p)
{
	return mp->base_iova + (uint64_t)((const uint8_t *)p - mp->base);
}

/* Call fn for every pool of this process (ops pools included) until it
 * returns non-zero, which is returned; under a lock that pool creation and
 * freeing also take: fn must not create or free a pool. */
int udk_mempool_walk(int (*fn)(struct udk_mempool *mp, void *arg), void *arg);

/* Free objects in the ring and in every cache (a snapshot); slow. */
unsigned int udk_mempool_avail_count(const struct udk_mempool *mp);
/* Move this lcore's cached objects back to the ring (before an lcore stops). */
void udk_mempool_cache_flush(struct udk_mempool *mp);
/* Is p the start of an object of mp? */
int udk_mempool_contains(const struct udk_mempool *mp, const void *p);

#ifdef __cplusplus
}
#endif
#endif
