/* SPDX-License-Identifier: BSD-3-Clause */
/* admin.c - the admin commands a fabrics host needs (NVMe base 1.4 §5):
 * Identify (controller, namespace, active namespace list, namespace
 * identification descriptors, the NVM command set's controller data), Get Log
 * Page (error, SMART/health, changed namespace list, and the discovery log on
 * the discovery subsystem, fabrics §5), Get/Set Features (number of queues,
 * keep-alive timer, async event configuration, volatile write cache),
 * Asynchronous Event Requests, Keep Alive and Abort. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvmf.h"
#include "udk_telemetry.h"

#define ADM_GET_LOG 0x02
#define ADM_IDENTIFY 0x06
#define ADM_ABORT 0x08
#define ADM_SET_FEATURES 0x09
#define ADM_GET_FEATURES 0x0a
#define ADM_AER 0x0c
#define ADM_KEEP_ALIVE 0x18

#define FID_VWC 0x06
#define FID_NUM_QUEUES 0x07
#define FID_ASYNC_EVENT 0x0b
#define FID_KATO 0x0f

#define LID_ERROR 0x01
#define LID_SMART 0x02
#define LID_CHANGED_NS 0x04
#define LID_DISCOVERY 0x70

#define AEC_NS_ATTR (1u << 8)

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* ASCII, space padded, no NUL (NVMe base §1.5 "ASCII string"). */
static void put_str(uint8_t *p, size_t len, const char *s)
{
	size_t n = strlen(s);

	memset(p, ' ', len);
	memcpy(p, s, n < len ? n : len);
}

/* Send len bytes of data (at most the host's buffer) and complete. */
static void reply(struct nvmf_cmd *cmd, const void *data, size_t len)
{
	if (len > cmd->xfer.len)
		len = cmd->xfer.len;
	memcpy(cmd->buf, data, len);
	cmd->data_out = (uint32_t)len;
	nvmf_cmd_complete(cmd, NVMF_SC_SUCCESS);
}

uint32_t nvmf_mdts_bytes(const struct nvmf_subsys *ss)
{
	uint32_t m = NVMF_MAX_XFER;

	for (unsigned int i = 0; i < NVMF_MAX_NS; i++) {
		uint64_t max = 0;

		if (atomic_load_explicit(&ss->ns[i].state, memory_order_acquire) == NS_ACTIVE &&
		    ss->ns[i].max_io_blocks)
			max = (uint64_t)ss->ns[i].max_io_blocks * ss->ns[i].block_size;
		while (max && m > 4096 && m > max)
			m /= 2;
	}
	return m;
}

static bool any_ns(const struct nvmf_subsys *ss, size_t field)
{
	for (unsigned int i = 0; i < NVMF_MAX_NS; i++)
		if (atomic_load_explicit(&ss->ns[i].state, memory_order_acquire) == NS_ACTIVE &&
		    *(const bool *)((const char *)&ss->ns[i] + field))
			return true;
	return false;
}

static void identify_ctrlr(struct nvmf_cmd *cmd, uint8_t *d)
{
	struct nvmf_ctrlr *ctrlr = cmd->conn->ctrlr;
	const struct nvmf_subsys *ss = ctrlr->ss;
	uint32_t mdts = nvmf_mdts_bytes(ss);
	uint8_t m = 0;
	uint16_t oncs = 0;

	while ((4096u << m) < mdts)
		m++;
	put_str(d + 4, 20, ss->serial);
	put_str(d + 24, 40, ss->model);
	put_str(d + 64, 8, "0.1.0");
	d[72] = 6;                       /* RAB */
	d[76] = ss->discovery ? 0 : 0x2; /* CMIC: may have more than one controller */
	d[77] = m;                       /* MDTS, in 4 KiB pages, log2 */
	put16(d + 78, ctrlr->cntlid);
	put32(d + 80, 0x00010400);       /* VER 1.4 */
	put32(d + 92, ss->discovery ? 0 : 1u << 8); /* OAES: namespace attribute notices */
	d[111] = ss->discovery ? 2 : 1;  /* CNTRLTYPE: discovery or I/O controller */
	d[258] = 3;                      /* ACL */
	d[259] = NVMF_AER_MAX - 1;       /* AERL */
	d[261] = 0;                      /* LPA */
	d[262] = 0;                      /* ELPE: one error log entry */
	put16(d + 320, 1);               /* KAS: 100 ms granularity */
	d[512] = 0x66;                   /* SQES */
	d[513] = 0x44;                   /* CQES */
	put16(d + 514, NVMF_QUEUE_DEPTH); /* MAXCMD */
	if (!ss->discovery) {
		put32(d + 516, NVMF_MAX_NS); /* NN */
		if (any_ns(ss, offsetof(struct nvmf_ns, dealloc)))
			oncs |= 1u << 2; /* Dataset Management */
		if (any_ns(ss, offsetof(struct nvmf_ns, write_zeroes)))
			oncs |= 1u << 3;
		put16(d + 520, oncs);
		d[525] = any_ns(ss, offsetof(struct nvmf_ns, flush)) ? 1 : 0; /* VWC: send Flush */
	}
	put32(d + 536, 1u | 1u << 20); /* SGLS: SGLs, and offsets for in-capsule data */
	snprintf((char *)d + 768, 256, "%s", ss->nqn);
	/* Fabrics (§4.1): IOCCSZ (in 16 bytes) and IORCSZ, ICDOFF 0, dynamic
	 * controller model, one SGL descriptor. */
	put32(d + 1792, (64 + NVMF_MAX_ICD) / 16);
	put32(d + 1796, 1);
	d[1803] = 1;
}

