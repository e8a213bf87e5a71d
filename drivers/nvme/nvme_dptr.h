/* SPDX-License-Identifier: BSD-3-Clause */
/* nvme_dptr.h - a command's data pointer: PRPs (NVMe 1.4 §4.3) or an SGL
 * (§4.4) for [buf, buf + len) or for a vector of buffers, built from a
 * vaddr -> IOVA function.  Inline so that the fast path calls lib/mem's
 * lock-free udk_mem_virt2iova() directly and tests/unit/nvme can pass a fake
 * translation.  Private to drivers/nvme. */
#ifndef UDK_NVME_DPTR_H
#define UDK_NVME_DPTR_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "nvme_spec.h"
#include "udk_iova.h"
#include "udk_util.h"

typedef uint64_t (*nvme_v2i_fn)(void *ctx, const void *va);

/* Fill sqe's PRP1/PRP2 for the vector iov, which has the PRP shape (§4.3,
 * checked by the caller: the first element may start at any dword offset,
 * every other starts on a page and every one but the last ends on one, so
 * the data is a run of pages): PRP1 the first byte, then
 * every further page, in PRP2 when there is one, else in list (one page,
 * at list_iova).  Each page is translated on its own, so an element may lie
 * in several pieces of IOVA space.  0, -E2BIG (more than one list page
 * holds) or -UDK_ENOTMAPPED. */
static inline int nvme_build_prps_iov(struct nvme_sqe *sqe, const struct iovec *iov, int iovcnt,
				      uint64_t *list, uint64_t list_iova, nvme_v2i_fn v2i,
				      void *ctx)
{
	unsigned int n = 0; /* pages after the first */
	uint64_t iova;

	sqe->prp2 = 0;
	for (int i = 0; i < iovcnt; i++) {
		uintptr_t va = (uintptr_t)iov[i].iov_base, end = va + iov[i].iov_len;

		if (i == 0) {
			iova = v2i(ctx, iov[0].iov_base);
			if (unlikely(iova == UDK_IOVA_BAD))
				return -UDK_ENOTMAPPED;
			sqe->prp1 = iova;
			va = (va & ~(uintptr_t)(NVME_PAGE - 1)) + NVME_PAGE;
		}
		for (; va < end; va += NVME_PAGE) {
			if (n == NVME_PAGE / 8)
				return -E2BIG;
			iova = v2i(ctx, (const void *)va);
			if (iova == UDK_IOVA_BAD)
				return -UDK_ENOTMAPPED;
			list[n++] = iova;
		}
	}
	if (n == 1)
		sqe->prp2 = list[0]; /* two pages: PRP2 is the second page itself */
	else if (n > 1)
		sqe->prp2 = list_iova;
	return 0;
}

/* Fill sqe's PRP1/PRP2 for [buf, buf+len), using list (one page, at
 * list_iova) for more than two pages.  0, -EINVAL (not dword aligned),
 * -E2BIG (more than one list page holds) or -UDK_ENOTMAPPED. */
static inline int nvme_build_prps(struct nvme_sqe *sqe, void *buf, size_t len, uint64_t *list,
				  uint64_t list_iova, nvme_v2i_fn v2i, void *ctx)
{
	struct iovec one = {buf, len};

	if (buf == NULL || len == 0)
		return 0; /* no data, or PRPs the caller set (Create I/O queue) */
	sqe->prp2 = 0;
	if ((uintptr_t)buf & 3) /* §4.3: PRP1 may carry an offset, but dword aligned */
		return -EINVAL;
	if (((uintptr_t)buf & (NVME_PAGE - 1)) + len <= NVME_PAGE) { /* one page: the usual I/O */
		sqe->prp1 = v2i(ctx, buf);
		return unlikely(sqe->prp1 == UDK_IOVA_BAD) ? -UDK_ENOTMAPPED : 0;
	}
	return nvme_build_prps_iov(sqe, &one, 1, list, list_iova, v2i, ctx);
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

/* An SGL for the vector iov (§4.4): one Data Block descriptor in the SQE
 * when the data is contiguous in IOVA space, else a Last Segment descriptor
 * pointing to list (one page at list_iova) with one Data Block for each
 * contiguous piece, up to 256; pieces of neighbouring elements that touch
 * in IOVA space merge.  0, -EINVAL (an element not dword aligned), -E2BIG
 * or -UDK_ENOTMAPPED. */
static inline int nvme_build_sgl_iov(struct nvme_sqe *sqe, const struct iovec *iov, int iovcnt,
				     uint64_t *list, uint64_t list_iova, nvme_v2i_fn v2i,
				     void *ctx)
{
	struct nvme_sgl_desc *d = (struct nvme_sgl_desc *)list;
	uint64_t addr = 0, iova;
	uint32_t cur = 0;
	unsigned int n = 0;

	for (int i = 0; i < iovcnt; i++) {
		uintptr_t va = (uintptr_t)iov[i].iov_base;
		size_t left = iov[i].iov_len, chunk;

		if (va & 3)
			return -EINVAL;
		for (; left > 0; left -= chunk, va += chunk) {
			chunk = NVME_PAGE - (va & (NVME_PAGE - 1));
			if (chunk > left)
				chunk = left;
			iova = v2i(ctx, (const void *)va);
			if (unlikely(iova == UDK_IOVA_BAD))
				return -UDK_ENOTMAPPED;
			if (cur != 0 && iova == addr + cur) {
				cur += (uint32_t)chunk;
				continue;
			}
			if (cur != 0) {
				if (n == NVME_PAGE / sizeof(*d) - 1)
					return -E2BIG;
				d[n++] = (struct nvme_sgl_desc){.addr = addr, .len = cur,
								.id = NVME_SGL_DATA_BLOCK};
			}
			addr = iova;
			cur = (uint32_t)chunk;
		}
	}
	if (cur == 0)
		return 0; /* no data */
	sqe->flags |= NVME_SQE_PSDT_SGL;
	if (n == 0) {
		nvme_sgl_put(sqe, addr, cur, NVME_SGL_DATA_BLOCK);
		return 0;
	}
	d[n++] = (struct nvme_sgl_desc){.addr = addr, .len = cur, .id = NVME_SGL_DATA_BLOCK};
	nvme_sgl_put(sqe, list_iova, n * (uint32_t)sizeof(*d), NVME_SGL_LAST_SEGMENT);
	return 0;
}

/* nvme_build_sgl_iov() for the one buffer [buf, buf+len). */
static inline int nvme_build_sgl(struct nvme_sqe *sqe, void *buf, size_t len, uint64_t *list,
				 uint64_t list_iova, nvme_v2i_fn v2i, void *ctx)
{
	struct iovec one = {buf, len};

	if (buf == NULL || len == 0)
		return 0;
	return nvme_build_sgl_iov(sqe, &one, 1, list, list_iova, v2i, ctx);
}

#endif
