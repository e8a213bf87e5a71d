/* SPDX-License-Identifier: BSD-3-Clause */
/* dpdk_mem.c - udk on DPDK's memory: allocations from DPDK's heap, and every
 * DPDK hugepage mapped into a udk map, page by page, following DPDK's memory
 * events, at IOVAs that keep each memseg list contiguous (doc/dpdk.md).
 *
 * The layers: DPDK's events add and remove segments of an external lib/mem
 * object (udk_mem_seg_add/remove); that object's events map and unmap them,
 * as the EAL's default map follows udk's own heap.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_eal_memconfig.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_memory.h>

#include "udk_dpdk.h"
#include "udk_eal.h"
#include "udk_util.h"

#define LOG "dpdk"
#define EVENT_NAME "udk"

/* The IOVA range one memseg list maps into: IOVA = iova + (va - va0). */
struct window {
	uintptr_t va0;
	size_t len;
	uint64_t iova;
};

struct udk_dpdk {
	struct udk_mem *mem;
	struct udk_dmamap *map;
	pthread_mutex_t lock;                 /* the windows */
	struct window win[RTE_MAX_MEMSEG_LISTS];
	size_t nb_win;
	_Atomic uint64_t mapped, unmapped, failures;
};

/* DPDK's heap is one per process, so is this. */
static struct udk_dpdk *attached;

static void *provider_zmalloc(void *arg, size_t size, size_t align, int socket)
{
	struct udk_dpdk *d = arg;
	void *p;

	p = rte_zmalloc_socket("udk", size, (unsigned int)align,
			       socket == UDK_SOCKET_ANY ? SOCKET_ID_ANY : socket);
	if (p == NULL) {
		udk_log(UDK_LOG_ERR, LOG, "rte_zmalloc_socket of %zu bytes on socket %d failed: "
			"DPDK's heap is exhausted (give DPDK more memory: -m, or more hugepages)",
			size, socket);
		errno = ENOMEM;
		return NULL;
	}
	/* DPDK's event cannot refuse a page udk failed to map: do not hand
	 * out memory a device could not reach. */
	if (udk_mem_virt2iova(d->mem, p) == UDK_IOVA_BAD ||
	    udk_mem_virt2iova(d->mem, (char *)p + size - 1) == UDK_IOVA_BAD) {
		udk_log(UDK_LOG_ERR, LOG, "DPDK memory at %p (%zu bytes) is not in map %s: a page "
			"of it could not be mapped (the line before says why)", p, size,
			udk_dmamap_name(d->map));
		rte_free(p);
		errno = UDK_ENOTMAPPED;
		return NULL;
	}
	return p;
}

static void provider_free(void *arg, void *ptr)
{
	(void)arg;
	rte_free(ptr);
}

/* The IOVA of va in its list's window, which is made on first use.  Called
 * from a lib/mem event, with the memory's lock held. */
static int window_iova(struct udk_dpdk *d, void *va, uint64_t *iova)
{
	const struct rte_memseg_list *msl = rte_mem_virt2memseg_list(va);
	struct window *w = NULL;
	int rc = 0;

	if (msl == NULL) {
		udk_log(UDK_LOG_ERR, LOG, "%p is in no DPDK memseg list", va);
		return -EINVAL;
	}
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->nb_win; i++)
		if (d->win[i].va0 == (uintptr_t)msl->base_va)
			w = &d->win[i];
	if (w == NULL) {
		w = &d->win[d->nb_win];
		w->va0 = (uintptr_t)msl->base_va;
		w->len = msl->len;
		rc = udk_iova_alloc(udk_dmamap_iova_space(d->map), msl->len,
				    msl->page_sz < 4096 ? 4096 : msl->page_sz, &w->iova);
		if (rc < 0) {
			udk_log(UDK_LOG_ERR, LOG, "no IOVA window of %zu MiB left in map %s for "
				"DPDK's memseg list at %p (socket %d, %zu kB pages): limit DPDK's "
				"memory (-m, fewer memseg lists) or use a map with a wider aperture",
				msl->len >> 20, udk_dmamap_name(d->map), msl->base_va,
				msl->socket_id, (size_t)(msl->page_sz >> 10));
			goto out;
		}
		d->nb_win++;
	}
	*iova = w->iova + ((uintptr_t)va - w->va0);
