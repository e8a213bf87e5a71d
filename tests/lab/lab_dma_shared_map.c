/* SPDX-License-Identifier: BSD-3-Clause */
/* lab_dma_shared_map: an NVMe controller and a virtio-net device attached to
 * the EAL's one default map both do real DMA through it: NVMe writes Identify
 * data into udk_mem_default_zmalloc() memory, virtio-net reads descriptors and frames
 * and writes its used ring. */
#include <stdio.h>
#include <string.h>

#include "labbackend.h"
#include "labdev.h"
#include "udk_eal.h"
#include "udk_util.h"

int main(void)
{
	char nvme_bdf[16], virtio_bdf[16];
	struct udk_pci_addr a;
	struct udk_dmamap_info info;
	struct lab_nvme nvme;
	struct lab_virtio vio;
	uint8_t frame[60];
	void *id;

	if (lab_find_bind(0x1b36, 0x0010, 0, &a, nvme_bdf, sizeof(nvme_bdf)) < 0 ||
	    lab_find_bind(0x1af4, 0x1041, 0, &a, virtio_bdf, sizeof(virtio_bdf)) < 0)
		return LAB_FAIL;
	char *argv[] = {"lab", "-m", "64", "-a", nvme_bdf, "-a", virtio_bdf, NULL};
	LAB_CHECK(udk_eal_init(7, argv) == 7);

	struct udk_dmamap *map = udk_eal_dmamap();
	LAB_CHECK(lab_backend_ok(map));
	LAB_CHECK(udk_eal_nb_devices() == 2);
	struct udk_pci_dev *pn = udk_eal_device(0), *pv = udk_eal_device(1);
	LAB_CHECK(udk_device_map(udk_pci_dev_device(pn)) == map);
	LAB_CHECK(udk_device_map(udk_pci_dev_device(pv)) == map);
	/* The heap grows on first use; its first segment lands in the map. */
	LAB_CHECK_RC(lab_nvme_init(&nvme, pn, map), 0);
	LAB_CHECK_RC(udk_dmamap_info(map, &info), 0);
	printf("map %s: %u devices, %u mappings, %llu bytes, live %d, IOMMU page sizes 0x%llx\n",
	       udk_dmamap_name(map), info.nb_devices, info.nb_mappings,
	       (unsigned long long)info.bytes_mapped, info.live,
	       (unsigned long long)info.iova_pgsizes);
	LAB_CHECK(info.nb_devices == 2 && info.live && info.nb_mappings >= 1);

	struct udk_iova_range r[8];
	size_t n;
	LAB_CHECK_RC(udk_dmamap_iova_ranges(map, r, 8, &n), 0);
	for (size_t i = 0; i < n && i < 8; i++)
		printf("  IOVA range 0x%llx-0x%llx\n", (unsigned long long)r[i].start,
		       (unsigned long long)r[i].last);
	LAB_CHECK(n >= 1 && r[n - 1].last <= (1ULL << 39) - 1);

	id = udk_mem_default_zmalloc(4096, 4096, UDK_SOCKET_ANY);
	LAB_CHECK(id != NULL && udk_virt2iova(id) != UDK_IOVA_BAD);
	printf("Identify into %p (IOVA 0x%llx)\n", id, (unsigned long long)udk_virt2iova(id));
	LAB_CHECK_RC(lab_nvme_identify(&nvme, udk_virt2iova(id)), 0);
	LAB_CHECK(lab_nvme_identify_ok(id, "udk-lab-nvme0"));

	LAB_CHECK_RC(lab_peer_up(0x8086, 0x10d3, 0, "e1000e"), 0);
	LAB_CHECK_RC(lab_virtio_init(&vio, pv, map), 0);
	memset(frame, 0xff, 6);                            /* broadcast */
	memcpy(frame + 6, "\x02\x00\x00\x00\x00\x01", 6);  /* local MAC */
	frame[12] = 0x88;
	frame[13] = 0xb5;                                  /* local experimental EtherType */
	for (int i = 0; i < 8; i++) {
		memset(frame + 14, i, sizeof(frame) - 14);
		LAB_CHECK_RC(lab_virtio_tx(&vio, frame, sizeof(frame)), 0);
	}
	printf("virtio-net consumed 8 frames through the same map\n");

	/* NVMe again, after virtio's DMA: both still share the map. */
	memset(id, 0, 4096);
	LAB_CHECK_RC(lab_nvme_identify(&nvme, udk_virt2iova(id)), 0);
	LAB_CHECK(lab_nvme_identify_ok(id, "udk-lab-nvme0"));

	lab_virtio_fini(&vio, true);
	lab_nvme_fini(&nvme, true);
	udk_mem_default_free(id);
	udk_eal_cleanup();
	printf("PASS\n");
	return LAB_PASS;
}