static void identify_ns(const struct nvmf_ns *ns, uint8_t *d)
{
	uint8_t lbads = 0;

	while ((1u << lbads) < ns->block_size)
		lbads++;
	put64(d + 0, ns->num_blocks);  /* NSZE */
	put64(d + 8, ns->num_blocks);  /* NCAP */
	put64(d + 16, ns->num_blocks); /* NUSE */
	d[30] = 1;                     /* NMIC: may be shared */
	d[31] = 0;
	memcpy(d + 104, ns->uuid, 16); /* NGUID */
	d[128 + 2] = lbads;            /* LBAF0: LBADS, no metadata */
}

static void identify_descs(const struct nvmf_ns *ns, uint8_t *d)
{
	/* NVMe base 1.4 §5.15.2.3: NGUID, UUID, CSI (NVM). */
	d[0] = 2, d[1] = 16;
	memcpy(d + 4, ns->uuid, 16);
	d[20] = 3, d[21] = 16;
	memcpy(d + 24, ns->uuid, 16);
	d[40] = 4, d[41] = 1, d[44] = 0;
}

static void identify(struct nvmf_cmd *cmd)
{
	struct nvmf_subsys *ss = cmd->conn->ctrlr->ss;
	uint8_t cns = cmd->sqe.cdw10 & 0xff, csi = (uint8_t)(cmd->sqe.cdw11 >> 24);
	uint8_t d[4096];
	struct nvmf_ns *ns;
	unsigned int n = 0;

	memset(d, 0, sizeof(d));
	if (ss->discovery && cns != 1) {
		nvmf_cmd_complete(cmd, NVMF_SC_INVALID_FIELD);
		return;
	}
	switch (cns) {
	case 0x00: /* namespace */
	case 0x03: /* namespace identification descriptors */
		if (cmd->sqe.nsid == 0 || cmd->sqe.nsid > NVMF_MAX_NS) {
			nvmf_cmd_complete(cmd, NVMF_SC_INVALID_NS);
			return;
		}
		ns = nvmf_ns_find(ss, cmd->sqe.nsid);
		if (ns == NULL && cns == 0x03) {
			nvmf_cmd_complete(cmd, NVMF_SC_INVALID_NS);
			return;
		}
		if (ns != NULL)
			(cns ? identify_descs : identify_ns)(ns, d); /* an inactive one reads as zeros */
		break;
	case 0x01:
		identify_ctrlr(cmd, d);
		break;
	case 0x02: /* active namespace IDs above NSID, ascending */
		for (uint32_t id = cmd->sqe.nsid + 1; id <= NVMF_MAX_NS && id > cmd->sqe.nsid && n < 1024; id++)
			if (nvmf_ns_find(ss, id) != NULL)
				put32(d + 4 * n++, id);
		break;
	case 0x06: /* I/O command set specific controller, NVM: no limits to report */
		if (csi != 0) {
			nvmf_cmd_complete(cmd, NVMF_SC_INVALID_FIELD);
			return;
		}
		break;
	default:
		nvmf_cmd_complete(cmd, NVMF_SC_INVALID_FIELD);
		return;
	}
	reply(cmd, d, sizeof(d));
}

/* ---- log pages ---- */

