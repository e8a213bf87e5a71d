/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for net_e1000e's rings (drivers/net/e1000e/e1000e_rxtx.c), no
 * device: the test plays the 82574, writing receive descriptors back and
 * setting DD on transmit descriptors, over a BAR that is plain memory.  What
 * the lab cannot force: the tail values written at each wrap, error
 * descriptors, a full transmit ring taking part of a burst, reclaim of
 * written-back descriptors, multi-segment descriptor commands, the RSS hash
 * delivered, the registers an interrupt arm writes, and every mbuf coming
 * back. */
#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../common/unit.h"
#include "e1000e_hw.h"
#include "udk_eal.h"
#include "udk_ethdev.h"
#include "udk_mbuf.h"

#define POOL 512
#define NB 32

static struct udk_mempool *mp;
static struct e1k_priv priv;
static struct udk_eth_dev dev;

static int setup(void)
{
	char *argv[] = {"test", "--no-huge", "-m", "64", "-l", "0", NULL};

	if (udk_eal_init(6, argv) != 6)
		return 1;
	if (udk_pktmbuf_pool_create("e1k", POOL, 32, 0, UDK_SOCKET_ANY, &mp) != 0)
		return 1;
	priv.bar = calloc(1, 0x20000);
	priv.bar_len = 0x20000;
	dev.priv = &priv;
	dev.mem = udk_eal_mem(); /* what ethdev gives a port on the default map */
	dev.port = 3;
	snprintf(dev.name, sizeof(dev.name), "fake-82574");
	return priv.bar == NULL;
}

static int teardown(void)
{
	free((void *)priv.bar);
	udk_mempool_free(mp);
	udk_eal_cleanup();
	return 0;
}

static uint32_t reg(uint32_t off)
{
	return e1k_rd(&priv, off);
}

/* The device receives a frame of len bytes into descriptor i and writes the
 * extended descriptor back: RSS type and hash over the buffer address, then
 * length, errors (bits 31:24) and status. */
static void dev_rx_rss(struct e1k_rxq *rxq, uint16_t i, uint16_t len, uint8_t status,
		       uint8_t errors, uint32_t rss_type, uint32_t hash)
{
	uint8_t *p = udk_pktmbuf_mtod(rxq->bufs[i], uint8_t *);

	CU_ASSERT_EQUAL(rxq->ring[i].addr, udk_pktmbuf_iova(rxq->bufs[i]));
	CU_ASSERT_EQUAL(rxq->ring[i].status_error, 0);
	for (uint16_t b = 0; b < len; b++)
		p[b] = (uint8_t)(i + b);
	rxq->ring[i].wb.mrq = rss_type;
	rxq->ring[i].wb.rss = hash;
	rxq->ring[i].length = len;
	rxq->ring[i].status_error = status | (uint32_t)errors << 24;
}

static void dev_rx(struct e1k_rxq *rxq, uint16_t i, uint16_t len, uint8_t status, uint8_t errors)
{
	dev_rx_rss(rxq, i, len, status, errors, 0, 0);
}

