/* SPDX-License-Identifier: BSD-3-Clause */
/* fabrics.c - the NVMe over Fabrics commands (NVMe over Fabrics 1.1 §3.3,
 * §3.5): Connect (admin and I/O queues, the dynamic controller model, host
 * NQN allow-lists), Property Get/Set (the host enables the controller through
 * CC and sees CSTS), and the keep-alive timeout (NVMe base 1.4 §7.12). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nvmf.h"
#include "udk_telemetry.h"

/* Fabrics command types (fabrics §3.3, "FCTYPE"). */
#define FCTYPE_PROPERTY_SET 0x00
#define FCTYPE_CONNECT 0x01
#define FCTYPE_PROPERTY_GET 0x04
#define FCTYPE_DISCONNECT 0x08

/* Properties (NVMe base 1.4 §3.1, fabrics §3.4). */
#define PROP_CAP 0x00
#define PROP_VS 0x08
#define PROP_CC 0x14
#define PROP_CSTS 0x1c
#define NVMF_VS 0x00010400u /* 1.4.0 */

#define CC_EN 0x1u
#define CC_SHN_MASK (0x3u << 14)
#define CSTS_RDY 0x1u
#define CSTS_SHST_DONE (0x2u << 2)

/* Connect command and data (fabrics §3.3). */
struct connect_cmd {
	uint8_t opc;
	uint8_t flags;
	uint16_t cid;
	uint8_t fctype;
	uint8_t rsvd1[19];
	struct nvmf_sgl sgl;
	uint16_t recfmt;
	uint16_t qid;
	uint16_t sqsize;
	uint8_t cattr;
	uint8_t rsvd2;
	uint32_t kato;
	uint8_t rsvd3[12];
} __attribute__((packed));
_Static_assert(sizeof(struct connect_cmd) == 64, "Connect command");

struct connect_data {
	uint8_t hostid[16];
	uint16_t cntlid;
	uint8_t rsvd1[238];
	char subnqn[256];
	char hostnqn[256];
	uint8_t rsvd2[256];
} __attribute__((packed));
_Static_assert(sizeof(struct connect_data) == 1024, "Connect data");

struct prop_cmd {
	uint8_t opc;
	uint8_t flags;
	uint16_t cid;
	uint8_t fctype;
	uint8_t rsvd1[35];
	uint8_t attrib; /* bits 2:0: 0 four bytes, 1 eight */
	uint8_t rsvd2[3];
	uint32_t ofst;
	uint64_t value;
	uint8_t rsvd3[8];
} __attribute__((packed));
_Static_assert(sizeof(struct prop_cmd) == 64, "Property Get/Set");

uint64_t nvmf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool nvmf_host_allowed(const struct nvmf_subsys *ss, const char *hostnqn)
{
	if (ss->allow_any || ss->discovery)
		return true;
	for (unsigned int i = 0; i < ss->nhosts; i++)
		if (!strcmp(ss->hosts[i], hostnqn))
			return true;
	return false;
}

static uint64_t prop_cap(void)
{
	/* MQES 127 (0's based), CQR 1, TO 30 (15 s, in 500 ms units), CSS bit 37
	 * (the NVM command set), MPSMIN = MPSMAX = 0 (4 KiB). */
	return (uint64_t)(NVMF_QUEUE_DEPTH - 1) | (1u << 16) | (30u << 24) | (1ull << 37);
}

void nvmf_ctrlr_keep_alive(struct nvmf_ctrlr *ctrlr)
{
	/* The host sends Keep Alive at KATO/2; a TCG guest can stall, so the
	 * timeout runs KATO plus half of it (NVMe base §7.12.1 lets the controller
	 * wait longer than KATO). */
	if (ctrlr->kato_ms)
		ctrlr->ka_deadline_ns = nvmf_now_ns() + (uint64_t)ctrlr->kato_ms * 1500000u;
}

void nvmf_ctrlr_destroy(struct nvmf_ctrlr *ctrlr, const char *why)
{
	if (!ctrlr->used)
		return;
	nvmf_log("controller %u of %s for host %s: ended: %s", ctrlr->cntlid, ctrlr->ss->nqn,
		 ctrlr->hostnqn, why);
	ctrlr->used = false;
	udk_counter_add(&ctrlr->ss->stats.controllers, (uint64_t)-1);
	for (unsigned int i = 0; i <= NVMF_MAX_IO_QUEUES; i++) {
		struct nvmf_conn *c = ctrlr->queues[i];

		if (c == NULL)
			continue;
		ctrlr->queues[i] = NULL;
		c->ctrlr = NULL;
		udk_counter_add(&ctrlr->ss->stats.queues, (uint64_t)-1);
		nvmf_conn_close(c, "controller %u ended (%s)", ctrlr->cntlid, why);
	}
	ctrlr->naer = 0;
}

