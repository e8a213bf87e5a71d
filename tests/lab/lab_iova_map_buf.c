/* SPDX-License-Identifier: BSD-3-Clause */
/* lab_iova_map_buf: per-I/O mapping of a plain malloc'ed (non-hugepage)
 * buffer through udk_dma_map_buf(), in both unmap modes, against a real
 * IOMMU.  Each time: Identify into the buffer at the IOVA udk chose succeeds;
 * after the unmap (and, in deferred mode, the flush) an Identify aimed at the
 * same IOVA is blocked - a DMAR fault naming that address in the kernel log,
 * and the buffer untouched.  Deferred mode shows its trade-off too: between
 * the unmap call and the flush, the device can still write the buffer.
 * QEMU's NVMe completes a blocked command with success (LAB.md), so only the
 * kernel log and the buffer are evidence. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "labbackend.h"
#include "labdev.h"
#include "labutil.h"
#include "udk_eal.h"
#include "udk_mem.h"
#include "udk_util.h"

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Map, Identify, unmap (flush), then prove the IOMMU blocks the old IOVA. */
static int round_trip(struct lab_nvme *nvme, struct udk_dmamap *map, bool deferred)
{
	const char *mode = deferred ? "deferred" : "strict";
	/* malloc, not the heap: one page of it, page aligned because Identify's
	 * 4 KiB must not cross a page with PRP1 alone. */
	uint8_t *raw = malloc(3 * 4096), *buf;
	char needle[96], line[512];
	uint64_t iova, mark;
	int st;

	LAB_CHECK(raw != NULL);
	buf = (uint8_t *)UDK_ALIGN_UP((uintptr_t)raw, 4096);
	memset(buf, 0, 4096);
	LAB_CHECK_RC(udk_dma_set_unmap_mode(map, deferred ? UDK_DMA_UNMAP_DEFERRED
							   : UDK_DMA_UNMAP_STRICT, 16), 0);
	LAB_CHECK_RC(udk_dma_map_buf(map, buf, 4096, &iova), 0);
	printf("%s: malloc'ed page %p mapped for one I/O at IOVA 0x%llx\n", mode, (void *)buf,
	       (unsigned long long)iova);
	LAB_CHECK_RC(lab_nvme_identify(nvme, iova), 0);
	LAB_CHECK(lab_nvme_identify_ok(buf, "udk-lab-nvme0"));
	LAB_CHECK_RC(udk_dma_unmap_buf(map, iova, 4096), 0);
	if (deferred) {
		/* Queued, not yet unmapped: the device still reaches the page. */
		memset(buf, 0, 4096);
		LAB_CHECK_RC(lab_nvme_identify(nvme, iova), 0);
		LAB_CHECK(lab_nvme_identify_ok(buf, "udk-lab-nvme0"));
		printf("%s: before the flush the device can still write the page (the window "
		       "deferred mode trades for fewer unmaps)\n", mode);
		LAB_CHECK_RC(udk_dma_flush(map), 0);
	}
	memset(buf, 0, 4096);
	snprintf(needle, sizeof(needle), "DMAR.*fault addr 0x%llx ", (unsigned long long)iova);
	mark = lab_kmsg_mark();
	st = lab_nvme_identify(nvme, iova);
	printf("%s: Identify to the unmapped IOVA completed with status 0x%x (QEMU does not "
	       "report the fault)\n", mode, st);
	LAB_CHECK(all_zero(buf, 4096));
	LAB_CHECK(lab_kmsg_find(mark, needle, 10000, line, sizeof(line)) == 1);
	printf("%s: kernel log: %s\n%s: the IOMMU blocked the write and the page is untouched\n",
	       mode, line, mode);
	free(raw);
	return LAB_PASS;
}

/* 64 I/Os on distinct malloc'ed pages, mapped then unmapped, in each mode,
 * five rounds alternating the modes: how many kernel unmap calls they took,
 * and the median time per I/O (TCG: compare the two within this run only). */
