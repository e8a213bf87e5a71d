/* SPDX-License-Identifier: BSD-3-Clause */
/* nvme_aer.c - Asynchronous Event Requests (NVMe 1.4 §5.2): kept outstanding
 * on the admin queue (up to AERL + 1), their completions decoded, the log
 * page each names read (which clears the event, §5.14.1), the user told
 * and a new request submitted.  Everything here runs with the controller's
 * lock held: the admin queue belongs to control calls. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nvme_internal.h"
#include "udk_mem.h"
#include "udk_util.h"

#define AER_LOG_BYTES 512 /* enough for SMART (512) and eight error entries */

static void aer_done(void *arg, const struct udk_nvme_cpl *cpl)
{
	struct udk_nvme_ctrlr *c = arg;

	c->aer_armed--;
	if (cpl->rc == -ECANCELED)
		return; /* reset or detach: bring-up arms them again */
	if (cpl->rc != 0) {
		/* e.g. Asynchronous Event Request Limit Exceeded: do not re-arm it. */
		if (c->aer_limit > 0)
			c->aer_limit--;
		udk_log(UDK_LOG_WARN, NVME_LOG, "%s: an Asynchronous Event Request failed: %s; "
			"%u stay outstanding", c->info.bdf, udk_nvme_status_str(cpl->status),
			c->aer_limit);
		return;
	}
	if (c->nb_events < NVME_AER_MAX)
		c->events[c->nb_events++] = cpl->dw0;
}

static int submit_aers(struct udk_nvme_ctrlr *c)
{
	while (c->aer_armed < c->aer_limit) {
		struct nvme_sqe sqe = {.opc = NVME_ADM_AER};
		int rc = nvme_qpair_submit(&c->admin, &sqe, NULL, 0, aer_done, c, REQ_F_NO_TIMEOUT);

		if (rc < 0)
			return rc;
		c->aer_armed++;
	}
	udk_nvme_qpair_poll(&c->admin, 0); /* rings the doorbell */
	return 0;
}

int nvme_aer_arm(struct udk_nvme_ctrlr *c)
{
	uint32_t oaes, aec;
	uint16_t limit;

	c->aer_armed = 0;
	c->nb_events = 0;
	c->info.nb_aer = 0;
	if (c->opts.no_aer)
		return 0;
	if (c->aer_log == NULL) {
		c->aer_log = udk_mem_zmalloc(c->mem, NVME_PAGE, NVME_PAGE, UDK_SOCKET_ANY);
		if (c->aer_log == NULL) {
			udk_log(UDK_LOG_ERR, NVME_LOG, "%s: no DMA memory for the event log page; "
				"reserve more hugepages", c->info.bdf);
			return -ENOMEM;
		}
	}
	/* §5.21.1.11: every SMART critical warning, and the notices OAES offers
	 * that udk can clear by reading their log (namespace attribute 04h,
	 * firmware activation 03h). */
	memcpy(&oaes, c->idc + NVME_IDC_OAES, 4);
	aec = 0xffu | (oaes & (1u << 8 | 1u << 9));
	struct nvme_sqe sqe = {.opc = NVME_ADM_SET_FEATURES, .cdw10 = NVME_FEAT_AEC, .cdw11 = aec};
	if (nvme_admin(c, &sqe, NULL, 0, NULL, "Set Features (Asynchronous Event Configuration)") < 0)
		udk_log(UDK_LOG_WARN, NVME_LOG, "%s: events stay as the controller configured them",
			c->info.bdf);
	/* Keep two admin slots for commands: AERs never complete on their own. */
	limit = (uint16_t)(c->info.aerl + 1u);
	if (limit > NVME_AER_MAX)
		limit = NVME_AER_MAX;
	if (limit + 2 > c->admin.qsize - 1)
		limit = c->admin.qsize > 3 ? (uint16_t)(c->admin.qsize - 3) : 0;
	c->aer_limit = limit;
	c->info.nb_aer = limit;
	return submit_aers(c);
}

