/* SPDX-License-Identifier: BSD-3-Clause */
/* ring_bench - lib/ring and lib/mempool against DPDK's rte_ring and
 * rte_mempool, both in this one process, measured the same way (rdtsc,
 * cycles per element, best of several runs - 7, or 21 shorter ones for the
 * two-lcore case: the machine is shared).
 *
 * Cases, each for bulks of 8 and 32:
 *   - ring, one thread: enqueue a bulk then dequeue it, SP/SC and MP/MC rings;
 *   - ring, two lcores on two CPUs: a producer on lcore 1 enqueues, the main
 *     lcore dequeues, MP/MC rings (each framework's own worker lcore);
 *   - mempool, one lcore: get a bulk then put it back, cache of 256 (the
 *     objects stay in the lcore cache: this is the fast path every packet takes).
 * An element is one pointer through enqueue+dequeue (get+put).  The ratio is
 * udk/DPDK: lower is better, the goal is <= 0.9.  Not a pass/fail test.
 *
 * This is the only file of udk that includes DPDK headers; meson builds it only
 * when libdpdk is found (option dpdk).  Usage: ring_bench [--quick] [--json]
 */
/* DPDK first: its rte_branch_prediction.h defines likely()/unlikely(), which
 * udk's headers then leave alone (#ifndef); the definitions are the same. */
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "udk_eal.h"
#include "udk_mempool.h"
#include "udk_ring.h"
#include "udk_util.h"

#define RING_COUNT 1024 /* slots; DPDK keeps one free, udk is asked for 1023 */
#define POOL_COUNT 8191
#define POOL_ELT 64
#define POOL_CACHE 256
#define MAX_BULK 32

static int runs = 7;
static long iters = 2000000;      /* bulks per one-thread run */
/* Elements per two-lcore run: short runs, three times as many of them, so
 * that some run on a shared machine is not preempted on either CPU. */
static long xfer = 2000000;
static bool json;
static double tsc_ghz;

static inline uint64_t tsc(void)
{
	return __builtin_ia32_rdtsc();
}

/* TSC ticks per ns, against CLOCK_MONOTONIC over 100 ms. */
static double calibrate(void)
{
	struct timespec a, b, d = {0, 100000000};
	uint64_t t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &a);
	t0 = tsc();
	nanosleep(&d, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	t1 = tsc();
	return (double)(t1 - t0) / ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec));
}

static void *objs_src[MAX_BULK];

/* ---- one thread: enqueue + dequeue ---- */

static double udk_ring_1t(struct udk_ring *r, unsigned int n)
{
	void *out[MAX_BULK];
	uint64_t t0 = tsc();

	for (long i = 0; i < iters; i++) {
		if (udk_ring_enqueue_bulk(r, objs_src, n) != n ||
		    udk_ring_dequeue_bulk(r, out, n) != n)
			abort();
	}
	return (double)(tsc() - t0) / ((double)iters * n);
}

static double rte_ring_1t(struct rte_ring *r, unsigned int n)
{
	void *out[MAX_BULK];
	uint64_t t0 = tsc();

	for (long i = 0; i < iters; i++) {
		if (rte_ring_enqueue_bulk(r, objs_src, n, NULL) != n ||
		    rte_ring_dequeue_bulk(r, out, n, NULL) != n)
			abort();
	}
	return (double)(tsc() - t0) / ((double)iters * n);
}

/* ---- two lcores: producer on the worker, consumer on the main lcore ---- */

struct xfer_arg {
	void *ring;
	unsigned int n;
	atomic_int go;
};

static int udk_producer(void *p)
{
	struct xfer_arg *a = p;

	while (!atomic_load_explicit(&a->go, memory_order_acquire))
		udk_ring_pause_();
	for (long sent = 0; sent < xfer; sent += a->n)
		while (udk_ring_enqueue_bulk(a->ring, objs_src, a->n) == 0)
			udk_ring_pause_();
	return 0;
}

static int rte_producer(void *p)
{
	struct xfer_arg *a = p;

	while (!atomic_load_explicit(&a->go, memory_order_acquire))
		rte_pause();
	for (long sent = 0; sent < xfer; sent += a->n)
		while (rte_ring_enqueue_bulk(a->ring, objs_src, a->n, NULL) == 0)
			rte_pause();
	return 0;
}

