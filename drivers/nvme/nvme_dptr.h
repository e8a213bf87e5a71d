/* SPDX-License-Identifier: BSD-3-Clause */
/* nvme_dptr.h - a command's data pointer: PRPs (NVMe 1.4 §4.3) or an SGL
 * (§4.4) for [buf, buf + len), built from a vaddr -> IOVA function.  Inline so
 * that the fast path calls lib/mem's lock-free udk_mem_virt2iova() directly and
 * tests/unit/nvme can pass a fake translation.  Private to drivers/nvme. */
#ifndef UDK_NVME_DPTR_H
#define UDK_NVME_DPTR_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "nvme_spec.h"
#include "udk_iova.h"
#include "udk_util.h"

typedef uint64_t (*nvme_v2i_fn)(void *ctx, const void *va);

/* Fill sqe's PRP1/PRP2 for [buf, buf+len), using list (one page, at
 * list_iova) for more than two pages.  0, -EINVAL (not dword aligned),
 * -E2BIG (more than one list page holds) or -UDK_ENOTMAPPED. */
static inline int nvme_build_prps(struct nvme_sqe *sqe, void *buf, size_t len, uint64_t *list,
				  uint64_t list_iova, nvme_v2i_fn v2i, void *ctx)
{
	uintptr_t va = (uintptr_t)buf;
	size_t first, rest, npages;
	uint64_t iova;

	if (buf == NULL || len == 0)
		return 0; /* no data, or PRPs the caller set (Create I/O queue) */
	sqe->prp2 = 0;
	if (va & 3) /* §4.3: PRP1 may carry an offset, but dword aligned */
		return -EINVAL;
	iova = v2i(ctx, buf);
	if (unlikely(iova == UDK_IOVA_BAD))
		return -UDK_ENOTMAPPED;
	sqe->prp1 = iova;
	first = NVME_PAGE - (va & (NVME_PAGE - 1));
	if (len <= first)
		return 0;
	rest = len - first;
	va += first;
	npages = (rest + NVME_PAGE - 1) / NVME_PAGE;
	if (npages > NVME_PAGE / 8)
		return -E2BIG;
	for (size_t i = 0; i < npages; i++) {
		iova = v2i(ctx, (const void *)(va + i * NVME_PAGE));
		if (iova == UDK_IOVA_BAD)
			return -UDK_ENOTMAPPED;
		if (npages == 1) {
			sqe->prp2 = iova; /* two pages: PRP2 is the second page itself */
			return 0;
		}
		list[i] = iova;
	}
	sqe->prp2 = list_iova;
	return 0;
}

/* §4.4: SGL descriptors, 16 bytes: address, length, 3 reserved bytes and the
 * SGL identifier (type 7:4, sub type 3:0 = 0h, an address). */
#define NVME_SGL_DATA_BLOCK 0x00
#define NVME_SGL_LAST_SEGMENT 0x30
#define NVME_SQE_PSDT_SGL 0x40 /* §4.2: PSDT 01b, SGLs, MPTR a contiguous buffer */

struct nvme_sgl_desc {
	uint64_t addr;
	uint32_t len;
	uint8_t rsvd[3];
	uint8_t id;
} __attribute__((packed));
_Static_assert(sizeof(struct nvme_sgl_desc) == 16, "NVMe 1.4 §4.4: a descriptor is 16 bytes");

static inline void nvme_sgl_put(struct nvme_sqe *sqe, uint64_t addr, uint32_t len, uint8_t id)
{
	/* DPTR (SQE bytes 24-39) holds the first descriptor. */
	sqe->prp1 = addr;
	sqe->prp2 = (uint64_t)len | (uint64_t)id << 56;
}

/* An SGL for [buf, buf+len): one Data Block descriptor in the SQE when the
 * buffer is contiguous in IOVA space, else a Last Segment descriptor
 * pointing to list (one page at list_iova) with one Data Block for each
 * contiguous piece, up to 256.  0, -EINVAL, -E2BIG or -UDK_ENOTMAPPED. */
static inline int nvme_build_sgl(struct nvme_sqe *sqe, void *buf, size_t len, uint64_t *list,
				 uint64_t list_iova, nvme_v2i_fn v2i, void *ctx)
{
	struct nvme_sgl_desc *d = (struct nvme_sgl_desc *)list;
	uintptr_t va = (uintptr_t)buf;
	uint64_t addr, iova;
	size_t left, chunk;
	uint32_t cur;
	unsigned int n = 0;

	if (buf == NULL || len == 0)
		return 0;
	if (va & 3)
		return -EINVAL;
	addr = v2i(ctx, buf);
	if (unlikely(addr == UDK_IOVA_BAD))
		return -UDK_ENOTMAPPED;
	chunk = NVME_PAGE - (va & (NVME_PAGE - 1));
	cur = (uint32_t)(len < chunk ? len : chunk);
	va += cur;
	for (left = len - cur; left > 0; left -= chunk, va += chunk) {
		chunk = left < NVME_PAGE ? left : NVME_PAGE;
		iova = v2i(ctx, (const void *)va);
		if (iova == UDK_IOVA_BAD)
			return -UDK_ENOTMAPPED;
		if (iova == addr + cur) {
			cur += (uint32_t)chunk;
			continue;
		}
		if (n == NVME_PAGE / sizeof(*d) - 1)
			return -E2BIG;
		d[n++] = (struct nvme_sgl_desc){.addr = addr, .len = cur, .id = NVME_SGL_DATA_BLOCK};
		addr = iova;
		cur = (uint32_t)chunk;
	}
	sqe->flags |= NVME_SQE_PSDT_SGL;
	if (n == 0) {
		nvme_sgl_put(sqe, addr, cur, NVME_SGL_DATA_BLOCK);
		return 0;
	}
	d[n++] = (struct nvme_sgl_desc){.addr = addr, .len = cur, .id = NVME_SGL_DATA_BLOCK};
	nvme_sgl_put(sqe, list_iova, n * (uint32_t)sizeof(*d), NVME_SGL_LAST_SEGMENT);
	return 0;
}

#endif
