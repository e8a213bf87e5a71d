/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_net_e1000e_rss: net_e1000e's receive-side scaling on QEMU's 82574 (two
 * receive queues, the Microsoft key, table entry i to queue i % 2).  The
 * kernel's virtio_net on the virtio-net NIC (hub 0) sends, through an
 * AF_PACKET socket, frames of 256 IPv4 flows to the e1000e: half UDP (the
 * 82574 hashes their addresses only), half TCP (addresses and ports).  Each
 * must arrive once, intact, on the queue the Toeplitz hash names, computed
 * here by the test's own implementation (labrss.h), with that hash in the
 * mbuf (hash_rss, UDK_MBUF_F_RSS_HASH); both queues must get frames.  Then
 * each queue's receive interrupt fires on its own MSI-X vector.  Then the
 * application's RSS configuration (udk_eth_rss_conf): limits 40 and 128, a
 * table changed on the started port (udk_eth_dev_rss_update, entry i to
 * queue 1 - i % 2), a table naming queue 2 refused with lib/ethdev's
 * message, and a key of its own with a skewed table (one entry in eight to
 * queue 0, the rest to queue 1) from configure: every flow again on the
 * queue that key and table name, with that key's hash.  Puts the NICs back
 * as found.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "labnet.h"
#include "labrss.h"
#include "labutil.h"
#include "udk_eal.h"
#include "udk_ethdev.h"
#include "udk_mbuf.h"
#include "udk_util.h"

#define NQ 2
#define TABLE_LEN 128 /* the 82574's RETA; udk's entry i is i % NQ */
#define NFLOWS 256
#define FRAME_LEN 128
#define BURST 32
#define MARK 54       /* "UDKR" and the flow number, past a TCP header */

struct flow {
	uint32_t src, dst; /* host order */
	uint16_t sport, dport;
	bool tcp;
	uint32_t hash;     /* what labrss.h says */
	uint16_t want_q;
	uint16_t got;
};

static struct flow flows[NFLOWS];
static uint8_t mac_e[6], mac_v[6];
static struct labnet_peer peer; /* the kernel on the virtio NIC */

/* Frame of flow i: Ethernet to the e1000e, IPv4 (valid checksum, not a
 * fragment), UDP or TCP, then "UDKR", i and a pattern of i. */
static void frame_fill(uint8_t *f, uint32_t i)
{
	const struct flow *fl = &flows[i];

	lab_frame_ipv4(f, FRAME_LEN, mac_e, mac_v, (uint16_t)i, fl->tcp, fl->src, fl->dst,
		       fl->sport, fl->dport);
	memcpy(f + MARK, "UDKR", 4);
	lab_put32(f + MARK + 4, i);
	for (uint32_t k = MARK + 8; k < FRAME_LEN; k++)
		f[k] = (uint8_t)(i * 7 + k);
}

/* The flows, their hashes under key and the queue the table names: reta's
 * entry, or udk's default i % NQ when reta is NULL. */
static void make_flows(const uint8_t *key, const uint16_t *reta)
{
	uint32_t seed = 0x82574u;

	for (uint32_t i = 0; i < NFLOWS; i++) {
		struct flow *fl = &flows[i];

		seed = seed * 1103515245u + 12345u;
		fl->src = 0x0a000000u | (seed >> 8);
		seed = seed * 1103515245u + 12345u;
		fl->dst = 0xc0a80000u | (seed >> 16);
		seed = seed * 1103515245u + 12345u;
		fl->sport = (uint16_t)(1024 + (seed >> 16) % 60000);
		fl->dport = (uint16_t)(1024 + (i * 40503u) % 60000);
		fl->tcp = i & 1;
		fl->hash = lab_rss_ipv4(key, fl->src, fl->dst, fl->sport, fl->dport, fl->tcp);
		fl->want_q = reta != NULL ? reta[fl->hash & (TABLE_LEN - 1)]
					  : (uint16_t)((fl->hash & (TABLE_LEN - 1)) % NQ);
		fl->got = 0;
	}
}

