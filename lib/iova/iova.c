/* SPDX-License-Identifier: BSD-3-Clause */
/* iova.c - the range allocator of an IOVA space: apertures plus a sorted
 * array of allocations, first fit, one mutex.  It serves the control path
 * (segments, registered memory) and is the slow path behind the size-class
 * caches of iova_cache.c, which carve from it a batch at a time. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "iova_internal.h"
#include "udk_util.h"

static int range_cmp(const void *x, const void *y)
{
	const struct udk_iova_range *a = x, *b = y;

	return a->start < b->start ? -1 : a->start > b->start;
}

/* Copy ranges, sort them, drop empty ones and merge overlaps. */
static int normalize(const struct udk_iova_range *in, size_t n, struct udk_iova_range **out,
		     size_t *nout)
{
	struct udk_iova_range *r;
	size_t k = 0;

	r = calloc(n ? n : 1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (in[i].last >= in[i].start)
			r[k++] = in[i];
	qsort(r, k, sizeof(*r), range_cmp);
	size_t m = 0;
	for (size_t i = 0; i < k; i++) {
		if (m > 0 && (r[m - 1].last == UINT64_MAX || r[i].start <= r[m - 1].last + 1)) {
			if (r[i].last > r[m - 1].last)
				r[m - 1].last = r[i].last;
		} else {
			r[m++] = r[i];
		}
	}
	*out = r;
	*nout = m;
	return 0;
}

int udk_iova_space_create(const struct udk_iova_range *ranges, size_t n,
			  struct udk_iova_space **out)
{
	static const struct udk_iova_range safe[] = {
		{UDK_IOVA_SAFE_START, UDK_IOVA_MSI_START - 1},
		{UDK_IOVA_MSI_LAST + 1, UDK_IOVA_SAFE_LAST},
	};
	struct udk_iova_space *sp;
	int rc;

	if (ranges == NULL || n == 0) {
		ranges = safe;
		n = UDK_ARRAY_SIZE(safe);
	}
	sp = calloc(1, sizeof(*sp));
	if (sp == NULL)
		return -ENOMEM;
	rc = normalize(ranges, n, &sp->ap, &sp->nap);
	if (rc < 0) {
		free(sp);
		return rc;
	}
	if (sp->nap == 0) {
		udk_log(UDK_LOG_ERR, "iova", "IOVA space has no usable range");
		free(sp->ap);
		free(sp);
		return -UDK_ENOIOVA;
	}
	pthread_mutex_init(&sp->lock, NULL);
	rc = iova_caches_init(sp);
	if (rc < 0) {
		pthread_mutex_destroy(&sp->lock);
		free(sp->ap);
		free(sp);
		return rc;
	}
	*out = sp;
	return 0;
}

void udk_iova_space_destroy(struct udk_iova_space *sp)
{
	if (sp == NULL)
		return;
	iova_caches_destroy(sp);
	pthread_mutex_destroy(&sp->lock);
	free(sp->ap);
	free(sp->a);
	free(sp);
}

/* Index of the first allocation whose end is above iova. */
static size_t first_after(const struct udk_iova_space *sp, uint64_t iova)
{
	size_t lo = 0, hi = sp->na;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (sp->a[mid].start + sp->a[mid].len - 1 < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int insert(struct udk_iova_space *sp, size_t at, uint64_t start, uint64_t len)
{
	if (sp->na == sp->cap) {
		size_t cap = sp->cap ? sp->cap * 2 : 16;
		struct alloc *a = realloc(sp->a, cap * sizeof(*a));
		if (a == NULL)
			return -ENOMEM;
		sp->a = a;
		sp->cap = cap;
	}
	memmove(&sp->a[at + 1], &sp->a[at], (sp->na - at) * sizeof(*sp->a));
	sp->a[at] = (struct alloc){start, len};
	sp->na++;
	sp->used += len;
	return 0;
}

/* Does [start, start+len) fit in one aperture? */
static bool inside_apertures(const struct udk_iova_range *ap, size_t nap, uint64_t start,
			     uint64_t len)
{
	uint64_t last = start + len - 1;

	if (len == 0 || last < start)
		return false;
	for (size_t i = 0; i < nap; i++)
		if (start >= ap[i].start && last <= ap[i].last)
			return true;
	return false;
}

/* Align x up to align, reporting overflow. */
static bool align_up(uint64_t x, uint64_t align, uint64_t *out)
{
	uint64_t r = (x + align - 1) & ~(align - 1);

	if (r < x)
		return false;
	*out = r;
	return true;
}

/* First fit of len at align; -UDK_ENOIOVA without a log line. Locked. */
static int alloc_locked(struct udk_iova_space *sp, uint64_t len, uint64_t align, uint64_t *iova)
{
	int rc = -UDK_ENOIOVA;

	for (size_t i = 0; i < sp->nap && rc == -UDK_ENOIOVA; i++) {
		uint64_t cur;
		size_t k = first_after(sp, sp->ap[i].start);

		if (!align_up(sp->ap[i].start, align, &cur))
			continue;
		for (;;) {
			uint64_t last = cur + len - 1;
			if (last < cur || last > sp->ap[i].last)
				break; /* does not fit in the rest of this aperture */
			if (k == sp->na || last < sp->a[k].start) {
				rc = insert(sp, k, cur, len);
				if (rc == 0)
					*iova = cur;
				break;
			}
			if (!align_up(sp->a[k].start + sp->a[k].len, align, &cur))
				break;
			k++;
		}
	}
	return rc;
}

static bool bad_request(uint64_t len, uint64_t align)
{
	return len == 0 || !UDK_IS_POW2(align) || len % IOVA_MIN_ALIGN != 0;
}

static void log_exhausted(struct udk_iova_space *sp, uint64_t len, uint64_t align)
{
	udk_log(UDK_LOG_ERR, "iova",
		"IOVA space exhausted: no free range of %llu bytes aligned to %llu "
		"(%llu bytes in use); unmap something or use fewer, larger mappings",
		(unsigned long long)len, (unsigned long long)align,
		(unsigned long long)udk_iova_space_used(sp));
}

int udk_iova_alloc(struct udk_iova_space *sp, uint64_t len, uint64_t align, uint64_t *iova)
{
	return udk_iova_alloc_pref(sp, len, align, align, iova);
}

int udk_iova_alloc_pref(struct udk_iova_space *sp, uint64_t len, uint64_t pref,
			uint64_t min_align, uint64_t *iova)
{
	int rc;

	if (bad_request(len, pref) || bad_request(len, min_align))
		return -EINVAL;
	if (min_align < IOVA_MIN_ALIGN)
		min_align = IOVA_MIN_ALIGN;
	if (pref < min_align)
		pref = min_align;
	for (int pass = 0; pass < 2; pass++) {
		pthread_mutex_lock(&sp->lock);
		rc = alloc_locked(sp, len, pref, iova);
		if (rc == -UDK_ENOIOVA && pref != min_align)
			rc = alloc_locked(sp, len, min_align, iova);
		pthread_mutex_unlock(&sp->lock);
		if (rc != -UDK_ENOIOVA || pass == 1)
			break;
		/* Free IOVAs may sit in the depot's full magazines: give them
		 * back and try once more before calling the space exhausted. */
		udk_iova_space_drain(sp);
	}
	if (rc == -UDK_ENOIOVA)
		log_exhausted(sp, len, min_align);
	return rc;
}

int udk_iova_reserve(struct udk_iova_space *sp, uint64_t iova, uint64_t len)
{
	size_t k;
	int rc;

	if (len == 0 || iova % IOVA_MIN_ALIGN != 0 || len % IOVA_MIN_ALIGN != 0)
		return -EINVAL;
	pthread_mutex_lock(&sp->lock);
	if (!inside_apertures(sp->ap, sp->nap, iova, len)) {
		pthread_mutex_unlock(&sp->lock);
		udk_log(UDK_LOG_ERR, "iova",
			"IOVA 0x%llx+0x%llx lies outside the map's IOVA ranges",
			(unsigned long long)iova, (unsigned long long)len);
		return -UDK_ENOIOVA;
	}
	k = first_after(sp, iova);
	if (k < sp->na && sp->a[k].start <= iova + len - 1) {
		pthread_mutex_unlock(&sp->lock);
		udk_log(UDK_LOG_ERR, "iova",
			"IOVA 0x%llx+0x%llx overlaps the allocation at 0x%llx+0x%llx",
			(unsigned long long)iova, (unsigned long long)len,
			(unsigned long long)sp->a[k].start, (unsigned long long)sp->a[k].len);
		return -UDK_EOVERLAP;
	}
	rc = insert(sp, k, iova, len);
	pthread_mutex_unlock(&sp->lock);
	return rc;
}

static int free_locked(struct udk_iova_space *sp, uint64_t iova, uint64_t len)
{
	size_t k = first_after(sp, iova);

	if (k == sp->na || sp->a[k].start != iova || sp->a[k].len != len)
		return -UDK_ENOTMAPPED;
	memmove(&sp->a[k], &sp->a[k + 1], (sp->na - k - 1) * sizeof(*sp->a));
	sp->na--;
	sp->used -= len;
	return 0;
}

int udk_iova_free(struct udk_iova_space *sp, uint64_t iova, uint64_t len)
{
	int rc;

	pthread_mutex_lock(&sp->lock);
	rc = free_locked(sp, iova, len);
	pthread_mutex_unlock(&sp->lock);
	if (rc < 0)
		udk_log(UDK_LOG_ERR, "iova",
			"free of IOVA 0x%llx+0x%llx does not match an allocation",
			(unsigned long long)iova, (unsigned long long)len);
	return rc;
}

unsigned int iova_carve(struct udk_iova_space *sp, uint64_t size, uint64_t *out, unsigned int n)
{
	unsigned int got = 0;

	pthread_mutex_lock(&sp->lock);
	while (got < n && alloc_locked(sp, size, size, &out[got]) == 0)
		got++;
	pthread_mutex_unlock(&sp->lock);
	return got;
}

void iova_release(struct udk_iova_space *sp, uint64_t size, const uint64_t *iova, unsigned int n)
{
	pthread_mutex_lock(&sp->lock);
	for (unsigned int i = 0; i < n; i++)
		if (free_locked(sp, iova[i], size) < 0)
			/* A cache got an IOVA the range allocator never gave: a
			 * caller freed into the wrong class or space.  Drop it. */
			udk_log(UDK_LOG_WARN, "iova",
				"cached IOVA 0x%llx+0x%llx was not allocated here; dropped",
				(unsigned long long)iova[i], (unsigned long long)size);
	pthread_mutex_unlock(&sp->lock);
}

int udk_iova_space_restrict(struct udk_iova_space *sp, const struct udk_iova_range *ranges,
			    size_t n, struct udk_iova_range *bad)
{
	struct udk_iova_range *in, *out;
	size_t nin, nout = 0;
	int rc;

	rc = normalize(ranges, n, &in, &nin);
	if (rc < 0)
		return rc;
	/* Free IOVAs parked in the depot must not count as allocations the new
	 * aperture has to hold. */
	udk_iova_space_drain(sp);
	pthread_mutex_lock(&sp->lock);
	out = calloc(sp->nap + nin + 1, sizeof(*out));
	if (out == NULL) {
		rc = -ENOMEM;
		goto out_unlock;
	}
	/* Both lists are sorted and disjoint: intersect them pairwise. */
	for (size_t i = 0, j = 0; i < sp->nap && j < nin;) {
		uint64_t s = sp->ap[i].start > in[j].start ? sp->ap[i].start : in[j].start;
		uint64_t l = sp->ap[i].last < in[j].last ? sp->ap[i].last : in[j].last;
		if (s <= l)
			out[nout++] = (struct udk_iova_range){s, l};
		if (sp->ap[i].last < in[j].last)
			i++;
		else
			j++;
	}
	for (size_t k = 0; k < sp->na; k++) {
		if (!inside_apertures(out, nout, sp->a[k].start, sp->a[k].len)) {
			if (bad != NULL)
				*bad = (struct udk_iova_range){sp->a[k].start,
							       sp->a[k].start + sp->a[k].len - 1};
			free(out);
			rc = -UDK_EINCOMPATIBLE;
			goto out_unlock;
		}
	}
	if (nout == 0) {
		free(out);
		rc = -UDK_EINCOMPATIBLE;
		if (bad != NULL)
			*bad = (struct udk_iova_range){0, 0};
		goto out_unlock;
	}
	free(sp->ap);
	sp->ap = out;
	sp->nap = nout;
out_unlock:
	pthread_mutex_unlock(&sp->lock);
	free(in);
	return rc;
}

int udk_iova_space_ranges(struct udk_iova_space *sp, struct udk_iova_range *out, size_t max,
			  size_t *n)
{
	pthread_mutex_lock(&sp->lock);
	for (size_t i = 0; i < sp->nap && i < max; i++)
		out[i] = sp->ap[i];
	*n = sp->nap;
	pthread_mutex_unlock(&sp->lock);
	return 0;
}

uint64_t udk_iova_space_used(struct udk_iova_space *sp)
{
	uint64_t u;

	pthread_mutex_lock(&sp->lock);
	u = sp->used;
	pthread_mutex_unlock(&sp->lock);
	return u;
}
