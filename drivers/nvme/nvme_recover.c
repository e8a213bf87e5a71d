/* SPDX-License-Identifier: BSD-3-Clause */
/* nvme_recover.c - what follows a command timeout (udk_nvme.h, enum
 * udk_nvme_timeout_action): an Abort for each timed-out command (NVMe 1.4
 * §5.1, by SQID and CID), and when the controller cannot abort one, or has
 * a fatal status, a reset (§7.3.2) that fails every other command in flight
 * with -ECANCELED. */
#include <errno.h>
#include <stdio.h>

#include "nvme_internal.h"
#include "udk_util.h"

/* Abort cid of qp and wait for the aborted command to come back.  0 when it
 * did; otherwise a negative code with one line saying why. */
static int abort_one(struct udk_nvme_ctrlr *c, struct udk_nvme_qpair *qp, uint16_t cid)
{
	struct nvme_sqe sqe = {.opc = NVME_ADM_ABORT, .cdw10 = (uint32_t)cid << 16 | qp->qid};
	struct nvme_req *r = &qp->reqs[cid];
	struct udk_nvme_cpl cpl;
	uint64_t end;
	char what[64];
	int rc;

	snprintf(what, sizeof(what), "Abort of command %u on queue %u", cid, qp->qid);
	rc = nvme_admin(c, &sqe, NULL, 0, &cpl, what);
	if (rc < 0)
		return rc;
	if (cpl.dw0 & 1) { /* §5.1: DW0 bit 0 set: the command was not aborted */
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: %s: the controller did not abort it",
			c->info.bdf, what);
		return -EBUSY;
	}
	/* The aborted command completes with Command Abort Requested; its
	 * completion frees the slot. */
	end = nvme_now_ns() + (uint64_t)c->opts.admin_timeout_ms * 1000000ull;
	while (r->state == REQ_TIMED_OUT && nvme_now_ns() < end)
		udk_nvme_qpair_poll(qp, 0);
	if (r->state == REQ_TIMED_OUT) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: %s: aborted, but the command never completed",
			c->info.bdf, what);
		return -ETIMEDOUT;
	}
	udk_log(UDK_LOG_NOTICE, NVME_LOG, "%s: command %u on queue %u timed out and was aborted",
		c->info.bdf, cid, qp->qid);
	return 0;
}

bool nvme_recover_timeouts(struct udk_nvme_qpair *qp, bool fatal)
{
	struct udk_nvme_ctrlr *c = qp->ctrlr;
	bool admin = qp == &c->admin, reset = false, failed = fatal;
	int rc;

	if (c->recovering)
		return false; /* an Abort or a bring-up timed out: its caller decides */
	if (!admin) /* the admin queue's users hold the lock already */
		pthread_mutex_lock(&c->lock);
	c->recovering = true;
	for (uint16_t i = 0; !failed && i + 1 < qp->qsize; i++) {
		struct nvme_req *r = &qp->reqs[i];

		if (r->state != REQ_TIMED_OUT || (r->flags & REQ_F_ABORT_SENT))
			continue;
		r->flags |= REQ_F_ABORT_SENT;
		if (abort_one(c, qp, i) < 0)
			failed = true;
	}
	if (failed && c->opts.timeout_action == UDK_NVME_TIMEOUT_ABORT_RESET) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: %s on queue %u: resetting the controller; "
			"commands in flight fail with -ECANCELED", c->info.bdf,
			fatal ? "fatal controller status after a timeout" :
			"a timed-out command could not be aborted", qp->qid);
		rc = nvme_ctrlr_reset_locked(c);
		reset = true;
		if (rc < 0)
			udk_log(UDK_LOG_ERR, NVME_LOG, "%s: the reset after a timeout failed; the "
				"controller is unusable until udk_nvme_ctrlr_reset() succeeds",
				c->info.bdf);
	} else if (failed) {
		__atomic_store_n(&c->failed, true, __ATOMIC_RELAXED);
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: %s on queue %u; new I/O is refused until "
			"udk_nvme_ctrlr_reset()", c->info.bdf, fatal ?
			"fatal controller status (CSTS.CFS) after a timeout" :
			"a timed-out command could not be aborted", qp->qid);
	}
	c->recovering = false;
	if (!admin)
		pthread_mutex_unlock(&c->lock);
	return reset;
}
