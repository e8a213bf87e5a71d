/* SPDX-License-Identifier: BSD-3-Clause */
/* test_nvme.c - drivers/nvme without a device: PRPs (NVMe 1.4 §4.3) from a
 * fake translation, the checks that refuse bad I/O with their messages, the
 * command words of §6, and the queue pair's logic on rings in plain memory
 * (no doorbell before the poll and one per batch, the phase tag across the
 * wrap, error status, timeouts, cancellation). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <stddef.h>
#include <unistd.h>

#include "nvme_dptr.h"
#include "nvme_internal.h"
#include "udk_mem.h"
#include "../common/unit.h"

#define FAKE_IOVA_BASE 0x100000000ull

static uintptr_t hole_start, hole_end; /* a range fake_v2i cannot translate */

static uint64_t fake_v2i(void *ctx, const void *p)
{
	uintptr_t v = (uintptr_t)p;

	(void)ctx;
	if (v >= hole_start && v < hole_end)
		return UDK_IOVA_BAD;
	return FAKE_IOVA_BASE + v;
}

static void test_prp(void)
{
	uint8_t *mem = aligned_alloc(4096, 3u << 20);
	uint64_t list[512] = {0};
	struct nvme_sqe sqe;

	CU_ASSERT_FATAL(mem != NULL);
	hole_start = hole_end = 0;
	/* One page: PRP1 only. */
	CU_ASSERT(nvme_build_prps(&sqe, mem, 4096, list, 0x77000, fake_v2i, NULL) == 0);
	CU_ASSERT(sqe.prp1 == fake_v2i(NULL, mem) && sqe.prp2 == 0);
	/* An offset into the first page, ending in the second: PRP2 is that page. */
	CU_ASSERT(nvme_build_prps(&sqe, mem + 512, 4096, list, 0x77000, fake_v2i, NULL) == 0);
	CU_ASSERT(sqe.prp1 == fake_v2i(NULL, mem + 512) && sqe.prp2 == fake_v2i(NULL, mem + 4096));
	/* Three pages: a list of the second and third. */
	CU_ASSERT(nvme_build_prps(&sqe, mem, 3 * 4096, list, 0x77000, fake_v2i, NULL) == 0);
	CU_ASSERT(sqe.prp2 == 0x77000);
	CU_ASSERT(list[0] == fake_v2i(NULL, mem + 4096) && list[1] == fake_v2i(NULL, mem + 8192));
	/* 2 MiB from mid-page: 512 list entries, the most one page holds. */
	CU_ASSERT(nvme_build_prps(&sqe, mem + 100, 2u << 20, list, 0x77000, fake_v2i, NULL) == 0);
	CU_ASSERT(list[511] == fake_v2i(NULL, mem + (2u << 20)));
	CU_ASSERT(nvme_build_prps(&sqe, mem + 100, (2u << 20) + 4096, list, 0x77000, fake_v2i,
				  NULL) == -E2BIG);
	/* Not dword aligned; a page that does not translate. */
	CU_ASSERT(nvme_build_prps(&sqe, mem + 2, 512, list, 0x77000, fake_v2i, NULL) == -EINVAL);
	hole_start = (uintptr_t)mem + 8192;
	hole_end = hole_start + 4096;
	CU_ASSERT(nvme_build_prps(&sqe, mem, 4 * 4096, list, 0x77000, fake_v2i, NULL) ==
		  -UDK_ENOTMAPPED);
	CU_ASSERT(nvme_build_prps(&sqe, mem + 8192, 512, list, 0x77000, fake_v2i, NULL) ==
		  -UDK_ENOTMAPPED);
	hole_start = hole_end = 0;
	free(mem);
}

