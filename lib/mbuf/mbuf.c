/* SPDX-License-Identifier: BSD-3-Clause */
/* mbuf.c - packet buffer pools: a mempool whose objects are laid out once,
 * at creation, as header + buffer with the buffer's IOVA filled in. */
#include <errno.h>

#include "udk_mbuf.h"
#include "udk_util.h"

static void *_Atomic ext_pool;

static int set_pool_fields(struct udk_mempool *mp, void *arg)
{
	if (mp->flags & UDK_MEMPOOL_F_PKTMBUF)
		for (uint32_t i = 0; i < mp->count; i++)
			((struct udk_mbuf *)(mp->base + (size_t)i * mp->elt_size))->ext_pool = arg;
	return 0;
}

void udk_pktmbuf_set_ext_pool(void *pool)
{
	/* A pool created meanwhile reads the new value in mbuf_init, or is
	 * walked: the walk takes the lock creation takes. */
	atomic_store(&ext_pool, pool);
	udk_mempool_walk(set_pool_fields, pool);
}

static void mbuf_init(struct udk_mempool *mp, void *obj, uint32_t idx, void *arg)
{
	struct udk_mbuf *m = obj;
	uint32_t room = *(uint32_t *)arg;

	(void)idx;
	memset(m, 0, sizeof(*m));
	m->buf_addr = (char *)obj + sizeof(*m);
	m->buf_iova = udk_mempool_virt2iova(mp, m->buf_addr);
	m->buf_len = (uint16_t)room;
	m->pool = mp;
	m->ext_pool = atomic_load_explicit(&ext_pool, memory_order_relaxed);
	atomic_init(&m->refcnt, 1);
	udk_pktmbuf_reset(m);
}

int udk_pktmbuf_pool_create(const char *name, uint32_t n, uint32_t cache_size,
			    uint32_t data_room, int socket, struct udk_mempool **out)
{
	return udk_pktmbuf_pool_create_mem(NULL, name, n, cache_size, data_room, socket, out);
}

int udk_pktmbuf_pool_create_mem(struct udk_mem *mem, const char *name, uint32_t n,
				uint32_t cache_size, uint32_t data_room, int socket,
				struct udk_mempool **out)
{
	struct udk_mempool_opts o;
	void *pool;
	int rc;

	if (data_room == 0)
		data_room = UDK_MBUF_DEFAULT_BUF_SIZE;
	if (data_room > UINT16_MAX) {
		udk_log(UDK_LOG_ERR, "mbuf", "pool %s: data room %u is over the %u bytes a "
			"segment can hold; chain segments instead", name ? name : "(unnamed)",
			data_room, UINT16_MAX);
		return -EINVAL;
	}
	udk_mempool_opts_init(&o, sizeof(o));
	o.name = name;
	o.count = n;
	o.elt_size = (uint32_t)sizeof(struct udk_mbuf) + data_room;
	o.cache_size = cache_size;
	o.socket = socket;
	o.mem = mem;
	o.obj_init = mbuf_init;
	o.obj_init_arg = &data_room;
	o.flags = UDK_MEMPOOL_F_PKTMBUF;
	rc = udk_mempool_create(&o, out);
	/* A udk_pktmbuf_set_ext_pool() between mbuf_init and the pool's joining
	 * the walk list missed it. */
	if (rc == 0 && (pool = atomic_load(&ext_pool)) != NULL)
		set_pool_fields(*out, pool);
	return rc;
}
