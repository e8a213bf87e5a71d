/* SPDX-License-Identifier: BSD-3-Clause */
/* heap.c - the per-node allocator: first fit over the blocks of the node's
 * segments, splitting on allocation and coalescing on free, and growth by a
 * new segment (within the -m limits) when nothing fits.
 */
#include <errno.h>
#include <numa.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem_internal.h"
#include "udk_util.h"

void heap_init(struct heap *h, int node)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	h->node = node;
}

void heap_fini(struct heap *h)
{
	pthread_mutex_destroy(&h->lock);
}

static void block_insert_before(struct seg *seg, struct block *at, struct block *nb)
{
	nb->next = at;
	nb->prev = at->prev;
	if (at->prev != NULL)
		at->prev->next = nb;
	else
		seg->blocks = nb;
	at->prev = nb;
}

static void block_insert_after(struct block *at, struct block *nb)
{
	nb->prev = at;
	nb->next = at->next;
	if (at->next != NULL)
		at->next->prev = nb;
	at->next = nb;
}

static void block_unlink(struct seg *seg, struct block *b)
{
	if (b->prev != NULL)
		b->prev->next = b->next;
	else
		seg->blocks = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
	free(b);
}

/* Take [pad, pad+len) of the free block b for an allocation; what is left on
 * either side stays free.  Needs two spare block records, allocated by the
 * caller before it commits, so that carving cannot fail half way. */
static void carve(struct seg *seg, struct block *b, size_t pad, size_t len, struct block *spare[2])
{
	if (pad > 0) {
		struct block *pre = spare[0];

		spare[0] = NULL;
		pre->off = b->off;
		pre->len = pad;
		pre->free = true;
		block_insert_before(seg, b, pre);
		b->off += pad;
		b->len -= pad;
	}
	if (b->len > len) {
		struct block *post = spare[1];

		spare[1] = NULL;
		post->off = b->off + len;
		post->len = b->len - len;
		post->free = true;
		block_insert_after(b, post);
		b->len = len;
	}
	b->free = false;
}

/* First fit: the oldest segment first, then address order inside it, so
 * long-lived allocations pack the early segments. */
static void *fit(struct heap *h, size_t len, size_t align, struct block *spare[2])
{
	for (struct seg *seg = h->segs; seg != NULL; seg = seg->next) {
		uintptr_t base = (uintptr_t)seg->pub.va;

		for (struct block *b = seg->blocks; b != NULL; b = b->next) {
			uintptr_t start = base + b->off;
			size_t pad = (size_t)(UDK_ALIGN_UP(start, (uintptr_t)align) - start);

			if (!b->free || b->len < len || pad > b->len - len)
				continue;
			carve(seg, b, pad, len, spare);
			h->bytes_in_use += len;
			return (void *)(base + b->off);
		}
	}
	return NULL;
}

static int limit_reached(const char *where, uint64_t limit, uint64_t used, uint64_t more)
{
	char l[32], u[32], m[32];

	mem_fmt_size(l, sizeof(l), limit);
	mem_fmt_size(u, sizeof(u), used);
	mem_fmt_size(m, sizeof(m), more);
	udk_log(UDK_LOG_ERR, "mem", "-m limit of %s%s reached: %s in use, %s more needed; raise -m",
		l, where, u, m);
	return -UDK_EMEMLIMIT;
}

/* Add a segment able to hold len bytes at align to heap h.  Called with h's
 * lock held; takes the memory's lock for the limits, the events and the
 * segment table. */
