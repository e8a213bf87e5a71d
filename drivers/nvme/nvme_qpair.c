/* nvme_qpair.c - one submission/completion queue pair (NVMe 1.4 §4.1): its
 * request slots and PRP list pages (all allocated at creation), PRPs (§4.3),
 * submission without a doorbell, and the poll that rings the doorbell once,
 * reaps completions by their phase tag (§4.6) and expires timed-out commands.
 * The admin queue (qid 0) and the I/O queues share this code. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nvme_internal.h"
#include "udk_mem.h"
#include "udk_util.h"

/* How often an idle poll looks for expired commands. */
#define TIMEOUT_CHECK_NS 1000000ull

uint64_t nvme_now_ns(void)
{
	struct timespec ts;

	/* The vDSO answers CLOCK_MONOTONIC without a system call. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Physically contiguous in IOVA space (§4.1: queues created with PC = 1). */
static int dma_contig(const void *va, size_t len, uint64_t *iova)
{
	uint64_t a = udk_virt2iova(va), b = udk_virt2iova((const char *)va + len - 1);

	if (a == UDK_BAD_IOVA || b == UDK_BAD_IOVA || b - a != len - 1)
		return -UDK_ENOTMAPPED;
	*iova = a;
	return 0;
}

int nvme_qpair_init(struct udk_nvme_qpair *qp, struct udk_nvme_ctrlr *c, uint16_t qid,
		    uint16_t qsize, uint32_t timeout_ms)
{
	uint16_t nslots = (uint16_t)(qsize - 1);
	int rc = -ENOMEM;

	memset(qp, 0, sizeof(*qp));
	qp->ctrlr = c;
	qp->qid = qid;
	qp->qsize = qsize;
	qp->timeout_ns = (uint64_t)timeout_ms * 1000000ull;
	qp->sq = udk_dma_zmalloc((size_t)qsize * sizeof(struct nvme_sqe), NVME_PAGE, UDK_SOCKET_ANY);
	qp->cq = udk_dma_zmalloc((size_t)qsize * sizeof(struct nvme_cqe), NVME_PAGE, UDK_SOCKET_ANY);
	qp->prp_pages = udk_dma_zmalloc((size_t)nslots * NVME_PAGE, NVME_PAGE, UDK_SOCKET_ANY);
	qp->reqs = calloc(nslots, sizeof(*qp->reqs));
	qp->free_cids = calloc(nslots, sizeof(*qp->free_cids));
	if (qp->sq == NULL || qp->cq == NULL || qp->prp_pages == NULL || qp->reqs == NULL ||
	    qp->free_cids == NULL) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: queue %u: no memory for %u entries (%zu KiB of "
			"DMA memory); reserve more hugepages or use a smaller qsize", c->info.bdf,
			qid, qsize, ((size_t)qsize * 80 + (size_t)nslots * NVME_PAGE) / 1024);
		goto err;
	}
	if (dma_contig(qp->sq, (size_t)qsize * sizeof(struct nvme_sqe), &qp->sq_iova) < 0 ||
	    dma_contig((const void *)qp->cq, (size_t)qsize * sizeof(struct nvme_cqe),
		       &qp->cq_iova) < 0) {
		rc = -UDK_ENOTMAPPED;
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: queue %u: the queue memory has no IOVA in the "
			"default map (is the EAL initialised?)", c->info.bdf, qid);
		goto err;
	}
	for (uint16_t i = 0; i < nslots; i++) {
		struct nvme_req *r = &qp->reqs[i];

		r->prp_list = (uint64_t *)((uint8_t *)qp->prp_pages + (size_t)i * NVME_PAGE);
		r->prp_list_iova = udk_virt2iova(r->prp_list);
		if (r->prp_list_iova == UDK_BAD_IOVA) {
			rc = -UDK_ENOTMAPPED;
			udk_log(UDK_LOG_ERR, NVME_LOG, "%s: queue %u: a PRP list page has no IOVA",
				c->info.bdf, qid);
			goto err;
		}
	}
	qp->sq_db = (volatile uint32_t *)(c->bar + NVME_REG_DBS + (2u * qid) * c->dstrd);
	qp->cq_db = (volatile uint32_t *)(c->bar + NVME_REG_DBS + (2u * qid + 1) * c->dstrd);
	nvme_qpair_reset_ring(qp);
	return 0;
err:
	nvme_qpair_fini(qp);
	return rc;
}

void nvme_qpair_fini(struct udk_nvme_qpair *qp)
{
	udk_dma_free(qp->sq);
	udk_dma_free((void *)qp->cq);
	udk_dma_free(qp->prp_pages);
	free(qp->reqs);
	free(qp->free_cids);
	qp->sq = NULL;
	qp->cq = NULL;
	qp->prp_pages = NULL;
	qp->reqs = NULL;
	qp->free_cids = NULL;
}

/* Empty queues, every slot free: the state right after Create I/O SQ/CQ
 * (or after CC.EN = 1 for the admin queue). */
