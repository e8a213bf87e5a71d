/* SPDX-License-Identifier: BSD-3-Clause */
/* test_nvme_iops.c - the submit + complete path of one I/O qpair with no
 * device: the test plays the controller, reading each command from the SQ
 * and writing its completion (phase tag, CID) into the CQ, as QEMU's NVMe
 * would.  As a unit test it checks that every 4 KiB read completes once with
 * the right CID, PRP and doorbells, and builds the PRPs or SGL of a vector
 * sent as one command (udk_nvme_ns_iov()).  With --ios N [--batch B] it is what
 * tests/perf/nvme_insns.py runs under callgrind, counting only
 * udk_nvme_ns_io() and udk_nvme_qpair_poll(): instructions per I/O. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakemem.h"
#include "nvme_dptr.h"
#include "nvme_internal.h"
#include "../common/unit.h"

#define QSIZE 256

struct rig {
	struct udk_nvme_ctrlr c;
	struct udk_nvme_ns ns;
	struct udk_nvme_qpair qp;
	uint8_t bar[0x2000] __attribute__((aligned(8)));
	uint8_t *buf;
	uint16_t dev_sq_head, dev_cq_tail;
	uint8_t dev_phase;
	uint64_t completed, bad;
};

static void io_cb(void *arg, const struct udk_nvme_cpl *cpl)
{
	struct rig *r = arg;

	r->completed++;
	r->bad += cpl->rc != 0;
}

/* A qpair on a controller whose memory is mem (NULL: the default heap). */
static struct rig *rig_new_on(struct udk_mem *mem)
{
	struct rig *r = calloc(1, sizeof(*r));

	if (r == NULL || fakemem_init() == NULL)
		return NULL;
	r->c.mem = mem != NULL ? mem : udk_mem_default();
	snprintf(r->c.info.bdf, sizeof(r->c.info.bdf), "0000:00:03.0");
	udk_nvme_ctrlr_opts_init(&r->c.opts, sizeof(r->c.opts));
	r->c.info.max_xfer = 128 * 1024;
	r->c.bar = r->bar;
	r->c.bar_len = sizeof(r->bar);
	r->c.dstrd = 4;
	r->ns = (struct udk_nvme_ns){.ctrlr = &r->c, .nsid = 1, .nsze = 1u << 20,
				     .block_size = 512, .block_shift = 9};
	if (nvme_qpair_init(&r->qp, &r->c, 1, QSIZE, 30000) < 0)
		return NULL;
	r->buf = udk_mem_zmalloc(r->c.mem, 4096, 4096, UDK_SOCKET_ANY);
	r->dev_phase = 1;
	return r->buf != NULL ? r : NULL;
}

static struct rig *rig_new(void)
{
	return rig_new_on(NULL);
}

static void rig_free(struct rig *r)
{
	udk_mem_free(r->c.mem, r->buf);
	nvme_qpair_fini(&r->qp);
	free(r);
}

/* The controller's side: complete every command queued since last time. */
static void device(struct rig *r)
{
	while (r->dev_sq_head != r->qp.sq_tail) {
		const struct nvme_sqe *s = &r->qp.sq[r->dev_sq_head];

		if (s->opc != NVME_CMD_READ || s->prp1 != udk_mem_virt2iova(r->c.mem, r->buf) || s->prp2 != 0)
			r->bad++;
		r->dev_sq_head = (uint16_t)((r->dev_sq_head + 1) % QSIZE);
		volatile struct nvme_cqe *e = &r->qp.cq[r->dev_cq_tail];
		e->dw0 = 0;
		e->sqhd = r->dev_sq_head;
		e->sqid = 1;
		e->cid = s->cid;
		__atomic_thread_fence(__ATOMIC_RELEASE);
		e->status = r->dev_phase;
		if (++r->dev_cq_tail == QSIZE) {
			r->dev_cq_tail = 0;
			r->dev_phase ^= 1;
		}
	}
}

/* ios reads of 4 KiB, batch at a time: submit, the device completes, one
 * poll reaps them.  Returns the number of failures. */
static uint64_t run(struct rig *r, uint64_t ios, unsigned int batch)
{
	uint64_t lba = 0;

	for (uint64_t done = 0; done < ios; done += batch) {
		for (unsigned int i = 0; i < batch; i++) {
			if (udk_nvme_ns_read(&r->qp, &r->ns, r->buf, lba, 8, io_cb, r) != 0)
				r->bad++;
			lba = (lba + 8) & ((1u << 20) - 1);
		}
		device(r);
		if (udk_nvme_qpair_poll(&r->qp, 0) != (int)batch)
			r->bad++;
	}
	return r->bad;
}

