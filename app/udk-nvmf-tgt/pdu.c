/* SPDX-License-Identifier: BSD-3-Clause */
/* pdu.c - the NVMe/TCP PDU parser and builders (NVMe/TCP 1.0 §3.6).  Pure
 * functions over byte buffers: every field a caller will use is checked here
 * first, so conn.c trusts a PDU this file returned. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "crc32c.h"
#include "pdu.h"

const char *nvmf_pdu_type_name(uint8_t type)
{
	switch (type) {
	case NVMF_PDU_ICREQ: return "ICReq";
	case NVMF_PDU_ICRESP: return "ICResp";
	case NVMF_PDU_H2C_TERM: return "H2CTermReq";
	case NVMF_PDU_C2H_TERM: return "C2HTermReq";
	case NVMF_PDU_CAPSULE_CMD: return "CapsuleCmd";
	case NVMF_PDU_CAPSULE_RESP: return "CapsuleResp";
	case NVMF_PDU_H2C_DATA: return "H2CData";
	case NVMF_PDU_C2H_DATA: return "C2HData";
	case NVMF_PDU_R2T: return "R2T";
	default: return "unknown";
	}
}

__attribute__((format(printf, 4, 5)))
static ssize_t refuse(struct nvmf_pdu_err *err, enum nvmf_fes fes, uint32_t fei, const char *fmt, ...)
{
	va_list ap;

	err->fes = fes;
	err->fei = fei;
	va_start(ap, fmt);
	vsnprintf(err->why, sizeof(err->why), fmt, ap);
	va_end(ap);
	return -EPROTO;
}

/* The header length each type must have (§3.6.2), 0 for a type a host
 * never sends. */
