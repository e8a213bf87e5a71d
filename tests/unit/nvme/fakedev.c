/* SPDX-License-Identifier: BSD-3-Clause */
/* fakedev.c - the fake NVMe controller of fakedev.h. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fakedev.h"
#include "fakemem.h"

static uint32_t reg(struct fakedev *d, uint32_t off)
{
	return __atomic_load_n((uint32_t *)(d->bar + off), __ATOMIC_ACQUIRE);
}

static void set_reg(struct fakedev *d, uint32_t off, uint32_t v)
{
	__atomic_store_n((uint32_t *)(d->bar + off), v, __ATOMIC_RELEASE);
}

static void post(struct fakedev *d, uint16_t sqid, uint16_t cid, uint16_t sc, uint32_t dw0)
{
	uint16_t q = d->sq[sqid].cqid;
	struct nvme_cqe *e = (struct nvme_cqe *)fakemem_va(d->cq[q].base) + d->cq[q].tail;

	e->dw0 = dw0;
	e->sqhd = d->sq[sqid].head;
	e->sqid = sqid;
	e->cid = cid;
	__atomic_store_n(&e->status, (uint16_t)(sc << 1 | d->cq[q].phase), __ATOMIC_RELEASE);
	if (++d->cq[q].tail == d->cq[q].size) {
		d->cq[q].tail = 0;
		d->cq[q].phase ^= 1;
	}
	if (q == 0 || (d->cq[q].cdw11 & 2)) { /* admin CQ or IEN: the message after the entry */
		uint16_t iv = (uint16_t)(d->cq[q].cdw11 >> 16);
		uint64_t one = 1;

		if (iv < __atomic_load_n(&d->nvec, __ATOMIC_ACQUIRE) &&
		    write(d->vec_efd[iv], &one, sizeof(one)) < 0)
			abort();
	}
}

static void identify(const struct nvme_sqe *s)
{
	uint8_t *b = fakemem_va(s->prp1);
	uint32_t one = 1, sgls = 1, lbaf = 9u << 16;
	uint64_t nsze = 1u << 20;

	memset(b, 0, NVME_PAGE);
	switch (s->cdw10 & 0xff) {
	case NVME_CNS_CTRLR:
		memcpy(b + NVME_IDC_MN, "fake NVMe", 9);
		/* A hostile serial and firmware: a terminal title, a screen
		 * clear, C1 CSI, a NUL inside (test_identify_strings). */
		memcpy(b + NVME_IDC_SN, "\x1b]0;pwn\x07SN\x9b" "2J", 13);
		memcpy(b + NVME_IDC_FR, "1.0\0\x1b[2J", 8);
		b[NVME_IDC_MDTS] = 5;
		b[NVME_IDC_AERL] = 3;
		memcpy(b + NVME_IDC_NN, &one, 4);
		memcpy(b + NVME_IDC_SGLS, &sgls, 4);
		break;
	case NVME_CNS_ACTIVE_NS:
		memcpy(b, &one, 4);
		break;
	case NVME_CNS_NS:
		memcpy(b + NVME_IDN_NSZE, &nsze, 8);
		memcpy(b + NVME_IDN_NCAP, &nsze, 8);
		memcpy(b + NVME_IDN_LBAF, &lbaf, 4);
		break;
	}
}

