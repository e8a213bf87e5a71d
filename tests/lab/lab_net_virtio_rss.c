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
 * spread over every queue.  The devices have hash=on (HASH_REPORT): every
 * frame also carries in its mbuf (hash_rss, UDK_MBUF_F_RSS_HASH) the hash
 * the test computes for its flow.  Then the application's RSS configuration
 * (udk_eth_rss_conf): a table changed on the started port
 * (udk_eth_dev_rss_update), keys and tables of the wrong length or naming a
 * queue the port lacks refused with their messages, and a port configured
 * with a key of its own and a skewed table (every entry queue 1, but one in
 * eight queue 2 and one in 32 queue 3, none queue 0): each frame where that
 * key and table put it, with that key's hash.  Puts both devices back on
 * their drivers. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labrss.h"
#include "labutil.h"
#include "labvnetmq.h"
#include "udk_eal.h"
#include "udk_ethdev.h"
#include "udk_mbuf.h"
#include "udk_util.h"

#define NQ 4              /* MQ_PAIRS in lab.py */
#define TABLE_LEN 128     /* QEMU's rss_max_indirection_table_length; udk's entry i is i % NQ */
#define NFLOWS 512
#define NB_MBUF 4096
#define BURST 32
#define WINDOW 128        /* frames in flight, within one rx ring of 256 */
#define FRAME_LEN 128
#define TIMEOUT_MS 60000

struct flow {
	uint32_t src, dst;    /* host order */
	uint16_t sport, dport;
	uint32_t hash;        /* the Toeplitz hash over the UDP 4-tuple */
	uint16_t want_q;
	uint16_t got;         /* frames seen */
	uint16_t got_q;       /* the queue of the last one */
};

static struct flow flows[NFLOWS];

/* Frame of flow i to mac: Ethernet, IPv4 (valid checksum), UDP, then
 * "UDKR", i and a pattern of i. */
static void frame_fill(uint8_t *f, const uint8_t mac[6], uint32_t i)
{
	const struct flow *fl = &flows[i];

	lab_frame_ipv4(f, FRAME_LEN, mac, (const uint8_t[]){0x02, 0, 0, 0x52, 0x53, 0x53},
		       (uint16_t)i, false, fl->src, fl->dst, fl->sport, fl->dport);
	memcpy(f + 42, "UDKR", 4);
	lab_put32(f + 46, i);
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
	i = lab_get32(f + 46);
	frame_fill(want, mac, i < NFLOWS ? i : 0);
	if (i >= NFLOWS || m->pkt_len != FRAME_LEN || memcmp(f, want, FRAME_LEN) != 0) {
		*bad = true;
		return -1;
	}
	return (int)i;
}

/* Flows last seen on queue q. */
static unsigned int flows_on(uint16_t q)
{
	unsigned int n = 0;

	for (uint32_t i = 0; i < NFLOWS; i++)
		n += flows[i].got != 0 && flows[i].got_q == q;
	return n;
}

/* The flows' hashes under key, and the queue the table names: reta's entry,
 * or udk's default i % NQ when reta is NULL. */
static void make_flows(uint32_t seed, const uint8_t *key, const uint16_t *reta)
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
		/* The queue the table names for the hash over the UDP 4-tuple. */
		fl->hash = lab_rss_ipv4(key, fl->src, fl->dst, fl->sport, fl->dport, 1);
		fl->want_q = reta != NULL ? reta[fl->hash & (TABLE_LEN - 1)]
					  : (uint16_t)((fl->hash & (TABLE_LEN - 1)) % NQ);
		fl->got = 0;
	}
}

/* Configure port with NQ pairs (and rss, NULL for none) and start it. */
static void port_up(uint16_t port, struct udk_mempool *mp, const struct udk_eth_rss_conf *rss)
{
	struct udk_eth_conf conf;
	struct udk_eth_rxq_conf rxc;
	struct udk_eth_txq_conf txc;

	udk_eth_conf_init(&conf, sizeof(conf));
	conf.nb_rx_queues = conf.nb_tx_queues = NQ;
	if (rss != NULL)
		conf.rss = *rss;
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
}