void nvme_qpair_reset_ring(struct udk_nvme_qpair *qp)
{
	uint16_t nslots = (uint16_t)(qp->qsize - 1);

	qp->sq_tail = qp->sq_db_tail = qp->cq_head = 0;
	qp->phase = 1;
	memset((void *)qp->cq, 0, (size_t)qp->qsize * sizeof(struct nvme_cqe));
	for (uint16_t i = 0; i < nslots; i++) {
		qp->reqs[i].state = REQ_FREE;
		qp->free_cids[i] = (uint16_t)(nslots - 1 - i);
	}
	qp->nb_free = nslots;
	qp->in_flight = qp->timed_out = 0;
	qp->next_check_ns = 0;
	/* A map may have been rebuilt (reset after a failure): translate anew. */
	memset(qp->xlate, 0, sizeof(qp->xlate));
}

void nvme_qpair_cancel_all(struct udk_nvme_qpair *qp)
{
	struct udk_nvme_cpl cpl = {.rc = -ECANCELED};

	for (uint16_t i = 0; i + 1 < qp->qsize; i++) {
		struct nvme_req *r = &qp->reqs[i];

		if (r->state == REQ_BUSY) {
			r->state = REQ_FREE;
			udk_counter_add(&qp->stats.cancelled, 1);
			if (r->cb != NULL)
				r->cb(r->arg, &cpl);
		}
		r->state = REQ_FREE;
	}
	nvme_qpair_reset_ring(qp);
}

uint64_t nvme_qpair_v2i(void *arg, const void *va)
{
	struct udk_nvme_qpair *qp = arg;
	const struct udk_memseg *seg;
	uintptr_t v = (uintptr_t)va;
	struct nvme_xlate *x;

	for (unsigned int i = 0; i < NVME_XLATE_SLOTS; i++) {
		x = &qp->xlate[i];
		if (v >= x->va && v < x->end)
			return x->iova + (v - x->va);
	}
	/* First use of this segment on this qpair: ask lib/mem (takes its lock). */
	seg = udk_mem_find(udk_mem_default(), va);
	if (seg == NULL || seg->iova == UDK_BAD_IOVA)
		return UDK_BAD_IOVA;
	x = &qp->xlate[qp->xlate_next++ % NVME_XLATE_SLOTS];
	x->va = (uintptr_t)seg->va;
	x->end = x->va + seg->len;
	x->iova = seg->iova;
	return x->iova + (v - x->va);
}

int nvme_build_prps(struct nvme_sqe *sqe, void *buf, size_t len, uint64_t *list,
		    uint64_t list_iova, nvme_v2i_fn v2i, void *ctx)
{
	uintptr_t va = (uintptr_t)buf;
	size_t first, rest, npages;
	uint64_t iova;

	if (buf == NULL || len == 0)
		return 0; /* no data, or PRPs the caller set (Create I/O queue) */
	sqe->prp2 = 0;
	if (va & 3) /* §4.3: PRP1 may carry an offset, but dword aligned */
		return -EINVAL;
	iova = v2i(ctx, buf);
	if (iova == UDK_BAD_IOVA)
		return -UDK_ENOTMAPPED;
	sqe->prp1 = iova;
	first = NVME_PAGE - (va & (NVME_PAGE - 1));
	if (len <= first)
		return 0;
	rest = len - first;
	va += first;
	npages = (rest + NVME_PAGE - 1) / NVME_PAGE;
	if (npages > NVME_PRP_ENTRIES)
		return -E2BIG;
	for (size_t i = 0; i < npages; i++) {
		iova = v2i(ctx, (const void *)(va + i * NVME_PAGE));
		if (iova == UDK_BAD_IOVA)
			return -UDK_ENOTMAPPED;
		if (npages == 1) {
			sqe->prp2 = iova; /* two pages: PRP2 is the second page itself */
			return 0;
		}
		list[i] = iova;
	}
	sqe->prp2 = list_iova;
	return 0;
}

int nvme_qpair_submit(struct udk_nvme_qpair *qp, struct nvme_sqe *sqe, void *buf, size_t len,
		      udk_nvme_cb cb, void *arg)
{
	struct nvme_req *r;
	uint16_t cid;
	int rc;

	if (unlikely(qp->nb_free == 0))
		return -EAGAIN;
	cid = qp->free_cids[qp->nb_free - 1];
	r = &qp->reqs[cid];
	rc = nvme_build_prps(sqe, buf, len, r->prp_list, r->prp_list_iova, nvme_qpair_v2i, qp);
	if (unlikely(rc < 0))
		return rc;
	qp->nb_free--;
	r->cb = cb;
	r->arg = arg;
	r->deadline_ns = 0; /* set by the first idle poll that sees it */
	r->state = REQ_BUSY;
	qp->in_flight++;
	udk_counter_add(&qp->stats.submitted, 1);
	if (qp->lat_hist != NULL)
		r->submit_ns = nvme_now_ns();
	sqe->cid = cid;
	memcpy(&qp->sq[qp->sq_tail], sqe, sizeof(*sqe));
	if (++qp->sq_tail == qp->qsize)
		qp->sq_tail = 0;
	return 0;
}

