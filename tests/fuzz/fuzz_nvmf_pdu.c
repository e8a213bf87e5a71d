/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_nvmf_pdu: udk-nvmf-tgt's NVMe/TCP parser (app/udk-nvmf-tgt/pdu.c) over
 * a byte stream as a connection would see it.  The first byte picks the
 * connection's rules (digests, CPDA, whether ICReq came); the rest is parsed
 * PDU after PDU, each capsule's SGL and each H2CData checked as conn.c
 * does.  A PDU the parser accepts must lie inside the input and agree with
 * its own header. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pdu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nvmf_pdu_rules r = {.max_icd = 8192, .maxh2cdata = 131072};
	size_t off = 1;

	if (size < 1)
		return 0;
	r.ic_done = data[0] & 1;
	r.hdgst = data[0] & 2;
	r.ddgst = data[0] & 4;
	r.cpda = (data[0] >> 3) & 3;
	while (off < size) {
		struct nvmf_pdu p;
		struct nvmf_pdu_err e;
		size_t need = 0;
		ssize_t n = nvmf_pdu_parse(data + off, size - off, &r, &p, &need, &e);

		if (n < 0) {
			if (e.why[0] == '\0')
				abort(); /* every refusal says why */
			return 0;
		}
		if (n == 0) {
			if (need <= size - off)
				abort(); /* asked for bytes it had */
			return 0;
		}
		if ((size_t)n > size - off || p.plen != (uint32_t)n || p.hdr != data + off)
			abort();
		if (p.data_len && (p.data < data + off || p.data + p.data_len > data + off + n))
			abort();
		if (p.type == NVMF_PDU_ICREQ) {
			r.ic_done = true;
		} else if (p.type == NVMF_PDU_CAPSULE_CMD) {
			const struct nvmf_capsule_cmd *cc = (const void *)p.hdr;
			struct nvmf_xfer x;

			if (nvmf_capsule_xfer(&cc->sqe, p.data_len, &x) == NVMF_SC_SUCCESS && x.in_capsule &&
			    (uint64_t)x.offset + x.len > p.data_len)
				abort();
		} else if (p.type == NVMF_PDU_H2C_DATA) {
			const struct nvmf_data_pdu *h = (const void *)p.hdr;
			uint32_t r2tl = 131072;

			if (nvmf_h2c_check(h, 4096, r2tl, 0, &e) == 0 &&
			    ((uint64_t)h->datao + h->datal > 4096u + r2tl || h->datao != 4096))
				abort();
		}
		off += (size_t)n;
	}
	return 0;
}
