/* SPDX-License-Identifier: BSD-3-Clause */
/* virtio_net.c - net_virtio: the virtio network device (virtio 1.1 §5.1) as
 * a udk port, over any transport of virtio_dev.h (PCI: -a BDF; vhost-user:
 * --vdev virtio_user0,path=SOCK).  Receive and transmit queue pairs
 * (virtqueues 2q and 2q+1, §5.1.2), split or packed rings, buffers straight
 * from mbufs with the 12-byte virtio_net_hdr in their headroom, mergeable
 * receive buffers as mbuf chains, polled bursts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "udk_eal.h"
#include "udk_util.h"
#include "virtio_net_offload.h"
#include "virtio_net_priv.h"

static void free_mbuf(void *cookie, void *arg)
{
	(void)arg;
	udk_pktmbuf_free(cookie);
}

static void vnet_info(struct udk_eth_dev *dev, struct udk_eth_dev_info *info)
{
	struct vnet *vn = dev->priv;

	/* Queue pairs: more than one needs VIRTIO_NET_F_MQ (§5.1.6.5.5). */
	info->max_rx_queues = vn->max_pairs;
	info->max_tx_queues = vn->max_pairs;
	info->min_desc = 1;
	info->max_desc = vn->qmax;
	info->min_mtu = VNET_MIN_MTU;
	/* Without VIRTIO_NET_F_MTU or mergeable buffers the device's frames
	 * are Ethernet's. */
	info->max_mtu = vn->mrg ? VNET_MRG_MAX_MTU : UDK_ETHER_MTU;
}

static int vnet_quiesce(struct udk_eth_dev *dev);

#define VNET_RX_OFFLOADS (UDK_ETH_RX_OFFLOAD_UDP_CKSUM | UDK_ETH_RX_OFFLOAD_TCP_CKSUM)
#define VNET_TX_OFFLOADS (UDK_ETH_TX_OFFLOAD_UDP_CKSUM | UDK_ETH_TX_OFFLOAD_TCP_CKSUM |      \
			  UDK_ETH_TX_OFFLOAD_TCP_TSO)
#define VNET_OFFLOAD_FEATURES (VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |                       \
			       VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4))

/* The offload features conf asks for (in *want), or -ENOTSUP after naming
 * what net_virtio or the device lacks.  Negotiated only when asked, as
 * DPDK's PMD does: with GUEST_CSUM the device may hand over frames whose
 * checksum is partial, which an application unaware of ol_flags would pass
 * on as they are; with CSUM or TSO a back-end (DPDK's vhost) reads every
 * frame's header for them. */
static int offload_features(const struct udk_eth_dev *dev, const struct udk_eth_conf *conf,
			    uint64_t *want)
{
	static const struct {
		uint64_t rx, tx, features;
		const char *name;
	} map[] = {
		{VNET_RX_OFFLOADS, 0, VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM), "VIRTIO_NET_F_GUEST_CSUM"},
		{0, UDK_ETH_TX_OFFLOAD_UDP_CKSUM | UDK_ETH_TX_OFFLOAD_TCP_CKSUM,
		 VIRTIO_BIT(VIRTIO_NET_F_CSUM), "VIRTIO_NET_F_CSUM"},
		{0, UDK_ETH_TX_OFFLOAD_TCP_TSO,
		 VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4),
		 "VIRTIO_NET_F_HOST_TSO4 (with VIRTIO_NET_F_CSUM)"},
	};
	const struct virtio_dev *vd = ((const struct vnet *)dev->priv)->vd;

	if ((conf->rx_offloads & ~VNET_RX_OFFLOADS) || (conf->tx_offloads & ~VNET_TX_OFFLOADS)) {
		udk_log(UDK_LOG_ERR, LOG, "configure port %u: rx offloads 0x%llx, tx offloads 0x%llx "
			"asked; net_virtio offers rx UDK_ETH_RX_OFFLOAD_UDP_CKSUM and _TCP_CKSUM, tx "
			"UDK_ETH_TX_OFFLOAD_UDP_CKSUM, _TCP_CKSUM and _TCP_TSO only", dev->port,
			(unsigned long long)conf->rx_offloads, (unsigned long long)conf->tx_offloads);
		return -ENOTSUP;
	}
	*want = 0;
	for (size_t i = 0; i < UDK_ARRAY_SIZE(map); i++) {
		if (!(conf->rx_offloads & map[i].rx) && !(conf->tx_offloads & map[i].tx))
			continue;
		if ((vd->device_features & map[i].features) != map[i].features) {
			udk_log(UDK_LOG_ERR, LOG, "configure port %u (%s): the offloads asked need "
				"%s, which the device does not offer; configure without them",
				dev->port, vd->name, map[i].name);
			return -ENOTSUP;
		}
		*want |= map[i].features;
	}
	return 0;
}

/* §5.1.2: queues come in pairs, receiveqN and transmitqN.  Offloads change
 * the features, which are set only between reset and FEATURES_OK (§3.1.1):
 * the device is reset and negotiated again when they change. */
