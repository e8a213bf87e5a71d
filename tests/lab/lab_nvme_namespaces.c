/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_nvme_namespaces: several controllers and namespaces on one map.  The
 * lab's first NVMe has namespaces 1 and 2, the second has namespace 1
 * (doc/lab.md).  The driver lists them; three patterns go to the same LBAs of
 * the three namespaces at once, from two queue pairs of the first controller
 * on two lcores and one of the second; everything is read back (each
 * namespace through the other qpair, and 1 and 2 in one mixed batch) and
 * every block holds its own namespace's pattern: nothing aliases.  Namespace
 * 3 is refused with its message and the SMART command counters prove nothing
 * reached the device.  Then the tools: udk-nvme identify lists both
 * namespaces, and udk-nvme-perf --ns all drives the three namespaces at once
 * with per-namespace rows that sum to the total, and with --verify reads back
 * every write it made to them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "labbackend.h"
#include "labjson.h"
#include "labutil.h"
#include "udk_eal.h"
#include "udk_nvme.h"
#include "udk_util.h"

#define AREA 2048u  /* blocks: the same LBAs 0..AREA-1 on every namespace */
#define CHUNK 128u  /* blocks per command */
#define NB_NS 3

struct target {
	struct udk_nvme_qpair *qp;
	struct udk_nvme_ns *ns;
	uint64_t seed;
	uint8_t *buf;   /* AREA blocks */
	int failed;
};

static void fill(uint8_t *buf, uint64_t seed)
{
	uint64_t *w = (uint64_t *)buf;

	for (uint64_t i = 0; i < (uint64_t)AREA * 512 / 8; i++)
		w[i] = seed << 48 ^ i;
}

/* The first block of buf that is not seed's pattern, or -1. */
static long verify(const uint8_t *buf, uint64_t seed)
{
	const uint64_t *w = (const uint64_t *)buf;

	for (uint64_t i = 0; i < (uint64_t)AREA * 512 / 8; i++)
		if (w[i] != (seed << 48 ^ i))
			return (long)(i / 64);
	return -1;
}

struct batch {
	int left, failed;
};

static void cb(void *arg, const struct udk_nvme_cpl *cpl)
{
	struct batch *b = arg;

	if (cpl->rc != 0)
		fprintf(stderr, "  command failed: %d, %s\n", cpl->rc,
			udk_nvme_status_str(cpl->status));
	b->left--;
	b->failed += cpl->rc != 0;
}

/* The whole area of t in one batch of AREA / CHUNK commands. */
static int area_io(struct target *t, enum udk_nvme_io_op op)
{
	struct batch b = {0};

	for (uint32_t k = 0; k < AREA / CHUNK; k++) {
		int rc = udk_nvme_ns_io(t->qp, t->ns, op, t->buf + (size_t)k * CHUNK * 512,
					(uint64_t)k * CHUNK, CHUNK, 0, cb, &b);

		b.left += rc == 0;
		b.failed += rc != 0;
	}
	while (b.left > 0)
		udk_nvme_qpair_poll(t->qp, 0);
	return b.failed == 0 ? 0 : -EIO;
}

static int writer(void *arg)
{
	struct target *t = arg;

	t->failed = area_io(t, UDK_NVME_IO_WRITE) != 0;
	return 0;
}

static void smart_counts(struct udk_nvme_ctrlr *c, uint64_t *rw)
{
	struct udk_nvme_smart_log *s = udk_mem_default_zmalloc(sizeof(*s), 4096, UDK_SOCKET_ANY);

	REQUIRE(s != NULL);
	CHECK(udk_nvme_ctrlr_get_log_page(c, UDK_NVME_LOG_SMART, 0xffffffff, s, sizeof(*s)) == 0);
	memcpy(&rw[0], s->host_read_cmds, 8);
	memcpy(&rw[1], s->host_write_cmds, 8);
	udk_mem_default_free(s);
}

/* Namespace 3 of c0 is not active: refused, and the device never sees it. */
static void inactive_ns(struct udk_nvme_ctrlr *c0, struct udk_nvme_ctrlr *c1,
			struct udk_nvme_qpair *qp, uint8_t *buf)
{
	struct udk_nvme_ns *ns3 = NULL, *ns2 = NULL;
	uint64_t before[2], after[2];
	int rc;

