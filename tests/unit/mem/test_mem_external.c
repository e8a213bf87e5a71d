/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for lib/mem's external memory object (external.c), the hook
 * lib/dpdk uses to run udk on DPDK's heap: allocations go to the provider,
 * segments come and go as the provider says, with events and lock-free
 * translation as for udk's own heap; and the refusals. */
#include "../common/unit.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "udk_mem.h"
#include "udk_util.h"

#define PAGE (2u * 1024 * 1024)
#define NPAGES 4

/* A toy provider: NPAGES pages reserved at once, each page added to the
 * memory object (as DPDK's memory event would) the first time an
 * allocation needs it; one allocation per page. */
struct toy {
	struct udk_mem *mem;
	uint8_t *base;
	bool used[NPAGES], added[NPAGES];
	unsigned int allocs, frees;
};

static void *toy_zmalloc(void *arg, size_t size, size_t align, int socket)
{
	struct toy *t = arg;

	(void)socket;
	if (size > PAGE || align > PAGE) {
		errno = ENOMEM;
		return NULL;
	}
	for (int i = 0; i < NPAGES; i++) {
		if (t->used[i])
			continue;
		if (!t->added[i] && udk_mem_seg_add(t->mem, t->base + (size_t)i * PAGE, PAGE, PAGE, -1,
						     0, 0) < 0)
			return NULL;
		t->added[i] = t->used[i] = true;
		t->allocs++;
		memset(t->base + (size_t)i * PAGE, 0, size);
		return t->base + (size_t)i * PAGE;
	}
	errno = ENOMEM;
	return NULL;
}

static void toy_free(void *arg, void *ptr)
{
	struct toy *t = arg;
	size_t i = (size_t)((uint8_t *)ptr - t->base) / PAGE;

	t->used[i] = false;
	t->frees++;
}

/* The map stand-in: IOVA = 1 GiB + offset in the toy's reservation. */
static int events[2];
static int cb(enum udk_mem_event ev, struct udk_memseg *seg, void *arg)
{
	struct toy *t = arg;

	events[ev]++;
	if (ev == UDK_MEM_EVENT_ALLOC)
		seg->iova = (1ull << 30) + (uint64_t)((uint8_t *)seg->va - t->base);
	return 0;
}

