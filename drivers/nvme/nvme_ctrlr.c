/* SPDX-License-Identifier: BSD-3-Clause */
/* nvme_ctrlr.c - bring-up of one NVMe controller: the initialisation of NVMe
 * 1.4 §7.6.1 (CAP/VS, disable, admin queue, enable, Identify, Number of
 * Queues, active namespaces), reset (§7.3.2), shutdown (§7.6.2), Format NVM
 * (§5.23, which changes the namespaces) and what the controller reports. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nvme_internal.h"
#include "udk_eal.h"
#include "udk_mem.h"
#include "udk_util.h"

static uint64_t rd64(const struct udk_nvme_ctrlr *c, uint32_t off)
{
	/* §3.1: 64-bit registers may be accessed as two dwords, low first. */
	return (uint64_t)nvme_rd32(c, off) | (uint64_t)nvme_rd32(c, off + 4) << 32;
}

static void wr64(struct udk_nvme_ctrlr *c, uint32_t off, uint64_t v)
{
	nvme_wr32(c, off, (uint32_t)v);
	nvme_wr32(c, off + 4, (uint32_t)(v >> 32));
}

/* Wait for CSTS.RDY == want, up to CAP.TO (§3.1.1). */
static int wait_rdy(struct udk_nvme_ctrlr *c, uint32_t want, const char *step)
{
	uint64_t end = nvme_now_ns() + (uint64_t)c->info.timeout_ms * 1000000ull;
	uint32_t csts;

	for (;;) {
		csts = nvme_rd32(c, NVME_REG_CSTS);
		if (csts == UINT32_MAX) {
			udk_log(UDK_LOG_ERR, NVME_LOG, "%s: %s: registers read all ones: the "
				"controller is gone", c->info.bdf, step);
			return -ENODEV;
		}
		if ((csts & NVME_CSTS_RDY) == want)
			return 0;
		if (want && (csts & NVME_CSTS_CFS)) {
			udk_log(UDK_LOG_ERR, NVME_LOG, "%s: %s: the controller reports a fatal status "
				"(CSTS 0x%x, CFS = 1); reset it or the PCI function", c->info.bdf,
				step, csts);
			return -UDK_EDEVSTATE;
		}
		if (nvme_now_ns() > end) {
			udk_log(UDK_LOG_ERR, NVME_LOG, "%s: %s: CSTS.RDY did not become %u within "
				"CAP.TO = %u ms (CSTS 0x%x)", c->info.bdf, step, want,
				c->info.timeout_ms, csts);
			return -ETIMEDOUT;
		}
		usleep(1000);
	}
}

static int disable(struct udk_nvme_ctrlr *c)
{
	uint32_t cc = nvme_rd32(c, NVME_REG_CC), csts = nvme_rd32(c, NVME_REG_CSTS);

	/* §3.1.5: clearing EN while RDY is still settling from a previous
	 * enable is undefined; let it settle first (unless it failed: then
	 * clearing EN is the way out, §9.5). */
	if ((cc & NVME_CC_EN) && !(csts & (NVME_CSTS_RDY | NVME_CSTS_CFS)))
		wait_rdy(c, 1, "disable (waiting for a previous enable)");
	nvme_wr32(c, NVME_REG_CC, cc & ~NVME_CC_EN);
	return wait_rdy(c, 0, "disable");
}

static int enable(struct udk_nvme_ctrlr *c)
{
	struct udk_nvme_qpair *a = &c->admin;

	nvme_qpair_reset_ring(a);
	/* §7.6.1 steps 3-5: AQA (0's based sizes), ASQ, ACQ, then CC. */
	nvme_wr32(c, NVME_REG_AQA, (uint32_t)(a->qsize - 1) << 16 | (uint32_t)(a->qsize - 1));
	wr64(c, NVME_REG_ASQ, a->sq_iova);
	wr64(c, NVME_REG_ACQ, a->cq_iova);
	nvme_wr32(c, NVME_REG_CC, NVME_CC_CONFIG);
	nvme_wr32(c, NVME_REG_CC, NVME_CC_CONFIG | NVME_CC_EN);
	return wait_rdy(c, 1, "enable");
}

