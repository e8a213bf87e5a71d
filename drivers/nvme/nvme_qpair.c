/* SPDX-License-Identifier: BSD-3-Clause */
/* nvme_qpair.c - the life of a submission/completion queue pair (NVMe 1.4
 * §4.1) outside its hot path: create (queues, request slots, list pages, the
 * choice of PRPs or SGLs, Create I/O CQ/SQ §5.4-5.5), reset, cancel, destroy
 * (§5.6-5.7), and the blocking execution of one command.  The admin queue
 * (qid 0) shares it; submission and poll are nvme_fastpath.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

int nvme_ctrlr_create_io_queues(struct udk_nvme_ctrlr *c, struct udk_nvme_qpair *qp)
{
	/* §5.4 Create I/O CQ: QSIZE 31:16, QID 15:0; CDW11 IV 31:16, IEN bit 1,
	 * PC bit 0.  An interrupt qpair's vector is its qid. */
	uint32_t ien = qp->efd >= 0 ? (uint32_t)qp->qid << 16 | 2u : 0;
	struct nvme_sqe cq = {.opc = NVME_ADM_CREATE_CQ, .prp1 = qp->cq_iova,
			      .cdw10 = (uint32_t)(qp->qsize - 1) << 16 | qp->qid,
			      .cdw11 = ien | 1u};
	/* §5.5 Create I/O SQ: CQID 31:16, PC = 1. */
	struct nvme_sqe sq = {.opc = NVME_ADM_CREATE_SQ, .prp1 = qp->sq_iova,
			      .cdw10 = (uint32_t)(qp->qsize - 1) << 16 | qp->qid,
			      .cdw11 = (uint32_t)qp->qid << 16 | 1};
	int rc;

	rc = nvme_admin(c, &cq, NULL, 0, NULL, "Create I/O Completion Queue");
	if (rc < 0)
		return rc;
	rc = nvme_admin(c, &sq, NULL, 0, NULL, "Create I/O Submission Queue");
	if (rc < 0) {
		struct nvme_sqe del = {.opc = NVME_ADM_DELETE_CQ, .cdw10 = qp->qid};
		nvme_admin(c, &del, NULL, 0, NULL, "Delete I/O Completion Queue");
	}
	return rc;
}

int nvme_ctrlr_delete_io_queues(struct udk_nvme_ctrlr *c, struct udk_nvme_qpair *qp)
{
	/* §5.6, §5.7: the SQ first, then its CQ. */
	struct nvme_sqe sq = {.opc = NVME_ADM_DELETE_SQ, .cdw10 = qp->qid};
	struct nvme_sqe cq = {.opc = NVME_ADM_DELETE_CQ, .cdw10 = qp->qid};
	int rc;

	rc = nvme_admin(c, &sq, NULL, 0, NULL, "Delete I/O Submission Queue");
	if (rc == 0)
		rc = nvme_admin(c, &cq, NULL, 0, NULL, "Delete I/O Completion Queue");
	return rc;
}

/* Route the MSI-X vectors at the first interrupt qpair: one per queue the
 * controller granted plus the admin queue's (vector 0), within the table. */
static int msix_setup(struct udk_nvme_ctrlr *c)
{
	unsigned int want = c->info.nb_io_queues + 1u;
	int n, rc, *efds;

	if (c->msix_nvec > 0)
		return 0;
	n = c->pdev != NULL ? udk_pci_msix_count(c->pdev) : -ENOTSUP;
	if (n < 0) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: interrupt qpairs need MSI-X (%s); create the "
			"qpair with intr UDK_NVME_INTR_POLL", c->info.bdf, udk_strerror(n));
		return n;
	}
	if ((unsigned int)n < want)
		want = (unsigned int)n;
	efds = calloc(want, sizeof(*efds));
	if (efds == NULL)
		return -ENOMEM;
	rc = udk_pci_msix_enable(c->pdev, want, efds);
	if (rc < 0) {
		free(efds);
		return rc;
	}
	c->msix_efds = efds;
	c->msix_nvec = want;
	return 0;
}