static void test_qd1(void)
{
	struct rig *r = rig_new();
	uint32_t *sq_db = (uint32_t *)(r->bar + NVME_REG_DBS + 8);

	CU_ASSERT_FATAL(r != NULL);
	CU_ASSERT(run(r, 1000, 1) == 0);
	CU_ASSERT(r->completed == 1000);
	CU_ASSERT(*sq_db == 1000 % QSIZE); /* the tail doorbell followed every poll */
	CU_ASSERT(udk_nvme_qpair_outstanding(&r->qp) == 0 && r->qp.nb_free == QSIZE - 1);
	rig_free(r);
}

static void test_batches(void)
{
	struct rig *r = rig_new();

	CU_ASSERT_FATAL(r != NULL);
	CU_ASSERT(run(r, 32 * 100, 32) == 0);
	CU_ASSERT(r->completed == 3200);
	CU_ASSERT(run(r, 255 * 3, 255) == 0); /* a full queue, three times round */
	CU_ASSERT(r->completed == 3200 + 765);
	rig_free(r);
}

/* A second heap standing for another map's memory: its segments get IOVAs
 * of their own (as a heap that follows another map does). */
#define OTHER_IOVA_OFFSET 0x20000000000ull
static const uint64_t other_offset = OTHER_IOVA_OFFSET;

/* A controller on another map: its queues and PRP list pages come from that
 * map's heap, I/O buffers translate through it, and a buffer of the default
 * heap (not in that map) is refused before it reaches the device. */
static void test_other_map(void)
{
	struct udk_mem_opts o;
	struct udk_mem *other;
	struct rig *r;
	void *def;

	CU_ASSERT_PTR_NOT_NULL_FATAL(fakemem_init());
	udk_mem_opts_init(&o, sizeof(o));
	o.no_huge = true;
	CU_ASSERT_EQUAL_FATAL(udk_mem_create(&o, &other), 0);
	CU_ASSERT_EQUAL_FATAL(udk_mem_event_register(other, fakemem_alloc, (void *)&other_offset), 0);
	r = rig_new_on(other);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_PTR_EQUAL(r->qp.mem, other);
	CU_ASSERT_PTR_NOT_NULL(udk_mem_find(other, r->qp.sq));
	CU_ASSERT_PTR_NOT_NULL(udk_mem_find(other, (const void *)r->qp.cq));
	CU_ASSERT_PTR_NOT_NULL(udk_mem_find(other, r->qp.prp_pages));
	CU_ASSERT_PTR_NULL(udk_mem_find(udk_mem_default(), r->qp.sq));
	CU_ASSERT_EQUAL(r->qp.sq_iova, (uint64_t)(uintptr_t)r->qp.sq + OTHER_IOVA_OFFSET);
	CU_ASSERT_EQUAL(r->qp.reqs[0].prp_list_iova,
			(uint64_t)(uintptr_t)r->qp.reqs[0].prp_list + OTHER_IOVA_OFFSET);
	/* The device sees the other map's IOVA of the buffer (checked in device()). */
	CU_ASSERT(run(r, 64, 8) == 0);
	CU_ASSERT(r->completed == 64);

	def = udk_mem_default_zmalloc(4096, 4096, UDK_SOCKET_ANY);
	CU_ASSERT_PTR_NOT_NULL_FATAL(def);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_nvme_ns_read(&r->qp, &r->ns, def, 0, 8, io_cb, r), -UDK_ENOTMAPPED);
	CU_ASSERT(strstr(udk_last_error(), "not DMA memory of the controller's map") != NULL);
	CU_ASSERT_EQUAL(udk_nvme_ctrlr_mem(&r->c), other);
	udk_mem_default_free(def);
	rig_free(r);
	udk_mem_destroy(other);
}

/* The SQE udk_nvme_ns_iov() queued last. */
static const struct nvme_sqe *last_sqe(const struct rig *r)
{
	return &r->qp.sq[(r->qp.sq_tail + QSIZE - 1) % QSIZE];
}

static uint64_t iova(const struct rig *r, const void *p)
{
	return udk_mem_virt2iova(r->c.mem, p);
}