#define ROUNDS 5

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int batching(struct udk_dmamap *map)
{
	enum { N = 64 };
	uint8_t *raw = malloc((N + 1) * 4096), *buf;
	uint64_t iova[N];
	double us[2][ROUNDS];
	struct udk_dma_buf_stats a, b;
	uint64_t calls[2] = {0, 0};

	LAB_CHECK(raw != NULL);
	buf = (uint8_t *)UDK_ALIGN_UP((uintptr_t)raw, 4096);
	for (int r = 0; r < ROUNDS; r++) {
		for (int d = 0; d < 2; d++) {
			LAB_CHECK_RC(udk_dma_set_unmap_mode(map, d ? UDK_DMA_UNMAP_DEFERRED
								   : UDK_DMA_UNMAP_STRICT, N), 0);
			udk_dma_buf_stats(map, &a);
			double t0 = now_us();
			for (int i = 0; i < N; i++)
				LAB_CHECK_RC(udk_dma_map_buf(map, buf + i * 4096, 4096, &iova[i]), 0);
			for (int i = 0; i < N; i++)
				LAB_CHECK_RC(udk_dma_unmap_buf(map, iova[i], 4096), 0);
			LAB_CHECK_RC(udk_dma_flush(map), 0);
			us[d][r] = (now_us() - t0) / N;
			udk_dma_buf_stats(map, &b);
			LAB_CHECK(b.unmaps - a.unmaps == N);
			calls[d] += b.unmap_calls - a.unmap_calls;
		}
		printf("round %d: strict %.1f us, deferred %.1f us per map+unmap\n", r, us[0][r],
		       us[1][r]);
	}
	qsort(us[0], ROUNDS, sizeof(double), cmp_double);
	qsort(us[1], ROUNDS, sizeof(double), cmp_double);
	printf("%d per-I/O mappings x %d rounds: strict took %llu kernel unmap calls, deferred %llu "
	       "(%.1fx fewer); median per map+unmap: strict %.1f us, deferred %.1f us (%.2fx)\n",
	       N, ROUNDS, (unsigned long long)calls[0], (unsigned long long)calls[1],
	       (double)calls[0] / (double)(calls[1] ? calls[1] : 1), us[0][ROUNDS / 2],
	       us[1][ROUNDS / 2], us[0][ROUNDS / 2] / us[1][ROUNDS / 2]);
	LAB_CHECK(calls[0] == (uint64_t)N * ROUNDS);
	LAB_CHECK(calls[1] < calls[0]);
	free(raw);
	return LAB_PASS;
}

static int map_segment(const struct udk_memseg *seg, void *arg)
{
	uint64_t iova;

	return udk_dmamap_map(arg, seg->va, seg->len, &iova);
}

/* A per-I/O mapping made while the map has no device (so the kernel has no
 * container for it yet) is replayed when the first device attaches, and again
 * when the last device left and came back; its unmap then takes it away. */
