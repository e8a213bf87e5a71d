/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_nvme: libFuzzer target for what an NVMe controller writes into
 * memory udk reads: Identify data (parse_idc() and parse_idns() of
 * drivers/nvme/nvme_ctrlr.c, included here for its static functions) and
 * completion queue entries (udk_nvme_qpair_poll() of nvme_fastpath.c) on a
 * queue pair in plain memory, like tests/unit/nvme's fake rings.  A hostile
 * or broken device (or an emulator) chooses every byte.
 *
 * Input byte 0, bit 0 clear: Identify.  CAP follows (8 bytes), then the
 * page (zero-padded to 4 KiB), parsed as Identify Controller and as
 * Identify Namespace: strings end within their fields, the transfer limit
 * stays within what one PRP list page carries, a block size is 512 B to
 * 64 KiB or refused.
 *
 * Bit 0 set: completions.  Byte 1 picks the queue size (2-16), byte 2 how
 * many Flush commands are submitted; then rounds of one byte (the poll's
 * max, and whether to submit one more command first) and the whole
 * completion ring as the device rewrites it.  Each command completes at most
 * once, slots are neither lost nor made up, a poll that consumed entries
 * writes the completion doorbell, and the doorbells stay inside the rings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../drivers/nvme/nvme_ctrlr.c"
#include "fuzz_util.h"

#define MAX_Q 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_identify(const uint8_t *data, size_t size)
{
	static uint8_t page[NVME_PAGE];
	static struct udk_nvme_ctrlr c;
	struct udk_nvme_ns ns;
	int rc;

	memset(&c, 0, sizeof(c));
	memset(page, 0, sizeof(page));
	if (size < 8)
		return;
	memcpy(&c.info.cap, data, 8);
	memcpy(page, data + 8, size - 8 < sizeof(page) ? size - 8 : sizeof(page));
	c.idc = page;
	parse_idc(&c);
	if (strnlen(c.info.serial, sizeof(c.info.serial)) == sizeof(c.info.serial) ||
	    strnlen(c.info.model, sizeof(c.info.model)) == sizeof(c.info.model) ||
	    strnlen(c.info.firmware, sizeof(c.info.firmware)) == sizeof(c.info.firmware) ||
	    c.info.max_xfer == 0 || c.info.max_xfer > NVME_MAX_XFER_CAP)
		abort();
	rc = parse_idns(&c, 1, page, &ns);
	if (rc == 0 && (ns.block_size < 512 || ns.block_size > 65536 ||
			ns.block_size != 1u << ns.block_shift || ns.ctrlr != &c || ns.nsid != 1))
		abort();
	if (rc != 0 && rc != -ENOTSUP)
		abort();
}

static struct {
	struct udk_nvme_ctrlr c;
	struct udk_nvme_ns ns;
	struct udk_nvme_qpair qp;
	uint32_t sq_db, cq_db;
	struct nvme_cqe cq[MAX_Q];
	struct nvme_sqe sq[MAX_Q];
	struct nvme_req reqs[MAX_Q - 1];
	uint16_t free_cids[MAX_Q - 1];
	uint8_t bar[0x2000] __attribute__((aligned(8)));
	int done[MAX_Q - 1]; /* callbacks per slot since its submission */
	int calls;
} f;

static void done_cb(void *arg, const struct udk_nvme_cpl *cpl)
{
	uintptr_t cid = (uintptr_t)arg;

	(void)cpl;
	f.calls++;
	if (++f.done[cid] > 1)
		abort(); /* completed twice */
}

static void setup(uint16_t qsize)
{
	memset(&f, 0, sizeof(f));
	snprintf(f.c.info.bdf, sizeof(f.c.info.bdf), "0000:00:03.0");
	f.c.info.max_xfer = 128 * 1024;
	f.c.bar = f.bar;
	f.ns = (struct udk_nvme_ns){.ctrlr = &f.c, .nsid = 1, .nsze = 1000, .block_size = 512,
				    .block_shift = 9};
	f.qp.ctrlr = &f.c;
	f.qp.qid = 1;
	f.qp.qsize = qsize;
	f.qp.sq = f.sq;
	f.qp.cq = f.cq;
	f.qp.reqs = f.reqs;
	f.qp.free_cids = f.free_cids;
	f.qp.sq_db = &f.sq_db;
	f.qp.cq_db = &f.cq_db;
	udk_nvme_ctrlr_opts_init(&f.c.opts, sizeof(f.c.opts));
	f.c.opts.timeout_action = UDK_NVME_TIMEOUT_NONE;
	nvme_qpair_reset_ring(&f.qp);
}

/* Submit a Flush; its callback argument is the slot it took. */
static void submit(void)
{
	uint16_t cid;

	if (f.qp.nb_free == 0)
		return;
	cid = f.qp.free_cids[f.qp.nb_free - 1];
	f.done[cid] = 0;
	if (udk_nvme_ns_flush(&f.qp, &f.ns, done_cb, (void *)(uintptr_t)cid) != 0 ||
	    f.sq[(f.qp.sq_tail + f.qp.qsize - 1) % f.qp.qsize].cid != cid)
		abort();
}

static void fuzz_completions(const uint8_t *data, size_t size)
{
	uint16_t qsize;
	size_t off = 3;

	if (size < 3)
		return;
	qsize = (uint16_t)(2 + data[1] % (MAX_Q - 1));
	setup(qsize);
	for (unsigned int i = 0; i < data[2] % qsize; i++)
		submit();
	while (off + 1 + qsize * sizeof(struct nvme_cqe) <= size) {
		uint32_t max = data[off] & 0x7f, before = f.qp.in_flight;
		uint16_t head = f.qp.cq_head;
		uint8_t phase = f.qp.phase;
		int n, calls = f.calls;

		if (data[off] & 0x80)
			submit();
		before = f.qp.in_flight;
		memcpy(f.cq, data + off + 1, qsize * sizeof(struct nvme_cqe));
		off += 1 + qsize * sizeof(struct nvme_cqe);
		f.cq_db = f.sq_db = 0xdead;
		n = udk_nvme_qpair_poll(&f.qp, max);
		if (n < 0 || (uint32_t)n > before || (max != 0 && (uint32_t)n > max) ||
		    f.calls - calls != n || f.qp.in_flight != before - (uint32_t)n ||
		    f.qp.in_flight + f.qp.timed_out + f.qp.nb_free != (uint32_t)qsize - 1u ||
		    f.qp.cq_head >= qsize || f.qp.sq_tail >= qsize)
			abort();
		/* Entries consumed (the head moved, or went all the way round and
		 * flipped the phase): the device must hear of it. */
		if ((f.qp.cq_head != head || f.qp.phase != phase) && f.cq_db != f.qp.cq_head)
			abort();
		if (f.sq_db != 0xdead && f.sq_db >= qsize)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_log_quiet(); /* cheap; no LLVMFuzzerInitialize to repeat */
	if (size < 1)
		return 0;
	if (data[0] & 1)
		fuzz_completions(data, size);
	else
		fuzz_identify(data + 1, size - 1);
	return 0;
}
