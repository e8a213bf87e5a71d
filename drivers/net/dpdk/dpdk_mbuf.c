/* SPDX-License-Identifier: BSD-3-Clause */
/* dpdk_mbuf.c - buffers that are udk mbufs and DPDK mbufs at once.
 *
 * struct udk_mbuf keeps struct rte_mbuf's layout for every field the two
 * share (udk_mbuf.h), so one buffer can be both, with no header to fill or
 * translate, if each side's pool pointer leads somewhere that frees it:
 * - DPDK's receive buffers: a DPDK pool over udk memory at udk's IOVAs
 *   (dport_pool_get), whose buffers carry udk's fields (registered as
 *   DPDK dynamic fields at the offsets udk_mbuf gives them): udk's pool
 *   pointer is a udk pool with ops (the proxy) that frees through DPDK.
 * - udk's own buffers: their ext_pool is one DPDK pool ("udk-mbufs", the
 *   mempool driver below) whose put returns each buffer to its udk pool. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>

#include "dpdk_port.h"
#include "udk_util.h"

#define LOG "net_dpdk"
#define POOL_CACHE 256

/* ---- udk's buffers seen by DPDK ---- */

/* DPDK freed udk buffers (reference count and chain done, as udk does). */
static int udk_ops_enqueue(struct rte_mempool *mp, void *const *objs, unsigned int n)
{
	(void)mp;
	for (unsigned int i = 0; i < n; i++) {
		struct udk_mbuf *m = objs[i];

		udk_mempool_put(m->pool, m);
	}
	return 0;
}

/* DPDK never allocates from it: no receive queue is given this pool. */
static int udk_ops_dequeue(struct rte_mempool *mp, void **objs, unsigned int n)
{
	(void)mp;
	(void)objs;
	(void)n;
	return -ENOBUFS;
}

/* Its objects live in udk's pools: none is ever free in this one, and it
 * has no store of its own to set up or tear down. */
static unsigned int udk_ops_count(const struct rte_mempool *mp)
{
	(void)mp;
	return 0;
}

static int udk_ops_alloc(struct rte_mempool *mp)
{
	(void)mp;
	return 0;
}

static void udk_ops_free(struct rte_mempool *mp)
{
	(void)mp;
}

static const struct rte_mempool_ops udk_mbuf_ops = {
	.name = "udk_mbuf",
	.alloc = udk_ops_alloc,
	.free = udk_ops_free,
	.enqueue = udk_ops_enqueue,
	.dequeue = udk_ops_dequeue,
	.get_count = udk_ops_count,
};

RTE_MEMPOOL_REGISTER_OPS(udk_mbuf_ops);

/* The one DPDK pool of udk's buffers, made by dport_mbuf_init(). */
static struct rte_mempool *udk_bufs;

/* ---- DPDK's buffers seen by udk ---- */

/* udk freed a buffer of a DPDK pool (reference count and chain already
 * done): DPDK's own free detaches what it must and returns it to m->pool. */
static void proxy_put(struct udk_mempool *mp, void *const *objs, unsigned int n)
{
	(void)mp;
	for (unsigned int i = 0; i < n; i++)
		rte_pktmbuf_free_seg(objs[i]);
}

static int proxy_get(struct udk_mempool *mp, void **objs, unsigned int n)
{
	return rte_pktmbuf_alloc_bulk(udk_mempool_ops_arg(mp), (struct rte_mbuf **)objs, n) == 0
		       ? 0
		       : -ENOBUFS;
}

static unsigned int proxy_avail(const struct udk_mempool *mp)
{
	return rte_mempool_avail_count(udk_mempool_ops_arg(mp));
}

static const struct udk_mempool_ops proxy_ops = {proxy_get, proxy_put, proxy_avail};

/* DPDK pools whose buffers are udk mbufs (receive pools, and udk_bufs). */
#define MAX_POOLS 64
static const struct rte_mempool *bridged[MAX_POOLS];
static unsigned int nb_bridged;

bool dport_pool_bridged(const struct rte_mempool *mp)
{
	for (unsigned int i = 0; i < nb_bridged; i++)
		if (bridged[i] == mp)
			return true;
	return false;
}

static void bridged_remove(const struct rte_mempool *mp)
{
	for (unsigned int i = 0; i < nb_bridged; i++)
		if (bridged[i] == mp)
			bridged[i] = bridged[--nb_bridged];
}

/* ---- once per process ---- */

static int init_state; /* 0 not tried, 1 done, <0 failed */

