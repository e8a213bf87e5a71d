/* SPDX-License-Identifier: BSD-3-Clause */
/* nvme_io.c - NVM commands (NVMe 1.4 §6) on I/O queue pairs: the checks that
 * keep bad input away from the device, the command words, the blocking
 * helper, queue pair creation and deletion (with the choice of PRPs or
 * SGLs), and status codes as words.  Submission itself is nvme_fastpath.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvme_internal.h"
#include "udk_mem.h"
#include "udk_util.h"

static const char *op_name(enum udk_nvme_io_op op)
{
	static const char *n[] = {"read", "write", "flush", "write zeroes", "deallocate"};
	return (unsigned int)op < UDK_ARRAY_SIZE(n) ? n[op] : "?";
}

int nvme_io_check(const struct udk_nvme_qpair *qp, const struct udk_nvme_ns *ns,
		  enum udk_nvme_io_op op, const void *buf, uint64_t lba, uint32_t nlb)
{
	const struct udk_nvme_ctrlr *c = qp->ctrlr;
	uint64_t bytes;

	if (ns == NULL) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: no namespace given; look it up with "
			"udk_nvme_ctrlr_ns()", c->info.bdf);
		return -EINVAL;
	}
	if (ns->ctrlr != c) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "namespace %u belongs to %s, but the qpair to %s; "
			"use a qpair of the namespace's controller", ns->nsid, ns->ctrlr->info.bdf,
			c->info.bdf);
		return -EINVAL;
	}
	if (qp->failed || __atomic_load_n(&c->failed, __ATOMIC_RELAXED)) {
		if (nvme_ctrlr_removed(c))
			return -UDK_EREMOVED; /* logged once, at removal */
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: the controller has failed (fatal status "
			"CSTS.CFS, or removed); reset it with udk_nvme_ctrlr_reset()", c->info.bdf);
		return -UDK_EDEVSTATE;
	}
	if ((unsigned int)op > UDK_NVME_IO_DEALLOCATE) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: unknown I/O operation %d", c->info.bdf, op);
		return -EINVAL;
	}
	if (op == UDK_NVME_IO_FLUSH)
		return 0;
	if ((op == UDK_NVME_IO_WRITE_ZEROES && !(c->info.oncs & (1u << 3))) ||
	    (op == UDK_NVME_IO_DEALLOCATE && !(c->info.oncs & (1u << 2)))) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: the controller does not support %s (Identify "
			"ONCS 0x%x)", c->info.bdf, op_name(op), c->info.oncs);
		return -EINVAL;
	}
	if (nlb == 0) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: %s of 0 blocks at LBA %llu: a command needs at "
			"least one block", c->info.bdf, op_name(op), (unsigned long long)lba);
		return -ERANGE;
	}
	if (lba >= ns->nsze || nlb > ns->nsze - lba) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: LBA %llu+%u is past the end of namespace %u "
			"(%llu blocks)", c->info.bdf, (unsigned long long)lba, nlb, ns->nsid,
			(unsigned long long)ns->nsze);
		return -ERANGE;
	}
	if (nlb > NVME_MAX_NLB) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: %s of %u blocks: at most %u per command; split "
			"it", c->info.bdf, op_name(op), nlb, NVME_MAX_NLB);
		return -E2BIG;
	}
	if (op != UDK_NVME_IO_READ && op != UDK_NVME_IO_WRITE)
		return 0;
	bytes = (uint64_t)nlb << ns->block_shift;
	if (bytes > c->info.max_xfer) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: %s of %u blocks (%llu bytes) exceeds the "
			"controller's maximum transfer of %u bytes (MDTS); split it", c->info.bdf,
			op_name(op), nlb, (unsigned long long)bytes, c->info.max_xfer);
		return -E2BIG;
	}
	if (buf == NULL) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: %s with no buffer", c->info.bdf, op_name(op));
		return -EINVAL;
	}
	if ((uintptr_t)buf & 3) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: buffer %p is not 4-byte aligned (a PRP needs "
			"dword alignment, §4.3); allocate it from udk_nvme_ctrlr_mem()", c->info.bdf,
			buf);
		return -EINVAL;
	}
	return 0;
}

