/* SPDX-License-Identifier: BSD-3-Clause */
/* udk_mem.h - DMA-able memory: hugepage segments from hugetlbfs (through
 * libhugetlbfs), one heap per NUMA node (libnuma), and the memory events that
 * let a map follow the heap as it grows.
 *
 * Every segment is backed by a file descriptor (a hugetlbfs file, or a memfd
 * with --no-huge) so it can be shared with a vhost-user peer or a broker
 * client.  A segment is contiguous in virtual address space and, once mapped,
 * in IOVA space.
 */
#ifndef UDK_MEM_H
#define UDK_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "udk_iova.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UDK_MAX_NUMA_NODES 8
#define UDK_SOCKET_ANY (-1)

/* One segment of a heap.  Read-only for everyone but lib/mem, except iova,
 * which the UDK_MEM_EVENT_ALLOC callback sets (see below). */
struct udk_memseg {
	void *va;
	size_t len;
	size_t page_size; /* hugepage size, or the system page size with --no-huge */
	int fd;           /* hugetlbfs file or memfd; owned by lib/mem */
	off_t fd_offset;
	int socket;       /* NUMA node the pages sit on */
	uint64_t iova;    /* in the process's default map; UDK_IOVA_BAD until mapped */
};

/* A segment somebody else made and mapped (udk-broker, through lib/eal's
 * --broker client): lib/mem mmaps fd (ownership passes to lib/mem) and the
 * segment comes with its IOVA already set. */
struct udk_mem_given {
	int fd;
	size_t len;
	size_t page_size;
	int socket;
	uint64_t iova;
};

/* Where segments come from instead of hugetlbfs/memfd.  take() gives a
 * segment of at least len bytes for node, or returns a negative code after
 * logging why (the allocation that needed it fails with that code).  Called
 * with the heap's lock held, on the thread that grows the heap. */
struct udk_mem_source {
	int (*take)(void *arg, int node, size_t len, struct udk_mem_given *out);
	void *arg;
};

struct udk_mem_opts {
	size_t opts_size;          /* sizeof(struct udk_mem_opts), set by udk_mem_opts_init() */
	const char *huge_dir;      /* hugetlbfs mount to use; NULL: libhugetlbfs's default */
	bool no_huge;              /* plain memfd memory instead of hugepages */
	uint64_t page_size;        /* hugepage size; 0: the default hugepage size */
	uint64_t segment_size;     /* bytes per heap growth step; 0: max(page size, 2 MiB) */
	uint64_t socket_limit[UDK_MAX_NUMA_NODES]; /* bytes per node; 0: no limit */
	uint64_t total_limit;      /* bytes over all nodes (-m without a list); 0: no limit */
	const struct udk_mem_source *source; /* NULL: hugetlbfs (or memfd with no_huge) */
};

void udk_mem_opts_init(struct udk_mem_opts *opts, size_t size);

struct udk_mem;

/* Check that the memory the options ask for can be had (hugetlbfs mounted,
 * page size offered); allocates nothing yet.  -UDK_ENOHUGE with a message
 * saying what to reserve or mount. */
int udk_mem_create(const struct udk_mem_opts *opts, struct udk_mem **out);

/* Frees every segment (UDK_MEM_EVENT_FREE is sent for each first). */
void udk_mem_destroy(struct udk_mem *mem);

enum udk_mem_event {
	UDK_MEM_EVENT_ALLOC, /* a new segment joined the heap; may set seg->iova */
	UDK_MEM_EVENT_FREE,  /* a segment is about to leave the heap */
};

/* Called on the thread that grows or shrinks the heap, with the heap's lock
 * held: the callback must not allocate from this heap.  A non-zero return
 * from an ALLOC callback fails the growth (the segment is released and the
 * allocation that needed it fails with that code). */
typedef int (*udk_mem_event_fn)(enum udk_mem_event ev, struct udk_memseg *seg, void *arg);

/* Register a callback; it is first called with ALLOC for every existing
 * segment.  Up to 8 callbacks. */
int udk_mem_event_register(struct udk_mem *mem, udk_mem_event_fn fn, void *arg);
int udk_mem_event_unregister(struct udk_mem *mem, udk_mem_event_fn fn, void *arg);

/* Allocate size bytes, zeroed, aligned to align (power of two, 0 = 64), on
 * NUMA node socket (UDK_SOCKET_ANY: the caller's node).  Grows the heap when
 * needed, up to the limits.  Thread-safe; not for the fast path.  On failure
 * returns NULL, logs one line, and sets errno to the positive code: ENOMEM,
 * EINVAL, UDK_EMEMLIMIT, UDK_ENOHUGE or an event callback's code. */
void *udk_mem_zmalloc(struct udk_mem *mem, size_t size, size_t align, int socket);
void udk_mem_free(struct udk_mem *mem, void *ptr);

/* Segment holding va, or NULL.  Control path: it takes the memory's lock
 * (translation on the fast path is udk_mem_virt2iova()). */
