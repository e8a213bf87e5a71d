/* SPDX-License-Identifier: BSD-3-Clause */
/* pdu.h - NVMe/TCP PDUs (NVMe/TCP transport specification 1.0, section 3.6)
 * and the NVMe command and completion they carry: wire layouts, a pure
 * parser over a byte buffer (no socket, no state but the rules passed in, so
 * it can be fuzzed), the in-capsule SGL and H2CData checks, and the builders
 * of the PDUs a controller sends.  All fields are little-endian on the wire,
 * as on the hosts udk runs on. */
#ifndef NVMF_PDU_H
#define NVMF_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* §3.6.1: PDU types. */
enum nvmf_pdu_type {
	NVMF_PDU_ICREQ = 0x00,
	NVMF_PDU_ICRESP = 0x01,
	NVMF_PDU_H2C_TERM = 0x02,
	NVMF_PDU_C2H_TERM = 0x03,
	NVMF_PDU_CAPSULE_CMD = 0x04,
	NVMF_PDU_CAPSULE_RESP = 0x05,
	NVMF_PDU_H2C_DATA = 0x06,
	NVMF_PDU_C2H_DATA = 0x07,
	NVMF_PDU_R2T = 0x09,
};

/* §3.6.2.1: common header flags. */
#define NVMF_PDU_F_HDGST 0x01
#define NVMF_PDU_F_DDGST 0x02
#define NVMF_PDU_F_LAST 0x04    /* H2CData, C2HData: last PDU of the transfer */
#define NVMF_PDU_F_SUCCESS 0x08 /* C2HData: no CapsuleResp follows */

#define NVMF_DGST_LEN 4
#define NVMF_ICREQ_DGST_HDR 0x01 /* ICReq/ICResp DGST: header digest enable */
#define NVMF_ICREQ_DGST_DATA 0x02

/* §3.6.4.6: fatal error status of a C2HTermReq. */
enum nvmf_fes {
	NVMF_FES_NONE = 0x00, /* close without a TermReq (not a header error) */
	NVMF_FES_HDR_FIELD = 0x01,
	NVMF_FES_SEQUENCE = 0x02,
	NVMF_FES_HDR_DIGEST = 0x03,
	NVMF_FES_OUT_OF_RANGE = 0x04,
	NVMF_FES_LIMIT = 0x05,
	NVMF_FES_UNSUPPORTED = 0x06,
};

/* §3.6.2.1: common header. */
struct nvmf_pdu_ch {
	uint8_t type;
	uint8_t flags;
	uint8_t hlen;
	uint8_t pdo;
	uint32_t plen;
} __attribute__((packed));
_Static_assert(sizeof(struct nvmf_pdu_ch) == 8, "common header");

/* §3.6.2.2, §3.6.2.3: ICReq and ICResp. */
struct nvmf_icreq {
	struct nvmf_pdu_ch ch;
	uint16_t pfv;
	uint8_t hpda;
	uint8_t dgst;
	uint32_t maxr2t;
	uint8_t rsvd[112];
} __attribute__((packed));
_Static_assert(sizeof(struct nvmf_icreq) == 128, "ICReq");

struct nvmf_icresp {
	struct nvmf_pdu_ch ch;
	uint16_t pfv;
	uint8_t cpda;
	uint8_t dgst;
	uint32_t maxh2cdata;
	uint8_t rsvd[112];
} __attribute__((packed));
_Static_assert(sizeof(struct nvmf_icresp) == 128, "ICResp");

/* NVMe base 1.4 §4.4: SGL descriptor (the command's DPTR). */
struct nvmf_sgl {
	uint64_t addr;
	uint32_t len;
	uint8_t rsvd[3];
	uint8_t type; /* descriptor type << 4 | subtype */
} __attribute__((packed));
_Static_assert(sizeof(struct nvmf_sgl) == 16, "SGL descriptor");

#define NVMF_SGL_DATA_OFFSET 0x01    /* data block, offset: in-capsule data */
#define NVMF_SGL_TRANSPORT_DATA 0x5a /* transport data block, transport-specific: R2T/C2HData */
#define NVMF_PSDT_SGL 0x40           /* CDW0 PSDT 01b (in the flags byte) */

/* NVMe base 1.4 §4.2: submission queue entry (the fabrics commands overlay it). */
struct nvmf_sqe {
	uint8_t opc;
	uint8_t flags; /* FUSE 1:0, PSDT 7:6 */
	uint16_t cid;
	uint32_t nsid;
	uint32_t cdw2;
	uint32_t cdw3;
	uint64_t mptr;
	struct nvmf_sgl sgl;
	uint32_t cdw10;
	uint32_t cdw11;
	uint32_t cdw12;
	uint32_t cdw13;
	uint32_t cdw14;
	uint32_t cdw15;
} __attribute__((packed));
_Static_assert(sizeof(struct nvmf_sqe) == 64, "SQE");