static void test_rx(void)
{
	struct udk_eth_rxq_conf c = {.opts_size = sizeof(c), .nb_desc = 100, .mp = mp};
	struct udk_mbuf *pkts[NB];
	struct e1k_rxq *rxq;
	struct udk_mbuf *old_m;
	void *q;

	udk_last_error_clear();
	CU_ASSERT_EQUAL(e1k_rxq_setup(&dev, 0, &c, &q), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("100 descriptors is not a multiple of 8");
	c.nb_desc = NB;
	CU_ASSERT_EQUAL_FATAL(e1k_rxq_setup(&dev, 0, &c, &q), 0);
	rxq = q;
	CU_ASSERT_EQUAL((uintptr_t)rxq->ring % E1K_RING_ALIGN, 0);
	CU_ASSERT_EQUAL(rxq->ring_iova % E1K_RING_ALIGN, 0);
	CU_ASSERT_EQUAL_FATAL(e1k_rxq_fill(rxq), 0);
	CU_ASSERT_EQUAL(udk_mempool_avail_count(mp), POOL - NB);
	CU_ASSERT_EQUAL(e1k_rx_burst(rxq, pkts, NB), 0); /* nothing written back */

	/* Eight frames: delivered with their lengths and bytes; RDT = 7. */
	for (uint16_t i = 0; i < 8; i++)
		dev_rx(rxq, i, (uint16_t)(60 + i), E1K_RXD_STAT_DD | E1K_RXD_STAT_EOP, 0);
	old_m = rxq->bufs[0];
	CU_ASSERT_EQUAL_FATAL(e1k_rx_burst(rxq, pkts, NB), 8);
	for (uint16_t i = 0; i < 8; i++) {
		CU_ASSERT_EQUAL(pkts[i]->pkt_len, 60 + i);
		CU_ASSERT_EQUAL(pkts[i]->data_len, 60 + i);
		CU_ASSERT_EQUAL(pkts[i]->port, 3);
		CU_ASSERT_EQUAL(udk_pktmbuf_mtod(pkts[i], uint8_t *)[59], (uint8_t)(i + 59));
		CU_ASSERT_EQUAL(rxq->ring[i].status_error, 0);
		CU_ASSERT_EQUAL(pkts[i]->ol_flags & UDK_MBUF_F_RSS_HASH, 0); /* not hashed */
	}
	/* A fresh buffer took its place. */
	CU_ASSERT_PTR_NOT_EQUAL(rxq->bufs[0], old_m);
	CU_ASSERT_EQUAL(rxq->ring[0].addr, udk_pktmbuf_iova(rxq->bufs[0]));
	CU_ASSERT_EQUAL(reg(E1K_RDT(0)), 7);
	udk_pktmbuf_free_bulk(pkts, 8);

	/* A frame error and a frame without EOP: not delivered, counted, the
	 * buffer reused; the good frame behind them comes up. */
	dev_rx(rxq, 8, 64, E1K_RXD_STAT_DD | E1K_RXD_STAT_EOP, 0x01 /* CE */);
	dev_rx(rxq, 9, 64, E1K_RXD_STAT_DD, 0);
	dev_rx(rxq, 10, 70, E1K_RXD_STAT_DD | E1K_RXD_STAT_EOP, 0);
	old_m = rxq->bufs[8];
	CU_ASSERT_EQUAL_FATAL(e1k_rx_burst(rxq, pkts, NB), 1);
	CU_ASSERT_EQUAL(pkts[0]->pkt_len, 70);
	CU_ASSERT_EQUAL(rxq->errors, 2);
	CU_ASSERT_PTR_EQUAL(rxq->bufs[8], old_m);
	CU_ASSERT_EQUAL(rxq->ring[8].addr, udk_pktmbuf_iova(old_m));
	CU_ASSERT_EQUAL(reg(E1K_RDT(0)), 10);
	udk_pktmbuf_free(pkts[0]);

	/* A burst smaller than what is waiting takes only its share. */
	for (uint16_t i = 11; i < NB; i++)
		dev_rx(rxq, i, 100, E1K_RXD_STAT_DD | E1K_RXD_STAT_EOP, 0);
	CU_ASSERT_EQUAL(e1k_rx_burst(rxq, pkts, 4), 4);
	CU_ASSERT_EQUAL(reg(E1K_RDT(0)), 14);
	udk_pktmbuf_free_bulk(pkts, 4);
	/* The rest, up to the end of the ring: RDT wraps to the last slot. */
	CU_ASSERT_EQUAL(e1k_rx_burst(rxq, pkts, NB), NB - 15);
	CU_ASSERT_EQUAL(rxq->next, 0);
	CU_ASSERT_EQUAL(reg(E1K_RDT(0)), NB - 1);
	udk_pktmbuf_free_bulk(pkts, NB - 15);
	CU_ASSERT_EQUAL(rxq->packets, 8 + 1 + 4 + NB - 15);

	/* The pool is empty: the frame is dropped, counted, its buffer reused. */
	{
		static struct udk_mbuf *hoard[POOL];
		unsigned int held = 0;

		while ((hoard[held] = udk_pktmbuf_alloc(mp)) != NULL)
			held++;
		dev_rx(rxq, 0, 80, E1K_RXD_STAT_DD | E1K_RXD_STAT_EOP, 0);
		old_m = rxq->bufs[0];
		CU_ASSERT_EQUAL(e1k_rx_burst(rxq, pkts, NB), 0);
		CU_ASSERT_EQUAL(rxq->missed, 1);
		CU_ASSERT_EQUAL(rxq->nombuf, 1);
		CU_ASSERT_PTR_EQUAL(rxq->bufs[0], old_m);
		CU_ASSERT_EQUAL(rxq->ring[0].addr, udk_pktmbuf_iova(old_m));
		CU_ASSERT_EQUAL(reg(E1K_RDT(0)), 0);
		udk_pktmbuf_free_bulk(hoard, held);
	}
	e1k_rxq_release(&dev, rxq);
	CU_ASSERT_EQUAL(udk_mempool_avail_count(mp), POOL);
}

/* RSS: a frame the device hashed carries the hash and the flag; one it did
 * not (RSS type 0) carries neither; queue 1 has its own tail register. */
static void test_rx_rss(void)
{
	struct udk_eth_rxq_conf c = {.opts_size = sizeof(c), .nb_desc = NB, .mp = mp};
	struct udk_mbuf *pkts[NB];
	struct e1k_rxq *rxq;
	void *q;

	CU_ASSERT_EQUAL_FATAL(e1k_rxq_setup(&dev, 1, &c, &q), 0);
	rxq = q;
	CU_ASSERT_EQUAL_FATAL(e1k_rxq_fill(rxq), 0);
	dev_rx_rss(rxq, 0, 60, E1K_RXD_STAT_DD | E1K_RXD_STAT_EOP, 0, 2 /* IPv4 */, 0x5e7a9c01);
	dev_rx_rss(rxq, 1, 60, E1K_RXD_STAT_DD | E1K_RXD_STAT_EOP, 0, 0, 0x12345678);
	dev_rx_rss(rxq, 2, 60, E1K_RXD_STAT_DD | E1K_RXD_STAT_EOP, 0, 1 /* TCP/IPv4 */, 7);
	CU_ASSERT_EQUAL_FATAL(e1k_rx_burst(rxq, pkts, NB), 3);
	CU_ASSERT_EQUAL(pkts[0]->ol_flags & UDK_MBUF_F_RSS_HASH, UDK_MBUF_F_RSS_HASH);
	CU_ASSERT_EQUAL(pkts[0]->hash_rss, 0x5e7a9c01);
	CU_ASSERT_EQUAL(pkts[1]->ol_flags & UDK_MBUF_F_RSS_HASH, 0);
	CU_ASSERT_EQUAL(pkts[2]->ol_flags & UDK_MBUF_F_RSS_HASH, UDK_MBUF_F_RSS_HASH);
	CU_ASSERT_EQUAL(pkts[2]->hash_rss, 7);
	for (uint16_t i = 0; i < 3; i++) /* the descriptor is the driver's again */
		CU_ASSERT_EQUAL(rxq->ring[i].addr, udk_pktmbuf_iova(rxq->bufs[i]));
	CU_ASSERT_EQUAL(reg(E1K_RDT(1)), 2);
	udk_pktmbuf_free_bulk(pkts, 3);
	/* A recycled mbuf starts with no flag. */
	pkts[0] = udk_pktmbuf_alloc(mp);
	CU_ASSERT_EQUAL(pkts[0]->ol_flags, 0);
	udk_pktmbuf_free(pkts[0]);
	e1k_rxq_release(&dev, rxq);
	CU_ASSERT_EQUAL(udk_mempool_avail_count(mp), POOL);
}

/* Receive interrupts: arm clears the eventfd (counting it), forgets the
 * latched cause (ICR), unmasks it (IMS), and answers 1 when a frame already
 * waits; disarm masks it (IMC).  The fake BAR keeps the last value written. */
static void test_rx_intr(void)
{
	struct udk_eth_rxq_conf c = {.opts_size = sizeof(c), .nb_desc = NB, .mp = mp};
	struct udk_mbuf *pkts[NB];
	struct e1k_rxq *rxq;
	uint64_t one = 3;
	void *q;

	CU_ASSERT_EQUAL_FATAL(e1k_rxq_setup(&dev, 1, &c, &q), 0);
	rxq = q;
	CU_ASSERT_EQUAL(rxq->cause, E1K_ICR_RXQ(1));
	CU_ASSERT_EQUAL(rxq->efd, -1);
	CU_ASSERT_EQUAL_FATAL(e1k_rxq_fill(rxq), 0);
	rxq->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	CU_ASSERT_FATAL(rxq->efd >= 0);
	CU_ASSERT_EQUAL(write(rxq->efd, &one, sizeof(one)), (ssize_t)sizeof(one));

	CU_ASSERT_EQUAL(e1k_rx_intr_arm(rxq), 0); /* nothing waits: armed */
	CU_ASSERT_EQUAL(reg(E1K_ICR), E1K_ICR_RXQ(1));
	CU_ASSERT_EQUAL(reg(E1K_IMS), E1K_ICR_RXQ(1));
	CU_ASSERT_EQUAL(rxq->interrupts, 3);
	CU_ASSERT_EQUAL(read(rxq->efd, &one, sizeof(one)), -1); /* count cleared */
	e1k_rx_intr_disarm(rxq);
	CU_ASSERT_EQUAL(reg(E1K_IMC), E1K_ICR_RXQ(1));

	/* A frame written back before the arm: the arm says so. */
	dev_rx(rxq, 0, 60, E1K_RXD_STAT_DD | E1K_RXD_STAT_EOP, 0);
	CU_ASSERT_EQUAL(e1k_rx_intr_arm(rxq), 1);
	CU_ASSERT_EQUAL(e1k_rx_burst(rxq, pkts, NB), 1);
	udk_pktmbuf_free(pkts[0]);
	CU_ASSERT_EQUAL(e1k_rx_intr_arm(rxq), 0);
	close(rxq->efd);
	e1k_rxq_release(&dev, rxq);
}

static struct udk_mbuf *frame(uint16_t len)
{
	struct udk_mbuf *m = udk_pktmbuf_alloc(mp);

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_PTR_NOT_NULL_FATAL(udk_pktmbuf_append(m, len));
	return m;
}

static void test_tx(void)
{
	struct udk_eth_txq_conf c = {.opts_size = sizeof(c), .nb_desc = NB};
	const uint8_t last = E1K_TXD_CMD_RS | E1K_TXD_CMD_EOP | E1K_TXD_CMD_IFCS;
	struct udk_mbuf *pkts[40];
	struct e1k_txq *txq;
	void *q;

	CU_ASSERT_EQUAL_FATAL(e1k_txq_setup(&dev, 0, &c, &q), 0);
	txq = q;
	e1k_txq_drain(txq); /* what start does */
	txq->max_len = UDK_ETHER_MTU + UDK_ETHER_HDR_LEN;

	/* 40 frames into a ring of 32: 31 taken (one slot stays free). */
	for (int i = 0; i < 40; i++)
		pkts[i] = frame((uint16_t)(60 + i));
	CU_ASSERT_EQUAL_FATAL(e1k_tx_burst(txq, pkts, 40), NB - 1);
	CU_ASSERT_EQUAL(reg(E1K_TDT), NB - 1);
	for (int i = 0; i < NB - 1; i++) {
		CU_ASSERT_EQUAL(txq->ring[i].addr, udk_pktmbuf_iova(pkts[i]));
		CU_ASSERT_EQUAL(txq->ring[i].length, 60 + i);
		CU_ASSERT_EQUAL(txq->ring[i].cmd, last);
	}
	CU_ASSERT_EQUAL(e1k_tx_burst(txq, pkts + NB - 1, 9), 0); /* full */

	/* The device sends the first ten: the next burst frees them first. */
	for (int i = 0; i < 10; i++)
		txq->ring[i].status = E1K_TXD_STAT_DD;
	CU_ASSERT_EQUAL(e1k_tx_burst(txq, pkts + NB - 1, 9), 9);
	CU_ASSERT_EQUAL(txq->clean, 10);
	CU_ASSERT_EQUAL(reg(E1K_TDT), (NB - 1 + 9) % NB); /* wrapped */
	CU_ASSERT_EQUAL(udk_mempool_avail_count(mp), POOL - 40 + 10);
	CU_ASSERT_EQUAL(txq->packets, 40);

	/* Let the device finish everything, then: a frame over the MTU between
	 * two good ones (taken, dropped, counted), and three segments. */
	for (int i = 0; i < NB; i++)
		txq->ring[i].status = E1K_TXD_STAT_DD;
	pkts[0] = frame(60);
	pkts[1] = frame(1515);
	pkts[2] = frame(61);
	pkts[3] = frame(100);
	CU_ASSERT_EQUAL_FATAL(udk_pktmbuf_chain(pkts[3], frame(200)), 0);
	CU_ASSERT_EQUAL_FATAL(udk_pktmbuf_chain(pkts[3], frame(300)), 0);
	uint16_t t = txq->tail;
	CU_ASSERT_EQUAL(e1k_tx_burst(txq, pkts, 4), 4);
	CU_ASSERT_EQUAL(txq->errors, 1);
	CU_ASSERT_EQUAL(txq->ring[t].length, 60);
	CU_ASSERT_EQUAL(txq->ring[(t + 1) % NB].length, 61);
	CU_ASSERT_EQUAL(txq->ring[(t + 2) % NB].length, 100);
	CU_ASSERT_EQUAL(txq->ring[(t + 2) % NB].cmd, E1K_TXD_CMD_RS);
	CU_ASSERT_EQUAL(txq->ring[(t + 3) % NB].cmd, E1K_TXD_CMD_RS);
	CU_ASSERT_EQUAL(txq->ring[(t + 4) % NB].length, 300);
	CU_ASSERT_EQUAL(txq->ring[(t + 4) % NB].cmd, last);
	CU_ASSERT_EQUAL(reg(E1K_TDT), (t + 5) % NB);
	CU_ASSERT_EQUAL(txq->bytes, (40 * 60 + 39 * 40 / 2) + 60 + 61 + 600);
	CU_ASSERT_EQUAL(txq->packets, 40 + 3);

	/* Release takes back whatever the ring still holds. */
	e1k_txq_release(&dev, txq);
	CU_ASSERT_EQUAL(udk_mempool_avail_count(mp), POOL);
}

/* A port on another map: its rings come from that map's heap and carry
 * IOVAs of that map, as do the buffers of a pool made on the port's memory. */
static void test_other_map(void)
{
	struct udk_eth_rxq_conf c = {.opts_size = sizeof(c), .nb_desc = NB};
	struct udk_dmamap_opts o;
	struct udk_dmamap *b;
	struct udk_mempool *mpb;
	struct udk_eth_dev devb = dev;
	struct e1k_rxq *rxq;
	uint64_t iova;
	void *q;

	udk_dmamap_opts_init(&o, sizeof(o));
	o.backend = UDK_DMAMAP_VFIO_TYPE1;
	o.name = "B";
	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(&o, &b), 0);
	CU_ASSERT_EQUAL_FATAL(udk_eal_map_mem_get(b, &devb.mem), 0);
	CU_ASSERT_EQUAL_FATAL(udk_pktmbuf_pool_create_mem(devb.mem, "e1k-b", 64, 0, 0,
							  UDK_SOCKET_ANY, &mpb), 0);
	c.mp = mpb;
	CU_ASSERT_EQUAL_FATAL(e1k_rxq_setup(&devb, 0, &c, &q), 0);
	rxq = q;
	CU_ASSERT_PTR_NOT_NULL(udk_mem_find(devb.mem, (const void *)rxq->ring));
	CU_ASSERT_PTR_NULL(udk_mem_find(udk_eal_mem(), (const void *)rxq->ring));
	CU_ASSERT_EQUAL(udk_dmamap_virt2iova(b, (const void *)rxq->ring, &iova), 0);
	CU_ASSERT_EQUAL(rxq->ring_iova, iova);
	CU_ASSERT_EQUAL_FATAL(e1k_rxq_fill(rxq), 0);
	CU_ASSERT_EQUAL(udk_dmamap_virt2iova(b, rxq->bufs[0]->buf_addr, &iova), 0);
	CU_ASSERT_EQUAL(rxq->ring[0].addr, iova + rxq->bufs[0]->data_off);
	e1k_rxq_release(&devb, q);
	CU_ASSERT_EQUAL(udk_mempool_avail_count(mpb), 64);
	udk_mempool_free(mpb);
	udk_eal_map_mem_put(devb.mem);
	udk_dmamap_put(b);
}

int main(void)
{
	static const struct unit_test t[] = {
		{"rx: write-back, errors, tail at each wrap, empty pool", test_rx},
		{"rx: the RSS hash in the mbuf, queue 1's tail", test_rx_rss},
		{"rx interrupt: arm, disarm, a frame already there", test_rx_intr},
		{"tx: full ring, reclaim, MTU drop, segments, release", test_tx},
		{"rings and buffers on another map", test_other_map},
	};

	unit_quiet_logs();
	if (unit_add("net_e1000e", setup, teardown, t, UDK_ARRAY_SIZE(t)))
		return 1;
	return unit_run_all();
}
