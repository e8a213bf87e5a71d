/* SPDX-License-Identifier: BSD-3-Clause */
/* ring.c - net_ring: a software port over lib/ring, for tests and for
 * wiring lcores together.  "--vdev net_ring0" is a port whose transmit queue
 * q feeds its own receive queue q (loopback); "--vdev net_ring1,peer=net_ring0"
 * crosses them with an existing port instead, both ways, once both have
 * started.  Packets move by pointer: no copy, no descriptor, no DMA. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "udk_ethdev_driver.h"
#include "udk_ring.h"
#include "udk_telemetry.h"
#include "udk_util.h"

#define MAX_DESC 4096
#define MAX_MTU 9600

struct ring_rxq {
	struct udk_ring *ring;
	/* Written by the receiving lcore only, read by stats (telemetry's thread
	 * too): udk_counter_add/read. */
	uint64_t packets, bytes;
};

struct ring_txq {
	struct udk_eth_dev *dev;
	uint16_t q;
	struct udk_ring *dst;      /* the receive ring it feeds, set at start */
	uint32_t max_len;          /* MTU plus Ethernet header */
	uint64_t packets, bytes, errors, full;
};

struct ring_priv {
	char peer[64];             /* "" for loopback */
};

static void ring_info(struct udk_eth_dev *dev, struct udk_eth_dev_info *info)
{
	(void)dev;
	info->max_rx_queues = UDK_ETH_MAX_QUEUES;
	info->max_tx_queues = UDK_ETH_MAX_QUEUES;
	info->min_desc = 1;
	info->max_desc = MAX_DESC;
	info->min_mtu = 68;
	info->max_mtu = MAX_MTU;
}

static int ring_configure(struct udk_eth_dev *dev, const struct udk_eth_conf *conf)
{
	(void)dev;
	(void)conf;
	return 0;
}

static int ring_rxq_setup(struct udk_eth_dev *dev, uint16_t q, const struct udk_eth_rxq_conf *c,
			  void **queue)
{
	struct ring_rxq *rxq = calloc(1, sizeof(*rxq));
	char name[32];
	int rc;

	if (rxq == NULL)
		return -ENOMEM;
	snprintf(name, sizeof(name), "%.20s-rx%u", dev->name, q);
	/* Several transmitters (this port's and a peer's) may feed one ring. */
	rc = udk_ring_create(name, c->nb_desc, UDK_RING_SC, &rxq->ring);
	if (rc < 0) {
		free(rxq);
		return rc;
	}
	*queue = rxq;
	return 0;
}

static int ring_txq_setup(struct udk_eth_dev *dev, uint16_t q, const struct udk_eth_txq_conf *c,
			  void **queue)
{
	struct ring_txq *txq = calloc(1, sizeof(*txq));

	(void)c;
	if (txq == NULL)
		return -ENOMEM;
	txq->dev = dev;
	txq->q = q;
	*queue = txq;
	return 0;
}

/* Make every transmit queue that feeds ring (ours, or our peer's) stop
 * before the ring goes: its sends return 0 until it is started again. */
static void unlink_ring(struct udk_eth_dev *dev, struct udk_ring *ring)
{
	struct ring_priv *p = dev->priv;
	struct udk_eth_dev *feeders[2] = {dev, NULL};
	uint16_t port;

	if (p != NULL && p->peer[0] != '\0' && udk_eth_dev_find(p->peer, &port) == 0)
		feeders[1] = udk_eth_dev_get(port);
	for (int f = 0; f < 2 && feeders[f] != NULL; f++)
		for (uint16_t q = 0; q < UDK_ETH_MAX_QUEUES; q++) {
			struct ring_txq *txq = feeders[f]->txq[q];
			if (txq != NULL && txq->dst == ring)
				txq->dst = NULL;
		}
}

static void ring_rxq_release(struct udk_eth_dev *dev, void *queue)
{
	struct ring_rxq *rxq = queue;
	struct udk_mbuf *m;

	unlink_ring(dev, rxq->ring);
	while (udk_ring_dequeue_burst(rxq->ring, (void **)&m, 1) == 1)
		udk_pktmbuf_free(m);
	udk_ring_free(rxq->ring);
	free(rxq);
}

static void ring_txq_release(struct udk_eth_dev *dev, void *queue)
{
	(void)dev;
	free(queue);
}