static double udk_ring_2t(struct udk_ring *r, unsigned int n)
{
	struct xfer_arg a = {.ring = r, .n = n};
	void *out[MAX_BULK];
	uint64_t t0;

	if (udk_lcore_launch(1, udk_producer, &a) != 0)
		abort();
	t0 = tsc();
	atomic_store_explicit(&a.go, 1, memory_order_release);
	for (long got = 0; got < xfer; got += n)
		while (udk_ring_dequeue_bulk(r, out, n) == 0)
			udk_ring_pause_();
	t0 = tsc() - t0;
	udk_lcore_wait(1);
	return (double)t0 / (double)xfer;
}

static double rte_ring_2t(struct rte_ring *r, unsigned int n, unsigned int worker)
{
	struct xfer_arg a = {.ring = r, .n = n};
	void *out[MAX_BULK];
	uint64_t t0;

	if (rte_eal_remote_launch(rte_producer, &a, worker) != 0)
		abort();
	t0 = tsc();
	atomic_store_explicit(&a.go, 1, memory_order_release);
	for (long got = 0; got < xfer; got += n)
		while (rte_ring_dequeue_bulk(r, out, n, NULL) == 0)
			rte_pause();
	t0 = tsc() - t0;
	rte_eal_wait_lcore(worker);
	return (double)t0 / (double)xfer;
}

/* ---- mempool: get + put on the main lcore, through its cache ---- */

static double udk_pool_1t(struct udk_mempool *mp, unsigned int n)
{
	void *objs[MAX_BULK];
	uint64_t t0 = tsc();

	for (long i = 0; i < iters; i++) {
		if (udk_mempool_get_bulk(mp, objs, n) != 0)
			abort();
		udk_mempool_put_bulk(mp, objs, n);
	}
	return (double)(tsc() - t0) / ((double)iters * n);
}

static double rte_pool_1t(struct rte_mempool *mp, unsigned int n)
{
	void *objs[MAX_BULK];
	uint64_t t0 = tsc();

	for (long i = 0; i < iters; i++) {
		if (rte_mempool_get_bulk(mp, objs, n) != 0)
			abort();
		rte_mempool_put_bulk(mp, objs, n);
	}
	return (double)(tsc() - t0) / ((double)iters * n);
}

/* ---- the table ---- */

struct objs {
	struct udk_ring *ur_s, *ur_m;
	struct rte_ring *rr_s, *rr_m;
	struct udk_mempool *up;
	struct rte_mempool *rp;
	unsigned int worker;
};

enum kase { RING_SPSC, RING_MPMC, RING_MPMC_2T, POOL };
static const char *const kase_name[] = {"ring SP/SC 1 thread", "ring MP/MC 1 thread",
					"ring MP/MC 2 lcores", "mempool cache 256"};

static double run_one(const struct objs *o, enum kase k, unsigned int n, bool udk)
{
	switch (k) {
	case RING_SPSC:
		return udk ? udk_ring_1t(o->ur_s, n) : rte_ring_1t(o->rr_s, n);
	case RING_MPMC:
		return udk ? udk_ring_1t(o->ur_m, n) : rte_ring_1t(o->rr_m, n);
	case RING_MPMC_2T:
		return udk ? udk_ring_2t(o->ur_m, n) : rte_ring_2t(o->rr_m, n, o->worker);
	case POOL:
		return udk ? udk_pool_1t(o->up, n) : rte_pool_1t(o->rp, n);
	}
	return 0;
}

static double loadavg(void)
{
	double l[1] = {0};

	getloadavg(l, 1);
	return l[0];
}

