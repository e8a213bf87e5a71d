/* SPDX-License-Identifier: BSD-3-Clause */
/* nvme_fastpath.c - the hot path of a queue pair (NVMe 1.4 §4.1): submission
 * without a doorbell, and the poll that rings the doorbell once, reaps
 * completions by their phase tag (§4.6) and expires timed-out commands.  It
 * touches only the qpair's fast-path half (nvme_internal.h) and translates
 * with lib/mem's lock-free udk_mem_virt2iova() on the controller's heap.  The admin queue (qid 0) and the
 * I/O queues share it; the control half is nvme_qpair.c. */
#include <errno.h>
#include <string.h>

#include "nvme_dptr.h"
#include "nvme_internal.h"
#include "udk_mem.h"
#include "udk_util.h"

/* How often an idle poll looks for expired commands. */
#define TIMEOUT_CHECK_NS 1000000ull

static uint64_t v2i(void *mem, const void *va)
{
	return udk_mem_virt2iova(mem, va);
}

/* Queue the SQE at sq[sq_tail], its data pointer built, in the top free
 * slot (the caller checked there is one). */
static inline __attribute__((always_inline)) void
take_slot(struct udk_nvme_qpair *qp, struct nvme_sqe *sqe, udk_nvme_cb cb, void *arg,
	  uint8_t req_flags)
{
	uint16_t cid = qp->free_cids[qp->nb_free - 1];
	struct nvme_req *r = &qp->reqs[cid];

	sqe->cid = cid;
	qp->nb_free--;
	r->cb = cb;
	r->arg = arg;
	r->deadline_ns = 0; /* set by the first idle poll that sees it */
	r->state = REQ_BUSY;
	r->flags = req_flags;
	qp->in_flight++;
	udk_counter_add(&qp->stats.submitted, 1);
	if (unlikely(qp->lat_hist != NULL))
		r->submit_ns = nvme_now_ns();
	if (++qp->sq_tail == qp->qsize)
		qp->sq_tail = 0;
}

/* Give the SQE already at sq[sq_tail] its data pointer, built in the list
 * page of the top free slot (the caller checked there is one), and queue it. */
static inline __attribute__((always_inline)) int
queue_sqe(struct udk_nvme_qpair *qp, struct nvme_sqe *sqe, void *buf, size_t len, udk_nvme_cb cb,
	  void *arg, uint8_t req_flags)
{
	struct nvme_req *r = &qp->reqs[qp->free_cids[qp->nb_free - 1]];
	int rc = 0;

	if (len != 0) {
		if (qp->dptr == DPTR_PRP ||
		    (qp->dptr == DPTR_SGL_MULTI &&
		     ((uintptr_t)buf & (NVME_PAGE - 1)) + len <= NVME_PAGE))
			rc = nvme_build_prps(sqe, buf, len, r->prp_list, r->prp_list_iova, v2i,
					     qp->mem);
		else
			rc = nvme_build_sgl(sqe, buf, len, r->prp_list, r->prp_list_iova, v2i,
					    qp->mem);
		if (unlikely(rc < 0))
			return rc;
	}
	take_slot(qp, sqe, cb, arg, req_flags);
	return 0;
}

int nvme_qpair_submit(struct udk_nvme_qpair *qp, struct nvme_sqe *sqe, void *buf, size_t len,
		      udk_nvme_cb cb, void *arg, uint8_t req_flags)
{
	struct nvme_sqe *s = &qp->sq[qp->sq_tail];

	if (unlikely(qp->nb_free == 0))
		return -EAGAIN;
	memcpy(s, sqe, sizeof(*s));
	return queue_sqe(qp, s, buf, len, cb, arg, req_flags);
}

static void log_dptr_error(const struct udk_nvme_qpair *qp, int rc, const void *buf, size_t len)
{
	if (rc == -UDK_ENOTMAPPED)
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: buffer %p (%zu bytes) is not DMA memory of "
			"the controller's map; allocate it from udk_nvme_ctrlr_mem() or register "
			"it with udk_dma_register() on that map", qp->ctrlr->info.bdf, buf, len);
	else if (rc == -E2BIG)
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: buffer %p (%zu bytes) lies in more pieces of "
			"IOVA space than one SGL segment (256) holds; use udk_nvme_ctrlr_mem() memory",
			qp->ctrlr->info.bdf, buf, len);
}

/* A read or write that passes every check of nvme_io_check(), decided in a
 * few compares; anything else takes the slow path, which says what is wrong. */
