/* SPDX-License-Identifier: BSD-3-Clause */
/* mem.c - the memory object: options, the address-sorted segment table that
 * udk_mem_find() searches, the lock-free translation table udk_virt2iova()
 * reads, the event callbacks that let a map follow the heap, and the
 * process's default memory.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "mem_internal.h"
#include "udk_util.h"

/* The one process-wide pointer of lib/mem: set by udk_eal_init(), read by the
 * udk_dma_* shortcuts so drivers need not carry a handle around. */
static _Atomic(struct udk_mem *) default_mem;

void udk_mem_opts_init(struct udk_mem_opts *opts, size_t size)
{
	if (opts == NULL || size == 0)
		return;
	memset(opts, 0, size);
	opts->opts_size = size < sizeof(*opts) ? size : sizeof(*opts);
}

int udk_mem_create(const struct udk_mem_opts *opts, struct udk_mem **out)
{
	struct udk_mem *mem;
	int ret;

	if (out == NULL)
		return -EINVAL;
	if (opts != NULL && (opts->opts_size == 0 || opts->opts_size > sizeof(*opts))) {
		udk_log(UDK_LOG_ERR, "mem", "udk_mem_create: opts_size %zu is wrong; "
			"initialise the options with udk_mem_opts_init()", opts->opts_size);
		return -EINVAL;
	}
	mem = calloc(1, sizeof(*mem));
	if (mem == NULL)
		return -ENOMEM;
	udk_mem_opts_init(&mem->opts, sizeof(mem->opts));
	/* Only the fields the caller's header knew about. */
	if (opts != NULL)
		memcpy(&mem->opts, opts, opts->opts_size);
	mem->opts.opts_size = sizeof(mem->opts);

	ret = seg_check_opts(mem);
	if (ret < 0)
		goto err_free;
	/* The caller's string need not outlive us. */
	mem->opts.huge_dir = mem->huge_dir[0] != '\0' ? mem->huge_dir : NULL;

	ret = udk_iova_xlate_create(&mem->xlate);
	if (ret < 0)
		goto err_free;
	mem_init_common(mem);
	*out = mem;
	return 0;

err_free:
	free(mem);
	return ret;
}

void mem_init_common(struct udk_mem *mem)
{
	atomic_init(&mem->xlate_fallback, NULL);
	pthread_mutex_init(&mem->lock, NULL);
	for (int i = 0; i < UDK_MAX_NUMA_NODES; i++)
		heap_init(&mem->heaps[i], i);
}

/* Send FREE for seg to callbacks [0, n), newest first.  Translation of the
 * segment stops first, so no reader gets an IOVA that is being unmapped. */
void mem_send_free(struct udk_mem *mem, struct seg *seg, size_t n)
{
	if (seg->pub.iova != UDK_IOVA_BAD)
		udk_iova_xlate_remove(mem->xlate, (uintptr_t)seg->pub.va, seg->pub.len);
	while (n-- > 0)
		mem->cbs[n].fn(UDK_MEM_EVENT_FREE, &seg->pub, mem->cbs[n].arg);
}

void udk_mem_destroy(struct udk_mem *mem)
{
	struct udk_mem *self;

	if (mem == NULL)
		return;
	self = mem;
	atomic_compare_exchange_strong(&default_mem, &self, NULL);
	pthread_mutex_lock(&mem->lock);
	if (mem->provider != NULL) {
		ext_destroy_segs(mem);
	} else {
		for (size_t i = mem->nb_segs; i-- > 0;) {
			mem_send_free(mem, mem->table[i], mem->nb_cbs);
			seg_release(mem->table[i]);
		}
	}
	pthread_mutex_unlock(&mem->lock);
	for (int i = 0; i < UDK_MAX_NUMA_NODES; i++)
		heap_fini(&mem->heaps[i]);
	pthread_mutex_destroy(&mem->lock);
	udk_iova_xlate_destroy(mem->xlate);
	free(mem->table);
	free(mem);
}