/* Check one received frame on queue q; counts what is wrong. */
static void check_frame(const struct udk_mbuf *m, uint16_t q, unsigned int *wrong,
			unsigned int *bad, unsigned int *nohash, unsigned int *dup,
			unsigned int *other)
{
	const uint8_t *f = udk_pktmbuf_mtod(m, const uint8_t *);
	uint8_t want[FRAME_LEN];
	uint32_t i;
	struct flow *fl;

	if (m->pkt_len < MARK + 8 || memcmp(f + MARK, "UDKR", 4) != 0) {
		(*other)++;
		return;
	}
	i = lab_get32(f + MARK + 4);
	if (i >= NFLOWS) {
		(*bad)++;
		return;
	}
	fl = &flows[i];
	frame_fill(want, i);
	if (m->pkt_len != FRAME_LEN || memcmp(f, want, FRAME_LEN) != 0) {
		if (++*bad <= 5)
			printf("  flow %u: damaged\n", i);
		return;
	}
	if (fl->got++ > 0)
		(*dup)++;
	if (!(m->ol_flags & UDK_MBUF_F_RSS_HASH) || m->hash_rss != fl->hash) {
		if (++*nohash <= 5)
			printf("  flow %u (%s): hash %08x%s, Toeplitz says %08x\n", i,
			       fl->tcp ? "TCP" : "UDP", m->hash_rss,
			       m->ol_flags & UDK_MBUF_F_RSS_HASH ? "" : " (no flag)", fl->hash);
	}
	if (q != fl->want_q && ++*wrong <= 5)
		printf("  flow %u (%s): on queue %u, the hash %08x names queue %u\n", i,
		       fl->tcp ? "TCP" : "UDP", q, fl->hash, fl->want_q);
}

/* Whether fd becomes readable within ms. */
static bool readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) == 1;
}

/* Each queue's interrupt on its own vector (IVAR): with both armed, a frame
 * of a flow RSS sends to queue q makes q's fd readable and not the other's. */
static void intr_per_queue(uint16_t port)
{
	int fd[NQ];

	for (uint16_t q = 0; q < NQ; q++)
		REQUIRE(udk_eth_rx_intr_fd(port, q, &fd[q]) == 0);
	CHECK(fd[0] != fd[1]);
	for (uint16_t q = 0; q < NQ; q++) {
		uint32_t i = 0;
		uint8_t f[FRAME_LEN];
		bool hit, other;

		while (i < NFLOWS && flows[i].want_q != q)
			i++;
		REQUIRE(i < NFLOWS);
		for (uint16_t k = 0; k < NQ; k++)
			CHECK_MSG(udk_eth_rx_intr_arm(port, k) == 0, "queue %u armed, nothing waiting", k);
		frame_fill(f, i);
		CHECK(send(peer.sock, f, FRAME_LEN, 0) == FRAME_LEN);
		hit = readable(fd[q], 5000);
		other = readable(fd[1 - q], 0);
		printf("interrupt: flow %u to queue %u: queue %u's fd %s, queue %u's %s\n", i, q, q,
		       hit ? "readable" : "silent", 1 - q, other ? "readable" : "silent");
		CHECK_MSG(hit, "queue %u's interrupt came", q);
		CHECK_MSG(!other, "queue %u's interrupt stayed silent", 1 - q);
		for (uint16_t k = 0; k < NQ; k++) {
			struct udk_mbuf *pkts[BURST];
			uint16_t n;

			udk_eth_rx_intr_disarm(port, k);
			n = udk_eth_rx_burst(port, k, pkts, BURST);
			CHECK_MSG(n == (k == q ? 1 : 0), "queue %u got %u frames", k, n);
			udk_pktmbuf_free_bulk(pkts, n);
		}
	}
}

/* Configure port with NQ rx queues (and rss, NULL for none) and start it. */
static void port_up(uint16_t port, struct udk_mempool *mp, const struct udk_eth_rss_conf *rss)
{
	struct udk_eth_conf conf;
	struct udk_eth_rxq_conf rxc;
	struct udk_eth_txq_conf txc;

	udk_eth_conf_init(&conf, sizeof(conf));
	conf.nb_rx_queues = NQ;
	if (rss != NULL)
		conf.rss = *rss;
	REQUIRE(udk_eth_dev_configure(port, &conf) == 0);
	udk_eth_rxq_conf_init(&rxc, sizeof(rxc));
	rxc.mp = mp;
	for (uint16_t q = 0; q < NQ; q++)
		REQUIRE(udk_eth_rx_queue_setup(port, q, &rxc) == 0);
	udk_eth_txq_conf_init(&txc, sizeof(txc));
	REQUIRE(udk_eth_tx_queue_setup(port, 0, &txc) == 0);
	REQUIRE(udk_eth_dev_start(port) == 0);
}

