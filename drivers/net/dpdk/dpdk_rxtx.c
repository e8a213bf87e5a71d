/* dpdk_rxtx.c - the queues of a dpdk port: DPDK pools over udk memory, and
 * the receive and transmit paths that move udk mbufs through a DPDK PMD
 * without copying them where DPDK allows (dpdk_port.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf_pool_ops.h>

#include "dpdk_port.h"
#include "udk_util.h"

#define LOG "net_dpdk"
#define RX_HELD 4096          /* receive buffers the application may hold */
#define POOL_CACHE 256
#define MAX_BURST 512

/* DPDK's per-lcore mempool caches work only on threads DPDK knows: a udk
 * lcore registers itself the first time it touches a dpdk queue. */
static __thread bool thread_known __attribute__((tls_model("initial-exec")));

static inline void know_thread(void)
{
	if (unlikely(!thread_known)) {
		thread_known = true;
		if (rte_lcore_id() == LCORE_ID_ANY)
			rte_thread_register(); /* failure: it runs without caches */
	}
}

/* udk's fields in DPDK's mbufs: the pool a udk free goes to (the queue's
 * proxy, below) and udata64, at the offsets struct udk_mbuf gives them, taken
 * from DPDK's dynamic-field area once per process. */
static int fields_state; /* 0 not tried, 1 registered, <0 failed */

int dport_mbuf_fields(void)
{
	static const struct {
		const char *name;
		size_t off;
	} f[] = {
		{"udk_udata64", offsetof(struct udk_mbuf, udata64)},
		{"udk_pool", offsetof(struct udk_mbuf, pool)},
	};

	if (fields_state != 0)
		return fields_state < 0 ? fields_state : 0;
	for (unsigned int i = 0; i < UDK_ARRAY_SIZE(f); i++) {
		struct rte_mbuf_dynfield d = {.size = 8, .align = 8};
		int off;

		snprintf(d.name, sizeof(d.name), "%s", f[i].name);
		off = rte_mbuf_dynfield_register_offset(&d, f[i].off);
		if (off != (int)f[i].off) {
			udk_log(UDK_LOG_WARN, LOG, "DPDK's mbuf field area has no room for udk's %s at "
				"byte %zu (%s): dpdk ports copy every packet", f[i].name, f[i].off,
				rte_strerror(rte_errno));
			fields_state = -EBUSY;
			return fields_state;
		}
	}
	fields_state = 1;
	return 0;
}

/* Pools of DPDK buffers that are udk mbufs too (their udk fields set). */
#define MAX_POOLS 64
static const struct rte_mempool *bridge_pool[MAX_POOLS];
static unsigned int nb_bridge_pools;

static bool is_bridge_pool(const struct rte_mempool *mp)
{
	for (unsigned int i = 0; i < nb_bridge_pools; i++)
		if (bridge_pool[i] == mp)
			return true;
	return false;
}

/* ---- the proxy: udk's view of a DPDK pool ---- */

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

/* ---- receive ---- */

/* Each DPDK buffer of a queue's pool is a udk mbuf whose udk pool is the
 * queue's proxy. */
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
	size_t len, pg = 4096, per_page;
	int rc;

	mp = rte_mempool_create_empty(name, n, elt, POOL_CACHE, sizeof(priv), socket, 0);
	if (mp == NULL) {
		udk_log(UDK_LOG_ERR, LOG, "%s: rte_mempool_create_empty: %s", name,
			rte_strerror(rte_errno));
		return -ENOMEM;
	}
	rc = rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL);
	if (rc < 0)
		goto err_pool;
	rte_pktmbuf_pool_init(mp, &priv);
	/* What DPDK needs to place n objects, none across a page of the size
	 * it assumes (its own page size: udk's memory is contiguous anyway). */
	rte_mempool_get_page_size(mp, &pg);
	rte_mempool_calc_obj_size(elt, 0, &sz);
	per_page = pg == 0 || pg < sz.total_size ? 0 : pg / sz.total_size;
	len = per_page == 0 ? (size_t)sz.total_size * n : (n + per_page - 1) / per_page * pg;
	len += pg ? pg : 4096;
	*mem = udk_dma_zmalloc(len, 4096, socket < 0 ? UDK_SOCKET_ANY : socket);
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
	udk_dma_free(*mem);
	*mem = NULL;
err_pool:
	rte_mempool_free(mp);
	return rc < 0 ? rc : -ENOMEM;
}

