/* nvme_qpair.c - the control half of a submission/completion queue pair
 * (NVMe 1.4 §4.1): its queues, request slots and PRP list pages (all
 * allocated at creation), the empty state after a (re)start, cancellation,
 * and the blocking execution of one command.  The hot path, submission and
 * poll, is nvme_fastpath.c.  The admin queue (qid 0) and the I/O queues
 * share this code. */
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
static int dma_contig(struct udk_mem *mem, const void *va, size_t len, uint64_t *iova)
{
	uint64_t a = udk_mem_virt2iova(mem, va);
	uint64_t b = udk_mem_virt2iova(mem, (const char *)va + len - 1);

	if (a == UDK_IOVA_BAD || b == UDK_IOVA_BAD || b - a != len - 1)
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
	qp->max_xfer = c->info.max_xfer;
	qp->mem = c->mem;
	qp->sq = udk_mem_zmalloc(qp->mem, (size_t)qsize * sizeof(struct nvme_sqe), NVME_PAGE,
				 UDK_SOCKET_ANY);
	qp->cq = udk_mem_zmalloc(qp->mem, (size_t)qsize * sizeof(struct nvme_cqe), NVME_PAGE,
				 UDK_SOCKET_ANY);
	qp->prp_pages = udk_mem_zmalloc(qp->mem, (size_t)nslots * NVME_PAGE, NVME_PAGE,
					UDK_SOCKET_ANY);
	qp->reqs = calloc(nslots, sizeof(*qp->reqs));
	qp->free_cids = calloc(nslots, sizeof(*qp->free_cids));
	if (qp->sq == NULL || qp->cq == NULL || qp->prp_pages == NULL || qp->reqs == NULL ||
	    qp->free_cids == NULL) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: queue %u: no memory for %u entries (%zu KiB of "
			"DMA memory); reserve more hugepages or use a smaller qsize", c->info.bdf,
			qid, qsize, ((size_t)qsize * 80 + (size_t)nslots * NVME_PAGE) / 1024);
		goto err;
	}
	if (dma_contig(qp->mem, qp->sq, (size_t)qsize * sizeof(struct nvme_sqe), &qp->sq_iova) < 0 ||
	    dma_contig(qp->mem, (const void *)qp->cq, (size_t)qsize * sizeof(struct nvme_cqe),
		       &qp->cq_iova) < 0) {
		rc = -UDK_ENOTMAPPED;
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: queue %u: the queue memory has no IOVA in the "
			"device's map", c->info.bdf, qid);
		goto err;
	}
	for (uint16_t i = 0; i < nslots; i++) {
		struct nvme_req *r = &qp->reqs[i];

		r->prp_list = (uint64_t *)((uint8_t *)qp->prp_pages + (size_t)i * NVME_PAGE);
		r->prp_list_iova = udk_mem_virt2iova(qp->mem, r->prp_list);
		if (r->prp_list_iova == UDK_IOVA_BAD) {
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
	udk_mem_free(qp->mem, qp->sq);
	udk_mem_free(qp->mem, (void *)qp->cq);
	udk_mem_free(qp->mem, qp->prp_pages);
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
		qp->reqs[i].flags = 0;
		qp->free_cids[i] = (uint16_t)(nslots - 1 - i);
	}
	qp->nb_free = nslots;
	qp->in_flight = qp->timed_out = 0;
	qp->next_check_ns = 0;
}

void nvme_qpair_cancel_all(struct udk_nvme_qpair *qp)
{
	struct udk_nvme_cpl cpl = {.rc = nvme_ctrlr_removed(qp->ctrlr) ? -UDK_EREMOVED
								: -ECANCELED};

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

	rc = nvme_qpair_submit(qp, sqe, buf, len, sync_cb, &w, 0);
	while (rc == -EAGAIN) { /* full: make room */
		udk_nvme_qpair_poll(qp, 0);
		rc = nvme_qpair_submit(qp, sqe, buf, len, sync_cb, &w, 0);
	}
	if (rc < 0)
		return rc;
	while (!w.done)
		udk_nvme_qpair_poll(qp, 0);
	if (cpl != NULL)
		*cpl = w.cpl;
	return w.cpl.rc;
}
