/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_nvme_sgl: data through SGLs (NVMe 1.4 §4.4) and PRPs (§4.3) on QEMU's
 * NVMe, each side checking the other.  Three qpairs: SGLs always, PRPs only,
 * and auto (SGLs above one page).  Data written through one is read back
 * through another and compared, from heap buffers that start mid-page, and
 * from a buffer that is contiguous in virtual memory only: 64 pages of
 * anonymous memory registered page by page in reverse order, so that no two
 * neighbouring pages are neighbours in IOVA space (checked), which makes the
 * SGL a Last Segment with a Data Block per page.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "labnvme.h"
#include "labutil.h"
#include "udk_dma.h"
#include "udk_eal.h"
#include "udk_mem.h"
#include "udk_nvme.h"
#include "udk_util.h"

#define LBA0 400000u /* a region no other lab test writes */
#define PAGES 64

static void fill(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i += 4) {
		uint32_t v = seed * 2654435761u ^ (uint32_t)i;
		memcpy(p + i, &v, 4);
	}
}

/* Write len bytes at lba through wq from src, read them through rq into dst. */
static int cross(struct udk_nvme_qpair *wq, struct udk_nvme_qpair *rq, struct udk_nvme_ns *ns,
		 uint8_t *src, uint8_t *dst, size_t len, uint64_t lba, uint32_t seed)
{
	uint32_t nlb = (uint32_t)(len / 512);

	fill(src, len, seed);
	memset(dst, 0, len);
	if (udk_nvme_ns_io_sync(wq, ns, UDK_NVME_IO_WRITE, src, lba, nlb, NULL) != 0)
		return -1;
	if (udk_nvme_ns_io_sync(rq, ns, UDK_NVME_IO_READ, dst, lba, nlb, NULL) != 0)
		return -2;
	return memcmp(src, dst, len) == 0 ? 0 : -3;
}

int main(void)
{
	struct udk_nvme_qpair *qs, *qp, *qa;
	struct udk_nvme_ctrlr_info info;
	struct udk_nvme_qpair_opts o;
	struct udk_nvme_ctrlr *c;
	struct udk_nvme_ns *ns;
	uint8_t *a, *b, *scat;
	char drv[64] = "";
	const char *bdf;
	size_t len;
	int rc;

	bdf = lab_nvme_eal_init("64", drv, sizeof(drv));
	REQUIRE(udk_nvme_ctrlr_attach(udk_eal_device(0), NULL, &c) == 0);
	REQUIRE(udk_nvme_ctrlr_ns(c, 1, &ns) == 0);
	REQUIRE(udk_nvme_ctrlr_info(c, &info) == 0);
	printf("Identify SGLS 0x%08x, max transfer %u bytes\n", info.sgls, info.max_xfer);
	REQUIRE((info.sgls & 3) != 0);
	len = info.max_xfer < PAGES * 4096u ? info.max_xfer : PAGES * 4096u;

	qs = lab_nvme_qpair(c, UDK_NVME_SGL_ALWAYS);
	qp = lab_nvme_qpair(c, UDK_NVME_SGL_NEVER);
	qa = lab_nvme_qpair(c, UDK_NVME_SGL_AUTO);
	udk_nvme_qpair_opts_init(&o, sizeof(o));
	o.sgl = 7;
	CHECK(udk_nvme_qpair_create(c, &o, &qp) == -EINVAL);

	/* Heap buffers from mid-page (contiguous in IOVA: one Data Block). */
	a = udk_mem_default_zmalloc(len + 4096, 4096, UDK_SOCKET_ANY);
	b = udk_mem_default_zmalloc(len + 4096, 4096, UDK_SOCKET_ANY);
	REQUIRE(a != NULL && b != NULL);
	rc = cross(qs, qp, ns, a + 512, b + 1024, len, LBA0, 1);
	printf("heap, %zu bytes: SGL write, PRP read: %d\n", len, rc);
	CHECK(rc == 0);
	rc = cross(qp, qs, ns, a + 2048, b + 4, len, LBA0 + 2048, 2);
	printf("heap: PRP write, SGL read: %d\n", rc);
	CHECK(rc == 0);
	rc = cross(qa, qs, ns, a, b, 4096, LBA0 + 4096, 3);
	printf("heap, one page: auto (PRP) write, SGL read: %d\n", rc);
	CHECK(rc == 0);
	rc = cross(qs, qa, ns, a + 4, b, 512, LBA0 + 4200, 4);
	printf("heap, 512 bytes: SGL write, auto read: %d\n", rc);
	CHECK(rc == 0);

	/* A buffer in 64 pieces of IOVA space. */
	int adjacent;

	scat = lab_scattered_pages(PAGES, &adjacent);
	printf("registered buffer: page 0 at IOVA 0x%llx, page 1 at 0x%llx; %d of %d neighbours "
	       "adjacent in IOVA space\n", (unsigned long long)udk_virt2iova(scat),
	       (unsigned long long)udk_virt2iova(scat + 4096), adjacent, PAGES - 1);
	CHECK(adjacent == 0);
	rc = cross(qs, qp, ns, scat, b, len, LBA0 + 8192, 5);
	printf("scattered, %zu bytes: SGL write (Last Segment), PRP read: %d\n", len, rc);
	CHECK(rc == 0);
	rc = cross(qp, qs, ns, a, scat, len, LBA0 + 8192, 6);
	printf("scattered: PRP write, SGL read into it: %d\n", rc);
	CHECK(rc == 0);
	rc = cross(qa, qa, ns, scat + 512, b, len - 4096, LBA0 + 12288, 7);
	printf("scattered from mid-page: auto (SGL) both ways: %d\n", rc);
	CHECK(rc == 0);
	rc = cross(qs, qs, ns, a + 4, scat + 4, 8192, LBA0 + 12800, 8);
	printf("scattered, 8 KiB from byte 4: SGL write and read: %d\n", rc);
	CHECK(rc == 0);

	udk_nvme_qpair_destroy(qs);
	udk_nvme_qpair_destroy(qp);
	udk_nvme_qpair_destroy(qa);
	lab_scattered_free(scat, PAGES);
	udk_nvme_ctrlr_detach(c);
	udk_mem_default_free(a);
	udk_mem_default_free(b);
	udk_eal_cleanup();
	lab_bind(bdf, drv);
	return lab_result();
}