/* NFLOWS frames out on transmit queue 0 of the started port, each back once,
 * intact, on the queue key and reta name (make_flows), with key's hash in
 * its mbuf.  spread: every queue must get some. */
static void traffic(uint16_t port, const char *label, const char *what, struct udk_mempool *mp,
		    const uint8_t mac[6], const uint8_t *key, const uint16_t *reta, bool spread)
{
	struct udk_mbuf *pkts[BURST];
	unsigned int per_q[NQ] = {0}, want_per_q[NQ] = {0}, wrong = 0, dup = 0, bad = 0, other = 0;
	unsigned int nohash = 0, badhash = 0;
	unsigned int got = 0, sent = 0;
	uint64_t t0;

	make_flows(0x5eed0000u + port, key, reta);
	for (uint32_t i = 0; i < NFLOWS; i++)
		want_per_q[flows[i].want_q]++;
	t0 = lab_vnetmq_ms();
	while ((sent < NFLOWS || got < NFLOWS) && lab_vnetmq_ms() < t0 + TIMEOUT_MS) {
		/* At most WINDOW frames in flight: a skewed table sends most of
		 * them to one queue, whose ring must not overflow. */
		if (sent < NFLOWS && sent - got < WINDOW) {
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
					flows[i].got_q = q;
					if (!(pkts[j]->ol_flags & UDK_MBUF_F_RSS_HASH)) {
						nohash++;
					} else if (pkts[j]->hash_rss != flows[i].hash &&
						   badhash++ < 5) {
						printf("  flow %d: hash 0x%08x in the mbuf, the "
						       "test's Toeplitz says 0x%08x\n", i,
						       pkts[j]->hash_rss, flows[i].hash);
					}
					if (flows[i].want_q != q && wrong++ < 5)
						printf("  flow %d (%08x:%u -> %08x:%u) on queue %u, the "
						       "hash names %u\n", i, flows[i].src, flows[i].sport,
						       flows[i].dst, flows[i].dport, q, flows[i].want_q);
				}
			}
			udk_pktmbuf_free_bulk(pkts, n);
		}
	}
	printf("%s, %s: %u of %u flows back in %llu ms; per queue", label, what, got, NFLOWS,
	       (unsigned long long)(lab_vnetmq_ms() - t0));
	for (uint16_t q = 0; q < NQ; q++)
		printf(" %u (hash: %u)", per_q[q], want_per_q[q]);
	printf("; on the wrong queue %u, duplicates %u, damaged %u, others %u; without a hash "
	       "%u, with a wrong one %u\n", wrong, dup, bad, other, nohash, badhash);
	CHECK_MSG(sent == NFLOWS, "%s, %s: %u of %u frames sent", label, what, sent, NFLOWS);
	CHECK_MSG(got == NFLOWS, "%s, %s: %u of %u flows came back", label, what, got, NFLOWS);
	CHECK_MSG(wrong == 0, "%s, %s: %u frames not on the queue the Toeplitz hash names",
		  label, what, wrong);
	CHECK(dup == 0 && bad == 0);
	CHECK_MSG(nohash == 0, "%s: %u frames without UDK_MBUF_F_RSS_HASH (hash=on: the device "
		  "reports one for each)", label, nohash);
	CHECK_MSG(badhash == 0, "%s: %u frames whose hash_rss is not the test's Toeplitz hash",
		  label, badhash);
	for (uint16_t q = 0; spread && q < NQ; q++)
		CHECK_MSG(per_q[q] > 0, "%s: nothing on queue %u", label, q);
}