static size_t discovery_log(struct nvmf_tgt *t, const char *hostnqn, uint8_t **out)
{
	size_t max = 1024 + 1024 * (size_t)(NVMF_MAX_SUBSYS * NVMF_MAX_LISTEN), n = 0;
	uint8_t *d = calloc(1, max);

	if (d == NULL)
		return 0;
	for (unsigned int s = 0; s < t->nsubsys; s++) {
		struct nvmf_subsys *ss = &t->subsys[s];

		if (ss->discovery || !nvmf_host_allowed(ss, hostnqn))
			continue;
		for (unsigned int l = 0; l < t->nlisten; l++) {
			struct nvmf_listener *li = &t->listen[l];
			uint8_t *e = d + 1024 + 1024 * n++;

			e[0] = 3;                                /* TRTYPE TCP */
			e[1] = strchr(li->addr, ':') ? 2 : 1;     /* ADRFAM IPv6 / IPv4 */
			e[2] = 2;                                /* SUBTYPE: NVM subsystem */
			e[3] = 0;                                /* TREQ: not specified */
			put16(e + 4, li->portid);
			put16(e + 6, 0xffff);                    /* dynamic controllers */
			put16(e + 8, NVMF_ADMIN_DEPTH);          /* ASQSZ */
			put_str(e + 32, 32, li->port);
			snprintf((char *)e + 256, 256, "%s", ss->nqn);
			put_str(e + 512, 256, li->addr);
			e[768] = 0;                              /* TSAS: no security */
		}
	}
	put64(d, t->discovery_genctr);
	put64(d + 8, n);
	*out = d;
	return 1024 + 1024 * n;
}

static void get_log(struct nvmf_cmd *cmd)
{
	struct nvmf_ctrlr *ctrlr = cmd->conn->ctrlr;
	struct nvmf_tgt *t = cmd->conn->tgt;
	uint8_t lid = cmd->sqe.cdw10 & 0xff;
	bool rae = cmd->sqe.cdw10 & (1u << 15);
	uint64_t len = ((uint64_t)((cmd->sqe.cdw11 & 0xffff) << 16 | cmd->sqe.cdw10 >> 16) + 1) * 4;
	uint64_t off = cmd->sqe.cdw12 | (uint64_t)cmd->sqe.cdw13 << 32;
	uint8_t small[4096], *page = small;
	uint64_t rd = 0, wr = 0;
	size_t size;

	memset(small, 0, sizeof(small));
	switch (lid) {
	case LID_ERROR:
		size = 64; /* no errors are logged in this version: one empty entry */
		break;
	case LID_SMART:
		size = 512;
		put16(small + 1, 273 + 30); /* composite temperature, K */
		small[3] = 100;             /* available spare */
		small[4] = 10;              /* its threshold */
		for (unsigned int g = 0; g < t->ngroups; g++) {
			rd += udk_counter_read(&t->pgs[g].stats.bytes_read);
			wr += udk_counter_read(&t->pgs[g].stats.bytes_written);
		}
		put64(small + 32, (rd + 511999) / 512000); /* data units read */
		put64(small + 48, (wr + 511999) / 512000); /* written */
		break;
	case LID_CHANGED_NS:
		size = 4096;
		if (ctrlr->changed_overflow)
			put32(small, 0xffffffffu);
		else
			for (unsigned int i = 0; i < ctrlr->nchanged; i++)
				put32(small + 4 * i, ctrlr->changed_ns[i]);
		if (!rae) {
			ctrlr->nchanged = 0;
			ctrlr->changed_overflow = false;
		}
		break;
	case LID_DISCOVERY:
		if (!ctrlr->ss->discovery) {
			nvmf_cmd_complete(cmd, NVMF_SC_INVALID_LOG_PAGE);
			return;
		}
		size = discovery_log(t, ctrlr->hostnqn, &page);
		if (size == 0) {
			nvmf_cmd_complete(cmd, NVMF_SC_INTERNAL);
			return;
		}
		break;
	default:
		nvmf_cmd_complete(cmd, NVMF_SC_INVALID_LOG_PAGE);
		return;
	}
	if (off >= size || off % 4) {
		nvmf_cmd_complete(cmd, NVMF_SC_INVALID_FIELD);
	} else {
		/* Past the page's end the host reads zeros. */
		uint8_t *win = calloc(1, len < cmd->xfer.len ? len : cmd->xfer.len ? cmd->xfer.len : 1);
		size_t have = size - off, want = len < cmd->xfer.len ? len : cmd->xfer.len;

		if (win == NULL) {
			nvmf_cmd_complete(cmd, NVMF_SC_INTERNAL);
		} else {
			memcpy(win, page + off, have < want ? have : want);
			reply(cmd, win, want);
			free(win);
		}
	}
	if (page != small)
		free(page);
}

/* ---- features ---- */

