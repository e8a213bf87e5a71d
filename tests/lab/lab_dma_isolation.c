/* SPDX-License-Identifier: BSD-3-Clause */
/* lab_dma_isolation: the IOMMU enforces the map.  A buffer mapped for one
 * Identify receives the data; once it is unmapped, an Identify aimed at the
 * same IOVA is blocked (the guest kernel logs a DMAR fault) and the buffer
 * stays untouched.  QEMU's NVMe reports success either way (LAB.md), so the
 * test reads the kernel log and the buffer, never the status. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "labbackend.h"
#include "labdev.h"
#include "labutil.h"
#include "udk_eal.h"
#include "udk_util.h"

int main(void)
{
	char bdf[16], needle[64];
	struct udk_pci_addr a;
	struct lab_nvme nvme;
	uint64_t iova;
	int st;

	if (lab_find_bind(0x1b36, 0x0010, 0, &a, bdf, sizeof(bdf)) < 0)
		return LAB_FAIL;
	char *argv[] = {"lab", "-m", "64", "-a", bdf, NULL};
	LAB_CHECK(udk_eal_init(5, argv) == 5);
	struct udk_dmamap *map = udk_eal_dmamap();
	LAB_CHECK(lab_backend_ok(map));
	LAB_CHECK_RC(lab_nvme_init(&nvme, udk_eal_device(0), map), 0);

	/* Plain anonymous memory, not from udk's heap, mapped by hand. */
	uint8_t *buf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	LAB_CHECK(buf != MAP_FAILED);
	memset(buf, 0, 4096);
	LAB_CHECK_RC(udk_dmamap_map(map, buf, 4096, &iova), 0);
	printf("malloc-style page %p mapped at IOVA 0x%llx\n", (void *)buf,
	       (unsigned long long)iova);
	LAB_CHECK_RC(lab_nvme_identify(&nvme, iova), 0);
	LAB_CHECK(lab_nvme_identify_ok(buf, "udk-lab-nvme0"));

	LAB_CHECK_RC(udk_dmamap_unmap(map, buf, 4096), 0);
	memset(buf, 0, 4096);
	snprintf(needle, sizeof(needle), "DMAR.*fault addr 0x%llx ", (unsigned long long)iova);
	uint64_t mark = lab_kmsg_mark();
	st = lab_nvme_identify(&nvme, iova);
	printf("Identify to the unmapped IOVA completed with status 0x%x (QEMU does not "
	       "report the fault)\n", st);
	int zero = 1;
	for (int i = 0; i < 4096; i++)
		zero &= buf[i] == 0;
	LAB_CHECK(zero);
	char line[512];
	LAB_CHECK(lab_kmsg_find(mark, needle, 10000, line, sizeof(line)) == 1);
	printf("  kernel log: %s\n", line);
	printf("the IOMMU blocked the write and the page is untouched\n");

	/* The device still works for memory that is mapped. */
	void *id = udk_mem_default_zmalloc(4096, 4096, UDK_SOCKET_ANY);
	LAB_CHECK(id != NULL);
	LAB_CHECK_RC(lab_nvme_identify(&nvme, udk_virt2iova(id)), 0);
	LAB_CHECK(lab_nvme_identify_ok(id, "udk-lab-nvme0"));

	udk_mem_default_free(id);
	lab_nvme_fini(&nvme, true);
	munmap(buf, 4096);
	udk_eal_cleanup();
	printf("PASS\n");
	return LAB_PASS;
}