void nvmf_kato_check(struct nvmf_tgt *t, uint64_t now)
{
	for (unsigned int i = 0; i < NVMF_MAX_CTRLR; i++) {
		struct nvmf_ctrlr *ctrlr = &t->ctrlr[i];

		if (ctrlr->used && ctrlr->ka_deadline_ns && now > ctrlr->ka_deadline_ns) {
			char why[96];

			snprintf(why, sizeof(why), "no command for the keep-alive timeout (KATO %u ms)",
				 ctrlr->kato_ms);
			nvmf_ctrlr_destroy(ctrlr, why);
		}
	}
}

static struct nvmf_subsys *subsys_find(struct nvmf_tgt *t, const char *nqn)
{
	for (unsigned int i = 0; i < t->nsubsys; i++)
		if (!strcmp(t->subsys[i].nqn, nqn))
			return &t->subsys[i];
	return NULL;
}

/* Connect Invalid Parameters with where (fabrics §3.3, Connect response):
 * IATTR bit 16 (1: in the data), IPO the byte offset. */
static void connect_invalid(struct nvmf_cmd *cmd, bool in_data, uint16_t offset, const char *why)
{
	nvmf_log("connection %s: Connect refused: %s", cmd->conn->peer, why);
	cmd->cqe.dw0 = (in_data ? 1u << 16 : 0) | offset;
	nvmf_cmd_complete(cmd, NVMF_SC_CONNECT_INVALID_PARAM);
}

static void do_connect(struct nvmf_cmd *cmd)
{
	const struct connect_cmd *cc = (const void *)&cmd->sqe;
	struct connect_data d;
	struct nvmf_conn *c = cmd->conn;
	struct nvmf_tgt *t = c->tgt;
	struct nvmf_subsys *ss;
	struct nvmf_ctrlr *ctrlr = NULL;

	if (c->connected) {
		nvmf_cmd_complete(cmd, NVMF_SC_COMMAND_SEQUENCE);
		return;
	}
	if (cmd->xfer.len != sizeof(d)) {
		connect_invalid(cmd, false, 24 + 8, "the data is not 1024 bytes");
		return;
	}
	memcpy(&d, cmd->buf, sizeof(d));
	d.subnqn[sizeof(d.subnqn) - 1] = d.hostnqn[sizeof(d.hostnqn) - 1] = '\0';
	if (cc->recfmt != 0) {
		nvmf_log("connection %s: Connect record format %u (only 0 exists)", c->peer, cc->recfmt);
		nvmf_cmd_complete(cmd, NVMF_SC_CONNECT_FORMAT);
		return;
	}
	if (strlen(d.hostnqn) > NVMF_NQN_MAX || d.hostnqn[0] == '\0') {
		connect_invalid(cmd, true, 512, "HOSTNQN empty or longer than 223 bytes");
		return;
	}
	ss = subsys_find(t, d.subnqn);
	if (ss == NULL) {
		char why[320];

		snprintf(why, sizeof(why), "no subsystem %.256s here", d.subnqn);
		connect_invalid(cmd, true, 256, why);
		return;
	}
	if (!nvmf_host_allowed(ss, d.hostnqn)) {
		nvmf_log("connection %s: Connect refused: host %s is not on the allow-list of %s", c->peer,
			 d.hostnqn, ss->nqn);
		cmd->cqe.dw0 = (1u << 16) | 512;
		nvmf_cmd_complete(cmd, NVMF_SC_CONNECT_INVALID_HOST);
		return;
	}
	if (cc->sqsize == 0 || cc->sqsize > (cc->qid ? NVMF_QUEUE_DEPTH : NVMF_ADMIN_DEPTH) - 1) {
		connect_invalid(cmd, false, 44, "SQSIZE out of range");
		return;
	}
	if (cc->qid == 0) {
		/* Admin queue: a new controller (dynamic model: CNTLID FFFFh). */
		if (d.cntlid != 0xffff && d.cntlid != 0xfffe) {
			connect_invalid(cmd, true, 16, "CNTLID must be FFFFh (dynamic controllers)");
			return;
		}
		for (unsigned int i = 0; i < NVMF_MAX_CTRLR && ctrlr == NULL; i++)
			if (!t->ctrlr[i].used)
				ctrlr = &t->ctrlr[i];
		if (ctrlr == NULL) {
			nvmf_log("connection %s: Connect refused: all %u controllers in use", c->peer,
				 NVMF_MAX_CTRLR);
			nvmf_cmd_complete(cmd, NVMF_SC_CONNECT_BUSY);
			return;
		}
		memset(ctrlr, 0, sizeof(*ctrlr));
		ctrlr->used = true;
		if (++t->next_cntlid > 0xffef || t->next_cntlid == 0)
			t->next_cntlid = 1;
		ctrlr->cntlid = t->next_cntlid;
		ctrlr->ss = ss;
		snprintf(ctrlr->hostnqn, sizeof(ctrlr->hostnqn), "%.223s", d.hostnqn);
		memcpy(ctrlr->hostid, d.hostid, sizeof(d.hostid));
		ctrlr->kato_ms = cc->kato;
		nvmf_ctrlr_keep_alive(ctrlr);
		udk_counter_add(&ss->stats.controllers, 1);
		nvmf_log("controller %u of %s for host %s from %s (KATO %u ms)", ctrlr->cntlid, ss->nqn,
			 d.hostnqn, c->peer, cc->kato);
	} else {
		for (unsigned int i = 0; i < NVMF_MAX_CTRLR && ctrlr == NULL; i++)
			if (t->ctrlr[i].used && t->ctrlr[i].cntlid == d.cntlid)
				ctrlr = &t->ctrlr[i];
		if (ctrlr == NULL || ctrlr->ss != ss || strcmp(ctrlr->hostnqn, d.hostnqn)) {
			connect_invalid(cmd, true, 16, "no controller with that CNTLID for this host and subsystem");
			return;
		}
		if (!(ctrlr->csts & CSTS_RDY)) {
			connect_invalid(cmd, false, 42, "an I/O queue before the controller is enabled");
			return;
		}
		if (cc->qid > NVMF_MAX_IO_QUEUES || cc->qid > ctrlr->nr_io_queues ||
		    ctrlr->queues[cc->qid] != NULL) {
			connect_invalid(cmd, false, 42, "QID beyond the queues granted, or already connected");
			return;
		}
	}
	ctrlr->queues[cc->qid] = c;
	udk_counter_add(&ss->stats.queues, 1);
	udk_counter_add(&ss->stats.connects, 1);
	c->ctrlr = ctrlr;
	c->qid = cc->qid;
	c->sqsize = (uint16_t)(cc->sqsize + 1);
	c->sqhd = 1 % c->sqsize; /* this Connect was the first entry */
	c->connected = true;
	cmd->cqe.sqid = c->qid;
	cmd->cqe.sqhd = c->sqhd;
	cmd->cqe.dw0 = ctrlr->cntlid; /* and AUTHREQ 0: no authentication */
	nvmf_cmd_complete(cmd, NVMF_SC_SUCCESS);
}

