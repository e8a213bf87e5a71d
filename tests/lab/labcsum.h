/* SPDX-License-Identifier: BSD-3-Clause */
/* labcsum.h - the tests' own Internet checksum (RFC 1071), byte by byte,
 * independent of udk's: lab_net_virtio_csum checks frames against it and
 * the unit test virtio_offload checks net_virtio's software checksum. */
#ifndef UDK_LABCSUM_H
#define UDK_LABCSUM_H

#include <stddef.h>
#include <stdint.h>

/* s plus the 16-bit big-endian words of p[0..n) (an odd last byte padded). */
static inline uint32_t lab_sum16(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return s;
}

/* The one's complement sum folded to 16 bits (not inverted). */
static inline uint16_t lab_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

#endif
