/* SPDX-License-Identifier: BSD-3-Clause */
/* peer_vhost_mq - a virtio-user port with several queue pairs
 * (--vdev virtio_user0,path=SOCK,queues=N) against a vhost-user back-end that
 * echoes each receive queue to the transmit queue of the same number
 * (dpdk-testpmd --vdev net_vhost0,...,queues=N -- --rxq=N --txq=N, io
 * forwarding): frames sent on transmit queue q, tagged with q, must all come
 * back intact on receive queue q, and on no other; the port's statistics
 * must count every frame of every pair.  A configuration with more pairs than
 * the port has, or unequal rx and tx counts, must be refused.  With LEN over
 * 1514 the port's MTU is raised to LEN - 14 (mergeable receive buffers,
 * mrg_rxbuf=1) and every frame is a chain of mbufs both ways.
 *
 *   peer_vhost_mq PAIRS LEN [EAL options with --vdev virtio_user0,path=SOCK,queues=PAIRS]
 *
 * Prints one line per queue and exits 0 only if every frame came back where
 * it should. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "udk_eal.h"
#include "udk_ethdev.h"
#include "udk_mbuf.h"

#define FRAMES 512 /* per queue */
#define MAXQ 8
#define MAXLEN 9014
#define SEG 2000   /* bytes per mbuf of a frame */

static uint32_t LEN = 128;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t pat(uint32_t q, uint32_t seq, unsigned int i)
{
	return (uint8_t)(seq * 13 + i * 3 + q * 7 + 1);
}

static struct udk_mbuf *frame(struct udk_mempool *mp, uint32_t q, uint32_t seq)
{
	uint8_t d[MAXLEN];
	struct udk_mbuf *m = NULL;

	memset(d, 0xff, 6);
	memcpy(d + 6, (uint8_t[]){0x02, 0, 0, 0, 0, 0x01}, 6);
	d[12] = 0x88;
	d[13] = 0xb5;
	memcpy(d + 14, &q, 4);
	memcpy(d + 18, &seq, 4);
	for (unsigned int i = 22; i < LEN; i++)
		d[i] = pat(q, seq, i);
	for (uint32_t off = 0; off < LEN; off += SEG) {
		uint16_t k = (uint16_t)(LEN - off < SEG ? LEN - off : SEG);
		struct udk_mbuf *s = udk_pktmbuf_alloc(mp);
		char *p = s != NULL ? udk_pktmbuf_append(s, k) : NULL;

		if (p == NULL || (m != NULL && udk_pktmbuf_chain(m, s) != 0)) {
			if (s != NULL)
				udk_pktmbuf_free(s);
			if (m != NULL)
				udk_pktmbuf_free(m);
			return NULL;
		}
		memcpy(p, d + off, k);
		if (m == NULL)
			m = s;
	}
	return m;
}

/* The queue a frame says it was sent on, or -1 if it is not intact. */
static int frame_queue(const struct udk_mbuf *m)
{
	uint8_t d[MAXLEN];
	uint32_t q, seq;

	if (m->pkt_len != LEN || udk_pktmbuf_read(m, 0, LEN, d) != 0 || d[12] != 0x88 ||
	    d[13] != 0xb5)
		return -1;
	memcpy(&q, d + 14, 4);
	memcpy(&seq, d + 18, 4);
	if (q >= MAXQ || seq >= FRAMES)
		return -1;
	for (unsigned int i = 22; i < LEN; i++)
		if (d[i] != pat(q, seq, i))
			return -1;
	return (int)q;
}

