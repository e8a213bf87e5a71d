/* SPDX-License-Identifier: BSD-3-Clause */
/* lab_net_virtio_jumbo: mergeable receive buffers (VIRTIO_NET_F_MRG_RXBUF)
 * and jumbo frames over PCI, on the lab's two virtio-nets whose taps the host
 * loops back to them (lab.py, mq_taps: MTU 9000 on the host side; vnetmq0
 * split, vnetmq1 packed), one queue pair each.  The port offers MTU 9000 and
 * takes it; frames of 64..9014 bytes (MTU 9000 plus the Ethernet header),
 * sent as chains of 2 KiB mbufs, come back each once and intact, and the
 * ones longer than a receive buffer arrive as chains (nb_segs > 1).  Puts
 * both devices back on their drivers. */
#include <stdio.h>
#include <string.h>

#include "labutil.h"
#include "labvnetmq.h"
#include "udk_ethdev.h"
#include "udk_mbuf.h"
#include "udk_util.h"

#define MTU 9000
#define MAX_FRAME (MTU + 14)
#define NB_MBUF 4096
#define BURST 8
#define IN_FLIGHT 16      /* frames sent and not yet back: the rx ring holds them */
#define TIMEOUT_MS 120000
#define ETHERTYPE 0x88b5  /* IEEE local experimental */

/* 64 to MAX_FRAME in even steps, and the lengths around a receive buffer's
 * edge (2048 bytes of data room, the 12-byte header in the headroom). */
static uint32_t lens[256];
static uint32_t nlens;
static uint8_t seen[256];

static void make_lens(void)
{
	static const uint32_t edges[] = {2047, 2048, 2049, 4096, 4097, 6144, 8191, 8192, MAX_FRAME - 1};

	nlens = 0;
	for (uint32_t i = 0; i < 200; i++)
		lens[nlens++] = 64 + i * (MAX_FRAME - 64) / 199;
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		lens[nlens++] = edges[i];
}

/* Frame i: to mac, EtherType ETHERTYPE, "UDKJ", i, its length, a pattern of i. */
static void frame_fill(uint8_t *f, const uint8_t mac[6], uint32_t i)
{
	uint32_t len = lens[i];

	memcpy(f, mac, 6);
	memcpy(f + 6, (uint8_t[]){0x02, 0, 0, 0x4a, 0x4d, 0x42}, 6);
	f[12] = ETHERTYPE >> 8;
	f[13] = ETHERTYPE & 0xff;
	memcpy(f + 14, "UDKJ", 4);
	memcpy(f + 18, &i, 4);
	memcpy(f + 22, &len, 4);
	for (uint32_t k = 26; k < len; k++)
		f[k] = (uint8_t)(i * 13 + k * 7 + (k >> 8));
}

/* The frame as a chain of mbufs of at most seg bytes each; NULL when the
 * pool is empty. */
static struct udk_mbuf *chain_of(struct udk_mempool *mp, const uint8_t *f, uint32_t len,
				 uint16_t seg)
{
	struct udk_mbuf *head = NULL;

	for (uint32_t off = 0; off < len; off += seg) {
		uint16_t n = (uint16_t)(len - off < seg ? len - off : seg);
		struct udk_mbuf *m = udk_pktmbuf_alloc(mp);

		if (m == NULL || udk_pktmbuf_append(m, n) == NULL) {
			udk_pktmbuf_free(m);
			udk_pktmbuf_free(head);
			return NULL;
		}
		memcpy(udk_pktmbuf_mtod(m, uint8_t *), f + off, n);
		if (head == NULL)
			head = m;
		else if (udk_pktmbuf_chain(head, m) != 0) {
			udk_pktmbuf_free(m);
			udk_pktmbuf_free(head);
			return NULL;
		}
	}
	return head;
}

/* The index of a received frame of ours, -1 for another frame, -2 for one
 * of ours that is damaged. */
static int frame_check(const struct udk_mbuf *m, const uint8_t mac[6])
{
	static uint8_t got[MAX_FRAME], want[MAX_FRAME];
	uint32_t i;

	if (m->pkt_len < 26 || m->pkt_len > MAX_FRAME || udk_pktmbuf_read(m, 0, m->pkt_len, got) != 0)
		return -1;
	if (got[12] != (ETHERTYPE >> 8) || got[13] != (ETHERTYPE & 0xff) ||
	    memcmp(got + 14, "UDKJ", 4) != 0)
		return -1;
	memcpy(&i, got + 18, 4);
	if (i >= nlens || m->pkt_len != lens[i])
		return -2;
	frame_fill(want, mac, i);
	return memcmp(got, want, lens[i]) == 0 ? (int)i : -2;
}