static int vnet_configure(struct udk_eth_dev *dev, const struct udk_eth_conf *conf)
{
	struct vnet *vn = dev->priv;
	uint64_t want;
	int rc;

	if (conf->nb_rx_queues != conf->nb_tx_queues) {
		udk_log(UDK_LOG_ERR, LOG, "configure port %u: %u rx and %u tx queues; virtio-net "
			"queues come in pairs (virtio 1.1 §5.1.2): ask for as many of each",
			dev->port, conf->nb_rx_queues, conf->nb_tx_queues);
		return -EINVAL;
	}
	rc = offload_features(dev, conf, &want);
	if (rc < 0)
		return rc;
	want |= vn->wanted & ~VNET_OFFLOAD_FEATURES;
	if (want == vn->wanted)
		return 0;
	vn->wanted = want;
	return vnet_quiesce(dev);
}

/* Queue memory from the heap of the device's map (dev->mem), with its IOVA
 * in that map (the default heap for a vhost-user port); the ring format the
 * device and udk agreed on. */
static int queue_mem(struct udk_eth_dev *dev, const char *kind, uint16_t idx, uint16_t n,
		     int socket, void **mem, struct virtq **vq)
{
	uint64_t features = ((struct vnet *)dev->priv)->vd->features, iova;
	bool packed = (features & VIRTIO_BIT(VIRTIO_F_RING_PACKED)) != 0;
	int rc;

	if (!packed && !UDK_IS_POW2(n)) {
		udk_log(UDK_LOG_ERR, LOG, "%s queue of port %u: %u descriptors; a split virtqueue "
			"has a power of two (virtio 1.1 §2.6)", kind, dev->port, n);
		return -EINVAL;
	}
	*mem = udk_mem_zmalloc(dev->mem, packed ? virtq_packed_mem_size(n) : virtq_mem_size(n),
			       4096, socket);
	if (*mem == NULL)
		return -ENOMEM; /* lib/mem said why */
	iova = udk_mem_virt2iova(dev->mem, *mem);
	if (iova == UDK_IOVA_BAD) {
		udk_log(UDK_LOG_ERR, LOG, "%s queue of port %u: its memory has no IOVA in the "
			"device's map", kind, dev->port);
		rc = -UDK_ENOTMAPPED;
		goto err_free;
	}
	rc = packed ? virtq_create_packed(idx, n, *mem, iova, vq) : virtq_create(idx, n, *mem, iova, vq);
	if (rc < 0)
		goto err_free;
	(*vq)->event_idx = (features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX)) != 0;
	return 0;

err_free:
	udk_mem_free(dev->mem, *mem);
	*mem = NULL;
	return rc;
}

static int vnet_rxq_setup(struct udk_eth_dev *dev, uint16_t q, const struct udk_eth_rxq_conf *c,
			  void **queue)
{
	struct vnet_rxq *rxq;
	struct udk_mbuf *m;
	uint32_t room;
	int rc;

	/* §5.1.6.3.1: a buffer must hold a whole frame after the headroom. */
	m = udk_pktmbuf_alloc(c->mp);
	if (m == NULL) {
		udk_log(UDK_LOG_ERR, LOG, "rx queue %u of port %u: mempool %s is empty", q,
			dev->port, c->mp->name);
		return -ENOBUFS;
	}
	room = (uint32_t)m->buf_len - m->data_off;
	udk_pktmbuf_free(m);
	if ((room < VNET_MAX_FRAME && !((struct vnet *)dev->priv)->mrg) ||
	    UDK_PKTMBUF_HEADROOM < VNET_HDR_HASH_LEN) {
		udk_log(UDK_LOG_ERR, LOG, "rx queue %u of port %u: mbufs of mempool %s hold %u bytes "
			"after the headroom; virtio-net without mergeable buffers needs %u per "
			"frame", q, dev->port, c->mp->name, room, VNET_MAX_FRAME);
		return -EINVAL;
	}
	rxq = calloc(1, sizeof(*rxq));
	if (rxq == NULL)
		return -ENOMEM;
	rc = queue_mem(dev, "rx", (uint16_t)(2 * q), c->nb_desc, c->socket, &rxq->mem, &rxq->vq);
	if (rc < 0) {
		free(rxq);
		return rc;
	}
	rxq->mp = c->mp;
	rxq->port = dev->port;
	rxq->intr_fd = -1;
	rxq->mrg = ((struct vnet *)dev->priv)->mrg;
	rxq->hdr_len = ((struct vnet *)dev->priv)->hdr_len;
	rxq->hash = rxq->hdr_len == VNET_HDR_HASH_LEN;
	rxq->refill_min = c->nb_desc >= 4 * VNET_REFILL_BATCH ? VNET_REFILL_BATCH : 1;
	*queue = rxq;
	return 0;
}

