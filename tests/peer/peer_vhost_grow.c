/* SPDX-License-Identifier: BSD-3-Clause */
/* peer_vhost_grow - a virtio-user port against a vhost-user back-end that
 * echoes every frame (dpdk-testpmd, io forwarding): frames from a first
 * mempool go out and come back intact; then a second mempool makes the heap
 * grow by a segment, and frames from it must come back too, which they can
 * only if the back-end received the new memory table (it reads the frames at
 * IOVAs inside the new segment).  Last, the port is stopped and started
 * again and frames flow once more.
 *
 *   peer_vhost_grow [EAL options with --vdev virtio_user0,path=SOCK]
 *
 * Prints one line per round and exits 0 only if every frame came back. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "udk_eal.h"
#include "udk_ethdev.h"
#include "udk_mbuf.h"

#define FRAMES 512
#define LEN 128

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t pat(uint32_t seq, unsigned int i)
{
	return (uint8_t)(seq * 13 + i * 3 + 1);
}

/* Send FRAMES frames from mp (sequence numbers from base) and count the
 * echoes that match one of them byte for byte. */
static int round_trip(uint16_t port, struct udk_mempool *mp, uint32_t base, const char *what)
{
	struct udk_mbuf *pkts[32];
	uint32_t sent = 0, back = 0, bad = 0;
	/* Generous: on a loaded 2-CPU machine the back-end's message thread
	 * shares a CPU with this poller and may take seconds to go live. */
	double end = now() + 30;

	while (back < FRAMES && now() < end) {
		uint16_t n = 0;

		/* At most 128 out at once: the echoes must fit the receive ring. */
		while (sent + n < FRAMES && n < 32 && sent + n < back + bad + 128) {
			struct udk_mbuf *m = udk_pktmbuf_alloc(mp);
			uint8_t *d;
			uint32_t seq = base + sent + n;

			if (m == NULL)
				break;
			d = (uint8_t *)udk_pktmbuf_append(m, LEN);
			memset(d, 0xff, 6);
			memcpy(d + 6, (uint8_t[]){0x02, 0, 0, 0, 0, 0x01}, 6);
			d[12] = 0x88;
			d[13] = 0xb5;
			memcpy(d + 14, &seq, 4);
			for (unsigned int i = 18; i < LEN; i++)
				d[i] = pat(seq, i);
			pkts[n++] = m;
		}
		if (n > 0) {
			uint16_t k = udk_eth_tx_burst(port, 0, pkts, n);

			udk_pktmbuf_free_bulk(pkts + k, n - k);
			sent += k;
		}
		n = udk_eth_rx_burst(port, 0, pkts, 32);
		for (uint16_t i = 0; i < n; i++) {
			const uint8_t *d = udk_pktmbuf_mtod(pkts[i], const uint8_t *);
			uint32_t seq;
			bool ok = pkts[i]->pkt_len == LEN && pkts[i]->next == NULL;

			if (ok) {
				memcpy(&seq, d + 14, 4);
				ok = seq >= base && seq < base + FRAMES;
				for (unsigned int j = 18; ok && j < LEN; j++)
					ok = d[j] == pat(seq, j);
			}
			back += ok;
			bad += !ok;
		}
		udk_pktmbuf_free_bulk(pkts, n);
	}
	printf("%s: sent %u, echoed intact %u, bad %u\n", what, sent, back, bad);
	return sent == FRAMES && back == FRAMES && bad == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct udk_mempool *a = NULL, *b = NULL;
	struct udk_eth_conf c;
	struct udk_eth_rxq_conf rc;
	struct udk_eth_txq_conf tc;
	struct udk_eth_link link = {0};
	struct udk_mem_stats s0, s1;
	double end;
	int ret = 1;

	if (udk_eal_init(argc, argv) < 0) {
		fprintf(stderr, "peer_vhost_grow: EAL init: %s\n", udk_last_error());
		return 1;
	}
	if (udk_eth_probe_eal() < 1 ||
	    udk_pktmbuf_pool_create("grow-a", 1023, 0, 0, UDK_SOCKET_ANY, &a) < 0) {
		fprintf(stderr, "peer_vhost_grow: setup: %s\n", udk_last_error());
		goto out;
	}
	udk_eth_conf_init(&c, sizeof(c));
	udk_eth_rxq_conf_init(&rc, sizeof(rc));
	udk_eth_txq_conf_init(&tc, sizeof(tc));
	rc.mp = a;
	if (udk_eth_dev_configure(0, &c) || udk_eth_rx_queue_setup(0, 0, &rc) ||
	    udk_eth_tx_queue_setup(0, 0, &tc) || udk_eth_dev_start(0)) {
		fprintf(stderr, "peer_vhost_grow: port 0: %s\n", udk_last_error());
		goto out;
	}
	for (end = now() + 5; !link.up && now() < end;)
		udk_eth_link_get(0, &link);
	if (round_trip(0, a, 0, "before growth") < 0)
		goto out;
	udk_mem_stats(udk_mem_default(), &s0);
	/* 4095 mbufs of about 2.3 KiB: more than a 2 MiB segment, so a new one. */
	if (udk_pktmbuf_pool_create("grow-b", 4095, 0, 0, UDK_SOCKET_ANY, &b) < 0) {
		fprintf(stderr, "peer_vhost_grow: second pool: %s\n", udk_last_error());
		goto out;
	}
	udk_mem_stats(udk_mem_default(), &s1);
	printf("heap: %llu segments, then %llu\n", (unsigned long long)s0.segments,
	       (unsigned long long)s1.segments);
	if (s1.segments <= s0.segments) {
		fprintf(stderr, "peer_vhost_grow: the heap did not grow; the test proves nothing\n");
		goto out;
	}
	if (round_trip(0, b, FRAMES, "after growth, from the new segment") < 0)
		goto out;
	/* Stop (GET_VRING_BASE) and start again: the rings go back to the
	 * back-end from index 0 and traffic resumes. */
	if (udk_eth_dev_stop(0) < 0 || udk_eth_dev_start(0) < 0) {
		fprintf(stderr, "peer_vhost_grow: restart: %s\n", udk_last_error());
		goto out;
	}
	if (round_trip(0, b, 2 * FRAMES, "after stop and start") < 0)
		goto out;
	ret = 0;
out:
	udk_eth_close_all();
	if (b != NULL)
		udk_mempool_free(b);
	if (a != NULL)
		udk_mempool_free(a);
	udk_eal_cleanup();
	return ret;
}