/* Point from's transmit queues at to's receive rings, queue for queue. */
static void link_queues(struct udk_eth_dev *from, struct udk_eth_dev *to)
{
	for (uint16_t q = 0; q < from->conf.nb_tx_queues; q++) {
		struct ring_txq *txq = from->txq[q];
		if (txq == NULL)
			continue;
		txq->max_len = from->conf.mtu + UDK_ETHER_HDR_LEN;
		txq->dst = to->configured && q < to->conf.nb_rx_queues && to->rxq[q] != NULL
				   ? ((struct ring_rxq *)to->rxq[q])->ring
				   : NULL;
	}
}

/* Whichever of two crossed ports starts second completes both links: until
 * then the first one's sends return 0, as on a cable with nobody at the far
 * end. */
static int ring_start(struct udk_eth_dev *dev)
{
	struct ring_priv *p = dev->priv;
	struct udk_eth_dev *peer = NULL;
	uint16_t port;

	if (p->peer[0] == '\0') {
		link_queues(dev, dev);
		return 0;
	}
	if (udk_eth_dev_find(p->peer, &port) == 0)
		peer = udk_eth_dev_get(port);
	if (peer == NULL || !peer->started) {
		link_queues(dev, dev); /* sets max_len; dst stays NULL below */
		for (uint16_t q = 0; q < UDK_ETH_MAX_QUEUES; q++)
			if (dev->txq[q] != NULL)
				((struct ring_txq *)dev->txq[q])->dst = NULL;
		return 0;
	}
	link_queues(dev, peer);
	link_queues(peer, dev);
	return 0;
}

static void ring_stop(struct udk_eth_dev *dev)
{
	for (uint16_t q = 0; q < UDK_ETH_MAX_QUEUES; q++)
		if (dev->txq[q] != NULL)
			((struct ring_txq *)dev->txq[q])->dst = NULL;
	/* A stopped port receives nothing either: its peer's sends return 0. */
	for (uint16_t q = 0; q < UDK_ETH_MAX_QUEUES; q++)
		if (dev->rxq[q] != NULL)
			unlink_ring(dev, ((struct ring_rxq *)dev->rxq[q])->ring);
}

static void ring_close(struct udk_eth_dev *dev)
{
	struct ring_priv *p = dev->priv;
	uint16_t port;

	/* The peer goes back to loopback; it can be crossed with a new port. */
	if (p->peer[0] != '\0' && udk_eth_dev_find(p->peer, &port) == 0)
		((struct ring_priv *)udk_eth_dev_get(port)->priv)->peer[0] = '\0';
	free(dev->priv);
	dev->priv = NULL;
}

static void ring_stats_get(struct udk_eth_dev *dev, struct udk_eth_stats *st)
{
	for (uint16_t q = 0; q < UDK_ETH_MAX_QUEUES; q++) {
		struct ring_rxq *rxq = dev->rxq[q];
		struct ring_txq *txq = dev->txq[q];
		if (rxq != NULL) {
			st->ipackets += udk_counter_read(&rxq->packets);
			st->ibytes += udk_counter_read(&rxq->bytes);
		}
		if (txq != NULL) {
			st->opackets += udk_counter_read(&txq->packets);
			st->obytes += udk_counter_read(&txq->bytes);
			st->oerrors += udk_counter_read(&txq->errors);
		}
	}
}

static void ring_stats_reset(struct udk_eth_dev *dev)
{
	for (uint16_t q = 0; q < UDK_ETH_MAX_QUEUES; q++) {
		struct ring_rxq *rxq = dev->rxq[q];
		struct ring_txq *txq = dev->txq[q];
		if (rxq != NULL)
			rxq->packets = rxq->bytes = 0;
		if (txq != NULL)
			txq->packets = txq->bytes = txq->errors = txq->full = 0;
	}
}

static void ring_link_get(struct udk_eth_dev *dev, struct udk_eth_link *link)
{
	(void)dev;
	link->up = true;
	link->full_duplex = true;
	link->speed_mbps = 0; /* as fast as memory */
}

static uint16_t ring_rx_burst(void *queue, struct udk_mbuf **pkts, uint16_t n)
{
	struct ring_rxq *rxq = queue;
	uint16_t got = (uint16_t)udk_ring_dequeue_burst(rxq->ring, (void **)pkts, n);

	uint64_t bytes = 0;

	for (uint16_t i = 0; i < got; i++)
		bytes += pkts[i]->pkt_len;
	udk_counter_add(&rxq->bytes, bytes);
	udk_counter_add(&rxq->packets, got);
	return got;
}