	smart_counts(c0, before);
	rc = udk_nvme_ctrlr_ns(c0, 3, &ns3);
	printf("namespace 3: %d \"%s\"\n", rc, udk_last_error());
	CHECK(rc == -ENOENT && ns3 == NULL);
	CHECK(strstr(udk_last_error(), "namespace 3 is not active on this controller "
				       "(active: 1,2)") != NULL);
	rc = udk_nvme_ns_read(qp, ns3, buf, 0, 8, cb, NULL);
	printf("read with it anyway: %d \"%s\"\n", rc, udk_last_error());
	CHECK(rc == -EINVAL && strstr(udk_last_error(), "no namespace given") != NULL);
	rc = udk_nvme_ctrlr_ns(c1, 2, &ns2);
	printf("namespace 2 of the second controller: %d \"%s\"\n", rc, udk_last_error());
	CHECK(rc == -ENOENT && ns2 == NULL && strstr(udk_last_error(), "(active: 1)") != NULL);
	CHECK(udk_nvme_qpair_outstanding(qp) == 0 && udk_nvme_qpair_poll(qp, 0) == 0);
	smart_counts(c0, after);
	printf("SMART host reads %llu -> %llu, writes %llu -> %llu\n",
	       (unsigned long long)before[0], (unsigned long long)after[0],
	       (unsigned long long)before[1], (unsigned long long)after[1]);
	CHECK(before[0] == after[0] && before[1] == after[1]);
}

/* Both namespaces of one controller in one batch on one qpair, interleaved:
 * reads of the same LBAs, each into its own buffer. */
static void mixed_batch(struct target *a, struct target *b)
{
	struct batch bt = {.left = 2 * (AREA / CHUNK)};

	memset(a->buf, 0, (size_t)AREA * 512);
	memset(b->buf, 0, (size_t)AREA * 512);
	for (uint32_t k = 0; k < AREA / CHUNK; k++) {
		CHECK(udk_nvme_ns_read(a->qp, a->ns, a->buf + (size_t)k * CHUNK * 512,
				       (uint64_t)k * CHUNK, CHUNK, cb, &bt) == 0);
		CHECK(udk_nvme_ns_read(a->qp, b->ns, b->buf + (size_t)k * CHUNK * 512,
				       (uint64_t)k * CHUNK, CHUNK, cb, &bt) == 0);
	}
	while (bt.left > 0)
		udk_nvme_qpair_poll(a->qp, 0);
	CHECK(bt.failed == 0);
	printf("one batch of %u reads on one qpair, namespaces 1 and 2 interleaved: first bad "
	       "block %ld and %ld\n", 2 * (AREA / CHUNK), verify(a->buf, a->seed),
	       verify(b->buf, b->seed));
	CHECK(verify(a->buf, a->seed) < 0 && verify(b->buf, b->seed) < 0);
}

static double num(const char *v, const char *path)
{
	char buf[64];

	return lab_json_text(lab_json_path(v, path), buf, sizeof(buf)) < 0 ? -1 : atof(buf);
}

