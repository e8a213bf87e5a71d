/* SPDX-License-Identifier: BSD-3-Clause */
/* lab_net_virtio_tso: TCP segmentation offload (VIRTIO_NET_F_HOST_TSO4) over
 * PCI on the lab's two tap-backed virtio-nets (vnetmq0 split, vnetmq1
 * packed; lab.py mq_taps: what the guest sends comes straight back), MTU
 * 1500.  TCP/IPv4 frames of 1449 to 65495 payload bytes leave udk whole, as
 * chains of 2000-byte mbufs, with UDK_MBUF_F_TX_TCP_SEG, tso_segsz 1448 and
 * the pseudo-header sum without the length in the checksum field (DPDK's
 * convention).  The guest takes no TSO of its own, so the host kernel cuts
 * each frame into segments on its way back: every segment comes back, each
 * at most the MTU, with the right sequence number, its part of the payload,
 * a valid IPv4 header checksum and length, and a valid TCP checksum (all
 * computed here).  A TSO request without tso_segsz counts in oerrors. */
#include <stdio.h>
#include <string.h>

#include "labcsum.h"
#include "labutil.h"
#include "labvnetmq.h"
#include "udk_ethdev.h"
#include "udk_mbuf.h"
#include "udk_util.h"

#define NB_MBUF 4096
#define MSS 1448
#define L2 14
#define L3 20
#define L4 20
#define HDRS (L2 + L3 + L4)
#define MAX_SEGS 46      /* 65495 / 1448, rounded up */
#define TIMEOUT_MS 60000

static const uint32_t payloads[] = {1449, 3000, 8000, 20000, 40000, 65495};
#define NFRAMES (sizeof(payloads) / sizeof(payloads[0]))

static uint8_t got_seg[NFRAMES][MAX_SEGS];
static uint8_t mac_of_port[6];

static uint8_t pay(uint32_t k, uint32_t o)
{
	return (uint8_t)(k * 11 + o * 7 + (o >> 9));
}

static uint32_t seq0(uint32_t k)
{
	return 0x10000000u * (k + 1);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Frame k whole: Ethernet, IPv4 (DF, valid header checksum), TCP (ACK PSH)
 * with the pseudo-header sum without the length, the payload. */
static uint32_t frame_fill(uint8_t *f, uint32_t k)
{
	uint32_t len = HDRS + payloads[k], seq = seq0(k);
	uint8_t *ip = f + L2, *t = f + L2 + L3;
	uint8_t ph[12] = {10, 7, 0, 1, 10, 7, 0, 2, 0, 6, 0, 0};

	memset(f, 0, HDRS);
	memcpy(f, mac_of_port, 6);
	memcpy(f + 6, (uint8_t[]){0x02, 0, 0, 0x54, 0x53, 0x4f}, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(len - L2));
	put16(ip + 4, (uint16_t)(k * 100));
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, ph, 8);
	put16(ip + 10, (uint16_t)~lab_fold(lab_sum16(0, ip, L3)));
	put16(t, (uint16_t)(40000 + k));
	put16(t + 2, 80);
	t[4] = (uint8_t)(seq >> 24);
	t[5] = (uint8_t)(seq >> 16);
	t[6] = (uint8_t)(seq >> 8);
	t[7] = (uint8_t)seq;
	t[11] = 1;
	t[12] = 0x50;
	t[13] = 0x18;
	put16(t + 14, 0xffff);
	put16(t + 16, lab_fold(lab_sum16(0, ph, sizeof(ph))));
	for (uint32_t o = 0; o < payloads[k]; o++)
		f[HDRS + o] = pay(k, o);
	return len;
}

/* A segment of frame k (its index, -1 another frame, -2 one of ours that
 * is wrong, said why). */
static int seg_check(const struct udk_mbuf *m)
{
	static uint8_t s[9014];
	const uint8_t *ip = s + L2, *t = s + L2 + L3;
	uint32_t k, off, chunk, j;
	uint8_t ph[12];

	if (m->pkt_len < HDRS || m->pkt_len > sizeof(s) ||
	    udk_pktmbuf_read(m, 0, m->pkt_len, s) != 0 || s[12] != 0x08 || ip[9] != 6 ||
	    get16(t) < 40000 || get16(t) >= 40000 + NFRAMES)
		return -1;
	k = get16(t) - 40000u;
	off = get32(t + 4) - seq0(k);
	chunk = m->pkt_len - HDRS;
	j = off / MSS;
	if (m->pkt_len > 1514 || off % MSS != 0 || j >= MAX_SEGS || off + chunk > payloads[k] ||
	    chunk != (payloads[k] - off < MSS ? payloads[k] - off : MSS)) {
		printf("  frame %u: a segment of %u bytes at offset %u\n", k, m->pkt_len, off);
		return -2;
	}
	for (uint32_t o = 0; o < chunk; o++)
		if (s[HDRS + o] != pay(k, off + o)) {
			printf("  frame %u, segment %u: payload byte %u differs\n", k, j, o);
			return -2;
		}
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = 6;
	put16(ph + 10, (uint16_t)(L4 + chunk));
	if (lab_fold(lab_sum16(0, ip, L3)) != 0xffff || get16(ip + 2) != L3 + L4 + chunk ||
	    lab_fold(lab_sum16(lab_sum16(0, ph, sizeof(ph)), t, L4 + chunk)) != 0xffff) {
		printf("  frame %u, segment %u: IP length %u, IP checksum %s, TCP checksum 0x%04x "
		       "%s\n", k, j, get16(ip + 2),
		       lab_fold(lab_sum16(0, ip, L3)) == 0xffff ? "good" : "bad", get16(t + 16),
		       lab_fold(lab_sum16(lab_sum16(0, ph, sizeof(ph)), t, L4 + chunk)) == 0xffff ?
		       "good" : "bad");
		return -2;
	}
	got_seg[k][j]++;
	return (int)k;
}