static int qpair_vector(struct udk_nvme_ctrlr *c, struct udk_nvme_qpair *qp)
{
	int rc = msix_setup(c);

	if (rc < 0)
		return rc;
	if (qp->qid >= c->msix_nvec) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: queue %u needs MSI-X vector %u, the table has "
			"%u; use fewer interrupt qpairs or UDK_NVME_INTR_POLL for this one",
			c->info.bdf, qp->qid, qp->qid, c->msix_nvec);
		return -ENOTSUP;
	}
	qp->efd = c->msix_efds[qp->qid];
	return 0;
}

void nvme_ctrlr_msix_release(struct udk_nvme_ctrlr *c)
{
	if (c->msix_nvec == 0)
		return;
	if (c->pdev != NULL)
		udk_pci_msix_disable(c->pdev);
	free(c->msix_efds);
	c->msix_efds = NULL;
	c->msix_nvec = 0;
}

int udk_nvme_qpair_eventfd(const struct udk_nvme_qpair *qp)
{
	return qp != NULL && qp->efd >= 0 ? qp->efd : -ENOTSUP;
}

/* Clear efd's count (into qp's interrupts), then: is there work to poll?
 * The read is a system call, so a full barrier: a CQE the device wrote
 * before the message cleared here is seen by the check after it. */