static int before_attach(struct lab_nvme *nvme, struct udk_pci_dev *pn, struct udk_dmamap *map)
{
	struct udk_device *dn = udk_pci_dev_device(pn);
	struct udk_dmamap *map2;
	struct udk_dma_buf_stats st;
	uint8_t *raw = malloc(2 * 4096), *buf;
	char needle[96], line[512];
	uint64_t iova, mark;

	LAB_CHECK(raw != NULL);
	buf = (uint8_t *)UDK_ALIGN_UP((uintptr_t)raw, 4096);
	memset(buf, 0, 4096);
	lab_nvme_fini(nvme, true);
	LAB_CHECK_RC(udk_device_detach(dn), 0);
	LAB_CHECK_RC(udk_dmamap_create(NULL, &map2), 0);
	LAB_CHECK_RC(udk_mem_walk(udk_eal_mem(), map_segment, map2), 0);
	LAB_CHECK_RC(udk_dma_map_buf(map2, buf, 4096, &iova), 0);
	udk_dma_buf_stats(map2, &st);
	LAB_CHECK(st.mapped == 1);
	printf("before attach: malloc'ed page mapped at IOVA 0x%llx in a map with no device\n",
	       (unsigned long long)iova);
	for (int round = 0; round < 2; round++) {
		LAB_CHECK_RC(udk_device_attach(dn, map2), 0);
		LAB_CHECK_RC(lab_nvme_init(nvme, pn, map2), 0);
		memset(buf, 0, 4096);
		LAB_CHECK_RC(lab_nvme_identify(nvme, iova), 0);
		LAB_CHECK(lab_nvme_identify_ok(buf, "udk-lab-nvme0"));
		printf("before attach: %s: the device wrote the page through the replayed "
		       "mapping\n", round == 0 ? "first attach" : "detach and attach again");
		if (round == 0) {
			lab_nvme_fini(nvme, true);
			LAB_CHECK_RC(udk_device_detach(dn), 0);
		}
	}
	LAB_CHECK_RC(udk_dma_unmap_buf(map2, iova, 4096), 0);
	memset(buf, 0, 4096);
	snprintf(needle, sizeof(needle), "DMAR.*fault addr 0x%llx ", (unsigned long long)iova);
	mark = lab_kmsg_mark();
	lab_nvme_identify(nvme, iova);
	/* The page untouched is the proof (QEMU completes the command either
	 * way); the kernel rate-limits its fault lines (10 per 5 s), and the
	 * tests before this one may have used them up, so the line is a bonus. */
	LAB_CHECK(all_zero(buf, 4096));
	if (lab_kmsg_find(mark, needle, 5000, line, sizeof(line)) == 1)
		printf("before attach: unmapped, the IOMMU blocks it: %s\n", line);
	else
		printf("before attach: unmapped, the IOMMU blocked the write (page untouched; "
		       "the kernel's fault line was rate-limited)\n");
	lab_nvme_fini(nvme, true);
	LAB_CHECK_RC(udk_device_detach(dn), 0); /* map2's last reference goes */
	udk_dmamap_put(map2);
	LAB_CHECK_RC(udk_device_attach(dn, map), 0);
	LAB_CHECK_RC(lab_nvme_init(nvme, pn, map), 0);
	free(raw);
	return LAB_PASS;
}

int main(void)
{
	char bdf[16];
	struct udk_pci_addr a;
	struct lab_nvme nvme;

	lab_require_guest();
	if (lab_find_bind(0x1b36, 0x0010, 0, &a, bdf, sizeof(bdf)) < 0)
		return LAB_FAIL;
	char *argv[] = {"lab", "-m", "64", "-a", bdf, NULL};
	LAB_CHECK(udk_eal_init(5, argv) == 5);
	struct udk_dmamap *map = udk_eal_dmamap();
	LAB_CHECK(lab_backend_ok(map));
	LAB_CHECK_RC(lab_nvme_init(&nvme, udk_eal_device(0), map), 0);

	if (round_trip(&nvme, map, false) != LAB_PASS || round_trip(&nvme, map, true) != LAB_PASS)
		return LAB_FAIL;
	if (batching(map) != LAB_PASS)
		return LAB_FAIL;
	if (before_attach(&nvme, udk_eal_device(0), map) != LAB_PASS)
		return LAB_FAIL;

	/* A buffer on the stack is refused with the reason. */
	uint8_t on_stack[512];
	uint64_t iova;
	LAB_CHECK(udk_dma_map_buf(map, on_stack, sizeof(on_stack), &iova) == -EINVAL);
	LAB_CHECK(lab_last_error_has("on the calling thread's stack"));

	/* The device still works for heap memory. */
	void *id = udk_mem_default_zmalloc(4096, 4096, UDK_SOCKET_ANY);
	LAB_CHECK(id != NULL);
	LAB_CHECK_RC(lab_nvme_identify(&nvme, udk_virt2iova(id)), 0);
	LAB_CHECK(lab_nvme_identify_ok(id, "udk-lab-nvme0"));
	udk_mem_default_free(id);
	lab_nvme_fini(&nvme, true);
	udk_eal_cleanup();
	printf("PASS\n");
	return LAB_PASS;
}
