/* SPDX-License-Identifier: BSD-3-Clause */
/* probe_nvme.c - identify an NVMe controller through VFIO: its registers
 * (NVMe 1.4 §3.1), then, unless --no-dma, an admin queue pair just long
 * enough for one Identify Controller (§5.15), in pages of our own mapped into
 * the device's map, and the controller disabled again.  The NVMe driver
 * proper is drivers/nvme; this is the smallest correct sequence (§7.6.1),
 * written with the driver's own register and queue entry definitions
 * (drivers/nvme/nvme_spec.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nvme_spec.h"
#include "probe.h"
#include "udk_util.h"

#define PROBE_QD 2 /* the smallest admin queue (AQA is 0's based, >= 1) */

/* Our three pages: the admin SQ, the admin CQ, the Identify data. */
struct probe_dma {
	uint8_t *va;
	uint64_t iova;
	struct udk_dmamap *map;
	bool mapped;
};

static uint64_t rd64(const volatile void *bar, uint32_t off)
{
	/* Two dword reads, low first (§3.1: 64-bit registers may be read as two
	 * 32-bit accesses). */
	return (uint64_t)probe_rd32(bar, off) | (uint64_t)probe_rd32(bar, off + 4) << 32;
}

static void wr64(volatile void *bar, uint32_t off, uint64_t v)
{
	probe_wr32(bar, off, (uint32_t)v);
	probe_wr32(bar, off + 4, (uint32_t)(v >> 32));
}

/* Wait for CSTS.RDY == want, up to CAP.TO (§3.1.1: the worst case time for
 * RDY to follow CC.EN).  0, -ETIMEDOUT or -EIO (fatal status). */
static int wait_rdy(const volatile void *bar, const struct probe_nvme *n, uint32_t want)
{
	uint64_t end = probe_now_us() + (uint64_t)(n->to_ms ? n->to_ms : 500) * 1000u;
	uint32_t csts;

	for (;;) {
		csts = probe_rd32(bar, NVME_REG_CSTS);
		if (csts == 0xffffffffu)
			return -ENODEV; /* the device is gone */
		if ((csts & NVME_CSTS_RDY) == want)
			return 0;
		if (want && (csts & NVME_CSTS_CFS))
			return -EIO;
		if (probe_now_us() > end)
			return -ETIMEDOUT;
		usleep(1000);
	}
}

static void copy_trimmed(char *dst, const uint8_t *src, size_t len)
{
	/* §5.15.2: ASCII strings, left justified, padded with spaces. */
	memcpy(dst, src, len);
	dst[len] = '\0';
	while (len > 0 && (dst[len - 1] == ' ' || dst[len - 1] == '\0'))
		dst[--len] = '\0';
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)dst[i] < 0x20 || (unsigned char)dst[i] > 0x7e)
			dst[i] = '?';
}