int drxq_create(struct dport *p, uint16_t q, uint16_t nb_desc, struct udk_mempool *mp,
		struct drxq **out)
{
	struct drxq *rxq;
	char name[RTE_MEMPOOL_NAMESIZE];
	unsigned int n;
	int rc;

	rxq = calloc(1, sizeof(*rxq));
	if (rxq == NULL)
		return -ENOMEM;
	rxq->p = p;
	rxq->pid = p->pid;
	rxq->q = q;
	rxq->copy = p->copy;
	rxq->mp = mp;
	rxq->port = p->dev->port;
	/* Nothing to do per packet: every buffer is one of the queue's pool, and
	 * DPDK already wrote udk's port number. */
	rxq->as_is = !p->copy && !p->rx_check && rxq->port == p->pid;
	snprintf(name, sizeof(name), "udk-rx%u-%u", p->pid, q);
	if (rxq->copy) {
		n = (unsigned int)nb_desc + 2 * MAX_BURST + 2 * POOL_CACHE;
		rxq->rxp = rte_pktmbuf_pool_create(name, n, POOL_CACHE, 0,
						   RTE_MBUF_DEFAULT_BUF_SIZE, p->socket);
		if (rxq->rxp == NULL) {
			udk_log(UDK_LOG_ERR, LOG, "%s: DPDK pool of %u buffers: %s", p->dev->name, n,
				rte_strerror(rte_errno));
			rc = -ENOMEM;
			goto err_free;
		}
	} else {
		if (nb_bridge_pools == MAX_POOLS) {
			udk_log(UDK_LOG_ERR, LOG, "%s: queue %u: udk has %u DPDK receive pools already, "
				"the most it keeps; close ports or use fewer queues", p->dev->name, q,
				MAX_POOLS);
			rc = -ENOSPC;
			goto err_free;
		}
		/* The buffers the application may hold, plus the ring's and caches'. */
		n = RX_HELD + (unsigned int)nb_desc + 2 * MAX_BURST + 2 * POOL_CACHE;
		rc = pool_over_udk(name, n, p->socket, &rxq->rxmem, &rxq->rxp);
		if (rc < 0)
			goto err_free;
		rc = udk_mempool_create_ops(name, &proxy_ops, rxq->rxp, n,
					    (uint32_t)(sizeof(struct rte_mbuf) +
						       RTE_MBUF_DEFAULT_BUF_SIZE),
					    &rxq->proxy);
		if (rc < 0)
			goto err_pool;
		rte_mempool_obj_iter(rxq->rxp, udk_fields_init, rxq->proxy);
	}
	rc = rte_eth_rx_queue_setup(p->pid, q, nb_desc, (unsigned int)p->socket, NULL, rxq->rxp);
	if (rc < 0) {
		udk_log(UDK_LOG_ERR, LOG, "%s: rte_eth_rx_queue_setup(queue %u, %u descriptors) "
			"failed: %s", p->dev->name, q, nb_desc, rte_strerror(-rc));
		goto err_proxy;
	}
	if (!rxq->copy)
		bridge_pool[nb_bridge_pools++] = rxq->rxp;
	*out = rxq;
	return 0;

err_proxy:
	udk_mempool_free(rxq->proxy);
err_pool:
	rte_mempool_free(rxq->rxp);
	if (rxq->rxmem != NULL)
		udk_dma_free(rxq->rxmem);
err_free:
	free(rxq);
	return rc;
}

/* After DPDK released the queue (port closed).  Buffers the application
 * still holds must be freed before: the pool goes now. */
void drxq_free(struct drxq *rxq)
{
	for (unsigned int i = 0; i < nb_bridge_pools; i++)
		if (bridge_pool[i] == rxq->rxp)
			bridge_pool[i] = bridge_pool[--nb_bridge_pools];
	if (rxq->rxp != NULL && !rxq->copy &&
	    rte_mempool_avail_count(rxq->rxp) < rxq->rxp->size)
		udk_log(UDK_LOG_WARN, LOG, "%s: queue %u closed with %u of its buffers still out",
			rxq->p->dev->name, rxq->q,
			rxq->rxp->size - rte_mempool_avail_count(rxq->rxp));
	rte_mempool_free(rxq->rxp);
	udk_mempool_free(rxq->proxy);
	if (rxq->rxmem != NULL)
		udk_dma_free(rxq->rxmem);
	free(rxq);
}