static void test_sgl(void)
{
	uint8_t *mem = aligned_alloc(4096, 3u << 20);
	uint64_t list[512] = {0};
	struct nvme_sqe sqe;

	CU_ASSERT_FATAL(mem != NULL);
	hole_start = hole_end = 0;
	/* Contiguous in IOVA: one Data Block descriptor in the SQE, PSDT 01b. */
	memset(&sqe, 0, sizeof(sqe));
	CU_ASSERT(nvme_build_sgl(&sqe, mem + 512, 64 * 1024, list, 0x77000, fake_v2i, NULL) == 0);
	CU_ASSERT(sqe.flags == NVME_SQE_PSDT_SGL);
	CU_ASSERT(sqe.prp1 == fake_v2i(NULL, mem + 512));
	CU_ASSERT(sqe.prp2 == (64u * 1024 | (uint64_t)NVME_SGL_DATA_BLOCK << 56));
	memset(&sqe, 0, sizeof(sqe));
	CU_ASSERT(nvme_build_sgl(&sqe, mem, 2u << 20, list, 0x77000, fake_v2i, NULL) == 0);
	CU_ASSERT(sqe.prp2 == (2u << 20));
	CU_ASSERT(nvme_build_sgl(&sqe, mem + 2, 512, list, 0x77000, fake_v2i, NULL) == -EINVAL);
	free(mem);
}

static uint64_t scattered_v2i(void *ctx, const void *p)
{
	uintptr_t base = (uintptr_t)ctx, off = (uintptr_t)p - base;

	/* Page i of the buffer at IOVA 0x100000 * (i + 1), pages 4 and 5
	 * adjacent: a buffer that is contiguous in VA space only. */
	if (off / 4096 == 5)
		return 0x500000 + 4096 + off % 4096;
	return 0x100000ull * (off / 4096 + 1) + off % 4096;
}

static void test_sgl_scattered(void)
{
	uint8_t *mem = aligned_alloc(4096, 1u << 20);
	struct nvme_sgl_desc *d;
	uint64_t list[512] = {0};
	struct nvme_sqe sqe = {0};

	CU_ASSERT_FATAL(mem != NULL);
	/* 32 KiB from offset 1024 touch 9 pages: pieces 3K, 4K, 4K, 4K, 8K
	 * (pages 4 and 5 merge), 4K, 4K, 1K: a Last Segment of 8 Data Blocks. */
	CU_ASSERT(nvme_build_sgl(&sqe, mem + 1024, 8 * 4096, list, 0x77000, scattered_v2i,
				 mem) == 0);
	CU_ASSERT(sqe.flags == NVME_SQE_PSDT_SGL);
	CU_ASSERT(sqe.prp1 == 0x77000);
	CU_ASSERT(sqe.prp2 == (8u * 16 | (uint64_t)NVME_SGL_LAST_SEGMENT << 56));
	d = (struct nvme_sgl_desc *)list;
	CU_ASSERT(d[0].addr == 0x100000 + 1024 && d[0].len == 3072 && d[0].id == 0);
	CU_ASSERT(d[1].addr == 0x200000 && d[1].len == 4096);
	CU_ASSERT(d[4].addr == 0x500000 && d[4].len == 8192);
	CU_ASSERT(d[6].addr == 0x800000 && d[6].len == 4096);
	CU_ASSERT(d[7].addr == 0x900000 && d[7].len == 1024);
	/* 257 pieces do not fit one segment page; 256 do. */
	CU_ASSERT(nvme_build_sgl(&sqe, mem, 258 * 4096, list, 0x77000, scattered_v2i, mem) ==
		  -E2BIG);
	CU_ASSERT(nvme_build_sgl(&sqe, mem, 257 * 4096, list, 0x77000, scattered_v2i, mem) == 0);
	free(mem);
}

/* Vectors (udk_nvme_ns_iov()): each page is translated on its own, so an
 * element may lie in several pieces of IOVA space, and pages of different
 * elements follow each other in the PRP list as they come. */