static void features(struct nvmf_cmd *cmd, bool set)
{
	struct nvmf_ctrlr *ctrlr = cmd->conn->ctrlr;
	uint8_t fid = cmd->sqe.cdw10 & 0xff;
	uint32_t v = cmd->sqe.cdw11;

	switch (fid) {
	case FID_NUM_QUEUES:
		if (ctrlr->ss->discovery) {
			nvmf_cmd_complete(cmd, NVMF_SC_INVALID_FIELD);
			return;
		}
		if (set) {
			uint32_t nsq = (v & 0xffff) + 1, ncq = (v >> 16) + 1, n = nsq < ncq ? nsq : ncq;

			if ((v & 0xffff) == 0xffff || (v >> 16) == 0xffff) {
				nvmf_cmd_complete(cmd, NVMF_SC_INVALID_FIELD);
				return;
			}
			ctrlr->nr_io_queues = (uint16_t)(n < NVMF_MAX_IO_QUEUES ? n : NVMF_MAX_IO_QUEUES);
		}
		{
			uint32_t g = ctrlr->nr_io_queues ? ctrlr->nr_io_queues : NVMF_MAX_IO_QUEUES;

			cmd->cqe.dw0 = (g - 1) | (g - 1) << 16;
		}
		break;
	case FID_KATO:
		if (set) {
			ctrlr->kato_ms = v;
			nvmf_ctrlr_keep_alive(ctrlr);
			if (!v)
				ctrlr->ka_deadline_ns = 0;
		}
		cmd->cqe.dw0 = ctrlr->kato_ms;
		break;
	case FID_ASYNC_EVENT:
		if (set)
			ctrlr->aec = v;
		cmd->cqe.dw0 = ctrlr->aec;
		break;
	case FID_VWC:
		if (set) {
			nvmf_cmd_complete(cmd, NVMF_SC_FEATURE_NOT_CHANGEABLE);
			return;
		}
		cmd->cqe.dw0 = any_ns(ctrlr->ss, offsetof(struct nvmf_ns, flush)) ? 1 : 0;
		break;
	default:
		nvmf_cmd_complete(cmd, NVMF_SC_INVALID_FIELD);
		return;
	}
	nvmf_cmd_complete(cmd, NVMF_SC_SUCCESS);
}

/* ---- asynchronous events ---- */

static void aen_deliver(struct nvmf_ctrlr *ctrlr)
{
	struct nvmf_cmd *cmd;

	if (!ctrlr->aen_pending || ctrlr->naer == 0 || !(ctrlr->aec & AEC_NS_ATTR))
		return;
	cmd = ctrlr->aer[--ctrlr->naer];
	ctrlr->aen_pending = false;
	/* Notice (type 2), namespace attribute changed (0), log page 04h. */
	cmd->cqe.dw0 = 0x2 | 0x00 << 8 | (uint32_t)LID_CHANGED_NS << 16;
	nvmf_cmd_complete(cmd, NVMF_SC_SUCCESS);
}

void nvmf_ctrlr_ns_changed(struct nvmf_ctrlr *ctrlr, uint32_t nsid)
{
	bool listed = false;

	for (unsigned int k = 0; k < ctrlr->nchanged; k++)
		listed |= ctrlr->changed_ns[k] == nsid;
	if (!listed && ctrlr->nchanged < NVMF_CHANGED_NS_MAX)
		ctrlr->changed_ns[ctrlr->nchanged++] = nsid;
	else if (!listed)
		ctrlr->changed_overflow = true;
	ctrlr->aen_pending = true;
	aen_deliver(ctrlr);
}

void nvmf_ns_changed(struct nvmf_tgt *t, struct nvmf_subsys *ss, uint32_t nsid)
{
	/* Each group tells the controllers it owns (nvmf_pg_sync). */
	for (unsigned int g = 0; g < t->ngroups; g++) {
		atomic_fetch_or(&t->pgs[g].aen_bits[ss - t->subsys], 1u << (nsid - 1));
		nvmf_pg_kick(&t->pgs[g]);
	}
}

void nvmf_admin_exec(struct nvmf_cmd *cmd)
{
	struct nvmf_ctrlr *ctrlr = cmd->conn->ctrlr;

	switch (cmd->sqe.opc) {
	case ADM_IDENTIFY:
		identify(cmd);
		break;
	case ADM_GET_LOG:
		get_log(cmd);
		break;
	case ADM_GET_FEATURES:
		features(cmd, false);
		break;
	case ADM_SET_FEATURES:
		features(cmd, true);
		break;
	case ADM_AER:
		if (ctrlr->naer >= NVMF_AER_MAX) {
			nvmf_cmd_complete(cmd, NVMF_SC_AER_LIMIT);
			break;
		}
		ctrlr->aer[ctrlr->naer++] = cmd; /* parked until an event */
		aen_deliver(ctrlr);
		break;
	case ADM_KEEP_ALIVE:
		nvmf_ctrlr_keep_alive(ctrlr);
		nvmf_cmd_complete(cmd, NVMF_SC_SUCCESS);
		break;
	case ADM_ABORT:
		cmd->cqe.dw0 = 1; /* not aborted: commands here do not wait long */
		nvmf_cmd_complete(cmd, NVMF_SC_SUCCESS);
		break;
	default:
		nvmf_cmd_complete(cmd, NVMF_SC_INVALID_OPCODE);
		break;
	}
}