/* A vector as one command: PRPs when it has their shape, an SGL otherwise
 * when the qpair has SGLs, and the refusals, each with its line. */
static void test_iov(void)
{
	struct rig *r = rig_new();
	uint8_t *big, *plain = aligned_alloc(4096, 4096);
	const struct nvme_sgl_desc *d;
	const struct nvme_sqe *sqe;
	const uint64_t *list;
	struct iovec v[4];
	static struct iovec many[UDK_NVME_IOV_MAX + 1];

	CU_ASSERT_FATAL(r != NULL && plain != NULL);
	big = udk_mem_zmalloc(r->c.mem, 256 * 1024, 4096, UDK_SOCKET_ANY);
	CU_ASSERT_FATAL(big != NULL);
	/* PRPs (the qpair has no SGLs): 3.5 KiB to the end of a page, two pages
	 * further on, a last 1 KiB element in an earlier page: 25 blocks, PRP1
	 * the offset, a list of the three pages in the order of the vector. */
	v[0] = (struct iovec){big + 512, 3584};
	v[1] = (struct iovec){big + 5 * 4096, 8192};
	v[2] = (struct iovec){big + 2 * 4096, 1024};
	CU_ASSERT_EQUAL(r->qp.dptr, 0);
	CU_ASSERT_EQUAL(udk_nvme_ns_iov(&r->qp, &r->ns, UDK_NVME_IO_WRITE, v, 3, 100, 0, io_cb, r),
			0);
	sqe = last_sqe(r);
	list = r->qp.reqs[sqe->cid].prp_list;
	CU_ASSERT(sqe->opc == NVME_CMD_WRITE && sqe->cdw10 == 100 && (sqe->cdw12 & 0xffff) == 24);
	CU_ASSERT(sqe->flags == 0 && sqe->prp1 == iova(r, big + 512));
	CU_ASSERT(sqe->prp2 == r->qp.reqs[sqe->cid].prp_list_iova);
	CU_ASSERT(list[0] == iova(r, big + 5 * 4096) && list[1] == iova(r, big + 6 * 4096) &&
		  list[2] == iova(r, big + 2 * 4096));
	/* From a page start: PRP1 that page, the list the two others. */
	CU_ASSERT_EQUAL(udk_nvme_ns_iov(&r->qp, &r->ns, UDK_NVME_IO_READ, v + 1, 2, 0, 0, io_cb, r),
			0);
	sqe = last_sqe(r);
	list = r->qp.reqs[sqe->cid].prp_list;
	CU_ASSERT(sqe->opc == NVME_CMD_READ && (sqe->cdw12 & 0xffff) == 17);
	CU_ASSERT(sqe->prp1 == iova(r, big + 5 * 4096) && list[0] == iova(r, big + 6 * 4096) &&
		  list[1] == iova(r, big + 2 * 4096));
	CU_ASSERT_EQUAL(udk_nvme_qpair_outstanding(&r->qp), 2);

	/* What PRPs cannot carry, on a qpair without SGLs: the caller splits. */
	udk_last_error_clear();
	v[0] = (struct iovec){big, 2048};
	v[1] = (struct iovec){big + 4096, 2048};
	CU_ASSERT_EQUAL(udk_nvme_ns_iov(&r->qp, &r->ns, UDK_NVME_IO_READ, v, 2, 0, 0, io_cb, r),
			-EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("vector element 0");
	CU_ASSERT_LAST_ERROR_HAS("breaks the PRP rules");
	CU_ASSERT_FALSE(udk_nvme_ns_iov_fits(&r->ns, UDK_NVME_SGL_AUTO, v, 2));
	v[0].iov_len = 4096;
	v[1].iov_base = big + 8192 + 512;
	CU_ASSERT_EQUAL(udk_nvme_ns_iov(&r->qp, &r->ns, UDK_NVME_IO_READ, v, 2, 0, 0, io_cb, r),
			-EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("vector element 1");
	/* Bad elements and vectors, whatever the data pointer. */
	v[1] = (struct iovec){big + 4096 + 2, 510};
	CU_ASSERT_EQUAL(udk_nvme_ns_iov(&r->qp, &r->ns, UDK_NVME_IO_READ, v, 2, 0, 0, io_cb, r),
			-EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("not 4-byte aligned in base or length");
	v[1] = (struct iovec){big + 4096, 0};
	CU_ASSERT_EQUAL(udk_nvme_ns_iov(&r->qp, &r->ns, UDK_NVME_IO_READ, v, 2, 0, 0, io_cb, r),
			-EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("is empty");
	v[1] = (struct iovec){big + 4096, 100};
	CU_ASSERT_EQUAL(udk_nvme_ns_iov(&r->qp, &r->ns, UDK_NVME_IO_READ, v, 2, 0, 0, io_cb, r),
			-EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("4196 bytes is not a whole number of 512-byte blocks");
	CU_ASSERT_FALSE(udk_nvme_ns_iov_fits(&r->ns, UDK_NVME_SGL_AUTO, v, 2));
	CU_ASSERT_EQUAL(udk_nvme_ns_iov(&r->qp, &r->ns, UDK_NVME_IO_READ, v, 0, 0, 0, io_cb, r),
			-EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("takes 1 to 256");
	for (int i = 0; i < UDK_NVME_IOV_MAX + 1; i++)
		many[i] = (struct iovec){big + (size_t)i * 512, 512};
	CU_ASSERT_EQUAL(udk_nvme_ns_iov(&r->qp, &r->ns, UDK_NVME_IO_READ, many,
					UDK_NVME_IOV_MAX + 1, 0, 0, io_cb, r), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("takes 1 to 256");
	v[0] = (struct iovec){big, 64 * 1024};
	v[1] = (struct iovec){big + 64 * 1024, 64 * 1024};
	v[2] = (struct iovec){big + 128 * 1024, 4096};
	CU_ASSERT_EQUAL(udk_nvme_ns_iov(&r->qp, &r->ns, UDK_NVME_IO_READ, v, 3, 0, 0, io_cb, r),
			-E2BIG);
	CU_ASSERT_LAST_ERROR_HAS("maximum transfer of 131072 bytes (MDTS, at element 2: 135168");
	CU_ASSERT_TRUE(udk_nvme_ns_iov_fits(&r->ns, UDK_NVME_SGL_AUTO, v, 2));
	CU_ASSERT_FALSE(udk_nvme_ns_iov_fits(&r->ns, UDK_NVME_SGL_AUTO, v, 3));
	CU_ASSERT_EQUAL(udk_nvme_ns_iov(&r->qp, &r->ns, UDK_NVME_IO_READ, v, 2, 999999, 0, io_cb, r),
			0); /* 256 blocks at the end of the namespace */
	CU_ASSERT_EQUAL(udk_nvme_ns_iov(&r->qp, &r->ns, UDK_NVME_IO_READ, v, 2, (1u << 20) - 8, 0,
					io_cb, r), -ERANGE);
	CU_ASSERT_LAST_ERROR_HAS("past the end of namespace 1");
	CU_ASSERT_EQUAL(udk_nvme_ns_iov(&r->qp, &r->ns, UDK_NVME_IO_FLUSH, v, 1, 0, 0, io_cb, r),
			-EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("a vector is data of a read or write");
	CU_ASSERT_EQUAL(udk_nvme_ns_iov(&r->qp, NULL, UDK_NVME_IO_READ, v, 1, 0, 0, io_cb, r),
			-EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("no namespace given");
	v[1] = (struct iovec){plain, 4096}; /* not udk DMA memory */
	CU_ASSERT_EQUAL(udk_nvme_ns_iov(&r->qp, &r->ns, UDK_NVME_IO_READ, v + 1, 1, 0, 0, io_cb, r),
			-UDK_ENOTMAPPED);
	CU_ASSERT_LAST_ERROR_HAS("not DMA memory of the controller's map");
	CU_ASSERT_EQUAL(udk_nvme_qpair_outstanding(&r->qp), 3); /* nothing more queued */

	/* With SGLs (AUTO on a controller with SGLS): a PRP shape still goes
	 * as PRPs, any other as Data Blocks; touching pieces merge. */
	r->c.info.sgls = 1;
	r->qp.dptr = nvme_dptr_mode(&r->c, UDK_NVME_SGL_AUTO);
	v[0] = (struct iovec){big, 2048};
	v[1] = (struct iovec){big + 4096, 2048};
	v[2] = (struct iovec){big + 6144, 1024};
	v[3] = (struct iovec){big + 12 * 4096, 3072};
	CU_ASSERT_TRUE(udk_nvme_ns_iov_fits(&r->ns, UDK_NVME_SGL_AUTO, v, 4));
	CU_ASSERT_FALSE(udk_nvme_ns_iov_fits(&r->ns, UDK_NVME_SGL_NEVER, v, 4));
	CU_ASSERT_EQUAL(udk_nvme_ns_iov(&r->qp, &r->ns, UDK_NVME_IO_WRITE, v, 4, 8, 0, io_cb, r),
			0);
	sqe = last_sqe(r);
	d = (const struct nvme_sgl_desc *)r->qp.reqs[sqe->cid].prp_list;
	CU_ASSERT(sqe->flags == NVME_SQE_PSDT_SGL && (sqe->cdw12 & 0xffff) == 15);
	CU_ASSERT(sqe->prp1 == r->qp.reqs[sqe->cid].prp_list_iova);
	CU_ASSERT(sqe->prp2 == (3u * 16 | (uint64_t)NVME_SGL_LAST_SEGMENT << 56));
	CU_ASSERT(d[0].addr == iova(r, big) && d[0].len == 2048);
	CU_ASSERT(d[1].addr == iova(r, big + 4096) && d[1].len == 3072);
	CU_ASSERT(d[2].addr == iova(r, big + 12 * 4096) && d[2].len == 3072);
	v[0] = (struct iovec){big + 512, 3584};
	v[1] = (struct iovec){big + 5 * 4096, 4096};
	CU_ASSERT_EQUAL(udk_nvme_ns_iov(&r->qp, &r->ns, UDK_NVME_IO_READ, v, 2, 0, 0, io_cb, r),
			0);
	sqe = last_sqe(r);
	CU_ASSERT(sqe->flags == 0 && sqe->prp1 == iova(r, big + 512) &&
		  sqe->prp2 == iova(r, big + 5 * 4096));
	/* ALWAYS: SGLs for the PRP shape too. */
	r->qp.dptr = nvme_dptr_mode(&r->c, UDK_NVME_SGL_ALWAYS);
	CU_ASSERT_EQUAL(udk_nvme_ns_iov(&r->qp, &r->ns, UDK_NVME_IO_READ, v, 2, 0, 0, io_cb, r),
			0);
	sqe = last_sqe(r);
	d = (const struct nvme_sgl_desc *)r->qp.reqs[sqe->cid].prp_list;
	CU_ASSERT(sqe->flags == NVME_SQE_PSDT_SGL && d[0].len == 3584 && d[1].len == 4096);
	r->c.info.sgls = 0;
	CU_ASSERT_FALSE(udk_nvme_ns_iov_fits(&r->ns, UDK_NVME_SGL_ALWAYS, v, 2));
	CU_ASSERT_TRUE(udk_nvme_ns_iov_fits(&r->ns, UDK_NVME_SGL_NEVER, v, 2));

	/* Each queued vector was one command, completed once. */
	CU_ASSERT_EQUAL(r->qp.stats.submitted, 6);
	device(r);
	CU_ASSERT_EQUAL(udk_nvme_qpair_poll(&r->qp, 0), 6);
	CU_ASSERT_EQUAL(r->completed, 6);
	udk_mem_free(r->c.mem, big);
	free(plain);
	rig_free(r);
}

int main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		{"qd1", test_qd1},
		{"batches", test_batches},
		{"other_map", test_other_map},
		{"iov", test_iov},
	};
	unsigned long long ios = 0;
	unsigned int batch = 1;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--ios") == 0)
			ios = strtoull(argv[i + 1], NULL, 0);
		else if (strcmp(argv[i], "--batch") == 0)
			batch = (unsigned int)strtoul(argv[i + 1], NULL, 0);
	}
	unit_quiet_logs();
	if (ios > 0) { /* the benchmark: no CUnit around it */
		struct rig *r = rig_new();

		if (r == NULL || batch == 0 || batch >= QSIZE) {
			fprintf(stderr, "test_nvme_iops: no memory, or --batch outside 1..%d\n",
				QSIZE - 1);
			return 1;
		}
		ios -= ios % batch;
		uint64_t bad = run(r, ios, batch);
		printf("%llu reads of 4 KiB in batches of %u: %llu completed, %llu failures\n",
		       ios, batch, (unsigned long long)r->completed, (unsigned long long)bad);
		rig_free(r);
		return bad ? 1 : 0;
	}
	return unit_run("nvme_iops", tests, UDK_ARRAY_SIZE(tests));
}