out:
	pthread_mutex_unlock(&d->lock);
	return rc;
}

/* lib/mem event: the map follows the segments DPDK reported. */
static int map_follows(enum udk_mem_event ev, struct udk_memseg *seg, void *arg)
{
	struct udk_dpdk *d = arg;
	uint64_t iova;
	int rc;

	if (ev == UDK_MEM_EVENT_ALLOC) {
		rc = window_iova(d, seg->va, &iova);
		if (rc < 0)
			return rc;
		rc = udk_dmamap_map_in(d->map, seg->va, seg->len, iova);
		if (rc < 0)
			return rc;
		seg->iova = iova;
		atomic_fetch_add(&d->mapped, 1);
		return 0;
	}
	if (seg->iova != UDK_IOVA_BAD) {
		udk_dmamap_unmap(d->map, seg->va, seg->len); /* logs a refusal */
		seg->iova = UDK_IOVA_BAD;
		atomic_fetch_add(&d->unmapped, 1);
	}
	return 0;
}

static void add_page(struct udk_dpdk *d, const struct rte_memseg_list *msl,
		     const struct rte_memseg *ms)
{
	size_t off = 0;
	int fd = rte_memseg_get_fd_thread_unsafe(ms);

	if (fd >= 0 && rte_memseg_get_fd_offset_thread_unsafe(ms, &off) < 0)
		off = 0;
	if (udk_mem_seg_add(d->mem, ms->addr, ms->len, msl->page_sz, fd < 0 ? -1 : fd,
			    (off_t)off, msl->socket_id) < 0)
		atomic_fetch_add(&d->failures, 1); /* the step that failed logged why */
}

/* DPDK's memory event: called after DPDK got pages and before it frees
 * them, with its memory hotplug lock held (so only *_thread_unsafe calls). */
static void on_dpdk_event(enum rte_mem_event type, const void *addr, size_t len, void *arg)
{
	struct udk_dpdk *d = arg;
	const struct rte_memseg_list *msl = rte_mem_virt2memseg_list(addr);

	if (msl == NULL || msl->external)
		return; /* memory registered from outside (e.g. udk's own) is not DPDK's heap */
	for (size_t off = 0; off < len; off += msl->page_sz) {
		void *va = (char *)(uintptr_t)addr + off;
		const struct rte_memseg *ms = rte_mem_virt2memseg(va, msl);

		if (type == RTE_MEM_EVENT_ALLOC) {
			if (ms != NULL)
				add_page(d, msl, ms);
		} else {
			udk_mem_seg_remove(d->mem, va, msl->page_sz);
		}
	}
}

static int walk_page(const struct rte_memseg_list *msl, const struct rte_memseg *ms, void *arg)
{
	if (!msl->external)
		add_page(arg, msl, ms);
	return 0;
}