static int arm(struct udk_nvme_qpair *qp, int efd)
{
	uint64_t v;

	if (read(efd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		udk_counter_add(&qp->stats.interrupts, v);
	if (qp->sq_tail != qp->sq_db_tail || qp->failed)
		return 1;
	return (qp->cq[qp->cq_head].status & 1) == qp->phase;
}

int udk_nvme_qpair_arm(struct udk_nvme_qpair *qp)
{
	if (qp == NULL || qp->efd < 0)
		return -ENOTSUP;
	return arm(qp, qp->efd);
}

int udk_nvme_ctrlr_admin_eventfd(struct udk_nvme_ctrlr *c)
{
	int rc;

	if (c == NULL)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	rc = msix_setup(c);
	pthread_mutex_unlock(&c->lock);
	return rc < 0 ? rc : c->msix_efds[0];
}

int udk_nvme_ctrlr_admin_arm(struct udk_nvme_ctrlr *c)
{
	int rc;

	if (c == NULL || c->msix_nvec == 0)
		return -ENOTSUP;
	pthread_mutex_lock(&c->lock);
	rc = c->nb_events > 0 || c->failed ? 1 : arm(&c->admin, c->msix_efds[0]);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

uint64_t udk_nvme_qpair_interrupts(const struct udk_nvme_qpair *qp)
{
	return qp == NULL ? 0 : udk_counter_read(&qp->stats.interrupts);
}

int udk_nvme_ctrlr_set_coalescing(struct udk_nvme_ctrlr *c, uint8_t thr, uint8_t time)
{
	if (c == NULL)
		return -EINVAL;
	return udk_nvme_ctrlr_set_features(c, NVME_FEAT_INT_COALESCING,
					   (uint32_t)time << 8 | thr, NULL);
}

void udk_nvme_qpair_opts_init(struct udk_nvme_qpair_opts *opts, size_t size)
{
	struct udk_nvme_qpair_opts d = {.opts_size = sizeof(d), .qsize = 256, .timeout_ms = 30000,
					.sgl = UDK_NVME_SGL_AUTO};

	if (opts == NULL || size == 0)
		return;
	if (size > sizeof(d))
		size = sizeof(d);
	memset(opts, 0, size);
	d.opts_size = size;
	memcpy(opts, &d, size);
}

int udk_nvme_qpair_create(struct udk_nvme_ctrlr *c, const struct udk_nvme_qpair_opts *opts,
			  struct udk_nvme_qpair **out)
{
	struct udk_nvme_qpair_opts o;
	struct udk_nvme_qpair *qp;
	uint16_t qid = 0;
	int rc;

	if (c == NULL || out == NULL)
		return -EINVAL;
	udk_nvme_qpair_opts_init(&o, sizeof(o));
	if (opts != NULL) {
		if (opts->opts_size == 0 || opts->opts_size > sizeof(o))
			return -EINVAL;
		memcpy(&o, opts, opts->opts_size);
		o.opts_size = sizeof(o);
	}
	if (o.qsize < 2 || o.qsize > c->info.max_qsize) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: qpair size %u is outside 2..%u (CAP.MQES + 1)",
			c->info.bdf, o.qsize, c->info.max_qsize);
		return -EINVAL;
	}
	if (o.sgl > UDK_NVME_SGL_ALWAYS) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: qpair sgl mode %u is not a udk_nvme_sgl_mode",
			c->info.bdf, o.sgl);
		return -EINVAL;
	}
	if (o.intr > UDK_NVME_INTR_ADAPTIVE) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: qpair intr mode %u is not a "
			"udk_nvme_intr_mode", c->info.bdf, o.intr);
		return -EINVAL;
	}
	if (o.sgl == UDK_NVME_SGL_ALWAYS && !(c->info.sgls & 3)) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: SGLs asked for, but the controller does not "
			"support them for I/O (Identify SGLS 0x%x); use UDK_NVME_SGL_AUTO or "
			"UDK_NVME_SGL_NEVER", c->info.bdf, c->info.sgls);
		return -ENOTSUP;
	}
	pthread_mutex_lock(&c->lock);
	for (uint16_t i = 1; i <= c->info.nb_io_queues; i++)
		if (!c->qid_used[i]) {
			qid = i;
			break;
		}
	if (qid == 0) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: all %u I/O queues the controller granted are "
			"in use; destroy one, or attach with a larger nb_io_queues", c->info.bdf,
			c->info.nb_io_queues);
		rc = -EBUSY;
		goto out;
	}
	qp = calloc(1, sizeof(*qp));
	if (qp == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = nvme_qpair_init(qp, c, qid, o.qsize, o.timeout_ms);
	if (rc < 0) {
		free(qp);
		goto out;
	}
	qp->intr = o.intr;
	qp->efd = -1;
	if (o.intr != UDK_NVME_INTR_POLL && (rc = qpair_vector(c, qp)) < 0) {
		nvme_qpair_fini(qp);
		free(qp);
		goto out;
	}
	qp->dptr = nvme_dptr_mode(c, o.sgl);
	if (o.latency_hist && (qp->lat_hist = calloc(NVME_LAT_BUCKETS, sizeof(uint64_t))) == NULL) {
		rc = -ENOMEM;
		nvme_qpair_fini(qp);
		free(qp);
		goto out;
	}
	rc = nvme_ctrlr_create_io_queues(c, qp);
	if (rc < 0) {
		nvme_qpair_fini(qp);
		free(qp->lat_hist);
		free(qp);
		goto out;
	}
	c->qid_used[qid] = 1;
	qp->next = c->qpairs;
	c->qpairs = qp;
	*out = qp;
out:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int udk_nvme_qpair_destroy(struct udk_nvme_qpair *qp)
{
	struct udk_nvme_ctrlr *c;
	struct udk_nvme_qpair **pp;
	int rc;

	if (qp == NULL)
		return 0;
	c = qp->ctrlr;
	pthread_mutex_lock(&c->lock);
	nvme_qpair_cancel_all(qp);
	rc = c->failed ? 0 : nvme_ctrlr_delete_io_queues(c, qp);
	for (pp = &c->qpairs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == qp) {
			*pp = qp->next;
			break;
		}
	c->qid_used[qp->qid] = 0;
	if (rc == 0) {
		nvme_qpair_fini(qp);
		free(qp->lat_hist);
	}
	else /* the device may still write there: keep the memory */
		udk_log(UDK_LOG_WARN, NVME_LOG, "%s: queue %u could not be deleted; its memory is "
			"kept until the controller is reset or detached", c->info.bdf, qp->qid);
	free(rc == 0 ? qp : NULL);
	pthread_mutex_unlock(&c->lock);
	return rc;
}