static int identify(struct udk_nvme_ctrlr *c, uint8_t cns, uint32_t nsid, void *buf)
{
	struct nvme_sqe sqe = {.opc = NVME_ADM_IDENTIFY, .nsid = nsid, .cdw10 = cns};
	char what[48];

	snprintf(what, sizeof(what), "Identify (CNS %u, namespace %u)", cns, nsid);
	return nvme_admin(c, &sqe, buf, NVME_PAGE, NULL, what);
}

static void copy_str(char *dst, const uint8_t *src, size_t len)
{
	/* §1.5: ASCII, left justified, padded with spaces.  Anything else
	 * (escape sequences, C1 bytes, NULs) is the device's, not ASCII: it
	 * becomes '?' so no log line or tool prints it to a terminal. */
	memcpy(dst, src, len);
	dst[len] = '\0';
	while (len > 0 && (dst[len - 1] == ' ' || dst[len - 1] == '\0'))
		dst[--len] = '\0';
	for (size_t k = 0; k < len; k++)
		if ((unsigned char)dst[k] < 0x20 || (unsigned char)dst[k] > 0x7e)
			dst[k] = '?';
}

static void parse_idc(struct udk_nvme_ctrlr *c)
{
	const uint8_t *d = c->idc;
	struct udk_nvme_ctrlr_info *i = &c->info;
	uint8_t mdts = d[NVME_IDC_MDTS];

	memcpy(&i->vid, d + NVME_IDC_VID, 2);
	memcpy(&i->ssvid, d + NVME_IDC_SSVID, 2);
	copy_str(i->serial, d + NVME_IDC_SN, 20);
	copy_str(i->model, d + NVME_IDC_MN, 40);
	copy_str(i->firmware, d + NVME_IDC_FR, 8);
	memcpy(&i->cntlid, d + NVME_IDC_CNTLID, 2);
	memcpy(&i->nn, d + NVME_IDC_NN, 4);
	memcpy(&i->oncs, d + NVME_IDC_ONCS, 2);
	i->elpe = d[NVME_IDC_ELPE];
	i->aerl = d[NVME_IDC_AERL];
	memcpy(&i->sgls, d + NVME_IDC_SGLS, 4);
	i->vwc = d[NVME_IDC_VWC] & 1;
	/* §5.15.2 MDTS: 2^n units of CAP.MPSMIN; 0 = no limit.  One PRP list
	 * page per command caps udk at 2 MiB. */
	i->max_xfer = NVME_MAX_XFER_CAP;
	if (mdts != 0 && mdts < 20) {
		uint64_t m = (uint64_t)NVME_PAGE << NVME_CAP_MPSMIN(i->cap) << mdts;
		if (m < i->max_xfer)
			i->max_xfer = (uint32_t)m;
	}
}

/* A namespace from its Identify data (CNS 00h, one page d): no I/O, so
 * tests/fuzz fuzzes it.  0, or -ENOTSUP (logged) for a block size udk does
 * not handle. */
static int parse_idns(struct udk_nvme_ctrlr *c, uint32_t nsid, const uint8_t *d,
		      struct udk_nvme_ns *ns)
{
	uint32_t lbaf;
	uint8_t lbads;

	ns->ctrlr = c;
	ns->nsid = nsid;
	memcpy(&ns->nsze, d + NVME_IDN_NSZE, 8);
	memcpy(&ns->ncap, d + NVME_IDN_NCAP, 8);
	memcpy(&ns->nuse, d + NVME_IDN_NUSE, 8);
	ns->nlbaf = d[NVME_IDN_NLBAF];
	ns->flbas = d[NVME_IDN_FLBAS];
	memcpy(&lbaf, d + NVME_IDN_LBAF + 4 * (ns->flbas & 0xf), 4);
	ns->ms = (uint16_t)(lbaf & 0xffff);
	lbads = (uint8_t)(lbaf >> 16);
	if (lbads < 9 || lbads > 16) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: namespace %u reports a block size of 2^%u "
			"bytes; udk handles 512 B to 64 KiB", c->info.bdf, nsid, lbads);
		return -ENOTSUP;
	}
	ns->block_shift = lbads;
	ns->block_size = 1u << lbads;
	return 0;
}