int udk_dpdk_attach(struct udk_dmamap *map, struct udk_dpdk **out)
{
	struct udk_mem_provider p = {provider_zmalloc, provider_free, NULL};
	struct udk_dmamap_opts o;
	struct udk_dpdk *d;
	int rc;

	if (out == NULL)
		return -EINVAL;
	if (rte_lcore_count() == 0) {
		udk_log(UDK_LOG_ERR, LOG, "attach: DPDK is not initialised; call rte_eal_init() "
			"first");
		return -EINVAL;
	}
	if (rte_eal_process_type() != RTE_PROC_PRIMARY) {
		udk_log(UDK_LOG_ERR, LOG, "attach: this is a DPDK secondary process; attach udk "
			"in the primary, which owns the memory");
		return -EINVAL;
	}
	if (attached != NULL) {
		udk_log(UDK_LOG_ERR, LOG, "attach: udk is attached to DPDK already");
		return -EBUSY;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	pthread_mutex_init(&d->lock, NULL);
	if (map != NULL) {
		d->map = udk_dmamap_get(map);
	} else {
		udk_dmamap_opts_init(&o, sizeof(o));
		o.name = "dpdk";
		rc = udk_dmamap_create(&o, &d->map);
		if (rc < 0)
			goto err_free;
	}
	p.arg = d;
	rc = udk_mem_create_external(&p, &d->mem);
	if (rc < 0)
		goto err_map;
	rc = udk_mem_event_register(d->mem, map_follows, d);
	if (rc < 0)
		goto err_mem;
	rc = udk_eal_adopt(d->mem, d->map);
	if (rc < 0)
		goto err_mem;

	/* Under DPDK's memory lock, so no page comes or goes between the walk
	 * and the callback: each page is seen exactly once. */
	rte_mcfg_mem_read_lock();
	if (rte_mem_event_callback_register(EVENT_NAME, on_dpdk_event, d) < 0 &&
	    rte_errno != ENOTSUP) {
		rte_mcfg_mem_read_unlock();
		udk_log(UDK_LOG_ERR, LOG, "attach: rte_mem_event_callback_register failed: %s",
			rte_strerror(rte_errno));
		rc = -rte_errno;
		goto err_adopt;
	}
	/* ENOTSUP: legacy memory (--legacy-mem, --no-huge): no page ever comes
	 * or goes after init, and the walk sees them all. */
	rte_memseg_walk_thread_unsafe(walk_page, d);
	rte_mcfg_mem_read_unlock();
	if (atomic_load(&d->failures) > 0) {
		udk_log(UDK_LOG_ERR, LOG, "attach: %llu DPDK pages could not be mapped into map %s "
			"(the line before says why)", (unsigned long long)atomic_load(&d->failures),
			udk_dmamap_name(d->map));
		rc = -UDK_ENOIOVA;
		goto err_event;
	}
	attached = d;
	*out = d;
	return 0;

err_event:
	rte_mem_event_callback_unregister(EVENT_NAME, d);
err_adopt:
	udk_eal_adopt(NULL, NULL);
err_mem:
	udk_mem_destroy(d->mem); /* unmaps what was mapped */
err_map:
	udk_dmamap_put(d->map);
err_free:
	pthread_mutex_destroy(&d->lock);
	free(d);
	return rc;
}

void udk_dpdk_detach(struct udk_dpdk *d)
{
	if (d == NULL)
		return;
	rte_mcfg_mem_read_lock();
	rte_mem_event_callback_unregister(EVENT_NAME, d);
	rte_mcfg_mem_read_unlock();
	udk_eal_adopt(NULL, NULL);
	udk_mem_destroy(d->mem);
	for (size_t i = 0; i < d->nb_win; i++)
		udk_iova_free(udk_dmamap_iova_space(d->map), d->win[i].iova, d->win[i].len);
	udk_dmamap_put(d->map);
	pthread_mutex_destroy(&d->lock);
	if (attached == d)
		attached = NULL;
	free(d);
}

void udk_dpdk_stats(struct udk_dpdk *d, struct udk_dpdk_stats *st)
{
	struct udk_mem_stats ms;

	memset(st, 0, sizeof(*st));
	if (d == NULL)
		return;
	udk_mem_stats(d->mem, &ms);
	st->pages = ms.segments;
	st->bytes = ms.bytes_reserved;
	st->pages_mapped = atomic_load(&d->mapped);
	st->pages_unmapped = atomic_load(&d->unmapped);
	st->failures = atomic_load(&d->failures);
	pthread_mutex_lock(&d->lock);
	st->windows = d->nb_win;
	pthread_mutex_unlock(&d->lock);
}
