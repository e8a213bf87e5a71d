/* SPDX-License-Identifier: BSD-3-Clause */
/* crc32c.h - CRC-32C (Castagnoli), the header and data digest of NVMe/TCP
 * (NVMe/TCP transport 1.0, section 3.6.2.7).  Pure: no state, any thread. */
#ifndef NVMF_CRC32C_H
#define NVMF_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC over buf: start with crc = 0, pass the previous result to
 * continue.  The result is the finished CRC (inverted in and out), so
 * nvmf_crc32c(0, "123456789", 9) == 0xe3069283. */
uint32_t nvmf_crc32c(uint32_t crc, const void *buf, size_t len);

/* The same without the CPU's crc32 instruction (for tests). */
uint32_t nvmf_crc32c_table(uint32_t crc, const void *buf, size_t len);

#endif
