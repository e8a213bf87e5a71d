/* SPDX-License-Identifier: BSD-3-Clause */
/* pdu_host.h - NVMe/TCP PDUs as a host sends them (NVMe/TCP 1.0 §3.6.2),
 * well formed, for what feeds the target's parser: the unit test
 * (test_pdu.c) and the fuzz seeds (tests/fuzz/nvmf_seeds.c).  The target
 * itself never builds these.  Each writes one PDU at buf (room for it is the
 * caller's) and returns its length. */
#ifndef UDK_NVMF_PDU_HOST_H
#define UDK_NVMF_PDU_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ICReq (§3.6.2.2), PFV 0, digests asked for in dgst (bit 0 header, 1
 * data). */
size_t nvmf_host_icreq(uint8_t *buf, uint8_t dgst);
/* CapsuleCmd (§3.6.2.4) of a Write (opcode 01h): data_len bytes of
 * in-capsule data, each fill, at an SGL data block offset 0; with none, a
 * transport SGL asking for 8192 bytes.  The header digest when hd, the data
 * digest when dd and there is data. */
size_t nvmf_host_capsule(uint8_t *buf, uint32_t data_len, bool hd, bool dd, uint8_t fill);
/* H2CData (§3.6.2.6) for transfer tag ttag: datal bytes of fill at offset
 * datao, LAST when last; no digests. */
size_t nvmf_host_h2c(uint8_t *buf, uint16_t ttag, uint32_t datao, uint32_t datal, bool last,
		     uint8_t fill);

#endif
