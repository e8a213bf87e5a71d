/* SPDX-License-Identifier: BSD-3-Clause */
/* dma_map_bench - the cost of udk_dmamap_map() and udk_dmamap_unmap() on
 * each backend, VFIO type1 and iommufd, in one run on one kernel (the lab's
 * iommufd guest has both).  Each map
 * has one device attached (an NVMe on vfio-pci), so that every map and unmap
 * reaches the IOMMU's page table, as it does in use.  Sizes 4 KiB, 2 MiB and
 * 64 MiB, in ordinary 4 KiB pages and, from 2 MiB up, in 2 MiB hugepages.
 * Prints the median ns per map and per unmap (the better of two alternating
 * rounds) and the ratio iommufd / type1
 * (not a pass/fail test; TCG distorts absolute figures, compare the ratios).
 *
 * Usage: dma_map_bench [--device BDF] [--quick] [--json]; in the lab:
 *   python3 tests/lab/lab.py demo --guest iommufd --build-dir build \
 *       build/tests/perf/dma_map_bench
 *   BDF defaults to $UDK_LAB_NVME (the lab's first NVMe); it is bound to
 *   vfio-pci if it is not.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "udk_dma.h"
#include "udk_pci.h"
#include "udk_util.h"

struct size_case {
	size_t len;
	bool huge;
	int iters;
};

static const struct size_case cases[] = {
	{4096, false, 400},
	{2u << 20, false, 60},
	{2u << 20, true, 200},
	{64u << 20, false, 6},
	{64u << 20, true, 20},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

struct result {
	double map_ns, unmap_ns;
	int err;
};

static bool quick, json;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void *alloc_mem(size_t len, bool huge)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | (huge ? MAP_HUGETLB : 0);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 1, len); /* really there, before any pin */
	return p;
}

/* iters map+unmap pairs of the same buffer on map; medians in r. */
static void time_case(struct udk_dmamap *map, void *buf, const struct size_case *c,
		      struct result *r)
{
	int n = quick ? (c->iters + 3) / 4 : c->iters;
	double *tm = calloc(n, sizeof(double)), *tu = calloc(n, sizeof(double));
	uint64_t iova;
	int rc = 0;

	r->err = 0;
	for (int i = -1; i < n && rc == 0; i++) { /* i = -1: warm-up */
		double t0 = now_ns();
		rc = udk_dmamap_map(map, buf, c->len, &iova);
		double t1 = now_ns();
		if (rc == 0)
			rc = udk_dmamap_unmap(map, buf, c->len);
		double t2 = now_ns();
		if (i >= 0) {
			tm[i] = t1 - t0;
			tu[i] = t2 - t1;
		}
	}
	if (rc != 0) {
		r->err = rc;
		fprintf(stderr, "dma_map_bench: %zu bytes on %s: %s\n", c->len,
			udk_dmamap_name(map), udk_last_error());
	} else {
		r->map_ns = median(tm, n);
		r->unmap_ns = median(tu, n);
	}
	free(tm);
	free(tu);
}

/* One map of backend b with the device attached, every case timed on it. */
static int run_backend(const char *bdf, enum udk_dmamap_backend b, void **bufs,
		       struct result *res)
{
	struct udk_dmamap_opts o;
	struct udk_dmamap *map;
	struct udk_device *dev;
	int rc;

	udk_dmamap_opts_init(&o, sizeof(o));
	o.backend = b;
	o.name = b == UDK_DMAMAP_IOMMUFD ? "bench-iommufd" : "bench-type1";
	rc = udk_dmamap_create(&o, &map);
	if (rc < 0) {
		fprintf(stderr, "dma_map_bench: create %s: %s\n", o.name, udk_last_error());
		return rc;
	}
	rc = udk_device_open(bdf, &dev);
	if (rc == 0) {
		rc = udk_device_attach(dev, map);
		if (rc < 0)
			udk_device_close(dev);
	}
	if (rc < 0) {
		fprintf(stderr, "dma_map_bench: %s on %s: %s\n", bdf, o.name, udk_last_error());
		udk_dmamap_put(map);
		return rc;
	}
	for (size_t i = 0; i < NCASES; i++) {
		if (bufs[i] != NULL)
			time_case(map, bufs[i], &cases[i], &res[i]);
		else
			res[i].err = -ENOMEM;
	}
	udk_device_close(dev);
	udk_dmamap_put(map);
	return 0;
}

static void keep_best(struct result *best, const struct result *r, int round)
{
	for (size_t i = 0; i < NCASES; i++) {
		if (round == 0 || r[i].err) {
			if (round == 0 || !best[i].err)
				best[i] = r[i];
			continue;
		}
		if (r[i].map_ns < best[i].map_ns)
			best[i].map_ns = r[i].map_ns;
		if (r[i].unmap_ns < best[i].unmap_ns)
			best[i].unmap_ns = r[i].unmap_ns;
	}
}

