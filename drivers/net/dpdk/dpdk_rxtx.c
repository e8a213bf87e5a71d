/* SPDX-License-Identifier: BSD-3-Clause */
/* dpdk_rxtx.c - the queues of a dpdk port and their receive and transmit
 * paths: udk mbufs and DPDK mbufs are the same buffers (dpdk_mbuf.c), so
 * both paths are DPDK's own, with a copy only where the PMD needs one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "dpdk_port.h"
#include "udk_util.h"

#define LOG "net_dpdk"
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
		/* The ring's buffers, a burst on its way, and the caches'. */
		rxq->need = (unsigned int)nb_desc + 2 * MAX_BURST + 2 * POOL_CACHE;
		rxq->pool = dport_pool_get(p->socket, rxq->need);
		if (rxq->pool == NULL) {
			udk_log(UDK_LOG_ERR, LOG, "%s: receive queue %u: no DPDK pool: %s",
				p->dev->name, q, rte_strerror(rte_errno));
			rc = -rte_errno;
			goto err_free;
		}
		rxq->rxp = rxq->pool->mp;
	}
	rc = rte_eth_rx_queue_setup(p->pid, q, nb_desc, (unsigned int)p->socket, NULL, rxq->rxp);
	if (rc < 0) {
		udk_log(UDK_LOG_ERR, LOG, "%s: rte_eth_rx_queue_setup(queue %u, %u descriptors) "
			"failed: %s", p->dev->name, q, nb_desc, rte_strerror(-rc));
		goto err_pool;
	}
	*out = rxq;
	return 0;

err_pool:
	if (rxq->copy)
		rte_mempool_free(rxq->rxp);
	else
		dport_pool_put(rxq->pool, rxq->need);
err_free:
	free(rxq);
	return rc;
}

/* After DPDK released the queue (port closed).  Buffers the application
 * still holds must be freed before: the pool goes now. */
void drxq_free(struct drxq *rxq)
{
	if (rxq->copy)
		rte_mempool_free(rxq->rxp);
	else
		dport_pool_put(rxq->pool, rxq->need);
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

/* A packet the PMD handed over that is not a udk mbuf as it is (copy mode,
 * a buffer of some other pool, an indirect or external one): copied into
 * the application's pool. */
static struct udk_mbuf *rx_other(struct drxq *rxq, struct rte_mbuf *r)
{
	struct udk_mbuf *m = copy_in(rxq->mp, r);

	rte_pktmbuf_free(r);
	if (m == NULL) {
		rxq->nombuf++;
		return NULL;
	}
	rxq->copies++;
	return m;
}

/* Is every segment of r a direct buffer of a pool whose buffers are udk
 * mbufs?  *last caches the pool last found. */
static inline bool bridged(const struct rte_mbuf *r, const struct rte_mempool **last)
{
	for (; r != NULL; r = r->next) {
		if (!RTE_MBUF_DIRECT(r))
			return false;
		if (r->pool != *last) {
			if (!dport_pool_bridged(r->pool))
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

/* With a PMD that takes every buffer from the queue's pool and the same
 * port number on both sides, udk's receive is DPDK's receive, no more. */
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
	if (txq->copy) {
		snprintf(name, sizeof(name), "udk-tx%u-%u", p->pid, q);
		txq->pool = rte_pktmbuf_pool_create(name, n, POOL_CACHE, 0,
						    RTE_MBUF_DEFAULT_BUF_SIZE, p->socket);
		if (txq->pool == NULL) {
			udk_log(UDK_LOG_ERR, LOG, "%s: DPDK pool of %u transmit buffers: %s",
				p->dev->name, n, rte_strerror(rte_errno));
			free(txq);
			return -ENOMEM;
		}
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

/* Every udk mbuf is a DPDK mbuf: whether a dpdk port received it (its pool
 * is DPDK's) or udk's (its ext_pool returns it to its udk pool), DPDK takes
 * it as it is and frees it when sent. */
uint16_t dport_tx_burst(void *queue, struct udk_mbuf **pkts, uint16_t n)
{
	struct dtxq *txq = queue;
	uint16_t sent;

	know_thread();
	if (unlikely(txq->copy))
		return tx_copy(txq, pkts, n);
	sent = rte_eth_tx_burst(txq->pid, txq->q, (struct rte_mbuf **)pkts, n);
	txq->zero_copy += sent;
	return sent;
}