static int vnet_txq_setup(struct udk_eth_dev *dev, uint16_t q, const struct udk_eth_txq_conf *c,
			  void **queue)
{
	struct vnet_txq *txq = calloc(1, sizeof(*txq));
	int rc;

	if (txq == NULL)
		return -ENOMEM;
	rc = queue_mem(dev, "tx", (uint16_t)(2 * q + 1), c->nb_desc, c->socket, &txq->mem,
		       &txq->vq);
	if (rc < 0)
		goto err_free;
	txq->hdrs = udk_mem_zmalloc(dev->mem, (size_t)c->nb_desc * VNET_HDR_SLOT, 64, c->socket);
	if (txq->hdrs == NULL) {
		rc = -ENOMEM;
		goto err_vq;
	}
	txq->hdrs_iova = udk_mem_virt2iova(dev->mem, txq->hdrs);
	txq->max_len = dev->conf.mtu + UDK_ETHER_HDR_LEN;
	txq->hdr_len = ((struct vnet *)dev->priv)->hdr_len;
	*queue = txq;
	return 0;

err_vq:
	virtq_free(txq->vq, NULL, NULL);
	udk_mem_free(dev->mem, txq->mem);
err_free:
	free(txq);
	return rc;
}

/* The frame being assembled from mergeable buffers, dropped. */
static void rx_drop_pending(struct vnet_rxq *rxq)
{
	if (rxq->pend != NULL)
		udk_pktmbuf_free(rxq->pend);
	rxq->pend = rxq->pend_last = NULL;
	rxq->pend_left = 0;
}

static void vnet_rxq_release(struct udk_eth_dev *dev, void *queue)
{
	struct vnet_rxq *rxq = queue;
	bool stuck = ((struct vnet *)dev->priv)->stuck;

	/* The port is stopped: the device is reset and holds nothing, unless
	 * its reset failed; then its memory is left to it. */
	rx_drop_pending(rxq);
	virtq_free(rxq->vq, stuck ? NULL : free_mbuf, NULL);
	if (!stuck)
		udk_mem_free(dev->mem, rxq->mem);
	free(rxq);
}

static void vnet_txq_release(struct udk_eth_dev *dev, void *queue)
{
	struct vnet_txq *txq = queue;
	bool stuck = ((struct vnet *)dev->priv)->stuck;

	virtq_free(txq->vq, stuck ? NULL : free_mbuf, NULL);
	if (!stuck) {
		udk_mem_free(dev->mem, txq->mem);
		udk_mem_free(dev->mem, txq->hdrs);
	}
	free(txq);
}

/* ---- fast path ---- */

/* Put as many empty mbufs on the receive queue as it has room for, in
 * batches; the header goes in the headroom so the frame lands at data_off
 * (§5.1.6.3: the buffer starts with struct virtio_net_hdr).  Returns how
 * many; the caller publishes them. */
static inline uint16_t rx_fill(struct vnet_rxq *rxq)
{
	struct virtq *vq = rxq->vq;
	struct udk_mbuf *ms[VNET_REFILL_BATCH];
	struct virtq_chain ch;
	uint16_t added = 0;

	while (vq->num_free > 0) {
		uint16_t k = vq->num_free < VNET_REFILL_BATCH ? vq->num_free : VNET_REFILL_BATCH;

		/* A pool short of a whole batch still gives what it has. */
		while (unlikely(udk_pktmbuf_alloc_bulk(rxq->mp, ms, k) != 0)) {
			if (k == 1) {
				/* Each buffer the device returned that could not be
				 * replaced counts once, however often we retry. */
				if (vq->num_free > rxq->unfilled)
					udk_counter_add(&rxq->nombuf, (uint16_t)(vq->num_free - rxq->unfilled));
				rxq->unfilled = vq->num_free;
				return added;
			}
			k /= 2;
		}
		for (uint16_t i = 0; i < k; i++) {
			struct udk_mbuf *m = ms[i];

			virtq_chain_start(vq, &ch, 1, m);
			virtq_chain_add(vq, &ch, m->buf_iova + m->data_off - rxq->hdr_len,
					(uint32_t)(m->buf_len - m->data_off) + rxq->hdr_len, true);
			virtq_chain_end(vq, &ch);
		}
		added = (uint16_t)(added + k);
	}
	rxq->unfilled = 0;
	return added;
}

/* The end of every receive burst: count, refill, one doorbell per burst if
 * the device wants one. */
static inline uint16_t rx_done(struct vnet_rxq *rxq, uint16_t got, uint64_t bytes)
{
	struct virtq *vq = rxq->vq;

	udk_counter_add(&rxq->packets, got);
	udk_counter_add(&rxq->bytes, bytes);
	if (vq->num_free >= rxq->refill_min && rx_fill(rxq) != 0) {
		virtq_publish(vq);
		virtq_kick(vq);
	}
	return got;
}

/* §5.1.6.4.2: with VIRTIO_NET_F_MRG_RXBUF the header of a frame's first
 * buffer says how many buffers (num_buffers) the frame fills; the others
 * carry data from their first byte, which udk placed hdr_len bytes before
 * data_off.  They become the frame's segments.  A frame whose buffers are
 * not all used yet waits in pend for the next burst. */