const struct udk_memseg *udk_mem_find(struct udk_mem *mem, const void *va);

/* The IOVA of ptr: heap memory whose segment has an IOVA (set by an ALLOC
 * callback), else memory found in the fallback table (below), else
 * UDK_IOVA_BAD.  Lock-free and O(1) (a radix-table lookup, udk_iova.h): any
 * thread, any time, also while the heap grows.  A segment's translation is
 * published after its ALLOC callbacks and withdrawn before its FREE ones. */
uint64_t udk_mem_virt2iova(struct udk_mem *mem, const void *ptr);

/* A second table udk_mem_virt2iova() consults for memory that is not the
 * heap's: the EAL passes the default map's (udk_dmamap_xlate()), so buffers
 * registered with udk_dma_register() translate too.  NULL removes it.  The
 * table must outlive its use here.  Thread-safe. */
void udk_mem_set_xlate_fallback(struct udk_mem *mem, const struct udk_iova_xlate *x);

/* Call fn for each segment, in address order, until it returns non-zero. */
int udk_mem_walk(struct udk_mem *mem, int (*fn)(const struct udk_memseg *seg, void *arg), void *arg);

struct udk_mem_stats {
	uint64_t segments;
	uint64_t bytes_reserved; /* in segments */
	uint64_t bytes_in_use;   /* handed out by zmalloc */
};
void udk_mem_stats(struct udk_mem *mem, struct udk_mem_stats *st);

/* ---- memory another allocator owns (udk inside a DPDK application) ----
 *
 * An external memory object has no heaps of its own: zmalloc and free go to
 * the provider, and its segments are what the provider says it has, added
 * and removed one by one as that allocator grows and shrinks.  Everything
 * else (events, so a map follows it; udk_mem_find(); lock-free
 * udk_mem_virt2iova()) works as for udk's own heap.  lib/dpdk is the user. */
struct udk_mem_provider {
	/* size bytes, zeroed, aligned to align (a power of two), on socket
	 * (UDK_SOCKET_ANY: any); NULL with errno set on failure.  Memory the
	 * allocation needed must have been added (udk_mem_seg_add()) before
	 * it returns. */
	void *(*zmalloc)(void *arg, size_t size, size_t align, int socket);
	void (*free)(void *arg, void *ptr);
	void *arg;
};

/* Create an external memory object over provider p (copied).  0, -EINVAL,
 * -ENOMEM. */
int udk_mem_create_external(const struct udk_mem_provider *p, struct udk_mem **out);

/* Add [va, va+len) as one segment (page_size: its page size; fd: a file
 * that backs it, or -1; not owned) and send UDK_MEM_EVENT_ALLOC.  0,
 * -UDK_EOVERLAP (part of it is a segment already), -EINVAL (not an external
 * object), or a callback's refusal (the segment is not added).  Thread-safe. */
int udk_mem_seg_add(struct udk_mem *mem, void *va, size_t len, size_t page_size, int fd,
		    off_t fd_offset, int socket);

/* Send UDK_MEM_EVENT_FREE for the segment that is exactly [va, va+len) and
 * forget it.  0, -ENOENT (no such segment), -EINVAL.  Thread-safe. */
int udk_mem_seg_remove(struct udk_mem *mem, void *va, size_t len);

/* The process's memory (set by udk_eal_init()); the calls below use it. */
void udk_mem_set_default(struct udk_mem *mem);
struct udk_mem *udk_mem_default(void);

/* udk_mem_zmalloc()/free() on the default memory (udk_mem_default()): what
 * a program with one map uses.  A driver allocates from its device's map's
 * memory instead (udk_eal_device_mem_get()). */
void *udk_mem_default_zmalloc(size_t size, size_t align, int socket);
void udk_mem_default_free(void *ptr);
/* udk_mem_virt2iova() on the default memory: the IOVA of ptr in the default
 * map (heap or registered memory), or UDK_IOVA_BAD if ptr is neither.
 * Lock-free, O(1), any thread.  Which translation call is for what:
 * doc/iova.md, "Translation". */
uint64_t udk_virt2iova(const void *ptr);

/* Deprecated, to be removed in the release after 0.1: the names these calls
 * had, in lib/dma's udk_dma_ prefix although they are lib/mem's, and the
 * second name of lib/iova's "no IOVA" (a warning at each use). */
#define UDK_BAD_IOVA                                                                      \
	_Pragma("GCC warning \"UDK_BAD_IOVA is deprecated: use UDK_IOVA_BAD\"") UDK_IOVA_BAD
__attribute__((deprecated("udk_dma_zmalloc() is now udk_mem_default_zmalloc()")))
static inline void *udk_dma_zmalloc(size_t size, size_t align, int socket)
{
	return udk_mem_default_zmalloc(size, align, socket);
}
__attribute__((deprecated("udk_dma_free() is now udk_mem_default_free()")))
static inline void udk_dma_free(void *ptr)
{
	udk_mem_default_free(ptr);
}

#ifdef __cplusplus
}
#endif
#endif
