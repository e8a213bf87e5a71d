/* SPDX-License-Identifier: BSD-3-Clause */
/* lab_mem_heap_growth: the heap grows while NVMe is attached; the new segment
 * is mapped into the default map by the memory-event callback, and NVMe DMAs
 * into it with no driver call in between. */
#include <stdio.h>
#include <string.h>

#include "labbackend.h"
#include "labdev.h"
#include "udk_eal.h"
#include "udk_util.h"

int main(void)
{
	char bdf[16];
	struct udk_pci_addr a;
	struct udk_mem_stats st0, st;
	struct udk_dmamap_info i0, i1;
	struct lab_nvme nvme;
	void *chunk[64] = {0}, *id = NULL;
	int k;

	if (lab_find_bind(0x1b36, 0x0010, 0, &a, bdf, sizeof(bdf)) < 0)
		return LAB_FAIL;
	char *argv[] = {"lab", "-m", "128", "-a", bdf, NULL};
	LAB_CHECK(udk_eal_init(5, argv) == 5);
	struct udk_dmamap *map = udk_eal_dmamap();
	LAB_CHECK(lab_backend_ok(map));
	LAB_CHECK_RC(lab_nvme_init(&nvme, udk_eal_device(0), map), 0);

	udk_mem_stats(udk_eal_mem(), &st0);
	LAB_CHECK_RC(udk_dmamap_info(map, &i0), 0);
	printf("before: %llu segments, %llu bytes reserved; map has %u mappings\n",
	       (unsigned long long)st0.segments, (unsigned long long)st0.bytes_reserved,
	       i0.nb_mappings);

	/* Allocate until the heap has to grow; the last chunk lies in new memory. */
	for (k = 0; k < 64; k++) {
		chunk[k] = udk_mem_default_zmalloc(1 << 20, 4096, UDK_SOCKET_ANY);
		LAB_CHECK(chunk[k] != NULL);
		udk_mem_stats(udk_eal_mem(), &st);
		if (st.segments > st0.segments)
			break;
	}
	LAB_CHECK(st.segments > st0.segments);
	const struct udk_memseg *seg = udk_mem_find(udk_eal_mem(), chunk[k]);
	LAB_CHECK(seg != NULL && seg->iova != UDK_IOVA_BAD);
	printf("after %d MiB: %llu segments; new segment %p+0x%zx at IOVA 0x%llx\n", k + 1,
	       (unsigned long long)st.segments, seg->va, seg->len, (unsigned long long)seg->iova);
	LAB_CHECK_RC(udk_dmamap_info(map, &i1), 0);
	LAB_CHECK(i1.nb_mappings > i0.nb_mappings && i1.live);

	/* The device was never told; it reaches the new memory anyway. */
	id = chunk[k];
	LAB_CHECK_RC(lab_nvme_identify(&nvme, udk_virt2iova(id)), 0);
	LAB_CHECK(lab_nvme_identify_ok(id, "udk-lab-nvme0"));
	printf("NVMe wrote Identify data into the new segment\n");

	lab_nvme_fini(&nvme, true);
	for (int j = 0; j <= k; j++)
		udk_mem_default_free(chunk[j]);
	udk_eal_cleanup();
	printf("PASS\n");
	return LAB_PASS;
}