static void expire(struct udk_nvme_qpair *qp, uint64_t now)
{
	struct udk_nvme_cpl cpl = {.rc = -ETIMEDOUT};
	bool any = false;

	for (uint16_t i = 0; i + 1 < qp->qsize; i++) {
		struct nvme_req *r = &qp->reqs[i];

		if (r->state != REQ_BUSY)
			continue;
		if (r->deadline_ns == 0) {
			r->deadline_ns = now + qp->timeout_ns;
		} else if (now >= r->deadline_ns) {
			r->state = REQ_TIMED_OUT;
			qp->in_flight--;
			qp->timed_out++;
			udk_counter_add(&qp->stats.timeouts, 1);
			any = true;
			if (r->cb != NULL)
				r->cb(r->arg, &cpl);
		}
	}
	/* A timeout is the moment to look at the controller (one MMIO read). */
	if (any) {
		uint32_t csts = nvme_rd32(qp->ctrlr, NVME_REG_CSTS);

		if (csts == UINT32_MAX || (csts & NVME_CSTS_CFS)) {
			/* Other lcores read it on their next submit. */
			qp->failed = true;
			__atomic_store_n(&qp->ctrlr->failed, true, __ATOMIC_RELAXED);
		}
	}
}

int udk_nvme_qpair_poll(struct udk_nvme_qpair *qp, uint32_t max)
{
	uint16_t head = qp->cq_head;
	uint64_t lat_now = 0; /* one clock read per poll, when latency is recorded */
	uint32_t n = 0;

	if (qp->sq_tail != qp->sq_db_tail) {
		/* The entries are visible before the device learns of them. */
		__atomic_thread_fence(__ATOMIC_RELEASE);
		*qp->sq_db = qp->sq_tail;
		qp->sq_db_tail = qp->sq_tail;
	}
	for (;;) {
		volatile struct nvme_cqe *e = &qp->cq[qp->cq_head];
		uint16_t st = e->status;
		struct udk_nvme_cpl cpl;
		struct nvme_req *r;
		uint16_t cid;

		if ((st & 1) != qp->phase)
			break;
		__atomic_thread_fence(__ATOMIC_ACQUIRE); /* the rest of the entry after P */
		cid = e->cid;
		cpl.dw0 = e->dw0;
		if (++qp->cq_head == qp->qsize) {
			qp->cq_head = 0;
			qp->phase ^= 1;
		}
		if (unlikely(cid >= qp->qsize - 1))
			continue; /* not ours: ignore */
		r = &qp->reqs[cid];
		if (r->state == REQ_FREE)
			continue;
		qp->free_cids[qp->nb_free++] = cid;
		if (unlikely(r->state == REQ_TIMED_OUT)) {
			r->state = REQ_FREE;
			qp->timed_out--;
			continue;
		}
		r->state = REQ_FREE;
		qp->in_flight--;
		cpl.status = (uint16_t)(((st >> 1) & 0xff) | (((st >> 9) & 0x7) << 8));
		cpl.rc = cpl.status ? -EIO : 0;
		if (unlikely(cpl.status != 0))
			udk_counter_add(&qp->stats.errors, 1);
		if (qp->lat_hist != NULL) {
			if (lat_now == 0)
				lat_now = nvme_now_ns();
			nvme_lat_record(qp, r->submit_ns, lat_now);
		}
		if (r->cb != NULL)
			r->cb(r->arg, &cpl);
		if (++n == max)
			break;
	}
	if (n > 0)
		udk_counter_add(&qp->stats.completed, n);
	if (qp->cq_head != head)
		*qp->cq_db = qp->cq_head;
	else if (qp->in_flight > 0 && qp->timeout_ns != 0) {
		uint64_t now = nvme_now_ns();

		if (now >= qp->next_check_ns) {
			qp->next_check_ns = now + TIMEOUT_CHECK_NS;
			expire(qp, now);
		}
	}
	return (int)n;
}

uint32_t udk_nvme_qpair_outstanding(const struct udk_nvme_qpair *qp)
{
	return qp->in_flight;
}

struct sync_wait {
	bool done;
	struct udk_nvme_cpl cpl;
};

static void sync_cb(void *arg, const struct udk_nvme_cpl *cpl)
{
	struct sync_wait *w = arg;

	w->cpl = *cpl;
	w->done = true;
}

int nvme_qpair_exec(struct udk_nvme_qpair *qp, struct nvme_sqe *sqe, void *buf, size_t len,
		    struct udk_nvme_cpl *cpl)
{
	struct sync_wait w = {0};
	int rc;

	rc = nvme_qpair_submit(qp, sqe, buf, len, sync_cb, &w);
	while (rc == -EAGAIN) { /* full: make room */
		udk_nvme_qpair_poll(qp, 0);
		rc = nvme_qpair_submit(qp, sqe, buf, len, sync_cb, &w);
	}
	if (rc < 0)
		return rc;
	while (!w.done)
		udk_nvme_qpair_poll(qp, 0);
	if (cpl != NULL)
		*cpl = w.cpl;
	return w.cpl.rc;
}