static void admin(struct fakedev *d, const struct nvme_sqe *s)
{
	uint16_t qid = (uint16_t)s->cdw10, sqid, cid;
	uint32_t dw0 = 0;

	switch (s->opc) {
	case NVME_ADM_IDENTIFY:
		identify(s);
		break;
	case NVME_ADM_SET_FEATURES:
		d->feat_cdw10 = s->cdw10;
		d->feat_cdw11 = s->cdw11;
		if ((s->cdw10 & 0xff) == NVME_FEAT_NUM_QUEUES)
			dw0 = (FAKE_QUEUES - 2u) << 16 | (FAKE_QUEUES - 2u);
		break;
	case NVME_ADM_CREATE_CQ:
		d->cq[qid].base = s->prp1;
		d->cq[qid].size = (uint16_t)((s->cdw10 >> 16) + 1);
		d->cq[qid].tail = 0;
		d->cq[qid].phase = 1;
		d->cq[qid].live = true;
		d->cq[qid].cdw11 = s->cdw11;
		break;
	case NVME_ADM_CREATE_SQ:
		d->sq[qid].base = s->prp1;
		d->sq[qid].size = (uint16_t)((s->cdw10 >> 16) + 1);
		d->sq[qid].head = 0;
		d->sq[qid].cqid = (uint16_t)(s->cdw11 >> 16);
		d->sq[qid].live = true;
		/* A new queue starts at tail 0, whatever the doorbell of a
		 * deleted one with this qid held (a qpair created again). */
		set_reg(d, NVME_REG_DBS + 2u * qid * 4, 0);
		break;
	case NVME_ADM_DELETE_SQ:
		d->sq[qid].live = false;
		break;
	case NVME_ADM_DELETE_CQ:
		d->cq[qid].live = false;
		break;
	case NVME_ADM_GET_LOG:
		memset(fakemem_va(s->prp1), 0, 512);
		if ((s->cdw10 & 0xff) == UDK_NVME_LOG_SMART)
			*(uint8_t *)fakemem_va(s->prp1) = 0x2; /* critical warning: temperature */
		__atomic_fetch_add(&d->nlog, 1, __ATOMIC_RELEASE);
		break;
	case NVME_ADM_AER:
		d->aer[d->naer] = s->cid;
		__atomic_store_n(&d->naer, d->naer + 1, __ATOMIC_RELEASE);
		return; /* completes when an event comes */
	case NVME_ADM_ABORT:
		__atomic_fetch_add(&d->nabort, 1, __ATOMIC_RELEASE);
		sqid = (uint16_t)s->cdw10;
		cid = (uint16_t)(s->cdw10 >> 16);
		switch (__atomic_load_n(&d->abort_mode, __ATOMIC_ACQUIRE)) {
		case FAKE_ABORT_SILENT:
			return;
		case FAKE_ABORT_NOT:
			dw0 = 1;
			break;
		default:
			for (int i = 0; i < d->nheld; i++)
				if (d->held[i].sqid == sqid && d->held[i].cid == cid) {
					post(d, sqid, cid, 0x07, 0); /* Command Abort Requested */
					d->held[i] = d->held[--d->nheld];
					break;
				}
		}
		break;
	}
	post(d, 0, s->cid, 0, dw0);
}

static void io(struct fakedev *d, uint16_t qid, const struct nvme_sqe *s)
{
	if (s->opc == NVME_CMD_READ || s->opc == NVME_CMD_WRITE)
		__atomic_fetch_add(&d->nrw, 1, __ATOMIC_RELEASE);
	if (__atomic_load_n(&d->hold_io, __ATOMIC_ACQUIRE) && d->nheld < FAKE_HELD) {
		d->held[d->nheld].sqid = qid;
		d->held[d->nheld].cid = s->cid;
		__atomic_store_n(&d->nheld, d->nheld + 1, __ATOMIC_RELEASE);
		return;
	}
	post(d, qid, s->cid, 0, 0);
}

/* CC.EN: §3.1.5/§3.1.6; clearing it deletes every queue (§7.3.2). */
static void follow_cc(struct fakedev *d)
{
	uint32_t cc = reg(d, NVME_REG_CC), csts = reg(d, NVME_REG_CSTS);

	if ((cc & NVME_CC_EN) && !(csts & NVME_CSTS_RDY)) {
		uint32_t aqa = reg(d, NVME_REG_AQA);

		memset(d->sq, 0, sizeof(d->sq));
		memset(d->cq, 0, sizeof(d->cq));
		d->sq[0].base = reg(d, NVME_REG_ASQ) | (uint64_t)reg(d, NVME_REG_ASQ + 4) << 32;
		d->cq[0].base = reg(d, NVME_REG_ACQ) | (uint64_t)reg(d, NVME_REG_ACQ + 4) << 32;
		d->sq[0].size = (uint16_t)((aqa & 0xfff) + 1);
		d->cq[0].size = (uint16_t)((aqa >> 16 & 0xfff) + 1);
		d->cq[0].phase = 1;
		d->sq[0].live = d->cq[0].live = true;
		__atomic_fetch_add(&d->nenable, 1, __ATOMIC_RELEASE);
		set_reg(d, NVME_REG_CSTS, NVME_CSTS_RDY);
	} else if (!(cc & NVME_CC_EN) && (csts & NVME_CSTS_RDY)) {
		memset(d->sq, 0, sizeof(d->sq));
		for (uint32_t q = 0; q < 2 * FAKE_QUEUES; q++) /* doorbells back to 0 */
			set_reg(d, NVME_REG_DBS + q * 4, 0);
		d->nheld = 0;
		d->naer = 0;
		__atomic_fetch_add(&d->ndisable, 1, __ATOMIC_RELEASE);
		set_reg(d, NVME_REG_CSTS, 0);
	} else if ((cc & NVME_CC_SHN_NORMAL) && (csts & NVME_CSTS_RDY)) {
		set_reg(d, NVME_REG_CSTS, NVME_CSTS_RDY | NVME_CSTS_SHST_DONE);
	}
}

