/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of net_virtio's checksum offload (virtio_net_offload.h) on
 * --no-huge mbufs: the transmit header from an mbuf's request (virtio 1.1
 * §5.1.6.2), the requests refused, the software checksum for a device
 * without VIRTIO_NET_F_CSUM over single buffers and chains with odd
 * segment lengths (against the test's own RFC 1071 sum over the
 * pseudo-header), and the receive flags from a device's header. */
#include <errno.h>

#include "../common/unit.h"
#include "../../lab/labcsum.h"
#include "udk_eal.h"
#include "udk_mbuf.h"
#include "virtio_net_offload.h"

#define L2 14
#define L3 20

static struct udk_mempool *mp;

static int setup(void)
{
	char *argv[] = {"test", "--no-huge", "-m", "64", "-l", "0", NULL};

	if (udk_eal_init(6, argv) != 6)
		return 1;
	return udk_pktmbuf_pool_create("offload", 256, 8, 0, UDK_SOCKET_ANY, &mp) != 0;
}

static int teardown(void)
{
	udk_mempool_free(mp);
	udk_eal_cleanup();
	return 0;
}

/* An IPv4 frame of len bytes carrying proto (6 or 17) and a pattern; its
 * L4 checksum field holds the pseudo-header sum (what the mbuf API asks
 * for).  Returns the correct checksum, computed here from scratch. */
static uint16_t make_frame(uint8_t *f, size_t len, uint8_t proto)
{
	size_t l4 = len - L2 - L3, field = L2 + L3 + (proto == 6 ? 16 : 6);
	uint8_t ph[12] = {10, 0, 0, 1, 192, 168, 7, 9, 0, proto, (uint8_t)(l4 >> 8), (uint8_t)l4};
	uint16_t full;

	for (size_t i = 0; i < len; i++)
		f[i] = (uint8_t)(i * 31 + 7);
	f[12] = 0x08;
	f[13] = 0;
	f[L2] = 0x45;
	f[L2 + 9] = proto;
	memcpy(f + L2 + 12, ph, 8);
	if (proto == 17) {
		f[L2 + L3 + 4] = (uint8_t)(l4 >> 8);
		f[L2 + L3 + 5] = (uint8_t)l4;
	}
	f[field] = f[field + 1] = 0;
	full = (uint16_t)~lab_fold(lab_sum16(lab_sum16(0, ph, sizeof(ph)), f + L2 + L3, l4));
	if (full == 0 && proto == 17)
		full = 0xffff;
	uint16_t partial = lab_fold(lab_sum16(0, ph, sizeof(ph)));
	f[field] = (uint8_t)(partial >> 8);
	f[field + 1] = (uint8_t)partial;
	return full;
}

/* The frame as a chain of segments of seg bytes (the last shorter). */
static struct udk_mbuf *chain_of(const uint8_t *f, size_t len, uint16_t seg)
{
	struct udk_mbuf *head = NULL;

	for (size_t off = 0; off < len; off += seg) {
		uint16_t n = (uint16_t)(len - off < seg ? len - off : seg);
		struct udk_mbuf *m = udk_pktmbuf_alloc(mp);

		CU_ASSERT_PTR_NOT_NULL_FATAL(m);
		memcpy(udk_pktmbuf_append(m, n), f + off, n);
		if (head == NULL)
			head = m;
		else
			CU_ASSERT_EQUAL_FATAL(udk_pktmbuf_chain(head, m), 0);
	}
	return head;
}

static void test_tx_offload_layout(void)
{
	struct udk_mbuf *m = udk_pktmbuf_alloc(mp);

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->tx_offload, 0);
	m->l2_len = L2;
	m->l3_len = L3;
	m->l4_len = 20;
	/* DPDK's bit layout: l2 in bits 0-6, l3 in 7-15, l4 in 16-23. */
	CU_ASSERT_EQUAL(m->tx_offload, (uint64_t)L2 | (uint64_t)L3 << 7 | (uint64_t)20 << 16);
	m->ol_flags = UDK_MBUF_F_TX_UDP_CKSUM;
	udk_pktmbuf_free(m);
	m = udk_pktmbuf_alloc(mp);
	CU_ASSERT_EQUAL(m->tx_offload, 0); /* a reused buffer asks for nothing */
	CU_ASSERT_EQUAL(m->ol_flags, 0);
	udk_pktmbuf_free(m);
}

