/* SPDX-License-Identifier: BSD-3-Clause */
/* fabrics.c - the NVMe over Fabrics commands (NVMe over Fabrics 1.1 §3.3,
 * §3.5): Connect (admin and I/O queues, the dynamic controller model, host
 * NQN allow-lists), Property Get/Set (the host enables the controller through
 * CC and sees CSTS), and the keep-alive timeout (NVMe base 1.4 §7.12). */
#include <errno.h>
#include <stddef.h>
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

/* The slot is free for any group to claim once no I/O queue names it. */
static void ctrlr_release(struct nvmf_ctrlr *ctrlr)
{
	if (ctrlr->ending && ctrlr->nlinks == 0)
		atomic_store_explicit(&ctrlr->id, 0, memory_order_release);
}

/* On an I/O queue's group (from its controller's owner): close it. */
static void kill_run(struct nvmf_group *g, struct nvmf_msg *m)
{
	struct nvmf_conn *c = (struct nvmf_conn *)((char *)m - offsetof(struct nvmf_conn, kill));

	(void)g;
	nvmf_conn_close(c, "%s", c->kill_why);
	atomic_fetch_sub_explicit(&c->refs, 1, memory_order_release);
}

/* Post m about c to g; c is held (refs) until the receiver lets go. */
static void post(struct nvmf_group *g, struct nvmf_conn *c, struct nvmf_msg *m,
		 void (*fn)(struct nvmf_group *, struct nvmf_msg *))
{
	int rc;

	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	m->fn = fn;
	/* Each group's mailbox holds every message the connections there can
	 * have in flight at once (main.c sizes it): a failure is a bug. */
	if ((rc = nvmf_group_post(g, m)) < 0)
		nvmf_log("connection %s: message to poll group %u lost: %s (a bug: the mailbox is "
			 "sized for every connection)", c->peer, g->id, strerror(-rc));
}

void nvmf_ctrlr_destroy(struct nvmf_ctrlr *ctrlr, const char *why)
{
	struct nvmf_pg *pg = ctrlr->owner;
	struct nvmf_subsys_stats *st;
	struct nvmf_conn *admin;

	if (atomic_load(&ctrlr->id) == 0 || ctrlr->ending)
		return;
	st = nvmf_ss_stats(pg, pg->tgt, ctrlr->ss);
	nvmf_log("controller %u of %s for host %s: ended: %s", ctrlr->cntlid, ctrlr->ss->nqn,
		 ctrlr->hostnqn, why);
	ctrlr->ending = true;
	udk_counter_add(&st->controllers, (uint64_t)-1);
	/* Its I/O queues, wherever they are polled, close on their group's
	 * lcore; each unlinks back here (nlinks), and the slot waits for that. */
	for (unsigned int i = 1; i <= NVMF_MAX_IO_QUEUES; i++) {
		struct nvmf_conn *c = ctrlr->queues[i];

		if (c == NULL)
			continue;
		ctrlr->queues[i] = NULL;
		udk_counter_add(&st->queues, (uint64_t)-1);
		snprintf(c->kill_why, sizeof(c->kill_why), "controller %u ended (%s)", ctrlr->cntlid, why);
		post(c->group, c, &c->kill, kill_run);
	}
	admin = ctrlr->queues[0];
	ctrlr->queues[0] = NULL;
	if (admin != NULL) {
		admin->ctrlr = NULL;
		udk_counter_add(&st->queues, (uint64_t)-1);
		nvmf_conn_close(admin, "controller %u ended (%s)", ctrlr->cntlid, why);
	}
	ctrlr->naer = 0;
	ctrlr_release(ctrlr);
}

/* On the controller's owner (from the I/O queue's group, as it closed). */
static void unlink_run(struct nvmf_group *g, struct nvmf_msg *m)
{
	struct nvmf_conn *c = (struct nvmf_conn *)((char *)m - offsetof(struct nvmf_conn, unlink));
	struct nvmf_ctrlr *ctrlr = c->link_ctrlr;

	(void)g;
	if (ctrlr->queues[c->qid] == c) {
		ctrlr->queues[c->qid] = NULL;
		udk_counter_add(&nvmf_ss_stats(ctrlr->owner, c->tgt, ctrlr->ss)->queues, (uint64_t)-1);
	}
	ctrlr->nlinks--;
	ctrlr_release(ctrlr);
	atomic_fetch_sub_explicit(&c->refs, 1, memory_order_release); /* c is not ours past this */
}

void nvmf_conn_unlink(struct nvmf_conn *c)
{
	c->linked = false;
	post(c->link_owner, c, &c->unlink, unlink_run);
}

