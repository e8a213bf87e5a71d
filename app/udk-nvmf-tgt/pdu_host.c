/* SPDX-License-Identifier: BSD-3-Clause */
/* pdu_host.c - host PDUs for the parser's tests and fuzz seeds
 * (pdu_host.h). */
#include <string.h>

#include "crc32c.h"
#include "pdu.h"
#include "pdu_host.h"

size_t nvmf_host_icreq(uint8_t *buf, uint8_t dgst)
{
	struct nvmf_icreq ic;

	memset(&ic, 0, sizeof(ic));
	ic.ch = (struct nvmf_pdu_ch){.type = NVMF_PDU_ICREQ, .hlen = 128, .plen = 128};
	ic.dgst = dgst;
	memcpy(buf, &ic, sizeof(ic));
	return sizeof(ic);
}

size_t nvmf_host_capsule(uint8_t *buf, uint32_t data_len, bool hd, bool dd, uint8_t fill)
{
	struct nvmf_capsule_cmd cc;
	uint32_t pdo = 72 + (hd ? 4 : 0);
	uint32_t plen = data_len ? pdo + data_len + (dd ? 4 : 0) : pdo;

	memset(&cc, 0, sizeof(cc));
	cc.ch = (struct nvmf_pdu_ch){.type = NVMF_PDU_CAPSULE_CMD, .hlen = 72,
				     .flags = (hd ? NVMF_PDU_F_HDGST : 0) |
					      (dd && data_len ? NVMF_PDU_F_DDGST : 0),
				     .pdo = data_len ? (uint8_t)pdo : 0, .plen = plen};
	cc.sqe.opc = 0x01;
	cc.sqe.flags = NVMF_PSDT_SGL;
	cc.sqe.sgl.type = data_len ? NVMF_SGL_DATA_OFFSET : NVMF_SGL_TRANSPORT_DATA;
	cc.sqe.sgl.len = data_len ? data_len : 8192;
	memcpy(buf, &cc, sizeof(cc));
	if (hd) {
		uint32_t c = nvmf_crc32c(0, buf, 72);

		memcpy(buf + 72, &c, 4);
	}
	memset(buf + pdo, fill, data_len);
	if (dd && data_len) {
		uint32_t c = nvmf_crc32c(0, buf + pdo, data_len);

		memcpy(buf + pdo + data_len, &c, 4);
	}
	return plen;
}

size_t nvmf_host_h2c(uint8_t *buf, uint16_t ttag, uint32_t datao, uint32_t datal, bool last,
		     uint8_t fill)
{
	struct nvmf_data_pdu d;

	memset(&d, 0, sizeof(d));
	d.ch = (struct nvmf_pdu_ch){.type = NVMF_PDU_H2C_DATA, .hlen = 24, .pdo = 24,
				    .plen = 24 + datal, .flags = last ? NVMF_PDU_F_LAST : 0};
	d.ttag = ttag;
	d.datao = datao;
	d.datal = datal;
	memcpy(buf, &d, sizeof(d));
	memset(buf + 24, fill, datal);
	return 24 + datal;
}
