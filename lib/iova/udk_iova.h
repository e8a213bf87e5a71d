/* udk_iova.h - IOVA space of one map: the apertures the IOMMU reports, and
 * allocation of ranges inside them.
 *
 * This is the simple, correct allocator of the foundation: one mutex, a sorted
 * list of free ranges, first fit.  It runs on the control path only (segment
 * mapping, external buffer registration).  The lockless per-lcore allocator
 * of DESIGN.md replaces it behind the same calls.
 */
#ifndef UDK_IOVA_H
#define UDK_IOVA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An inclusive range [start, last], as VFIO and iommufd report apertures. */
struct udk_iova_range {
	uint64_t start;
	uint64_t last;
};

/* What every IOMMU udk has met accepts: above the first MiB, below 39 bits
 * (Intel's 3-level tables, the lab's vIOMMU), minus the x86 MSI window
 * 0xfee00000-0xfeefffff.  A map gives out IOVAs from here until its first
 * device reports the real aperture. */
#define UDK_IOVA_SAFE_START 0x100000ULL
#define UDK_IOVA_SAFE_LAST ((1ULL << 39) - 1)
#define UDK_IOVA_MSI_START 0xfee00000ULL
#define UDK_IOVA_MSI_LAST 0xfeefffffULL

struct udk_iova_space;

/* A space over the given apertures (NULL, 0: the safe default above).
 * The caller owns the result; free it with udk_iova_space_destroy(). */
int udk_iova_space_create(const struct udk_iova_range *ranges, size_t n,
			  struct udk_iova_space **out);
void udk_iova_space_destroy(struct udk_iova_space *sp);

/* Allocate len bytes aligned to align (a power of two, at least 4 KiB).
 * 0, or -UDK_ENOIOVA when no free range fits.  Thread-safe. */
int udk_iova_alloc(struct udk_iova_space *sp, uint64_t len, uint64_t align, uint64_t *iova);

/* Like udk_iova_alloc(), preferring an IOVA aligned to pref (so large IOMMU
 * pages can be used) and settling for min_align when no such range is free. */
int udk_iova_alloc_pref(struct udk_iova_space *sp, uint64_t len, uint64_t pref,
			uint64_t min_align, uint64_t *iova);

/* Take exactly [iova, iova+len) (a caller-chosen IOVA).  -UDK_EOVERLAP if any
 * of it is allocated, -UDK_ENOIOVA if it lies outside the apertures. */
int udk_iova_reserve(struct udk_iova_space *sp, uint64_t iova, uint64_t len);

/* Give back a range returned by alloc or reserve.  The range must be exactly
 * one earlier allocation: -UDK_ENOTMAPPED otherwise. */
int udk_iova_free(struct udk_iova_space *sp, uint64_t iova, uint64_t len);

/* Narrow the apertures to their intersection with ranges (what a newly
 * attached IOMMU reports).  Fails with -UDK_EINCOMPATIBLE, changing nothing,
 * if an allocated range would fall outside; *bad (if not NULL) then holds the
 * first such allocation. */
int udk_iova_space_restrict(struct udk_iova_space *sp, const struct udk_iova_range *ranges,
			    size_t n, struct udk_iova_range *bad);

/* Copy up to max apertures (what is allocatable or allocated) into out;
 * *n gets the total number. */
int udk_iova_space_ranges(struct udk_iova_space *sp, struct udk_iova_range *out, size_t max,
			  size_t *n);

/* Bytes currently allocated. */
uint64_t udk_iova_space_used(struct udk_iova_space *sp);

#ifdef __cplusplus
}
#endif
#endif