/* The application's key and table: errors first, then placement. */
static void user_rss(uint16_t port, const char *label, struct udk_mempool *mp,
		     const uint8_t mac[6])
{
	static const uint8_t key[40] = {
		0x3c, 0x9e, 0x01, 0x77, 0xa5, 0x52, 0x18, 0xe0, 0x4b, 0x6d, 0xf3, 0x29, 0x90, 0x0c,
		0x7a, 0xd1, 0x35, 0x8f, 0x62, 0xbb, 0x04, 0xc8, 0x1e, 0x57, 0xe9, 0x23, 0xa0, 0x6e,
		0xd4, 0x41, 0x9b, 0x15, 0x70, 0xfe, 0x2a, 0x86, 0xcd, 0x33, 0x5f, 0x08,
	};
	uint16_t skew[TABLE_LEN], back[TABLE_LEN], bad_entry[TABLE_LEN];
	struct udk_eth_rss_conf rss = {0};
	uint16_t kl = 0, rl = 0;
	struct udk_eth_conf conf;

	for (uint16_t i = 0; i < TABLE_LEN; i++) {
		skew[i] = i % 32 == 5 ? 3 : i % 8 == 3 ? 2 : 1;
		back[i] = (uint16_t)(NQ - 1 - i % NQ);
		bad_entry[i] = (uint16_t)(i % NQ);
	}
	bad_entry[77] = NQ;
	CHECK(udk_eth_dev_rss_limits(port, &kl, &rl) == 0);
	CHECK_MSG(kl == 40 && rl == TABLE_LEN, "%s: RSS limits key %u, table %u; QEMU's are 40 "
		  "and 128", label, kl, rl);

	/* On the started port with udk's key: a new table, in force at once. */
	port_up(port, mp, NULL);
	rss.reta = back;
	rss.reta_len = TABLE_LEN;
	CHECK(udk_eth_dev_rss_update(port, &rss) == 0);
	traffic(port, label, "table changed while started", mp, mac, lab_rss_key, back, true);
	CHECK(udk_eth_dev_stop(port) == 0);

	/* Refusals, by name. */
	udk_eth_conf_init(&conf, sizeof(conf));
	conf.nb_rx_queues = conf.nb_tx_queues = NQ;
	conf.rss.key = key;
	conf.rss.key_len = 39;
	CHECK(udk_eth_dev_configure(port, &conf) == -EINVAL);
	CHECK_MSG(strstr(udk_last_error(), "an RSS key of 39 bytes; the device takes 40") != NULL,
		  "%s: %s", label, udk_last_error());
	conf.rss = (struct udk_eth_rss_conf){.reta = skew, .reta_len = 64};
	CHECK(udk_eth_dev_configure(port, &conf) == -EINVAL);
	CHECK_MSG(strstr(udk_last_error(), "an RSS table of 64 entries; the device has 128") != NULL,
		  "%s: %s", label, udk_last_error());
	conf.rss = (struct udk_eth_rss_conf){.reta = bad_entry, .reta_len = TABLE_LEN};
	CHECK(udk_eth_dev_configure(port, &conf) == -EINVAL);
	CHECK_MSG(strstr(udk_last_error(), "RSS table entry 77 names rx queue 4; the port has 4 rx "
			 "queues") != NULL, "%s: %s", label, udk_last_error());

	/* A key of our own and the skewed table, from configure. */
	rss = (struct udk_eth_rss_conf){.key = key, .key_len = 40, .reta = skew,
					.reta_len = TABLE_LEN};
	port_up(port, mp, &rss);
	traffic(port, label, "own key, skewed table", mp, mac, key, skew, false);
	CHECK_MSG(flows_on(0) == 0, "%s: frames on queue 0, which the table never names", label);
	CHECK(udk_eth_dev_stop(port) == 0);
}

static void rss_port(uint16_t port, const char *label, struct udk_mempool *mp, const uint8_t mac[6])
{
	struct udk_eth_dev_info info;

	CHECK(udk_eth_dev_info_get(port, &info) == 0);
	printf("%s: port %u, %s, %u rx / %u tx queues\n", label, port, info.driver,
	       info.max_rx_queues, info.max_tx_queues);
	REQUIRE(info.max_rx_queues == NQ && info.max_tx_queues == NQ);
	port_up(port, mp, NULL);
	traffic(port, label, "udk's key and table", mp, mac, lab_rss_key, NULL, true);
	CHECK(udk_eth_dev_stop(port) == 0);
	user_rss(port, label, mp, mac);
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
