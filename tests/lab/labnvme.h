/* SPDX-License-Identifier: BSD-3-Clause */
/* labnvme.h - the prologue the NVMe lab tests share: the lab NVMe
 * (UDK_LAB_NVME) taken from its kernel driver (whose name goes to drv, so the
 * test can give it back), bound to vfio-pci, and the EAL started on it alone
 * with -m MB.  Header-only, because labutil stays free of libudk. */
#ifndef UDK_LABNVME_H
#define UDK_LABNVME_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

#include "labutil.h"
#include "udk_dma.h"
#include "udk_eal.h"
#include "udk_iova.h"
#include "udk_nvme.h"

/* Returns the NVMe's address; a failed step ends the test (REQUIRE). */
static inline const char *lab_nvme_eal_init(const char *mb, char *drv, size_t drv_len)
{
	const char *bdf;

	setvbuf(stdout, NULL, _IONBF, 0);
	lab_require_guest();
	bdf = lab_env_require("UDK_LAB_NVME");
	lab_device_driver(bdf, drv, drv_len);
	REQUIRE(lab_bind_vfio(bdf) == 0);
	char *argv[] = {"lab", "-m", (char *)mb, "-a", (char *)bdf, NULL};
	REQUIRE(udk_eal_init(5, argv) == 5);
	return bdf;
}

/* A qpair of 16 entries with data pointers of mode m (REQUIRE). */
static inline struct udk_nvme_qpair *lab_nvme_qpair(struct udk_nvme_ctrlr *c,
						    enum udk_nvme_sgl_mode m)
{
	struct udk_nvme_qpair_opts o;
	struct udk_nvme_qpair *qp = NULL;

	udk_nvme_qpair_opts_init(&o, sizeof(o));
	o.qsize = 16;
	o.sgl = m;
	REQUIRE(udk_nvme_qpair_create(c, &o, &qp) == 0);
	return qp;
}

/* pages pages of anonymous memory registered on the EAL's map one page at a
 * time in reverse order, so that no two neighbours are neighbours in IOVA
 * space; *adjacent: how many are all the same (0 expected). */
static inline uint8_t *lab_scattered_pages(int pages, int *adjacent)
{
	uint8_t *p = mmap(NULL, (size_t)pages * 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	REQUIRE(p != MAP_FAILED);
	for (int i = pages - 1; i >= 0; i--)
		REQUIRE(udk_dma_register(udk_eal_dmamap(), p + i * 4096, 4096) == 0);
	*adjacent = 0;
	for (int i = 0; i + 1 < pages; i++) {
		uint64_t x = udk_virt2iova(p + i * 4096), y = udk_virt2iova(p + i * 4096 + 4096);

		REQUIRE(x != UDK_IOVA_BAD && y != UDK_IOVA_BAD);
		*adjacent += y == x + 4096;
	}
	return p;
}

/* Unregister and unmap what lab_scattered_pages() gave (CHECK). */
static inline void lab_scattered_free(uint8_t *p, int pages)
{
	for (int i = 0; i < pages; i++)
		CHECK(udk_dma_unregister(udk_eal_dmamap(), p + i * 4096, 4096) == 0);
	munmap(p, (size_t)pages * 4096);
}

#endif
