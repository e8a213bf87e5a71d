/* SPDX-License-Identifier: BSD-3-Clause */
/* nvme_admin.c - admin commands (NVMe 1.4 §5) on the controller's admin
 * queue: the waited-for command every control call uses, the passthrough,
 * log pages and features, and a completion's status as words.  Format NVM,
 * which changes the namespaces, is nvme_ctrlr.c's. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nvme_internal.h"
#include "udk_util.h"

/* An admin command, waited for; the caller holds c->lock (or owns c). */
int nvme_admin(struct udk_nvme_ctrlr *c, struct nvme_sqe *sqe, void *buf, size_t len,
	       struct udk_nvme_cpl *cpl, const char *what)
{
	struct udk_nvme_cpl local;
	int rc;

	if (cpl == NULL)
		cpl = &local;
	memset(cpl, 0, sizeof(*cpl));
	rc = nvme_qpair_exec(&c->admin, sqe, buf, len, cpl);
	if (rc == -EIO)
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: %s failed: %s", c->info.bdf, what,
			udk_nvme_status_str(cpl->status));
	else if (rc == -ETIMEDOUT)
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: %s: no completion within %u ms (CSTS 0x%x%s)",
			c->info.bdf, what, c->opts.admin_timeout_ms, nvme_rd32(c, NVME_REG_CSTS),
			c->failed ? ", fatal status: reset the controller" : "");
	else if (rc == -UDK_ENOTMAPPED)
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: %s: buffer %p is not DMA memory of the "
			"controller's map; allocate it from udk_nvme_ctrlr_mem()", c->info.bdf, what,
			buf);
	else if (rc == -EINVAL || rc == -E2BIG)
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: %s: buffer %p (%zu bytes) is unaligned or "
			"larger than %u bytes", c->info.bdf, what, buf, len, NVME_MAX_XFER_CAP);
	return rc;
}

int udk_nvme_ctrlr_admin(struct udk_nvme_ctrlr *c, const struct udk_nvme_cmd *cmd, void *buf,
			 size_t len, struct udk_nvme_cpl *cpl)
{
	struct nvme_sqe sqe;
	char what[32];
	int rc;

	_Static_assert(sizeof(struct udk_nvme_cmd) == sizeof(struct nvme_sqe), "64 bytes");
	memcpy(&sqe, cmd, sizeof(sqe));
	snprintf(what, sizeof(what), "admin command 0x%02x", cmd->opc);
	pthread_mutex_lock(&c->lock);
	rc = nvme_admin(c, &sqe, buf, len, cpl, what);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int udk_nvme_ctrlr_get_log_page(struct udk_nvme_ctrlr *c, uint8_t lid, uint32_t nsid, void *buf,
				size_t len)
{
	uint32_t numd = (uint32_t)(len / 4) - 1; /* 0's based dwords */
	struct nvme_sqe sqe = {.opc = NVME_ADM_GET_LOG, .nsid = nsid,
			       .cdw10 = lid | (numd & 0xffff) << 16, .cdw11 = numd >> 16};
	char what[40];
	int rc;

	if (len == 0 || len % 4) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: Get Log Page %u: length %zu is not a non-zero "
			"multiple of 4", c->info.bdf, lid, len);
		return -EINVAL;
	}
	snprintf(what, sizeof(what), "Get Log Page 0x%02x", lid);
	pthread_mutex_lock(&c->lock);
	rc = nvme_admin(c, &sqe, buf, len, NULL, what);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static int features(struct udk_nvme_ctrlr *c, uint8_t opc, uint8_t fid, uint32_t cdw11,
		    uint32_t *dw0)
{
	struct nvme_sqe sqe = {.opc = opc, .cdw10 = fid, .cdw11 = cdw11};
	struct udk_nvme_cpl cpl;
	char what[40];
	int rc;

	snprintf(what, sizeof(what), "%s Features 0x%02x",
		 opc == NVME_ADM_SET_FEATURES ? "Set" : "Get", fid);
	pthread_mutex_lock(&c->lock);
	rc = nvme_admin(c, &sqe, NULL, 0, &cpl, what);
	pthread_mutex_unlock(&c->lock);
	if (rc == 0 && dw0 != NULL)
		*dw0 = cpl.dw0;
	return rc;
}

int udk_nvme_ctrlr_set_features(struct udk_nvme_ctrlr *c, uint8_t fid, uint32_t cdw11,
				uint32_t *dw0)
{
	return features(c, NVME_ADM_SET_FEATURES, fid, cdw11, dw0);
}

int udk_nvme_ctrlr_get_features(struct udk_nvme_ctrlr *c, uint8_t fid, uint32_t cdw11,
				uint32_t *dw0)
{
	return features(c, NVME_ADM_GET_FEATURES, fid, cdw11, dw0);
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
		case 0x08: s = "Invalid Interrupt Vector"; break;
		case 0x09: s = "Invalid Log Page"; break;
		case 0x0a: s = "Invalid Format"; break;
		case 0x0d: s = "Feature Identifier Not Saveable"; break;
		case 0x0e: s = "Feature Not Changeable"; break;
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