static void test_iov_builders(void)
{
	uint8_t *mem = aligned_alloc(4096, 2u << 20);
	struct nvme_sgl_desc *d;
	uint64_t list[512] = {0};
	struct nvme_sqe sqe = {0};
	struct iovec v[3];

	CU_ASSERT_FATAL(mem != NULL);
	/* PRPs: 3 KiB to the end of page 0, then pages 4 and 5: PRP1 the
	 * offset in page 0, a list of the two others. */
	v[0] = (struct iovec){mem + 1024, 3072};
	v[1] = (struct iovec){mem + 4 * 4096, 8192};
	CU_ASSERT(nvme_build_prps_iov(&sqe, v, 2, list, 0x77000, scattered_v2i, mem) == 0);
	CU_ASSERT(sqe.prp1 == 0x100000 + 1024 && sqe.prp2 == 0x77000);
	CU_ASSERT(list[0] == 0x500000 && list[1] == 0x501000);
	/* Two pages: PRP2 is the second page itself; the last element may end
	 * anywhere. */
	v[1] = (struct iovec){mem + 7 * 4096, 512};
	CU_ASSERT(nvme_build_prps_iov(&sqe, v, 2, list, 0x77000, scattered_v2i, mem) == 0);
	CU_ASSERT(sqe.prp1 == 0x100000 + 1024 && sqe.prp2 == 0x800000);
	/* One element only, in one page: PRP1 alone. */
	CU_ASSERT(nvme_build_prps_iov(&sqe, v + 1, 1, list, 0x77000, scattered_v2i, mem) == 0);
	CU_ASSERT(sqe.prp1 == 0x800000 && sqe.prp2 == 0);
	/* More pages than one list holds. */
	v[0] = (struct iovec){mem + 4092, 4};
	v[1] = (struct iovec){mem + 4096, 512 * 4096};
	v[2] = (struct iovec){mem, 4096};
	CU_ASSERT(nvme_build_prps_iov(&sqe, v, 2, list, 0x77000, fake_v2i, NULL) == 0);
	CU_ASSERT(nvme_build_prps_iov(&sqe, v, 3, list, 0x77000, fake_v2i, NULL) == -E2BIG);
	/* A page of the second element that does not translate. */
	hole_start = (uintptr_t)mem + 8192;
	hole_end = hole_start + 4096;
	CU_ASSERT(nvme_build_prps_iov(&sqe, v, 2, list, 0x77000, fake_v2i, NULL) ==
		  -UDK_ENOTMAPPED);
	CU_ASSERT(nvme_build_sgl_iov(&sqe, v, 2, list, 0x77000, fake_v2i, NULL) ==
		  -UDK_ENOTMAPPED);
	hole_start = hole_end = 0;

	/* SGL: an element over pages 0-2 (three pieces) and page 5 (a fourth):
	 * a Last Segment of 4 Data Blocks. */
	memset(&sqe, 0, sizeof(sqe));
	v[0] = (struct iovec){mem + 1024, 8192};
	v[1] = (struct iovec){mem + 5 * 4096, 4096};
	CU_ASSERT(nvme_build_sgl_iov(&sqe, v, 2, list, 0x77000, scattered_v2i, mem) == 0);
	CU_ASSERT(sqe.flags == NVME_SQE_PSDT_SGL && sqe.prp1 == 0x77000);
	CU_ASSERT(sqe.prp2 == (4u * 16 | (uint64_t)NVME_SGL_LAST_SEGMENT << 56));
	d = (struct nvme_sgl_desc *)list;
	CU_ASSERT(d[0].addr == 0x100000 + 1024 && d[0].len == 3072);
	CU_ASSERT(d[1].addr == 0x200000 && d[1].len == 4096);
	CU_ASSERT(d[2].addr == 0x300000 && d[2].len == 1024);
	CU_ASSERT(d[3].addr == 0x501000 && d[3].len == 4096 && d[3].id == NVME_SGL_DATA_BLOCK);
	/* Elements that touch in IOVA space merge: one Data Block in the SQE. */
	memset(&sqe, 0, sizeof(sqe));
	v[0] = (struct iovec){mem + 512, 1536};
	v[1] = (struct iovec){mem + 2048, 6144};
	CU_ASSERT(nvme_build_sgl_iov(&sqe, v, 2, list, 0x77000, fake_v2i, NULL) == 0);
	CU_ASSERT(sqe.flags == NVME_SQE_PSDT_SGL);
	CU_ASSERT(sqe.prp1 == fake_v2i(NULL, mem + 512));
	CU_ASSERT(sqe.prp2 == (7680u | (uint64_t)NVME_SGL_DATA_BLOCK << 56));
	/* An element not dword aligned; 257 pieces do not fit one segment. */
	v[1].iov_base = mem + 2050;
	CU_ASSERT(nvme_build_sgl_iov(&sqe, v, 2, list, 0x77000, fake_v2i, NULL) == -EINVAL);
	{
		static struct iovec many[257];

		for (int i = 0; i < 257; i++)
			many[i] = (struct iovec){mem + (size_t)i * 8192 % (2u << 20), 512};
		CU_ASSERT(nvme_build_sgl_iov(&sqe, many, 256, list, 0x77000, fake_v2i, NULL) ==
			  0);
		CU_ASSERT(nvme_build_sgl_iov(&sqe, many, 257, list, 0x77000, fake_v2i, NULL) ==
			  -E2BIG);
	}
	free(mem);
}

