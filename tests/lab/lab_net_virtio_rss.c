/* SPDX-License-Identifier: BSD-3-Clause */
/* lab_net_virtio_rss: net_virtio's receive-side scaling over PCI on the
 * lab's two multi-queue virtio-nets (QEMU `mq=on,rss=on`, 4 queue pairs;
 * vnetmq0 with split rings, vnetmq1 with packed=on), each on a tap that the
 * host loops back to it (lab.py, mq_taps).  For each: the port has 4 queue
 * pairs, the control queue takes the RSS configuration at start, and frames
 * of 512 IPv4/UDP flows (distinct 4-tuples) sent on transmit queue 0 come
 * back each on the receive queue that the Toeplitz hash names, computed here
 * by the test's own implementation (labrss.h, checked against Microsoft's
 * verification vectors by the unit test virtio_rss), intact, once each,
 * spread over every queue.  Puts both devices back on their drivers. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labrss.h"
#include "labutil.h"
#include "labvnetmq.h"
#include "udk_ethdev.h"
#include "udk_mbuf.h"
#include "udk_util.h"

#define NQ 4              /* MQ_PAIRS in lab.py */
#define TABLE_LEN 128     /* QEMU's rss_max_indirection_table_length; udk's entry i is i % NQ */
#define NFLOWS 512
#define NB_MBUF 4096
#define BURST 32
#define FRAME_LEN 128
#define TIMEOUT_MS 60000

struct flow {
	uint32_t src, dst;    /* host order */
	uint16_t sport, dport;
	uint16_t want_q;
	uint16_t got;         /* frames seen */
};

static struct flow flows[NFLOWS];