static inline bool rw_ok(const struct udk_nvme_qpair *qp, const struct udk_nvme_ns *ns,
			 enum udk_nvme_io_op op, const void *buf, uint64_t lba, uint32_t nlb)
{
	return ns != NULL && ns->ctrlr == qp->ctrlr && (unsigned int)op <= UDK_NVME_IO_WRITE &&
	       !qp->failed && !__atomic_load_n(&qp->ctrlr->failed, __ATOMIC_RELAXED) &&
	       nlb - 1u < NVME_MAX_NLB && lba < ns->nsze && nlb <= ns->nsze - lba &&
	       ((uint64_t)nlb << ns->block_shift) <= qp->max_xfer && buf != NULL &&
	       !((uintptr_t)buf & 3);
}

/* A read or write at sq[sq_tail], data pointer still to build. */
static inline struct nvme_sqe *rw_sqe(struct udk_nvme_qpair *qp, const struct udk_nvme_ns *ns,
				      enum udk_nvme_io_op op, uint64_t lba, uint32_t nlb,
				      uint32_t flags)
{
	struct nvme_sqe *sqe = &qp->sq[qp->sq_tail];

	*sqe = (struct nvme_sqe){
		.opc = op == UDK_NVME_IO_READ ? NVME_CMD_READ : NVME_CMD_WRITE,
		.nsid = ns->nsid,
		/* §6.9/§6.15: SLBA in CDW10-11, NLB (0's based) in CDW12 15:0. */
		.cdw10 = (uint32_t)lba,
		.cdw11 = (uint32_t)(lba >> 32),
		.cdw12 = (nlb - 1) | (flags & UDK_NVME_IO_FUA),
	};
	return sqe;
}

int udk_nvme_ns_io(struct udk_nvme_qpair *qp, struct udk_nvme_ns *ns, enum udk_nvme_io_op op,
		   void *buf, uint64_t lba, uint32_t nlb, uint32_t flags, udk_nvme_cb cb, void *arg)
{
	struct nvme_sqe *sqe;
	size_t len;
	int rc;

	if (likely(rw_ok(qp, ns, op, buf, lba, nlb))) {
		if (unlikely(qp->nb_free == 0))
			return -EAGAIN;
		/* Built in place in the SQ: the device sees it only after the
		 * tail doorbell, so a refusal below leaves nothing behind. */
		sqe = rw_sqe(qp, ns, op, lba, nlb, flags);
		len = (size_t)nlb << ns->block_shift;
		rc = queue_sqe(qp, sqe, buf, len, cb, arg, 0);
		if (unlikely(rc < 0))
			log_dptr_error(qp, rc, buf, len);
		return rc;
	}
	/* Bad input (with its error line), or flush, write zeroes, deallocate. */
	rc = nvme_io_check(qp, ns, op, buf, lba, nlb);
	if (rc < 0)
		return rc;
	if (unlikely(qp->nb_free == 0))
		return -EAGAIN;
	sqe = &qp->sq[qp->sq_tail];
	nvme_io_build(sqe, ns, op, lba, nlb, flags);
	len = op == UDK_NVME_IO_READ || op == UDK_NVME_IO_WRITE ? (size_t)nlb << ns->block_shift :
								  0;
	if (op == UDK_NVME_IO_DEALLOCATE) {
		/* The range goes in the list page of the slot queue_sqe() will
		 * take (the top of the free stack); PRP1 points to it. */
		struct nvme_req *r = &qp->reqs[qp->free_cids[qp->nb_free - 1]];
		struct nvme_dsm_range *range = (struct nvme_dsm_range *)r->prp_list;

		range->cattr = 0;
		range->nlb = nlb;
		range->slba = lba;
		sqe->prp1 = r->prp_list_iova;
	}
	rc = queue_sqe(qp, sqe, len ? buf : NULL, len, cb, arg, 0);
	if (unlikely(rc < 0))
		log_dptr_error(qp, rc, buf, len);
	return rc;
}

/* ---- a vector as one command ---- */

enum { IOV_PRP, IOV_SGL };

/* How iov goes as one command on a qpair of mode dptr: IOV_PRP, IOV_SGL, or
 * -EINVAL / -E2BIG, with *bad the element at fault (-1: the number of
 * elements).  *len: the total length, up to the element that passes max_xfer. */
static inline int iov_plan(uint8_t dptr, uint32_t max_xfer, const struct iovec *iov, int iovcnt,
			   size_t *len, int *bad)
{
	int not_prp = -1; /* the first element that breaks the PRP shape (§4.3) */
	size_t total = 0;

	*bad = -1;
	*len = 0;
	if (iov == NULL || iovcnt < 1 || iovcnt > UDK_NVME_IOV_MAX)
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		uintptr_t s = (uintptr_t)iov[i].iov_base;
		size_t l = iov[i].iov_len;

		if (l == 0 || ((s | l) & 3)) {
			*bad = i;
			return -EINVAL;
		}
		if (not_prp < 0 && ((i > 0 && (s & (NVME_PAGE - 1))) ||
				    (i + 1 < iovcnt && ((s + l) & (NVME_PAGE - 1)))))
			not_prp = i;
		total += l;
		*len = total;
		if (total > max_xfer) {
			*bad = i;
			return -E2BIG;
		}
	}
	if (dptr == DPTR_SGL || (dptr == DPTR_SGL_MULTI && not_prp >= 0))
		return IOV_SGL;
	if (not_prp < 0)
		return IOV_PRP;
	*bad = not_prp;
	return -EINVAL;
}