void nvmf_kato_check(struct nvmf_pg *pg, uint64_t now)
{
	for (unsigned int i = 0; i < NVMF_MAX_CTRLR; i++) {
		struct nvmf_ctrlr *ctrlr = &pg->tgt->ctrlr[i];

		if (nvmf_ctrlr_mine(pg, ctrlr) && ctrlr->ka_deadline_ns && now > ctrlr->ka_deadline_ns) {
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

/* The queue is c's from now: the Connect response. */
static void queue_connected(struct nvmf_cmd *cmd, struct nvmf_subsys *ss, uint16_t cntlid, uint16_t sqsize)
{
	struct nvmf_conn *c = cmd->conn;
	const struct connect_cmd *cc = (const void *)&cmd->sqe;

	c->ss = ss;
	c->qid = cc->qid;
	c->sqsize = (uint16_t)(sqsize + 1);
	c->sqhd = 1 % c->sqsize; /* this Connect was the first entry */
	c->connected = true;
	cmd->cqe.sqid = c->qid;
	cmd->cqe.sqhd = c->sqhd;
	cmd->cqe.dw0 = cntlid; /* and AUTHREQ 0: no authentication */
	nvmf_cmd_complete(cmd, NVMF_SC_SUCCESS);
}

/* Back on the I/O queue's group: the owner's answer to link_run. */
static void link_done(struct nvmf_group *g, struct nvmf_msg *m)
{
	struct nvmf_conn *c = (struct nvmf_conn *)((char *)m - offsetof(struct nvmf_conn, link));
	struct nvmf_cmd *cmd = c->link_cmd;

	(void)g;
	c->linking = false;
	if (c->link_status == NVMF_SC_SUCCESS) {
		c->linked = true;
		c->ctrlr = c->link_ctrlr;
		if (c->state == CONN_CLOSING)
			nvmf_conn_unlink(c); /* the host left while the owner linked it */
		else
			queue_connected(cmd, c->ss, c->link_cntlid, ((const struct connect_cmd *)&cmd->sqe)->sqsize);
		if (c->link_owner != c->group)
			nvmf_log("connection %s: queue %u of controller %u: polled by group %u, its controller "
				 "by group %u", c->peer, c->qid, c->link_cntlid, c->group->id, c->link_owner->id);
		if (c->state == CONN_CLOSING && cmd->state != CMD_FREE)
			nvmf_cmd_complete(cmd, NVMF_SC_SUCCESS); /* frees it */
	} else {
		c->ss = NULL;
		c->qid = 0;
		cmd->cqe.dw0 = c->link_dw0;
		nvmf_cmd_complete(cmd, c->link_status);
	}
	atomic_fetch_sub_explicit(&c->refs, 1, memory_order_release);
}

/* On the controller's owner: check an I/O queue's Connect against the
 * controller, put it in queues[], answer its group (link_done). */
static void link_run(struct nvmf_group *g, struct nvmf_msg *m)
{
	struct nvmf_conn *c = (struct nvmf_conn *)((char *)m - offsetof(struct nvmf_conn, link));
	const struct connect_cmd *cc = (const void *)&c->link_cmd->sqe;
	const struct connect_data *d = (const void *)c->link_cmd->buf;
	struct nvmf_ctrlr *ctrlr = c->link_ctrlr;
	const char *why = NULL;

	c->link_status = NVMF_SC_CONNECT_INVALID_PARAM;
	if (atomic_load(&ctrlr->id) != (c->link_cntlid | (g->id + 1u) << 16) || ctrlr->ending ||
	    ctrlr->ss != c->ss || strncmp(ctrlr->hostnqn, d->hostnqn, sizeof(d->hostnqn))) {
		why = "no controller with that CNTLID for this host and subsystem";
		c->link_dw0 = (1u << 16) | 16;
	} else if (!(ctrlr->csts & CSTS_RDY)) {
		why = "an I/O queue before the controller is enabled";
		c->link_dw0 = 42;
	} else if (cc->qid > NVMF_MAX_IO_QUEUES || cc->qid > ctrlr->nr_io_queues ||
		   ctrlr->queues[cc->qid] != NULL) {
		why = "QID beyond the queues granted, or already connected";
		c->link_dw0 = 42;
	}
	if (why != NULL) {
		nvmf_log("connection %s: Connect refused: %s", c->peer, why);
	} else {
		ctrlr->queues[cc->qid] = c;
		ctrlr->nlinks++;
		udk_counter_add(&nvmf_ss_stats(ctrlr->owner, c->tgt, ctrlr->ss)->queues, 1);
		udk_counter_add(&nvmf_ss_stats(ctrlr->owner, c->tgt, ctrlr->ss)->connects, 1);
		c->link_status = NVMF_SC_SUCCESS;
	}
	/* The answer holds c before this message lets go of it. */
	post(c->group, c, &c->link, link_done);
	atomic_fetch_sub_explicit(&c->refs, 1, memory_order_release);
}

static void do_connect(struct nvmf_cmd *cmd)
{
	const struct connect_cmd *cc = (const void *)&cmd->sqe;
	struct connect_data d;
	struct nvmf_conn *c = cmd->conn;
	struct nvmf_tgt *t = c->tgt;
	struct nvmf_subsys *ss;
	struct nvmf_ctrlr *ctrlr = NULL;

	if (c->connected || c->linking) {
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
		/* Admin queue: a new controller (dynamic model: CNTLID FFFFh),
		 * owned by this group. */
		unsigned int cntlid;

		if (d.cntlid != 0xffff && d.cntlid != 0xfffe) {
			connect_invalid(cmd, true, 16, "CNTLID must be FFFFh (dynamic controllers)");
			return;
		}
		do
			cntlid = atomic_fetch_add(&t->next_cntlid, 1) % 0xffef + 1; /* 1 to FFEFh */
		while (cntlid == 0);
		for (unsigned int i = 0; i < NVMF_MAX_CTRLR && ctrlr == NULL; i++) {
			unsigned int free_id = 0;

			if (atomic_compare_exchange_strong(&t->ctrlr[i].id, &free_id,
							   cntlid | (c->group->id + 1) << 16))
				ctrlr = &t->ctrlr[i];
		}
		if (ctrlr == NULL) {
			nvmf_log("connection %s: Connect refused: all %u controllers in use", c->peer,
				 NVMF_MAX_CTRLR);
			nvmf_cmd_complete(cmd, NVMF_SC_CONNECT_BUSY);
			return;
		}
		_Static_assert(offsetof(struct nvmf_ctrlr, id) == 0, "id first: the rest is cleared");
		memset((char *)ctrlr + sizeof(ctrlr->id), 0, sizeof(*ctrlr) - sizeof(ctrlr->id));
		ctrlr->owner = c->pg;
		ctrlr->cntlid = (uint16_t)cntlid;
		ctrlr->ss = ss;
		snprintf(ctrlr->hostnqn, sizeof(ctrlr->hostnqn), "%.223s", d.hostnqn);
		memcpy(ctrlr->hostid, d.hostid, sizeof(d.hostid));
		ctrlr->kato_ms = cc->kato;
		nvmf_ctrlr_keep_alive(ctrlr);
		udk_counter_add(&nvmf_ss_stats(c->pg, t, ss)->controllers, 1);
		nvmf_log("controller %u of %s for host %s from %s (KATO %u ms, poll group %u)", ctrlr->cntlid,
			 ss->nqn, d.hostnqn, c->peer, cc->kato, c->group->id);
		ctrlr->queues[0] = c;
		udk_counter_add(&nvmf_ss_stats(c->pg, t, ss)->queues, 1);
		udk_counter_add(&nvmf_ss_stats(c->pg, t, ss)->connects, 1);
		c->ctrlr = ctrlr;
		queue_connected(cmd, ss, ctrlr->cntlid, cc->sqsize);
		return;
	}
	/* An I/O queue: its controller may be another group's.  Find the owner
	 * from the slot's id (atomic), and let the owner check and link it. */
	for (unsigned int i = 0; i < NVMF_MAX_CTRLR && ctrlr == NULL; i++) {
		unsigned int id = atomic_load_explicit(&t->ctrlr[i].id, memory_order_acquire);

		if (id != 0 && (id & 0xffff) == d.cntlid && (id >> 16) - 1 < t->ngroups) {
			ctrlr = &t->ctrlr[i];
			c->link_owner = &t->groups[(id >> 16) - 1];
			c->link_cntlid = d.cntlid;
		}
	}
	if (ctrlr == NULL) {
		connect_invalid(cmd, true, 16, "no controller with that CNTLID for this host and subsystem");
		return;
	}
	c->linking = true;
	c->qid = cc->qid; /* for unlink, should the host leave before the answer */
	c->link_cmd = cmd;
	c->link_ctrlr = ctrlr;
	c->ss = ss;
	post(c->link_owner, c, &c->link, link_run);
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

	/* Only the admin queue's group may touch the controller. */
	if (cmd->conn->ctrlr != NULL && cmd->conn->qid == 0)
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
