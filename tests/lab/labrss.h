/* SPDX-License-Identifier: BSD-3-Clause */
/* labrss.h - the tests' own Toeplitz hash (Microsoft's RSS specification,
 * "Verifying the RSS hash calculation"), written apart from any driver so a
 * test can say which queue a NIC should have chosen.  The unit test
 * tests/unit/virtio/test_rss.c checks it against the published vectors. */
#ifndef UDK_LABRSS_H
#define UDK_LABRSS_H

#include <stddef.h>
#include <stdint.h>

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

#endif