static void jumbo_port(uint16_t port, const char *label, struct udk_mempool *mp,
		       const uint8_t mac[6])
{
	static uint8_t f[MAX_FRAME];
	struct udk_eth_dev_info info;
	struct udk_eth_conf conf;
	struct udk_eth_rxq_conf rxc;
	struct udk_eth_txq_conf txc;
	struct udk_eth_stats st;
	struct udk_mbuf *pkts[BURST];
	uint32_t sent = 0, got = 0, chained = 0, max_segs = 0, dup = 0, bad = 0, other = 0;
	uint64_t t0, t_last;

	CHECK(udk_eth_dev_info_get(port, &info) == 0);
	printf("%s: port %u, %s, MTU %u..%u\n", label, port, info.driver, info.min_mtu,
	       info.max_mtu);
	CHECK_MSG(info.max_mtu == MTU, "%s: max MTU %u; with mergeable receive buffers the port "
		  "takes %u", label, info.max_mtu, MTU);
	udk_eth_conf_init(&conf, sizeof(conf));
	conf.mtu = MTU;
	REQUIRE(udk_eth_dev_configure(port, &conf) == 0);
	udk_eth_rxq_conf_init(&rxc, sizeof(rxc));
	rxc.mp = mp;
	rxc.nb_desc = 256;
	udk_eth_txq_conf_init(&txc, sizeof(txc));
	txc.nb_desc = 256;
	REQUIRE(udk_eth_rx_queue_setup(port, 0, &rxc) == 0);
	REQUIRE(udk_eth_tx_queue_setup(port, 0, &txc) == 0);
	REQUIRE(udk_eth_dev_start(port) == 0);
	CHECK(udk_eth_stats_reset(port) == 0);

	memset(seen, 0, sizeof(seen));
	t0 = t_last = lab_vnetmq_ms();
	while ((sent < nlens || got < nlens) && lab_vnetmq_ms() < t0 + TIMEOUT_MS) {
		if (sent < nlens && sent - got < IN_FLIGHT) {
			uint16_t k = 0, n;

			while (k < BURST && sent + k < nlens && sent + k - got < IN_FLIGHT) {
				frame_fill(f, mac, sent + k);
				pkts[k] = chain_of(mp, f, lens[sent + k], 2000);
				REQUIRE(pkts[k] != NULL);
				k++;
			}
			n = udk_eth_tx_burst(port, 0, pkts, k);
			udk_pktmbuf_free_bulk(pkts + n, (unsigned int)(k - n));
			sent += n;
		}
		uint16_t n = udk_eth_rx_burst(port, 0, pkts, BURST);

		for (uint16_t j = 0; j < n; j++) {
			int i = frame_check(pkts[j], mac);

			if (i >= 0) {
				if (seen[i]++ == 0)
					got++;
				else
					dup++;
				chained += pkts[j]->nb_segs > 1;
				if (pkts[j]->nb_segs > max_segs)
					max_segs = pkts[j]->nb_segs;
			} else if (i == -2) {
				if (bad++ < 5)
					printf("  damaged frame of %u bytes, %u segments\n",
					       pkts[j]->pkt_len, pkts[j]->nb_segs);
			} else {
				other++;
			}
		}
		udk_pktmbuf_free_bulk(pkts, n);
		/* A lost frame stalls the window: stop after 10 s without one back. */
		if (n != 0)
			t_last = lab_vnetmq_ms();
		else if (lab_vnetmq_ms() > t_last + 10000)
			break;
	}
	printf("%s: %u of %u frames (64..%u bytes) back in %llu ms, %u as chains (up to %u "
	       "segments); duplicates %u, damaged %u, others %u\n", label, got, nlens, MAX_FRAME,
	       (unsigned long long)(lab_vnetmq_ms() - t0), chained, max_segs, dup, bad, other);
	for (uint32_t i = 0, shown = 0; i < nlens && shown < 5; i++)
		if (!seen[i] && ++shown)
			printf("  frame %u (%u bytes) did not come back\n", i, lens[i]);
	CHECK_MSG(sent == nlens, "%s: %u of %u frames sent", label, sent, nlens);
	CHECK_MSG(got == nlens, "%s: %u of %u frames came back", label, got, nlens);
	CHECK(dup == 0 && bad == 0);
	CHECK_MSG(chained > 0 && max_segs >= 5, "%s: %u frames as chains, up to %u segments; a "
		  "9014-byte frame needs 5 receive buffers", label, chained, max_segs);
	CHECK(udk_eth_stats_get(port, &st) == 0);
	printf("%s: ipackets %llu ierrors %llu opackets %llu oerrors %llu\n", label,
	       (unsigned long long)st.ipackets, (unsigned long long)st.ierrors,
	       (unsigned long long)st.opackets, (unsigned long long)st.oerrors);
	CHECK(st.opackets == nlens && st.oerrors == 0 && st.ierrors == 0);
	CHECK(udk_eth_dev_stop(port) == 0);
	CHECK(udk_eth_dev_close(port) == 0);
}

int main(void)
{
	struct lab_vnetmq t;

	lab_vnetmq_open(&t, "lab_net_virtio_jumbo", NB_MBUF);
	make_lens();
	for (int d = 0; d < 2; d++)
		jumbo_port(t.port[d], t.label[d], t.mp, t.mac[d]);
	lab_vnetmq_close(&t);
	return lab_result();
}
