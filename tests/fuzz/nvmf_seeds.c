/* SPDX-License-Identifier: BSD-3-Clause */
/* nvmf_seeds DIR: a seed corpus for fuzz_nvmf_pdu, one valid connection per
 * file: rules byte, ICReq, capsules with and without in-capsule data and
 * digests, H2CData, H2CTermReq. */
#include <stdio.h>
#include <string.h>

#include "crc32c.h"
#include "pdu.h"

static uint8_t buf[20000];

static size_t put_icreq(uint8_t *b, uint8_t dgst)
{
	struct nvmf_icreq ic;

	memset(&ic, 0, sizeof(ic));
	ic.ch = (struct nvmf_pdu_ch){.type = NVMF_PDU_ICREQ, .hlen = 128, .plen = 128};
	ic.dgst = dgst;
	memcpy(b, &ic, sizeof(ic));
	return sizeof(ic);
}

static size_t put_capsule(uint8_t *b, uint32_t dlen, bool hd, bool dd)
{
	struct nvmf_capsule_cmd cc;
	uint32_t pdo = 72 + (hd ? 4 : 0), plen = dlen ? pdo + dlen + (dd ? 4 : 0) : pdo, c;

	memset(&cc, 0, sizeof(cc));
	cc.ch = (struct nvmf_pdu_ch){.type = NVMF_PDU_CAPSULE_CMD, .hlen = 72,
				     .flags = (hd ? 1 : 0) | (dd && dlen ? 2 : 0), .pdo = dlen ? (uint8_t)pdo : 0,
				     .plen = plen};
	cc.sqe.opc = 0x01;
	cc.sqe.flags = NVMF_PSDT_SGL;
	cc.sqe.sgl.type = dlen ? NVMF_SGL_DATA_OFFSET : NVMF_SGL_TRANSPORT_DATA;
	cc.sqe.sgl.len = dlen ? dlen : 8192;
	memcpy(b, &cc, sizeof(cc));
	if (hd) {
		c = nvmf_crc32c(0, b, 72);
		memcpy(b + 72, &c, 4);
	}
	memset(b + pdo, 0x5a, dlen);
	if (dd && dlen) {
		c = nvmf_crc32c(0, b + pdo, dlen);
		memcpy(b + pdo + dlen, &c, 4);
	}
	return plen;
}

static size_t put_h2c(uint8_t *b, uint32_t datao, uint32_t datal, bool last)
{
	struct nvmf_data_pdu d;

	memset(&d, 0, sizeof(d));
	d.ch = (struct nvmf_pdu_ch){.type = NVMF_PDU_H2C_DATA, .hlen = 24, .pdo = 24, .plen = 24 + datal,
				    .flags = last ? NVMF_PDU_F_LAST : 0};
	d.datao = datao;
	d.datal = datal;
	memcpy(b, &d, sizeof(d));
	memset(b + 24, 0xa5, datal);
	return 24 + datal;
}

static int save(const char *dir, const char *name, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, n, f) != n) {
		perror(path);
		return 1;
	}
	return fclose(f) != 0;
}

int main(int argc, char **argv)
{
	size_t n;
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: nvmf_seeds DIR\n");
		return 2;
	}
	buf[0] = 0;
	n = 1 + put_icreq(buf + 1, 0);
	n += put_capsule(buf + n, 0, false, false);
	n += put_capsule(buf + n, 512, false, false);
	rc |= save(argv[1], "plain", n);
	buf[0] = 1 | 2 | 4;
	n = 1 + put_capsule(buf + 1, 1024, true, true);
	n += put_capsule(buf + n, 0, true, false);
	rc |= save(argv[1], "digests", n);
	buf[0] = 1;
	n = 1 + put_h2c(buf + 1, 4096, 1024, false);
	n += put_h2c(buf + n, 5120, 512, true);
	rc |= save(argv[1], "h2c", n);
	buf[0] = 1;
	memset(buf + 1, 0, 24);
	buf[1] = NVMF_PDU_H2C_TERM, buf[3] = 24, buf[5] = 24;
	rc |= save(argv[1], "term", 25);
	return rc;
}
