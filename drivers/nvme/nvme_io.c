/* SPDX-License-Identifier: BSD-3-Clause */
/* nvme_io.c - building NVM commands (NVMe 1.4 §6): the checks that keep bad
 * input away from the device, with the line saying what is wrong, the command
 * words, and the blocking helper.  nvme_fastpath.c queues what is built here. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nvme_internal.h"
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
