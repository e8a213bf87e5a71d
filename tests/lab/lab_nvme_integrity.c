/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_nvme_integrity: drivers/nvme against the lab's two emulated NVMe
 * controllers, both attached to the EAL's one map.  Every block written with
 * udk is read back and verified: in batches of commands of many sizes (1
 * block up to MDTS, buffers starting mid-page), across a controller reset
 * that cancels the commands in flight, with two queue pairs on two lcores at
 * once, and on the second controller with a pattern of its own.  Write
 * Zeroes, Deallocate and Flush complete; Get Log Page (SMART, error) works.
 * Each bad input is refused with its message, and the SMART host command
 * counters prove none of them reached the device.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "labbackend.h"
#include "labutil.h"
#include "udk_eal.h"
#include "udk_nvme.h"
#include "udk_util.h"

#define AREA_BLOCKS 8192u /* 4 MiB of 512-byte blocks per pass */
#define QD 16

struct io {
	int done, ok, cancelled, failed;
};

static void io_cb(void *arg, const struct udk_nvme_cpl *cpl)
{
	struct io *s = arg;

	s->done++;
	if (cpl->rc == 0)
		s->ok++;
	else if (cpl->rc == -ECANCELED)
		s->cancelled++;
	else {
		s->failed++;
		fprintf(stderr, "  command failed: rc %d, %s\n", cpl->rc,
			udk_nvme_status_str(cpl->status));
	}
}

struct pass {
	struct udk_nvme_qpair *qp;
	struct udk_nvme_ns *ns;
	uint64_t first_lba;
	uint32_t nblocks, bs, max_nlb;
	uint64_t seed;
	long bad_lba;
	int errors;
};

/* Write the area in a batch of up to QD commands of varied sizes, each from
 * its own buffer starting at a varied offset into its page, then read it back
 * the same way and verify every block. */
static int write_read_verify(struct pass *p)
{
	size_t slot = (size_t)p->max_nlb * p->bs + 4096;
	uint8_t *mem = udk_dma_zmalloc(slot * QD, 4096, UDK_SOCKET_ANY);
	static const uint32_t sizes[] = {1, 8, 3, 64, 255, 16, 1024, 7};

	p->errors = 0;
	p->bad_lba = -1;
	if (mem == NULL)
		return -ENOMEM;
	for (int phase = 0; phase < 2; phase++) {
		uint64_t lba = p->first_lba, end = p->first_lba + p->nblocks;
		unsigned int k = 0;

		while (lba < end) {
			struct io s = {0};
			uint64_t at[QD];
			uint32_t nlbs[QD];
			int n = 0;

			for (; n < QD && lba < end; n++, k++) {
				uint32_t nlb = sizes[k % UDK_ARRAY_SIZE(sizes)];
				uint8_t *buf = mem + (size_t)n * slot + (k % 5) * 516u % 4096;

				if (k % 11 == 10)
					nlb = p->max_nlb; /* MDTS: a PRP list of many pages */
				if (nlb > p->max_nlb)
					nlb = p->max_nlb;
				if (nlb > end - lba)
					nlb = (uint32_t)(end - lba);
				at[n] = lba;
				nlbs[n] = nlb;
				int rc;

				if (phase == 0) {
					lab_pattern_fill(buf, lba, nlb, p->bs, p->seed);
					rc = udk_nvme_ns_write(p->qp, p->ns, buf, lba, nlb, io_cb, &s);
				} else {
					memset(buf, 0xee, (size_t)nlb * p->bs);
					rc = udk_nvme_ns_read(p->qp, p->ns, buf, lba, nlb, io_cb, &s);
				}
				CHECK(rc == 0);
				if (rc != 0) {
					p->errors++;
					s.done++; /* nothing to wait for */
				}
				lba += nlb;
			}
			while (s.done < n)
				udk_nvme_qpair_poll(p->qp, 0);
			p->errors += s.failed;
			for (int i = 0; phase == 1 && i < n; i++) {
				uint8_t *buf = mem + (size_t)i * slot +
					       ((k - (unsigned int)n + (unsigned int)i) % 5) * 516u % 4096;
				long b = lab_pattern_check(buf, at[i], nlbs[i], p->bs, p->seed);

				if (b >= 0 && p->bad_lba < 0)
					p->bad_lba = (long)at[i] + b;
			}
		}
	}
	udk_dma_free(mem);
	return 0;
}