static const char *size_name(size_t len, char *buf, size_t n)
{
	if (len >= (1u << 20))
		snprintf(buf, n, "%zu MiB", len >> 20);
	else
		snprintf(buf, n, "%zu KiB", len >> 10);
	return buf;
}

static void print_results(const struct result *t1, const struct result *fd)
{
	char sz[32];

	if (json) {
		printf("[");
		for (size_t i = 0; i < NCASES; i++) {
			if (t1[i].err || fd[i].err)
				continue;
			printf("%s{\"bytes\": %zu, \"pages\": \"%s\", \"type1_map_ns\": %.0f, "
			       "\"type1_unmap_ns\": %.0f, \"iommufd_map_ns\": %.0f, "
			       "\"iommufd_unmap_ns\": %.0f}", i ? ", " : "", cases[i].len,
			       cases[i].huge ? "2M" : "4K", t1[i].map_ns, t1[i].unmap_ns, fd[i].map_ns,
			       fd[i].unmap_ns);
		}
		printf("]\n");
		return;
	}
	printf("udk_dmamap_map/unmap, one device attached, median ns per call\n");
	printf("%-8s %-5s %12s %12s %7s %12s %12s %7s\n", "size", "pages", "type1 map",
	       "iommufd map", "ratio", "type1 unmap", "iommufd unm", "ratio");
	for (size_t i = 0; i < NCASES; i++) {
		size_name(cases[i].len, sz, sizeof(sz));
		if (t1[i].err || fd[i].err) {
			printf("%-8s %-5s   (failed: type1 %s, iommufd %s)\n", sz,
			       cases[i].huge ? "2M" : "4K", udk_strerror_name(t1[i].err),
			       udk_strerror_name(fd[i].err));
			continue;
		}
		printf("%-8s %-5s %12.0f %12.0f %6.2fx %12.0f %12.0f %6.2fx\n", sz,
		       cases[i].huge ? "2M" : "4K", t1[i].map_ns, fd[i].map_ns,
		       fd[i].map_ns / t1[i].map_ns, t1[i].unmap_ns, fd[i].unmap_ns,
		       fd[i].unmap_ns / t1[i].unmap_ns);
	}
	printf("ratio = iommufd / type1 (below 1: iommufd is faster)\n");
}

int main(int argc, char **argv)
{
	const char *bdf = getenv("UDK_LAB_NVME");
	struct result t1[NCASES], fd[NCASES];
	void *bufs[NCASES];
	struct udk_pci_addr a;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--device") == 0 && i + 1 < argc)
			bdf = argv[++i];
		else if (strcmp(argv[i], "--quick") == 0)
			quick = true;
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else {
			fprintf(stderr, "usage: dma_map_bench [--device BDF] [--quick] [--json]\n"
					"  BDF: a PCI device for vfio-pci (default $UDK_LAB_NVME)\n");
			return 2;
		}
	}
	if (bdf == NULL || bdf[0] == '\0') {
		fprintf(stderr, "dma_map_bench: no device: give --device BDF (or run it in the "
				"lab, where $UDK_LAB_NVME names one)\n");
		return 2;
	}
	if (udk_pci_addr_parse(bdf, &a) < 0 || udk_pci_bind_vfio(&a) < 0) {
		fprintf(stderr, "dma_map_bench: %s: %s\n", bdf, udk_last_error());
		return 1;
	}
	for (size_t i = 0; i < NCASES; i++) {
		bufs[i] = alloc_mem(cases[i].len, cases[i].huge);
		if (bufs[i] == NULL)
			fprintf(stderr, "dma_map_bench: no memory for %zu bytes%s: %s\n",
				cases[i].len, cases[i].huge ? " of hugepages" : "", strerror(errno));
	}
	/* Two rounds, alternating, each figure the better of its two medians:
	 * what runs first pays for cold caches and page tables. */
	for (int round = 0; round < 2; round++) {
		struct result r1[NCASES], rf[NCASES];

		rc = run_backend(bdf, UDK_DMAMAP_VFIO_TYPE1, bufs, r1);
		if (rc == 0)
			rc = run_backend(bdf, UDK_DMAMAP_IOMMUFD, bufs, rf);
		if (rc < 0)
			return 1;
		keep_best(t1, r1, round);
		keep_best(fd, rf, round);
	}
	print_results(t1, fd);
	for (size_t i = 0; i < NCASES; i++)
		if (bufs[i] != NULL)
			munmap(bufs[i], cases[i].len);
	return 0;
}