static void test_tx_hdr(void)
{
	uint8_t f[200];
	struct udk_mbuf *m;
	struct virtio_net_hdr h;

	make_frame(f, sizeof(f), 17);
	m = chain_of(f, sizeof(f), 2000);
	m->l2_len = L2;
	m->l3_len = L3;

	/* Nothing asked: a zero header, whatever was there. */
	CU_ASSERT_EQUAL(vnet_tx_csum_off(m), 0);
	memset(&h, 0xa5, sizeof(h));
	vnet_tx_hdr(&h, m, 0);
	CU_ASSERT_EQUAL(h.flags | h.gso_type | h.hdr_len | h.gso_size | h.csum_start |
			h.csum_offset | h.num_buffers, 0);

	m->ol_flags = UDK_MBUF_F_TX_UDP_CKSUM | UDK_MBUF_F_TX_IPV4;
	CU_ASSERT_EQUAL(vnet_tx_csum_off(m), VNET_UDP_CSUM_OFF);
	memset(&h, 0xa5, sizeof(h));
	vnet_tx_hdr(&h, m, vnet_tx_csum_off(m));
	CU_ASSERT_EQUAL(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CU_ASSERT_EQUAL(h.gso_type, 0);
	CU_ASSERT_EQUAL(le16toh(h.csum_start), L2 + L3);
	CU_ASSERT_EQUAL(le16toh(h.csum_offset), 6);
	CU_ASSERT_EQUAL(h.hdr_len | h.gso_size | h.num_buffers, 0);

	m->ol_flags = UDK_MBUF_F_TX_TCP_CKSUM | UDK_MBUF_F_TX_IPV4;
	CU_ASSERT_EQUAL(vnet_tx_csum_off(m), VNET_TCP_CSUM_OFF);
	vnet_tx_hdr(&h, m, vnet_tx_csum_off(m));
	CU_ASSERT_EQUAL(le16toh(h.csum_offset), 16);

	/* Refused: SCTP's value of the field, no lengths, headers past the end. */
	m->ol_flags = 2ULL << 52;
	CU_ASSERT_EQUAL(vnet_tx_csum_off(m), -EINVAL);
	m->ol_flags = UDK_MBUF_F_TX_UDP_CKSUM;
	m->l3_len = 0;
	CU_ASSERT_EQUAL(vnet_tx_csum_off(m), -EINVAL);
	m->l3_len = 60;
	m->l2_len = 127;
	m->ol_flags = UDK_MBUF_F_TX_TCP_CKSUM;
	CU_ASSERT_EQUAL(vnet_tx_csum_off(m), -EINVAL); /* 127 + 60 + 16 + 2 > 200 */
	udk_pktmbuf_free(m);
}

/* The software checksum equals the test's own, for UDP and TCP, in one
 * buffer and in chains whose segments split words (odd lengths) and the
 * checksum field itself. */
static void test_tx_csum_sw(void)
{
	static const uint16_t segs[] = {2000, 35, 36, 37, 41, 1};
	static const size_t lens[] = {60, 61, 200, 1514, 4001};
	static uint8_t f[4096 + 64];

	for (int p = 0; p < 2; p++) {
		uint8_t proto = p ? 6 : 17;

		for (size_t l = 0; l < UDK_ARRAY_SIZE(lens); l++) {
			for (size_t s = 0; s < UDK_ARRAY_SIZE(segs); s++) {
				size_t len = lens[l], field = L2 + L3 + (proto == 6 ? 16 : 6);
				uint16_t want = make_frame(f, len, proto), got;
				struct udk_mbuf *m;
				uint8_t b[2];

				if (len / segs[s] > 200)
					continue; /* the pool holds 256 */
				m = chain_of(f, len, segs[s]);
				m->l2_len = L2;
				m->l3_len = L3;
				m->ol_flags = proto == 6 ? UDK_MBUF_F_TX_TCP_CKSUM : UDK_MBUF_F_TX_UDP_CKSUM;
				vnet_tx_csum_sw(m, vnet_tx_csum_off(m));
				CU_ASSERT_EQUAL(udk_pktmbuf_read(m, (uint32_t)field, 2, b), 0);
				got = (uint16_t)(b[0] << 8 | b[1]);
				if (got != want)
					printf("proto %u, %zu bytes in %u-byte segments: 0x%04x, want "
					       "0x%04x\n", proto, len, segs[s], got, want);
				CU_ASSERT_EQUAL(got, want);
				udk_pktmbuf_free(m);
			}
		}
	}
	CU_ASSERT_EQUAL(udk_mempool_avail_count(mp), 256);
}

/* TSO: the header asks for TCPV4 segments of tso_segsz after hdr_len bytes
 * of headers; the checksum field gains the TCP length (DPDK's convention
 * leaves it out, the device's needs it); what cannot be segmented is
 * refused. */
static void test_tso(void)
{
	static uint8_t f[3000];
	struct virtio_net_hdr h;
	struct udk_mbuf *m;
	uint8_t b[2];
	uint16_t no_len, want;
	uint8_t ph[12] = {10, 0, 0, 1, 192, 168, 7, 9, 0, 6, 0, 0};

	make_frame(f, sizeof(f), 6);
	no_len = lab_fold(lab_sum16(0, ph, sizeof(ph)));
	ph[10] = (sizeof(f) - L2 - L3) >> 8;
	ph[11] = (uint8_t)(sizeof(f) - L2 - L3);
	want = lab_fold(lab_sum16(0, ph, sizeof(ph)));
	f[L2 + L3 + 16] = (uint8_t)(no_len >> 8);
	f[L2 + L3 + 17] = (uint8_t)no_len;
	m = chain_of(f, sizeof(f), 47); /* the field split over two segments */
	m->l2_len = L2;
	m->l3_len = L3;
	m->l4_len = 20;
	m->tso_segsz = 1000;
	m->ol_flags = UDK_MBUF_F_TX_TCP_SEG | UDK_MBUF_F_TX_IPV4;
	CU_ASSERT_EQUAL(vnet_tx_csum_off(m), VNET_TCP_CSUM_OFF);
	m->ol_flags |= UDK_MBUF_F_TX_TCP_CKSUM;
	CU_ASSERT_EQUAL(vnet_tx_csum_off(m), VNET_TCP_CSUM_OFF);
	vnet_tx_hdr(&h, m, vnet_tx_csum_off(m));
	CU_ASSERT_EQUAL(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CU_ASSERT_EQUAL(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	CU_ASSERT_EQUAL(le16toh(h.hdr_len), L2 + L3 + 20);
	CU_ASSERT_EQUAL(le16toh(h.gso_size), 1000);
	CU_ASSERT_EQUAL(le16toh(h.csum_start), L2 + L3);
	CU_ASSERT_EQUAL(le16toh(h.csum_offset), 16);
	vnet_tso_fix_csum(m);
	CU_ASSERT_EQUAL(udk_pktmbuf_read(m, L2 + L3 + 16, 2, b), 0);
	CU_ASSERT_EQUAL((uint16_t)(b[0] << 8 | b[1]), want);

	/* Refused: UDP, IPv6 (no IPV4 flag), no l4_len, no segment size. */
	m->ol_flags = UDK_MBUF_F_TX_TCP_SEG | UDK_MBUF_F_TX_IPV4 | UDK_MBUF_F_TX_UDP_CKSUM;
	CU_ASSERT_EQUAL(vnet_tx_csum_off(m), -EINVAL);
	m->ol_flags = UDK_MBUF_F_TX_TCP_SEG | UDK_MBUF_F_TX_IPV6;
	CU_ASSERT_EQUAL(vnet_tx_csum_off(m), -EINVAL);
	m->ol_flags = UDK_MBUF_F_TX_TCP_SEG | UDK_MBUF_F_TX_IPV4;
	m->l4_len = 0;
	CU_ASSERT_EQUAL(vnet_tx_csum_off(m), -EINVAL);
	m->l4_len = 20;
	m->tso_segsz = 0;
	CU_ASSERT_EQUAL(vnet_tx_csum_off(m), -EINVAL);
	udk_pktmbuf_free(m);
	CU_ASSERT_EQUAL(udk_mempool_avail_count(mp), 256);
}

static void test_rx_flags(void)
{
	struct virtio_net_hdr h = {0};

	CU_ASSERT_EQUAL(vnet_rx_csum_flags(&h), 0);
	h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	CU_ASSERT_EQUAL(vnet_rx_csum_flags(&h), UDK_MBUF_F_RX_L4_CKSUM_GOOD);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	CU_ASSERT_EQUAL(vnet_rx_csum_flags(&h), UDK_MBUF_F_RX_L4_CKSUM_NONE);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
	CU_ASSERT_EQUAL(vnet_rx_csum_flags(&h), UDK_MBUF_F_RX_L4_CKSUM_NONE);
	CU_ASSERT_EQUAL(UDK_MBUF_F_RX_L4_CKSUM_NONE & UDK_MBUF_F_RX_L4_CKSUM_MASK,
			UDK_MBUF_F_RX_L4_CKSUM_NONE);
}

int main(void)
{
	static const struct unit_test t[] = {
		{"mbuf tx_offload: DPDK's bit layout, cleared on alloc", test_tx_offload_layout},
		{"transmit header: NEEDS_CSUM, csum_start/offset; refusals", test_tx_hdr},
		{"software checksum over single buffers and odd chains", test_tx_csum_sw},
		{"TSO: the GSO header, the checksum's length, refusals", test_tso},
		{"receive flags from the device's header", test_rx_flags},
	};

	unit_quiet_logs();
	if (unit_add("virtio_offload", setup, teardown, t, UDK_ARRAY_SIZE(t)))
		return 1;
	return unit_run_all();
}