static int setup(struct objs *o)
{
	char *rte_argv[] = {"ring_bench", "--no-huge", "--no-pci", "-m", "256", "--no-shconf",
			    "-l", "0,1", "--log-level", "error", NULL};
	char *udk_argv[] = {"ring_bench", "--no-huge", "-m", "64", "-l", "0,1", NULL};
	struct udk_mempool_opts po;
	int rc;

	/* udk first: it checks that CPU 1 is in the process's affinity mask,
	 * which rte_eal_init() narrows to CPU 0 for the main thread. */
	rc = udk_eal_init(6, udk_argv);
	if (rc < 0) {
		fprintf(stderr, "ring_bench: udk_eal_init failed (%d)\n", rc);
		return -1;
	}
	rc = rte_eal_init(10, rte_argv);
	if (rc < 0) {
		fprintf(stderr, "ring_bench: rte_eal_init failed: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	o->worker = rte_get_next_lcore(-1, 1, 0);
	if (o->worker >= RTE_MAX_LCORE || udk_lcore_count() < 2) {
		fprintf(stderr, "ring_bench: need two lcores\n");
		return -1;
	}
	if (udk_ring_create("s", RING_COUNT - 1, UDK_RING_SP | UDK_RING_SC, &o->ur_s) < 0 ||
	    udk_ring_create("m", RING_COUNT - 1, 0, &o->ur_m) < 0)
		return -1;
	o->rr_s = rte_ring_create("s", RING_COUNT, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	o->rr_m = rte_ring_create("m", RING_COUNT, SOCKET_ID_ANY, 0);
	if (o->rr_s == NULL || o->rr_m == NULL) {
		fprintf(stderr, "ring_bench: rte_ring_create: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	udk_mempool_opts_init(&po, sizeof(po));
	po.name = "p";
	po.count = POOL_COUNT;
	po.elt_size = POOL_ELT;
	po.cache_size = POOL_CACHE;
	if (udk_mempool_create(&po, &o->up) < 0)
		return -1;
	o->rp = rte_mempool_create("p", POOL_COUNT, POOL_ELT, POOL_CACHE, 0, NULL, NULL, NULL,
				   NULL, SOCKET_ID_ANY, 0);
	if (o->rp == NULL) {
		fprintf(stderr, "ring_bench: rte_mempool_create: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const unsigned int bulks[] = {8, 32};
	struct objs o;
	bool first = true;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			runs = 3;
			iters /= 10;
			xfer /= 10;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else {
			fprintf(stderr, "usage: ring_bench [--quick] [--json]\n");
			return strcmp(argv[i], "--help") == 0 ? 0 : 2;
		}
	}
	for (unsigned int i = 0; i < MAX_BULK; i++)
		objs_src[i] = (void *)(uintptr_t)(0x1000 + i * 64);
	if (setup(&o) < 0)
		return 1;
	tsc_ghz = calibrate();

	if (json)
		printf("{\"tsc_ghz\": %.3f, \"load_before\": %.2f, \"cases\": [\n  ", tsc_ghz,
		       loadavg());
	else
		printf("cycles (TSC %.2f GHz) and ns per element, best of %d runs (x3 for 2 lcores);\n"
		       "udk/DPDK: lower is better, goal <= 0.9\nload average before: %.2f\n\n"
		       "%-22s %4s %9s %9s %9s %9s %8s\n", tsc_ghz, runs, loadavg(), "case", "bulk",
		       "udk cyc", "dpdk cyc", "udk ns", "dpdk ns", "udk/dpdk");
	for (unsigned int k = 0; k <= POOL; k++) {
		for (unsigned int b = 0; b < UDK_ARRAY_SIZE(bulks); b++) {
			unsigned int n = bulks[b];
			double best_u = 1e30, best_d = 1e30;

			int nruns = k == RING_MPMC_2T ? 3 * runs : runs;

			/* Alternate the two so a burst of load hits both alike. */
			for (int r = 0; r < nruns; r++) {
				double u = run_one(&o, k, n, true);
				double d = run_one(&o, k, n, false);
				best_u = u < best_u ? u : best_u;
				best_d = d < best_d ? d : best_d;
				fprintf(stderr, ".");
			}
			fprintf(stderr, "\n");
			if (json) {
				printf("%s{\"case\": \"%s\", \"bulk\": %u, \"udk_cycles\": %.2f, "
				       "\"dpdk_cycles\": %.2f, \"ratio\": %.3f}", first ? "" : ",\n  ",
				       kase_name[k], n, best_u, best_d, best_u / best_d);
				first = false;
			} else {
				printf("%-22s %4u %9.2f %9.2f %9.2f %9.2f %7.2fx\n", kase_name[k], n,
				       best_u, best_d, best_u / tsc_ghz, best_d / tsc_ghz,
				       best_u / best_d);
			}
			fflush(stdout);
		}
	}
	if (json)
		printf("\n], \"load_after\": %.2f}\n", loadavg());
	else
		printf("\nload average after: %.2f\n", loadavg());

	udk_mempool_free(o.up);
	udk_ring_free(o.ur_s);
	udk_ring_free(o.ur_m);
	rte_mempool_free(o.rp);
	rte_ring_free(o.rr_s);
	rte_ring_free(o.rr_m);
	udk_eal_cleanup();
	rte_eal_cleanup();
	return 0;
}
