/* SPDX-License-Identifier: BSD-3-Clause */
/* mempool.c - creating, inspecting and freeing pools; get and put are inline
 * in udk_mempool.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "udk_mempool.h"
#include "udk_util.h"

#define ELT_ALIGN 64u

/* Every pool of the process, for udk_mempool_walk(). */
static pthread_mutex_t pools_lock = PTHREAD_MUTEX_INITIALIZER;
static struct udk_mempool *pools;

static void pools_add(struct udk_mempool *mp)
{
	pthread_mutex_lock(&pools_lock);
	mp->walk_next = pools;
	pools = mp;
	pthread_mutex_unlock(&pools_lock);
}

static void pools_remove(struct udk_mempool *mp)
{
	pthread_mutex_lock(&pools_lock);
	for (struct udk_mempool **pp = &pools; *pp != NULL; pp = &(*pp)->walk_next)
		if (*pp == mp) {
			*pp = mp->walk_next;
			break;
		}
	pthread_mutex_unlock(&pools_lock);
}

int udk_mempool_walk(int (*fn)(struct udk_mempool *mp, void *arg), void *arg)
{
	int rc = 0;

	pthread_mutex_lock(&pools_lock);
	for (struct udk_mempool *mp = pools; mp != NULL && rc == 0; mp = mp->walk_next)
		rc = fn(mp, arg);
	pthread_mutex_unlock(&pools_lock);
	return rc;
}

void udk_mempool_opts_init(struct udk_mempool_opts *opts, size_t size)
{
	struct udk_mempool_opts d = {.opts_size = size, .socket = UDK_SOCKET_ANY};

	memset(opts, 0, size);
	memcpy(opts, &d, size < sizeof(d) ? size : sizeof(d));
}

static int bad_opts(const struct udk_mempool_opts *o)
{
	const char *name = o->name ? o->name : "(unnamed)";

	if (o->count == 0 || o->count > UDK_RING_MAX_COUNT) {
		udk_log(UDK_LOG_ERR, "mempool", "create %s: count %u is out of range (1..%u)", name,
			o->count, UDK_RING_MAX_COUNT);
		return -EINVAL;
	}
	if (o->elt_size == 0 || o->elt_size > (1u << 30)) {
		udk_log(UDK_LOG_ERR, "mempool", "create %s: element size %u is out of range", name,
			o->elt_size);
		return -EINVAL;
	}
	if (o->cache_size > UDK_MEMPOOL_CACHE_MAX || o->cache_size > o->count) {
		udk_log(UDK_LOG_ERR, "mempool",
			"create %s: cache size %u exceeds %u or the pool's %u objects", name,
			o->cache_size, UDK_MEMPOOL_CACHE_MAX, o->count);
		return -EINVAL;
	}
	return 0;
}

