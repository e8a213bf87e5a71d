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
#define RX_HDRS 4096          /* udk headers per zero-copy receive queue */
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

/* Zero-copy receive queues, so transmit can tell a udk header that lends a
 * DPDK buffer (and hand DPDK that buffer itself).  Changed only while ports
 * are stopped (queue setup and close). */
#define MAX_ZC_RXQ 64
static struct drxq *zc_rxq[MAX_ZC_RXQ];
static unsigned int nb_zc_rxq;

static void zc_add(struct drxq *rxq)
{
	if (nb_zc_rxq < MAX_ZC_RXQ)
		zc_rxq[nb_zc_rxq++] = rxq;
}

static void zc_remove(struct drxq *rxq)
{
	for (unsigned int i = 0; i < nb_zc_rxq; i++)
		if (zc_rxq[i] == rxq)
			zc_rxq[i] = zc_rxq[--nb_zc_rxq];
}

static inline struct drxq *zc_owner(const struct udk_mbuf *m)
{
	for (unsigned int i = 0; i < nb_zc_rxq; i++)
		if (zc_rxq[i]->hdrs == m->pool)
			return zc_rxq[i];
	return NULL;
}

/* The rte_mbuf whose buffer header m lends (rx pools have no private
 * area), or NULL. */
static inline struct rte_mbuf *lent(const struct udk_mbuf *m)
{
	return m->buf_addr == NULL ? NULL
				   : (struct rte_mbuf *)((char *)m->buf_addr - sizeof(struct rte_mbuf));
}

/* ---- receive ---- */

static void hdr_init(struct udk_mempool *mp, void *obj, uint32_t idx, void *arg)
{
	struct udk_mbuf *m = obj;

	(void)idx;
	(void)arg;
	memset(m, 0, sizeof(*m));
	m->pool = mp;
	atomic_init(&m->refcnt, 1);
	udk_pktmbuf_reset(m);
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
	struct udk_mempool_opts o;
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
		/* Every header may hold an rte_mbuf, plus the ring's and caches'. */
		n = RX_HDRS + (unsigned int)nb_desc + 2 * MAX_BURST + 2 * POOL_CACHE;
		rc = pool_over_udk(name, n, p->socket, &rxq->rxmem, &rxq->rxp);
		if (rc < 0)
			goto err_free;
		udk_mempool_opts_init(&o, sizeof(o));
		snprintf(name, sizeof(name), "udk-rxh%u-%u", p->pid, q);
		o.name = name;
		o.count = RX_HDRS;
		o.elt_size = sizeof(struct udk_mbuf);
		o.cache_size = POOL_CACHE;
		o.obj_init = hdr_init;
		rc = udk_mempool_create(&o, &rxq->hdrs);
		if (rc < 0)
			goto err_pool;
	}
	rc = rte_eth_rx_queue_setup(p->pid, q, nb_desc, (unsigned int)p->socket, NULL, rxq->rxp);
	if (rc < 0) {
		udk_log(UDK_LOG_ERR, LOG, "%s: rte_eth_rx_queue_setup(queue %u, %u descriptors) "
			"failed: %s", p->dev->name, q, nb_desc, rte_strerror(-rc));
		goto err_hdrs;
	}
	if (!rxq->copy)
		zc_add(rxq);
	*out = rxq;
	return 0;

err_hdrs:
	if (rxq->hdrs != NULL)
		udk_mempool_free(rxq->hdrs);
err_pool:
	rte_mempool_free(rxq->rxp);
	if (rxq->rxmem != NULL)
		udk_dma_free(rxq->rxmem);
err_free:
	free(rxq);
	return rc;
}