/* Copy a DPDK packet into udk buffers of mp (chained if it must be). */
static struct udk_mbuf *copy_in(struct udk_mempool *mp, const struct rte_mbuf *rm)
{
	struct udk_mbuf *head = NULL, *last = NULL;
	uint32_t off = 0, len = rte_pktmbuf_pkt_len(rm);

	do {
		struct udk_mbuf *s = udk_pktmbuf_alloc(mp);
		const void *src;
		uint16_t room, k;
		char *dst;

		if (s == NULL)
			goto fail;
		room = udk_pktmbuf_tailroom(s);
		k = (uint16_t)(len - off < room ? len - off : room);
		dst = udk_pktmbuf_append(s, k);
		/* A pointer into the mbuf when the bytes lie in one segment, else
		 * a copy in dst. */
		src = rte_pktmbuf_read(rm, off, k, dst);
		if (src == NULL) {
			udk_pktmbuf_free(s);
			goto fail;
		}
		if (src != dst)
			memcpy(dst, src, k);
		off += k;
		if (head == NULL) {
			head = s;
		} else {
			last->next = s;
			head->nb_segs++;
			head->pkt_len += k;
		}
		last = s;
	} while (off < len);
	return head;

fail:
	udk_pktmbuf_free(head);
	return NULL;
}

static void udk_seg_done(void *addr, void *opaque);

/* A udk segment that went out through a dpdk port and came back as it went
 * (loopback PMDs such as net_ring hand the sent mbuf to the receiver): the
 * udk mbuf itself is received, its DPDK header let go. */
static struct udk_mbuf *reclaim(struct drxq *rxq, struct rte_mbuf *r)
{
	struct udk_mbuf *m = r->shinfo->fcb_opaque;

	udk_mbuf_refcnt_update(m, 1); /* the free callback drops this one */
	m->data_off = r->data_off;
	m->data_len = r->data_len;
	m->pkt_len = r->pkt_len;
	m->next = NULL;
	m->nb_segs = 1;
	m->port = rxq->port;
	rte_pktmbuf_free_seg(r);
	return m;
}

/* Copy mode, a chain (a header lends one buffer only), a buffer of some
 * other pool, or a udk segment back from a loopback PMD: the slow path. */
static struct udk_mbuf *rx_other(struct drxq *rxq, struct rte_mbuf *r)
{
	struct udk_mbuf *m;

	if (!rxq->copy && r->nb_segs == 1 && RTE_MBUF_HAS_EXTBUF(r) &&
	    r->shinfo->free_cb == udk_seg_done && rte_mbuf_refcnt_read(r) == 1 &&
	    rte_mbuf_ext_refcnt_read(r->shinfo) == 1) {
		rxq->zero_copy++;
		return reclaim(rxq, r);
	}
	m = copy_in(rxq->mp, r);
	rte_pktmbuf_free(r);
	if (m == NULL) {
		rxq->nombuf++;
		return NULL;
	}
	m->port = rxq->port;
	rxq->copies++;
	return m;
}

/* Is r (every segment) a direct buffer of a pool whose buffers are udk
 * mbufs too?  *last caches the pool last found. */
static inline bool bridged(const struct rte_mbuf *r, const struct rte_mempool **last)
{
	for (; r != NULL; r = r->next) {
		if (!RTE_MBUF_DIRECT(r))
			return false;
		if (r->pool != *last) {
			if (!is_bridge_pool(r->pool))
				return false;
			*last = r->pool;
		}
	}
	return true;
}

/* Receive that must look at each packet: copy mode, a PMD that may hand
 * over buffers of other pools (net_ring passes on what was enqueued), or a
 * udk port number that differs from DPDK's. */
static uint16_t rx_checked(struct drxq *rxq, struct udk_mbuf **pkts, uint16_t nb)
{
	const struct rte_mempool *last = rxq->rxp;
	uint16_t out = 0, same = 0;

	for (uint16_t i = 0; i < nb; i++) {
		struct rte_mbuf *r = (struct rte_mbuf *)pkts[i];
		struct udk_mbuf *m;

		if (!rxq->copy && (!rxq->p->rx_check || bridged(r, &last))) {
			m = pkts[i];
			same++;
		} else if ((m = rx_other(rxq, r)) == NULL) {
			continue;
		}
		m->port = rxq->port;
		pkts[out++] = m;
	}
	rxq->zero_copy += same;
	return out;
}