static void tso_port(uint16_t port, const char *label, struct udk_mempool *mp,
		     const uint8_t mac[6])
{
	static uint8_t f[HDRS + 65535];
	struct udk_mbuf *pkts[32];
	struct udk_eth_stats st;
	uint32_t want = 0, segs = 0, bad = 0, dup = 0, sent = 0;
	uint64_t t0;

	memcpy(mac_of_port, mac, 6);
	memset(got_seg, 0, sizeof(got_seg));
	lab_vnetmq_port_up(port, mp, UDK_ETHER_MTU, 0,
			   UDK_ETH_TX_OFFLOAD_TCP_TSO | UDK_ETH_TX_OFFLOAD_TCP_CKSUM);
	for (uint32_t k = 0; k < NFRAMES; k++) {
		uint32_t len = frame_fill(f, k);
		struct udk_mbuf *m = lab_vnetmq_chain(mp, f, len, 2000);

		REQUIRE(m != NULL);
		m->ol_flags = UDK_MBUF_F_TX_TCP_SEG | UDK_MBUF_F_TX_TCP_CKSUM | UDK_MBUF_F_TX_IPV4;
		m->l2_len = L2;
		m->l3_len = L3;
		m->l4_len = L4;
		m->tso_segsz = MSS;
		pkts[k] = m;
		want += (payloads[k] + MSS - 1) / MSS;
	}
	t0 = lab_vnetmq_ms();
	while (sent < NFRAMES && lab_vnetmq_ms() < t0 + TIMEOUT_MS)
		sent += udk_eth_tx_burst(port, 0, pkts + sent, (uint16_t)(NFRAMES - sent));
	udk_pktmbuf_free_bulk(pkts + sent, (unsigned int)(NFRAMES - sent));
	while (segs + bad < want && lab_vnetmq_ms() < t0 + TIMEOUT_MS) {
		uint16_t n = udk_eth_rx_burst(port, 0, pkts, 32);

		for (uint16_t i = 0; i < n; i++) {
			int k = seg_check(pkts[i]);

			if (k == -2)
				bad++;
			else if (k >= 0)
				segs++;
		}
		udk_pktmbuf_free_bulk(pkts, n);
	}
	for (uint32_t k = 0; k < NFRAMES; k++)
		for (uint32_t j = 0; j * MSS < payloads[k]; j++) {
			if (got_seg[k][j] > 1)
				dup += got_seg[k][j] - 1u;
			if (got_seg[k][j] == 0)
				printf("  frame %u: segment %u missing\n", k, j);
		}
	printf("%s: %u frames of 1449..65495 payload bytes sent, %u of %u segments back "
	       "(%llu ms); wrong %u, duplicates %u\n", label, sent, segs - dup, want,
	       (unsigned long long)(lab_vnetmq_ms() - t0), bad, dup);
	CHECK(sent == NFRAMES);
	CHECK_MSG(segs == want && dup == 0 && bad == 0, "%s: %u of %u segments, %u wrong", label,
		  segs, want, bad);
	CHECK(udk_eth_stats_get(port, &st) == 0);
	CHECK_MSG(st.opackets == NFRAMES && st.oerrors == 0, "%s: opackets %llu oerrors %llu",
		  label, (unsigned long long)st.opackets, (unsigned long long)st.oerrors);

	/* A TSO request without a segment size cannot be honoured. */
	uint32_t len = frame_fill(f, 0);
	struct udk_mbuf *m = lab_vnetmq_chain(mp, f, len, 2000);

	REQUIRE(m != NULL);
	m->ol_flags = UDK_MBUF_F_TX_TCP_SEG | UDK_MBUF_F_TX_IPV4;
	m->l2_len = L2;
	m->l3_len = L3;
	m->l4_len = L4;
	CHECK(udk_eth_tx_burst(port, 0, &m, 1) == 1);
	CHECK(udk_eth_stats_get(port, &st) == 0);
	CHECK_MSG(st.oerrors == 1, "%s: oerrors %llu", label, (unsigned long long)st.oerrors);
	CHECK(udk_eth_dev_stop(port) == 0);
	CHECK(udk_eth_dev_close(port) == 0);
}

int main(void)
{
	struct lab_vnetmq t;

	lab_vnetmq_open(&t, "lab_net_virtio_tso", NB_MBUF);
	for (int d = 0; d < 2; d++)
		tso_port(t.port[d], t.label[d], t.mp, t.mac[d]);
	lab_vnetmq_close(&t);
	return lab_result();
}