static const char *type_str(uint8_t type)
{
	switch (type) {
	case UDK_NVME_AER_ERROR: return "error";
	case UDK_NVME_AER_SMART: return "SMART/health";
	case UDK_NVME_AER_NOTICE: return "notice";
	case UDK_NVME_AER_IO: return "I/O command set";
	case UDK_NVME_AER_VENDOR: return "vendor specific";
	default: return "reserved type";
	}
}

/* §5.2.1, Figures 147-150: the event information of each type. */
static const char *info_str(uint8_t type, uint8_t info)
{
	static const char *err[] = {"write to invalid doorbell", "invalid doorbell value",
				    "diagnostic failure", "persistent internal error",
				    "transient internal error", "firmware image load error"};
	static const char *smart[] = {"reliability degraded", "temperature threshold",
				      "spare below threshold"};
	static const char *notice[] = {"namespace attribute changed",
				       "firmware activation starting", "telemetry log changed",
				       "ANA change", "predictable latency event",
				       "LBA status information alert",
				       "endurance group event aggregate log change"};

	if (type == UDK_NVME_AER_ERROR && info < UDK_ARRAY_SIZE(err))
		return err[info];
	if (type == UDK_NVME_AER_SMART && info < UDK_ARRAY_SIZE(smart))
		return smart[info];
	if (type == UDK_NVME_AER_NOTICE && info < UDK_ARRAY_SIZE(notice))
		return notice[info];
	return "unknown event";
}

const char *udk_nvme_aer_str(const struct udk_nvme_aer *ev)
{
	static __thread char buf[128];

	snprintf(buf, sizeof(buf), "%s: %s (type %u, info 0x%02x, log 0x%02x)",
		 type_str(ev->type), info_str(ev->type, ev->info), ev->type, ev->info,
		 ev->log_page);
	return buf;
}

void nvme_aer_handle(struct udk_nvme_ctrlr *c)
{
	while (c->nb_events > 0) {
		uint32_t dw0 = c->events[0];
		/* §5.2.1: type 2:0, information 15:8, log page 23:16. */
		struct udk_nvme_aer ev = {.type = dw0 & 7, .info = (uint8_t)(dw0 >> 8),
					  .log_page = (uint8_t)(dw0 >> 16), .dw0 = dw0,
					  .log = c->aer_log};
		uint32_t numd = AER_LOG_BYTES / 4 - 1;
		/* RAE (bit 15) = 0: reading the page ends the event, and the
		 * controller may report that type again. */
		struct nvme_sqe sqe = {.opc = NVME_ADM_GET_LOG, .nsid = 0xffffffffu,
				       .cdw10 = ev.log_page | numd << 16};

		memmove(c->events, c->events + 1, (size_t)(c->nb_events - 1) * sizeof(c->events[0]));
		c->nb_events--;
		memset(c->aer_log, 0, AER_LOG_BYTES);
		ev.log_rc = nvme_admin(c, &sqe, c->aer_log, AER_LOG_BYTES, NULL,
				       "Get Log Page for an asynchronous event");
		c->nb_aer_events++;
		udk_log(UDK_LOG_NOTICE, NVME_LOG, "%s: asynchronous event: %s", c->info.bdf,
			udk_nvme_aer_str(&ev));
		if (c->aer_cb != NULL)
			c->aer_cb(c->aer_arg, c, &ev);
	}
	if (!c->failed && !c->opts.no_aer)
		submit_aers(c);
}

void udk_nvme_ctrlr_register_aer_cb(struct udk_nvme_ctrlr *c, udk_nvme_aer_cb cb, void *arg)
{
	pthread_mutex_lock(&c->lock);
	c->aer_cb = cb;
	c->aer_arg = arg;
	pthread_mutex_unlock(&c->lock);
}

int udk_nvme_ctrlr_process_admin(struct udk_nvme_ctrlr *c)
{
	int n;

	pthread_mutex_lock(&c->lock);
	if (c->failed) {
		pthread_mutex_unlock(&c->lock);
		return -UDK_EDEVSTATE;
	}
	udk_nvme_qpair_poll(&c->admin, 0);
	n = c->nb_events;
	nvme_aer_handle(c);
	pthread_mutex_unlock(&c->lock);
	return n;
}