/* udk's fields in DPDK's mbufs, at the offsets struct udk_mbuf gives them,
 * taken from DPDK's dynamic-field area. */
static int register_fields(void)
{
	static const struct {
		const char *name;
		size_t off;
	} f[] = {
		{"udk_udata64", offsetof(struct udk_mbuf, udata64)},
		{"udk_pool", offsetof(struct udk_mbuf, pool)},
	};

	for (unsigned int i = 0; i < UDK_ARRAY_SIZE(f); i++) {
		struct rte_mbuf_dynfield d = {.size = 8, .align = 8};
		int off;

		snprintf(d.name, sizeof(d.name), "%s", f[i].name);
		off = rte_mbuf_dynfield_register_offset(&d, f[i].off);
		if (off != (int)f[i].off) {
			udk_log(UDK_LOG_WARN, LOG, "DPDK's mbuf field area has no room for udk's %s "
				"at byte %zu (%s): dpdk ports copy every packet", f[i].name,
				f[i].off, rte_strerror(rte_errno));
			return -EBUSY;
		}
	}
	return 0;
}

int dport_mbuf_init(void)
{
	struct rte_pktmbuf_pool_private priv = {.mbuf_data_room_size = UDK_MBUF_DEFAULT_BUF_SIZE};
	int rc;

	if (init_state != 0)
		return init_state < 0 ? init_state : 0;
	rc = register_fields();
	if (rc < 0)
		goto out;
	/* Never populated: its size only has to be valid. */
	udk_bufs = rte_mempool_create_empty("udk-mbufs", 1, sizeof(struct udk_mbuf) +
					    UDK_MBUF_DEFAULT_BUF_SIZE, 0, sizeof(priv),
					    SOCKET_ID_ANY, 0);
	if (udk_bufs == NULL || rte_mempool_set_ops_byname(udk_bufs, "udk_mbuf", NULL) != 0) {
		udk_log(UDK_LOG_WARN, LOG, "the DPDK pool for udk's buffers: %s: dpdk ports copy "
			"every packet", rte_strerror(rte_errno));
		rte_mempool_free(udk_bufs);
		udk_bufs = NULL;
		rc = -ENOMEM;
		goto out;
	}
	rte_pktmbuf_pool_init(udk_bufs, &priv);
	bridged[nb_bridged++] = udk_bufs;
	udk_pktmbuf_set_ext_pool(udk_bufs);
out:
	init_state = rc < 0 ? rc : 1;
	return rc;
}

/* ---- receive pools ---- */

/* Each buffer of a receive pool is a udk mbuf whose udk pool is the proxy. */
static void udk_fields_init(struct rte_mempool *mp, void *opaque, void *obj, unsigned int idx)
{
	struct udk_mbuf *m = obj;

	(void)mp;
	(void)idx;
	m->pool = opaque;
	m->udata64 = 0;
}

/* A DPDK mbuf pool whose objects lie in one udk allocation, at udk's IOVAs. */
static int pool_over_udk(const char *name, unsigned int n, int socket, void **mem,
			 struct rte_mempool **out)
{
	struct rte_pktmbuf_pool_private priv = {.mbuf_data_room_size = RTE_MBUF_DEFAULT_BUF_SIZE};
	uint32_t elt = (uint32_t)(sizeof(struct rte_mbuf) + RTE_MBUF_DEFAULT_BUF_SIZE);
	struct rte_mempool_objsz sz;
	struct rte_mempool *mp;
	size_t len;
	int rc;

	/* udk's allocation is contiguous in IOVA space as a whole, so an object
	 * may cross a page: packed, not one per page (which would also put
	 * every header in the same cache sets). */
	mp = rte_mempool_create_empty(name, n, elt, POOL_CACHE, sizeof(priv), socket,
				      RTE_MEMPOOL_F_NO_IOVA_CONTIG);
	if (mp == NULL) {
		udk_log(UDK_LOG_ERR, LOG, "%s: rte_mempool_create_empty: %s", name,
			rte_strerror(rte_errno));
		return -ENOMEM;
	}
	rc = rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL);
	if (rc < 0)
		goto err_pool;
	rte_pktmbuf_pool_init(mp, &priv);
	/* n objects as DPDK lays them out, plus room to align the first. */
	rte_mempool_calc_obj_size(elt, mp->flags, &sz);
	len = (size_t)sz.total_size * n + 4096;
	*mem = udk_mem_default_zmalloc(len, 4096, socket < 0 ? UDK_SOCKET_ANY : socket);
	if (*mem == NULL) {
		udk_log(UDK_LOG_ERR, LOG, "%s: %zu bytes of udk memory for %u receive buffers: %s",
			name, len, n, udk_strerror(errno));
		rc = -ENOMEM;
		goto err_pool;
	}
	rc = rte_mempool_populate_iova(mp, *mem, udk_virt2iova(*mem), len, NULL, NULL);
	if (rc < 0 || (unsigned int)rc != n) {
		udk_log(UDK_LOG_ERR, LOG, "%s: rte_mempool_populate_iova placed %d of %u buffers",
			name, rc, n);
		rc = -ENOMEM;
		goto err_mem;
	}
	rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
	*out = mp;
	return 0;