static int grow(struct udk_mem *mem, struct heap *h, size_t len, size_t align)
{
	const struct udk_mem_opts *o = &mem->opts;
	uint64_t need = len, seglen;
	struct seg *seg, **tail;
	char where[32];
	int ret;

	/* A segment starts page aligned; a larger alignment may cost up to
	 * align - page_size bytes of padding. */
	if (align > o->page_size)
		need += align - o->page_size;
	seglen = need <= o->segment_size ? o->segment_size : UDK_ALIGN_UP(need, o->page_size);

	pthread_mutex_lock(&mem->lock);
	if (o->socket_limit[h->node] != 0 && h->bytes_reserved + seglen > o->socket_limit[h->node]) {
		snprintf(where, sizeof(where), " on node %d", h->node);
		ret = limit_reached(where, o->socket_limit[h->node], h->bytes_reserved, seglen);
		goto out;
	}
	if (o->total_limit != 0 && mem->total_reserved + seglen > o->total_limit) {
		ret = limit_reached("", o->total_limit, mem->total_reserved, seglen);
		goto out;
	}
	ret = seg_create(mem, h->node, seglen, &seg);
	if (ret < 0)
		goto out;
	seg->heap = h;
	/* The callbacks (the default map) learn of the segment before any of
	 * it is handed out, so every pointer we return already has an IOVA. */
	ret = mem_seg_announce(mem, seg);
	if (ret < 0) {
		seg_release(seg);
		goto out;
	}
	for (tail = &h->segs; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = seg;
	h->bytes_reserved += seg->pub.len; /* a source may give more than asked */
out:
	pthread_mutex_unlock(&mem->lock);
	return ret;
}

static int resolve_node(struct udk_mem *mem, int socket, int *node)
{
	int n = mem_node_count(), cpu;

	(void)mem;
	if (socket == UDK_SOCKET_ANY) {
		cpu = sched_getcpu();
		*node = (numa_available() < 0 || cpu < 0) ? 0 : numa_node_of_cpu(cpu);
		if (*node < 0 || *node >= n)
			*node = 0;
		return 0;
	}
	if (socket < 0 || socket >= n) {
		udk_log(UDK_LOG_ERR, "mem", "NUMA node %d does not exist (nodes 0-%d)", socket,
			n - 1);
		return -EINVAL;
	}
	*node = socket;
	return 0;
}

void *udk_mem_zmalloc(struct udk_mem *mem, size_t size, size_t align, int socket)
{
	struct block *spare[2] = { NULL, NULL };
	struct heap *h;
	size_t len;
	void *p = NULL;
	int node, ret;

	if (mem != NULL && mem->provider != NULL)
		return ext_zmalloc(mem, size, align, socket);
	if (mem == NULL || size == 0 || size > SIZE_MAX / 2) {
		udk_log(UDK_LOG_ERR, "mem", "zmalloc of %zu bytes: %s", size,
			mem == NULL ? "no memory object (udk_eal_init() not called?)" : "bad size");
		ret = -EINVAL;
		goto fail;
	}
	if (align == 0)
		align = MEM_DEFAULT_ALIGN;
	if (!UDK_IS_POW2(align) || align > SIZE_MAX / 4) {
		udk_log(UDK_LOG_ERR, "mem", "zmalloc: alignment %zu is not a power of two", align);
		ret = -EINVAL;
		goto fail;
	}
	if (align < MEM_GRAIN)
		align = MEM_GRAIN;
	ret = resolve_node(mem, socket, &node);
	if (ret < 0)
		goto fail;
	len = UDK_ALIGN_UP(size, (size_t)MEM_GRAIN);

	spare[0] = calloc(1, sizeof(struct block));
	spare[1] = calloc(1, sizeof(struct block));
	if (spare[0] == NULL || spare[1] == NULL) {
		udk_log(UDK_LOG_ERR, "mem", "out of memory for heap metadata");
		ret = -ENOMEM;
		goto fail;
	}

	h = &mem->heaps[node];
	pthread_mutex_lock(&h->lock);
	p = fit(h, len, align, spare);
	if (p == NULL) {
		ret = grow(mem, h, len, align);
		if (ret == 0)
			p = fit(h, len, align, spare);
	}
	pthread_mutex_unlock(&h->lock);
	if (p == NULL)
		goto fail;
	free(spare[0]);
	free(spare[1]);
	/* Outside the lock: the block is ours now. */
	memset(p, 0, size);
	return p;

fail:
	free(spare[0]);
	free(spare[1]);
	/* The pointer interface has no code to return; leave it in errno. */
	errno = ret < 0 ? -ret : ENOMEM;
	return NULL;
}

void udk_mem_free(struct udk_mem *mem, void *ptr)
{
	struct seg *seg;
	struct heap *h;
	struct block *b;
	size_t off;

	if (ptr == NULL)
		return;
	if (mem != NULL && mem->provider != NULL) {
		mem->provider->free(mem->provider->arg, ptr);
		return;
	}
	seg = mem != NULL ? mem_seg_lookup(mem, ptr) : NULL;
	if (seg == NULL) {
		udk_log(UDK_LOG_ERR, "mem", "free(%p): not memory from this heap; ignored", ptr);
		return;
	}
	/* Segments leave only at udk_mem_destroy(), so seg stays valid. */
	h = seg->heap;
	off = (size_t)((uintptr_t)ptr - (uintptr_t)seg->pub.va);
	pthread_mutex_lock(&h->lock);
	for (b = seg->blocks; b != NULL; b = b->next)
		if (off >= b->off && off < b->off + b->len)
			break;
	if (b == NULL || b->off != off || b->free) {
		udk_log(UDK_LOG_ERR, "mem", "free(%p): %s; ignored", ptr,
			b == NULL ? "not an allocation"
			: b->free ? "double free (the block is already free)"
			: "points inside an allocation, not at its start");
		pthread_mutex_unlock(&h->lock);
		return;
	}
	b->free = true;
	h->bytes_in_use -= b->len;
	if (b->next != NULL && b->next->free) {
		b->len += b->next->len;
		block_unlink(seg, b->next);
	}
	if (b->prev != NULL && b->prev->free) {
		b->prev->len += b->len;
		block_unlink(seg, b);
	}
	pthread_mutex_unlock(&h->lock);
}
