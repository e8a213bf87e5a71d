/* SPDX-License-Identifier: BSD-3-Clause */
/* e1000e_rxtx.c - the 82574's receive queues (two) and its transmit queue: descriptor
 * rings in the memory of the device's map (dev->mem), mbufs from the queue's mempool, and the burst
 * functions (fast path: no lock, system call, allocation beyond the mempool's
 * own get/put, or log; one tail write per burst).
 *
 * Rings follow §7.1.8 (receive) and §7.2 (transmit) of the 82574 datasheet:
 * the device owns the descriptors from head up to tail - 1; software moves
 * the tail. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e1000e_hw.h"
#include "udk_mem.h"
#include "udk_util.h"

#define LOG "net_e1000e"

/* A ring of nb 16-byte descriptors in the memory of the device's map,
 * 128-byte aligned (§10.2, RDLEN). */
static void *ring_alloc(struct udk_eth_dev *dev, const char *kind, uint16_t nb, int socket,
			uint64_t *iova)
{
	void *ring = udk_mem_zmalloc(dev->mem, (size_t)nb * 16u, 4096, socket);

	if (ring == NULL) {
		udk_log(UDK_LOG_ERR, LOG, "%s: no DMA memory for a %s ring of %u descriptors "
			"(see -m and the hugepages reserved)", dev->name, kind, nb);
		return NULL;
	}
	*iova = udk_mem_virt2iova(dev->mem, ring);
	if (*iova == UDK_IOVA_BAD) {
		udk_log(UDK_LOG_ERR, LOG, "%s: the %s ring has no IOVA in the device's map",
			dev->name, kind);
		udk_mem_free(dev->mem, ring);
		return NULL;
	}
	return ring;
}

static int check_nb_desc(struct udk_eth_dev *dev, const char *kind, uint16_t nb)
{
	if (nb % E1K_DESC_MULT != 0) {
		udk_log(UDK_LOG_ERR, LOG, "%s queue of %s: %u descriptors is not a multiple of %u "
			"(the 82574 takes rings in 128-byte units)", kind, dev->name, nb,
			E1K_DESC_MULT);
		return -EINVAL;
	}
	return 0;
}

int e1k_rxq_setup(struct udk_eth_dev *dev, uint16_t q, const struct udk_eth_rxq_conf *c,
		  void **queue)
{
	struct e1k_rxq *rxq;
	struct udk_mbuf *m;
	uint32_t room;
	int rc;

	rc = check_nb_desc(dev, "rx", c->nb_desc);
	if (rc < 0)
		return rc;
	/* Every buffer must hold RCTL.BSIZE bytes after the headroom: the device
	 * writes up to that much into it. */
	m = udk_pktmbuf_alloc(c->mp);
	if (m == NULL) {
		udk_log(UDK_LOG_ERR, LOG, "rx queue of %s: mempool %s is empty", dev->name,
			c->mp->name);
		return -ENOBUFS;
	}
	room = (uint32_t)m->buf_len - m->data_off;
	udk_pktmbuf_free(m);
	if (room < E1K_RX_BUF) {
		udk_log(UDK_LOG_ERR, LOG, "rx queue of %s: mempool %s has %u bytes after the "
			"headroom; the 82574 needs %u per buffer (udk_pktmbuf_pool_create "
			"with data room 0 gives enough)", dev->name, c->mp->name, room, E1K_RX_BUF);
		return -EINVAL;
	}
	rxq = calloc(1, sizeof(*rxq));
	if (rxq == NULL)
		return -ENOMEM;
	rxq->bufs = calloc(c->nb_desc, sizeof(*rxq->bufs));
	if (rxq->bufs == NULL) {
		rc = -ENOMEM;
		goto err_free_rxq;
	}
	rxq->ring = ring_alloc(dev, "rx", c->nb_desc, c->socket, &rxq->ring_iova);
	if (rxq->ring == NULL) {
		rc = -ENOMEM;
		goto err_free_bufs;
	}
	rxq->nb_desc = c->nb_desc;
	rxq->mp = c->mp;
	rxq->port = dev->port;
	rxq->bar = ((struct e1k_priv *)dev->priv)->bar;
	rxq->rdt = (volatile uint32_t *)(rxq->bar + E1K_RDT(q));
	rxq->cause = E1K_ICR_RXQ(q);
	rxq->efd = -1;
	*queue = rxq;
	return 0;

err_free_bufs:
	free(rxq->bufs);
err_free_rxq:
	free(rxq);
	return rc;
}

