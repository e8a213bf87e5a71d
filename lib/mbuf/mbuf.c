/* mbuf.c - packet buffer pools: a mempool whose objects are laid out once,
 * at creation, as header + buffer with the buffer's IOVA filled in. */
#include <errno.h>

#include "udk_mbuf.h"
#include "udk_util.h"

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
	atomic_init(&m->refcnt, 1);
	udk_pktmbuf_reset(m);
}

int udk_pktmbuf_pool_create(const char *name, uint32_t n, uint32_t cache_size,
			    uint32_t data_room, int socket, struct udk_mempool **out)
{
	struct udk_mempool_opts o;

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
	o.obj_init = mbuf_init;
	o.obj_init_arg = &data_room;
	return udk_mempool_create(&o, out);
}
