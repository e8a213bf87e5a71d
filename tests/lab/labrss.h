/* SPDX-License-Identifier: BSD-3-Clause */
/* labrss.h - the tests' own Toeplitz hash (Microsoft's RSS specification,
 * "Verifying the RSS hash calculation"), written apart from any driver so a
 * test can say which queue a NIC should have chosen.  The unit test
 * tests/unit/virtio/test_rss.c checks it against the published vectors.
 * Also the frames the RSS tests send: Ethernet, IPv4 and a UDP or TCP header
 * (lab_frame_ipv4). */
#ifndef UDK_LABRSS_H
#define UDK_LABRSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The key of the verification vectors, which udk's drivers also use. */
static const uint8_t lab_rss_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/* For each set bit of the input, from the most significant bit of in[0] on,
 * XOR in the 32 key bits starting at that bit's position. */
static inline uint32_t lab_toeplitz(const uint8_t *key, size_t keylen, const uint8_t *in,
				    size_t len)
{
	uint32_t hash = 0, window = 0;
	size_t kbit = 32;

	for (size_t i = 0; i < 4 && i < keylen; i++)
		window = window << 8 | key[i];
	for (size_t i = 0; i < len; i++) {
		for (int b = 7; b >= 0; b--, kbit++) {
			if (in[i] >> b & 1)
				hash ^= window;
			window <<= 1;
			if (kbit / 8 < keylen && key[kbit / 8] >> (7 - kbit % 8) & 1)
				window |= 1;
		}
	}
	return hash;
}

/* The IPv4 input (source address, destination address, both in network
 * order), with the UDP/TCP ports after them when ports is nonzero. */
static inline uint32_t lab_rss_ipv4(const uint8_t *key, uint32_t src_be, uint32_t dst_be,
				    uint16_t sport, uint16_t dport, int ports)
{
	uint8_t in[12];

	for (int i = 0; i < 4; i++) {
		in[i] = (uint8_t)(src_be >> (24 - 8 * i));
		in[4 + i] = (uint8_t)(dst_be >> (24 - 8 * i));
	}
	in[8] = (uint8_t)(sport >> 8);
	in[9] = (uint8_t)sport;
	in[10] = (uint8_t)(dport >> 8);
	in[11] = (uint8_t)dport;
	return lab_toeplitz(key, 40, in, ports ? 12 : 8);
}

/* Big-endian (network order) stores and load. */
static inline void lab_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void lab_put32(uint8_t *p, uint32_t v)
{
	lab_put16(p, (uint16_t)(v >> 16));
	lab_put16(p + 2, (uint16_t)v);
}

static inline uint32_t lab_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The checksum of a 20-byte IPv4 header (its checksum field zero). */
static inline uint16_t lab_ip_csum(const uint8_t *h)
{
	uint32_t s = 0;

	for (int i = 0; i < 20; i += 2)
		s += (uint32_t)h[i] << 8 | h[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The first len bytes of a frame from src_mac to dst_mac: Ethernet, IPv4
 * (identification id, DF: not a fragment, TTL 64, valid checksum, total
 * length len - 14; addresses in host order) and UDP (length len - 34) or TCP
 * (sequence id, a 20-byte header, ACK, window 65535); the rest zero.
 * Returns the length of the headers (42 for UDP, 54 for TCP). */
static inline size_t lab_frame_ipv4(uint8_t *f, uint16_t len, const uint8_t dst_mac[6],
				    const uint8_t src_mac[6], uint16_t id, bool tcp,
				    uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport)
{
	memset(f, 0, len);
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	lab_put16(f + 12, 0x0800);
	f[14] = 0x45;
	lab_put16(f + 16, (uint16_t)(len - 14));
	lab_put16(f + 18, id);
	f[20] = 0x40; /* DF */
	f[22] = 64;
	f[23] = tcp ? 6 : 17;
	lab_put32(f + 26, src);
	lab_put32(f + 30, dst);
	lab_put16(f + 24, lab_ip_csum(f + 14));
	lab_put16(f + 34, sport);
	lab_put16(f + 36, dport);
	if (!tcp) {
		lab_put16(f + 38, (uint16_t)(len - 34));
		return 42;
	}
	lab_put32(f + 38, id);   /* sequence */
	f[46] = 0x50;            /* 20-byte header */
	f[47] = 0x10;            /* ACK */
	lab_put16(f + 48, 65535);
	return 54;
}

#endif