/* NVMe base 1.4 §4.6: completion queue entry. */
struct nvmf_cqe {
	uint32_t dw0;
	uint32_t dw1;
	uint16_t sqhd;
	uint16_t sqid;
	uint16_t cid;
	uint16_t status; /* P 0, SC 8:1, SCT 11:9, M 14, DNR 15 */
} __attribute__((packed));
_Static_assert(sizeof(struct nvmf_cqe) == 16, "CQE");

/* §3.6.2.4, §3.6.2.5: CapsuleCmd and CapsuleResp. */
struct nvmf_capsule_cmd {
	struct nvmf_pdu_ch ch;
	struct nvmf_sqe sqe;
} __attribute__((packed));
_Static_assert(sizeof(struct nvmf_capsule_cmd) == 72, "CapsuleCmd");

struct nvmf_capsule_resp {
	struct nvmf_pdu_ch ch;
	struct nvmf_cqe cqe;
} __attribute__((packed));
_Static_assert(sizeof(struct nvmf_capsule_resp) == 24, "CapsuleResp");

/* §3.6.2.6, §3.6.2.7, §3.6.2.8: H2CData, C2HData, R2T. */
struct nvmf_data_pdu {
	struct nvmf_pdu_ch ch;
	uint16_t cccid;
	uint16_t ttag; /* H2CData; reserved in C2HData */
	uint32_t datao;
	uint32_t datal;
	uint32_t rsvd;
} __attribute__((packed));
_Static_assert(sizeof(struct nvmf_data_pdu) == 24, "H2CData/C2HData");

struct nvmf_r2t {
	struct nvmf_pdu_ch ch;
	uint16_t cccid;
	uint16_t ttag;
	uint32_t r2to;
	uint32_t r2tl;
	uint32_t rsvd;
} __attribute__((packed));
_Static_assert(sizeof(struct nvmf_r2t) == 24, "R2T");

/* §3.6.2.9: H2CTermReq and C2HTermReq (followed by the offending header). */
struct nvmf_term_req {
	struct nvmf_pdu_ch ch;
	uint16_t fes;
	uint32_t fei;
	uint8_t rsvd[10];
} __attribute__((packed));
_Static_assert(sizeof(struct nvmf_term_req) == 24, "TermReq");
#define NVMF_TERM_MAX_DATA 128 /* the offending PDU header a C2HTermReq echoes */

/* What the parser accepts on one connection (the controller's side). */
struct nvmf_pdu_rules {
	bool ic_done;        /* ICReq seen: now commands, data and TermReq */
	bool hdgst;          /* negotiated header digest */
	bool ddgst;          /* negotiated data digest */
	uint8_t cpda;        /* our data alignment: pdo a multiple of (cpda + 1) * 4 */
	uint32_t max_icd;    /* largest in-capsule data we take */
	uint32_t maxh2cdata; /* largest H2CData payload we take */
};

/* One parsed PDU; pointers into the parsed buffer. */
struct nvmf_pdu {
	const uint8_t *hdr; /* hlen bytes: cast to the type's struct */
	uint8_t type;
	uint8_t flags;
	uint32_t plen;
	const uint8_t *data; /* NULL when data_len is 0 */
	uint32_t data_len;
};

/* Why a PDU was refused: a TermReq's status and field offset, and a line
 * for the log. */
struct nvmf_pdu_err {
	enum nvmf_fes fes;
	uint32_t fei;
	char why[160];
};

/* Parse the PDU at the start of buf[0..len).  Returns its length (plen, > 0)
 * when a whole valid PDU is there; 0 when more bytes are needed (*need, if
 * not NULL, gets the total this PDU needs as far as known: 8 before the
 * header is in); -EPROTO with err filled when the bytes cannot be a valid
 * PDU under rules (every length, offset, flag and digest is checked before
 * the caller sees a field, and a length is refused as soon as the header
 * shows it, before its data arrives). */
ssize_t nvmf_pdu_parse(const uint8_t *buf, size_t len, const struct nvmf_pdu_rules *rules,
		       struct nvmf_pdu *out, size_t *need, struct nvmf_pdu_err *err);