void nvme_io_build(struct nvme_sqe *sqe, const struct udk_nvme_ns *ns, enum udk_nvme_io_op op,
		   uint64_t lba, uint32_t nlb, uint32_t flags)
{
	static const uint8_t opc[] = {NVME_CMD_READ, NVME_CMD_WRITE, NVME_CMD_FLUSH,
				      NVME_CMD_WRITE_ZEROES, NVME_CMD_DSM};

	memset(sqe, 0, sizeof(*sqe));
	sqe->opc = opc[op];
	sqe->nsid = ns->nsid;
	switch (op) {
	case UDK_NVME_IO_READ:
	case UDK_NVME_IO_WRITE:
	case UDK_NVME_IO_WRITE_ZEROES:
		/* §6.9/§6.15/§6.16: SLBA in CDW10-11, NLB (0's based) in CDW12 15:0. */
		sqe->cdw10 = (uint32_t)lba;
		sqe->cdw11 = (uint32_t)(lba >> 32);
		sqe->cdw12 = (nlb - 1) | (flags & UDK_NVME_IO_FUA);
		break;
	case UDK_NVME_IO_DEALLOCATE:
		sqe->cdw10 = 0;       /* §6.7: NR, 0's based: one range */
		sqe->cdw11 = 1u << 2; /* AD: deallocate */
		break;
	case UDK_NVME_IO_FLUSH:
		break;
	}
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

int udk_nvme_ns_io_sync(struct udk_nvme_qpair *qp, struct udk_nvme_ns *ns, enum udk_nvme_io_op op,
			void *buf, uint64_t lba, uint32_t nlb, struct udk_nvme_cpl *cpl)
{
	struct sync_wait w = {0};
	int rc;

	while ((rc = udk_nvme_ns_io(qp, ns, op, buf, lba, nlb, 0, sync_cb, &w)) == -EAGAIN)
		udk_nvme_qpair_poll(qp, 0);
	if (rc < 0)
		return rc;
	while (!w.done)
		udk_nvme_qpair_poll(qp, 0);
	if (cpl != NULL)
		*cpl = w.cpl;
	if (w.cpl.rc == -EIO)
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: %s of LBA %llu+%u on namespace %u failed: %s",
			qp->ctrlr->info.bdf, op_name(op), (unsigned long long)lba, nlb, ns->nsid,
			udk_nvme_status_str(w.cpl.status));
	else if (w.cpl.rc == -ETIMEDOUT)
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: %s of LBA %llu+%u on namespace %u: no "
			"completion within %llu ms", qp->ctrlr->info.bdf, op_name(op),
			(unsigned long long)lba, nlb, ns->nsid,
			(unsigned long long)(qp->timeout_ns / 1000000));
	return w.cpl.rc;
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
	if (o.sgl == UDK_NVME_SGL_NEVER || !(c->info.sgls & 3))
		qp->dptr = DPTR_PRP;
	else
		qp->dptr = o.sgl == UDK_NVME_SGL_ALWAYS ? DPTR_SGL : DPTR_SGL_MULTI;
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

const char *udk_nvme_status_str(uint16_t status)
{
	static __thread char buf[96];
	unsigned int sct = (status >> 8) & 7, sc = status & 0xff;
	const char *s = "unknown status";

	if (sct == 0) {
		switch (sc) {
		case 0x00: s = "Successful Completion"; break;
		case 0x01: s = "Invalid Command Opcode"; break;
		case 0x02: s = "Invalid Field in Command"; break;
		case 0x03: s = "Command ID Conflict"; break;
		case 0x04: s = "Data Transfer Error"; break;
		case 0x06: s = "Internal Error"; break;
		case 0x07: s = "Command Abort Requested"; break;
		case 0x08: s = "Command Aborted due to SQ Deletion"; break;
		case 0x0f: s = "Data SGL Length Invalid"; break;
		case 0x11: s = "SGL Descriptor Type Invalid"; break;
		case 0x0b: s = "Invalid Namespace or Format"; break;
		case 0x13: s = "Invalid PRP Offset"; break;
		case 0x80: s = "LBA Out of Range"; break;
		case 0x81: s = "Capacity Exceeded"; break;
		case 0x82: s = "Namespace Not Ready"; break;
		}
	} else if (sct == 1) {
		switch (sc) {
		case 0x00: s = "Completion Queue Invalid"; break;
		case 0x01: s = "Invalid Queue Identifier"; break;
		case 0x02: s = "Invalid Queue Size"; break;
		case 0x05: s = "Asynchronous Event Request Limit Exceeded"; break;
		case 0x09: s = "Invalid Log Page"; break;
		case 0x0a: s = "Invalid Format"; break;
		case 0x0d: s = "Feature Identifier Not Saveable"; break;
		}
	} else if (sct == 2) {
		switch (sc) {
		case 0x80: s = "Write Fault"; break;
		case 0x81: s = "Unrecovered Read Error"; break;
		case 0x86: s = "Access Denied"; break;
		}
	}
	snprintf(buf, sizeof(buf), "%s (SCT %u, SC 0x%02x)", s, sct, sc);
	return buf;
}
