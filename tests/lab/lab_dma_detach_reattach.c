/* SPDX-License-Identifier: BSD-3-Clause */
/* lab_dma_detach_reattach: devices come and go, the map stays.  Detach
 * virtio-net while NVMe keeps doing DMA, re-attach it and use it again; take
 * every device off the map (the kernel forgets the mappings) and come back
 * (the record is replayed); move NVMe to a second map and back. */
#include <stdio.h>
#include <string.h>

#include "labbackend.h"
#include "labdev.h"
#include "udk_eal.h"
#include "udk_util.h"

static int identify(struct lab_nvme *n, struct udk_dmamap *map, void *id)
{
	uint64_t iova;

	memset(id, 0, 4096);
	LAB_CHECK_RC(udk_dmamap_virt2iova(map, id, &iova), 0);
	LAB_CHECK_RC(lab_nvme_identify(n, iova), 0);
	LAB_CHECK(lab_nvme_identify_ok(id, "udk-lab-nvme0"));
	return 0;
}

static int tx(struct lab_virtio *v, int count)
{
	uint8_t frame[60];

	memset(frame, 0xff, 6);
	memcpy(frame + 6, "\x02\x00\x00\x00\x00\x02", 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	for (int i = 0; i < count; i++) {
		memset(frame + 14, i, sizeof(frame) - 14);
		LAB_CHECK_RC(lab_virtio_tx(v, frame, sizeof(frame)), 0);
	}
	return 0;
}

static int map_segment(const struct udk_memseg *seg, void *arg)
{
	uint64_t iova;

	return udk_dmamap_map(arg, seg->va, seg->len, &iova);
}

int main(void)
{
	char nvme_bdf[16], virtio_bdf[16];
	struct udk_pci_addr a;
	struct udk_dmamap_info info;
	struct lab_nvme nvme;
	struct lab_virtio vio;
	void *id;

	if (lab_find_bind(0x1b36, 0x0010, 0, &a, nvme_bdf, sizeof(nvme_bdf)) < 0 ||
	    lab_find_bind(0x1af4, 0x1041, 0, &a, virtio_bdf, sizeof(virtio_bdf)) < 0)
		return LAB_FAIL;
	char *argv[] = {"lab", "-m", "64", "-a", nvme_bdf, "-a", virtio_bdf, NULL};
	LAB_CHECK(udk_eal_init(7, argv) == 7);
	struct udk_dmamap *map = udk_eal_dmamap();
	LAB_CHECK(lab_backend_ok(map));
	struct udk_pci_dev *pn = udk_eal_device(0), *pv = udk_eal_device(1);
	struct udk_device *dn = udk_pci_dev_device(pn), *dv = udk_pci_dev_device(pv);

	id = udk_mem_default_zmalloc(4096, 4096, UDK_SOCKET_ANY);
	LAB_CHECK(id != NULL);
	LAB_CHECK_RC(lab_nvme_init(&nvme, pn, map), 0);
	LAB_CHECK_RC(lab_peer_up(0x8086, 0x10d3, 0, "e1000e"), 0);
	LAB_CHECK_RC(lab_virtio_init(&vio, pv, map), 0);
	if (identify(&nvme, map, id) || tx(&vio, 4))
		return LAB_FAIL;

	printf("detach virtio-net %s; NVMe keeps working\n", virtio_bdf);
	lab_virtio_fini(&vio, true);
	LAB_CHECK_RC(udk_device_detach(dv), 0);
	LAB_CHECK(udk_device_map(dv) == NULL);
	LAB_CHECK_RC(udk_device_detach(dv), -UDK_EDETACHED);
	LAB_CHECK_RC(udk_dmamap_info(map, &info), 0);
	LAB_CHECK(info.nb_devices == 1 && info.live);
	for (int i = 0; i < 3; i++)
		if (identify(&nvme, map, id))
			return LAB_FAIL;

	printf("re-attach virtio-net; it works again after re-initialisation\n");
	LAB_CHECK_RC(udk_device_attach(dv, map), 0);
	LAB_CHECK_RC(udk_device_attach(dv, map), -UDK_EATTACHED);
	LAB_CHECK(lab_last_error_has("already attached"));
	LAB_CHECK_RC(lab_virtio_init(&vio, pv, map), 0);
	if (tx(&vio, 4) || identify(&nvme, map, id))
		return LAB_FAIL;

	printf("detach both: the map keeps its record (type1: the kernel forgets it; iommufd: "
	       "the IOAS keeps it)\n");
	lab_virtio_fini(&vio, true);
	lab_nvme_fini(&nvme, true);
	LAB_CHECK_RC(udk_device_detach(dv), 0);
	LAB_CHECK_RC(udk_device_detach(dn), 0);
	LAB_CHECK_RC(udk_dmamap_info(map, &info), 0);
	LAB_CHECK(info.nb_devices == 0 && info.nb_mappings >= 1);
	LAB_CHECK(info.live == (info.backend == UDK_DMAMAP_IOMMUFD));
	printf("  %u mappings recorded, live %d\n", info.nb_mappings, info.live);

	printf("attach NVMe again: the record is replayed (type1) or still there (iommufd)\n");
	LAB_CHECK_RC(udk_device_attach(dn, map), 0);
	LAB_CHECK_RC(udk_dmamap_info(map, &info), 0);
	LAB_CHECK(info.live && info.nb_devices == 1);
	LAB_CHECK_RC(lab_nvme_init(&nvme, pn, map), 0);
	if (identify(&nvme, map, id))
		return LAB_FAIL;

	printf("move NVMe to a second map (detach, attach) with the heap mapped at other IOVAs\n");
	struct udk_dmamap *map2;
	struct udk_iova_range hi = {1ULL << 36, (1ULL << 38) - 1};
	struct udk_dmamap_opts o;
	udk_dmamap_opts_init(&o, sizeof(o));
	o.name = "second";
	o.iova_ranges = &hi;
	o.nb_iova_ranges = 1;
	LAB_CHECK_RC(udk_dmamap_create(&o, &map2), 0);
	LAB_CHECK_RC(udk_mem_walk(udk_eal_mem(), map_segment, map2), 0);
	lab_nvme_fini(&nvme, true);
	LAB_CHECK_RC(udk_device_detach(dn), 0);
	LAB_CHECK_RC(udk_device_attach(dn, map2), 0);
	udk_dmamap_put(map2); /* the device holds it now */
	LAB_CHECK_RC(lab_nvme_init(&nvme, pn, map2), 0);
	uint64_t iova2;
	LAB_CHECK_RC(udk_dmamap_virt2iova(map2, id, &iova2), 0);
	printf("  Identify buffer at IOVA 0x%llx in map 'second' (0x%llx in the default map)\n",
	       (unsigned long long)iova2, (unsigned long long)udk_virt2iova(id));
	LAB_CHECK(iova2 >= (1ULL << 36));
	if (identify(&nvme, map2, id))
		return LAB_FAIL;
	lab_nvme_fini(&nvme, true);
	LAB_CHECK_RC(udk_device_detach(dn), 0); /* map2's last reference goes */
	LAB_CHECK_RC(udk_device_attach(dn, map), 0);
	LAB_CHECK_RC(lab_nvme_init(&nvme, pn, map), 0);
	if (identify(&nvme, map, id))
		return LAB_FAIL;

	lab_nvme_fini(&nvme, true);
	udk_mem_default_free(id);
	udk_eal_cleanup();
	printf("PASS\n");
	return LAB_PASS;
}