/* The kernel sends each flow's frame once to the started port; each must
 * arrive intact, once, on the queue key and reta name (make_flows), with
 * key's hash in its mbuf.  per_q: the frames each queue got. */
static void traffic(uint16_t port, const char *what, const uint8_t *key, const uint16_t *reta,
		    unsigned int per_q[NQ])
{
	unsigned int got = 0, wrong = 0, bad = 0, nohash = 0, dup = 0, other = 0;
	unsigned int want_q[NQ] = {0};
	uint64_t end;

	make_flows(key, reta);
	for (uint32_t i = 0; i < NFLOWS; i++)
		want_q[flows[i].want_q]++;
	for (uint16_t q = 0; q < NQ; q++)
		per_q[q] = 0;
	end = labnet_ms() + 30000;
	for (uint32_t sent = 0; (sent < NFLOWS || got < NFLOWS) && labnet_ms() < end;) {
		for (uint32_t k = 0; k < BURST && sent < NFLOWS; k++, sent++) {
			uint8_t f[FRAME_LEN];

			frame_fill(f, sent);
			if (send(peer.sock, f, FRAME_LEN, 0) != FRAME_LEN)
				printf("  send of flow %u failed\n", sent);
		}
		usleep(2000);
		for (uint16_t q = 0; q < NQ; q++) {
			struct udk_mbuf *pkts[BURST];
			uint16_t n = udk_eth_rx_burst(port, q, pkts, BURST);

			for (uint16_t k = 0; k < n; k++) {
				unsigned int before = other;

				check_frame(pkts[k], q, &wrong, &bad, &nohash, &dup, &other);
				if (other == before)
					per_q[q]++;
			}
			udk_pktmbuf_free_bulk(pkts, n);
		}
		got = 0;
		for (uint32_t i = 0; i < NFLOWS; i++)
			got += flows[i].got > 0;
	}
	printf("%s: %u of %u flows received; queue 0: %u (hash: %u), queue 1: %u (hash: %u); "
	       "wrong queue %u, hash mismatch %u, damaged %u, duplicates %u, other frames %u\n",
	       what, got, NFLOWS, per_q[0], want_q[0], per_q[1], want_q[1], wrong, nohash, bad, dup,
	       other);
	CHECK_MSG(got == NFLOWS, "%s: %u flows never arrived", what, NFLOWS - got);
	CHECK_MSG(wrong == 0, "%s: %u frames not on the queue the Toeplitz hash names", what,
		  wrong);
	CHECK_MSG(nohash == 0, "%s: %u frames without the right hash in the mbuf", what, nohash);
	CHECK(bad == 0 && dup == 0);
}

/* The application's key and table (udk_eth_rss_conf): the limits, a table
 * changed on the started port, a table naming a queue the port lacks
 * refused with lib/ethdev's message, then a key of its own and a skewed
 * table from configure. */