int e1k_txq_setup(struct udk_eth_dev *dev, uint16_t q, const struct udk_eth_txq_conf *c,
		  void **queue)
{
	struct e1k_txq *txq;
	int rc;

	(void)q;
	rc = check_nb_desc(dev, "tx", c->nb_desc);
	if (rc < 0)
		return rc;
	txq = calloc(1, sizeof(*txq));
	if (txq == NULL)
		return -ENOMEM;
	txq->bufs = calloc(c->nb_desc, sizeof(*txq->bufs));
	if (txq->bufs == NULL) {
		rc = -ENOMEM;
		goto err_free_txq;
	}
	txq->ring = ring_alloc(dev, "tx", c->nb_desc, c->socket, &txq->ring_iova);
	if (txq->ring == NULL) {
		rc = -ENOMEM;
		goto err_free_bufs;
	}
	txq->nb_desc = c->nb_desc;
	txq->tdt = (volatile uint32_t *)(((struct e1k_priv *)dev->priv)->bar + E1K_TDT);
	*queue = txq;
	return 0;

err_free_bufs:
	free(txq->bufs);
err_free_txq:
	free(txq);
	return rc;
}

void e1k_rxq_release(struct udk_eth_dev *dev, void *queue)
{
	struct e1k_rxq *rxq = queue;

	e1k_rxq_drain(rxq);
	udk_mem_free(dev->mem, (void *)rxq->ring);
	free(rxq->bufs);
	free(rxq);
}

void e1k_txq_release(struct udk_eth_dev *dev, void *queue)
{
	struct e1k_txq *txq = queue;

	e1k_txq_drain(txq);
	udk_mem_free(dev->mem, (void *)txq->ring);
	free(txq->bufs);
	free(txq);
}

int e1k_rxq_fill(struct e1k_rxq *rxq)
{
	for (uint16_t i = 0; i < rxq->nb_desc; i++) {
		struct udk_mbuf *m = udk_pktmbuf_alloc(rxq->mp);

		if (m == NULL) {
			e1k_rxq_drain(rxq);
			return -ENOBUFS;
		}
		rxq->bufs[i] = m;
		rxq->ring[i] = (struct e1k_rx_desc){.addr = udk_pktmbuf_iova(m)};
	}
	rxq->next = 0;
	return 0;
}

void e1k_rxq_drain(struct e1k_rxq *rxq)
{
	for (uint16_t i = 0; i < rxq->nb_desc; i++) {
		udk_pktmbuf_free(rxq->bufs[i]);
		rxq->bufs[i] = NULL;
	}
	memset((void *)rxq->ring, 0, (size_t)rxq->nb_desc * sizeof(*rxq->ring));
	rxq->next = 0;
}

void e1k_txq_drain(struct e1k_txq *txq)
{
	for (uint16_t i = 0; i < txq->nb_desc; i++) {
		if (txq->bufs[i] != NULL)
			udk_pktmbuf_free_seg(txq->bufs[i]);
		txq->bufs[i] = NULL;
	}
	memset((void *)txq->ring, 0, (size_t)txq->nb_desc * sizeof(*txq->ring));
	txq->tail = txq->clean = 0;
	txq->nb_free = (uint16_t)(txq->nb_desc - 1); /* tail never catches up with head */
}

/* §7.1: the device fills descriptors from RDH on and sets DD (and EOP on the
 * last of a frame) when it writes one back.  Each filled buffer goes up as a
 * packet and a fresh mbuf takes its place; RDT moves once, to the last
 * descriptor given back.  A frame the device hashed (RSS type in the
 * write-back) carries the hash in hash_rss, flagged UDK_MBUF_F_RSS_HASH.
 * If the mempool is empty the frame is dropped and
 * its buffer goes back to the device (imissed, rx_nombuf): the ring never
 * runs dry because of the application. */