err_mem:
	udk_mem_default_free(*mem);
	*mem = NULL;
err_pool:
	rte_mempool_free(mp);
	return rc < 0 ? rc : -ENOMEM;
}


static int pool_create(const char *name, unsigned int n, int socket, struct dport_pool *out)
{
	int rc;

	rc = pool_over_udk(name, n, socket, &out->mem, &out->mp);
	if (rc < 0)
		return rc;
	rc = udk_mempool_create_ops(name, &proxy_ops, out->mp, n,
				    (uint32_t)(sizeof(struct rte_mbuf) + RTE_MBUF_DEFAULT_BUF_SIZE),
				    &out->proxy);
	if (rc < 0) {
		rte_mempool_free(out->mp);
		udk_mem_default_free(out->mem);
		return rc;
	}
	rte_mempool_obj_iter(out->mp, udk_fields_init, out->proxy);
	return 0;
}

/* Receive queues on one NUMA node share a pool while it has room for what
 * each needs: one pool keeps the working set of hot buffers as small as a
 * DPDK application's (a pool per queue cost 10% of the forwarding rate). */
static struct dport_pool *shared[MAX_POOLS];

struct dport_pool *dport_pool_get(int socket, unsigned int need)
{
	struct dport_pool *pool = NULL;
	unsigned int i, free_slot = MAX_POOLS;
	char name[RTE_MEMPOOL_NAMESIZE];
	int rc;

	for (i = 0; i < MAX_POOLS; i++) {
		struct dport_pool *s = shared[i];

		if (s == NULL) {
			if (free_slot == MAX_POOLS)
				free_slot = i;
		} else if (s->socket == socket && s->committed + need <= s->capacity) {
			pool = s;
			break;
		}
	}
	if (pool == NULL) {
		if (free_slot == MAX_POOLS || nb_bridged == MAX_POOLS) {
			udk_log(UDK_LOG_ERR, LOG, "udk has %u DPDK receive pools already, the most it "
				"keeps; close ports or use fewer queues", MAX_POOLS - 1);
			rte_errno = ENOSPC;
			return NULL;
		}
		pool = calloc(1, sizeof(*pool));
		if (pool == NULL) {
			rte_errno = ENOMEM;
			return NULL;
		}
		pool->socket = socket;
		pool->capacity = DPORT_POOL_HELD + DPORT_POOL_SHARE * need;
		snprintf(name, sizeof(name), "udk-rx-%u", free_slot);
		rc = pool_create(name, pool->capacity, socket, pool);
		if (rc < 0) {
			free(pool);
			rte_errno = -rc;
			return NULL;
		}
		bridged[nb_bridged++] = pool->mp;
		shared[free_slot] = pool;
		udk_log(UDK_LOG_INFO, LOG, "receive pool %s: %u buffers of udk memory at udk's IOVAs",
			name, pool->capacity);
	}
	pool->committed += need;
	pool->users++;
	return pool;
}

void dport_pool_put(struct dport_pool *pool, unsigned int need)
{
	unsigned int avail;

	pool->committed -= need;
	if (--pool->users > 0)
		return;
	for (unsigned int i = 0; i < MAX_POOLS; i++)
		if (shared[i] == pool)
			shared[i] = NULL;
	bridged_remove(pool->mp);
	avail = rte_mempool_avail_count(pool->mp);
	if (avail < pool->mp->size)
		udk_log(UDK_LOG_WARN, LOG, "%s: the last dpdk port using it closed with %u of its "
			"buffers still out (free them before closing)", pool->mp->name,
			pool->mp->size - avail);
	rte_mempool_free(pool->mp);
	udk_mempool_free(pool->proxy);
	udk_mem_default_free(pool->mem);
	free(pool);
}