/* udk-nvme identify and udk-nvme-perf --ns all, on both controllers. */
static void tools(const char *bdf0, const char *bdf1)
{
	static char out[65536];
	char cmd[256];
	const char *ns, *v;
	double sum = 0, jobs = 0;

	snprintf(cmd, sizeof(cmd), "udk-nvme -a %s identify --json", bdf0);
	CHECK(lab_run_output(cmd, out, sizeof(out)) == 0 && lab_json_valid(out));
	ns = lab_json_member(out, "namespaces");
	CHECK(lab_json_length(ns) == 2);
	CHECK(lab_json_is(lab_json_index(ns, 0), "nsid", "1") &&
	      lab_json_is(lab_json_index(ns, 0), "blocks", "524288"));
	CHECK(lab_json_is(lab_json_index(ns, 1), "nsid", "2") &&
	      lab_json_is(lab_json_index(ns, 1), "blocks", "524288"));
	snprintf(cmd, sizeof(cmd), "udk-nvme -a %s identify", bdf0);
	CHECK(lab_run_output(cmd, out, sizeof(out)) == 0);
	CHECK(strstr(out, "namespace 1\n") != NULL && strstr(out, "namespace 2\n") != NULL);

	snprintf(cmd, sizeof(cmd), "udk-nvme-perf -l 0,1 -m 128 -a %s -a %s -- --ns all --qd 8 "
		 "--pattern randrw --time 2 --json", bdf0, bdf1);
	int rc = lab_run_output(cmd, out, sizeof(out));
	CHECK_MSG(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "udk-nvme-perf: status 0x%x", rc);
	CHECK(lab_json_valid(out) && lab_json_is(out, "ns", "all"));
	ns = lab_json_member(out, "namespaces");
	CHECK(lab_json_length(ns) == NB_NS);
	CHECK(lab_json_length(lab_json_member(out, "jobs")) == NB_NS);
	static const char *const want[NB_NS] = {"1", "2", "1"};
	for (int i = 0; i < NB_NS; i++) {
		v = lab_json_index(ns, i);
		CHECK(lab_json_is(v, "bdf", i < 2 ? bdf0 : bdf1));
		CHECK(lab_json_is(v, "nsid", want[i]));
		CHECK_MSG(num(v, "ios") > 0 && num(v, "errors") == 0, "namespace row %d", i);
		sum += num(v, "ios");
		jobs += num(lab_json_index(lab_json_member(out, "jobs"), i), "ios");
	}
	printf("udk-nvme-perf: per-namespace I/Os sum to %.0f, per-job to %.0f, total %.0f\n", sum,
	       jobs, num(out, "total.ios"));
	CHECK(sum == num(out, "total.ios") && jobs == sum);

	/* Sequential writes to the three, each block stamped with its LBA and
	 * write generation, then every acknowledged write read back. */
	snprintf(cmd, sizeof(cmd), "udk-nvme-perf -l 0,1 -m 128 -a %s -a %s -- --ns all --qd 4 "
		 "--pattern write --time 1 --verify --json", bdf0, bdf1);
	rc = lab_run_output(cmd, out, sizeof(out));
	CHECK_MSG(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "udk-nvme-perf --verify: status 0x%x", rc);
	CHECK(lab_json_valid(out) && lab_json_length(lab_json_member(out, "jobs")) == NB_NS);
	for (int i = 0; i < NB_NS; i++) {
		v = lab_json_index(lab_json_member(out, "jobs"), i);
		CHECK_MSG(num(v, "verified") > 0 && num(v, "verify_errors") == 0, "job %d: verified "
			  "%.0f, %.0f wrong", i, num(v, "verified"), num(v, "verify_errors"));
	}

	snprintf(cmd, sizeof(cmd), "udk-nvme-perf -l 0 -m 64 -a %s -a %s -- --ns 1,2 --time 1 "
		 "2>&1", bdf0, bdf1);
	rc = lab_run_output(cmd, out, sizeof(out));
	CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
	CHECK(strstr(out, "--ns: ") != NULL && strstr(out, "namespace 2 is not active") != NULL);
}