static void property(struct nvmf_cmd *cmd, bool set)
{
	const struct prop_cmd *pc = (const void *)&cmd->sqe;
	struct nvmf_ctrlr *ctrlr = cmd->conn->ctrlr;
	bool eight = (pc->attrib & 7) == 1;
	uint64_t v;

	if (!cmd->conn->connected || cmd->conn->qid != 0) {
		nvmf_cmd_complete(cmd, NVMF_SC_COMMAND_SEQUENCE);
		return;
	}
	if (!set) {
		switch (pc->ofst) {
		case PROP_CAP: v = prop_cap(); break;
		case PROP_VS: v = NVMF_VS; break;
		case PROP_CC: v = ctrlr->cc; break;
		case PROP_CSTS: v = ctrlr->csts; break;
		default:
			nvmf_cmd_complete(cmd, NVMF_SC_INVALID_FIELD);
			return;
		}
		if (!eight && pc->ofst == PROP_CAP)
			v &= 0xffffffffu;
		cmd->cqe.dw0 = (uint32_t)v;
		cmd->cqe.dw1 = eight ? (uint32_t)(v >> 32) : 0;
		nvmf_cmd_complete(cmd, NVMF_SC_SUCCESS);
		return;
	}
	if (pc->ofst != PROP_CC || eight) {
		nvmf_cmd_complete(cmd, NVMF_SC_INVALID_FIELD);
		return;
	}
	v = (uint32_t)pc->value;
	if ((v & CC_EN) && !(ctrlr->cc & CC_EN))
		ctrlr->csts |= CSTS_RDY;
	if (!(v & CC_EN) && (ctrlr->cc & CC_EN))
		ctrlr->csts &= ~CSTS_RDY; /* a reset: the host reconnects its I/O queues */
	if (v & CC_SHN_MASK)
		ctrlr->csts |= CSTS_SHST_DONE; /* nothing to flush: bdev writes complete when done */
	else
		ctrlr->csts &= ~CSTS_SHST_DONE;
	ctrlr->cc = (uint32_t)v;
	nvmf_cmd_complete(cmd, NVMF_SC_SUCCESS);
}

void nvmf_fabrics_exec(struct nvmf_cmd *cmd)
{
	uint8_t fctype = (uint8_t)(cmd->sqe.nsid & 0xff);

	if (cmd->conn->ctrlr != NULL)
		nvmf_ctrlr_keep_alive(cmd->conn->ctrlr);
	switch (fctype) {
	case FCTYPE_CONNECT:
		do_connect(cmd);
		break;
	case FCTYPE_PROPERTY_GET:
		property(cmd, false);
		break;
	case FCTYPE_PROPERTY_SET:
		property(cmd, true);
		break;
	case FCTYPE_DISCONNECT:
		/* Fabrics 1.1: ends this I/O queue; the CapsuleResp goes first. */
		nvmf_cmd_complete(cmd, cmd->conn->qid ? NVMF_SC_SUCCESS : NVMF_SC_INVALID_FIELD);
		break;
	default:
		nvmf_cmd_complete(cmd, NVMF_SC_INVALID_OPCODE);
		break;
	}
}