/* Identify the active namespaces (CNS 02h) and each of them (CNS 00h). */
static int scan_ns(struct udk_nvme_ctrlr *c)
{
	uint32_t ids[NVME_PAGE / 4], n = 0;
	struct udk_nvme_ns *ns;
	int rc;

	rc = identify(c, NVME_CNS_ACTIVE_NS, 0, c->scratch);
	if (rc < 0)
		return rc;
	memcpy(ids, c->scratch, sizeof(ids));
	while (n < UDK_ARRAY_SIZE(ids) && ids[n] != 0)
		n++;
	ns = calloc(n ? n : 1, sizeof(*ns));
	if (ns == NULL)
		return -ENOMEM;
	for (uint32_t k = 0; k < n; k++) {
		rc = identify(c, NVME_CNS_NS, ids[k], c->scratch);
		if (rc == 0)
			rc = parse_idns(c, ids[k], c->scratch, &ns[k]);
		if (rc < 0)
			goto err;
	}
	/* Handles stay valid across a reset or format that keeps the set. */
	if (c->ns != NULL && n == c->info.nb_active_ns) {
		bool same = true;
		for (uint32_t k = 0; k < n; k++)
			same = same && c->ns[k].nsid == ns[k].nsid;
		if (same) {
			memcpy(c->ns, ns, n * sizeof(*ns));
			free(ns);
			return 0;
		}
	}
	free(c->ns);
	c->ns = ns;
	c->info.nb_active_ns = n;
	return 0;
err:
	free(ns);
	return rc;
}

static int set_num_queues(struct udk_nvme_ctrlr *c)
{
	uint32_t want = c->opts.nb_io_queues - 1u, dw0 = 0, got;
	struct nvme_sqe sqe = {.opc = NVME_ADM_SET_FEATURES, .cdw10 = NVME_FEAT_NUM_QUEUES,
			       .cdw11 = want << 16 | want};
	struct udk_nvme_cpl cpl;
	int rc;

	rc = nvme_admin(c, &sqe, NULL, 0, &cpl, "Set Features (Number of Queues)");
	if (rc < 0)
		return rc;
	dw0 = cpl.dw0;
	/* §5.21.1.7: DW0 = NCQA 31:16, NSQA 15:0, both 0's based. */
	got = (dw0 & 0xffff) < (dw0 >> 16) ? (dw0 & 0xffff) : (dw0 >> 16);
	got += 1;
	if (got > c->opts.nb_io_queues)
		got = c->opts.nb_io_queues;
	if (c->qid_used == NULL) {
		c->qid_used = calloc(got + 1u, 1);
		if (c->qid_used == NULL)
			return -ENOMEM;
		c->info.nb_io_queues = (uint16_t)got;
	} else if (got < c->info.nb_io_queues) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: after the reset the controller grants %u I/O "
			"queues, fewer than the %u before", c->info.bdf, got, c->info.nb_io_queues);
		return -EBUSY;
	}
	return 0;
}

/* Enable, then Identify, queues and namespaces: attach and reset share it. */
static int bring_up(struct udk_nvme_ctrlr *c)
{
	int rc;

	c->failed = false;
	c->admin.failed = false;
	rc = enable(c);
	if (rc < 0)
		return rc;
	rc = identify(c, NVME_CNS_CTRLR, 0, c->idc);
	if (rc < 0)
		return rc;
	parse_idc(c);
	rc = set_num_queues(c);
	if (rc < 0)
		return rc;
	rc = scan_ns(c);
	if (rc < 0)
		return rc;
	return nvme_aer_arm(c);
}

void udk_nvme_ctrlr_opts_init(struct udk_nvme_ctrlr_opts *opts, size_t size)
{
	struct udk_nvme_ctrlr_opts d = {.opts_size = sizeof(d), .admin_qsize = 32,
					.nb_io_queues = 16, .admin_timeout_ms = 10000,
					.timeout_action = UDK_NVME_TIMEOUT_ABORT_RESET};

	if (opts == NULL || size == 0)
		return;
	if (size > sizeof(d))
		size = sizeof(d);
	d.opts_size = size;
	memcpy(opts, &d, size);
}