static int worker(void *arg)
{
	return write_read_verify(arg);
}

struct rr {
	struct udk_nvme_qpair *qp;
	struct udk_nvme_ns *ns;
	uint8_t *bufs;
	uint64_t done, lba;
	int inflight, errors;
};

static void rr_cb(void *arg, const struct udk_nvme_cpl *cpl)
{
	struct rr *r = arg;

	r->done++;
	r->inflight--;
	r->errors += cpl->rc != 0;
}

/* 4 KiB random reads at queue depth qd for about a second: IOPS (for the
 * log; LAB.md has a bare polled loop's figures for comparison). */
static double rand_read_iops(struct udk_nvme_qpair *qp, struct udk_nvme_ns *ns, int qd)
{
	struct rr r = {.qp = qp, .ns = ns, .lba = 12345};
	struct timespec t0, t1;
	double secs;

	r.bufs = udk_dma_zmalloc(32 * 4096, 4096, UDK_SOCKET_ANY);
	REQUIRE(r.bufs != NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		while (r.inflight < qd) {
			r.lba = (r.lba * 6364136223846793005ull + 1442695040888963407ull);
			if (udk_nvme_ns_read(qp, ns, r.bufs + (r.done % 32) * 4096,
					     (r.lba >> 20) % (AREA_BLOCKS * 4 / 8) * 8, 8, rr_cb,
					     &r) != 0)
				break;
			r.inflight++;
		}
		udk_nvme_qpair_poll(qp, 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	} while (secs < 1.0);
	while (r.inflight > 0)
		udk_nvme_qpair_poll(qp, 0);
	CHECK(r.errors == 0);
	udk_dma_free(r.bufs);
	return (double)r.done / secs;
}

static uint64_t u128lo(const uint8_t *v)
{
	uint64_t x;

	memcpy(&x, v, 8);
	return x;
}

static void smart_counts(struct udk_nvme_ctrlr *c, uint64_t *rd, uint64_t *wr)
{
	struct udk_nvme_smart_log *s = udk_dma_zmalloc(sizeof(*s), 4096, UDK_SOCKET_ANY);

	*rd = *wr = UINT64_MAX;
	REQUIRE(s != NULL);
	CHECK(udk_nvme_ctrlr_get_log_page(c, UDK_NVME_LOG_SMART, 0xffffffff, s, sizeof(*s)) == 0);
	*rd = u128lo(s->host_read_cmds);
	*wr = u128lo(s->host_write_cmds);
	printf("  SMART: temperature %u K, host reads %llu, host writes %llu\n", s->temperature,
	       (unsigned long long)*rd, (unsigned long long)*wr);
	udk_dma_free(s);
}

static bool err_has(int rc, int want, const char *text)
{
	bool ok = rc == want && strstr(udk_last_error(), text) != NULL;

	printf("  refused: %d (%s) \"%s\"%s\n", rc, udk_strerror_name(rc), udk_last_error(),
	       ok ? "" : "  <- expected this code and text");
	return ok;
}

static void bad_inputs(struct udk_nvme_ctrlr *c, struct udk_nvme_qpair *qp,
		       struct udk_nvme_ns *ns, struct udk_nvme_ns *other_ns)
{
	struct udk_nvme_ns_info ni;
	struct udk_nvme_ns *missing = NULL;
	uint64_t rd0, wr0, rd1, wr1;
	uint8_t *buf = udk_dma_zmalloc(8192, 4096, UDK_SOCKET_ANY);
	char *heap = malloc(8192), text[96];
	struct udk_nvme_ctrlr_info ci;

	REQUIRE(buf != NULL && heap != NULL);
	udk_nvme_ns_info(ns, &ni);
	udk_nvme_ctrlr_info(c, &ci);
	smart_counts(c, &rd0, &wr0);

	snprintf(text, sizeof(text), "LBA %llu+8 is past the end of namespace 1 (%llu blocks)",
		 (unsigned long long)(ni.nsze - 4), (unsigned long long)ni.nsze);
	CHECK(err_has(udk_nvme_ns_write(qp, ns, buf, ni.nsze - 4, 8, io_cb, NULL), -ERANGE, text));
	CHECK(err_has(udk_nvme_ns_read(qp, ns, buf, UINT64_MAX - 2, 8, io_cb, NULL), -ERANGE,
		      "past the end of namespace 1"));
	CHECK(err_has(udk_nvme_ns_read(qp, ns, buf, 0, 0, io_cb, NULL), -ERANGE,
		      "needs at least one block"));
	CHECK(err_has(udk_nvme_ns_read(qp, ns, buf + 2, 0, 1, io_cb, NULL), -EINVAL,
		      "is not 4-byte aligned"));
	CHECK(err_has(udk_nvme_ns_read(qp, ns, NULL, 0, 1, io_cb, NULL), -EINVAL, "no buffer"));
	CHECK(err_has(udk_nvme_ns_write(qp, ns, heap, 0, 16, io_cb, NULL), -UDK_ENOTMAPPED,
		      "is not DMA memory of the controller's map"));
	CHECK(err_has(udk_nvme_ns_read(qp, ns, buf, 0, ci.max_xfer / ni.block_size + 1, io_cb,
				       NULL), -E2BIG, "maximum transfer"));
	CHECK(err_has(udk_nvme_ctrlr_ns(c, 7, &missing), -ENOENT,
		      "namespace 7 is not active on this controller (active: 1,2)"));
	CHECK(missing == NULL);
	CHECK(err_has(udk_nvme_ns_read(qp, NULL, buf, 0, 1, io_cb, NULL), -EINVAL,
		      "no namespace given"));
	if (other_ns != NULL)
		CHECK(err_has(udk_nvme_ns_read(qp, other_ns, buf, 0, 1, io_cb, NULL), -EINVAL,
			      "use a qpair of the namespace's controller"));
	CHECK(udk_nvme_qpair_outstanding(qp) == 0);
	CHECK(udk_nvme_qpair_poll(qp, 0) == 0);

	smart_counts(c, &rd1, &wr1);
	CHECK_MSG(rd1 == rd0 && wr1 == wr0, "the device saw commands: reads %llu -> %llu, "
		  "writes %llu -> %llu", (unsigned long long)rd0, (unsigned long long)rd1,
		  (unsigned long long)wr0, (unsigned long long)wr1);
	free(heap);
	udk_dma_free(buf);
}

/* Commands queued and rung, then a reset before they complete: each ends once,
 * with success (it made it) or -ECANCELED. */
static void reset_in_flight(struct udk_nvme_ctrlr *c, struct udk_nvme_qpair *qp,
			    struct udk_nvme_ns *ns)
{
	uint8_t *buf = udk_dma_zmalloc(64 * 4096, 4096, UDK_SOCKET_ANY);
	struct io s = {0};

	REQUIRE(buf != NULL);
	for (int i = 0; i < 32; i++) {
		CHECK(udk_nvme_ns_read(qp, ns, buf + i * 8192, (uint64_t)i * 16, 16, io_cb, &s) == 0);
		if (i == 15)
			udk_nvme_qpair_poll(qp, 0); /* rings the doorbell for the first 16 */
	}
	CHECK(udk_nvme_ctrlr_reset(c) == 0);
	printf("  reset with 32 reads in flight (16 rung, 16 queued): %d completed, %d "
	       "cancelled, %d failed\n", s.ok, s.cancelled, s.failed);
	CHECK(s.done == 32 && s.failed == 0 && s.ok + s.cancelled == 32 && s.cancelled >= 16);
	CHECK(udk_nvme_qpair_outstanding(qp) == 0);
	CHECK(udk_nvme_ctrlr_health(c) == 0);
	udk_dma_free(buf);
}

int main(void)
{
	const char *bdf0, *bdf1;
	char drv0[64] = "", drv1[64] = "";
	struct udk_nvme_ctrlr *c0, *c1;
	struct udk_nvme_ctrlr_info i0, i1;
	struct udk_nvme_ns *ns0, *ns1;
	struct udk_nvme_ns_info ni;
	struct udk_nvme_qpair *qa, *qb, *q1;
	struct udk_nvme_cpl cpl;
	uint32_t ids[4];

	setvbuf(stdout, NULL, _IONBF, 0);
	lab_require_guest();
	bdf0 = lab_env_require("UDK_LAB_NVME");
	bdf1 = lab_env_require("UDK_LAB_NVME2");
	lab_device_driver(bdf0, drv0, sizeof(drv0));
	lab_device_driver(bdf1, drv1, sizeof(drv1));
	REQUIRE(lab_bind_vfio(bdf0) == 0 && lab_bind_vfio(bdf1) == 0);

	char *argv[] = {"lab", "-l", "0,1", "-m", "160", "-a", (char *)bdf0, "-a", (char *)bdf1,
			NULL};
	REQUIRE(udk_eal_init(9, argv) == 9);
	REQUIRE(lab_backend_ok(udk_eal_dmamap()));
	REQUIRE(udk_nvme_ctrlr_attach(udk_eal_device(0), NULL, &c0) == 0);
	REQUIRE(udk_nvme_ctrlr_attach(udk_eal_device(1), NULL, &c1) == 0);
	udk_nvme_ctrlr_info(c0, &i0);
	udk_nvme_ctrlr_info(c1, &i1);
	printf("%s: %s serial %s fw %s VS 0x%x, CAP.TO %u ms, MDTS %u bytes, %u namespaces, %u "
	       "I/O queues, ONCS 0x%x\n", i0.bdf, i0.model, i0.serial, i0.firmware, i0.vs,
	       i0.timeout_ms, i0.max_xfer, i0.nb_active_ns, i0.nb_io_queues, i0.oncs);
	printf("%s: serial %s\n", i1.bdf, i1.serial);
	CHECK(strcmp(i0.serial, "udk-lab-nvme0") == 0 && strcmp(i1.serial, "udk-lab-nvme1") == 0);
	CHECK(strncmp(i0.model, "QEMU NVMe Ctrl", 14) == 0);
	CHECK(udk_device_map(udk_pci_dev_device(udk_eal_device(0))) ==
	      udk_device_map(udk_pci_dev_device(udk_eal_device(1))));
	CHECK(udk_nvme_ctrlr_active_ns(c0, ids, 4) == 2 && ids[0] == 1 && ids[1] == 2);
	CHECK(udk_nvme_ctrlr_active_ns(c1, ids, 4) == 1 && ids[0] == 1);
	REQUIRE(udk_nvme_ctrlr_ns(c0, 1, &ns0) == 0 && udk_nvme_ctrlr_ns(c1, 1, &ns1) == 0);
	udk_nvme_ns_info(ns0, &ni);
	printf("namespace 1: %llu blocks of %u bytes\n", (unsigned long long)ni.nsze, ni.block_size);
	CHECK((uint64_t)ni.nsze * ni.block_size == 256ull << 20);

	REQUIRE(udk_nvme_qpair_create(c0, NULL, &qa) == 0);
	REQUIRE(udk_nvme_qpair_create(c0, NULL, &qb) == 0);
	REQUIRE(udk_nvme_qpair_create(c1, NULL, &q1) == 0);

	struct pass pa = {.qp = qa, .ns = ns0, .first_lba = 0, .nblocks = AREA_BLOCKS,
			  .bs = ni.block_size, .max_nlb = i0.max_xfer / ni.block_size, .seed = 0xa};
	REQUIRE(write_read_verify(&pa) == 0);
	printf("controller 0: %u blocks written and verified: %d errors, first bad LBA %ld\n",
	       pa.nblocks, pa.errors, pa.bad_lba);
	CHECK(pa.errors == 0 && pa.bad_lba < 0);

	/* The second controller, same LBAs, its own pattern. */
	struct pass p1 = pa;
	p1.qp = q1, p1.ns = ns1, p1.seed = 0xb;
	REQUIRE(write_read_verify(&p1) == 0);
	printf("controller 1: %d errors, first bad LBA %ld\n", p1.errors, p1.bad_lba);
	CHECK(p1.errors == 0 && p1.bad_lba < 0);

	/* Reset with commands in flight, then everything is still there. */
	reset_in_flight(c0, qa, ns0);
	uint8_t *rb = udk_dma_zmalloc((size_t)pa.max_nlb * ni.block_size, 4096, UDK_SOCKET_ANY);
	REQUIRE(rb != NULL);
	long bad = -1;
	for (uint64_t lba = 0; lba < AREA_BLOCKS && bad < 0; lba += pa.max_nlb) {
		CHECK(udk_nvme_ns_io_sync(qb, ns0, UDK_NVME_IO_READ, rb, lba, pa.max_nlb, NULL) == 0);
		long b = lab_pattern_check(rb, lba, pa.max_nlb, ni.block_size, 0xa);
		if (b >= 0)
			bad = (long)lba + b;
	}
	printf("after the reset, on the other (rebuilt) qpair: first bad LBA %ld\n", bad);
	CHECK(bad < 0);

	/* Two qpairs on two lcores at once, disjoint areas. */
	struct pass pw = pa, pm = pa;
	pw.qp = qb, pw.first_lba = 2 * AREA_BLOCKS, pw.seed = 0xc;
	pm.qp = qa, pm.first_lba = 3 * AREA_BLOCKS, pm.seed = 0xd;
	CHECK(udk_lcore_launch(1, worker, &pw) == 0);
	CHECK(write_read_verify(&pm) == 0);
	CHECK(udk_lcore_wait(1) == 0);
	printf("two lcores: lcore 1 %d errors (bad %ld), lcore 0 %d errors (bad %ld)\n",
	       pw.errors, pw.bad_lba, pm.errors, pm.bad_lba);
	CHECK(pw.errors == 0 && pw.bad_lba < 0 && pm.errors == 0 && pm.bad_lba < 0);

	/* Write Zeroes, Deallocate, Flush. */
	CHECK(udk_nvme_ns_io_sync(qa, ns0, UDK_NVME_IO_WRITE_ZEROES, NULL, 100, 50, &cpl) == 0);
	CHECK(udk_nvme_ns_io_sync(qa, ns0, UDK_NVME_IO_READ, rb, 96, 64, NULL) == 0);
	bool zero_ok = lab_pattern_check(rb, 96, 4, ni.block_size, 0xa) < 0 &&
		       lab_pattern_check(rb + 54 * (size_t)ni.block_size, 150, 10, ni.block_size,
					 0xa) < 0;
	for (size_t i = 4 * (size_t)ni.block_size; i < 54 * (size_t)ni.block_size; i++)
		zero_ok = zero_ok && rb[i] == 0;
	printf("write zeroes of LBA 100+50: %s\n", zero_ok ? "zeros there, neighbours intact"
							    : "WRONG");
	CHECK(zero_ok);
	CHECK(udk_nvme_ns_io_sync(qa, ns0, UDK_NVME_IO_DEALLOCATE, NULL, 1000, 100, NULL) == 0);
	CHECK(udk_nvme_ns_io_sync(qa, ns0, UDK_NVME_IO_FLUSH, NULL, 0, 0, NULL) == 0);

	struct udk_nvme_error_log *el = udk_dma_zmalloc(4096, 4096, UDK_SOCKET_ANY);
	REQUIRE(el != NULL);
	CHECK(udk_nvme_ctrlr_get_log_page(c0, UDK_NVME_LOG_ERROR, 0xffffffff, el,
					  (i0.elpe + 1u) * sizeof(*el) > 4096 ? 4096 :
					  (i0.elpe + 1u) * sizeof(*el)) == 0);
	udk_dma_free(el);

	bad_inputs(c0, qa, ns0, ns1);

	double qd1 = rand_read_iops(qa, ns0, 1), qd32 = rand_read_iops(qa, ns0, 32);
	printf("4 KiB random reads through udk: %.0f IOPS at QD1, %.0f at QD32\n", qd1, qd32);

	CHECK(udk_nvme_qpair_destroy(qb) == 0);
	CHECK(udk_nvme_qpair_create(c0, NULL, &qb) == 0); /* created again at run time */
	CHECK(udk_nvme_ns_io_sync(qb, ns0, UDK_NVME_IO_READ, rb, 0, 8, NULL) == 0);
	CHECK(lab_pattern_check(rb, 0, 8, ni.block_size, 0xa) < 0);

	udk_dma_free(rb);
	udk_nvme_ctrlr_detach(c0);
	udk_nvme_ctrlr_detach(c1);
	udk_eal_cleanup();
	lab_bind(bdf0, drv0);
	lab_bind(bdf1, drv1);
	return lab_result();
}