static void *run(void *arg)
{
	struct fakedev *d = arg;

	while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE)) {
		follow_cc(d);
		if (!(reg(d, NVME_REG_CSTS) & NVME_CSTS_RDY)) {
			sched_yield();
			continue;
		}
		for (uint16_t q = 0; q < FAKE_QUEUES; q++) {
			uint32_t tail = reg(d, NVME_REG_DBS + 2u * q * 4);

			while (d->sq[q].live && d->sq[q].head != tail) {
				const struct nvme_sqe *s =
					(const struct nvme_sqe *)fakemem_va(d->sq[q].base) + d->sq[q].head;

				if (++d->sq[q].head == d->sq[q].size)
					d->sq[q].head = 0;
				if (q == 0)
					admin(d, s);
				else
					io(d, q, s);
			}
		}
		uint32_t ev = __atomic_load_n(&d->post_event, __ATOMIC_ACQUIRE);
		if (ev != 0 && d->naer > 0) {
			post(d, 0, d->aer[--d->naer], 0, ev);
			__atomic_store_n(&d->post_event, 0, __ATOMIC_RELEASE);
		}
		sched_yield();
	}
	return NULL;
}

struct udk_nvme_ctrlr *fakedev_ctrlr(struct fakedev **dev, const struct udk_nvme_ctrlr_opts *opts)
{
	struct udk_nvme_ctrlr *c = calloc(1, sizeof(*c));
	struct fakedev *d = aligned_alloc(64, sizeof(*d));

	if (c == NULL || d == NULL || fakemem_init() == NULL)
		return NULL;
	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&c->lock, NULL);
	snprintf(c->info.bdf, sizeof(c->info.bdf), "0000:00:0f.0");
	c->opts = *opts;
	c->bar = d->bar;
	c->bar_len = sizeof(d->bar);
	c->dstrd = 4;
	c->info.timeout_ms = 2000;
	c->info.max_qsize = 64;
	c->mem = udk_mem_default();
	c->idc = udk_mem_default_zmalloc(NVME_PAGE, NVME_PAGE, UDK_SOCKET_ANY);
	c->scratch = udk_mem_default_zmalloc(NVME_PAGE, NVME_PAGE, UDK_SOCKET_ANY);
	if (c->idc == NULL || c->scratch == NULL ||
	    nvme_qpair_init(&c->admin, c, 0, 16, c->opts.admin_timeout_ms) < 0 ||
	    pthread_create(&d->thread, NULL, run, d) != 0)
		return NULL;
	if (udk_nvme_ctrlr_reset(c) < 0) {
		fakedev_free(c, d);
		return NULL;
	}
	*dev = d;
	return c;
}

void fakedev_free(struct udk_nvme_ctrlr *c, struct fakedev *d)
{
	while (c->qpairs != NULL)
		udk_nvme_qpair_destroy(c->qpairs);
	__atomic_store_n(&d->stop, true, __ATOMIC_RELEASE);
	pthread_join(d->thread, NULL);
	nvme_ctrlr_msix_release(c);
	nvme_qpair_fini(&c->admin);
	udk_mem_default_free(c->idc);
	udk_mem_default_free(c->scratch);
	udk_mem_default_free(c->aer_log);
	free(c->ns);
	free(c->qid_used);
	pthread_mutex_destroy(&c->lock);
	free(c);
	free(d);
}