/* §3.1.1/§3.1.2: is this an NVMe controller udk can drive? */
static int check_cap(struct udk_nvme_ctrlr *c)
{
	uint64_t cap = rd64(c, NVME_REG_CAP);

	if (cap == UINT64_MAX) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: CAP reads all ones: the controller is not "
			"there", c->info.bdf);
		return -ENODEV;
	}
	c->info.cap = cap;
	c->info.vs = nvme_rd32(c, NVME_REG_VS);
	c->info.timeout_ms = NVME_CAP_TO(cap) ? NVME_CAP_TO(cap) * 500u : 500u;
	c->info.max_qsize = NVME_CAP_MQES(cap) + 1u;
	c->dstrd = 4u << NVME_CAP_DSTRD(cap);
	if (c->info.vs < 0x00010000u) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: VS 0x%x is not an NVMe version (1.0 or later)",
			c->info.bdf, c->info.vs);
		return -ENODEV;
	}
	if (!NVME_CAP_CSS_NVM(cap)) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: CAP.CSS does not offer the NVM command set",
			c->info.bdf);
		return -ENOTSUP;
	}
	if (NVME_CAP_MPSMIN(cap) != 0) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: the smallest memory page the controller takes "
			"is %u bytes; udk uses 4 KiB", c->info.bdf, NVME_PAGE << NVME_CAP_MPSMIN(cap));
		return -ENOTSUP;
	}
	if (c->bar_len < NVME_REG_DBS + 2u * (c->opts.nb_io_queues + 1u) * c->dstrd) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: BAR0 (%zu bytes) is too small for %u queue "
			"doorbells", c->info.bdf, c->bar_len, c->opts.nb_io_queues + 1u);
		return -ENOTSUP;
	}
	return 0;
}

/* The controller's own DMA pages (the admin queue pair has its own fini). */
static void free_dma(struct udk_nvme_ctrlr *c)
{
	udk_mem_free(c->mem, c->idc);
	udk_mem_free(c->mem, c->scratch);
	udk_mem_free(c->mem, c->aer_log);
}

int udk_nvme_ctrlr_attach(struct udk_pci_dev *pdev, const struct udk_nvme_ctrlr_opts *opts,
			  struct udk_nvme_ctrlr **out)
{
	struct udk_nvme_ctrlr *c;
	void *bar;
	int rc;

	if (pdev == NULL || out == NULL)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->pdev = pdev;
	udk_pci_addr_format(&udk_pci_dev_info(pdev)->addr, c->info.bdf, sizeof(c->info.bdf));
	udk_nvme_ctrlr_opts_init(&c->opts, sizeof(c->opts));
	if (opts != NULL) {
		if (opts->opts_size == 0 || opts->opts_size > sizeof(c->opts)) {
			rc = -EINVAL;
			goto err_free;
		}
		memcpy(&c->opts, opts, opts->opts_size);
		c->opts.opts_size = sizeof(c->opts);
	}
	if (c->opts.admin_qsize < 2 || c->opts.admin_qsize > 4096 || c->opts.nb_io_queues == 0 ||
	    c->opts.timeout_action > UDK_NVME_TIMEOUT_NONE) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: admin_qsize %u (2..4096), nb_io_queues %u "
			"(at least 1) or timeout_action %u (0..2) out of range", c->info.bdf,
			c->opts.admin_qsize, c->opts.nb_io_queues, c->opts.timeout_action);
		rc = -EINVAL;
		goto err_free;
	}
	/* Queues, PRP lists and the controller's pages come from the memory
	 * of the device's map, whichever map that is. */
	rc = udk_eal_device_mem_get(udk_pci_dev_device(pdev), &c->mem);
	if (rc < 0)
		goto err_free; /* lib/eal said why */
	rc = udk_pci_bar_map(pdev, 0, &bar, &c->bar_len);
	if (rc < 0)
		goto err_mem; /* lib/pci said why */
	c->bar = bar;
	rc = check_cap(c);
	if (rc < 0)
		goto err_mem;
	c->idc = udk_mem_zmalloc(c->mem, NVME_PAGE, NVME_PAGE, UDK_SOCKET_ANY);
	c->scratch = udk_mem_zmalloc(c->mem, NVME_PAGE, NVME_PAGE, UDK_SOCKET_ANY);
	if (c->idc == NULL || c->scratch == NULL) {
		rc = -ENOMEM;
		goto err_dma;
	}
	if (c->opts.admin_qsize > c->info.max_qsize)
		c->opts.admin_qsize = (uint16_t)c->info.max_qsize;
	rc = nvme_qpair_init(&c->admin, c, 0, c->opts.admin_qsize, c->opts.admin_timeout_ms);
	if (rc < 0)
		goto err_dma;
	rc = udk_pci_bus_master(pdev, true);
	if (rc < 0)
		goto err_admin;
	rc = disable(c);
	if (rc < 0)
		goto err_master;
	c->recovering = true; /* a timeout during attach fails it: no Abort, no reset */
	rc = bring_up(c);
	c->recovering = false;
	if (rc < 0)
		goto err_disable;
	udk_log(UDK_LOG_INFO, NVME_LOG, "%s: %s (serial %s, firmware %s), NVMe %u.%u, %u "
		"namespaces active, %u I/O queues", c->info.bdf, c->info.model, c->info.serial,
		c->info.firmware, c->info.vs >> 16, (c->info.vs >> 8) & 0xff,
		c->info.nb_active_ns, c->info.nb_io_queues);
	nvme_remove_hook(c, true);
	nvme_telemetry_add(c);
	*out = c;
	return 0;