/* The buffers DPDK fills are udk mbufs already (udk_mbuf.h keeps rte_mbuf's
 * layout; the queue's pool lies in udk memory at udk's IOVAs, with udk's
 * fields set): with a PMD that takes every buffer from that pool and the
 * same port number, a receive is DPDK's receive and nothing more. */
uint16_t dport_rx_burst(void *queue, struct udk_mbuf **pkts, uint16_t n)
{
	struct drxq *rxq = queue;
	uint16_t nb;

	know_thread();
	nb = rte_eth_rx_burst(rxq->pid, rxq->q, (struct rte_mbuf **)pkts, n);
	if (likely(rxq->as_is)) {
		rxq->zero_copy += nb;
		return nb;
	}
	return nb == 0 ? 0 : rx_checked(rxq, pkts, nb);
}

/* ---- transmit ---- */

/* Zero copy: the header's private area holds the shared info of the udk
 * buffer it carries. */
#define HDR_PRIV RTE_ALIGN(sizeof(struct rte_mbuf_ext_shared_info), RTE_MBUF_PRIV_ALIGN)

int dtxq_create(struct dport *p, uint16_t q, uint16_t nb_desc, struct dtxq **out)
{
	struct dtxq *txq = calloc(1, sizeof(*txq));
	char name[RTE_MEMPOOL_NAMESIZE];
	unsigned int n = (unsigned int)nb_desc + 2 * MAX_BURST + 2 * POOL_CACHE + 1024;
	int rc;

	if (txq == NULL)
		return -ENOMEM;
	txq->p = p;
	txq->pid = p->pid;
	txq->q = q;
	txq->copy = p->copy;
	snprintf(name, sizeof(name), "udk-tx%u-%u", p->pid, q);
	txq->pool = rte_pktmbuf_pool_create(name, n, POOL_CACHE, txq->copy ? 0 : HDR_PRIV,
					    txq->copy ? RTE_MBUF_DEFAULT_BUF_SIZE : 0, p->socket);
	if (txq->pool == NULL) {
		udk_log(UDK_LOG_ERR, LOG, "%s: DPDK pool of %u transmit %s: %s", p->dev->name, n,
			txq->copy ? "buffers" : "headers", rte_strerror(rte_errno));
		free(txq);
		return -ENOMEM;
	}
	rc = rte_eth_tx_queue_setup(p->pid, q, nb_desc, (unsigned int)p->socket, NULL);
	if (rc < 0) {
		udk_log(UDK_LOG_ERR, LOG, "%s: rte_eth_tx_queue_setup(queue %u, %u descriptors) "
			"failed: %s", p->dev->name, q, nb_desc, rte_strerror(-rc));
		rte_mempool_free(txq->pool);
		free(txq);
		return rc;
	}
	*out = txq;
	return 0;
}

void dtxq_free(struct dtxq *txq)
{
	rte_mempool_free(txq->pool);
	free(txq);
}

/* DPDK is done with a udk segment it was lent. */
static void udk_seg_done(void *addr, void *opaque)
{
	(void)addr;
	udk_pktmbuf_free_seg(opaque);
}

static void lend(struct rte_mbuf *r, struct udk_mbuf *s)
{
	struct rte_mbuf_ext_shared_info *sh = rte_mbuf_to_priv(r);

	sh->free_cb = udk_seg_done;
	sh->fcb_opaque = s;
	rte_mbuf_ext_refcnt_set(sh, 1);
	rte_pktmbuf_attach_extbuf(r, s->buf_addr, s->buf_iova, s->buf_len, sh);
	r->data_off = s->data_off;
	r->data_len = s->data_len;
}

/* A header chain lending every segment of m; NULL when headers ran out. */
static struct rte_mbuf *wrap(struct rte_mempool *pool, struct udk_mbuf *m)
{
	struct rte_mbuf *head = NULL, *last = NULL;