static void setup(struct toy *t)
{
	struct udk_mem_provider p = {toy_zmalloc, toy_free, t};

	memset(t, 0, sizeof(*t));
	memset(events, 0, sizeof(events));
	t->base = mmap(NULL, (size_t)NPAGES * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_FATAL(t->base != MAP_FAILED);
	CU_ASSERT_EQUAL_FATAL(udk_mem_create_external(&p, &t->mem), 0);
	CU_ASSERT_EQUAL(udk_mem_event_register(t->mem, cb, t), 0);
}

static void teardown(struct toy *t)
{
	udk_mem_destroy(t->mem);
	munmap(t->base, (size_t)NPAGES * PAGE);
}

static void test_alloc_goes_to_provider(void)
{
	struct toy t;
	struct udk_mem_stats st;
	uint8_t *a, *b;

	setup(&t);
	a = udk_mem_zmalloc(t.mem, 1000, 0, UDK_SOCKET_ANY);
	b = udk_mem_zmalloc(t.mem, 5000, 4096, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(t.allocs, 2);
	CU_ASSERT_EQUAL(events[UDK_MEM_EVENT_ALLOC], 2);
	/* Translation and lookup, as for udk's own heap. */
	CU_ASSERT_EQUAL(udk_mem_virt2iova(t.mem, a + 100), (1ull << 30) + 100);
	CU_ASSERT_EQUAL(udk_mem_virt2iova(t.mem, b), (1ull << 30) + PAGE);
	CU_ASSERT_PTR_NOT_NULL(udk_mem_find(t.mem, b + 7));
	CU_ASSERT_EQUAL(udk_mem_find(t.mem, b)->iova, (1ull << 30) + PAGE);
	udk_mem_stats(t.mem, &st);
	CU_ASSERT_EQUAL(st.segments, 2);
	CU_ASSERT_EQUAL(st.bytes_reserved, 2ull * PAGE);
	udk_mem_free(t.mem, a);
	CU_ASSERT_EQUAL(t.frees, 1);
	/* The page stays (the provider did not remove it): reused, no event. */
	a = udk_mem_zmalloc(t.mem, 64, 0, 0);
	CU_ASSERT_EQUAL(events[UDK_MEM_EVENT_ALLOC], 2);
	udk_mem_free(t.mem, a);
	udk_mem_free(t.mem, b);
	/* Bad requests are refused before the provider sees them. */
	errno = 0;
	CU_ASSERT_PTR_NULL(udk_mem_zmalloc(t.mem, 64, 48, 0));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NULL(udk_mem_zmalloc(t.mem, 0, 0, 0));
	/* The provider's own failure comes back with its errno. */
	errno = 0;
	CU_ASSERT_PTR_NULL(udk_mem_zmalloc(t.mem, PAGE + 1, 0, 0));
	CU_ASSERT_EQUAL(errno, ENOMEM);
	teardown(&t);
}

static void test_segments_come_and_go(void)
{
	struct toy t;

	setup(&t);
	CU_ASSERT_EQUAL(udk_mem_seg_add(t.mem, t.base, PAGE, PAGE, -1, 0, 0), 0);
	CU_ASSERT_EQUAL(udk_mem_seg_add(t.mem, t.base + PAGE, PAGE, PAGE, -1, 0, 0), 0);
	CU_ASSERT_EQUAL(udk_mem_virt2iova(t.mem, t.base + PAGE + 5), (1ull << 30) + PAGE + 5);
	/* Overlap: refused, nothing sent. */
	CU_ASSERT_EQUAL(udk_mem_seg_add(t.mem, t.base + PAGE / 2, PAGE, PAGE, -1, 0, 0),
			-UDK_EOVERLAP);
	CU_ASSERT(strstr(udk_last_error(), "overlaps") != NULL);
	CU_ASSERT_EQUAL(events[UDK_MEM_EVENT_ALLOC], 2);
	/* Remove exactly one segment: FREE is sent and translation stops. */
	CU_ASSERT_EQUAL(udk_mem_seg_remove(t.mem, t.base, PAGE), 0);
	CU_ASSERT_EQUAL(events[UDK_MEM_EVENT_FREE], 1);
	CU_ASSERT_EQUAL(udk_mem_virt2iova(t.mem, t.base + 5), UDK_IOVA_BAD);
	CU_ASSERT_PTR_NULL(udk_mem_find(t.mem, t.base));
	CU_ASSERT_EQUAL(udk_mem_virt2iova(t.mem, t.base + PAGE), (1ull << 30) + PAGE);
	/* Not a segment (or not exactly one): refused by name. */
	CU_ASSERT_EQUAL(udk_mem_seg_remove(t.mem, t.base, PAGE), -ENOENT);
	CU_ASSERT(strstr(udk_last_error(), "no such segment") != NULL);
	CU_ASSERT_EQUAL(udk_mem_seg_remove(t.mem, t.base + PAGE, PAGE / 2), -ENOENT);
	/* The page can come back. */
	CU_ASSERT_EQUAL(udk_mem_seg_add(t.mem, t.base, PAGE, PAGE, -1, 0, 0), 0);
	CU_ASSERT_EQUAL(udk_mem_virt2iova(t.mem, t.base), 1ull << 30);
	/* Destroy sends FREE for what is left. */
	udk_mem_destroy(t.mem);
	CU_ASSERT_EQUAL(events[UDK_MEM_EVENT_FREE], 3);
	munmap(t.base, (size_t)NPAGES * PAGE);
}

static void test_refusals(void)
{
	struct udk_mem_provider none = {NULL, NULL, NULL};
	struct udk_mem_opts o;
	struct udk_mem *mem = NULL;
	char buf[4096];

	CU_ASSERT_EQUAL(udk_mem_create_external(&none, &mem), -EINVAL);
	CU_ASSERT(strstr(udk_last_error(), "needs zmalloc and free") != NULL);
	CU_ASSERT_EQUAL(udk_mem_create_external(NULL, &mem), -EINVAL);
	/* udk's own heap takes no outside segments. */
	udk_mem_opts_init(&o, sizeof(o));
	o.no_huge = true;
	CU_ASSERT_EQUAL_FATAL(udk_mem_create(&o, &mem), 0);
	CU_ASSERT_EQUAL(udk_mem_seg_add(mem, buf, sizeof(buf), 4096, -1, 0, 0), -EINVAL);
	CU_ASSERT_EQUAL(udk_mem_seg_remove(mem, buf, sizeof(buf)), -EINVAL);
	udk_mem_destroy(mem);
}

int main(void)
{
	static const struct unit_test t[] = {
		{"allocations go to the provider, translation works", test_alloc_goes_to_provider},
		{"segments added and removed, with events", test_segments_come_and_go},
		{"refusals", test_refusals},
	};

	unit_quiet_logs();
	return unit_run("mem-external", t, UDK_ARRAY_SIZE(t));
}