static int dma_setup(struct udk_pci_dev *pdev, struct probe_result *r, struct probe_dma *d)
{
	int rc;

	d->map = udk_device_map(udk_pci_dev_device(pdev));
	d->va = mmap(NULL, 3 * NVME_PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (d->va == MAP_FAILED) {
		d->va = NULL;
		rc = -errno;
		return probe_fail(r, rc, "Identify: mmap of 12 KiB for the admin queues: %s",
				  udk_strerror(rc));
	}
	rc = udk_dmamap_map(d->map, d->va, 3 * NVME_PAGE, &d->iova);
	if (rc < 0)
		return rc; /* the map said why */
	d->mapped = true;
	return 0;
}

/* Unmap only once the controller can no longer reach the pages; if it could
 * not be disabled, leave them mapped and allocated (the map goes away with
 * the device, which VFIO resets at close). */
static void dma_teardown(struct probe_dma *d, bool quiesced)
{
	if (!quiesced)
		return;
	if (d->mapped && udk_dmamap_unmap(d->map, d->va, 3 * NVME_PAGE) < 0)
		return;
	if (d->va != NULL)
		munmap(d->va, 3 * NVME_PAGE);
}

static int identify(volatile void *bar, struct probe_result *r, struct probe_dma *d)
{
	struct probe_nvme *n = &r->u.nvme;
	struct nvme_sqe *sq = (struct nvme_sqe *)d->va;
	volatile struct nvme_cqe *cq = (volatile struct nvme_cqe *)(d->va + NVME_PAGE);
	const uint8_t *id = d->va + 2 * NVME_PAGE;
	uint64_t t0, end;
	uint16_t status;
	int rc;

	/* §7.6.1 steps 3-6: admin queue attributes and bases, then CC.EN. */
	probe_wr32(bar, NVME_REG_AQA, (PROBE_QD - 1) << 16 | (PROBE_QD - 1));
	wr64(bar, NVME_REG_ASQ, d->iova);
	wr64(bar, NVME_REG_ACQ, d->iova + NVME_PAGE);
	probe_wr32(bar, NVME_REG_CC, NVME_CC_CONFIG | NVME_CC_EN);
	rc = wait_rdy(bar, n, 1);
	if (rc < 0)
		return probe_fail(r, rc, "Identify: the controller did not become ready in %u ms "
				  "(CSTS 0x%x)", n->to_ms, probe_rd32(bar, NVME_REG_CSTS));

	memset(&sq[0], 0, sizeof(sq[0]));
	sq[0].opc = NVME_ADM_IDENTIFY;
	sq[0].cid = 1;
	sq[0].prp1 = d->iova + 2 * NVME_PAGE; /* 4 KiB, page aligned: PRP1 only */
	sq[0].cdw10 = NVME_CNS_CTRLR;
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* the entry before the doorbell */
	t0 = probe_now_us();
	probe_wr32(bar, NVME_REG_DBS, 1); /* SQ 0 tail = 1 (§3.1.24) */

	end = t0 + 5000000u;
	while ((cq[0].status & 1) != 1) { /* §4.6: phase tag 1 on the first pass */
		if (probe_now_us() > end)
			return probe_fail(r, -ETIMEDOUT, "Identify: no completion in 5 s "
					  "(CSTS 0x%x)", probe_rd32(bar, NVME_REG_CSTS));
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	n->identify_us = probe_now_us() - t0;
	status = cq[0].status >> 1;
	/* CQ 0 head = 1 (§3.1.25: at 1000h + 1 * (4 << CAP.DSTRD)). */
	probe_wr32(bar, NVME_REG_DBS + n->dstrd, 1);
	if (status != 0)
		return probe_fail(r, -EIO, "Identify: completed with status 0x%x (SCT %u, SC 0x%x)",
				  status, (status >> 8) & 0x7, status & 0xff);

	/* §5.15.2, Figure 247: the Identify Controller data structure. */
	copy_trimmed(n->serial, id + NVME_IDC_SN, 20);
	copy_trimmed(n->model, id + NVME_IDC_MN, 40);
	copy_trimmed(n->firmware, id + NVME_IDC_FR, 8);
	memcpy(&n->cntlid, id + NVME_IDC_CNTLID, 2);
	memcpy(&n->ver, id + NVME_IDC_VER, 4);
	memcpy(&n->nn, id + NVME_IDC_NN, 4);
	n->identified = true;
	return 0;
}

/* Why Identify must not run on this controller, or NULL. */
static const char *identify_refusal(const struct probe_nvme *n, char *buf, size_t len)
{
	if (n->cc & NVME_CC_EN || n->csts & NVME_CSTS_RDY) {
		snprintf(buf, len, "the controller is enabled (CC 0x%x, CSTS 0x%x): left alone",
			 n->cc, n->csts);
		return buf;
	}
	if (!n->css_nvm)
		return "CAP.CSS does not offer the NVM command set";
	if (n->mps_min > NVME_PAGE) {
		snprintf(buf, len, "the smallest controller page (%llu bytes) is larger than 4 KiB",
			 (unsigned long long)n->mps_min);
		return buf;
	}
	return NULL;
}

int probe_nvme(struct udk_pci_dev *pdev, struct probe_result *r, bool no_dma)
{
	struct probe_nvme *n = &r->u.nvme;
	struct probe_dma d = {0};
	const char *why;
	char whybuf[128];
	bool quiesced = true;
	void *va;
	size_t len;
	int rc, rc2;

	rc = udk_pci_bar_map(pdev, 0, &va, &len);
	if (rc < 0)
		return rc;
	if (len < NVME_REG_DBS + 8)
		return probe_fail(r, -ENOTSUP, "BAR0 is %zu bytes: too small for NVMe registers",
				  len);
	volatile void *bar = va;

	/* §3.1.1 CAP */
	n->cap = rd64(bar, NVME_REG_CAP);
	n->mqes = NVME_CAP_MQES(n->cap) + 1;
	n->to_ms = NVME_CAP_TO(n->cap) * 500;
	n->dstrd = 4u << NVME_CAP_DSTRD(n->cap);
	n->css_nvm = NVME_CAP_CSS_NVM(n->cap);
	n->mps_min = 1ull << (12 + NVME_CAP_MPSMIN(n->cap));
	n->mps_max = 1ull << (12 + NVME_CAP_MPSMAX(n->cap));
	n->vs = probe_rd32(bar, NVME_REG_VS);                   /* §3.1.2 */
	n->cc = probe_rd32(bar, NVME_REG_CC);                   /* §3.1.5 */
	n->csts = probe_rd32(bar, NVME_REG_CSTS);               /* §3.1.6 */
	if (n->cap == ~0ull)
		return probe_fail(r, -ENODEV, "BAR0 reads all ones: the controller is not there");

	why = no_dma ? "--no-dma" : identify_refusal(n, whybuf, sizeof(whybuf));
	if (why != NULL) {
		snprintf(n->identify_skipped, sizeof(n->identify_skipped), "%s", why);
		return 0;
	}

	rc = dma_setup(pdev, r, &d);
	if (rc < 0)
		goto out;
	rc = udk_pci_bus_master(pdev, true);
	if (rc < 0)
		goto out;
	rc = identify(bar, r, &d);

	/* §7.6.1 in reverse: CC.EN = 0 resets the controller and deletes the
	 * admin queues (§7.3.2); only after RDY = 0 may the pages go. */
	probe_wr32(bar, NVME_REG_CC, 0);
	rc2 = wait_rdy(bar, n, 0);
	if (rc2 < 0) {
		quiesced = false;
		if (rc == 0)
			rc = probe_fail(r, rc2, "the controller did not become disabled in %u ms "
					"(CSTS 0x%x); its queue memory stays mapped until close",
					n->to_ms, probe_rd32(bar, NVME_REG_CSTS));
	}
	rc2 = udk_pci_bus_master(pdev, (r->command & 0x4) != 0);
	if (rc == 0)
		rc = rc2;
out:
	dma_teardown(&d, quiesced);
	return rc;
}
