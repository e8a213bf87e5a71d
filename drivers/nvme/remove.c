/* SPDX-License-Identifier: BSD-3-Clause */
/* remove.c - surprise removal of an NVMe controller (doc/hotplug.md).
 * lib/pci's hot-plug thread calls nvme_on_remove() when the kernel asks for
 * the device back; it only raises the controller's flags.  Each qpair's own
 * thread then notices them in udk_nvme_qpair_poll() (on a poll that found no
 * completion, where the flag costs one load) and completes every command it
 * still holds with -UDK_EREMOVED; new submissions fail with -UDK_EREMOVED.
 * lib/pci has meanwhile swapped BAR0 for memory reading all ones, so a
 * doorbell written late lands nowhere. */
#include "nvme_internal.h"
#include "udk_util.h"

static void nvme_on_remove(struct udk_pci_dev *pdev, void *arg)
{
	struct udk_nvme_ctrlr *c = arg;

	(void)pdev;
	__atomic_store_n(&c->removed, true, __ATOMIC_RELEASE);
	__atomic_store_n(&c->failed, true, __ATOMIC_RELEASE);
	udk_log(UDK_LOG_NOTICE, NVME_LOG, "%s: controller removed: its commands complete with "
		"UDK_EREMOVED and new ones are refused; detach it with udk_nvme_ctrlr_detach()",
		c->info.bdf);
}

void nvme_remove_hook(struct udk_nvme_ctrlr *c, bool on)
{
	udk_pci_dev_set_remove_handler(c->pdev, on ? nvme_on_remove : NULL, on ? c : NULL);
	if (on && udk_pci_dev_removed(c->pdev))
		nvme_on_remove(c->pdev, c); /* removed while it was being attached */
}

bool nvme_ctrlr_removed(const struct udk_nvme_ctrlr *c)
{
	return __atomic_load_n(&c->removed, __ATOMIC_ACQUIRE);
}

void nvme_qpair_removed(struct udk_nvme_qpair *qp)
{
	struct udk_nvme_cpl cpl = {.rc = -UDK_EREMOVED};

	qp->failed = true;
	for (uint16_t i = 0; i + 1 < qp->qsize; i++) {
		struct nvme_req *r = &qp->reqs[i];
		uint8_t st = r->state;

		if (st == REQ_FREE)
			continue;
		/* Free the slot first: the callback may try to submit again (and
		 * be refused). */
		r->state = REQ_FREE;
		qp->free_cids[qp->nb_free++] = i;
		if (st == REQ_BUSY) {
			qp->in_flight--;
			if (r->cb != NULL)
				r->cb(r->arg, &cpl);
		} else {
			qp->timed_out--;
		}
	}
}
