/* SPDX-License-Identifier: BSD-3-Clause */
/* lab_dma_iommufd: the map object on iommufd, for real.  The default map is an
 * IOAS that holds the heap before any device; NVMe attaches through its cdev,
 * the aperture narrows to what the IOMMU reports, Identify lands by DMA and
 * an unmapped IOVA is blocked; a detach keeps the device open (re-attach:
 * same fd, no reset); a map whose mapping lies beyond the aperture, or in the
 * MSI window the kernel reserves, is refused with UDK_EINCOMPATIBLE and the
 * device is left detached.  IOVAs given out before the first attach lie in
 * what every likely aperture holds.  The device attached in a second iommufd
 * context of this process while the first holds it: UDK_EGROUP_BUSY.
 *
 * Skips in the Debian guest, whose 6.1 kernel has no CONFIG_IOMMUFD; runs
 * in the iommufd lab guest (lab.py --guest iommufd, suite lab-iommufd),
 * where a missing /dev/iommu or an AUTO that picks type1 fails it. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "labbackend.h"
#include "labdev.h"
#include "labutil.h"
#include "udk_eal.h"
#include "udk_util.h"

static int identify_into(struct lab_nvme *n, void *buf, uint64_t iova)
{
	memset(buf, 0, 4096);
	LAB_CHECK_RC(lab_nvme_identify(n, iova), 0);
	LAB_CHECK(lab_nvme_identify_ok(buf, "udk-lab-nvme0"));
	return 0;
}

int main(void)
{
	static const struct udk_iova_range wide = {0x100000, (1ULL << 48) - 1};
	char bdf[16], why[256], needle[64], line[512];
	enum udk_dmamap_backend b;
	struct udk_dmamap_info info;
	struct udk_dmamap_opts o;
	struct udk_iova_range r[8];
	struct udk_dmamap *map, *far;
	struct udk_pci_addr a;
	struct udk_pci_dev *pdev;
	struct udk_device *dev;
	struct lab_nvme nvme;
	uint64_t iova, mark;
	size_t n;
	int fd, fd2, zero;

	const char *want = lab_env("UDK_LAB_IOMMU_BACKEND");
	bool must = want != NULL && strcmp(want, "iommufd") == 0;

	/* In the iommufd guest a missing /dev/iommu is a failure, not a skip. */
	if (access("/dev/iommu", F_OK) != 0 && must)
		lab_fatal("the iommufd lab guest has no /dev/iommu: its kernel lacks CONFIG_IOMMUFD");
	if (access("/dev/iommu", F_OK) != 0)
		lab_skip("this guest kernel has no /dev/iommu (no CONFIG_IOMMUFD, as in every Debian "
			 "kernel): runs in the iommufd lab guest (LAB.md, 'An iommufd guest')");
	if (lab_find_bind(0x1b36, 0x0010, 0, &a, bdf, sizeof(bdf)) < 0)
		return LAB_FAIL;
	LAB_CHECK_RC(udk_dmamap_auto_backend(bdf, &b, why, sizeof(why)), 0);
	printf("auto backend for %s: %s (%s)\n", bdf, udk_dmamap_backend_name(b), why);
	if (b != UDK_DMAMAP_IOMMUFD && must)
		lab_fatal("AUTO picks type1 in the iommufd lab guest: %s", why);
	if (b != UDK_DMAMAP_IOMMUFD)
		lab_skip("iommufd is not usable here: %s", why);

	/* The default map is an IOAS from the start: the heap is in it before
	 * any device. */
	char *argv[] = {"lab", "-m", "64", "--iommu-backend", "iommufd", NULL};
	LAB_CHECK(udk_eal_init(5, argv) == 5);
	map = udk_eal_dmamap();
	void *id = udk_mem_default_zmalloc(4096, 4096, UDK_SOCKET_ANY);
	LAB_CHECK(id != NULL);
	LAB_CHECK_RC(udk_dmamap_info(map, &info), 0);
	LAB_CHECK(info.backend == UDK_DMAMAP_IOMMUFD && info.live && info.nb_devices == 0);
	LAB_CHECK(lab_backend_ok(map));
	LAB_CHECK(info.nb_mappings > 0);

	/* Before any device the IOAS would take any IOVA (the kernel reports
	 * 0-max), so udk gives out IOVAs only from what every likely aperture
	 * holds: above 1 MiB, below 39 bits, outside the MSI window. */
	LAB_CHECK_RC(udk_dmamap_iova_ranges(map, r, 8, &n), 0);
	for (size_t i = 0; i < n && i < 8; i++) {
		printf("IOVA range before any device: 0x%llx-0x%llx\n",
		       (unsigned long long)r[i].start, (unsigned long long)r[i].last);
		LAB_CHECK(r[i].start >= UDK_IOVA_SAFE_START && r[i].last <= UDK_IOVA_SAFE_LAST);
		LAB_CHECK(r[i].last < UDK_IOVA_MSI_START || r[i].start > UDK_IOVA_MSI_LAST);
	}
	iova = udk_virt2iova(id);
	printf("heap IOVA before any device: 0x%llx\n", (unsigned long long)iova);
	LAB_CHECK(iova >= UDK_IOVA_SAFE_START && iova <= UDK_IOVA_SAFE_LAST);

	LAB_CHECK_RC(udk_pci_dev_open(&a, map, &pdev), 0);
	dev = udk_pci_dev_device(pdev);
	LAB_CHECK_RC(udk_dmamap_iova_ranges(map, r, 8, &n), 0);
	for (size_t i = 0; i < n && i < 8; i++)
		printf("IOVA range after attach: 0x%llx-0x%llx\n", (unsigned long long)r[i].start,
		       (unsigned long long)r[i].last);
	/* LAB.md: 39 bits, with a hole at the MSI window. */
	LAB_CHECK(n >= 2 && r[n - 1].last == 0x7fffffffffULL);

	LAB_CHECK_RC(lab_nvme_init(&nvme, pdev, map), 0);
	if (identify_into(&nvme, id, udk_virt2iova(id)))
		return LAB_FAIL;
	printf("Identify by DMA through the IOAS: ok\n");

	/* A page mapped by hand, then unmapped: the IOMMU blocks the write. */
	uint8_t *buf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	LAB_CHECK(buf != MAP_FAILED);
	LAB_CHECK_RC(udk_dmamap_map(map, buf, 4096, &iova), 0);
	if (identify_into(&nvme, buf, iova))
		return LAB_FAIL;
	LAB_CHECK_RC(udk_dmamap_unmap(map, buf, 4096), 0);
	memset(buf, 0, 4096);
	snprintf(needle, sizeof(needle), "DMAR.*fault addr 0x%llx ", (unsigned long long)iova);
	mark = lab_kmsg_mark();
	lab_nvme_identify(&nvme, iova);
	zero = 1;
	for (int i = 0; i < 4096; i++)
		zero &= buf[i] == 0;
	LAB_CHECK(zero);
	LAB_CHECK(lab_kmsg_find(mark, needle, 10000, line, sizeof(line)) == 1);
	printf("unmapped IOVA blocked: %s\n", line);

	/* Detach keeps the cdev open and bound: re-attaching reuses it. */
	LAB_CHECK_RC(udk_device_fd(dev, &fd), 0);
	lab_nvme_fini(&nvme, true);
	LAB_CHECK_RC(udk_device_detach(dev), 0);
	LAB_CHECK_RC(udk_device_attach(dev, map), 0);
	LAB_CHECK_RC(udk_device_fd(dev, &fd2), 0);
	LAB_CHECK(fd2 == fd);
	LAB_CHECK_RC(lab_nvme_init(&nvme, pdev, map), 0);
	if (identify_into(&nvme, id, udk_virt2iova(id)))
		return LAB_FAIL;
	printf("detach + re-attach on the same cdev (fd %d): ok\n", fd);

	/* The same device opened again in this process and attached to a map
	 * of its own (another iommufd context) while the first holds it: udk
	 * refuses it before the kernel would (its group is in a map already;
	 * iommufd too puts a whole group in one page table), and the first
	 * keeps working.  Another process doing the same meets the kernel's
	 * refusal, UDK_EDEVBUSY: lab_dma_errors. */
	struct udk_dmamap *other;
	struct udk_device *dev2;
	udk_dmamap_opts_init(&o, sizeof(o));
	o.backend = UDK_DMAMAP_IOMMUFD;
	o.name = "other";
	LAB_CHECK_RC(udk_dmamap_create(&o, &other), 0);
	LAB_CHECK_RC(udk_device_open(bdf, &dev2), 0);
	udk_last_error_clear();
	LAB_CHECK_RC(udk_device_attach(dev2, other), -UDK_EGROUP_BUSY);
	LAB_CHECK(lab_last_error_has("is already in default"));
	udk_device_close(dev2);
	udk_dmamap_put(other);
	if (identify_into(&nvme, id, udk_virt2iova(id)))
		return LAB_FAIL;
	printf("a second context for the same device refused; the first still works\n");

	/* A map with a mapping beyond the 39-bit aperture: refused, named, the
	 * device left detached; back on the default map it works again. */
	lab_nvme_fini(&nvme, true);
	LAB_CHECK_RC(udk_device_detach(dev), 0);
	udk_dmamap_opts_init(&o, sizeof(o));
	o.backend = UDK_DMAMAP_IOMMUFD;
	o.name = "far";
	o.iova_ranges = &wide;
	o.nb_iova_ranges = 1;
	LAB_CHECK_RC(udk_dmamap_create(&o, &far), 0);
	LAB_CHECK_RC(udk_dmamap_map_at(far, buf, 4096, 1ULL << 40), 0);
	udk_last_error_clear();
	LAB_CHECK_RC(udk_device_attach(dev, far), -UDK_EINCOMPATIBLE);
	LAB_CHECK(lab_last_error_has("device incompatible with the map"));
	LAB_CHECK(lab_last_error_has("at IOVA 0x10000000000-0x10000000fff"));
	LAB_CHECK(udk_device_map(dev) == NULL);
	udk_dmamap_put(far);

	/* A mapping in the MSI window, which the kernel reserves for the
	 * device once it attaches: refused, the reserved region named. */
	LAB_CHECK_RC(udk_dmamap_create(&o, &far), 0);
	LAB_CHECK_RC(udk_dmamap_map_at(far, buf, 4096, UDK_IOVA_MSI_START), 0);
	udk_last_error_clear();
	LAB_CHECK_RC(udk_device_attach(dev, far), -UDK_EINCOMPATIBLE);
	LAB_CHECK(lab_last_error_has("reserved IOVA region 0xfee00000-0xfeefffff"));
	LAB_CHECK(udk_device_map(dev) == NULL);
	udk_dmamap_put(far);
	LAB_CHECK_RC(udk_device_attach(dev, map), 0);
	LAB_CHECK_RC(lab_nvme_init(&nvme, pdev, map), 0);
	if (identify_into(&nvme, id, udk_virt2iova(id)))
		return LAB_FAIL;
	printf("incompatible map refused; default map works again\n");

	lab_nvme_fini(&nvme, true);
	udk_pci_dev_close(pdev);
	udk_mem_default_free(id);
	munmap(buf, 4096);
	udk_eal_cleanup();
	return LAB_PASS;
}