	for (struct udk_mbuf *s = m; s != NULL; s = s->next) {
		struct rte_mbuf *r = rte_pktmbuf_alloc(pool);

		if (r == NULL)
			goto fail;
		/* The header's extbuf will free s when DPDK is done with it; the
		 * udk chain is unlinked then, segment by segment. */
		lend(r, s);
		if (head == NULL) {
			head = r;
		} else {
			last->next = r;
			head->nb_segs++;
		}
		last = r;
	}
	head->pkt_len = m->pkt_len;
	return head;

fail:
	/* Keep m whole for the caller: each lent segment gets a reference for
	 * the free callback to drop. */
	for (struct rte_mbuf *r = head; r != NULL; r = r->next)
		udk_mbuf_refcnt_update(((struct rte_mbuf_ext_shared_info *)rte_mbuf_to_priv(r))
					       ->fcb_opaque, 1);
	rte_pktmbuf_free(head);
	return NULL;
}

static struct rte_mbuf *copy_out(struct rte_mempool *pool, struct udk_mbuf *m)
{
	struct rte_mbuf *r = rte_pktmbuf_alloc(pool);
	char *d;

	if (r == NULL)
		return NULL;
	if (m->pkt_len > rte_pktmbuf_tailroom(r) ||
	    (d = rte_pktmbuf_append(r, (uint16_t)m->pkt_len)) == NULL) {
		rte_pktmbuf_free(r);
		return NULL;
	}
	udk_pktmbuf_read(m, 0, m->pkt_len, d);
	return r;
}

/* Every segment a DPDK mbuf (a buffer of a dpdk port's receive pool)? */
static inline bool all_dpdk(const struct udk_mbuf *m)
{
	for (; m != NULL; m = m->next)
		if (m->dpdk_pool == NULL)
			return false;
	return true;
}

/* A burst with udk buffers in it: DPDK's buffers go as they are, udk's (or a
 * chain that mixes both) each in header mbufs that lend their buffers. */
static uint16_t tx_lend(struct dtxq *txq, struct udk_mbuf **pkts, uint16_t n)
{
	struct rte_mbuf *rm[MAX_BURST];
	bool wrapped[MAX_BURST];
	uint16_t k, sent, nb_wrapped = 0;

	if (n > MAX_BURST)
		n = MAX_BURST;
	for (k = 0; k < n; k++) {
		struct udk_mbuf *m = pkts[k];

		wrapped[k] = !all_dpdk(m);
		if (!wrapped[k])
			rm[k] = (struct rte_mbuf *)m;
		else if ((rm[k] = wrap(txq->pool, m)) == NULL)
			break;
		else
			nb_wrapped++;
	}
	sent = rte_eth_tx_burst(txq->pid, txq->q, rm, k);
	/* Unsent ones go back to the caller as they were: header mbufs are
	 * freed without freeing what they carry. */
	for (uint16_t i = sent; i < k; i++) {
		if (!wrapped[i])
			continue;
		for (struct udk_mbuf *s = pkts[i]; s != NULL; s = s->next)
			udk_mbuf_refcnt_update(s, 1);
		rte_pktmbuf_free(rm[i]);
	}
	txq->zero_copy += sent;
	txq->errors += n - k;
	return sent;
}

static uint16_t tx_copy(struct dtxq *txq, struct udk_mbuf **pkts, uint16_t n)
{
	struct rte_mbuf *rm[MAX_BURST];
	uint16_t k, sent;

	if (n > MAX_BURST)
		n = MAX_BURST;
	for (k = 0; k < n; k++)
		if ((rm[k] = copy_out(txq->pool, pkts[k])) == NULL)
			break;
	sent = rte_eth_tx_burst(txq->pid, txq->q, rm, k);
	/* The copies went (or go back); the udk buffers are done. */
	udk_pktmbuf_free_bulk(pkts, sent);
	rte_pktmbuf_free_bulk(rm + sent, k - sent);
	txq->copies += sent;
	txq->errors += n - k;
	return sent;
}

/* The usual burst is buffers a dpdk port received (io forwarding): they are
 * DPDK mbufs already, and go to DPDK as they are. */
uint16_t dport_tx_burst(void *queue, struct udk_mbuf **pkts, uint16_t n)
{
	struct dtxq *txq = queue;
	uint16_t k, sent;

	know_thread();
	if (unlikely(txq->copy))
		return tx_copy(txq, pkts, n);
	for (k = 0; k < n; k++)
		if (unlikely(pkts[k]->dpdk_pool == NULL || pkts[k]->nb_segs != 1))
			break;
	if (unlikely(k < n))
		return tx_lend(txq, pkts, n);
	sent = rte_eth_tx_burst(txq->pid, txq->q, (struct rte_mbuf **)pkts, n);
	txq->zero_copy += sent;
	return sent;
}
