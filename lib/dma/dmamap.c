/* SPDX-License-Identifier: BSD-3-Clause */
/* dmamap.c - the map object: its record of mappings, its IOVA space and its
 * lifetime.  The record is the truth; a backend mirrors it into the kernel
 * while map->live: type1 while devices are attached (it replays the record
 * when the first device comes), iommufd from create on. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "dma_internal.h"
#include "udk_util.h"

#define MAX_MAP_ALIGN (1ULL << 30)

void udk_dmamap_opts_init(struct udk_dmamap_opts *opts, size_t size)
{
	struct udk_dmamap_opts d = {.opts_size = size, .backend = UDK_DMAMAP_AUTO};

	memset(opts, 0, size);
	memcpy(opts, &d, size < sizeof(d) ? size : sizeof(d));
}

int udk_dmamap_create(const struct udk_dmamap_opts *opts, struct udk_dmamap **out)
{
	static atomic_uint seq;
	const struct udk_dmamap_ops *ops;
	struct udk_dmamap_opts o;
	struct udk_dmamap *map;
	char name[sizeof(map->name)];
	int rc;

	udk_dmamap_opts_init(&o, sizeof(o));
	if (opts != NULL)
		memcpy(&o, opts, opts->opts_size < sizeof(o) ? opts->opts_size : sizeof(o));
	if (o.name != NULL)
		snprintf(name, sizeof(name), "%s", o.name);
	else
		snprintf(name, sizeof(name), "map%u", atomic_fetch_add(&seq, 1));
	rc = udk_dma_backend_pick(o.backend, name, &ops);
	if (rc < 0)
		return rc;
	/* The backend's struct, with the generic map at its start. */
	map = calloc(1, ops->map_size);
	if (map == NULL)
		return -ENOMEM;
	memcpy(map->name, name, sizeof(name));
	map->ops = ops;
	rc = udk_iova_space_create(o.iova_ranges, o.nb_iova_ranges, &map->iova);
	if (rc < 0)
		goto err_map;
	pthread_mutex_init(&map->lock, NULL);
	atomic_init(&map->refcnt, 1);
	/* The translation table and the per-I/O state (extmem.c). */
	rc = dma_ext_init(map);
	if (rc < 0)
		goto err_iova;
	rc = map->ops->init(map);
	if (rc < 0)
		goto err_ext;
	*out = map;
	return 0;

err_ext:
	dma_ext_fini(map);
err_iova:
	udk_iova_space_destroy(map->iova);
	pthread_mutex_destroy(&map->lock);
err_map:
	free(map);
	return rc;
}

struct udk_dmamap *udk_dmamap_get(struct udk_dmamap *map)
{
	atomic_fetch_add(&map->refcnt, 1);
	return map;
}

void udk_dmamap_put(struct udk_dmamap *map)
{
	if (map == NULL || atomic_fetch_sub(&map->refcnt, 1) != 1)
		return;
	/* Last reference: no device holds the map, so nothing is live; the
	 * kernel object (if any) is closed by the backend. */
	map->ops->fini(map);
	dma_ext_fini(map);
	udk_iova_space_destroy(map->iova);
	pthread_mutex_destroy(&map->lock);
	free(map->m);
	free(map);
}

const char *udk_dmamap_name(const struct udk_dmamap *map)
{
	return map->name;
}

/* Index of the first mapping that ends above va. */
static size_t find_idx(const struct udk_dmamap *map, uintptr_t va)
{
	size_t lo = 0, hi = map->nm;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (map->m[mid].vaddr + map->m[mid].len - 1 < va)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int record_insert(struct udk_dmamap *map, size_t at, const struct udk_mapping *m)
{
	if (map->nm == map->capm) {
		size_t cap = map->capm ? map->capm * 2 : 16;
		struct udk_mapping *n = realloc(map->m, cap * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		map->m = n;
		map->capm = cap;
	}
	memmove(&map->m[at + 1], &map->m[at], (map->nm - at) * sizeof(*map->m));
	map->m[at] = *m;
	map->nm++;
	map->bytes += m->len;
	return 0;
}

static void record_remove(struct udk_dmamap *map, size_t at)
{
	map->bytes -= map->m[at].len;
	memmove(&map->m[at], &map->m[at + 1], (map->nm - at - 1) * sizeof(*map->m));
	map->nm--;
}

/* The largest power of two up to 1 GiB that divides both len and vaddr, so
 * IOVA and VA agree modulo every IOMMU page size the segment can use. */
static uint64_t natural_align(uintptr_t vaddr, uint64_t len)
{
	uint64_t x = len | (uint64_t)vaddr | MAX_MAP_ALIGN;

	return x & -x;
}

static int check_range(struct udk_dmamap *map, void *vaddr, size_t len, const char *step)
{
	long pg = sysconf(_SC_PAGESIZE);

	if (len == 0 || (uintptr_t)vaddr % (uintptr_t)pg != 0 || len % (size_t)pg != 0 ||
	    (uintptr_t)vaddr + len - 1 < (uintptr_t)vaddr) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"%s on %s: %p+0x%zx is not a page-aligned, non-empty range", step,
			map->name, vaddr, len);
		return -EINVAL;
	}
	return 0;
}