int main(void)
{
	char drv0[64] = "", drv1[64] = "";
	const char *bdf0, *bdf1;
	struct udk_nvme_ctrlr *c0, *c1;
	struct udk_nvme_qpair *qa, *qb, *q1;
	struct udk_nvme_ns_info ni;
	uint32_t ids[8];
	struct target t[NB_NS];
	static const uint64_t seeds[NB_NS] = {0x0a01, 0x0a02, 0x0b01};

	setvbuf(stdout, NULL, _IONBF, 0);
	lab_require_guest();
	bdf0 = lab_env_require("UDK_LAB_NVME");
	bdf1 = lab_env_require("UDK_LAB_NVME2");
	lab_device_driver(bdf0, drv0, sizeof(drv0));
	lab_device_driver(bdf1, drv1, sizeof(drv1));
	REQUIRE(lab_bind_vfio(bdf0) == 0 && lab_bind_vfio(bdf1) == 0);

	char *argv[] = {"lab", "-l", "0,1", "-m", "64", "-a", (char *)bdf0, "-a", (char *)bdf1,
			NULL};
	REQUIRE(udk_eal_init(9, argv) == 9);
	REQUIRE(lab_backend_ok(udk_eal_dmamap()));
	REQUIRE(udk_nvme_ctrlr_attach(udk_eal_device(0), NULL, &c0) == 0);
	REQUIRE(udk_nvme_ctrlr_attach(udk_eal_device(1), NULL, &c1) == 0);
	CHECK(udk_device_map(udk_pci_dev_device(udk_eal_device(0))) ==
	      udk_device_map(udk_pci_dev_device(udk_eal_device(1))));

	uint32_t n0 = udk_nvme_ctrlr_active_ns(c0, ids, 8);
	printf("%s: %u active namespaces:", bdf0, n0);
	for (uint32_t i = 0; i < n0 && i < 8; i++)
		printf(" %u", ids[i]);
	printf("\n");
	CHECK(n0 == 2 && ids[0] == 1 && ids[1] == 2);
	uint32_t n1 = udk_nvme_ctrlr_active_ns(c1, ids, 8);
	printf("%s: %u active namespace: %u\n", bdf1, n1, ids[0]);
	CHECK(n1 == 1 && ids[0] == 1);

	REQUIRE(udk_nvme_ctrlr_ns(c0, 1, &t[0].ns) == 0);
	REQUIRE(udk_nvme_ctrlr_ns(c0, 2, &t[1].ns) == 0);
	REQUIRE(udk_nvme_ctrlr_ns(c1, 1, &t[2].ns) == 0);
	CHECK(t[0].ns != t[1].ns);
	for (int i = 0; i < NB_NS; i++) {
		udk_nvme_ns_info(t[i].ns, &ni);
		printf("  %s namespace %u: %llu blocks of %u bytes\n", i < 2 ? bdf0 : bdf1, ni.nsid,
		       (unsigned long long)ni.nsze, ni.block_size);
		CHECK(ni.nsid == (i == 1 ? 2u : 1u));
		CHECK(ni.block_size == 512 && ni.nsze * 512 == 256ull << 20);
		t[i].seed = seeds[i];
		t[i].buf = udk_mem_default_zmalloc((size_t)AREA * 512, 4096, UDK_SOCKET_ANY);
		REQUIRE(t[i].buf != NULL);
		fill(t[i].buf, t[i].seed);
	}
	REQUIRE(udk_nvme_qpair_create(c0, NULL, &qa) == 0);
	REQUIRE(udk_nvme_qpair_create(c0, NULL, &qb) == 0);
	REQUIRE(udk_nvme_qpair_create(c1, NULL, &q1) == 0);

	/* The same LBAs of the three namespaces at once: namespace 2 from lcore
	 * 1 (qpair b), namespace 1 of both controllers from lcore 0. */
	t[0].qp = qa, t[1].qp = qb, t[2].qp = q1;
	CHECK(udk_lcore_launch(1, writer, &t[1]) == 0);
	writer(&t[0]);
	writer(&t[2]);
	CHECK(udk_lcore_wait(1) == 0);
	printf("written: LBA 0..%u of each namespace, %u commands each, failed: %d %d %d\n",
	       AREA - 1, AREA / CHUNK, t[0].failed, t[1].failed, t[2].failed);
	CHECK(!t[0].failed && !t[1].failed && !t[2].failed);

	/* Read back through the other qpair of the first controller. */
	t[0].qp = qb, t[1].qp = qa;
	for (int i = 0; i < NB_NS; i++) {
		memset(t[i].buf, 0, (size_t)AREA * 512);
		CHECK(area_io(&t[i], UDK_NVME_IO_READ) == 0);
		long bad = verify(t[i].buf, t[i].seed);
		printf("  namespace %d read back: first bad block %ld\n", i, bad);
		CHECK(bad < 0);
	}
	t[0].qp = qa;
	mixed_batch(&t[0], &t[1]);
	inactive_ns(c0, c1, qa, t[0].buf);

	for (int i = 0; i < NB_NS; i++)
		udk_mem_default_free(t[i].buf);
	CHECK(udk_nvme_qpair_destroy(qa) == 0 && udk_nvme_qpair_destroy(qb) == 0 &&
	      udk_nvme_qpair_destroy(q1) == 0);
	udk_nvme_ctrlr_detach(c0);
	udk_nvme_ctrlr_detach(c1);
	udk_eal_cleanup();

	tools(bdf0, bdf1);

	lab_bind(bdf0, drv0);
	lab_bind(bdf1, drv1);
	return lab_result();
}
