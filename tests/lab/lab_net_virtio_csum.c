/* SPDX-License-Identifier: BSD-3-Clause */
/* lab_net_virtio_csum: checksum offload over PCI on the lab's two
 * tap-backed virtio-nets (vnetmq0 split, vnetmq1 packed; lab.py mq_taps:
 * what the guest sends the host's tc sends straight back), MTU 9000.
 * UDP and TCP frames of 62..9014 bytes leave udk with only the
 * pseudo-header sum in their checksum field and UDK_MBUF_F_TX_*_CKSUM
 * (the header says NEEDS_CSUM):
 * - port configured without offloads: the driver computes each checksum
 *   (VIRTIO_NET_F_CSUM is not negotiated); every frame returns whole;
 * - port configured with tx offloads (VIRTIO_NET_F_CSUM) and no rx offloads
 *   (no VIRTIO_NET_F_GUEST_CSUM): QEMU
 *   tells the tap the guest takes no partial checksums, so the host kernel
 *   completes each one on its way back; every frame returns with the
 *   checksum the test computes itself, the rest of it unchanged;
 * - port configured with UDK_ETH_RX_OFFLOAD_UDP_CKSUM | _TCP_CKSUM: the
 *   same frames come back still partial, flagged UDK_MBUF_F_RX_L4_CKSUM_NONE
 *   (data intact, checksum not filled); frames sent with their checksum
 *   whole and no request come back unflagged, unchanged.
 * One frame in four is shared (refcnt 2), so its header takes the queue's
 * header area rather than the headroom.  A request udk cannot honour (no
 * l3_len) counts in oerrors; an rx offload net_virtio lacks fails configure. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "labcsum.h"
#include "labutil.h"
#include "labvnetmq.h"
#include "udk_ethdev.h"
#include "udk_mbuf.h"
#include "udk_util.h"

#define MTU 9000
#define MAX_FRAME (MTU + 14)
#define NB_MBUF 4096
#define IN_FLIGHT 16
#define NFRAMES 96
#define L2 14
#define L3 20
#define TIMEOUT_MS 60000
#define TX_CSUM (UDK_ETH_TX_OFFLOAD_UDP_CKSUM | UDK_ETH_TX_OFFLOAD_TCP_CKSUM)

static const uint32_t lens[] = {62, 63, 64, 99, 200, 1000, 1514, 2047, 3001, 4096, 6000, MAX_FRAME};
#define NLENS (sizeof(lens) / sizeof(lens[0]))

struct frame {
	uint32_t len;
	uint8_t proto;     /* 17 UDP, 6 TCP */
	bool offload;      /* sent with the pseudo-header sum and a TX_ flag */
	bool shared;
	uint16_t full, partial; /* the checksum, whole and pseudo-header only */
};

static struct frame frames[NFRAMES];
static uint16_t seen[NFRAMES];

struct ctx {
	struct udk_mempool *mp;
	bool rx_csum;       /* the port was configured with rx_offloads */
};
static struct udk_mbuf *held[NFRAMES];
static uint8_t mac_of_port[6];

static size_t field_of(uint8_t proto)
{
	return L2 + L3 + (proto == 6 ? 16 : 6);
}

/* Frame i with its checksum field zeroed: Ethernet to the port, IPv4 (its
 * header checksum valid), UDP or TCP, "UDKC", i, a pattern.  Fills full and
 * partial of frames[i]. */