int main(int argc, char **argv)
{
	uint32_t sent[MAXQ] = {0}, back[MAXQ] = {0}, wrong[MAXQ] = {0}, bad[MAXQ] = {0};
	struct udk_mempool *mp = NULL;
	struct udk_eth_conf c;
	struct udk_eth_rxq_conf rc;
	struct udk_eth_txq_conf tc;
	struct udk_eth_dev_info info;
	struct udk_eth_stats st;
	struct udk_eth_link link = {0};
	uint16_t nq;
	uint32_t window;
	uint64_t total = 0;
	double end;
	int ret = 1, n;

	if (argc < 3 || (nq = (uint16_t)atoi(argv[1])) < 1 || nq > MAXQ ||
	    (LEN = (uint32_t)atoi(argv[2])) < 60 || LEN > MAXLEN) {
		fprintf(stderr, "usage: peer_vhost_mq PAIRS(1..%d) LEN(60..%d) [EAL options]\n",
			MAXQ, MAXLEN);
		return 1;
	}
	argv[2] = argv[0];
	n = udk_eal_init(argc - 2, argv + 2);
	if (n < 0) {
		fprintf(stderr, "peer_vhost_mq: EAL init: %s\n", udk_last_error());
		return 1;
	}
	if (udk_eth_probe_eal() < 1 ||
	    udk_pktmbuf_pool_create("mq", 8191, 0, 0, UDK_SOCKET_ANY, &mp) < 0) {
		fprintf(stderr, "peer_vhost_mq: setup: %s\n", udk_last_error());
		goto out;
	}
	udk_eth_dev_info_get(0, &info);
	printf("port 0: %u rx / %u tx queues\n", info.max_rx_queues, info.max_tx_queues);
	udk_eth_conf_init(&c, sizeof(c));
	/* Refused: more pairs than the port has; rx and tx counts that differ. */
	c.nb_rx_queues = c.nb_tx_queues = (uint16_t)(nq + 1);
	if (udk_eth_dev_configure(0, &c) == 0) {
		fprintf(stderr, "peer_vhost_mq: %u pairs on a port of %u were accepted\n", nq + 1, nq);
		goto out;
	}
	printf("%u pairs: refused: %s\n", nq + 1, udk_last_error());
	if (nq > 1) {
		c.nb_rx_queues = nq;
		c.nb_tx_queues = 1;
		if (udk_eth_dev_configure(0, &c) == 0) {
			fprintf(stderr, "peer_vhost_mq: %u rx and 1 tx queues were accepted\n", nq);
			goto out;
		}
		printf("%u rx, 1 tx: refused: %s\n", nq, udk_last_error());
	}
	c.nb_rx_queues = c.nb_tx_queues = nq;
	if (LEN > 1514)
		c.mtu = LEN - 14;
	udk_eth_rxq_conf_init(&rc, sizeof(rc));
	udk_eth_txq_conf_init(&tc, sizeof(tc));
	rc.mp = mp;
	if (udk_eth_dev_configure(0, &c) < 0)
		goto err_port;
	for (uint16_t q = 0; q < nq; q++)
		if (udk_eth_rx_queue_setup(0, q, &rc) || udk_eth_tx_queue_setup(0, q, &tc))
			goto err_port;
	if (udk_eth_dev_start(0) < 0)
		goto err_port;
	for (end = now() + 5; !link.up && now() < end;)
		udk_eth_link_get(0, &link);

	/* Generous: on a loaded 2-CPU machine the back-end may take seconds to
	 * go live.  Frames out per queue: the echoes must fit the 256 buffers
	 * of the receive ring (a jumbo frame takes 5 of 2 KiB). */
	window = LEN > 1514 ? 32 : 128;
	end = now() + 60;
	for (;;) {
		bool done = true;

		for (uint16_t q = 0; q < nq; q++)
			done &= back[q] + wrong[q] + bad[q] >= FRAMES;
		if (done || now() > end)
			break;
		for (uint16_t q = 0; q < nq; q++) {
			struct udk_mbuf *pkts[32];
			uint16_t k = 0, got;

			while (sent[q] + k < FRAMES && k < 32 &&
			       sent[q] + k < back[q] + wrong[q] + bad[q] + window) {
				pkts[k] = frame(mp, q, sent[q] + k);
				if (pkts[k] == NULL)
					break;
				k++;
			}
			if (k > 0) {
				uint16_t t = udk_eth_tx_burst(0, q, pkts, k);

				udk_pktmbuf_free_bulk(pkts + t, k - t);
				sent[q] += t;
			}
			got = udk_eth_rx_burst(0, q, pkts, 32);
			for (uint16_t i = 0; i < got; i++) {
				int from = frame_queue(pkts[i]);

				if (from < 0)
					bad[q]++;
				else if (from != q)
					wrong[from]++; /* counted against the queue that sent it */
				else
					back[q]++;
			}
			udk_pktmbuf_free_bulk(pkts, got);
		}
	}
	ret = 0;
	for (uint16_t q = 0; q < nq; q++) {
		printf("queue %u: sent %u, came back intact on queue %u: %u, on another queue: %u, "
		       "bad: %u (%u-byte frames)\n", q, sent[q], q, back[q], wrong[q], bad[q], LEN);
		if (sent[q] != FRAMES || back[q] != FRAMES || wrong[q] || bad[q])
			ret = 1;
		total += back[q];
	}
	udk_eth_stats_get(0, &st);
	printf("port stats: opackets %llu ipackets %llu\n", (unsigned long long)st.opackets,
	       (unsigned long long)st.ipackets);
	if (st.opackets != (uint64_t)FRAMES * nq || st.ipackets < total)
		ret = 1;
	printf("%s\n", ret == 0 ? "every frame came back on its own queue" : "FAILED");
	goto out;

err_port:
	fprintf(stderr, "peer_vhost_mq: port 0: %s\n", udk_last_error());
out:
	udk_eth_close_all();
	if (mp != NULL)
		udk_mempool_free(mp);
	udk_eal_cleanup();
	return ret;
}