/* A controller and namespace in plain memory; BAR0 is a zeroed buffer. */
struct fake {
	struct udk_nvme_ctrlr c;
	struct udk_nvme_ns ns;
	struct udk_nvme_qpair qp;
	uint32_t sq_db, cq_db;
	int writes_sq_db;
	struct nvme_cqe cq[4];
	struct nvme_sqe sq[4];
	struct nvme_req reqs[3];
	uint16_t free_cids[3];
	uint8_t bar[0x2000] __attribute__((aligned(8)));
};

static struct fake *fake_new(void)
{
	struct fake *f = calloc(1, sizeof(*f));

	snprintf(f->c.info.bdf, sizeof(f->c.info.bdf), "0000:00:03.0");
	f->c.info.max_xfer = 128 * 1024;
	f->c.info.oncs = 1u << 2; /* DSM, no Write Zeroes */
	f->c.bar = f->bar;
	f->ns = (struct udk_nvme_ns){.ctrlr = &f->c, .nsid = 1, .nsze = 1000, .block_size = 512,
				     .block_shift = 9};
	f->qp.ctrlr = &f->c;
	f->qp.qid = 1;
	f->qp.qsize = 4;
	f->qp.sq = f->sq;
	f->qp.cq = f->cq;
	f->qp.reqs = f->reqs;
	f->qp.free_cids = f->free_cids;
	f->qp.sq_db = &f->sq_db;
	f->qp.cq_db = &f->cq_db;
	f->cq_db = f->sq_db = 0xdead;
	udk_nvme_ctrlr_opts_init(&f->c.opts, sizeof(f->c.opts));
	f->c.opts.timeout_action = UDK_NVME_TIMEOUT_NONE; /* recovery: test_nvme_recover.c */
	nvme_qpair_reset_ring(&f->qp);
	return f;
}

