/* SPDX-License-Identifier: BSD-3-Clause */
/* virtio_net_offload.h - checksum offload of the network device (virtio 1.1
 * §5.1.6.2, §5.1.6.4): the header of a frame to send from its mbuf's
 * UDK_MBUF_F_TX_* request, the checksum in software when the device cannot
 * do it, and the receive flags from the header the device wrote.  Inline:
 * the bursts of virtio_net.c call them; tests/unit/virtio checks them. */
#ifndef UDK_VIRTIO_NET_OFFLOAD_H
#define UDK_VIRTIO_NET_OFFLOAD_H

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "udk_mbuf.h"
#include "virtio_net_priv.h"

/* §5.1.3 */
#define VIRTIO_NET_F_CSUM 0       /* the device completes a partial checksum we send */
#define VIRTIO_NET_F_GUEST_CSUM 1 /* the device may send us partial or checked ones */
#define VIRTIO_NET_F_HOST_TSO4 11 /* the device segments TCP/IPv4 frames we send */
/* §5.1.6: virtio_net_hdr.flags */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_TCPV4 1
/* §5.1.6.2: what a frame for segmentation may hold: 64 KiB of IP. */
#define VNET_TSO_MAX_FRAME (65535 + UDK_ETHER_HDR_LEN)
/* Where the checksum lies in its L4 header. */
#define VNET_TCP_CSUM_OFF 16
#define VNET_UDP_CSUM_OFF 6

/* The checksum field's offset in the L4 header m asks to fill, 0 when it
 * asks for none, -EINVAL when it asks for one udk does not offer (SCTP's
 * value of the field) or its headers do not fit in the frame. */
static inline int vnet_tx_csum_off(const struct udk_mbuf *m)
{
	uint64_t l4 = m->ol_flags & UDK_MBUF_F_TX_L4_MASK;
	uint32_t off;

	/* TSO implies the TCP checksum; udk segments TCP over IPv4 only. */
	if (m->ol_flags & UDK_MBUF_F_TX_TCP_SEG) {
		if ((l4 != 0 && l4 != UDK_MBUF_F_TX_TCP_CKSUM) || !(m->ol_flags & UDK_MBUF_F_TX_IPV4) ||
		    m->l4_len < 20 || m->tso_segsz == 0 ||
		    (uint32_t)m->l2_len + m->l3_len + m->l4_len > m->pkt_len)
			return -EINVAL;
		l4 = UDK_MBUF_F_TX_TCP_CKSUM;
	}
	if (l4 == 0)
		return 0;
	if (l4 == UDK_MBUF_F_TX_TCP_CKSUM)
		off = VNET_TCP_CSUM_OFF;
	else if (l4 == UDK_MBUF_F_TX_UDP_CKSUM)
		off = VNET_UDP_CSUM_OFF;
	else
		return -EINVAL;
	if (m->l2_len == 0 || m->l3_len == 0 ||
	    (uint32_t)m->l2_len + m->l3_len + off + 2 > m->pkt_len)
		return -EINVAL;
	return (int)off;
}

/* §5.1.6.2: the header of frame m.  csum_off > 0 (vnet_tx_csum_off(), with
 * VIRTIO_NET_F_CSUM negotiated) asks the device to sum from csum_start
 * (l2_len + l3_len) to the end of the frame, starting from the
 * pseudo-header checksum in the field, and to store the result at
 * csum_start + csum_off; 0 asks for nothing (no checksum, no GSO). */
static inline void vnet_tx_hdr(struct virtio_net_hdr *h, const struct udk_mbuf *m, int csum_off)
{
	memset(h, 0, sizeof(*h));
	if (csum_off <= 0)
		return;
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->csum_start = htole16((uint16_t)(m->l2_len + m->l3_len));
	h->csum_offset = htole16((uint16_t)csum_off);
	if (m->ol_flags & UDK_MBUF_F_TX_TCP_SEG) {
		h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		h->hdr_len = htole16((uint16_t)(m->l2_len + m->l3_len + m->l4_len));
		h->gso_size = htole16((uint16_t)m->tso_segsz);
	}
}

/* The frame's byte at off, through its segments (off < pkt_len). */
static inline uint8_t *vnet_byte_at(struct udk_mbuf *m, uint32_t off)
{
	while (off >= m->data_len) {
		off -= m->data_len;
		m = m->next;
	}
	return udk_pktmbuf_mtod_offset(m, uint8_t *, off);
}

/* What the device would have done (RFC 1071), for a device without
 * VIRTIO_NET_F_CSUM: the 16-bit one's complement sum from l2_len + l3_len
 * to the end of the frame, over every segment, the pseudo-header sum in
 * the field included, stored inverted at csum_off (vnet_tx_csum_off()).  A
 * UDP checksum of 0 goes as 0xffff (RFC 768). */
static inline void vnet_tx_csum_sw(struct udk_mbuf *m, int csum_off)
{
	uint32_t start = (uint32_t)m->l2_len + m->l3_len, pos = 0, sum = 0;
	uint16_t v;
	uint8_t *p;

	for (struct udk_mbuf *s = m; s != NULL; pos += s->data_len, s = s->next) {
		const uint8_t *d = udk_pktmbuf_mtod(s, const uint8_t *);

		for (uint32_t i = pos < start ? start - pos : 0; i < s->data_len; i++)
			sum += ((pos + i - start) & 1) ? d[i] : (uint32_t)d[i] << 8;
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	v = (uint16_t)~sum;
	if (v == 0 && csum_off == VNET_UDP_CSUM_OFF)
		v = 0xffff;
	p = vnet_byte_at(m, start + (uint32_t)csum_off);
	*p = (uint8_t)(v >> 8);
	p = vnet_byte_at(m, start + (uint32_t)csum_off + 1);
	*p = (uint8_t)v;
}

/* A device segmenting a frame (Linux behind QEMU) adjusts a checksum
 * field that holds the pseudo-header sum WITH the TCP length; the mbuf API
 * (DPDK's) has it without: add the length (pkt_len - l2_len - l3_len). */
static inline void vnet_tso_fix_csum(struct udk_mbuf *m)
{
	uint32_t at = (uint32_t)m->l2_len + m->l3_len + VNET_TCP_CSUM_OFF;
	uint8_t *hi = vnet_byte_at(m, at), *lo = vnet_byte_at(m, at + 1);
	uint32_t sum = ((uint32_t)*hi << 8 | *lo) + (m->pkt_len - m->l2_len - m->l3_len);

	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	*hi = (uint8_t)(sum >> 8);
	*lo = (uint8_t)sum;
}

/* §5.1.6.4.1: what the header of a received frame says of its L4
 * checksum (VIRTIO_NET_F_GUEST_CSUM negotiated): NEEDS_CSUM, a partial
 * checksum from a sender on the same host, whose data is intact; DATA_VALID,
 * checked by the device; neither, unknown. */
static inline uint64_t vnet_rx_csum_flags(const struct virtio_net_hdr *h)
{
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return UDK_MBUF_F_RX_L4_CKSUM_NONE;
	if (h->flags & VIRTIO_NET_HDR_F_DATA_VALID)
		return UDK_MBUF_F_RX_L4_CKSUM_GOOD;
	return 0;
}

#endif