bool udk_nvme_ns_iov_fits(const struct udk_nvme_ns *ns, uint8_t sgl, const struct iovec *iov,
			  int iovcnt)
{
	const struct udk_nvme_ctrlr *c;
	size_t len;
	int bad;

	if (ns == NULL)
		return false;
	c = ns->ctrlr;
	if (sgl == UDK_NVME_SGL_ALWAYS && !(c->info.sgls & 3))
		return false;
	return iov_plan(nvme_dptr_mode(c, sgl), c->info.max_xfer, iov, iovcnt, &len, &bad) >= 0 &&
	       (len & (ns->block_size - 1)) == 0;
}

/* Why udk_nvme_ns_iov() cannot queue iov, in one line: the return code, or
 * 0 when nothing is wrong after all. */
static int iov_check(const struct udk_nvme_qpair *qp, const struct udk_nvme_ns *ns,
		     enum udk_nvme_io_op op, const struct iovec *iov, int iovcnt, uint64_t lba,
		     int how, int bad, size_t len)
{
	const char *bdf = qp->ctrlr->info.bdf;

	if (ns == NULL || (op != UDK_NVME_IO_READ && op != UDK_NVME_IO_WRITE)) {
		if (ns == NULL)
			return nvme_io_check(qp, ns, op, NULL, lba, 0);
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: a vector is data of a read or write; "
			"operation %d has none (use udk_nvme_ns_io())", bdf, op);
		return -EINVAL;
	}
	if (how == -EINVAL && bad < 0) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: a vector of %d elements at %p: one command "
			"takes 1 to %d; split it", bdf, iovcnt, (const void *)iov, UDK_NVME_IOV_MAX);
		return -EINVAL;
	}
	if (how == -EINVAL && (iov[bad].iov_len == 0 ||
			       (((uintptr_t)iov[bad].iov_base | iov[bad].iov_len) & 3))) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: vector element %d (%p, %zu bytes) is empty or "
			"not 4-byte aligned in base or length (§4.3, §4.4); bounce it", bdf, bad,
			iov[bad].iov_base, iov[bad].iov_len);
		return -EINVAL;
	}
	if (how == -EINVAL) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: vector element %d (%p, %zu bytes) breaks the "
			"PRP rules (§4.3: every element but the first starts on a 4 KiB page, every "
			"one but the last ends on one) and the qpair has no SGLs; split the vector "
			"there", bdf, bad, iov[bad].iov_base, iov[bad].iov_len);
		return -EINVAL;
	}
	if (how == -E2BIG) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: a vector of %d elements holds more than the "
			"controller's maximum transfer of %u bytes (MDTS, at element %d: %zu bytes); "
			"split it", bdf, iovcnt, qp->max_xfer, bad, len);
		return -E2BIG;
	}
	if ((len & (ns->block_size - 1)) != 0) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: a vector of %zu bytes is not a whole number of "
			"%u-byte blocks of namespace %u", bdf, len, ns->block_size, ns->nsid);
		return -EINVAL;
	}
	return nvme_io_check(qp, ns, op, iov[0].iov_base, lba, (uint32_t)(len >> ns->block_shift));
}

int udk_nvme_ns_iov(struct udk_nvme_qpair *qp, struct udk_nvme_ns *ns, enum udk_nvme_io_op op,
		    const struct iovec *iov, int iovcnt, uint64_t lba, uint32_t flags,
		    udk_nvme_cb cb, void *arg)
{
	struct nvme_req *r;
	struct nvme_sqe *sqe;
	size_t len;
	int how, bad, rc;

	how = iov_plan(qp->dptr, qp->max_xfer, iov, iovcnt, &len, &bad);
	if (unlikely(how < 0 || ns == NULL || (len & (ns->block_size - 1)) != 0 ||
		     !rw_ok(qp, ns, op, iov[0].iov_base, lba, (uint32_t)(len >> ns->block_shift)))) {
		rc = iov_check(qp, ns, op, iov, iovcnt, lba, how, bad, len);
		if (rc < 0)
			return rc;
	}
	if (unlikely(qp->nb_free == 0))
		return -EAGAIN;
	sqe = rw_sqe(qp, ns, op, lba, (uint32_t)(len >> ns->block_shift), flags);
	r = &qp->reqs[qp->free_cids[qp->nb_free - 1]];
	if (how == IOV_PRP)
		rc = nvme_build_prps_iov(sqe, iov, iovcnt, r->prp_list, r->prp_list_iova, v2i,
					 qp->mem);
	else
		rc = nvme_build_sgl_iov(sqe, iov, iovcnt, r->prp_list, r->prp_list_iova, v2i,
					qp->mem);
	if (unlikely(rc < 0)) {
		log_dptr_error(qp, rc, iov[0].iov_base, len);
		return rc;
	}
	take_slot(qp, sqe, cb, arg, 0);
	return 0;
}