int udk_mempool_create(const struct udk_mempool_opts *opts, struct udk_mempool **out)
{
	struct udk_mempool_opts o;
	const struct udk_memseg *seg;
	struct udk_mempool *mp;
	uint32_t elt;
	int rc;

	udk_mempool_opts_init(&o, sizeof(o));
	memcpy(&o, opts, opts->opts_size < sizeof(o) ? opts->opts_size : sizeof(o));
	rc = bad_opts(&o);
	if (rc < 0)
		return rc;
	mp = calloc(1, sizeof(*mp));
	if (mp == NULL)
		return -ENOMEM;
	snprintf(mp->name, sizeof(mp->name), "%s", o.name ? o.name : "mempool");
	elt = (uint32_t)UDK_ALIGN_UP(o.elt_size, ELT_ALIGN);
	mp->elt_size = elt;
	mp->count = o.count;
	mp->cache_size = o.cache_size;
	mp->flags = o.flags;
	mp->mem = o.mem ? o.mem : udk_mem_default();
	if (mp->mem == NULL) {
		udk_log(UDK_LOG_ERR, "mempool", "create %s: no memory to take it from: call "
			"udk_eal_init() first or pass opts.mem", mp->name);
		rc = -EINVAL;
		goto err_free;
	}
	mp->bytes = (size_t)elt * o.count;
	mp->base = udk_mem_zmalloc(mp->mem, mp->bytes, 4096, o.socket);
	if (mp->base == NULL) {
		udk_log(UDK_LOG_ERR, "mempool", "create %s: cannot allocate %zu bytes for %u "
			"objects of %u bytes (%s)", mp->name, mp->bytes, o.count, elt,
			udk_strerror(errno));
		rc = -ENOMEM;
		goto err_free;
	}
	/* One zmalloc never spans segments: the pool is contiguous in IOVA. */
	seg = udk_mem_find(mp->mem, mp->base);
	if (seg == NULL || seg->iova == UDK_IOVA_BAD) {
		udk_log(UDK_LOG_ERR, "mempool", "create %s: its memory has no IOVA (the heap is "
			"not mapped into a map)", mp->name);
		rc = -UDK_ENOTMAPPED;
		goto err_mem;
	}
	mp->base_iova = seg->iova + (uint64_t)(mp->base - (uint8_t *)seg->va);
	rc = udk_ring_create(mp->name, o.count, 0, &mp->ring);
	if (rc < 0)
		goto err_mem;
	if (o.cache_size > 0) {
		mp->cache = calloc(UDK_MAX_LCORES, sizeof(*mp->cache));
		if (mp->cache == NULL) {
			rc = -ENOMEM;
			goto err_ring;
		}
		for (unsigned int i = 0; i < UDK_MAX_LCORES; i++) {
			mp->cache[i].size = o.cache_size;
			mp->cache[i].flush = o.cache_size * 3 / 2;
		}
	}
	for (uint32_t i = 0; i < o.count; i++) {
		void *obj = mp->base + (size_t)i * elt;
		if (o.obj_init != NULL)
			o.obj_init(mp, obj, i, o.obj_init_arg);
		udk_ring_enqueue_bulk(mp->ring, &obj, 1);
	}
	/* A pool on a map's heap keeps that heap (and so its map) alive: the
	 * port or controller it was made for may let go of it first. */
	mp->mem_held = udk_eal_mem_hold(mp->mem);
	pools_add(mp);
	*out = mp;
	return 0;

err_ring:
	udk_ring_free(mp->ring);
err_mem:
	udk_mem_free(mp->mem, mp->base);
err_free:
	free(mp);
	return rc;
}

int udk_mempool_create_ops(const char *name, const struct udk_mempool_ops *ops, void *arg,
			   uint32_t count, uint32_t elt_size, struct udk_mempool **out)
{
	struct udk_mempool *mp;

	if (ops == NULL || ops->get == NULL || ops->put == NULL || ops->avail == NULL) {
		udk_log(UDK_LOG_ERR, "mempool", "create %s: the ops need get, put and avail",
			name ? name : "(unnamed)");
		return -EINVAL;
	}
	mp = calloc(1, sizeof(*mp));
	if (mp == NULL)
		return -ENOMEM;
	snprintf(mp->name, sizeof(mp->name), "%s", name ? name : "mempool");
	mp->count = count;
	mp->elt_size = elt_size;
	mp->ops = ops;
	mp->ops_arg = arg;
	pools_add(mp);
	*out = mp;
	return 0;
}

unsigned int udk_mempool_avail_count(const struct udk_mempool *mp)
{
	unsigned int n;

	if (mp->ops != NULL)
		return mp->ops->avail(mp);
	n = udk_ring_count(mp->ring);

	if (mp->cache != NULL)
		for (unsigned int i = 0; i < UDK_MAX_LCORES; i++)
			n += mp->cache[i].len;
	return n > mp->count ? mp->count : n;
}

void udk_mempool_cache_flush(struct udk_mempool *mp)
{
	unsigned int lc = udk_lcore_id();
	struct udk_mempool_cache *c;

	if (mp->cache == NULL || lc >= UDK_MAX_LCORES)
		return;
	c = &mp->cache[lc];
	udk_ring_enqueue_burst(mp->ring, c->objs, c->len);
	c->len = 0;
}

int udk_mempool_contains(const struct udk_mempool *mp, const void *p)
{
	const uint8_t *b = p;

	return b >= mp->base && b < mp->base + mp->bytes &&
	       (size_t)(b - mp->base) % mp->elt_size == 0;
}

void udk_mempool_free(struct udk_mempool *mp)
{
	unsigned int avail;

	if (mp == NULL)
		return;
	pools_remove(mp);
	if (mp->ops != NULL) {
		free(mp);
		return;
	}
	avail = udk_mempool_avail_count(mp);
	if (avail < mp->count)
		udk_log(UDK_LOG_WARN, "mempool", "free %s: %u of %u objects are still out",
			mp->name, mp->count - avail, mp->count);
	free(mp->cache);
	udk_ring_free(mp->ring);
	udk_mem_free(mp->mem, mp->base);
	if (mp->mem_held)
		udk_eal_map_mem_put(mp->mem);
	free(mp);
}