static uint16_t rx_burst_mrg(struct vnet_rxq *rxq, struct udk_mbuf **pkts, uint16_t n)
{
	struct virtq *vq = rxq->vq;
	uint16_t ready = virtq_used_count(vq), got = 0;
	uint64_t bytes = 0;

	for (; ready > 0 && got < n; ready--) {
		uint32_t len;
		struct udk_mbuf *m = virtq_used_take(vq, &len);
		uint32_t room;
		uint16_t nbuf;

		if (unlikely(m == NULL)) {
			udk_counter_add(&rxq->errors, 1);
			rx_drop_pending(rxq);
			continue;
		}
		room = (uint32_t)(m->buf_len - m->data_off) + rxq->hdr_len;
		if (rxq->pend_left > 0) {
			if (unlikely(len == 0 || len > room)) {
				udk_pktmbuf_free(m);
				udk_counter_add(&rxq->errors, 1);
				rx_drop_pending(rxq);
				continue;
			}
			m->data_off = (uint16_t)(m->data_off - rxq->hdr_len);
			m->data_len = (uint16_t)len;
			rxq->pend_last->next = m;
			rxq->pend_last = m;
			rxq->pend->nb_segs++;
			rxq->pend->pkt_len += len;
			if (--rxq->pend_left > 0)
				continue;
			m = rxq->pend;
			rxq->pend = rxq->pend_last = NULL;
		} else {
			const struct virtio_net_hdr *h = (const struct virtio_net_hdr *)
				((const uint8_t *)m->buf_addr + m->data_off - rxq->hdr_len);

			nbuf = le16toh(h->num_buffers);
			if (unlikely(!vnet_rx_len_ok(m, len, rxq->hdr_len) || nbuf == 0 ||
				     nbuf > vq->size)) {
				udk_counter_add(&rxq->errors, 1);
				udk_pktmbuf_free(m);
				continue;
			}
			if (rxq->csum)
				m->ol_flags = vnet_rx_csum_flags(h);
			len -= rxq->hdr_len;
			m->data_len = (uint16_t)len;
			m->pkt_len = len;
			m->port = rxq->port;
			if (rxq->hash)
				vnet_rx_hash(m, h);
			if (nbuf > 1) {
				rxq->pend = rxq->pend_last = m;
				rxq->pend_left = (uint16_t)(nbuf - 1);
				continue;
			}
		}
		pkts[got++] = m;
		bytes += m->pkt_len;
	}
	return rx_done(rxq, got, bytes);
}

static uint16_t vnet_rx_burst(void *queue, struct udk_mbuf **pkts, uint16_t n)
{
	struct vnet_rxq *rxq = queue;
	struct virtq *vq = rxq->vq;
	uint16_t ready, got = 0;
	uint64_t bytes = 0;

	if (rxq->mrg)
		return rx_burst_mrg(rxq, pkts, n);
	ready = virtq_used_count(vq);
	if (ready > n)
		ready = n;
	for (uint16_t i = 0; i < ready; i++) {
		uint32_t len;
		struct udk_mbuf *m = virtq_used_take(vq, &len);

		if (unlikely(m == NULL)) {
			udk_counter_add(&rxq->errors, 1); /* the device named a chain it was not given */
			continue;
		}
		if (unlikely(!vnet_rx_len_ok(m, len, rxq->hdr_len))) {
			udk_counter_add(&rxq->errors, 1);
			udk_pktmbuf_free(m);
			continue;
		}
		if (rxq->csum)
			m->ol_flags = vnet_rx_csum_flags((const struct virtio_net_hdr *)
				((const uint8_t *)m->buf_addr + m->data_off - rxq->hdr_len));
		len -= rxq->hdr_len;
		m->data_len = (uint16_t)len;
		m->pkt_len = len;
		m->port = rxq->port;
		if (rxq->hash)
			vnet_rx_hash(m, (const uint8_t *)m->buf_addr + m->data_off - rxq->hdr_len);
		pkts[got++] = m;
		bytes += len;
	}
	return rx_done(rxq, got, bytes);
}

/* Free what the device has sent (§2.6.14), in bulk: one trip to the
 * mempool cache per batch, not per mbuf. */
static inline void tx_clean(struct vnet_txq *txq)
{
	struct virtq *vq = txq->vq;
	struct udk_mbuf *done[VNET_REFILL_BATCH];
	uint16_t left = virtq_used_count(vq);

	while (left > 0) {
		uint16_t k = left < VNET_REFILL_BATCH ? left : VNET_REFILL_BATCH, n = 0;

		for (uint16_t i = 0; i < k; i++) {
			uint32_t len;
			struct udk_mbuf *m = virtq_used_take(vq, &len);

			if (likely(m != NULL))
				done[n++] = m;
		}
		udk_pktmbuf_free_bulk(done, n);
		left = (uint16_t)(left - k);
	}
}

/* Non-empty segments of m: a zero-length descriptor is not a buffer. */
static inline uint32_t tx_segs(const struct udk_mbuf *m)
{
	uint32_t n = 0;

	for (; m != NULL; m = m->next)
		n += m->data_len != 0;
	return n;
}