static uint16_t ip_csum(const uint8_t *h)
{
	uint32_t s = 0;

	for (int i = 0; i < 20; i += 2)
		s += (uint32_t)h[i] << 8 | h[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Frame of flow i to mac: Ethernet, IPv4 (valid checksum), UDP, then
 * "UDKR", i and a pattern of i. */
static void frame_fill(uint8_t *f, const uint8_t mac[6], uint32_t i)
{
	const struct flow *fl = &flows[i];

	memset(f, 0, FRAME_LEN);
	memcpy(f, mac, 6);
	memcpy(f + 6, (uint8_t[]){0x02, 0, 0, 0x52, 0x53, 0x53}, 6);
	f[12] = 0x08;                       /* IPv4 */
	f[14] = 0x45;
	f[16] = (FRAME_LEN - 14) >> 8;
	f[17] = (FRAME_LEN - 14) & 0xff;
	f[18] = (uint8_t)(i >> 8);
	f[19] = (uint8_t)i;
	f[20] = 0x40;                       /* DF, not a fragment */
	f[22] = 64;
	f[23] = 17;                         /* UDP */
	put32(f + 26, fl->src);
	put32(f + 30, fl->dst);
	f[24] = (uint8_t)(ip_csum(f + 14) >> 8);
	f[25] = (uint8_t)ip_csum(f + 14);
	f[34] = (uint8_t)(fl->sport >> 8);
	f[35] = (uint8_t)fl->sport;
	f[36] = (uint8_t)(fl->dport >> 8);
	f[37] = (uint8_t)fl->dport;
	f[38] = (FRAME_LEN - 34) >> 8;
	f[39] = (FRAME_LEN - 34) & 0xff;
	memcpy(f + 42, "UDKR", 4);
	put32(f + 46, i);
	for (uint32_t k = 50; k < FRAME_LEN; k++)
		f[k] = (uint8_t)(i * 7 + k);
}

/* The flow a received frame carries, or -1 if it is not one of ours or is
 * damaged (*bad set then). */
static int frame_flow(const struct udk_mbuf *m, const uint8_t mac[6], bool *bad)
{
	uint8_t want[FRAME_LEN];
	const uint8_t *f = udk_pktmbuf_mtod(m, const uint8_t *);
	uint32_t i;

	*bad = false;
	if (m->pkt_len < 50 || m->nb_segs != 1 || memcmp(f + 42, "UDKR", 4) != 0)
		return -1;
	i = get32(f + 46);
	frame_fill(want, mac, i < NFLOWS ? i : 0);
	if (i >= NFLOWS || m->pkt_len != FRAME_LEN || memcmp(f, want, FRAME_LEN) != 0) {
		*bad = true;
		return -1;
	}
	return (int)i;
}

static void make_flows(uint32_t seed)
{
	for (uint32_t i = 0; i < NFLOWS; i++) {
		struct flow *fl = &flows[i];

		seed = seed * 1103515245u + 12345u;
		fl->src = 0x0a000000u | (seed >> 8);
		seed = seed * 1103515245u + 12345u;
		fl->dst = 0xc0a80000u | (seed >> 16);
		seed = seed * 1103515245u + 12345u;
		fl->sport = (uint16_t)(1024 + (seed >> 16) % 60000);
		fl->dport = (uint16_t)(1024 + (i * 40503u) % 60000);
		/* The queue udk's table names for the hash over the UDP 4-tuple. */
		fl->want_q = (uint16_t)((lab_rss_ipv4(lab_rss_key, fl->src, fl->dst, fl->sport,
						      fl->dport, 1) & (TABLE_LEN - 1)) % NQ);
		fl->got = 0;
	}
}

static void rss_port(uint16_t port, const char *label, struct udk_mempool *mp, const uint8_t mac[6])
{
	struct udk_eth_dev_info info;
	struct udk_eth_conf conf;
	struct udk_eth_rxq_conf rxc;
	struct udk_eth_txq_conf txc;
	struct udk_mbuf *pkts[BURST];
	unsigned int per_q[NQ] = {0}, want_per_q[NQ] = {0}, wrong = 0, dup = 0, bad = 0, other = 0;
	unsigned int got = 0, sent = 0;
	uint64_t t0;

	CHECK(udk_eth_dev_info_get(port, &info) == 0);
	printf("%s: port %u, %s, %u rx / %u tx queues\n", label, port, info.driver,
	       info.max_rx_queues, info.max_tx_queues);
	REQUIRE(info.max_rx_queues == NQ && info.max_tx_queues == NQ);

	udk_eth_conf_init(&conf, sizeof(conf));
	conf.nb_rx_queues = conf.nb_tx_queues = NQ;
	REQUIRE(udk_eth_dev_configure(port, &conf) == 0);
	udk_eth_rxq_conf_init(&rxc, sizeof(rxc));
	rxc.mp = mp;
	rxc.nb_desc = 256;
	udk_eth_txq_conf_init(&txc, sizeof(txc));
	txc.nb_desc = 256;
	for (uint16_t q = 0; q < NQ; q++) {
		REQUIRE(udk_eth_rx_queue_setup(port, q, &rxc) == 0);
		REQUIRE(udk_eth_tx_queue_setup(port, q, &txc) == 0);
	}
	/* Start sends VIRTIO_NET_CTRL_MQ_RSS_CONFIG; a refusal fails it. */
	REQUIRE(udk_eth_dev_start(port) == 0);

	make_flows(0x5eed0000u + port);
	for (uint32_t i = 0; i < NFLOWS; i++)
		want_per_q[flows[i].want_q]++;
	t0 = lab_vnetmq_ms();
	while ((sent < NFLOWS || got < NFLOWS) && lab_vnetmq_ms() < t0 + TIMEOUT_MS) {
		if (sent < NFLOWS) {
			uint16_t k = NFLOWS - sent < BURST ? (uint16_t)(NFLOWS - sent) : BURST, n;

			REQUIRE(udk_pktmbuf_alloc_bulk(mp, pkts, k) == 0);
			for (uint16_t j = 0; j < k; j++)
				frame_fill((uint8_t *)udk_pktmbuf_append(pkts[j], FRAME_LEN), mac, sent + j);
			n = udk_eth_tx_burst(port, 0, pkts, k);
			udk_pktmbuf_free_bulk(pkts + n, (unsigned int)(k - n));
			sent += n;
		}
		for (uint16_t q = 0; q < NQ; q++) {
			uint16_t n = udk_eth_rx_burst(port, q, pkts, BURST);

			for (uint16_t j = 0; j < n; j++) {
				bool damaged;
				int i = frame_flow(pkts[j], mac, &damaged);

				if (i < 0) {
					bad += damaged;
					other += !damaged;
				} else {
					if (flows[i].got++ == 0)
						got++;
					else
						dup++;
					per_q[q]++;
					if (flows[i].want_q != q && wrong++ < 5)
						printf("  flow %d (%08x:%u -> %08x:%u) on queue %u, the "
						       "hash names %u\n", i, flows[i].src, flows[i].sport,
						       flows[i].dst, flows[i].dport, q, flows[i].want_q);
				}
			}
			udk_pktmbuf_free_bulk(pkts, n);
		}
	}
	printf("%s: %u of %u flows back in %llu ms; per queue", label, got, NFLOWS,
	       (unsigned long long)(lab_vnetmq_ms() - t0));
	for (uint16_t q = 0; q < NQ; q++)
		printf(" %u (hash: %u)", per_q[q], want_per_q[q]);
	printf("; on the wrong queue %u, duplicates %u, damaged %u, others %u\n", wrong, dup, bad,
	       other);
	CHECK_MSG(sent == NFLOWS, "%s: %u of %u frames sent", label, sent, NFLOWS);
	CHECK_MSG(got == NFLOWS, "%s: %u of %u flows came back", label, got, NFLOWS);
	CHECK_MSG(wrong == 0, "%s: %u frames not on the queue the Toeplitz hash names", label,
		  wrong);
	CHECK(dup == 0 && bad == 0);
	for (uint16_t q = 0; q < NQ; q++)
		CHECK_MSG(per_q[q] > 0, "%s: nothing on queue %u", label, q);
	CHECK(udk_eth_dev_stop(port) == 0);
	CHECK(udk_eth_dev_close(port) == 0);
}

int main(void)
{
	struct lab_vnetmq t;

	lab_vnetmq_open(&t, "lab_net_virtio_rss", NB_MBUF);
	for (int d = 0; d < 2; d++)
		rss_port(t.port[d], t.label[d], t.mp, t.mac[d]);
	lab_vnetmq_close(&t);
	return lab_result();
}