/* NVMe status (SCT << 8 | SC) values this target returns. */
#define NVMF_SC(sct, sc) ((uint16_t)(((sct) << 8) | (sc)))
#define NVMF_SC_SUCCESS NVMF_SC(0, 0x00)
#define NVMF_SC_INVALID_OPCODE NVMF_SC(0, 0x01)
#define NVMF_SC_INVALID_FIELD NVMF_SC(0, 0x02)
#define NVMF_SC_DATA_XFER_ERROR NVMF_SC(0, 0x04)
#define NVMF_SC_INTERNAL NVMF_SC(0, 0x06)
#define NVMF_SC_ABORTED_SQ_DELETED NVMF_SC(0, 0x08)
#define NVMF_SC_INVALID_NS NVMF_SC(0, 0x0b)
#define NVMF_SC_COMMAND_SEQUENCE NVMF_SC(0, 0x0c)
#define NVMF_SC_SGL_DATA_LEN NVMF_SC(0, 0x0f)
#define NVMF_SC_SGL_TYPE NVMF_SC(0, 0x11)
#define NVMF_SC_SGL_OFFSET NVMF_SC(0, 0x16)
#define NVMF_SC_LBA_RANGE NVMF_SC(0, 0x80)
#define NVMF_SC_NS_NOT_READY NVMF_SC(0, 0x82)
#define NVMF_SC_INVALID_QID NVMF_SC(1, 0x01)
#define NVMF_SC_INVALID_QSIZE NVMF_SC(1, 0x02)
#define NVMF_SC_AER_LIMIT NVMF_SC(1, 0x05)
#define NVMF_SC_INVALID_LOG_PAGE NVMF_SC(1, 0x09)
#define NVMF_SC_FEATURE_NOT_CHANGEABLE NVMF_SC(1, 0x0e)
#define NVMF_SC_WRITE_PROTECTED NVMF_SC(0, 0x20)
#define NVMF_SC_CONNECT_FORMAT NVMF_SC(1, 0x80)
#define NVMF_SC_CONNECT_BUSY NVMF_SC(1, 0x81)
#define NVMF_SC_CONNECT_INVALID_PARAM NVMF_SC(1, 0x82)
#define NVMF_SC_CONNECT_INVALID_HOST NVMF_SC(1, 0x84)
#define NVMF_STATUS_DNR 0x8000 /* in the CQE's status field, with SC/SCT shifted by 1 */

/* Where a command's data is (from its SGL, NVMe/TCP §3.3.2). */
struct nvmf_xfer {
	uint32_t len;     /* bytes; 0: no data */
	bool in_capsule;  /* in the CapsuleCmd at offset; else R2T/C2HData */
	uint32_t offset;  /* into the in-capsule data */
};

/* Check the SGL of sqe against icd_len bytes of in-capsule data that came
 * with it.  Returns NVMF_SC_SUCCESS and *x, or the status to complete the
 * command with (these are command errors, not connection errors). */
uint16_t nvmf_capsule_xfer(const struct nvmf_sqe *sqe, uint32_t icd_len, struct nvmf_xfer *x);

/* Check an H2CData header (after nvmf_pdu_parse) against the R2T it answers:
 * [r2to, r2to + r2tl), of which got bytes came already.  0, or -EPROTO with
 * err filled (data out of range, out of order, a LAST flag that lies). */
int nvmf_h2c_check(const struct nvmf_data_pdu *h, uint32_t r2to, uint32_t r2tl, uint32_t got,
		   struct nvmf_pdu_err *err);

/* ---- builders: each writes a PDU header into buf and returns its length,
 * header digest and data-alignment padding included (the data, then its
 * digest, follow at that offset for C2HData). ---- */
size_t nvmf_pdu_icresp(uint8_t *buf, uint8_t dgst, uint32_t maxh2cdata);
size_t nvmf_pdu_capsule_resp(uint8_t *buf, const struct nvmf_cqe *cqe, bool hdgst);
/* hpda: the host's alignment ((hpda + 1) * 4 bytes) for where data starts. */
size_t nvmf_pdu_c2h_data(uint8_t *buf, uint16_t cccid, uint32_t datao, uint32_t datal, bool last,
			 bool hdgst, bool ddgst, uint8_t hpda);
size_t nvmf_pdu_r2t(uint8_t *buf, uint16_t cccid, uint16_t ttag, uint32_t r2to, uint32_t r2tl,
		    bool hdgst);
/* A C2HTermReq echoing up to NVMF_TERM_MAX_DATA bytes of the bad header
 * (hdr, hdr_len); buf holds 24 + 128 bytes. */
size_t nvmf_pdu_c2h_term(uint8_t *buf, enum nvmf_fes fes, uint32_t fei, const uint8_t *hdr,
			 size_t hdr_len);

const char *nvmf_pdu_type_name(uint8_t type);

#endif