static uint16_t vnet_tx_burst(void *queue, struct udk_mbuf **pkts, uint16_t n)
{
	struct vnet_txq *txq = queue;
	struct virtq *vq = txq->vq;
	struct virtq_chain ch;
	uint64_t bytes = 0, sent = 0;
	uint16_t i;
	int csum_off;

	tx_clean(txq);
	for (i = 0; i < n; i++) {
		struct udk_mbuf *m = pkts[i];
		uint32_t len = m->pkt_len;
		/* The header goes in the first segment's headroom when we own it
		 * alone; else it is a descriptor of its own. */
		bool inplace = m->data_off >= txq->hdr_len && m->data_len != 0 &&
			       udk_mbuf_refcnt_read(m) == 1;
		uint32_t need = (m->next == NULL ? 1 : tx_segs(m)) + !inplace;

		/* The header goes just before the frame, on a line the peer (or
		 * another lcore) wrote last: ask for it a few frames ahead. */
		if (i + VNET_TX_PREFETCH < n) {
			const struct udk_mbuf *a = pkts[i + VNET_TX_PREFETCH];

			__builtin_prefetch((const char *)a->buf_addr + a->data_off - txq->hdr_len, 1);
		}

		/* Frames over the MTU or without an Ethernet header are dropped
		 * and counted, as a NIC would; they count as taken. */
		if (unlikely((len > txq->max_len &&
			      !(len <= VNET_TSO_MAX_FRAME && (m->ol_flags & UDK_MBUF_F_TX_TCP_SEG))) ||
			     len < UDK_ETHER_HDR_LEN || need > vq->size)) {
			udk_counter_add(&txq->errors, 1);
			udk_pktmbuf_free(m);
			continue;
		}
		if (unlikely(need > vq->num_free))
			break; /* the ring is full: the caller keeps pkts[i..n-1] */
		/* A checksum asked of a device that cannot fill it is computed
		 * here; one that cannot be done (bad lengths) is an error. */
		csum_off = 0;
		if (unlikely(m->ol_flags & (UDK_MBUF_F_TX_L4_MASK | UDK_MBUF_F_TX_TCP_SEG))) {
			bool tso = (m->ol_flags & UDK_MBUF_F_TX_TCP_SEG) != 0;

			csum_off = vnet_tx_csum_off(m);
			/* No segmentation in software: a device without TSO
			 * cannot send the frame. */
			if (csum_off < 0 || (tso && !txq->tso)) {
				udk_counter_add(&txq->errors, 1);
				udk_pktmbuf_free(m);
				continue;
			}
			if (tso)
				vnet_tso_fix_csum(m);
			else if (!txq->csum) {
				vnet_tx_csum_sw(m, csum_off);
				csum_off = 0;
			}
		}
		virtq_chain_start(vq, &ch, (uint16_t)need, m);
		if (inplace) {
			void *h = udk_pktmbuf_prepend(m, txq->hdr_len);

			memset(h, 0, txq->hdr_len); /* the hash fields too (§5.1.6.2) */
			vnet_tx_hdr(h, m, csum_off);
		} else {
			vnet_tx_hdr((struct virtio_net_hdr *)((uint8_t *)txq->hdrs +
							       (size_t)ch.head * VNET_HDR_SLOT),
				    m, csum_off);
			virtq_chain_add(vq, &ch, txq->hdrs_iova + (uint64_t)ch.head * VNET_HDR_SLOT,
					txq->hdr_len, false);
		}
		for (struct udk_mbuf *s = m; s != NULL; s = s->next)
			if (s->data_len != 0)
				virtq_chain_add(vq, &ch, udk_pktmbuf_iova(s), s->data_len, false);
		virtq_chain_end(vq, &ch);
		bytes += len;
		sent++;
	}
	if (sent != 0) {
		virtq_publish(vq);
		virtq_kick(vq); /* one doorbell per burst, if the device wants one */
	}
	udk_counter_add(&txq->packets, sent);
	udk_counter_add(&txq->bytes, bytes);
	return i;
}

/* ---- control ---- */

/* Back to the state probe left: the device reset and its features
 * negotiated again, every queue empty (their mbufs freed). */
static int vnet_quiesce(struct udk_eth_dev *dev)
{
	struct vnet *vn = dev->priv;
	int rc = virtio_dev_negotiate(vn->vd, vn->wanted);

	/* A device that did not come out of reset may still write into the
	 * buffers: better to leak them than to hand them out again. */
	if (rc == -ETIMEDOUT) {
		udk_log(UDK_LOG_WARN, LOG, "port %u: the device did not reset; its rings and the "
			"mbufs in them are not freed", dev->port);
		vn->stuck = true;
		return rc;
	}
	vnet_ctrl_reset(&vn->ctrl);
	for (uint16_t q = 0; q < UDK_ETH_MAX_QUEUES; q++) {
		if (dev->rxq[q] != NULL) {
			virtq_reset(((struct vnet_rxq *)dev->rxq[q])->vq, free_mbuf, NULL);
			((struct vnet_rxq *)dev->rxq[q])->unfilled = 0;
			rx_drop_pending(dev->rxq[q]);
		}
		if (dev->txq[q] != NULL)
			virtq_reset(((struct vnet_txq *)dev->txq[q])->vq, free_mbuf, NULL);
	}
	return rc;
}


/* §3.1.1 steps 7-8 and §5.1.5: give the queues to the device, fill the
 * receive queue, DRIVER_OK, and only then notify (§3.1.1: no notification
 * before DRIVER_OK). */
