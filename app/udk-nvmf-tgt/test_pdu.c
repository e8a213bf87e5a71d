/* SPDX-License-Identifier: BSD-3-Clause */
/* test_pdu: the NVMe/TCP PDU parser, the capsule SGL and H2CData checks and
 * the builders (pdu.c), and CRC-32C (crc32c.c).  Every malformed input is
 * refused with the fatal error status a C2HTermReq carries and a reason for
 * the log; a valid one comes back whole, and a partial one asks for more. */
#include "../../tests/unit/common/unit.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crc32c.h"
#include "pdu.h"
#include "pdu_host.h"

static struct nvmf_pdu_rules rules(bool ic_done, bool hd, bool dd)
{
	return (struct nvmf_pdu_rules){.ic_done = ic_done, .hdgst = hd, .ddgst = dd,
				       .max_icd = 8192, .maxh2cdata = 131072};
}

static void test_crc32c(void)
{
	uint8_t b[32];

	CU_ASSERT_EQUAL(nvmf_crc32c(0, "123456789", 9), 0xe3069283u);
	CU_ASSERT_EQUAL(nvmf_crc32c(0, "", 0), 0);
	/* RFC 3720 B.4 vectors */
	memset(b, 0, sizeof(b));
	CU_ASSERT_EQUAL(nvmf_crc32c(0, b, 32), 0x8a9136aau);
	memset(b, 0xff, sizeof(b));
	CU_ASSERT_EQUAL(nvmf_crc32c(0, b, 32), 0x62a8ab43u);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	CU_ASSERT_EQUAL(nvmf_crc32c(0, b, 32), 0x46dd794eu);
	/* continued in pieces, odd lengths */
	CU_ASSERT_EQUAL(nvmf_crc32c(nvmf_crc32c(0, b, 13), b + 13, 19), 0x46dd794eu);
	/* the table agrees with the instruction on every length and offset */
	CU_ASSERT_EQUAL(nvmf_crc32c_table(0, "123456789", 9), 0xe3069283u);
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len + off <= sizeof(b); len++)
			CU_ASSERT_EQUAL(nvmf_crc32c_table(0x1234, b + off, len), nvmf_crc32c(0x1234, b + off, len));
}

static uint8_t buf[140000];

/* Parse buf[0..len) under r: expect a refusal with fes and why containing text. */
static void refused(size_t len, struct nvmf_pdu_rules r, enum nvmf_fes fes, const char *text)
{
	struct nvmf_pdu p;
	struct nvmf_pdu_err e;
	ssize_t rc;

	memset(&e, 0, sizeof(e));
	rc = nvmf_pdu_parse(buf, len, &r, &p, NULL, &e);
	CU_ASSERT_EQUAL(rc, -EPROTO);
	CU_ASSERT_EQUAL(e.fes, fes);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.why, text));
	if (rc != -EPROTO || strstr(e.why, text) == NULL)
		fprintf(stderr, "expected '%s', got rc %zd '%s'\n", text, rc, e.why);
}

static void test_icreq(void)
{
	struct nvmf_pdu p;
	struct nvmf_pdu_err e;
	struct nvmf_pdu_rules r = rules(false, false, false);
	size_t need;

	nvmf_host_icreq(buf, 3);
	CU_ASSERT_EQUAL(nvmf_pdu_parse(buf, 128, &r, &p, &need, &e), 128);
	CU_ASSERT_EQUAL(p.type, NVMF_PDU_ICREQ);
	CU_ASSERT_EQUAL(p.data_len, 0);
	CU_ASSERT_EQUAL(nvmf_pdu_parse(buf, 5, &r, &p, &need, &e), 0);
	CU_ASSERT_EQUAL(need, 8);
	CU_ASSERT_EQUAL(nvmf_pdu_parse(buf, 100, &r, &p, &need, &e), 0);
	CU_ASSERT_EQUAL(need, 128);

	nvmf_host_icreq(buf, 0);
	refused(128, rules(true, false, false), NVMF_FES_SEQUENCE, "a second ICReq");
	buf[8] = 1; /* PFV */
	refused(128, r, NVMF_FES_UNSUPPORTED, "PFV 1");
	nvmf_host_icreq(buf, 0);
	buf[10] = 32; /* HPDA */
	refused(128, r, NVMF_FES_HDR_FIELD, "HPDA 32");
	nvmf_host_icreq(buf, 0x04);
	refused(128, r, NVMF_FES_HDR_FIELD, "DGST 0x04");
	nvmf_host_icreq(buf, 0);
	buf[4] = 200; /* PLEN */
	refused(128, r, NVMF_FES_HDR_FIELD, "PLEN 200");
	nvmf_host_icreq(buf, 0);
	buf[2] = 127; /* HLEN */
	refused(128, r, NVMF_FES_HDR_FIELD, "HLEN 127");
	nvmf_host_icreq(buf, 0);
	buf[1] = NVMF_PDU_F_HDGST;
	refused(128, r, NVMF_FES_HDR_FIELD, "flags 0x01");
	nvmf_host_capsule(buf, 0, false, false, 0x5a);
	refused(72, r, NVMF_FES_SEQUENCE, "CapsuleCmd before ICReq");
}

