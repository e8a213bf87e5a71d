/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_dpdk_nvme: udk's NVMe driver inside a DPDK application
 * (examples/dpdk-nvme): after rte_eal_init() and one udk_dpdk_attach(), the
 * lab's first NVMe is written and read back through rte_malloc() buffers and
 * verified; DPDK's heap then grows (a 32 MiB rte_malloc) and the new pages
 * carry NVMe DMA with no udk call; freed, they leave udk's map.  At every
 * step DPDK's page count and udk's must agree, and the IOMMU must have
 * blocked nothing (no DMAR fault).  Then the bad cases: a device that is not
 * there, and a device not bound to vfio-pci.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labutil.h"

#ifndef DPDK_NVME
#error "DPDK_NVME (the path of examples/dpdk-nvme) must be defined by meson"
#endif

#define EAL "--no-pci --in-memory --iova-mode=va -l 0 --no-telemetry --log-level=lib.eal:warning"

static char out[65536];

static int run(const char *args)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", DPDK_NVME, args);
	return lab_run_output(cmd, out, sizeof(out));
}

/* "when: dpdk_pages N udk_pages M map_mappings K": DPDK's pages and udk's
 * must be the same number, and each page one mapping. */
static void check_step(const char *when, unsigned long long *udk_pages)
{
	unsigned long long d = 0, u = 0, m = 0;
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "%s: dpdk_pages", when);
	p = strstr(out, key);
	CHECK_MSG(p != NULL, "a line for step '%s'", when);
	if (p == NULL)
		return;
	CHECK(sscanf(p + strlen(when) + 2, "dpdk_pages %llu udk_pages %llu map_mappings %llu", &d,
		     &u, &m) == 3);
	CHECK_MSG(d > 0 && d == u, "%s: DPDK has %llu pages, udk follows %llu", when, d, u);
	CHECK_MSG(u == m, "%s: one mapping per page (%llu pages, %llu mappings)", when, u, m);
	*udk_pages = u;
}

int main(void)
{
	unsigned long long attached = 0, before = 0, grown = 0, freed = 0, gp = 0, uf = 0;
	char args[512], line[256] = "";
	const char *bdf, *p;
	uint64_t mark;

	lab_require_guest();
	bdf = lab_env_require("UDK_LAB_NVME");
	if (lab_hugepages_free() < 64)
		lab_skip("needs 64 free 2 MiB hugepages, %ld free", lab_hugepages_free());
	REQUIRE(lab_bind_vfio(bdf) == 0);
	mark = lab_kmsg_mark();

	snprintf(args, sizeof(args), EAL " -- --nvme %s --mib 4 --grow-mib 32", bdf);
	CHECK_MSG(run(args) == 0, "dpdk-nvme exit status");
	CHECK(strstr(out, "round 1: wrote, read back and verified 4 MiB") != NULL);
	CHECK(strstr(out, "round 2: wrote, read back and verified 16 MiB") != NULL);
	CHECK(strstr(out, "PASS") != NULL);
	check_step("attached", &attached);
	check_step("before growth", &before);
	check_step("after growth", &grown);
	check_step("after free", &freed);
	CHECK_MSG(grown >= before + 16, "the heap grew by 32 MiB: %llu -> %llu pages", before,
		  grown);
	CHECK_MSG(freed < grown, "pages DPDK freed left udk's map: %llu -> %llu", grown, freed);
	p = strstr(out, "result: grown_pages");
	CHECK(p != NULL && sscanf(p, "result: grown_pages %llu unmapped_on_free %llu", &gp, &uf) == 2);
	CHECK_MSG(uf == grown - freed, "unmapped on free (%llu) = pages DPDK freed (%llu)", uf,
		  grown - freed);
	CHECK_MSG(lab_kmsg_find(mark, "DMAR: \\[DMA (Read|Write)", 200, line, sizeof(line)) == 0,
		  "no IOMMU fault: %s", line);

	/* Bad input: no such device; then a device not bound to vfio-pci. */
	CHECK(run(EAL " -- --nvme 0000:00:1f.7") != 0);
	CHECK_MSG(strstr(out, "no PCI device 0000:00:1f.7") != NULL, "the missing device is named");
	REQUIRE(lab_bind(bdf, NULL) == 0);
	snprintf(args, sizeof(args), EAL " -- --nvme %s", bdf);
	CHECK(run(args) != 0);
	CHECK_MSG(strstr(out, "vfio-pci") != NULL, "the remedy names vfio-pci");
	CHECK(run(EAL " --") != 0 && strstr(out, "--nvme BDF is required") != NULL);
	return lab_result();
}