static int vnet_start(struct udk_eth_dev *dev)
{
	struct vnet *vn = dev->priv;
	struct virtio_dev *vd = vn->vd;
	uint16_t nq = dev->conf.nb_rx_queues;
	int rc = 0;

	/* Over PCI each receive queue gets an MSI-X vector (rx interrupts). */
	vd->intr_queues = 0;
	for (uint16_t q = 0; q < nq; q++)
		vd->intr_queues |= 1ULL << ((struct vnet_rxq *)dev->rxq[q])->vq->index;
	for (uint16_t q = 0; q < nq && rc == 0; q++) {
		rc = vd->ops->queue_enable(vd, ((struct vnet_rxq *)dev->rxq[q])->vq);
		if (rc == 0)
			rc = vd->ops->queue_enable(vd, ((struct vnet_txq *)dev->txq[q])->vq);
	}
	if (rc == 0 && (vd->features & VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ)))
		rc = vnet_ctrl_setup(&vn->ctrl, vd, dev->mem, (uint16_t)(2 * vn->dev_pairs),
				     dev->name);
	if (rc < 0)
		goto err;
	for (uint16_t q = 0; q < nq; q++) {
		struct vnet_rxq *rxq = dev->rxq[q];

		if (rx_fill(rxq) == 0) {
			udk_log(UDK_LOG_ERR, LOG, "start port %u: mempool %s has no mbuf for receive "
				"queue %u", dev->port, rxq->mp->name, q);
			rc = -ENOBUFS;
			goto err;
		}
		virtq_publish(rxq->vq);
		rxq->csum = (vd->features & VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM)) != 0;
		((struct vnet_txq *)dev->txq[q])->max_len = dev->conf.mtu + UDK_ETHER_HDR_LEN;
		((struct vnet_txq *)dev->txq[q])->csum =
			(vd->features & VIRTIO_BIT(VIRTIO_NET_F_CSUM)) != 0;
		((struct vnet_txq *)dev->txq[q])->tso =
			(vd->features & VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4)) != 0;
	}
	vd->ops->set_status(vd, vd->ops->get_status(vd) | VIRTIO_STATUS_DRIVER_OK);
	if (vd->ops->get_status(vd) & VIRTIO_STATUS_NEEDS_RESET) {
		udk_log(UDK_LOG_ERR, LOG, "start port %u (%s): the device set DEVICE_NEEDS_RESET "
			"after DRIVER_OK", dev->port, vd->name);
		rc = -EIO;
		goto err;
	}
	for (uint16_t q = 0; q < nq; q++)
		virtq_kick(((struct vnet_rxq *)dev->rxq[q])->vq);
	/* §5.1.6.5.5: until told otherwise the device uses receiveq1 only.
	 * Over vhost-user there is no control queue: the rings given to the
	 * back-end are the pairs.  A device that reports hashes computes them
	 * only once it has an RSS configuration, even for one pair; one the
	 * application configured is sent for one pair too. */
	if ((vd->features & VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ)) &&
	    (nq > 1 || (vn->rss_table_len != 0 && (vn->hdr_len == VNET_HDR_HASH_LEN ||
						   vn->user_key || vn->user_reta)))) {
		rc = vnet_steer(dev, nq);
		if (rc < 0)
			goto err;
	}
	return 0;

err:
	vnet_quiesce(dev);
	return rc;
}

static void vnet_stop(struct udk_eth_dev *dev)
{
	if (vnet_quiesce(dev) < 0)
		udk_log(UDK_LOG_WARN, LOG, "stop port %u: the device could not be set up again "
			"after its reset; the next start will fail", dev->port);
}

static void vnet_close(struct udk_eth_dev *dev)
{
	struct vnet *vn = dev->priv;

	vn->vd->ops->close(vn->vd);
	vnet_ctrl_free(&vn->ctrl);
	free(vn);
	dev->priv = NULL;
}

/* The sums over every queue pair. */
static void vnet_stats_get(struct udk_eth_dev *dev, struct udk_eth_stats *st)
{
	for (uint16_t q = 0; q < UDK_ETH_MAX_QUEUES; q++) {
		struct vnet_rxq *rxq = dev->rxq[q];
		struct vnet_txq *txq = dev->txq[q];

		if (rxq != NULL) {
			st->ipackets += udk_counter_read(&rxq->packets);
			st->ibytes += udk_counter_read(&rxq->bytes);
			st->ierrors += udk_counter_read(&rxq->errors);
			/* Receive buffers the device gave back that the pool could
			 * not replace (each once): slots the device could not use.
			 * virtio reports no drops of its own, so this is also
			 * imissed. */
			st->rx_nombuf += udk_counter_read(&rxq->nombuf);
			st->imissed += udk_counter_read(&rxq->nombuf);
		}
		if (txq != NULL) {
			st->opackets += udk_counter_read(&txq->packets);
			st->obytes += udk_counter_read(&txq->bytes);
			/* Frames a vhost-user back-end took with it when it went
			 * away (virtq_complete_pending): sent, never confirmed. */
			st->oerrors += udk_counter_read(&txq->errors) +
				       udk_counter_read(&txq->vq->lost);
		}
	}
}

static void stats_reset_pair(struct vnet_rxq *rxq, struct vnet_txq *txq)
{
	if (rxq != NULL) {
		__atomic_store_n(&rxq->packets, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&rxq->bytes, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&rxq->errors, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&rxq->nombuf, 0, __ATOMIC_RELAXED);
	}
	if (txq != NULL) {
		__atomic_store_n(&txq->packets, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&txq->bytes, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&txq->errors, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&txq->vq->lost, 0, __ATOMIC_RELAXED);
	}
}