static void test_types(void)
{
	struct nvmf_pdu_rules r = rules(true, false, false);

	memset(buf, 0, 64);
	buf[0] = NVMF_PDU_CAPSULE_RESP, buf[2] = 24, buf[4] = 24;
	refused(24, r, NVMF_FES_HDR_FIELD, "not one a host sends");
	buf[0] = 0x42;
	refused(8, r, NVMF_FES_HDR_FIELD, "0x42");
	buf[0] = NVMF_PDU_R2T;
	refused(8, r, NVMF_FES_HDR_FIELD, "R2T");
	/* H2CTermReq: 24..152 bytes */
	memset(buf, 0, 64);
	buf[0] = NVMF_PDU_H2C_TERM, buf[2] = 24;
	buf[4] = 200;
	refused(24, r, NVMF_FES_HDR_FIELD, "H2CTermReq with PLEN 200");
}

static void test_capsule(void)
{
	struct nvmf_pdu p;
	struct nvmf_pdu_err e;
	struct nvmf_pdu_rules r = rules(true, false, false), rd = rules(true, true, true);
	size_t n, need;

	n = nvmf_host_capsule(buf, 0, false, false, 0x5a);
	CU_ASSERT_EQUAL(nvmf_pdu_parse(buf, n, &r, &p, &need, &e), 72);
	n = nvmf_host_capsule(buf, 4096, false, false, 0x5a);
	CU_ASSERT_EQUAL(nvmf_pdu_parse(buf, n, &r, &p, &need, &e), (ssize_t)n);
	CU_ASSERT_EQUAL(p.data_len, 4096);
	CU_ASSERT(p.data == buf + 72);
	CU_ASSERT_EQUAL(nvmf_pdu_parse(buf, n - 1, &r, &p, &need, &e), 0);
	CU_ASSERT_EQUAL(need, n);

	/* with both digests */
	n = nvmf_host_capsule(buf, 4096, true, true, 0x5a);
	CU_ASSERT_EQUAL(nvmf_pdu_parse(buf, n, &rd, &p, &need, &e), (ssize_t)n);
	CU_ASSERT_EQUAL(p.data_len, 4096);
	buf[100] ^= 1;
	refused(n, rd, NVMF_FES_NONE, "data digest");
	n = nvmf_host_capsule(buf, 4096, true, true, 0x5a);
	buf[20] ^= 1;
	refused(n, rd, NVMF_FES_HDR_DIGEST, "header digest 0x");
	/* the header digest is checked before the data is in */
	refused(76, rd, NVMF_FES_HDR_DIGEST, "header digest 0x");
	n = nvmf_host_capsule(buf, 4096, false, false, 0x5a);
	refused(n, rd, NVMF_FES_HDR_FIELD, "lacks a header digest");
	n = nvmf_host_capsule(buf, 4096, true, false, 0x5a);
	refused(n, rd, NVMF_FES_HDR_FIELD, "without the negotiated data digest");
	n = nvmf_host_capsule(buf, 4096, true, true, 0x5a);
	refused(n, rules(true, true, false), NVMF_FES_HDR_FIELD, "has a data digest, but");

	/* lengths: too much in-capsule data is refused from the header alone */
	n = nvmf_host_capsule(buf, 8196, false, false, 0x5a);
	refused(8, r, NVMF_FES_HDR_FIELD, "carries 8196 bytes");
	n = nvmf_host_capsule(buf, 0, false, false, 0x5a);
	buf[4] = 80; /* PLEN with no data */
	refused(8, r, NVMF_FES_HDR_FIELD, "no data has PLEN 80");
	n = nvmf_host_capsule(buf, 64, false, false, 0x5a);
	buf[3] = 40; /* PDO inside the header */
	refused(8, r, NVMF_FES_HDR_FIELD, "PDO 40");
	n = nvmf_host_capsule(buf, 64, false, false, 0x5a);
	r.cpda = 7; /* 32-byte alignment: 72 is not */
	refused(8, r, NVMF_FES_HDR_FIELD, "multiple of 32");
	r.cpda = 0;
	n = nvmf_host_capsule(buf, 64, false, false, 0x5a);
	buf[4] = 72, buf[5] = 0; /* PLEN == PDO: no data */
	refused(8, r, NVMF_FES_HDR_FIELD, "leaves no data");
	n = nvmf_host_capsule(buf, 64, false, false, 0x5a);
	buf[1] = 0x10;
	refused(8, r, NVMF_FES_HDR_FIELD, "unknown flags 0x10");
	n = nvmf_host_capsule(buf, 64, false, false, 0x5a);
	buf[1] = NVMF_PDU_F_LAST; /* LAST is for data PDUs only */
	refused(8, r, NVMF_FES_HDR_FIELD, "unknown flags 0x04");
	/* a PLEN near 4 GiB is refused, not waited for */
	n = nvmf_host_capsule(buf, 64, false, false, 0x5a);
	memset(buf + 4, 0xff, 4);
	refused(8, r, NVMF_FES_HDR_FIELD, "bytes of data (at most 8192");
}