/* Index of the first segment whose va is above va. */
static size_t upper_bound(struct udk_mem *mem, uintptr_t va)
{
	size_t lo = 0, hi = mem->nb_segs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if ((uintptr_t)mem->table[mid]->pub.va <= va)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int mem_seg_announce(struct udk_mem *mem, struct seg *seg)
{
	size_t i, pos;
	int ret;

	if (mem->nb_segs == mem->cap_segs) {
		size_t cap = mem->cap_segs ? 2 * mem->cap_segs : 16;
		struct seg **t = realloc(mem->table, cap * sizeof(*t));

		if (t == NULL) {
			udk_log(UDK_LOG_ERR, "mem", "out of memory for the segment table");
			return -ENOMEM;
		}
		mem->table = t;
		mem->cap_segs = cap;
	}
	for (i = 0; i < mem->nb_cbs; i++) {
		ret = mem->cbs[i].fn(UDK_MEM_EVENT_ALLOC, &seg->pub, mem->cbs[i].arg);
		if (ret != 0) {
			/* The callback logged why; undo the ones that accepted. */
			udk_log(UDK_LOG_INFO, "mem", "segment event callback %zu refused a segment "
				"on node %d: %s", i, seg->heap->node, udk_strerror(ret));
			mem_send_free(mem, seg, i);
			return ret < 0 ? ret : -ret;
		}
	}
	/* The callbacks gave the segment its IOVA: publish its translation
	 * before any of it is handed out. */
	if (seg->pub.iova != UDK_IOVA_BAD) {
		ret = udk_iova_xlate_insert(mem->xlate, (uintptr_t)seg->pub.va, seg->pub.len,
					    seg->pub.iova);
		if (ret < 0) {
			udk_log(UDK_LOG_ERR, "mem", "cannot publish the translation of a segment at "
				"%p: %s", seg->pub.va, udk_strerror(ret));
			seg->pub.iova = UDK_IOVA_BAD; /* nothing to remove */
			mem_send_free(mem, seg, mem->nb_cbs);
			return ret;
		}
	}
	pos = upper_bound(mem, (uintptr_t)seg->pub.va);
	memmove(&mem->table[pos + 1], &mem->table[pos], (mem->nb_segs - pos) * sizeof(*mem->table));
	mem->table[pos] = seg;
	mem->nb_segs++;
	mem->total_reserved += seg->pub.len;
	return 0;
}

struct seg *mem_seg_lookup(struct udk_mem *mem, const void *va)
{
	struct seg *seg = NULL;
	size_t i;

	pthread_mutex_lock(&mem->lock);
	i = upper_bound(mem, (uintptr_t)va);
	if (i > 0) {
		struct seg *s = mem->table[i - 1];

		if ((uintptr_t)va < (uintptr_t)s->pub.va + s->pub.len)
			seg = s;
	}
	pthread_mutex_unlock(&mem->lock);
	return seg;
}

/* A callback replayed for an existing segment may have given it another
 * IOVA (or taken it away): make the translation follow. */
static void republish(struct udk_mem *mem, struct seg *seg, uint64_t old)
{
	if (seg->pub.iova == old)
		return;
	if (old != UDK_IOVA_BAD)
		udk_iova_xlate_remove(mem->xlate, (uintptr_t)seg->pub.va, seg->pub.len);
	if (seg->pub.iova != UDK_IOVA_BAD &&
	    udk_iova_xlate_insert(mem->xlate, (uintptr_t)seg->pub.va, seg->pub.len,
				  seg->pub.iova) < 0)
		udk_log(UDK_LOG_WARN, "mem", "segment %p: its new IOVA 0x%llx could not be "
			"published; udk_virt2iova() will not find it", seg->pub.va,
			(unsigned long long)seg->pub.iova);
}

int udk_mem_event_register(struct udk_mem *mem, udk_mem_event_fn fn, void *arg)
{
	size_t i;
	int ret = 0;

	if (mem == NULL || fn == NULL)
		return -EINVAL;
	pthread_mutex_lock(&mem->lock);
	for (i = 0; i < mem->nb_cbs; i++) {
		if (mem->cbs[i].fn == fn && mem->cbs[i].arg == arg) {
			ret = -EEXIST;
			goto out;
		}
	}
	if (mem->nb_cbs == MEM_MAX_CALLBACKS) {
		udk_log(UDK_LOG_ERR, "mem", "too many memory event callbacks (at most %d)",
			MEM_MAX_CALLBACKS);
		ret = -ENOSPC;
		goto out;
	}
	/* Replay: the new callback sees the heap as if it had been there from
	 * the start. */
	for (i = 0; i < mem->nb_segs; i++) {
		uint64_t old = mem->table[i]->pub.iova;

		ret = fn(UDK_MEM_EVENT_ALLOC, &mem->table[i]->pub, arg);
		republish(mem, mem->table[i], old);
		if (ret != 0) {
			while (i-- > 0) {
				old = mem->table[i]->pub.iova;
				fn(UDK_MEM_EVENT_FREE, &mem->table[i]->pub, arg);
				republish(mem, mem->table[i], old);
			}
			ret = ret < 0 ? ret : -ret;
			goto out;
		}
	}
	mem->cbs[mem->nb_cbs].fn = fn;
	mem->cbs[mem->nb_cbs].arg = arg;
	mem->nb_cbs++;
out:
	pthread_mutex_unlock(&mem->lock);
	return ret;
}

/* No FREE events are sent: the segments stay, and the caller knows what it
 * did with them. */
int udk_mem_event_unregister(struct udk_mem *mem, udk_mem_event_fn fn, void *arg)
{
	int ret = -ENOENT;

	if (mem == NULL)
		return -EINVAL;
	pthread_mutex_lock(&mem->lock);
	for (size_t i = 0; i < mem->nb_cbs; i++) {
		if (mem->cbs[i].fn == fn && mem->cbs[i].arg == arg) {
			memmove(&mem->cbs[i], &mem->cbs[i + 1],
				(mem->nb_cbs - i - 1) * sizeof(mem->cbs[0]));
			mem->nb_cbs--;
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&mem->lock);
	return ret;
}

const struct udk_memseg *udk_mem_find(struct udk_mem *mem, const void *va)
{
	struct seg *seg;

	if (mem == NULL)
		return NULL;
	seg = mem_seg_lookup(mem, va);
	return seg != NULL ? &seg->pub : NULL;
}

int udk_mem_walk(struct udk_mem *mem, int (*fn)(const struct udk_memseg *seg, void *arg), void *arg)
{
	int ret = 0;

	if (mem == NULL || fn == NULL)
		return -EINVAL;
	pthread_mutex_lock(&mem->lock);
	for (size_t i = 0; i < mem->nb_segs && ret == 0; i++)
		ret = fn(&mem->table[i]->pub, arg);
	pthread_mutex_unlock(&mem->lock);
	return ret;
}

void udk_mem_stats(struct udk_mem *mem, struct udk_mem_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (mem == NULL)
		return;
	for (int i = 0; i < UDK_MAX_NUMA_NODES; i++) {
		struct heap *h = &mem->heaps[i];

		pthread_mutex_lock(&h->lock);
		st->bytes_in_use += h->bytes_in_use;
		pthread_mutex_unlock(&h->lock);
	}
	pthread_mutex_lock(&mem->lock);
	st->segments = mem->nb_segs;
	st->bytes_reserved = mem->total_reserved;
	pthread_mutex_unlock(&mem->lock);
}

void udk_mem_set_default(struct udk_mem *mem)
{
	atomic_store(&default_mem, mem);
}

struct udk_mem *udk_mem_default(void)
{
	return atomic_load(&default_mem);
}

void *udk_mem_default_zmalloc(size_t size, size_t align, int socket)
{
	return udk_mem_zmalloc(udk_mem_default(), size, align, socket);
}

void udk_mem_default_free(void *ptr)
{
	udk_mem_free(udk_mem_default(), ptr);
}

void udk_mem_set_xlate_fallback(struct udk_mem *mem, const struct udk_iova_xlate *x)
{
	atomic_store_explicit(&mem->xlate_fallback, x, memory_order_release);
}

uint64_t udk_mem_virt2iova(struct udk_mem *mem, const void *ptr)
{
	const struct udk_iova_xlate *fb;
	uint64_t iova;

	if (mem == NULL)
		return UDK_IOVA_BAD;
	/* Heap memory first: the common case is one lookup of the segment's
	 * 2 MiB slot and one add. */
	iova = udk_iova_xlate_lookup(mem->xlate, ptr);
	if (likely(iova != UDK_IOVA_BAD))
		return iova;
	fb = atomic_load_explicit(&mem->xlate_fallback, memory_order_acquire);
	return fb != NULL ? udk_iova_xlate_lookup(fb, ptr) : UDK_IOVA_BAD;
}

uint64_t udk_virt2iova(const void *ptr)
{
	return udk_mem_virt2iova(atomic_load_explicit(&default_mem, memory_order_acquire), ptr);
}