static void vnet_stats_reset(struct udk_eth_dev *dev)
{
	for (uint16_t q = 0; q < UDK_ETH_MAX_QUEUES; q++)
		stats_reset_pair(dev->rxq[q], dev->txq[q]);
}


/* §5.1.4: the status field, when VIRTIO_NET_F_STATUS was negotiated;
 * without it the link is to be taken as up.  The speed is unknown without
 * VIRTIO_NET_F_SPEED_DUPLEX. */
static void vnet_link_get(struct udk_eth_dev *dev, struct udk_eth_link *link)
{
	struct vnet *vn = dev->priv;
	uint16_t status = VIRTIO_NET_S_LINK_UP;

	if (vn->vd->features & VIRTIO_BIT(VIRTIO_NET_F_STATUS)) {
		if (vn->vd->ops->read_config(vn->vd, VNET_CFG_STATUS, &status, 2) < 0)
			status = 0;
		status = le16toh(status);
	}
	link->up = (status & VIRTIO_NET_S_LINK_UP) != 0;
	link->full_duplex = true;
	link->speed_mbps = 0;
}

/* Filtering needs the control queue (VIRTIO_NET_F_CTRL_RX, §5.1.6.5.1),
 * which udk does not negotiate: such a device receives every frame (QEMU's
 * default is promiscuous). */
static int vnet_promiscuous_set(struct udk_eth_dev *dev, bool on)
{
	if (on)
		return 0;
	/* start() applies the configured mode before the port counts as started;
	 * only a user's explicit request is an error. */
	if (!dev->started)
		return 0;
	udk_log(UDK_LOG_ERR, LOG, "port %u: promiscuous mode cannot be turned off: it needs the "
		"control queue (VIRTIO_NET_F_CTRL_RX), which net_virtio does not use", dev->port);
	return -ENOTSUP;
}


static const struct udk_eth_ops vnet_ops = {
	.info = vnet_info,
	.configure = vnet_configure,
	.rxq_setup = vnet_rxq_setup,
	.txq_setup = vnet_txq_setup,
	.rxq_release = vnet_rxq_release,
	.txq_release = vnet_txq_release,
	.start = vnet_start,
	.stop = vnet_stop,
	.close = vnet_close,
	.stats_get = vnet_stats_get,
	.stats_reset = vnet_stats_reset,
	.link_get = vnet_link_get,
	.promiscuous_set = vnet_promiscuous_set,
	.rx_burst = vnet_rx_burst,
	.tx_burst = vnet_tx_burst,
	.rx_intr_fd = vnet_rx_intr_fd,
	.rx_intr_arm = vnet_rx_intr_arm,
	.rx_intr_disarm = vnet_rx_intr_disarm,
	.rss_limits = vnet_rss_limits_get,
	.rss_set = vnet_rss_set,
};

/* The transport's thread: the device went away or came back (the link
 * status of vnet_link_get says the same). */
static void vnet_link_changed(void *arg, bool up)
{
	struct vnet *vn = arg;
	struct udk_eth_link link = {.up = up, .full_duplex = true};

	udk_eth_link_event(vn->port, &link);
}


/* §5.1.5: negotiate, read the MAC (or make a random local one), learn the
 * queue sizes.  The device stays at FEATURES_OK until start. */