static void test_h2c(void)
{
	struct nvmf_pdu p;
	struct nvmf_pdu_err e;
	struct nvmf_pdu_rules r = rules(true, false, false);
	const struct nvmf_data_pdu *h = (const void *)buf;
	size_t n;

	n = nvmf_host_h2c(buf, 3, 0, 4096, false, 0xab);
	CU_ASSERT_EQUAL(nvmf_pdu_parse(buf, n, &r, &p, NULL, &e), (ssize_t)n);
	CU_ASSERT_EQUAL(nvmf_h2c_check(h, 0, 8192, 0, &e), 0);
	CU_ASSERT_EQUAL(nvmf_h2c_check(h, 0, 4096, 0, &e), -EPROTO); /* complete, but no LAST */
	CU_ASSERT_PTR_NOT_NULL(strstr(e.why, "lacks the LAST"));
	CU_ASSERT_EQUAL(nvmf_h2c_check(h, 0, 8192, 4096, &e), -EPROTO); /* out of order */
	CU_ASSERT_EQUAL(e.fes, NVMF_FES_OUT_OF_RANGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.why, "DATAO 0 (expected 4096"));
	CU_ASSERT_EQUAL(nvmf_h2c_check(h, 0, 2048, 0, &e), -EPROTO); /* past the R2T */
	CU_ASSERT_PTR_NOT_NULL(strstr(e.why, "past the R2T"));
	n = nvmf_host_h2c(buf, 3, 4096, 4096, true, 0xab);
	CU_ASSERT_EQUAL(nvmf_h2c_check(h, 0, 8192, 4096, &e), 0);
	CU_ASSERT_EQUAL(nvmf_h2c_check(h, 0, 16384, 4096, &e), -EPROTO); /* LAST too early */
	CU_ASSERT_PTR_NOT_NULL(strstr(e.why, "has the LAST"));
	/* DATAL that disagrees with PLEN */
	n = nvmf_host_h2c(buf, 3, 0, 4096, false, 0xab);
	buf[16] = 1;
	refused(n, r, NVMF_FES_HDR_FIELD, "DATAL");
	/* more than MAXH2CDATA */
	n = nvmf_host_h2c(buf, 3, 0, 131076, false, 0xab);
	refused(24, r, NVMF_FES_LIMIT, "carries 131076 bytes");
	/* no data at all */
	n = nvmf_host_h2c(buf, 3, 0, 0, false, 0xab);
	buf[3] = 0;
	refused(24, r, NVMF_FES_HDR_FIELD, "PDO 0");
}

