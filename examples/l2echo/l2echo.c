/* SPDX-License-Identifier: BSD-3-Clause */
/* l2echo - the smallest complete udk packet program (doc/packet-io.md):
 * one port, one receive and one transmit queue, bursts, statistics.
 *
 *   l2echo [EAL options] -- [--send N] [--seconds S]
 *
 * Without --send it echoes: every frame received goes back out of the same
 * port with its Ethernet addresses swapped, until S seconds (default 10) or
 * Ctrl-C.  With --send N it sends N numbered frames of its own and counts
 * those that come back intact (a loopback port, or a peer that echoes); it
 * exits 0 only if all N did.
 *
 *   l2echo --no-huge -l 0 --vdev net_ring0 -- --send 1000
 *   l2echo --no-huge -l 0 --vdev virtio_user0,path=/tmp/vhost.sock -- --send 1000
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "udk_eal.h"
#include "udk_ethdev.h"
#include "udk_mbuf.h"

#define BURST 32
#define FRAME_LEN 64
#define WINDOW 128 /* frames in flight in --send mode; half the default ring */

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 1. Configure the port, give it queues, start it. */
static int port_init(uint16_t port, struct udk_mempool *mp)
{
	struct udk_eth_conf conf;
	struct udk_eth_rxq_conf rxc;
	struct udk_eth_txq_conf txc;

	udk_eth_conf_init(&conf, sizeof(conf)); /* one queue pair, MTU 1500 */
	conf.promiscuous = true;
	udk_eth_rxq_conf_init(&rxc, sizeof(rxc));
	rxc.mp = mp;                            /* received frames land in mp's mbufs */
	udk_eth_txq_conf_init(&txc, sizeof(txc));
	if (udk_eth_dev_configure(port, &conf) < 0 || udk_eth_rx_queue_setup(port, 0, &rxc) < 0 ||
	    udk_eth_tx_queue_setup(port, 0, &txc) < 0 || udk_eth_dev_start(port) < 0) {
		fprintf(stderr, "l2echo: port %u: %s\n", port, udk_last_error());
		return -1;
	}
	return 0;
}

/* A frame numbered seq: broadcast, our MAC, EtherType 0x88b5 (local
 * experimental), seq, then bytes that depend on seq. */
static struct udk_mbuf *make_frame(struct udk_mempool *mp, const struct udk_ether_addr *mac,
				   uint32_t seq)
{
	struct udk_mbuf *m = udk_pktmbuf_alloc(mp);
	uint8_t *d;

	if (m == NULL)
		return NULL;
	d = (uint8_t *)udk_pktmbuf_append(m, FRAME_LEN);
	memset(d, 0xff, 6);
	memcpy(d + 6, mac->b, 6);
	d[12] = 0x88;
	d[13] = 0xb5;
	memcpy(d + 14, &seq, sizeof(seq));
	for (int i = 18; i < FRAME_LEN; i++)
		d[i] = (uint8_t)(seq + i);
	return m;
}

static bool frame_ok(const struct udk_mbuf *m)
{
	const uint8_t *d = udk_pktmbuf_mtod(m, const uint8_t *);
	uint32_t seq;

	if (m->pkt_len != FRAME_LEN || m->data_len != FRAME_LEN || d[12] != 0x88 || d[13] != 0xb5)
		return false;
	memcpy(&seq, d + 14, sizeof(seq));
	for (int i = 18; i < FRAME_LEN; i++)
		if (d[i] != (uint8_t)(seq + i))
			return false;
	return true;
}

/* 2a. Send n frames, count the ones that come back. */
static uint64_t send_and_count(uint16_t port, struct udk_mempool *mp, uint64_t n, double secs)
{
	struct udk_ether_addr mac;
	struct udk_mbuf *pkts[BURST];
	uint64_t sent = 0, back = 0;
	double end = now() + secs;

	udk_eth_macaddr_get(port, &mac);
	while (back < n && !quit && now() < end) {
		uint16_t k = 0, nb;

		/* At most WINDOW frames out at once: more would overflow the receive
		 * ring when they all come back, and the peer would drop them. */
		while (sent + k < n && k < BURST && sent + k < back + WINDOW &&
		       (pkts[k] = make_frame(mp, &mac, (uint32_t)(sent + k))))
			k++;
		nb = udk_eth_tx_burst(port, 0, pkts, k); /* the port owns what it took */
		udk_pktmbuf_free_bulk(pkts + nb, k - nb); /* we still own the rest */
		sent += nb;
		nb = udk_eth_rx_burst(port, 0, pkts, BURST);
		for (uint16_t i = 0; i < nb; i++)
			back += frame_ok(pkts[i]);
		udk_pktmbuf_free_bulk(pkts, nb);
	}
	printf("sent %llu, came back intact %llu\n", (unsigned long long)sent,
	       (unsigned long long)back);
	return back;
}

/* 2b. Echo every frame with its addresses swapped. */
static void echo(uint16_t port, double secs)
{
	struct udk_mbuf *pkts[BURST];
	double end = now() + secs;

	while (!quit && now() < end) {
		uint16_t nb = udk_eth_rx_burst(port, 0, pkts, BURST), sent;

		for (uint16_t i = 0; i < nb; i++) {
			uint8_t *d = udk_pktmbuf_mtod(pkts[i], uint8_t *), t[6];

			memcpy(t, d, 6);
			memcpy(d, d + 6, 6);
			memcpy(d + 6, t, 6);
		}
		sent = udk_eth_tx_burst(port, 0, pkts, nb);
		udk_pktmbuf_free_bulk(pkts + sent, nb - sent); /* the ring was full: drop */
	}
}

int main(int argc, char **argv)
{
	struct udk_mempool *mp = NULL;
	struct udk_eth_stats st;
	uint64_t send = 0;
	double secs = 10;
	int n, rc = 1;

	n = udk_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "l2echo: EAL: %s\n", udk_last_error());
		return 1;
	}
	for (int i = n; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--send") == 0)
			send = strtoull(argv[i + 1], NULL, 0);
		else if (strcmp(argv[i], "--seconds") == 0)
			secs = strtod(argv[i + 1], NULL);
	}
	if (udk_eth_probe_eal() < 1) {
		fprintf(stderr, "l2echo: no port (give one with -a BDF or --vdev): %s\n",
			udk_last_error());
		goto out;
	}
	/* 8191 mbufs of 2 KiB data room, 256 cached per lcore. */
	if (udk_pktmbuf_pool_create("l2echo", 8191, 256, 0, UDK_SOCKET_ANY, &mp) < 0) {
		fprintf(stderr, "l2echo: mempool: %s\n", udk_last_error());
		goto out;
	}
	if (port_init(0, mp) < 0)
		goto out;
	signal(SIGINT, on_signal);
	if (send > 0) {
		rc = send_and_count(0, mp, send, secs) == send ? 0 : 1;
	} else {
		echo(0, secs);
		rc = 0;
	}
	/* 3. Statistics, as the port counted them. */
	udk_eth_stats_get(0, &st);
	printf("port 0: rx %llu frames %llu bytes, tx %llu frames %llu bytes, errors rx %llu "
	       "tx %llu, missed %llu\n", (unsigned long long)st.ipackets,
	       (unsigned long long)st.ibytes, (unsigned long long)st.opackets,
	       (unsigned long long)st.obytes, (unsigned long long)st.ierrors,
	       (unsigned long long)st.oerrors, (unsigned long long)st.imissed);
out:
	udk_eth_close_all(); /* stop and close every port before the mempool goes */
	if (mp != NULL)
		udk_mempool_free(mp);
	udk_eal_cleanup();
	return rc;
}