uint16_t e1k_rx_burst(void *queue, struct udk_mbuf **pkts, uint16_t n)
{
	struct e1k_rxq *rxq = queue;
	uint16_t idx = rxq->next, got = 0, done = 0;
	uint64_t bytes = 0;

	while (got < n) {
		volatile struct e1k_rx_desc *d = &rxq->ring[idx];
		uint32_t status = d->status_error;
		struct udk_mbuf *m, *fresh;

		if (!(status & E1K_RXD_STAT_DD))
			break;
		/* Read the rest of the descriptor only after DD. */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		m = rxq->bufs[idx];
		/* With 2048-byte buffers and no LPE every frame fits one
		 * descriptor: one without EOP is as broken as one with errors. */
		if (unlikely(!(status & E1K_RXD_STAT_EOP) || (status & E1K_RXD_ERR_FRAME))) {
			udk_counter_add(&rxq->errors, 1);
			fresh = m;
		} else if (unlikely((fresh = udk_pktmbuf_alloc(rxq->mp)) == NULL)) {
			udk_counter_add(&rxq->missed, 1);
			udk_counter_add(&rxq->nombuf, 1);
			fresh = m;
		} else {
			uint16_t len = d->length;

			m->data_len = len;
			m->pkt_len = len;
			m->port = rxq->port;
			if (d->wb.mrq & E1K_RXD_MRQ_RSS_TYPE) {
				m->hash_rss = d->wb.rss;
				m->ol_flags |= UDK_MBUF_F_RSS_HASH;
			}
			bytes += len;
			pkts[got++] = m;
		}
		rxq->bufs[idx] = fresh;
		d->addr = udk_pktmbuf_iova(fresh);
		d->status_error = 0;
		d->length = 0;
		idx = (uint16_t)(idx + 1 == rxq->nb_desc ? 0 : idx + 1);
		done++;
	}
	if (done == 0)
		return 0;
	rxq->next = idx;
	udk_counter_add(&rxq->packets, got);
	udk_counter_add(&rxq->bytes, bytes);
	/* The descriptors must be in memory before the device may use them. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	*rxq->rdt = idx == 0 ? (uint32_t)rxq->nb_desc - 1 : (uint32_t)idx - 1;
	return got;
}

/* Free the segments of every descriptor the device has written back (RS asks
 * for DD on each), oldest first. */
static inline void tx_reclaim(struct e1k_txq *txq)
{
	uint16_t i = txq->clean;

	while (i != txq->tail && (txq->ring[i].status & E1K_TXD_STAT_DD)) {
		udk_pktmbuf_free_seg(txq->bufs[i]);
		txq->bufs[i] = NULL;
		i = (uint16_t)(i + 1 == txq->nb_desc ? 0 : i + 1);
		txq->nb_free++;
	}
	txq->clean = i;
}

/* §7.2: one legacy descriptor per segment, EOP and IFCS on the last, RS on
 * each; TDT moves once.  Frames are taken in order until one does not fit
 * the free descriptors; a frame over the MTU is dropped, freed and counted
 * (oerrors) and counts as taken. */
uint16_t e1k_tx_burst(void *queue, struct udk_mbuf **pkts, uint16_t n)
{
	struct e1k_txq *txq = queue;
	uint16_t i, sent = 0, tail = txq->tail;
	uint64_t bytes = 0;

	tx_reclaim(txq);
	for (i = 0; i < n; i++) {
		struct udk_mbuf *m = pkts[i];

		if (unlikely(m->pkt_len > txq->max_len || m->nb_segs >= txq->nb_desc)) {
			udk_counter_add(&txq->errors, 1);
			udk_pktmbuf_free(m);
			continue;
		}
		if (m->nb_segs > txq->nb_free)
			break;
		txq->nb_free = (uint16_t)(txq->nb_free - m->nb_segs);
		sent++;
		bytes += m->pkt_len;
		for (struct udk_mbuf *s = m; s != NULL; s = s->next) {
			volatile struct e1k_tx_desc *d = &txq->ring[tail];

			d->addr = udk_pktmbuf_iova(s);
			d->length = s->data_len;
			d->cso = 0;
			d->cmd = E1K_TXD_CMD_RS;
			if (s->next == NULL)
				d->cmd = E1K_TXD_CMD_RS | E1K_TXD_CMD_EOP | E1K_TXD_CMD_IFCS;
			d->status = 0;
			d->css = 0;
			d->special = 0;
			txq->bufs[tail] = s;
			tail = (uint16_t)(tail + 1 == txq->nb_desc ? 0 : tail + 1);
		}
	}
	if (tail != txq->tail) {
		txq->tail = tail;
		__atomic_thread_fence(__ATOMIC_RELEASE);
		*txq->tdt = tail;
	}
	udk_counter_add(&txq->packets, sent);
	udk_counter_add(&txq->bytes, bytes);
	return i;
}

static inline void bar_wr(const struct e1k_rxq *rxq, uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(rxq->bar + reg) = v;
}

/* Arm (doc/drivers-e1000e.md, "Receive interrupts"): clear the eventfd's
 * count (interrupts of frames already polled), forget the cause the device
 * latched in ICR while it was masked (else unmasking would signal at once for
 * frames already taken), unmask it in IMS, and read STATUS so the writes
 * have reached the device.  Then look at the next descriptor once more: a
 * frame written back before the unmask is found there; one after it sets
 * the cause with IMS open, and the device signals the vector. */
int e1k_rx_intr_arm(void *queue)
{
	struct e1k_rxq *rxq = queue;
	uint64_t n;

	if (rxq->efd >= 0 && read(rxq->efd, &n, sizeof(n)) == (ssize_t)sizeof(n))
		udk_counter_add(&rxq->interrupts, n);
	bar_wr(rxq, E1K_ICR, rxq->cause);
	bar_wr(rxq, E1K_IMS, rxq->cause);
	(void)*(volatile uint32_t *)(rxq->bar + E1K_STATUS);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return (rxq->ring[rxq->next].status_error & E1K_RXD_STAT_DD) ? 1 : 0;
}

/* Back to polling: mask the cause (IMC); the device latches it in ICR
 * without signalling. */
void e1k_rx_intr_disarm(void *queue)
{
	struct e1k_rxq *rxq = queue;

	bar_wr(rxq, E1K_IMC, rxq->cause);
}