static void test_io_check(void)
{
	struct fake *f = fake_new(), *g = fake_new();
	struct udk_nvme_qpair *qp = &f->qp;
	struct udk_nvme_ns *ns = &f->ns;
	uint8_t buf[64] __attribute__((aligned(8)));

	CU_ASSERT(nvme_io_check(qp, ns, UDK_NVME_IO_READ, buf, 0, 8) == 0);
	CU_ASSERT(nvme_io_check(qp, ns, UDK_NVME_IO_READ, buf, 992, 8) == 0);
	CU_ASSERT(nvme_io_check(qp, ns, UDK_NVME_IO_READ, buf, 1000, 8) == -ERANGE);
	CU_ASSERT_LAST_ERROR_HAS("LBA 1000+8 is past the end of namespace 1 (1000 blocks)");
	CU_ASSERT(nvme_io_check(qp, ns, UDK_NVME_IO_WRITE, buf, 993, 8) == -ERANGE);
	CU_ASSERT(nvme_io_check(qp, ns, UDK_NVME_IO_WRITE, buf, UINT64_MAX - 1, 8) == -ERANGE);
	CU_ASSERT(nvme_io_check(qp, ns, UDK_NVME_IO_READ, buf, 0, 0) == -ERANGE);
	CU_ASSERT_LAST_ERROR_HAS("needs at least one block");
	CU_ASSERT(nvme_io_check(qp, ns, UDK_NVME_IO_READ, buf, 0, 257) == -E2BIG);
	CU_ASSERT_LAST_ERROR_HAS("exceeds the controller's maximum transfer of 131072 bytes");
	CU_ASSERT(nvme_io_check(qp, ns, UDK_NVME_IO_READ, buf + 1, 0, 1) == -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("is not 4-byte aligned");
	CU_ASSERT(nvme_io_check(qp, ns, UDK_NVME_IO_READ, NULL, 0, 1) == -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("read with no buffer");
	CU_ASSERT(nvme_io_check(qp, NULL, UDK_NVME_IO_READ, buf, 0, 1) == -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("no namespace given");
	CU_ASSERT(nvme_io_check(qp, &g->ns, UDK_NVME_IO_READ, buf, 0, 1) == -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("use a qpair of the namespace's controller");
	CU_ASSERT(nvme_io_check(qp, ns, UDK_NVME_IO_WRITE_ZEROES, NULL, 0, 1) == -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("does not support write zeroes");
	CU_ASSERT(nvme_io_check(qp, ns, UDK_NVME_IO_DEALLOCATE, NULL, 0, 1000) == 0);
	CU_ASSERT(nvme_io_check(qp, ns, UDK_NVME_IO_FLUSH, NULL, 0, 0) == 0);
	f->c.failed = true;
	CU_ASSERT(nvme_io_check(qp, ns, UDK_NVME_IO_FLUSH, NULL, 0, 0) == -UDK_EDEVSTATE);
	CU_ASSERT_LAST_ERROR_HAS("reset it with udk_nvme_ctrlr_reset()");
	free(f);
	free(g);
}

static void test_io_build(void)
{
	struct fake *f = fake_new();
	struct nvme_sqe s;

	nvme_io_build(&s, &f->ns, UDK_NVME_IO_READ, 0x123456789ull, 8, UDK_NVME_IO_FUA);
	CU_ASSERT(s.opc == NVME_CMD_READ && s.nsid == 1);
	CU_ASSERT(s.cdw10 == 0x23456789u && s.cdw11 == 0x1 && s.cdw12 == (7u | 1u << 30));
	nvme_io_build(&s, &f->ns, UDK_NVME_IO_WRITE, 5, 1, 0);
	CU_ASSERT(s.opc == NVME_CMD_WRITE && s.cdw10 == 5 && s.cdw12 == 0);
	nvme_io_build(&s, &f->ns, UDK_NVME_IO_DEALLOCATE, 5, 1, 0);
	CU_ASSERT(s.opc == NVME_CMD_DSM && s.cdw10 == 0 && s.cdw11 == 4);
	nvme_io_build(&s, &f->ns, UDK_NVME_IO_FLUSH, 0, 0, 0);
	CU_ASSERT(s.opc == NVME_CMD_FLUSH && s.nsid == 1);
	free(f);
}

struct seen {
	int n, last_rc;
	uint16_t last_status;
};

static void seen_cb(void *arg, const struct udk_nvme_cpl *cpl)
{
	struct seen *s = arg;

	s->n++;
	s->last_rc = cpl->rc;
	s->last_status = cpl->status;
}

/* The device's side: complete cid in the next CQ slot with the phase tag. */
static void device_complete(struct fake *f, unsigned int *slot, uint8_t *phase, uint16_t cid,
			    uint16_t status)
{
	f->cq[*slot] = (struct nvme_cqe){.cid = cid, .sqid = 1,
					 .status = (uint16_t)(status << 1 | *phase)};
	if (++*slot == 4) {
		*slot = 0;
		*phase ^= 1;
	}
}

static void test_qpair_poll(void)
{
	struct fake *f = fake_new();
	struct udk_nvme_qpair *qp = &f->qp;
	struct seen s = {0};
	unsigned int slot = 0;
	uint8_t phase = 1;

	/* qsize 4: three in flight at most. */
	for (int i = 0; i < 3; i++)
		CU_ASSERT(udk_nvme_ns_flush(qp, &f->ns, seen_cb, &s) == 0);
	CU_ASSERT(udk_nvme_ns_flush(qp, &f->ns, seen_cb, &s) == -EAGAIN);
	CU_ASSERT(f->sq_db == 0xdead); /* nothing rung before the poll */
	CU_ASSERT(udk_nvme_qpair_outstanding(qp) == 3);
	CU_ASSERT(udk_nvme_qpair_poll(qp, 0) == 0);
	CU_ASSERT(f->sq_db == 3 && f->cq_db == 0xdead); /* one doorbell for the batch */
	for (int i = 0; i < 3; i++)
		CU_ASSERT(f->sq[i].opc == NVME_CMD_FLUSH && f->sq[i].nsid == 1);
	device_complete(f, &slot, &phase, f->sq[1].cid, 0);
	device_complete(f, &slot, &phase, f->sq[0].cid, 0x0080); /* SCT 0, SC 0x80 */
	CU_ASSERT(udk_nvme_qpair_poll(qp, 0) == 2);
	CU_ASSERT(s.n == 2 && s.last_rc == -EIO && s.last_status == 0x80);
	CU_ASSERT(f->cq_db == 2);
	/* Two more, across the end of the rings: the phase tag flips. */
	CU_ASSERT(udk_nvme_ns_flush(qp, &f->ns, seen_cb, &s) == 0);
	CU_ASSERT(udk_nvme_ns_flush(qp, &f->ns, seen_cb, &s) == 0);
	CU_ASSERT(udk_nvme_qpair_poll(qp, 0) == 0);
	CU_ASSERT(f->sq_db == 1); /* tail wrapped: 3, 0, then 1 */
	device_complete(f, &slot, &phase, f->sq[2].cid, 0);
	device_complete(f, &slot, &phase, f->sq[3].cid, 0);
	device_complete(f, &slot, &phase, f->sq[0].cid, 0);
	CU_ASSERT(phase == 0);
	CU_ASSERT(udk_nvme_qpair_poll(qp, 2) == 2); /* max honoured */
	CU_ASSERT(udk_nvme_qpair_poll(qp, 0) == 1);
	CU_ASSERT(s.n == 5 && s.last_rc == 0 && qp->phase == 0 && f->cq_db == 1);
	CU_ASSERT(udk_nvme_qpair_outstanding(qp) == 0 && qp->nb_free == 3);
	free(f);
}

/* A device that completes at once whatever the callback submits again:
 * completions never stop coming while the poll runs. */
struct endless {
	struct fake *f;
	int n;
};

static void endless_cb(void *arg, const struct udk_nvme_cpl *cpl)
{
	struct endless *e = arg;
	struct udk_nvme_qpair *qp = &e->f->qp;

	(void)cpl;
	if (++e->n >= 1000 || udk_nvme_ns_flush(qp, &e->f->ns, endless_cb, e) != 0)
		return; /* the test gives up: the poll did not stop by itself */
	e->f->cq[qp->cq_head] = (struct nvme_cqe){
		.cid = e->f->sq[(qp->sq_tail + 3) % 4].cid, .sqid = 1, .status = qp->phase};
}

static void test_qpair_poll_bounded(void)
{
	struct fake *f = fake_new();
	struct udk_nvme_qpair *qp = &f->qp;
	struct endless e = {.f = f};
	unsigned int slot = 0;
	uint8_t phase = 1;

	/* Every CQ slot posted with the right phase and a CID that is not
	 * ours: 3 entries (qsize - 1) per poll, and the doorbell says so; with
	 * 4 the head came back to 0 and the doorbell was never written. */
	for (int i = 0; i < 4; i++)
		device_complete(f, &slot, &phase, 0xffff, 0);
	CU_ASSERT(udk_nvme_qpair_poll(qp, 0) == 0);
	CU_ASSERT(qp->cq_head == 3 && f->cq_db == 3);
	CU_ASSERT(udk_nvme_qpair_poll(qp, 0) == 0);
	CU_ASSERT(qp->cq_head == 0 && qp->phase == 0 && f->cq_db == 0);
	CU_ASSERT(udk_nvme_qpair_poll(qp, 0) == 0 && f->cq_db == 0); /* nothing new */

	/* Completions that keep coming while the poll runs: each call returns
	 * after a queue's worth. */
	CU_ASSERT(udk_nvme_ns_flush(qp, &f->ns, endless_cb, &e) == 0);
	CU_ASSERT(udk_nvme_qpair_poll(qp, 0) == 0);
	slot = qp->cq_head;
	phase = qp->phase;
	device_complete(f, &slot, &phase, f->sq[(qp->sq_tail + 3) % 4].cid, 0);
	CU_ASSERT(udk_nvme_qpair_poll(qp, 0) == 3);
	CU_ASSERT(e.n == 3);
	CU_ASSERT(udk_nvme_qpair_poll(qp, 0) == 3);
	CU_ASSERT(e.n == 6);
	free(f);
}

static void test_qpair_timeout_cancel(void)
{
	struct fake *f = fake_new();
	struct udk_nvme_qpair *qp = &f->qp;
	struct seen s = {0};
	unsigned int slot = 0;
	uint8_t phase = 1;

	qp->timeout_ns = 2000000; /* 2 ms */
	CU_ASSERT(udk_nvme_ns_flush(qp, &f->ns, seen_cb, &s) == 0);
	CU_ASSERT(udk_nvme_qpair_poll(qp, 0) == 0); /* starts its clock */
	usleep(5000);
	CU_ASSERT(udk_nvme_qpair_poll(qp, 0) == 0);
	CU_ASSERT(s.n == 1 && s.last_rc == -ETIMEDOUT);
	CU_ASSERT(udk_nvme_qpair_outstanding(qp) == 0);
	CU_ASSERT(qp->nb_free == 2); /* the slot waits for the device */
	device_complete(f, &slot, &phase, f->sq[0].cid, 0);
	CU_ASSERT(udk_nvme_qpair_poll(qp, 0) == 0);
	CU_ASSERT(s.n == 1 && qp->nb_free == 3); /* no second callback; slot back */

	/* A controller reset (or destroy) cancels what is in flight. */
	CU_ASSERT(udk_nvme_ns_flush(qp, &f->ns, seen_cb, &s) == 0);
	CU_ASSERT(udk_nvme_ns_flush(qp, &f->ns, seen_cb, &s) == 0);
	nvme_qpair_cancel_all(qp);
	CU_ASSERT(s.n == 3 && s.last_rc == -ECANCELED);
	CU_ASSERT(qp->nb_free == 3 && qp->sq_tail == 0 && qp->phase == 1);
	free(f);
}

static void test_status_str(void)
{
	CU_ASSERT_STRING_EQUAL(udk_nvme_status_str(0x0080), "LBA Out of Range (SCT 0, SC 0x80)");
	CU_ASSERT_STRING_EQUAL(udk_nvme_status_str(0x0102), "Invalid Queue Size (SCT 1, SC 0x02)");
	/* What QEMU answers to Set Features 08h (Interrupt Coalescing), and a
	 * Create I/O CQ's bad IV. */
	CU_ASSERT_STRING_EQUAL(udk_nvme_status_str(0x010e),
			       "Feature Not Changeable (SCT 1, SC 0x0e)");
	CU_ASSERT_STRING_EQUAL(udk_nvme_status_str(0x0108),
			       "Invalid Interrupt Vector (SCT 1, SC 0x08)");
	CU_ASSERT_STRING_EQUAL(udk_nvme_status_str(0x0281),
			       "Unrecovered Read Error (SCT 2, SC 0x81)");
	CU_ASSERT(strstr(udk_nvme_status_str(0x07ff), "unknown status") != NULL);
}

static void test_opts(void)
{
	struct udk_nvme_ctrlr_opts co;
	struct udk_nvme_qpair_opts qo;

	udk_nvme_ctrlr_opts_init(&co, sizeof(co));
	CU_ASSERT(co.opts_size == sizeof(co) && co.admin_qsize == 32 && co.nb_io_queues == 16);
	udk_nvme_qpair_opts_init(&qo, sizeof(qo));
	CU_ASSERT(qo.opts_size == sizeof(qo) && qo.qsize == 256 && qo.timeout_ms == 30000);
	/* An older caller's smaller struct: only what it knows is written. */
	memset(&qo, 0xab, sizeof(qo));
	udk_nvme_qpair_opts_init(&qo, offsetof(struct udk_nvme_qpair_opts, timeout_ms));
	CU_ASSERT(qo.qsize == 256 && qo.timeout_ms == 0xabababab);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{"prp", test_prp},
		{"io_check", test_io_check},
		{"io_build", test_io_build},
		{"qpair_poll", test_qpair_poll},
		{"qpair_poll_bounded", test_qpair_poll_bounded},
		{"qpair_timeout_cancel", test_qpair_timeout_cancel},
		{"sgl", test_sgl},
		{"sgl_scattered", test_sgl_scattered},
		{"iov_builders", test_iov_builders},
		{"status_str", test_status_str},
		{"opts", test_opts},
	};

	unit_quiet_logs();
	return unit_run("nvme", tests, UDK_ARRAY_SIZE(tests));
}