/* Commands past their deadline complete with -ETIMEDOUT; then, if the
 * controller asks for it, recovery.  True when recovery reset the
 * controller (the ring this poll was reading is gone). */
static bool expire(struct udk_nvme_qpair *qp, uint64_t now)
{
	struct udk_nvme_cpl cpl = {.rc = -ETIMEDOUT};
	bool any = false, fatal = false;

	for (uint16_t i = 0; i + 1 < qp->qsize; i++) {
		struct nvme_req *r = &qp->reqs[i];

		if (r->state != REQ_BUSY || (r->flags & REQ_F_NO_TIMEOUT))
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
	if (!any)
		return false;
	/* A timeout is the moment to look at the controller (one MMIO read). */
	uint32_t csts = nvme_rd32(qp->ctrlr, NVME_REG_CSTS);

	if (csts == UINT32_MAX || (csts & NVME_CSTS_CFS)) {
		/* Other lcores read it on their next submit. */
		fatal = true;
		qp->failed = true;
		__atomic_store_n(&qp->ctrlr->failed, true, __ATOMIC_RELAXED);
	}
	if (qp->ctrlr->opts.timeout_action == UDK_NVME_TIMEOUT_NONE)
		return false;
	return nvme_recover_timeouts(qp, fatal);
}

int udk_nvme_qpair_poll(struct udk_nvme_qpair *qp, uint32_t max)
{
	uint16_t head = qp->cq_head;
	uint64_t lat_now = 0; /* one clock read per poll, when latency is recorded */
	uint32_t n = 0;
	/* At most qsize - 1 entries per call, whatever the device keeps
	 * posting: a device cannot hold the thread (ignored entries count too),
	 * and the head never comes back round to where it started, so the
	 * completion doorbell below is always written. */
	uint16_t left = qp->qsize - 1;

	if (qp->sq_tail != qp->sq_db_tail) {
		/* The entries are visible before the device learns of them. */
		__atomic_thread_fence(__ATOMIC_RELEASE);
		*qp->sq_db = qp->sq_tail;
		qp->sq_db_tail = qp->sq_tail;
	}
	while (left-- > 0) {
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
		if (unlikely(r->state != REQ_BUSY)) {
			if (r->state == REQ_TIMED_OUT) { /* late, or aborted: the slot is free now */
				r->state = REQ_FREE;
				qp->timed_out--;
				qp->free_cids[qp->nb_free++] = cid;
			}
			continue;
		}
		qp->free_cids[qp->nb_free++] = cid;
		r->state = REQ_FREE;
		qp->in_flight--;
		cpl.status = (uint16_t)(((st >> 1) & 0xff) | (((st >> 9) & 0x7) << 8));
		cpl.rc = cpl.status ? -EIO : 0;
		if (unlikely(cpl.status != 0))
			udk_counter_add(&qp->stats.errors, 1);
		if (unlikely(qp->lat_hist != NULL)) {
			if (lat_now == 0)
				lat_now = nvme_now_ns();
			nvme_lat_record(qp, r->submit_ns, lat_now);
		}
		if (r->cb != NULL)
			r->cb(r->arg, &cpl);
		if (++n == max)
			break;
	}
	/* Release: a reader that sees this count (acquire, nvme_telemetry.c)
	 * sees the histogram entries recorded above too (a plain store on x86). */
	if (n > 0)
		__atomic_store_n(&qp->stats.completed, qp->stats.completed + n, __ATOMIC_RELEASE);
	if (qp->cq_head != head) {
		*qp->cq_db = qp->cq_head;
	} else if (unlikely(qp->in_flight + qp->timed_out > 0 && nvme_ctrlr_removed(qp->ctrlr))) {
		nvme_qpair_removed(qp); /* remove.c: nothing more will come */
	} else if (qp->in_flight > 0 && qp->timeout_ns != 0) {
		uint64_t now = nvme_now_ns();

		if (now >= qp->next_check_ns) {
			qp->next_check_ns = now + TIMEOUT_CHECK_NS;
			expire(qp, now);
		}
	}
	return (int)n;
}