/* How map_locked() gets the IOVA: chosen by the map, reserved at the
 * caller's address, or already held by the caller (map_in). */
enum iova_src { IOVA_ALLOC, IOVA_AT, IOVA_HELD };

static int map_locked(struct udk_dmamap *map, void *vaddr, size_t len, uint64_t iova,
		      enum iova_src src, uint64_t *out)
{
	struct udk_mapping m = {.vaddr = (uintptr_t)vaddr, .len = len,
				.caller_iova = src == IOVA_HELD};
	size_t k = find_idx(map, m.vaddr);
	int rc;

	if (k < map->nm && map->m[k].vaddr <= m.vaddr + len - 1) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"map on %s: %p+0x%zx overlaps the mapping %p+0x%llx (IOVA 0x%llx); "
			"unmap it first or map only the part that is new",
			map->name, vaddr, len, (void *)map->m[k].vaddr,
			(unsigned long long)map->m[k].len, (unsigned long long)map->m[k].iova);
		return -UDK_EOVERLAP;
	}
	if (src == IOVA_AT)
		rc = udk_iova_reserve(map->iova, iova, len);
	else if (src == IOVA_ALLOC)
		rc = udk_iova_alloc_pref(map->iova, len, natural_align(m.vaddr, len), 4096, &iova);
	else
		rc = 0;
	if (rc < 0)
		return rc;
	m.iova = iova;
	if (map->live) {
		rc = map->ops->map(map, &m);
		if (rc < 0)
			goto err_free_iova;
	}
	/* Translatable only once the kernel has it, so a reader that finds
	 * the IOVA may hand it to a device at once. */
	rc = udk_iova_xlate_insert(map->xlate, m.vaddr, m.len, m.iova);
	if (rc < 0)
		goto err_unmap;
	rc = record_insert(map, k, &m);
	if (rc < 0)
		goto err_xlate;
	if (out != NULL)
		*out = iova;
	return 0;

err_xlate:
	udk_iova_xlate_remove(map->xlate, m.vaddr, m.len);
err_unmap:
	if (map->live)
		map->ops->unmap(map, &m);
err_free_iova:
	if (!m.caller_iova)
		udk_iova_free(map->iova, iova, len);
	return rc;
}

int udk_dmamap_map(struct udk_dmamap *map, void *vaddr, size_t len, uint64_t *iova)
{
	int rc = check_range(map, vaddr, len, "map");

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&map->lock);
	rc = map_locked(map, vaddr, len, 0, IOVA_ALLOC, iova);
	pthread_mutex_unlock(&map->lock);
	return rc;
}

/* map_at and map_in: at an IOVA the caller names. */
static int map_fixed(struct udk_dmamap *map, void *vaddr, size_t len, uint64_t iova,
		     enum iova_src src, const char *step)
{
	int rc = check_range(map, vaddr, len, step);

	if (rc < 0)
		return rc;
	if (iova % (uint64_t)sysconf(_SC_PAGESIZE) != 0) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "%s on %s: IOVA 0x%llx is not page aligned",
			step, map->name, (unsigned long long)iova);
		return -EINVAL;
	}
	pthread_mutex_lock(&map->lock);
	rc = map_locked(map, vaddr, len, iova, src, NULL);
	pthread_mutex_unlock(&map->lock);
	return rc;
}

int udk_dmamap_map_at(struct udk_dmamap *map, void *vaddr, size_t len, uint64_t iova)
{
	return map_fixed(map, vaddr, len, iova, IOVA_AT, "map_at");
}

int udk_dmamap_map_in(struct udk_dmamap *map, void *vaddr, size_t len, uint64_t iova)
{
	return map_fixed(map, vaddr, len, iova, IOVA_HELD, "map_in");
}