static void test_sgl(void)
{
	struct nvmf_sqe sqe;
	struct nvmf_xfer x;

	memset(&sqe, 0, sizeof(sqe));
	sqe.flags = NVMF_PSDT_SGL;
	sqe.sgl.type = NVMF_SGL_DATA_OFFSET;
	sqe.sgl.len = 4096;
	CU_ASSERT_EQUAL(nvmf_capsule_xfer(&sqe, 4096, &x), NVMF_SC_SUCCESS);
	CU_ASSERT(x.in_capsule && x.len == 4096 && x.offset == 0);
	CU_ASSERT_EQUAL(nvmf_capsule_xfer(&sqe, 4095, &x), NVMF_SC_SGL_DATA_LEN);
	sqe.sgl.addr = 4097;
	CU_ASSERT_EQUAL(nvmf_capsule_xfer(&sqe, 4096, &x), NVMF_SC_SGL_OFFSET);
	sqe.sgl.addr = 0xffffffffffffff00ull; /* no wrap-around */
	CU_ASSERT_EQUAL(nvmf_capsule_xfer(&sqe, 4096, &x), NVMF_SC_SGL_OFFSET);
	sqe.sgl.addr = 512;
	sqe.sgl.len = 0xfffffe00u;
	CU_ASSERT_EQUAL(nvmf_capsule_xfer(&sqe, 4096, &x), NVMF_SC_SGL_DATA_LEN);
	sqe.sgl.addr = 0;
	sqe.sgl.type = NVMF_SGL_TRANSPORT_DATA;
	sqe.sgl.len = 1 << 20;
	CU_ASSERT_EQUAL(nvmf_capsule_xfer(&sqe, 0, &x), NVMF_SC_SUCCESS);
	CU_ASSERT(!x.in_capsule && x.len == 1 << 20);
	CU_ASSERT_EQUAL(nvmf_capsule_xfer(&sqe, 16, &x), NVMF_SC_SGL_DATA_LEN);
	sqe.sgl.type = 0x00; /* a plain data block: an address in host memory */
	CU_ASSERT_EQUAL(nvmf_capsule_xfer(&sqe, 0, &x), NVMF_SC_SGL_TYPE);
	sqe.sgl.type = NVMF_SGL_TRANSPORT_DATA;
	sqe.flags = 0; /* PRPs */
	CU_ASSERT_EQUAL(nvmf_capsule_xfer(&sqe, 0, &x), NVMF_SC_INVALID_FIELD);
}

static void test_builders(void)
{
	struct nvmf_cqe cqe = {.cid = 7, .status = 0};
	uint8_t b[256];
	uint32_t c;
	size_t n;

	n = nvmf_pdu_capsule_resp(b, &cqe, true);
	CU_ASSERT_EQUAL(n, 28);
	CU_ASSERT_EQUAL(b[0], NVMF_PDU_CAPSULE_RESP);
	CU_ASSERT_EQUAL(b[1], NVMF_PDU_F_HDGST);
	CU_ASSERT_EQUAL(b[4], 28);
	memcpy(&c, b + 24, 4);
	CU_ASSERT_EQUAL(c, nvmf_crc32c(0, b, 24));
	/* C2HData: data after the header digest, aligned to the host's HPDA */
	n = nvmf_pdu_c2h_data(b, 9, 0, 4096, true, true, true, 7);
	CU_ASSERT_EQUAL(n, 32);
	CU_ASSERT_EQUAL(b[3], 32);
	memcpy(&c, b + 4, 4);
	CU_ASSERT_EQUAL(c, 32 + 4096 + 4);
	CU_ASSERT_EQUAL(b[1], NVMF_PDU_F_HDGST | NVMF_PDU_F_DDGST | NVMF_PDU_F_LAST);
	n = nvmf_pdu_c2h_data(b, 9, 0, 512, false, false, false, 0);
	CU_ASSERT_EQUAL(n, 24);
	n = nvmf_pdu_r2t(b, 5, 6, 8192, 4096, false);
	CU_ASSERT_EQUAL(n, 24);
	CU_ASSERT_EQUAL(b[0], NVMF_PDU_R2T);
	n = nvmf_pdu_icresp(b, 3, 131072);
	CU_ASSERT_EQUAL(n, 128);
	CU_ASSERT_EQUAL(b[11], 3);
	n = nvmf_pdu_c2h_term(b, NVMF_FES_HDR_FIELD, 4, buf, 200);
	CU_ASSERT_EQUAL(n, 24 + 128);
}

int main(void)
{
	static const struct unit_test t[] = {
		{"crc32c", test_crc32c},
		{"icreq", test_icreq},
		{"types", test_types},
		{"capsule", test_capsule},
		{"h2c_data", test_h2c},
		{"sgl", test_sgl},
		{"builders", test_builders},
	};

	unit_quiet_logs();
	if (unit_add("nvmf_pdu", NULL, NULL, t, sizeof(t) / sizeof(t[0])))
		return 1;
	return unit_run_all();
}