err_disable:
	if (disable(c) < 0)
		goto err_leak; /* it may still write into the admin queue: keep it */
err_master:
	udk_pci_bus_master(pdev, false);
err_admin:
	nvme_qpair_fini(&c->admin);
err_dma:
	free_dma(c);
err_mem:
	udk_eal_map_mem_put(c->mem);
err_free:
	free(c->ns);
	free(c->qid_used);
	pthread_mutex_destroy(&c->lock);
	free(c);
	return rc;
err_leak:
	udk_pci_bus_master(pdev, false); /* nor may it DMA anywhere again */
	return rc;
}

void udk_nvme_ctrlr_detach(struct udk_nvme_ctrlr *c)
{
	uint64_t end;

	if (c == NULL)
		return;
	nvme_remove_hook(c, false);
	nvme_telemetry_remove(c);
	while (c->qpairs != NULL)
		udk_nvme_qpair_destroy(c->qpairs);
	if (nvme_ctrlr_removed(c)) {
		/* Gone, and detached from the map: nothing can DMA into its memory. */
		nvme_qpair_fini(&c->admin);
		free_dma(c);
		udk_eal_map_mem_put(c->mem);
		goto out_free;
	}
	/* §7.6.2: normal shutdown, then disable. */
	if (!c->failed) {
		nvme_wr32(c, NVME_REG_CC, nvme_rd32(c, NVME_REG_CC) | NVME_CC_SHN_NORMAL);
		end = nvme_now_ns() + (uint64_t)c->info.timeout_ms * 1000000ull;
		while ((nvme_rd32(c, NVME_REG_CSTS) & NVME_CSTS_SHST_MASK) != NVME_CSTS_SHST_DONE &&
		       nvme_now_ns() < end)
			usleep(1000);
	}
	if (disable(c) == 0) {
		nvme_qpair_fini(&c->admin);
		free_dma(c);
		udk_eal_map_mem_put(c->mem);
	} /* else it may still write into them: memory and heap are left to it */
	udk_pci_bus_master(c->pdev, false);
	nvme_ctrlr_msix_release(c);
out_free:
	free(c->ns);
	free(c->qid_used);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int nvme_ctrlr_reset_locked(struct udk_nvme_ctrlr *c)
{
	bool nested = c->recovering;
	struct udk_nvme_qpair *qp;
	int rc;

	c->recovering = true; /* a timeout during the bring-up is not recovered from */
	/* §7.3.2: CC.EN = 0 deletes every queue; what was in flight is lost. */
	rc = disable(c);
	/* A callback that submits again while its command is being cancelled
	 * gets -UDK_EDEVSTATE, instead of a command the rebuild would drop. */
	for (qp = c->qpairs; qp != NULL; qp = qp->next)
		qp->failed = true;
	for (qp = c->qpairs; qp != NULL; qp = qp->next)
		nvme_qpair_cancel_all(qp);
	nvme_qpair_cancel_all(&c->admin);
	c->aer_armed = 0;
	c->nb_events = 0;
	if (rc < 0)
		goto out;
	rc = bring_up(c);
	for (qp = c->qpairs; rc == 0 && qp != NULL; qp = qp->next) {
		qp->failed = false;
		rc = nvme_ctrlr_create_io_queues(c, qp);
	}
	if (rc == 0)
		udk_log(UDK_LOG_NOTICE, NVME_LOG, "%s: controller reset; queues rebuilt",
			c->info.bdf);
out:
	if (rc < 0)
		c->failed = true;
	c->recovering = nested;
	return rc;
}

int udk_nvme_ctrlr_reset(struct udk_nvme_ctrlr *c)
{
	int rc;

	pthread_mutex_lock(&c->lock);
	rc = nvme_ctrlr_reset_locked(c);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int udk_nvme_ctrlr_health(struct udk_nvme_ctrlr *c)
{
	uint32_t csts = nvme_rd32(c, NVME_REG_CSTS);

	if (nvme_ctrlr_removed(c))
		return -UDK_EREMOVED;
	if (csts == UINT32_MAX) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: CSTS reads all ones: the controller was removed",
			c->info.bdf);
		c->failed = true;
		return -ENODEV;
	}
	if (csts & NVME_CSTS_CFS) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: controller fatal status (CSTS 0x%x, CFS = 1); "
			"reset it with udk_nvme_ctrlr_reset()", c->info.bdf, csts);
		c->failed = true;
		return -UDK_EDEVSTATE;
	}
	if (!(csts & NVME_CSTS_RDY)) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: the controller is not ready (CSTS 0x%x); "
			"reset it with udk_nvme_ctrlr_reset()", c->info.bdf, csts);
		return -UDK_EDEVSTATE;
	}
	return 0;
}