/* After DPDK released the queue (port closed): give back what headers hold. */
void drxq_free(struct drxq *rxq)
{
	zc_remove(rxq);
	if (rxq->hdrs != NULL) {
		for (uint32_t i = 0; i < rxq->hdrs->count; i++) {
			struct rte_mbuf *r = lent((struct udk_mbuf *)(rxq->hdrs->base +
								(size_t)i * rxq->hdrs->elt_size));
			if (r != NULL)
				rte_pktmbuf_free(r);
		}
		udk_mempool_free(rxq->hdrs);
	}
	rte_mempool_free(rxq->rxp);
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

/* Zero copy: header m lends r's buffer.  The buffer m lent last time (the
 * header came back to its pool, so that buffer is free) goes to *stale, for
 * DPDK to get back in bulk at the end of the burst. */
static inline void borrow(struct drxq *rxq, struct udk_mbuf *m, struct rte_mbuf *r,
			  struct rte_mbuf **stale, uint16_t *nb_stale)
{
	struct rte_mbuf *prev = lent(m);

	if (prev != NULL)
		stale[(*nb_stale)++] = prev;
	m->buf_addr = r->buf_addr;
	m->buf_iova = rte_mbuf_iova_get(r);
	m->buf_len = r->buf_len;
	m->data_off = r->data_off;
	m->data_len = r->data_len;
	m->pkt_len = r->pkt_len;
	m->next = NULL;
	m->nb_segs = 1;
	m->ol_flags = 0;
	m->port = rxq->port;
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

uint16_t dport_rx_burst(void *queue, struct udk_mbuf **pkts, uint16_t n)
{
	struct drxq *rxq = queue;
	struct rte_mbuf *rm[MAX_BURST], *stale[MAX_BURST];
	struct udk_mbuf *hdr[MAX_BURST];
	const struct rte_mempool *own = rxq->rxp;
	uint16_t nb, h = 0, out = 0, nb_stale = 0;
	uint64_t bytes = 0;

	know_thread();
	if (n > MAX_BURST)
		n = MAX_BURST;
	nb = rte_eth_rx_burst(rxq->pid, rxq->q, rm, n);
	if (nb == 0)
		return 0;
	if (rxq->copy) {
		for (uint16_t i = 0; i < nb; i++) {
			struct udk_mbuf *m = rx_other(rxq, rm[i]);

			if (m != NULL) {
				bytes += m->pkt_len;
				pkts[out++] = m;
			}
		}
		goto done;
	}
	if (udk_mempool_get_bulk(rxq->hdrs, (void **)hdr, nb) != 0) {
		rxq->nombuf += nb;
		rte_pktmbuf_free_bulk(rm, nb);
		return 0;
	}
	for (uint16_t i = 0; i < nb; i++) {
		struct rte_mbuf *r = rm[i];
		struct udk_mbuf *m;

		/* The usual case: one buffer of this queue's pool over udk memory. */
		if (likely(r->pool == own && r->nb_segs == 1 && RTE_MBUF_DIRECT(r))) {
			m = hdr[h++];
			borrow(rxq, m, r, stale, &nb_stale);
		} else if ((m = rx_other(rxq, r)) == NULL) {
			continue;
		}
		bytes += m->pkt_len;
		pkts[out++] = m;
	}
	rxq->zero_copy += h;
	if (h < nb)
		udk_mempool_put_bulk(rxq->hdrs, (void *const *)&hdr[h], nb - h);
	if (nb_stale > 0)
		rte_pktmbuf_free_bulk(stale, nb_stale);
done:
	rxq->packets += out;
	rxq->bytes += bytes;
	return out;
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

/* A udk header that lends a DPDK buffer from a zero-copy receive queue
 * (io forwarding from a dpdk port): DPDK gets its own mbuf back, with the
 * header's view of the data, and no extbuf is needed.  The header keeps its
 * claim until the send is taken (see dport_tx_burst).  *own caches the queue
 * the last such header came from (a burst usually comes from one). */
static inline struct rte_mbuf *take_back(struct udk_mbuf *m, struct drxq **own)
{
	struct rte_mbuf *r;

	if (m->next != NULL || m->buf_addr == NULL || udk_mbuf_refcnt_read(m) != 1)
		return NULL;
	if (*own == NULL || (*own)->hdrs != m->pool) {
		struct drxq *q = zc_owner(m);

		if (q == NULL)
			return NULL;
		*own = q;
	}
	r = lent(m);
	r->data_off = m->data_off;
	r->data_len = m->data_len;
	r->pkt_len = m->pkt_len;
	return r;
}

/* Sent headers that lent DPDK's own buffers: the buffers are DPDK's again,
 * the headers free with nothing to lend (given back in runs of one pool,
 * usually the whole burst). */
static void hdrs_done(struct udk_mbuf **pkts, const bool *back, uint16_t sent)
{
	struct udk_mbuf *done[MAX_BURST];
	uint16_t run = 0;

	for (uint16_t i = 0; i < sent; i++) {
		if (!back[i])
			continue;
		pkts[i]->buf_addr = NULL;
		if (run > 0 && done[0]->pool != pkts[i]->pool) {
			udk_mempool_put_bulk(done[0]->pool, (void *const *)done, run);
			run = 0;
		}
		done[run++] = pkts[i];
	}
	if (run > 0)
		udk_mempool_put_bulk(done[0]->pool, (void *const *)done, run);
}

/* Zero copy: DPDK's own buffers go back as they are (take_back), udk
 * segments as external buffers (wrap).  back[i] says which; done[] lists
 * the headers taken back, one_owner that they all came from one queue. */
static uint16_t tx_zero_copy(struct dtxq *txq, struct udk_mbuf **pkts, uint16_t n)
{
	struct rte_mbuf *rm[MAX_BURST];
	struct udk_mbuf *done[MAX_BURST];
	bool back[MAX_BURST], one_owner = true;
	struct drxq *own = NULL;
	uint16_t k, sent, nb_done = 0;
	uint64_t bytes = 0;

	for (k = 0; k < n; k++) {
		struct udk_mbuf *m = pkts[k];
		struct drxq *prev = own;

		rm[k] = take_back(m, &own);
		back[k] = rm[k] != NULL;
		if (back[k]) {
			one_owner &= prev == NULL || prev == own;
			done[nb_done++] = m;
		} else if ((rm[k] = wrap(txq->pool, m)) == NULL) {
			break;
		}
		bytes += m->pkt_len;
	}
	sent = rte_eth_tx_burst(txq->pid, txq->q, rm, k);
	if (likely(sent == k && one_owner && nb_done > 0)) {
		/* The usual burst: all sent, DPDK's buffers DPDK's again, their
		 * headers free with nothing to lend. */
		for (uint16_t i = 0; i < nb_done; i++)
			done[i]->buf_addr = NULL;
		udk_mempool_put_bulk(done[0]->pool, (void *const *)done, nb_done);
	} else if (nb_done > 0) {
		hdrs_done(pkts, back, sent);
	}
	/* Unsent ones go back to the caller as they were: extbuf headers are
	 * freed without freeing what they carry. */
	for (uint16_t i = sent; i < k; i++) {
		bytes -= pkts[i]->pkt_len;
		if (back[i])
			continue;
		for (struct udk_mbuf *s = pkts[i]; s != NULL; s = s->next)
			udk_mbuf_refcnt_update(s, 1);
		rte_pktmbuf_free(rm[i]);
	}
	txq->zero_copy += sent;
	txq->errors += n - k;
	txq->packets += sent;
	txq->bytes += bytes;
	return sent;
}

uint16_t dport_tx_burst(void *queue, struct udk_mbuf **pkts, uint16_t n)
{
	struct dtxq *txq = queue;
	struct rte_mbuf *rm[MAX_BURST];
	uint16_t k, sent;
	uint64_t bytes = 0;

	know_thread();
	if (n > MAX_BURST)
		n = MAX_BURST;
	if (likely(!txq->copy))
		return tx_zero_copy(txq, pkts, n);
	for (k = 0; k < n; k++)
		if ((rm[k] = copy_out(txq->pool, pkts[k])) == NULL)
			break;
	sent = rte_eth_tx_burst(txq->pid, txq->q, rm, k);
	for (uint16_t i = 0; i < sent; i++)
		bytes += pkts[i]->pkt_len;
	/* The copies went (or go back); the udk buffers are done. */
	udk_pktmbuf_free_bulk(pkts, sent);
	rte_pktmbuf_free_bulk(rm + sent, k - sent);
	txq->copies += sent;
	txq->errors += n - k;
	txq->packets += sent;
	txq->bytes += bytes;
	return sent;
}