static uint16_t ring_tx_burst(void *queue, struct udk_mbuf **pkts, uint16_t n)
{
	struct ring_txq *txq = queue;
	uint64_t bytes = 0;
	uint16_t i, sent;

	if (unlikely(txq->dst == NULL))
		return 0;
	/* A frame over the MTU is dropped and counted, as a NIC would. Keep the
	 * rest in order by compacting. */
	for (i = 0; i < n; i++)
		if (unlikely(pkts[i]->pkt_len > txq->max_len))
			break;
	if (unlikely(i < n)) {
		uint16_t k = i;
		for (; i < n; i++) {
			if (pkts[i]->pkt_len > txq->max_len) {
				udk_counter_add(&txq->errors, 1);
				udk_pktmbuf_free(pkts[i]);
			} else {
				pkts[k++] = pkts[i];
			}
		}
		for (uint16_t j = 0; j < k; j++)
			bytes += pkts[j]->pkt_len;
		sent = (uint16_t)udk_ring_enqueue_burst(txq->dst, (void **)pkts, k);
		/* The dropped ones count as taken; the unsent tail moves up. */
		for (uint16_t j = sent; j < k; j++)
			bytes -= pkts[j]->pkt_len;
		udk_counter_add(&txq->bytes, bytes);
		udk_counter_add(&txq->packets, sent);
		txq->full += k - sent;
		memmove(&pkts[n - (k - sent)], &pkts[sent], (k - sent) * sizeof(*pkts));
		return (uint16_t)(n - (k - sent));
	}
	/* Lengths are read before the enqueue: from then on the receiving
	 * lcore owns the frames (and may already have freed them); the ones
	 * the ring did not take are still ours. */
	for (i = 0; i < n; i++)
		bytes += pkts[i]->pkt_len;
	sent = (uint16_t)udk_ring_enqueue_burst(txq->dst, (void **)pkts, n);
	for (i = sent; i < n; i++)
		bytes -= pkts[i]->pkt_len;
	udk_counter_add(&txq->bytes, bytes);
	udk_counter_add(&txq->packets, sent);
	txq->full += n - sent;
	return sent;
}

static const struct udk_eth_ops ring_ops = {
	.info = ring_info,
	.configure = ring_configure,
	.rxq_setup = ring_rxq_setup,
	.txq_setup = ring_txq_setup,
	.rxq_release = ring_rxq_release,
	.txq_release = ring_txq_release,
	.start = ring_start,
	.stop = ring_stop,
	.close = ring_close,
	.stats_get = ring_stats_get,
	.stats_reset = ring_stats_reset,
	.link_get = ring_link_get,
	.rx_burst = ring_rx_burst,
	.tx_burst = ring_tx_burst,
};

static int ring_probe_vdev(struct udk_eth_dev *dev, const char *name, const char *args)
{
	struct ring_priv *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -ENOMEM;
	if (strncmp(args, "peer=", 5) == 0 && args[5] != '\0' && strchr(args, ',') == NULL) {
		uint16_t port;
		struct udk_eth_dev *peer;

		/* The peer exists already and takes us as its peer: both ways. */
		if (udk_eth_dev_find(args + 5, &port) < 0 ||
		    (peer = udk_eth_dev_get(port))->drv != dev->drv ||
		    ((struct ring_priv *)peer->priv)->peer[0] != '\0') {
			udk_log(UDK_LOG_ERR, "net_ring", "--vdev %s,%s: the peer must be an earlier "
				"net_ring port without a peer of its own", name, args);
			free(p);
			return -EINVAL;
		}
		snprintf(p->peer, sizeof(p->peer), "%s", args + 5);
		snprintf(((struct ring_priv *)peer->priv)->peer, sizeof(p->peer), "%s", name);
	} else if (args[0] != '\0') {
		udk_log(UDK_LOG_ERR, "net_ring", "--vdev %s,%s: unknown arguments (net_ring takes "
			"only peer=NAME)", name, args);
		free(p);
		return -EINVAL;
	}
	dev->priv = p;
	/* A locally administered address that names the port. */
	dev->mac = (struct udk_ether_addr){{0x02, 0x72, 0x69, 0x6e, 0x67, (uint8_t)dev->port}};
	return 0;
}

static struct udk_eth_driver net_ring = {
	.name = "net_ring",
	.ops = &ring_ops,
	.vdev_prefix = "net_ring",
	.probe_vdev = ring_probe_vdev,
};

UDK_NET_DRIVER(net_ring, net_ring)
