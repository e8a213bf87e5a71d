/* SPDX-License-Identifier: BSD-3-Clause */
/* mem_internal.h - what the files of lib/mem share: the memory object, its
 * per-node heaps, segments and blocks.  Not installed; users see udk_mem.h.
 */
#ifndef UDK_MEM_INTERNAL_H
#define UDK_MEM_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "udk_iova.h"
#include "udk_mem.h"

#define MEM_MAX_CALLBACKS 8
#define MEM_DEFAULT_ALIGN 64
/* Every block length is a multiple of this, so blocks stay 64-byte aligned. */
#define MEM_GRAIN 64

struct heap;
struct seg;

/* A run of bytes inside one segment, either handed out or free.  Blocks are
 * kept out of the segment (not as headers inside it) so that a stray write
 * into DMA memory cannot corrupt the allocator, and so that a bad free can be
 * told from a good one by lookup rather than by trusting the pointer. */
struct block {
	struct block *prev, *next; /* address order within the segment */
	size_t off, len;
	bool free;
};

struct seg {
	struct udk_memseg pub; /* first: udk_mem_find() returns &pub */
	struct heap *heap;
	struct block *blocks;  /* address-ordered, covering [0, pub.len) */
	struct seg *next;      /* the heap's segments, oldest first */
};

struct heap {
	pthread_mutex_t lock; /* the allocator of this node; control path only */
	int node;
	struct seg *segs;
	uint64_t bytes_reserved;
	uint64_t bytes_in_use;
};

struct mem_cb {
	udk_mem_event_fn fn;
	void *arg;
};

struct udk_mem {
	struct udk_mem_opts opts; /* page_size and segment_size resolved */
	char huge_dir[256];       /* hugetlbfs mount used for segments ("" with no_huge) */

	/* Lock order: a heap's lock, then this one.  It guards the segment
	 * table, the callbacks and the totals, and is held across a growth so
	 * that a callback registered concurrently sees every segment once. */
	pthread_mutex_t lock;
	struct seg **table; /* every segment of every heap, sorted by va */
	size_t nb_segs, cap_segs;
	struct mem_cb cbs[MEM_MAX_CALLBACKS];
	size_t nb_cbs;
	uint64_t total_reserved;

	/* Lock-free translation of every segment that has an IOVA, for
	 * udk_virt2iova(); then the table of memory registered elsewhere (the
	 * default map's), set by the EAL. */
	struct udk_iova_xlate *xlate;
	_Atomic(const struct udk_iova_xlate *) xlate_fallback;

	struct heap heaps[UDK_MAX_NUMA_NODES];

	/* External object (external.c): zmalloc/free go here; NULL for
	 * udk's own heaps. */
	const struct udk_mem_provider *provider;
	struct udk_mem_provider provider_copy;
};

/* segment.c: hugetlbfs/memfd backing. */
int seg_check_opts(struct udk_mem *mem);
int seg_create(struct udk_mem *mem, int node, size_t len, struct seg **out);
void seg_release(struct seg *seg);
void mem_fmt_size(char *buf, size_t len, uint64_t bytes);
int mem_node_count(void);

/* mem.c: the segment table and events, called by heap.c during growth. */
int mem_seg_announce(struct udk_mem *mem, struct seg *seg);
void mem_seg_forget(struct udk_mem *mem, struct seg *seg);
struct seg *mem_seg_lookup(struct udk_mem *mem, const void *va);

/* mem.c */
void mem_send_free(struct udk_mem *mem, struct seg *seg, size_t n);
void mem_init_common(struct udk_mem *mem);

/* external.c */
void ext_destroy_segs(struct udk_mem *mem);
void *ext_zmalloc(struct udk_mem *mem, size_t size, size_t align, int socket);

/* heap.c */
void heap_init(struct heap *h, int node);
void heap_fini(struct heap *h);

#endif
