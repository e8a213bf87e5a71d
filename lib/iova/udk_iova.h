/* SPDX-License-Identifier: BSD-3-Clause */
/* udk_iova.h - IOVA space of one map: the apertures the IOMMU reports,
 * allocation of ranges inside them, and translation of virtual addresses.
 *
 * Two allocation paths share one space:
 *  - the range allocator (udk_iova_alloc/reserve/free): any size, first fit
 *    over a sorted array under the space's mutex.  Control path: heap
 *    segments, registered memory.  It is also the slow path of the caches.
 *  - the size-class caches (udk_iova_cache_alloc/free): per-I/O IOVAs in
 *    power-of-two classes from 4 KiB to 2 MiB plus 1 GiB, served from a
 *    per-lcore pair of magazines in front of a per-class depot.  A hit touches
 *    only the caller's own cache lines; a depot exchange takes the class's
 *    depot lock for one magazine swap; only an empty depot reaches the range
 *    allocator (carving a batch at a time).
 *
 * Translation (struct udk_iova_xlate): a radix table from virtual address to
 * IOVA with lock-free O(1) lookups (udk_iova_xlate_lookup, inline).
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

/* "No IOVA": what translation returns for an address it does not know. */
#define UDK_IOVA_BAD UINT64_MAX

struct udk_iova_space;

/* A space over the given apertures (NULL, 0: the safe default above).
 * The caller owns the result; free it with udk_iova_space_destroy(), once no
 * thread uses the space any more (its caches go with it).  Control path. */
int udk_iova_space_create(const struct udk_iova_range *ranges, size_t n,
			  struct udk_iova_space **out);
void udk_iova_space_destroy(struct udk_iova_space *sp);

/* Allocate len bytes aligned to align (a power of two, at least 4 KiB).
 * 0, or -UDK_ENOIOVA when no free range fits.  Thread-safe. */
int udk_iova_alloc(struct udk_iova_space *sp, uint64_t len, uint64_t align, uint64_t *iova);

/* Like udk_iova_alloc(), preferring an IOVA aligned to pref (so large IOMMU
 * pages can be used) and settling for min_align when no such range is free.
 * Before reporting exhaustion it drains the depot once.  Thread-safe (the
 * space's mutex); control path. */
int udk_iova_alloc_pref(struct udk_iova_space *sp, uint64_t len, uint64_t pref,
			uint64_t min_align, uint64_t *iova);

/* Take exactly [iova, iova+len) (a caller-chosen IOVA).  -UDK_EOVERLAP if any
 * of it is allocated, -UDK_ENOIOVA if it lies outside the apertures.
 * Thread-safe; control path. */
int udk_iova_reserve(struct udk_iova_space *sp, uint64_t iova, uint64_t len);

/* Give back a range returned by alloc or reserve.  The range must be exactly
 * one earlier allocation: -UDK_ENOTMAPPED otherwise.  Thread-safe. */
int udk_iova_free(struct udk_iova_space *sp, uint64_t iova, uint64_t len);

/* Narrow the apertures to their intersection with ranges (what a newly
 * attached IOMMU reports).  Fails with -UDK_EINCOMPATIBLE, changing nothing,
 * if an allocated range would fall outside; *bad (if not NULL) then holds the
 * first such allocation.  The depot is drained first; IOVAs parked in lcore
 * caches count as allocated.  Thread-safe; control path. */
int udk_iova_space_restrict(struct udk_iova_space *sp, const struct udk_iova_range *ranges,
			    size_t n, struct udk_iova_range *bad);

/* Copy up to max apertures (what is allocatable or allocated) into out;
 * *n gets the total number.  Thread-safe. */
int udk_iova_space_ranges(struct udk_iova_space *sp, struct udk_iova_range *out, size_t max,
			  size_t *n);

/* Bytes currently allocated from the range allocator.  IOVAs that sit free
 * in a cache or the depot count as allocated (the range allocator handed
 * them out); udk_iova_space_drain() and udk_iova_cache_flush() give them back.
 * Thread-safe. */
uint64_t udk_iova_space_used(struct udk_iova_space *sp);

/* ---- Size classes and per-lcore caches (the fast path) ---- */

/* Classes 0..9 are 4 KiB << class (4 KiB .. 2 MiB); class 10 is 1 GiB, for
 * hugepage segments.  An IOVA of a class is aligned to the class size. */
#define UDK_IOVA_NB_CLASSES 11
#define UDK_IOVA_CLASS_1G 10
/* Cache indexes: one per lcore (the EAL uses the lcore id).  A thread that is
 * not an lcore uses UDK_IOVA_SHARED, the shared path (a mutex-guarded cache). */
#define UDK_IOVA_MAX_CACHES 128
#define UDK_IOVA_SHARED UINT32_MAX

/* Bytes of class cls (cls < UDK_IOVA_NB_CLASSES). */
static inline uint64_t udk_iova_class_size(unsigned int cls)
{
	return cls == UDK_IOVA_CLASS_1G ? (1ULL << 30) : (4096ULL << cls);
}

/* The smallest class that holds len bytes, or -1 if len is 0 or above 1 GiB. */
static inline int udk_iova_class_of(uint64_t len)
{
	if (len == 0 || len > (1ULL << 30))
		return -1;
	if (len > (2ULL << 20))
		return UDK_IOVA_CLASS_1G;
	if (len <= 4096)
		return 0;
	return 64 - __builtin_clzll(len - 1) - 12;
}