static uint8_t host_hlen(uint8_t type)
{
	switch (type) {
	case NVMF_PDU_ICREQ: return sizeof(struct nvmf_icreq);
	case NVMF_PDU_H2C_TERM: return sizeof(struct nvmf_term_req);
	case NVMF_PDU_CAPSULE_CMD: return sizeof(struct nvmf_capsule_cmd);
	case NVMF_PDU_H2C_DATA: return sizeof(struct nvmf_data_pdu);
	default: return 0;
	}
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

ssize_t nvmf_pdu_parse(const uint8_t *buf, size_t len, const struct nvmf_pdu_rules *r,
		       struct nvmf_pdu *out, size_t *need, struct nvmf_pdu_err *err)
{
	struct nvmf_pdu_ch ch;
	uint32_t hd, dd, hlen, data_len = 0, max_data, align;
	const char *name;

	if (need != NULL)
		*need = sizeof(ch);
	if (len < sizeof(ch))
		return 0;
	memcpy(&ch, buf, sizeof(ch));
	name = nvmf_pdu_type_name(ch.type);
	hlen = host_hlen(ch.type);
	if (hlen == 0)
		return refuse(err, NVMF_FES_HDR_FIELD, 0, "PDU type 0x%02x (%s) is not one a host sends",
			      ch.type, name);
	if (!r->ic_done && ch.type != NVMF_PDU_ICREQ)
		return refuse(err, NVMF_FES_SEQUENCE, 0, "%s before ICReq", name);
	if (r->ic_done && ch.type == NVMF_PDU_ICREQ)
		return refuse(err, NVMF_FES_SEQUENCE, 0, "a second ICReq");
	if (ch.hlen != hlen)
		return refuse(err, NVMF_FES_HDR_FIELD, 2, "%s with HLEN %u (must be %u)", name, ch.hlen, hlen);

	/* Digests: none on ICReq and TermReq; on the others HDGSTF says what was
	 * negotiated, and DDGSTF too when the PDU carries data (§3.6.2.1). */
	hd = dd = 0;
	if (ch.type == NVMF_PDU_ICREQ || ch.type == NVMF_PDU_H2C_TERM) {
		if (ch.flags != 0)
			return refuse(err, NVMF_FES_HDR_FIELD, 1, "%s with flags 0x%02x (must be 0)", name,
				      ch.flags);
	} else {
		uint8_t allowed = NVMF_PDU_F_HDGST | NVMF_PDU_F_DDGST |
				  (ch.type == NVMF_PDU_H2C_DATA ? NVMF_PDU_F_LAST : 0);

		if (ch.flags & ~allowed)
			return refuse(err, NVMF_FES_HDR_FIELD, 1, "%s with unknown flags 0x%02x", name,
				      ch.flags & ~allowed);
		if (!!(ch.flags & NVMF_PDU_F_HDGST) != r->hdgst)
			return refuse(err, NVMF_FES_HDR_FIELD, 1, "%s %s a header digest, but the connection "
				      "negotiated %s", name, ch.flags & NVMF_PDU_F_HDGST ? "has" : "lacks",
				      r->hdgst ? "one" : "none");
		if ((ch.flags & NVMF_PDU_F_DDGST) && !r->ddgst)
			return refuse(err, NVMF_FES_HDR_FIELD, 1, "%s has a data digest, but the connection "
				      "negotiated none", name);
		hd = r->hdgst ? NVMF_DGST_LEN : 0;
		dd = (ch.flags & NVMF_PDU_F_DDGST) ? NVMF_DGST_LEN : 0;
	}

	/* Lengths and the data offset, before any data is waited for. */
	switch (ch.type) {
	case NVMF_PDU_ICREQ:
		if (ch.plen != hlen || ch.pdo != 0)
			return refuse(err, NVMF_FES_HDR_FIELD, ch.pdo ? 3 : 4,
				      "ICReq with PLEN %u and PDO %u (must be 128 and 0)", ch.plen, ch.pdo);
		break;
	case NVMF_PDU_H2C_TERM:
		if (ch.plen < hlen || ch.plen > hlen + NVMF_TERM_MAX_DATA || ch.pdo != 0)
			return refuse(err, NVMF_FES_HDR_FIELD, 4, "H2CTermReq with PLEN %u (must be 24..152)",
				      ch.plen);
		break;
	default: /* CapsuleCmd, H2CData */
		max_data = ch.type == NVMF_PDU_CAPSULE_CMD ? r->max_icd : r->maxh2cdata;
		align = (r->cpda + 1u) * 4;
		if (ch.pdo == 0) {
			if (ch.type == NVMF_PDU_H2C_DATA)
				return refuse(err, NVMF_FES_HDR_FIELD, 3, "H2CData with PDO 0 (no data)");
			if (dd)
				return refuse(err, NVMF_FES_HDR_FIELD, 1, "%s with a data digest but no data", name);
			if (ch.plen != hlen + hd)
				return refuse(err, NVMF_FES_HDR_FIELD, 4, "%s with no data has PLEN %u (must be %u)",
					      name, ch.plen, hlen + hd);
			break;
		}
		if (ch.pdo < hlen + hd || ch.pdo % align)
			return refuse(err, NVMF_FES_HDR_FIELD, 3, "%s with PDO %u (must be >= %u and a multiple "
				      "of %u)", name, ch.pdo, hlen + hd, align);
		if (r->ddgst && !dd)
			return refuse(err, NVMF_FES_HDR_FIELD, 1, "%s carries data without the negotiated data "
				      "digest", name);
		if (ch.plen <= (uint32_t)ch.pdo + dd)
			return refuse(err, NVMF_FES_HDR_FIELD, 4, "%s with PLEN %u leaves no data after PDO %u",
				      name, ch.plen, ch.pdo);
		data_len = ch.plen - ch.pdo - dd;
		if (data_len > max_data)
			return refuse(err, ch.type == NVMF_PDU_H2C_DATA ? NVMF_FES_LIMIT : NVMF_FES_HDR_FIELD, 4,
				      "%s carries %u bytes of data (at most %u here)", name, data_len, max_data);
		break;
	}

	/* Header digest as soon as the header is in (§3.6.2.7: CRC32C of the
	 * hlen bytes). */
	if (need != NULL)
		*need = hlen + hd;
	if (len < hlen + hd)
		return 0;
	if (hd && nvmf_crc32c(0, buf, hlen) != get32(buf + hlen))
		return refuse(err, NVMF_FES_HDR_DIGEST, 0, "%s header digest 0x%08x, computed 0x%08x", name,
			      get32(buf + hlen), nvmf_crc32c(0, buf, hlen));

	/* Type-specific header fields. */
	if (ch.type == NVMF_PDU_ICREQ) {
		const struct nvmf_icreq *ic = (const void *)buf;

		if (ic->pfv != 0)
			return refuse(err, NVMF_FES_UNSUPPORTED, 8, "ICReq PFV %u (only 0 exists)", ic->pfv);
		if (ic->hpda > 31)
			return refuse(err, NVMF_FES_HDR_FIELD, 10, "ICReq HPDA %u (at most 31)", ic->hpda);
		if (ic->dgst & ~(NVMF_ICREQ_DGST_HDR | NVMF_ICREQ_DGST_DATA))
			return refuse(err, NVMF_FES_HDR_FIELD, 11, "ICReq DGST 0x%02x has reserved bits", ic->dgst);
	} else if (ch.type == NVMF_PDU_H2C_DATA) {
		const struct nvmf_data_pdu *h = (const void *)buf;

		if (h->datal != data_len)
			return refuse(err, NVMF_FES_HDR_FIELD, 16, "H2CData DATAL %u but %u bytes of data", h->datal,
				      data_len);
	}

	if (need != NULL)
		*need = ch.plen;
	if (len < ch.plen)
		return 0;
	if (dd) {
		uint32_t want = get32(buf + ch.pdo + data_len), got = nvmf_crc32c(0, buf + ch.pdo, data_len);

		if (want != got)
			return refuse(err, NVMF_FES_NONE, 0, "%s data digest 0x%08x, computed 0x%08x", name, want,
				      got);
	}
	out->hdr = buf;
	out->type = ch.type;
	out->flags = ch.flags;
	out->plen = ch.plen;
	out->data = data_len ? buf + ch.pdo : NULL;
	out->data_len = data_len;
	return ch.plen;
}

uint16_t nvmf_capsule_xfer(const struct nvmf_sqe *sqe, uint32_t icd_len, struct nvmf_xfer *x)
{
	memset(x, 0, sizeof(*x));
	if ((sqe->flags & 0xc0) != NVMF_PSDT_SGL)
		return NVMF_SC_INVALID_FIELD; /* fabrics commands use SGLs only */
	switch (sqe->sgl.type) {
	case NVMF_SGL_DATA_OFFSET:
		/* In-capsule data: ADDR is an offset into it (ICDOFF is 0). */
		if (sqe->sgl.addr > icd_len)
			return NVMF_SC_SGL_OFFSET;
		if ((uint64_t)sqe->sgl.len > icd_len - sqe->sgl.addr)
			return NVMF_SC_SGL_DATA_LEN;
		x->len = sqe->sgl.len;
		x->in_capsule = true;
		x->offset = (uint32_t)sqe->sgl.addr;
		return NVMF_SC_SUCCESS;
	case NVMF_SGL_TRANSPORT_DATA:
		if (icd_len != 0)
			return NVMF_SC_SGL_DATA_LEN; /* data in the capsule the SGL does not point to */
		if (sqe->sgl.addr != 0)
			return NVMF_SC_SGL_OFFSET;
		x->len = sqe->sgl.len;
		return NVMF_SC_SUCCESS;
	default:
		return NVMF_SC_SGL_TYPE;
	}
}

int nvmf_h2c_check(const struct nvmf_data_pdu *h, uint32_t r2to, uint32_t r2tl, uint32_t got,
		   struct nvmf_pdu_err *err)
{
	uint64_t end = (uint64_t)h->datao + h->datal, r2t_end = (uint64_t)r2to + r2tl;
	bool last = h->ch.flags & NVMF_PDU_F_LAST;

	if (h->datao != r2to + got)
		return (int)refuse(err, NVMF_FES_OUT_OF_RANGE, 12, "H2CData DATAO %u (expected %u: R2T at %u, "
				   "%u bytes in)", h->datao, r2to + got, r2to, got);
	if (end > r2t_end)
		return (int)refuse(err, NVMF_FES_OUT_OF_RANGE, 16, "H2CData ends at %llu, past the R2T's "
				   "%llu", (unsigned long long)end, (unsigned long long)r2t_end);
	if (last != (end == r2t_end))
		return (int)refuse(err, NVMF_FES_HDR_FIELD, 1, "H2CData ending at %llu of %llu %s the LAST "
				   "flag", (unsigned long long)end, (unsigned long long)r2t_end,
				   last ? "has" : "lacks");
	return 0;
}

static void put_ch(uint8_t *buf, uint8_t type, uint8_t flags, uint8_t hlen, uint8_t pdo, uint32_t plen)
{
	struct nvmf_pdu_ch ch = {.type = type, .flags = flags, .hlen = hlen, .pdo = pdo, .plen = plen};

	memcpy(buf, &ch, sizeof(ch));
}

static void put_hdgst(uint8_t *buf, size_t hlen)
{
	uint32_t c = nvmf_crc32c(0, buf, hlen);

	memcpy(buf + hlen, &c, 4);
}

size_t nvmf_pdu_icresp(uint8_t *buf, uint8_t dgst, uint32_t maxh2cdata)
{
	struct nvmf_icresp ic;

	memset(&ic, 0, sizeof(ic));
	ic.ch = (struct nvmf_pdu_ch){.type = NVMF_PDU_ICRESP, .hlen = sizeof(ic), .plen = sizeof(ic)};
	ic.cpda = 0;
	ic.dgst = dgst;
	ic.maxh2cdata = maxh2cdata;
	memcpy(buf, &ic, sizeof(ic));
	return sizeof(ic);
}

size_t nvmf_pdu_capsule_resp(uint8_t *buf, const struct nvmf_cqe *cqe, bool hdgst)
{
	size_t hl = sizeof(struct nvmf_capsule_resp), hd = hdgst ? NVMF_DGST_LEN : 0;

	put_ch(buf, NVMF_PDU_CAPSULE_RESP, hdgst ? NVMF_PDU_F_HDGST : 0, (uint8_t)hl, 0, (uint32_t)(hl + hd));
	memcpy(buf + sizeof(struct nvmf_pdu_ch), cqe, sizeof(*cqe));
	if (hdgst)
		put_hdgst(buf, hl);
	return hl + hd;
}

size_t nvmf_pdu_c2h_data(uint8_t *buf, uint16_t cccid, uint32_t datao, uint32_t datal, bool last,
			 bool hdgst, bool ddgst, uint8_t hpda)
{
	struct nvmf_data_pdu d;
	size_t hl = sizeof(d), hd = hdgst ? NVMF_DGST_LEN : 0, align = (hpda + 1u) * 4;
	size_t pdo = (hl + hd + align - 1) / align * align;
	uint8_t flags = (hdgst ? NVMF_PDU_F_HDGST : 0) | (ddgst ? NVMF_PDU_F_DDGST : 0) |
			(last ? NVMF_PDU_F_LAST : 0);

	memset(&d, 0, sizeof(d));
	d.cccid = cccid;
	d.datao = datao;
	d.datal = datal;
	memcpy(buf, &d, sizeof(d));
	put_ch(buf, NVMF_PDU_C2H_DATA, flags, (uint8_t)hl, (uint8_t)pdo,
	       (uint32_t)(pdo + datal + (ddgst ? NVMF_DGST_LEN : 0)));
	if (hdgst)
		put_hdgst(buf, hl);
	memset(buf + hl + hd, 0, pdo - hl - hd);
	return pdo;
}

size_t nvmf_pdu_r2t(uint8_t *buf, uint16_t cccid, uint16_t ttag, uint32_t r2to, uint32_t r2tl,
		    bool hdgst)
{
	struct nvmf_r2t t;
	size_t hl = sizeof(t), hd = hdgst ? NVMF_DGST_LEN : 0;

	memset(&t, 0, sizeof(t));
	t.cccid = cccid;
	t.ttag = ttag;
	t.r2to = r2to;
	t.r2tl = r2tl;
	memcpy(buf, &t, sizeof(t));
	put_ch(buf, NVMF_PDU_R2T, hdgst ? NVMF_PDU_F_HDGST : 0, (uint8_t)hl, 0, (uint32_t)(hl + hd));
	if (hdgst)
		put_hdgst(buf, hl);
	return hl + hd;
}

size_t nvmf_pdu_c2h_term(uint8_t *buf, enum nvmf_fes fes, uint32_t fei, const uint8_t *hdr,
			 size_t hdr_len)
{
	struct nvmf_term_req t;

	if (hdr_len > NVMF_TERM_MAX_DATA)
		hdr_len = NVMF_TERM_MAX_DATA;
	memset(&t, 0, sizeof(t));
	t.ch = (struct nvmf_pdu_ch){.type = NVMF_PDU_C2H_TERM, .hlen = sizeof(t),
				    .plen = (uint32_t)(sizeof(t) + hdr_len)};
	t.fes = fes;
	t.fei = fei;
	memcpy(buf, &t, sizeof(t));
	if (hdr_len)
		memcpy(buf + sizeof(t), hdr, hdr_len);
	return sizeof(t) + hdr_len;
}