int udk_dmamap_unmap(struct udk_dmamap *map, void *vaddr, size_t len)
{
	uintptr_t va = (uintptr_t)vaddr;
	struct udk_mapping m;
	size_t k;
	int rc = 0;

	pthread_mutex_lock(&map->lock);
	k = find_idx(map, va);
	if (k == map->nm || map->m[k].vaddr != va || map->m[k].len != len) {
		if (k < map->nm && map->m[k].vaddr <= va + len - 1)
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"unmap on %s: %p+0x%zx is not exactly one mapping (the mapping "
				"there is %p+0x%llx); unmap whole mappings only",
				map->name, vaddr, len, (void *)map->m[k].vaddr,
				(unsigned long long)map->m[k].len);
		else
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "unmap on %s: %p+0x%zx is not mapped",
				map->name, vaddr, len);
		pthread_mutex_unlock(&map->lock);
		return -UDK_ENOTMAPPED;
	}
	m = map->m[k];
	/* Stop translating first: no reader may pick up an IOVA that is about
	 * to leave the IOMMU. */
	udk_iova_xlate_remove(map->xlate, m.vaddr, m.len);
	if (map->live)
		rc = map->ops->unmap(map, &m);
	if (rc == 0) {
		record_remove(map, k);
		if (!m.caller_iova)
			rc = udk_iova_free(map->iova, m.iova, m.len);
	} else {
		/* Still mapped: still translatable. */
		udk_iova_xlate_insert(map->xlate, m.vaddr, m.len, m.iova);
	}
	pthread_mutex_unlock(&map->lock);
	return rc;
}

int udk_dmamap_virt2iova(struct udk_dmamap *map, const void *vaddr, uint64_t *iova)
{
	uint64_t r = udk_iova_xlate_lookup(map->xlate, vaddr);

	if (r == UDK_IOVA_BAD)
		return -UDK_ENOTMAPPED;
	*iova = r;
	return 0;
}

const struct udk_iova_xlate *udk_dmamap_xlate(const struct udk_dmamap *map)
{
	return map->xlate;
}

struct udk_iova_space *udk_dmamap_iova_space(const struct udk_dmamap *map)
{
	return map->iova;
}

int udk_dmamap_iova_ranges(struct udk_dmamap *map, struct udk_iova_range *out, size_t max,
			   size_t *n)
{
	return udk_iova_space_ranges(map->iova, out, max, n);
}

int udk_dmamap_info(struct udk_dmamap *map, struct udk_dmamap_info *info)
{
	pthread_mutex_lock(&map->lock);
	*info = (struct udk_dmamap_info){
		.backend = map->ops->backend,
		.nb_devices = map->nb_devices,
		.nb_mappings = (unsigned int)map->nm,
		.bytes_mapped = map->bytes,
		.live = map->live,
	};
	map->ops->info(map, info);
	pthread_mutex_unlock(&map->lock);
	return 0;
}

/* Mirror the whole record into the kernel (first device attached), the
 * per-I/O mappings too.  On failure, what was mirrored is taken back and the
 * map is not live. */
int udk_dma_replay(struct udk_dmamap *map)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < map->nm; i++) {
		rc = map->ops->map(map, &map->m[i]);
		if (rc < 0)
			break;
	}
	if (rc == 0)
		rc = dma_ext_replay(map);
	if (rc < 0) {
		while (i-- > 0)
			map->ops->unmap(map, &map->m[i]);
		return rc;
	}
	map->live = true;
	return 0;
}

/* The kernel dropped every mapping (the last group left the container). */
void udk_dma_kernel_lost(struct udk_dmamap *map)
{
	map->live = false;
}

/* The kernel refused a mapping for a reason every backend shares: say which,
 * with the remedy.  err is the positive errno (EEXIST or ENOMEM). */
int udk_dma_map_error(struct udk_dmamap *map, const struct udk_mapping *m, int err)
{
	struct rlimit rl;

	if (err == EEXIST) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"map on %s: the kernel already has a mapping at IOVA 0x%llx+0x%llx (EEXIST)",
			map->name, (unsigned long long)m->iova, (unsigned long long)m->len);
		return -UDK_EOVERLAP;
	}
	getrlimit(RLIMIT_MEMLOCK, &rl);
	udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
		"map on %s: cannot pin 0x%llx bytes: RLIMIT_MEMLOCK is %llu KiB; raise it "
		"('ulimit -l unlimited' or /etc/security/limits.conf) or run as root",
		map->name, (unsigned long long)m->len,
		rl.rlim_cur == RLIM_INFINITY ? 0ULL : (unsigned long long)rl.rlim_cur / 1024);
	return -UDK_EMEMLOCK;
}

/* Judge a kernel unmap: err is the call's errno (0 if it returned), done
 * the length the kernel says it unmapped.  A short unmap means the kernel's
 * view and ours differ: it is an error, never ignored. */
int udk_dma_unmap_result(struct udk_dmamap *map, const struct udk_mapping *m, const char *call,
			 int err, uint64_t done)
{
	if (err != 0) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "unmap on %s: %s at 0x%llx: %s", map->name, call,
			(unsigned long long)m->iova, strerror(err));
		return -err;
	}
	if (done != m->len) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"unmap on %s: the kernel unmapped 0x%llx of 0x%llx bytes at IOVA 0x%llx",
			map->name, (unsigned long long)done, (unsigned long long)m->len,
			(unsigned long long)m->iova);
		return -EIO;
	}
	return 0;
}