static int vnet_init(struct udk_eth_dev *dev, struct virtio_dev *vd)
{
	/* Over vhost-user the rings set the pairs; elsewhere the control
	 * queue does (§5.1.6.5.5), and steers with RSS if the device has it. */
	uint64_t wanted = VNET_FEATURES | VIRTIO_BIT(VIRTIO_NET_F_MQ) |
			  (vd->pairs_by_rings ? 0 : VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ) |
						     VIRTIO_BIT(VIRTIO_NET_F_RSS) |
						     VIRTIO_BIT(VIRTIO_NET_F_HASH_REPORT)) |
			  (vd->mrg_ok ? VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) : 0);
	struct vnet *vn;
	uint16_t rxmax, txmax;
	int rc;

	rc = virtio_dev_negotiate(vd, wanted);
	if (rc < 0)
		return rc;
	rxmax = vd->ops->queue_max(vd, 0);
	txmax = vd->ops->queue_max(vd, 1);
	if (rxmax == 0 || txmax == 0) {
		udk_log(UDK_LOG_ERR, LOG, "%s: the device has no receiveq1/transmitq1 (queue sizes "
			"%u and %u)", vd->name, rxmax, txmax);
		return -ENODEV;
	}
	vn = calloc(1, sizeof(*vn));
	if (vn == NULL)
		return -ENOMEM;
	vn->vd = vd;
	vn->wanted = wanted;
	vn->qmax = rxmax < txmax ? rxmax : txmax;
	vn->max_pairs = vn->dev_pairs = 1;
	vn->mrg = (vd->features & VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF)) != 0;
	vn->hdr_len = (vd->features & VIRTIO_BIT(VIRTIO_NET_F_HASH_REPORT)) ? VNET_HDR_HASH_LEN
									     : VNET_HDR_LEN;
	/* §5.1.4: max_virtqueue_pairs exists with MQ or RSS; without the
	 * control queue the pairs cannot be set (vhost-user sets them by its
	 * rings). */
	if ((vd->features & (VIRTIO_BIT(VIRTIO_NET_F_MQ) | VIRTIO_BIT(VIRTIO_NET_F_RSS))) &&
	    (vd->pairs_by_rings || (vd->features & VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ)))) {
		uint16_t pairs = 1;

		/* 1..0x8000; udk has room for UDK_ETH_MAX_QUEUES, and each pair
		 * must be there. */
		if (vd->ops->read_config(vd, VNET_CFG_MAX_PAIRS, &pairs, 2) == 0)
			pairs = le16toh(pairs);
		vn->dev_pairs = pairs ? pairs : 1;
		if (pairs > UDK_ETH_MAX_QUEUES)
			pairs = UDK_ETH_MAX_QUEUES;
		while (pairs > 1 && vd->ops->queue_max(vd, (uint16_t)(2 * pairs - 1)) == 0)
			pairs--;
		vn->max_pairs = pairs ? pairs : 1;
	}
	if ((vd->features & VIRTIO_BIT(VIRTIO_NET_F_RSS)) && !vd->pairs_by_rings)
		vnet_rss_limits(vn);
	if (vd->features & VIRTIO_BIT(VIRTIO_NET_F_MAC)) {
		/* One read, so the six bytes come from one configuration generation. */
		rc = vd->ops->read_config(vd, VNET_CFG_MAC, dev->mac.b, sizeof(dev->mac.b));
		if (rc < 0) {
			free(vn);
			return rc;
		}
	} else {
		/* §5.1.5: the driver SHOULD generate a random address. */
		if (getrandom(dev->mac.b, sizeof(dev->mac.b), 0) != sizeof(dev->mac.b))
			memcpy(dev->mac.b, (uint8_t[]){0, 0x76, 0x69, 0x72, 0x74, (uint8_t)dev->port}, 6);
		dev->mac.b[0] = (uint8_t)((dev->mac.b[0] & 0xfe) | 0x02); /* unicast, local */
	}
	dev->priv = vn;
	vn->port = dev->port;
	vd->link_arg = vn;
	__atomic_store_n(&vd->link_changed, vnet_link_changed, __ATOMIC_RELEASE);
	udk_log(UDK_LOG_INFO, LOG, "%s: features 0x%llx of 0x%llx, %u pair(s) (device: %u)%s of %s queues of "
		"up to %u entries, MAC %02x:%02x:%02x:%02x:%02x:%02x", vd->name,
		(unsigned long long)vd->features, (unsigned long long)vd->device_features,
		vn->max_pairs, vn->dev_pairs,
		!vn->rss_table_len ? "" :
		vn->hdr_len == VNET_HDR_HASH_LEN ? " with RSS and hash report" : " with RSS",
		vd->features & VIRTIO_BIT(VIRTIO_F_RING_PACKED) ? "packed" : "split",
		vn->qmax,
		dev->mac.b[0], dev->mac.b[1],
		dev->mac.b[2], dev->mac.b[3], dev->mac.b[4], dev->mac.b[5]);
	return 0;
}

/* The network device over a transport just opened (rc its result; *vd is
 * read after the open, which a plain argument would not guarantee). */
static int vnet_probe(struct udk_eth_dev *dev, int rc, struct virtio_dev *const *vd)
{
	if (rc < 0)
		return rc;
	rc = vnet_init(dev, *vd);
	if (rc < 0)
		(*vd)->ops->close(*vd);
	return rc;
}

static int vnet_probe_pci(struct udk_eth_dev *dev, struct udk_pci_dev *pdev)
{
	struct virtio_dev *vd = NULL;
	int rc = virtio_pci_open(pdev, &vd);

	/* A PCI device that offers mergeable receive buffers gets them (as
	 * DPDK's virtio PMD takes them): jumbo frames without 9 KiB mbufs. */
	if (rc == 0)
		vd->mrg_ok = true;
	return vnet_probe(dev, rc, &vd);
}

static int vnet_probe_user(struct udk_eth_dev *dev, const char *name, const char *args)
{
	struct virtio_dev *vd = NULL;

	return vnet_probe(dev, virtio_user_open(name, args, &vd), &vd);
}

/* §4.1.2: 0x1040 + device type 1; the transitional id 0x1000 is legacy. */
static const uint16_t vnet_pci_ids[][2] = {
	{0x1af4, 0x1041},
	{0, 0},
};

static struct udk_eth_driver net_virtio = {
	.name = "net_virtio",
	.ops = &vnet_ops,
	.pci_ids = vnet_pci_ids,
	.probe_pci = vnet_probe_pci,
};

UDK_NET_DRIVER(net_virtio, net_virtio)

/* --vdev virtio_user0,path=SOCK: the same device over vhost-user. */
static struct udk_eth_driver net_virtio_user = {
	.name = "net_virtio_user",
	.ops = &vnet_ops,
	.vdev_prefix = "virtio_user",
	.probe_vdev = vnet_probe_user,
};

UDK_NET_DRIVER(net_virtio_user, net_virtio_user)