static void frame_fill(uint8_t *f, uint32_t i)
{
	struct frame *fr = &frames[i];
	uint32_t l3len = fr->len - L2, l4 = l3len - L3;
	uint8_t *ip = f + L2, *t = f + L2 + L3;
	uint8_t ph[12] = {10, 9, 0, (uint8_t)i, 192, 168, 9, 1, 0, fr->proto, (uint8_t)(l4 >> 8),
			  (uint8_t)l4};
	size_t hl = fr->proto == 6 ? 20 : 8;
	uint16_t c;

	memset(f, 0, L2 + L3 + hl);
	memcpy(f, mac_of_port, 6);
	memcpy(f + 6, (uint8_t[]){0x02, 0, 0, 0x43, 0x53, 0x4d}, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(l3len >> 8);
	ip[3] = (uint8_t)l3len;
	ip[5] = (uint8_t)i;
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = fr->proto;
	memcpy(ip + 12, ph, 8);
	c = (uint16_t)~lab_fold(lab_sum16(0, ip, L3));
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	t[0] = 0x9c;
	t[1] = (uint8_t)i;
	t[2] = 0x27;
	t[3] = 0x0f;
	if (fr->proto == 17) {
		t[4] = (uint8_t)(l4 >> 8);
		t[5] = (uint8_t)l4;
	} else {
		t[12] = 0x50; /* 20-byte header */
		t[13] = 0x18; /* PSH ACK */
		t[14] = 0xff;
	}
	memcpy(t + hl, "UDKC", 4);
	memcpy(t + hl + 4, &i, 4);
	for (uint32_t k = (uint32_t)(L2 + L3 + hl + 8); k < fr->len; k++)
		f[k] = (uint8_t)(i * 5 + k * 3 + (k >> 7));
	fr->partial = lab_fold(lab_sum16(0, ph, sizeof(ph)));
	fr->full = (uint16_t)~lab_fold(lab_sum16(lab_sum16(0, ph, sizeof(ph)), t, l4));
	if (fr->full == 0 && fr->proto == 17)
		fr->full = 0xffff;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Frame i as sent: with the pseudo-header sum and a request, or whole. */
static struct udk_mbuf *frame_mbuf(uint32_t i, void *arg)
{
	struct udk_mempool *mp = ((struct ctx *)arg)->mp;
	static uint8_t f[MAX_FRAME];
	struct frame *fr = &frames[i];
	struct udk_mbuf *m;

	frame_fill(f, i);
	put16(f + field_of(fr->proto), fr->offload ? fr->partial : fr->full);
	m = lab_vnetmq_chain(mp, f, fr->len, 2000);
	REQUIRE(m != NULL);
	if (fr->offload) {
		m->ol_flags = UDK_MBUF_F_TX_IPV4 |
			      (fr->proto == 6 ? UDK_MBUF_F_TX_TCP_CKSUM : UDK_MBUF_F_TX_UDP_CKSUM);
		m->l2_len = L2;
		m->l3_len = L3;
	}
	if (fr->shared) {
		/* A copy the ring had no room for went back (one reference). */
		udk_pktmbuf_free(held[i]);
		for (struct udk_mbuf *s = m; s != NULL; s = s->next)
			udk_mbuf_refcnt_update(s, 1); /* each segment has its own count */
		held[i] = m;
	}
	return m;
}

/* The index of a frame of ours that came back as expected; -1 for another
 * frame, -2 for one of ours that is wrong (said why). */
static int frame_check(const struct udk_mbuf *m, void *arg)
{
	bool rx_csum = ((struct ctx *)arg)->rx_csum;
	static uint8_t got[MAX_FRAME], want[MAX_FRAME];
	uint32_t i;
	size_t hl, field;

	if (m->pkt_len < 60 || m->pkt_len > MAX_FRAME || udk_pktmbuf_read(m, 0, m->pkt_len, got) != 0)
		return -1;
	hl = got[L2 + 9] == 6 ? 20 : 8;
	if (got[12] != 0x08 || memcmp(got + L2 + L3 + hl, "UDKC", 4) != 0)
		return -1;
	memcpy(&i, got + L2 + L3 + hl + 4, 4);
	if (i >= NFRAMES || m->pkt_len != frames[i].len) {
		printf("  frame %u: %u bytes\n", i, m->pkt_len);
		return -2;
	}
	const struct frame *fr = &frames[i];
	uint64_t flags = m->ol_flags & UDK_MBUF_F_RX_L4_CKSUM_MASK;
	/* Partial still only when the port takes partial checksums. */
	bool partial = fr->offload && rx_csum;

	field = field_of(fr->proto);
	frame_fill(want, i);
	put16(want + field, partial ? fr->partial : fr->full);
	if (memcmp(got, want, fr->len) != 0) {
		printf("  frame %u (%s, %u bytes, %s): checksum 0x%02x%02x, want 0x%04x (whole "
		       "0x%04x)%s\n", i, fr->proto == 6 ? "TCP" : "UDP", fr->len,
		       fr->offload ? "offloaded" : "whole", got[field], got[field + 1],
		       partial ? fr->partial : fr->full, fr->full,
		       memcmp(got, want, field) || memcmp(got + field + 2, want + field + 2,
							  fr->len - field - 2) ? "; data differ" : "");
		return -2;
	}
	if (rx_csum ? flags != (partial ? UDK_MBUF_F_RX_L4_CKSUM_NONE : flags & UDK_MBUF_F_RX_L4_CKSUM_GOOD)
		    : flags != 0) {
		printf("  frame %u: ol_flags 0x%llx\n", i, (unsigned long long)m->ol_flags);
		return -2;
	}
	return (int)i;
}

static void make_frames(bool all_offload)
{
	for (uint32_t i = 0; i < NFRAMES; i++) {
		frames[i] = (struct frame){
			.len = lens[i % NLENS],
			.proto = (i / NLENS) % 2 ? 6 : 17,
			.offload = all_offload || i % 3 != 2,
			.shared = i % 4 == 3,
		};
	}
}

/* Every frame round the loop; the shared ones' last references dropped. */
static void round_trip(uint16_t port, const char *label, struct udk_mempool *mp, bool rx_csum)
{
	struct ctx c = {.mp = mp, .rx_csum = rx_csum};
	struct lab_trip r;

	memset(held, 0, sizeof(held));
	lab_vnetmq_round_trip(port, NFRAMES, IN_FLIGHT, seen, frame_mbuf, frame_check, &c,
			      TIMEOUT_MS, &r);
	for (uint32_t i = 0; i < NFRAMES; i++)
		udk_pktmbuf_free(held[i]);
	printf("%s, rx offloads %s: %u of %u frames back, %llu ms; wrong %u, duplicates %u, "
	       "others %u\n", label, rx_csum ? "on" : "off", r.got, NFRAMES,
	       (unsigned long long)r.ms, r.bad, r.dup, r.other);
	CHECK_MSG(r.sent == NFRAMES && r.got == NFRAMES, "%s: %u sent, %u of %u back", label,
		  r.sent, r.got, NFRAMES);
	CHECK(r.bad == 0 && r.dup == 0);
}

static void csum_port(uint16_t port, const char *label, struct udk_mempool *mp,
		      const uint8_t mac[6])
{
	struct udk_eth_conf conf;
	struct udk_eth_stats st;
	struct udk_mbuf *m;
	uint8_t f[200];

	memcpy(mac_of_port, mac, 6);
	/* An offload net_virtio does not have is refused by name. */
	udk_eth_conf_init(&conf, sizeof(conf));
	conf.rx_offloads = 1ULL << 1; /* DPDK's IPV4_CKSUM */
	CHECK(udk_eth_dev_configure(port, &conf) == -ENOTSUP);
	CHECK_MSG(strstr(udk_last_error(), "offers rx UDK_ETH_RX_OFFLOAD_UDP_CKSUM") != NULL,
		  "the error: %s", udk_last_error());

	/* 0. No offload configured: the driver fills the checksums asked for. */
	lab_vnetmq_port_up(port, mp, MTU, 0, 0);
	make_frames(false);
	round_trip(port, label, mp, false);
	CHECK(udk_eth_dev_stop(port) == 0);

	/* 1. The host completes the checksums. */
	lab_vnetmq_port_up(port, mp, MTU, 0, TX_CSUM);
	make_frames(false);
	round_trip(port, label, mp, false);
	/* A request without l3_len cannot be honoured: dropped and counted. */
	frames[0] = (struct frame){.len = 200, .proto = 17};
	frame_fill(f, 0);
	REQUIRE((m = lab_vnetmq_chain(mp, f, 200, 2000)) != NULL);
	m->ol_flags = UDK_MBUF_F_TX_UDP_CKSUM;
	m->l2_len = L2;
	CHECK(udk_eth_tx_burst(port, 0, &m, 1) == 1);
	CHECK(udk_eth_stats_get(port, &st) == 0);
	CHECK_MSG(st.oerrors == 1 && st.opackets == NFRAMES, "%s: opackets %llu oerrors %llu",
		  label, (unsigned long long)st.opackets, (unsigned long long)st.oerrors);
	CHECK(udk_eth_dev_stop(port) == 0);

	/* 2. The port takes partial checksums and flags them. */
	lab_vnetmq_port_up(port, mp, MTU,
			   UDK_ETH_RX_OFFLOAD_UDP_CKSUM | UDK_ETH_RX_OFFLOAD_TCP_CKSUM, TX_CSUM);
	make_frames(false);
	round_trip(port, label, mp, true);
	CHECK(udk_eth_stats_get(port, &st) == 0);
	CHECK(st.ierrors == 0 && st.oerrors == 0);
	CHECK(udk_eth_dev_stop(port) == 0);
	CHECK(udk_eth_dev_close(port) == 0);
}

int main(void)
{
	struct lab_vnetmq t;

	lab_vnetmq_open(&t, "lab_net_virtio_csum", NB_MBUF);
	for (int d = 0; d < 2; d++)
		csum_port(t.port[d], t.label[d], t.mp, t.mac[d]);
	lab_vnetmq_close(&t);
	return lab_result();
}
