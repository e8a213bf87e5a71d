/* SPDX-License-Identifier: BSD-3-Clause */
/* nvme_spec.h - the NVMe 1.4 structures and constants drivers/nvme uses:
 * controller registers (§3.1), queue entries (§4.2, §4.6), admin (§5) and
 * NVM (§6) command opcodes, and the offsets of the Identify fields we read.
 * Shared by drivers/nvme and udk-devbind's probe (on udk's include path inside
 * the build); not installed: the NVMe API is udk_nvme.h. */
#ifndef UDK_NVME_SPEC_H
#define UDK_NVME_SPEC_H

#include <stdint.h>

/* §3.1: controller registers, offsets in BAR0. */
#define NVME_REG_CAP 0x00
#define NVME_REG_VS 0x08
#define NVME_REG_CC 0x14
#define NVME_REG_CSTS 0x1c
#define NVME_REG_AQA 0x24
#define NVME_REG_ASQ 0x28
#define NVME_REG_ACQ 0x30
#define NVME_REG_DBS 0x1000 /* §3.1.24: SQ y tail at 1000h + 2y*(4 << DSTRD), CQ y head next */

/* §3.1.1 CAP fields. */
#define NVME_CAP_MQES(c) ((uint32_t)((c) & 0xffff))         /* 0's based */
#define NVME_CAP_TO(c) ((uint32_t)(((c) >> 24) & 0xff))     /* 500 ms units */
#define NVME_CAP_DSTRD(c) ((uint32_t)(((c) >> 32) & 0xf))
#define NVME_CAP_CSS_NVM(c) ((uint32_t)(((c) >> 37) & 1))
#define NVME_CAP_MPSMIN(c) ((uint32_t)(((c) >> 48) & 0xf))  /* 2^(12+n) bytes */
#define NVME_CAP_MPSMAX(c) ((uint32_t)(((c) >> 52) & 0xf))  /* 2^(12+n) bytes */

/* §3.1.5 CC: EN bit 0; CSS 6:4 = 0 (NVM); MPS 10:7 = 0 (4 KiB); AMS 13:11 = 0
 * (round robin); SHN 15:14; IOSQES 19:16 = 6 (64 B); IOCQES 23:20 = 4 (16 B). */
#define NVME_CC_EN 0x1u
#define NVME_CC_SHN_NORMAL (1u << 14)
#define NVME_CC_CONFIG (6u << 16 | 4u << 20)

/* §3.1.6 CSTS. */
#define NVME_CSTS_RDY 0x1u
#define NVME_CSTS_CFS 0x2u
#define NVME_CSTS_SHST_MASK 0xcu
#define NVME_CSTS_SHST_DONE 0x8u

#define NVME_PAGE 4096u /* the memory page size udk sets (CC.MPS = 0) */

/* §4.2, Figure 105: a submission queue entry (common command format). */
struct nvme_sqe {
	uint8_t opc;
	uint8_t flags; /* FUSE 1:0, PSDT 7:6 (0: PRPs) */
	uint16_t cid;
	uint32_t nsid;
	uint32_t cdw2, cdw3;
	uint64_t mptr;
	uint64_t prp1, prp2;
	uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
} __attribute__((packed));
_Static_assert(sizeof(struct nvme_sqe) == 64, "NVMe 1.4 §4.2: an SQE is 64 bytes");

/* §4.6, Figure 121: a completion queue entry.  status: P bit 0, SC 8:1,
 * SCT 11:9, CRD 13:12, M 14, DNR 15. */
struct nvme_cqe {
	uint32_t dw0, dw1;
	uint16_t sqhd, sqid;
	uint16_t cid, status;
} __attribute__((packed));
_Static_assert(sizeof(struct nvme_cqe) == 16, "NVMe 1.4 §4.6: a CQE is 16 bytes");

/* §5, Figure 139: admin opcodes. */
#define NVME_ADM_DELETE_SQ 0x00
#define NVME_ADM_CREATE_SQ 0x01
#define NVME_ADM_GET_LOG 0x02
#define NVME_ADM_DELETE_CQ 0x04
#define NVME_ADM_CREATE_CQ 0x05
#define NVME_ADM_IDENTIFY 0x06
#define NVME_ADM_SET_FEATURES 0x09
#define NVME_ADM_GET_FEATURES 0x0a
#define NVME_ADM_ABORT 0x08
#define NVME_ADM_AER 0x0c
#define NVME_ADM_FORMAT 0x80

/* §5.15: Identify CNS values. */
#define NVME_CNS_NS 0x00
#define NVME_CNS_CTRLR 0x01
#define NVME_CNS_ACTIVE_NS 0x02

/* §5.21.1.7: Number of Queues feature. */
#define NVME_FEAT_NUM_QUEUES 0x07
/* §5.21.1.11: Asynchronous Event Configuration: SMART critical warnings 7:0,
 * notices from bit 8 (namespace attribute 8, firmware activation 9). */
/* §5.21.1.8: Interrupt Coalescing, THR 7:0 (0's based), TIME 15:8 (100 µs). */
#define NVME_FEAT_INT_COALESCING 0x08
#define NVME_FEAT_AEC 0x0b

/* §6, Figure 346: NVM command set opcodes. */
#define NVME_CMD_FLUSH 0x00
#define NVME_CMD_WRITE 0x01
#define NVME_CMD_READ 0x02
#define NVME_CMD_WRITE_ZEROES 0x08
#define NVME_CMD_DSM 0x09

/* §5.15.2, Figure 247: byte offsets in the Identify Controller data. */
#define NVME_IDC_VID 0
#define NVME_IDC_SSVID 2
#define NVME_IDC_SN 4     /* 20 bytes */
#define NVME_IDC_MN 24    /* 40 bytes */
#define NVME_IDC_FR 64    /* 8 bytes */
#define NVME_IDC_MDTS 77
#define NVME_IDC_CNTLID 78
#define NVME_IDC_VER 80
#define NVME_IDC_OAES 92  /* optional asynchronous events supported, 4 bytes */
#define NVME_IDC_OACS 256
#define NVME_IDC_AERL 259 /* outstanding AERs, 0's based */
#define NVME_IDC_ELPE 262 /* error log page entries, 0's based */
#define NVME_IDC_NN 516
#define NVME_IDC_ONCS 520
#define NVME_IDC_VWC 525
#define NVME_IDC_SGLS 536 /* 4 bytes: bits 1:0 SGL support for I/O */

/* §5.15.2, Figure 249: byte offsets in the Identify Namespace data. */
#define NVME_IDN_NSZE 0
#define NVME_IDN_NCAP 8
#define NVME_IDN_NUSE 16
#define NVME_IDN_NLBAF 25
#define NVME_IDN_FLBAS 26
#define NVME_IDN_LBAF 128 /* 16 entries of 4 bytes: MS 15:0, LBADS 23:16, RP 25:24 */

/* §6.7, Figure 364: a Dataset Management range. */
struct nvme_dsm_range {
	uint32_t cattr;
	uint32_t nlb;
	uint64_t slba;
} __attribute__((packed));
_Static_assert(sizeof(struct nvme_dsm_range) == 16, "NVMe 1.4 §6.7: a DSM range is 16 bytes");

#endif