/* The cache index of the calling thread: what udk_iova_thread_set_cache()
 * stored, UDK_IOVA_SHARED if nothing was.  Thread-local; any thread. */
unsigned int udk_iova_thread_cache(void);
/* Bind the calling thread to cache index idx (< UDK_IOVA_MAX_CACHES, or
 * UDK_IOVA_SHARED to unbind).  The EAL does it for each lcore with its lcore
 * id.  At most one thread may be bound to an index at a time. */
void udk_iova_thread_set_cache(unsigned int idx);

/* Allocate one IOVA of class cls through cache `cache` (a cache index, or
 * UDK_IOVA_SHARED).  Fast path when the cache has one: no lock, no system
 * call, no allocation, and no cache line another lcore writes.  Thread rules:
 * a cache index is used by one thread at a time (its lcore); UDK_IOVA_SHARED
 * by any thread.  The first call on an index allocates the cache (slow path).
 * 0; -EINVAL (bad class or index); -UDK_ENOIOVA when the space has no free
 * range of the class left (logged once per call, naming the class). */
int udk_iova_cache_alloc(struct udk_iova_space *sp, unsigned int cache, unsigned int cls,
			 uint64_t *iova);

/* Give back an IOVA from udk_iova_cache_alloc(), of the same class.  The
 * caller must have removed every IOMMU mapping at it: the IOVA may be handed
 * out again at once.  Any cache may take it back (an I/O may complete on
 * another lcore).  Same thread rules as alloc.  0, or -EINVAL if the IOVA is
 * not aligned to its class. */
int udk_iova_cache_free(struct udk_iova_space *sp, unsigned int cache, unsigned int cls,
			uint64_t iova);

/* Return every IOVA held by cache `cache` to the range allocator.  Called
 * by the cache's own thread, or by anyone once that thread is gone. */
void udk_iova_cache_flush(struct udk_iova_space *sp, unsigned int cache);

/* Return the IOVAs held in the depot (full magazines) to the range
 * allocator.  Thread-safe.  udk_iova_alloc() does it by itself before it
 * reports exhaustion. */
void udk_iova_space_drain(struct udk_iova_space *sp);

/* ---- Translation: virtual address -> IOVA ---- */

/* A lock-free radix table over the 47-bit user address space: a level-1
 * array indexed by VA bits 46..30 (reserved, filled lazily), level-2 pages
 * of 512 slots, one per 2 MiB.  A slot is either "direct" (a 2 MiB range that
 * one mapping covers completely: the slot holds its IOVA, so translation is
 * one lookup and one add) or points to a leaf page of 512 4 KiB entries (the
 * edges of mappings, registered memory).  Entries are published with release
 * stores; readers use acquire loads.  Table pages are never freed while the
 * table lives, so a reader never touches freed memory whatever a writer
 * removes concurrently: a reader racing a removal sees the old IOVA or none.
 *
 * The layout is public only so that the lookup can be inline; touch it only
 * through the calls below. */
struct udk_iova_xlate {
	uint64_t **l1;        /* 1 << 17 level-2 pages, NULL until used */
	struct xlate_priv *priv;
};

#define UDK_IOVA_XLATE_VA_BITS 47

/* Create or destroy a table.  Destroy only when no reader can be left. */
int udk_iova_xlate_create(struct udk_iova_xlate **out);
void udk_iova_xlate_destroy(struct udk_iova_xlate *x);

/* Publish [va, va+len) -> [iova, iova+len) (all 4 KiB aligned).  Writers are
 * serialised by the table's mutex; readers never wait.  -UDK_EOVERLAP
 * (nothing changed) if part of the range is already in the table, -EINVAL for
 * an unaligned range or one above 47 bits, -ENOMEM. */
int udk_iova_xlate_insert(struct udk_iova_xlate *x, uintptr_t va, uint64_t len, uint64_t iova);

/* Remove exactly what one insert added.  Thread-safe with readers. */
void udk_iova_xlate_remove(struct udk_iova_xlate *x, uintptr_t va, uint64_t len);

/* The IOVA of va, or UDK_IOVA_BAD.  Lock-free, wait-free, any thread, O(1):
 * at most three dependent loads.  (GCC __atomic builtins rather than
 * <stdatomic.h> so the header also compiles as C++.) */
static inline uint64_t udk_iova_xlate_lookup(const struct udk_iova_xlate *x, const void *p)
{
	uintptr_t va = (uintptr_t)p;
	uint64_t *l2, s, e;

	if (va >> UDK_IOVA_XLATE_VA_BITS)
		return UDK_IOVA_BAD;
	l2 = __atomic_load_n(&x->l1[va >> 30], __ATOMIC_ACQUIRE);
	if (l2 == NULL)
		return UDK_IOVA_BAD;
	s = __atomic_load_n(&l2[(va >> 21) & 511], __ATOMIC_ACQUIRE);
	if (s & 1)
		return (s - 1) + (va & ((1ULL << 21) - 1));
	if (s == 0)
		return UDK_IOVA_BAD;
	e = __atomic_load_n(&((uint64_t *)(uintptr_t)s)[(va >> 12) & 511], __ATOMIC_ACQUIRE);
	if (e == 0)
		return UDK_IOVA_BAD;
	return (e & ~4095ULL) + (va & 4095);
}

#ifdef __cplusplus
}
#endif
#endif
