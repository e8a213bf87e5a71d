/* SPDX-License-Identifier: BSD-3-Clause */
/* xlate.c - the writer side of the VA -> IOVA radix table (the reader is the
 * inline udk_iova_xlate_lookup() in udk_iova.h).
 *
 * Reclamation: none while the table lives.  A removal stores zero into the
 * slot or entry; the level-2 and leaf pages stay, and are reused by the next
 * insert there.  So a reader that loaded a page pointer just before a removal
 * reads valid memory (it sees the old IOVA or zero) and no epoch or grace
 * period is needed.  The cost is bounded: one 4 KiB level-2 page per GiB of
 * address space ever used, one 4 KiB leaf page per 2 MiB that held a partial
 * mapping - at most 0.2% of the memory the table ever translated.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "udk_iova.h"
#include "udk_util.h"

#define L1_ENTRIES (1UL << (UDK_IOVA_XLATE_VA_BITS - 30))
#define SLOT_SIZE (1ULL << 21)
#define PAGE 4096ULL

struct xlate_priv {
	pthread_mutex_t lock; /* writers */
	void **pages;         /* every page ever allocated, freed at destroy */
	size_t npages, cap;
};

int udk_iova_xlate_create(struct udk_iova_xlate **out)
{
	struct udk_iova_xlate *x = calloc(1, sizeof(*x));
	struct xlate_priv *p = calloc(1, sizeof(*p));

	if (x == NULL || p == NULL)
		goto err_free;
	/* 1 MiB of address space; only the 4 KiB pages that get an entry are
	 * ever backed (reads of the rest hit the shared zero page). */
	x->l1 = mmap(NULL, L1_ENTRIES * sizeof(uint64_t *), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (x->l1 == MAP_FAILED)
		goto err_free;
	pthread_mutex_init(&p->lock, NULL);
	x->priv = p;
	*out = x;
	return 0;

err_free:
	udk_log(UDK_LOG_ERR, "iova", "out of memory for a translation table");
	free(p);
	free(x);
	return -ENOMEM;
}

void udk_iova_xlate_destroy(struct udk_iova_xlate *x)
{
	if (x == NULL)
		return;
	for (size_t i = 0; i < x->priv->npages; i++)
		free(x->priv->pages[i]);
	free(x->priv->pages);
	pthread_mutex_destroy(&x->priv->lock);
	free(x->priv);
	munmap(x->l1, L1_ENTRIES * sizeof(uint64_t *));
	free(x);
}

/* A zeroed 4 KiB page of 512 entries, remembered for destroy. */
static uint64_t *new_page(struct xlate_priv *p)
{
	uint64_t *pg;

	if (p->npages == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		void **n = realloc(p->pages, cap * sizeof(*n));

		if (n == NULL)
			return NULL;
		p->pages = n;
		p->cap = cap;
	}
	pg = aligned_alloc(PAGE, PAGE);
	if (pg == NULL)
		return NULL;
	memset(pg, 0, PAGE);
	p->pages[p->npages++] = pg;
	return pg;
}

static uint64_t *slot_of(struct udk_iova_xlate *x, uintptr_t va, bool make)
{
	uint64_t *l2 = __atomic_load_n(&x->l1[va >> 30], __ATOMIC_ACQUIRE);

	if (l2 == NULL && make) {
		l2 = new_page(x->priv);
		if (l2 == NULL)
			return NULL;
		/* The page is zeroed before readers can reach it. */
		__atomic_store_n(&x->l1[va >> 30], l2, __ATOMIC_RELEASE);
	}
	return l2 == NULL ? NULL : &l2[(va >> 21) & 511];
}

static uint64_t *leaf_of(uint64_t slot)
{
	return (uint64_t *)(uintptr_t)slot;
}

/* Can [va, va+len) be inserted?  Every 4 KiB of it must be free. */
static bool range_free(struct udk_iova_xlate *x, uintptr_t va, uint64_t len)
{
	for (uintptr_t s = va & ~(SLOT_SIZE - 1); s < va + len; s += SLOT_SIZE) {
		uint64_t *slot = slot_of(x, s, false);
		uint64_t v = slot != NULL ? __atomic_load_n(slot, __ATOMIC_RELAXED) : 0;
		uintptr_t lo = s > va ? s : va;
		uintptr_t hi = s + SLOT_SIZE < va + len ? s + SLOT_SIZE : va + len;

		if (v & 1)
			return false;
		if (v == 0)
			continue;
		for (uintptr_t a = lo; a < hi; a += PAGE)
			if (leaf_of(v)[(a >> 12) & 511] != 0)
				return false;
	}
	return true;
}

int udk_iova_xlate_insert(struct udk_iova_xlate *x, uintptr_t va, uint64_t len, uint64_t iova)
{
	struct xlate_priv *p = x->priv;
	int rc = 0;

	if (len == 0 || (va | len | iova) & (PAGE - 1) || va + len < va ||
	    (va + len - 1) >> UDK_IOVA_XLATE_VA_BITS) {
		udk_log(UDK_LOG_ERR, "iova",
			"cannot translate %#lx+%#llx (IOVA %#llx): not a 4 KiB-aligned range "
			"below the 47-bit user address space", (unsigned long)va,
			(unsigned long long)len, (unsigned long long)iova);
		return -EINVAL;
	}
	pthread_mutex_lock(&p->lock);
	if (!range_free(x, va, len)) {
		rc = -UDK_EOVERLAP;
		goto out;
	}
	for (uintptr_t s = va & ~(SLOT_SIZE - 1); s < va + len; s += SLOT_SIZE) {
		uint64_t *slot = slot_of(x, s, true), v, *leaf;
		uintptr_t lo = s > va ? s : va;
		uintptr_t hi = s + SLOT_SIZE < va + len ? s + SLOT_SIZE : va + len;

		if (slot == NULL) {
			rc = -ENOMEM;
			break;
		}
		v = __atomic_load_n(slot, __ATOMIC_RELAXED);
		if (lo == s && hi == s + SLOT_SIZE && v == 0) {
			/* The whole 2 MiB is this mapping's: one direct slot. */
			__atomic_store_n(slot, (iova + (s - va)) | 1, __ATOMIC_RELEASE);
			continue;
		}
		leaf = v != 0 ? leaf_of(v) : new_page(p);
		if (leaf == NULL) {
			rc = -ENOMEM;
			break;
		}
		for (uintptr_t a = lo; a < hi; a += PAGE)
			__atomic_store_n(&leaf[(a >> 12) & 511], (iova + (a - va)) | 1,
					 __ATOMIC_RELEASE);
		if (v == 0)
			__atomic_store_n(slot, (uint64_t)(uintptr_t)leaf, __ATOMIC_RELEASE);
	}
	if (rc < 0) {
		udk_log(UDK_LOG_ERR, "iova", "out of memory for the translation of %#lx+%#llx",
			(unsigned long)va, (unsigned long long)len);
		pthread_mutex_unlock(&p->lock);
		/* Take back what was published (it is exactly our range's). */
		udk_iova_xlate_remove(x, va, len);
		return rc;
	}
out:
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void udk_iova_xlate_remove(struct udk_iova_xlate *x, uintptr_t va, uint64_t len)
{
	struct xlate_priv *p = x->priv;

	if (len == 0 || (va | len) & (PAGE - 1) || (va + len - 1) >> UDK_IOVA_XLATE_VA_BITS)
		return;
	pthread_mutex_lock(&p->lock);
	for (uintptr_t s = va & ~(SLOT_SIZE - 1); s < va + len; s += SLOT_SIZE) {
		uint64_t *slot = slot_of(x, s, false), v;
		uintptr_t lo = s > va ? s : va;
		uintptr_t hi = s + SLOT_SIZE < va + len ? s + SLOT_SIZE : va + len;

		if (slot == NULL)
			continue;
		v = __atomic_load_n(slot, __ATOMIC_RELAXED);
		if (v & 1) {
			/* Direct slots are only made for a mapping covering all
			 * 2 MiB, and removals name whole mappings. */
			__atomic_store_n(slot, 0, __ATOMIC_RELEASE);
			continue;
		}
		if (v == 0)
			continue;
		for (uintptr_t a = lo; a < hi; a += PAGE)
			__atomic_store_n(&leaf_of(v)[(a >> 12) & 511], 0, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&p->lock);
}
