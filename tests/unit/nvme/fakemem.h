/* SPDX-License-Identifier: BSD-3-Clause */
/* fakemem.h - udk DMA memory without hugepages or a device, for the nvme
 * tests: a --no-huge lib/mem heap made the process's default, whose segments
 * get IOVA = VA + FAKE_IOVA_OFFSET, so udk_mem_default_zmalloc() and lib/mem's
 * lock-free udk_virt2iova() work as they do in the EAL, and a fake device
 * finds a buffer from its IOVA. */
#ifndef UDK_TEST_NVME_FAKEMEM_H
#define UDK_TEST_NVME_FAKEMEM_H

#include <stdint.h>

#include "udk_mem.h"

#define FAKE_IOVA_OFFSET 0x10000000000ull

/* IOVA = VA + *(uint64_t *)arg, or + FAKE_IOVA_OFFSET when arg is NULL (a
 * second heap standing for another map's memory passes its own offset). */
static int fakemem_alloc(enum udk_mem_event ev, struct udk_memseg *seg, void *arg)
{
	if (ev == UDK_MEM_EVENT_ALLOC)
		seg->iova = (uint64_t)(uintptr_t)seg->va +
			    (arg != NULL ? *(const uint64_t *)arg : FAKE_IOVA_OFFSET);
	return 0;
}

/* The default memory, created on first use.  NULL if lib/mem refused. */
static inline struct udk_mem *fakemem_init(void)
{
	struct udk_mem_opts o;
	struct udk_mem *mem = udk_mem_default();

	if (mem != NULL)
		return mem;
	udk_mem_opts_init(&o, sizeof(o));
	o.no_huge = true;
	if (udk_mem_create(&o, &mem) < 0 || udk_mem_event_register(mem, fakemem_alloc, NULL) < 0)
		return NULL;
	udk_mem_set_default(mem);
	return mem;
}

static inline void *fakemem_va(uint64_t iova)
{
	return (void *)(uintptr_t)(iova - FAKE_IOVA_OFFSET);
}

#endif