int udk_nvme_ctrlr_info(const struct udk_nvme_ctrlr *c, struct udk_nvme_ctrlr_info *info)
{
	if (c == NULL || info == NULL)
		return -EINVAL;
	*info = c->info;
	return 0;
}

struct udk_mem *udk_nvme_ctrlr_mem(const struct udk_nvme_ctrlr *c)
{
	return c != NULL ? c->mem : NULL;
}

const void *udk_nvme_ctrlr_identify_data(const struct udk_nvme_ctrlr *c)
{
	return c->idc;
}

int udk_nvme_ctrlr_format(struct udk_nvme_ctrlr *c, uint32_t nsid, uint8_t lbaf, uint8_t ses)
{
	/* §5.23: LBAF 3:0, SES 11:9 (no metadata, no protection information). */
	struct nvme_sqe sqe = {.opc = NVME_ADM_FORMAT, .nsid = nsid,
			       .cdw10 = (lbaf & 0xfu) | (uint32_t)(ses & 7) << 9};
	int rc;

	if (lbaf > 15 || ses > 2) {
		udk_log(UDK_LOG_ERR, NVME_LOG, "%s: format: LBA format %u (0..15) or secure erase "
			"%u (0..2) out of range", c->info.bdf, lbaf, ses);
		return -EINVAL;
	}
	pthread_mutex_lock(&c->lock);
	rc = nvme_admin(c, &sqe, NULL, 0, NULL, "Format NVM");
	if (rc == 0)
		rc = scan_ns(c);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

uint32_t udk_nvme_ctrlr_active_ns(const struct udk_nvme_ctrlr *c, uint32_t *nsids, uint32_t max)
{
	for (uint32_t i = 0; i < c->info.nb_active_ns && i < max; i++)
		nsids[i] = c->ns[i].nsid;
	return c->info.nb_active_ns;
}

int udk_nvme_ctrlr_ns(struct udk_nvme_ctrlr *c, uint32_t nsid, struct udk_nvme_ns **ns)
{
	char list[64] = "";
	size_t off = 0;

	for (uint32_t i = 0; i < c->info.nb_active_ns; i++)
		if (c->ns[i].nsid == nsid) {
			*ns = &c->ns[i];
			return 0;
		}
	for (uint32_t i = 0; i < c->info.nb_active_ns && off + 12 < sizeof(list); i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%u", i ? "," : "",
					c->ns[i].nsid);
	udk_log(UDK_LOG_ERR, NVME_LOG, "%s: namespace %u is not active on this controller "
		"(active: %s)", c->info.bdf, nsid, off ? list : "none");
	return -ENOENT;
}

int udk_nvme_ns_info(const struct udk_nvme_ns *ns, struct udk_nvme_ns_info *info)
{
	if (ns == NULL || info == NULL)
		return -EINVAL;
	*info = (struct udk_nvme_ns_info){.nsid = ns->nsid, .nsze = ns->nsze, .ncap = ns->ncap,
					  .nuse = ns->nuse, .block_size = ns->block_size,
					  .ms = ns->ms, .nlbaf = ns->nlbaf, .flbas = ns->flbas};
	return 0;
}