static void user_rss(uint16_t port, struct udk_mempool *mp)
{
	static const uint8_t key[40] = {
		0x3c, 0x9e, 0x01, 0x77, 0xa5, 0x52, 0x18, 0xe0, 0x4b, 0x6d, 0xf3, 0x29, 0x90, 0x0c,
		0x7a, 0xd1, 0x35, 0x8f, 0x62, 0xbb, 0x04, 0xc8, 0x1e, 0x57, 0xe9, 0x23, 0xa0, 0x6e,
		0xd4, 0x41, 0x9b, 0x15, 0x70, 0xfe, 0x2a, 0x86, 0xcd, 0x33, 0x5f, 0x08,
	};
	uint16_t skew[TABLE_LEN], back[TABLE_LEN], bad_entry[TABLE_LEN];
	struct udk_eth_rss_conf rss = {0};
	struct udk_eth_conf conf;
	unsigned int per_q[NQ];
	uint16_t kl = 0, rl = 0;

	for (uint16_t i = 0; i < TABLE_LEN; i++) {
		skew[i] = i % 8 == 3 ? 0 : 1; /* one in eight to queue 0 */
		back[i] = (uint16_t)(NQ - 1 - i % NQ);
		bad_entry[i] = (uint16_t)(i % NQ);
	}
	bad_entry[77] = NQ;
	CHECK(udk_eth_dev_rss_limits(port, &kl, &rl) == 0);
	CHECK_MSG(kl == 40 && rl == TABLE_LEN, "RSS limits key %u, table %u; the 82574's are 40 "
		  "and 128", kl, rl);

	/* The port is started with udk's key and table: a new table, at once. */
	rss.reta = back;
	rss.reta_len = TABLE_LEN;
	CHECK(udk_eth_dev_rss_update(port, &rss) == 0);
	traffic(port, "table changed while started", lab_rss_key, back, per_q);
	CHECK(udk_eth_dev_stop(port) == 0);

	udk_eth_conf_init(&conf, sizeof(conf));
	conf.nb_rx_queues = NQ;
	conf.rss = (struct udk_eth_rss_conf){.reta = bad_entry, .reta_len = TABLE_LEN};
	CHECK(udk_eth_dev_configure(port, &conf) == -EINVAL);
	CHECK_MSG(strstr(udk_last_error(), "RSS table entry 77 names rx queue 2; the port has 2 rx "
			 "queues") != NULL, "refusal: %s", udk_last_error());

	rss = (struct udk_eth_rss_conf){.key = key, .key_len = 40, .reta = skew,
					.reta_len = TABLE_LEN};
	port_up(port, mp, &rss);
	traffic(port, "own key, skewed table", key, skew, per_q);
	CHECK_MSG(per_q[1] > 3 * per_q[0], "skewed table: queue 1 got %u, queue 0 %u", per_q[1],
		  per_q[0]);
	CHECK(udk_eth_dev_stop(port) == 0);
}

int main(void)
{
	const char *e1000e, *virtio;
	char drv_e[64] = "";
	struct udk_mempool *mp;
	struct udk_eth_dev_info info;
	unsigned int per_q[NQ];
	uint16_t port;

	setvbuf(stdout, NULL, _IOLBF, 0);
	lab_require_guest();
	e1000e = lab_env_require("UDK_LAB_E1000E");
	virtio = lab_env_require("UDK_LAB_VIRTIO");
	REQUIRE(labnet_parse_mac(lab_env_require("UDK_LAB_MAC_E1000E"), mac_e) == 0);
	REQUIRE(labnet_parse_mac(lab_env_require("UDK_LAB_MAC_VIRTIO"), mac_v) == 0);
	lab_device_driver(e1000e, drv_e, sizeof(drv_e));
	REQUIRE(labnet_peer_open(&peer, virtio, 0x0800) == 0);
	REQUIRE(lab_bind_vfio(e1000e) == 0);

	char *argv[] = {"lab", "-l", "0", "-m", "64", "-a", (char *)e1000e, NULL};
	REQUIRE(udk_eal_init(7, argv) == 7);
	REQUIRE(udk_pktmbuf_pool_create("rss", 2048, 64, 0, UDK_SOCKET_ANY, &mp) == 0);
	REQUIRE(udk_eth_probe_eal() == 1);
	REQUIRE(udk_eth_dev_find(e1000e, &port) == 0);
	REQUIRE(udk_eth_dev_info_get(port, &info) == 0);
	printf("port %u: %s, %u rx / %u tx queues\n", port, info.driver, info.max_rx_queues,
	       info.max_tx_queues);
	REQUIRE(info.max_rx_queues == NQ);
	port_up(port, mp, NULL);

	traffic(port, "udk's key and table", lab_rss_key, NULL, per_q);
	for (uint16_t q = 0; q < NQ; q++)
		CHECK_MSG(per_q[q] > 0, "nothing on queue %u", q);

	intr_per_queue(port);
	user_rss(port, mp);

	udk_eth_dev_close(port);
	udk_mempool_free(mp);
	udk_eal_cleanup();
	CHECK(lab_bind(e1000e, drv_e) == 0);
	CHECK(labnet_peer_close(&peer) == 0);
	return lab_result();
}
