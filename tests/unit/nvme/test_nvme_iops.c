/* SPDX-License-Identifier: BSD-3-Clause */
/* test_nvme_iops.c - the submit + complete path of one I/O qpair with no
 * device: the test plays the controller, reading each command from the SQ
 * and writing its completion (phase tag, CID) into the CQ, as QEMU's NVMe
 * would.  As a unit test it checks that every 4 KiB read completes once with
 * the right CID, PRP and doorbells.  With --ios N [--batch B] it is what
 * tests/perf/nvme_insns.py runs under callgrind, counting only
 * udk_nvme_ns_io() and udk_nvme_qpair_poll(): instructions per I/O. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakemem.h"
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

int main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		{"qd1", test_qd1},
		{"batches", test_batches},
		{"other_map", test_other_map},
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
