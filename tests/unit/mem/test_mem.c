/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for lib/mem: the heap allocator on memfd memory (no_huge):
 * alignment, zeroing, coalescing, growth events, limits, bad frees, lookup,
 * stats; and the messages of the hugepage path when hugepages are missing. */
#include "../common/unit.h"
#include <errno.h>
#include <hugetlbfs.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "udk_mem.h"
#include "udk_util.h"

#define MIB (1024u * 1024u)

static struct udk_mem *make(uint64_t seg, uint64_t total, uint64_t node0)
{
	struct udk_mem_opts o;
	struct udk_mem *mem = NULL;

	udk_mem_opts_init(&o, sizeof(o));
	o.no_huge = true;
	o.segment_size = seg;
	o.total_limit = total;
	o.socket_limit[0] = node0;
	CU_ASSERT_EQUAL(udk_mem_create(&o, &mem), 0);
	return mem;
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		if (c[i] != 0)
			return false;
	return true;
}

static void test_align_and_zero(void)
{
	struct udk_mem *mem = make(0, 0, 0);
	size_t aligns[] = { 0, 1, 8, 64, 128, 4096, 65536, 1 << 20 };
	void *p[UDK_ARRAY_SIZE(aligns)];

	CU_ASSERT_PTR_NOT_NULL_FATAL(mem);
	for (size_t i = 0; i < UDK_ARRAY_SIZE(aligns); i++) {
		size_t a = aligns[i] < 64 ? 64 : aligns[i];

		p[i] = udk_mem_zmalloc(mem, 100 + i * 37, aligns[i], 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
		CU_ASSERT_EQUAL((uintptr_t)p[i] % a, 0);
		CU_ASSERT(all_zero(p[i], 100 + i * 37));
		memset(p[i], 0xa5, 100 + i * 37);
	}
	/* Reused memory comes back zeroed too. */
	for (size_t i = 0; i < UDK_ARRAY_SIZE(aligns); i++)
		udk_mem_free(mem, p[i]);
	for (size_t i = 0; i < UDK_ARRAY_SIZE(aligns); i++) {
		p[i] = udk_mem_zmalloc(mem, 100 + i * 37, aligns[i], UDK_SOCKET_ANY);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
		CU_ASSERT(all_zero(p[i], 100 + i * 37));
	}
	for (size_t i = 0; i < UDK_ARRAY_SIZE(aligns); i++)
		udk_mem_free(mem, p[i]);

	errno = 0;
	CU_ASSERT_PTR_NULL(udk_mem_zmalloc(mem, 64, 48, 0));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT(strstr(udk_last_error(), "not a power of two") != NULL);
	CU_ASSERT_PTR_NULL(udk_mem_zmalloc(mem, 0, 0, 0));
	CU_ASSERT_PTR_NULL(udk_mem_zmalloc(mem, 64, 0, UDK_MAX_NUMA_NODES + 3));
	CU_ASSERT(strstr(udk_last_error(), "does not exist") != NULL);
	udk_mem_destroy(mem);
}

static void test_free_coalesce(void)
{
	struct udk_mem *mem = make(2 * MIB, 0, 0);
	struct udk_mem_stats st;
	void *a, *b, *c, *big;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mem);
	a = udk_mem_zmalloc(mem, MIB / 2, 0, 0);
	b = udk_mem_zmalloc(mem, MIB / 2, 0, 0);
	c = udk_mem_zmalloc(mem, MIB / 2, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT(udk_mem_find(mem, a) == udk_mem_find(mem, c));
	udk_mem_stats(mem, &st);
	CU_ASSERT_EQUAL(st.segments, 1);
	CU_ASSERT_EQUAL(st.bytes_reserved, 2 * MIB);
	CU_ASSERT_EQUAL(st.bytes_in_use, 3 * MIB / 2);

	/* Free the middle, then its neighbours: the whole segment must be one
	 * free block again, so a full-segment allocation fits without growth. */
	udk_mem_free(mem, b);
	udk_mem_free(mem, a);
	udk_mem_free(mem, c);
	udk_mem_stats(mem, &st);
	CU_ASSERT_EQUAL(st.bytes_in_use, 0);
	big = udk_mem_zmalloc(mem, 2 * MIB, 0, 0);
	CU_ASSERT_PTR_NOT_NULL(big);
	udk_mem_stats(mem, &st);
	CU_ASSERT_EQUAL(st.segments, 1);
	CU_ASSERT_EQUAL(big, a);
	udk_mem_free(mem, big);
	udk_mem_destroy(mem);
}

struct counter {
	int alloc, free;
	int fail_with;
	uint64_t next_iova;
};

static int count_cb(enum udk_mem_event ev, struct udk_memseg *seg, void *arg)
{
	struct counter *c = arg;

	if (ev == UDK_MEM_EVENT_ALLOC) {
		if (c->fail_with != 0)
			return c->fail_with;
		c->alloc++;
		seg->iova = c->next_iova;
		c->next_iova += 1ull << 30;
	} else {
		c->free++;
		seg->iova = UDK_IOVA_BAD;
	}
	return 0;
}

static int walk_cb(const struct udk_memseg *seg, void *arg)
{
	const void **last = arg;

	CU_ASSERT((uintptr_t)seg->va > (uintptr_t)*last);
	CU_ASSERT(seg->fd >= 0);
	CU_ASSERT_EQUAL(seg->page_size, (size_t)sysconf(_SC_PAGESIZE));
	*last = seg->va;
	return 0;
}

static void test_growth_events(void)
{
	struct udk_mem *mem = make(2 * MIB, 0, 0);
	struct counter c1 = { .next_iova = 1ull << 32 }, c2 = { .next_iova = 1ull << 40 };
	const struct udk_memseg *s1, *s2;
	const void *last = NULL;
	struct udk_mem_stats st;
	void *p, *q, *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mem);
	CU_ASSERT_EQUAL(udk_mem_event_register(mem, count_cb, &c1), 0);
	CU_ASSERT_EQUAL(udk_mem_event_register(mem, count_cb, &c1), -EEXIST);
	CU_ASSERT_EQUAL(c1.alloc, 0);
	p = udk_mem_zmalloc(mem, 64, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(c1.alloc, 1);
	s1 = udk_mem_find(mem, p);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s1);
	CU_ASSERT_EQUAL(s1->iova, 1ull << 32);

	/* Does not fit in what is left of the first segment: a second one. */
	q = udk_mem_zmalloc(mem, 2 * MIB, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_EQUAL(c1.alloc, 2);
	s2 = udk_mem_find(mem, q);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s2);
	CU_ASSERT(s1 != s2);
	CU_ASSERT_EQUAL(s2->iova, (1ull << 32) + (1ull << 30));

	/* Bigger than a segment: a segment of its own, rounded to the page. */
	r = udk_mem_zmalloc(mem, 5 * MIB + 1, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(c1.alloc, 3);
	CU_ASSERT_EQUAL(udk_mem_find(mem, r)->len,
			UDK_ALIGN_UP(5 * MIB + 64, (size_t)sysconf(_SC_PAGESIZE)));

	/* A late callback is told of every existing segment first. */
	CU_ASSERT_EQUAL(udk_mem_event_register(mem, count_cb, &c2), 0);
	CU_ASSERT_EQUAL(c2.alloc, 3);

	/* virt2iova goes through the default memory. */
	CU_ASSERT_EQUAL(udk_virt2iova(p), UDK_IOVA_BAD);
	udk_mem_set_default(mem);
	CU_ASSERT_EQUAL(udk_virt2iova((char *)q + 100), udk_mem_find(mem, q)->iova + 100);
	CU_ASSERT_EQUAL(udk_virt2iova(&c1), UDK_IOVA_BAD);

	udk_mem_stats(mem, &st);
	CU_ASSERT_EQUAL(st.segments, 3);
	CU_ASSERT_EQUAL(udk_mem_walk(mem, walk_cb, &last), 0);
	CU_ASSERT_PTR_NULL(udk_mem_find(mem, &st));

	CU_ASSERT_EQUAL(udk_mem_event_unregister(mem, count_cb, &c2), 0);
	CU_ASSERT_EQUAL(udk_mem_event_unregister(mem, count_cb, &c2), -ENOENT);
	udk_mem_destroy(mem);
	CU_ASSERT_PTR_NULL(udk_mem_default());
	CU_ASSERT_EQUAL(c1.free, 3);
	CU_ASSERT_EQUAL(c2.free, 0);
}

static void test_callback_failure(void)
{
	struct udk_mem *mem = make(2 * MIB, 0, 0);
	struct counter ok = { 0 }, bad = { .fail_with = -EIO };
	struct udk_mem_stats st;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mem);
	CU_ASSERT_EQUAL(udk_mem_event_register(mem, count_cb, &ok), 0);
	CU_ASSERT_EQUAL(udk_mem_event_register(mem, count_cb, &bad), 0);
	errno = 0;
	CU_ASSERT_PTR_NULL(udk_mem_zmalloc(mem, 64, 0, 0));
	CU_ASSERT_EQUAL(errno, EIO);
	/* The callback that accepted was told the segment left again. */
	CU_ASSERT_EQUAL(ok.alloc, 1);
	CU_ASSERT_EQUAL(ok.free, 1);
	udk_mem_stats(mem, &st);
	CU_ASSERT_EQUAL(st.segments, 0);
	CU_ASSERT_EQUAL(st.bytes_reserved, 0);

	/* A callback that refuses on replay is not registered. */
	bad.fail_with = 0;
	CU_ASSERT_PTR_NOT_NULL(udk_mem_zmalloc(mem, 64, 0, 0));
	{
		struct counter late = { .fail_with = -ENOSPC };

		CU_ASSERT_EQUAL(udk_mem_event_register(mem, count_cb, &late), -ENOSPC);
		CU_ASSERT_EQUAL(udk_mem_event_unregister(mem, count_cb, &late), -ENOENT);
	}
	udk_mem_destroy(mem);
}

static void test_limits(void)
{
	struct udk_mem *mem = make(2 * MIB, 4 * MIB, 0);
	void *a, *b;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mem);
	a = udk_mem_zmalloc(mem, MIB + MIB / 2, 0, 0);
	b = udk_mem_zmalloc(mem, MIB + MIB / 2, 0, 0);
	CU_ASSERT_PTR_NOT_NULL(a);
	CU_ASSERT_PTR_NOT_NULL(b);
	udk_last_error_clear();
	errno = 0;
	CU_ASSERT_PTR_NULL(udk_mem_zmalloc(mem, MIB + MIB / 2, 0, 0));
	CU_ASSERT_EQUAL(errno, UDK_EMEMLIMIT);
	CU_ASSERT_STRING_EQUAL(udk_last_error(),
		"mem: -m limit of 4 MiB reached: 4 MiB in use, 2 MiB more needed; raise -m");
	/* What is left in the segments is still usable. */
	CU_ASSERT_PTR_NOT_NULL(udk_mem_zmalloc(mem, MIB / 4, 0, 0));
	udk_mem_destroy(mem);

	mem = make(2 * MIB, 0, 2 * MIB);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mem);
	CU_ASSERT_PTR_NOT_NULL(udk_mem_zmalloc(mem, MIB, 0, 0));
	CU_ASSERT_PTR_NULL(udk_mem_zmalloc(mem, 3 * MIB, 0, 0));
	CU_ASSERT_STRING_EQUAL(udk_last_error(),
		"mem: -m limit of 2 MiB on node 0 reached: 2 MiB in use, 3 MiB more needed; raise -m");
	udk_mem_destroy(mem);
}

static void test_bad_free(void)
{
	struct udk_mem *mem = make(0, 0, 0);
	struct udk_mem_stats st;
	int local;
	char *p;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mem);
	udk_mem_free(mem, NULL);
	udk_mem_free(mem, &local);
	CU_ASSERT(strstr(udk_last_error(), "not memory from this heap") != NULL);
	p = udk_mem_zmalloc(mem, 1000, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	udk_mem_free(mem, p + 64);
	CU_ASSERT(strstr(udk_last_error(), "inside an allocation") != NULL);
	udk_mem_stats(mem, &st);
	CU_ASSERT_EQUAL(st.bytes_in_use, 1024);
	udk_mem_free(mem, p);
	udk_last_error_clear();
	udk_mem_free(mem, p);
	CU_ASSERT(strstr(udk_last_error(), "double free") != NULL);
	udk_mem_stats(mem, &st);
	CU_ASSERT_EQUAL(st.bytes_in_use, 0);
	/* Without default memory the shortcuts fail softly. */
	udk_mem_set_default(NULL);
	udk_mem_default_free(&local);
	CU_ASSERT_PTR_NULL(udk_mem_default_zmalloc(64, 0, 0));
	udk_mem_destroy(mem);
}

static void *hammer(void *arg)
{
	struct udk_mem *mem = arg;
	void *p[64];

	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 64; i++) {
			p[i] = udk_mem_zmalloc(mem, 64 + (size_t)(i * 97), 0, 0);
			if (p[i] == NULL)
				return (void *)1;
		}
		for (int i = 0; i < 64; i++)
			udk_mem_free(mem, p[i]);
	}
	return NULL;
}

static void test_threads(void)
{
	struct udk_mem *mem = make(0, 0, 0);
	struct udk_mem_stats st;
	pthread_t t[4];
	void *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mem);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(pthread_create(&t[i], NULL, hammer, mem), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &r);
		CU_ASSERT_PTR_NULL(r);
	}
	udk_mem_stats(mem, &st);
	CU_ASSERT_EQUAL(st.bytes_in_use, 0);
	udk_mem_destroy(mem);
}

static void test_bad_opts(void)
{
	struct udk_mem_opts o;
	struct udk_mem *mem = NULL;

	memset(&o, 0, sizeof(o));
	CU_ASSERT_EQUAL(udk_mem_create(&o, &mem), -EINVAL);
	CU_ASSERT(strstr(udk_last_error(), "udk_mem_opts_init") != NULL);
	/* NULL options are the defaults: hugepages, which may be missing. */
	udk_mem_opts_init(&o, sizeof(o));
	o.no_huge = true;
	o.segment_size = 5000; /* rounded up to the page size */
	CU_ASSERT_EQUAL_FATAL(udk_mem_create(&o, &mem), 0);
	CU_ASSERT_PTR_NOT_NULL(udk_mem_zmalloc(mem, 10, 0, 0));
	CU_ASSERT_EQUAL(udk_mem_find(mem, udk_mem_zmalloc(mem, 10, 0, 0))->len % sysconf(_SC_PAGESIZE), 0);
	udk_mem_destroy(mem);
}

static void write_file(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(val, f);
	fclose(f);
}

static void test_hugepage_messages(void)
{
	char dir[] = "/tmp/udk-test-mem-XXXXXX", path[512];
	struct udk_mem_opts o;
	struct udk_mem *mem = NULL;
	long sizes[4];
	int ret;

	/* A --huge-dir that is a plain directory. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	udk_mem_opts_init(&o, sizeof(o));
	o.huge_dir = dir;
	CU_ASSERT_EQUAL(udk_mem_create(&o, &mem), -UDK_ENOHUGE);
	CU_ASSERT(strstr(udk_last_error(), "not a hugetlbfs mount") != NULL);
	CU_ASSERT(strstr(udk_last_error(), dir) != NULL);

	/* A system with the page size but none free: a sysfs fixture says so.
	 * The page sizes themselves come from libhugetlbfs and the real /sys. */
	if (gethugepagesizes(sizes, 4) <= 0) {
		udk_mem_opts_init(&o, sizeof(o));
		CU_ASSERT_EQUAL(udk_mem_create(&o, &mem), -UDK_ENOHUGE);
		CU_ASSERT(strstr(udk_last_error(), "no hugepages") != NULL);
		printf("\n  (no hugepage sizes here: the 'reserve hugepages' message is not tested)\n");
		rmdir(dir);
		return;
	}
	snprintf(path, sizeof(path), "%s/kernel", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/kernel/mm", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/kernel/mm/hugepages", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/kernel/mm/hugepages/hugepages-%ldkB", dir, sizes[0] / 1024);
	CU_ASSERT_EQUAL(mkdir(path, 0755), 0);
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/free_hugepages");
	write_file(path, "0\n");
	setenv("UDK_SYSFS_ROOT", dir, 1);
	udk_mem_opts_init(&o, sizeof(o));
	o.page_size = (uint64_t)sizes[0];
	ret = udk_mem_create(&o, &mem);
	unsetenv("UDK_SYSFS_ROOT");
	CU_ASSERT_EQUAL(ret, -UDK_ENOHUGE);
	CU_ASSERT(strstr(udk_last_error(), "no free") != NULL);
	CU_ASSERT(strstr(udk_last_error(), "nr_hugepages") != NULL);
	unlink(path);
	*strrchr(path, '/') = '\0';
	rmdir(path);
	snprintf(path, sizeof(path), "%s/kernel/mm/hugepages", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/kernel/mm", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/kernel", dir);
	rmdir(path);
	rmdir(dir);

	/* The real system: either hugepages work, or the message says what
	 * to reserve or mount. */
	udk_mem_opts_init(&o, sizeof(o));
	ret = udk_mem_create(&o, &mem);
	if (ret == 0) {
		void *p = udk_mem_zmalloc(mem, 64, 0, 0);

		if (p == NULL)
			CU_ASSERT(strstr(udk_last_error(), "hugepages") != NULL);
		udk_mem_destroy(mem);
	} else {
		CU_ASSERT_EQUAL(ret, -UDK_ENOHUGE);
		CU_ASSERT(strstr(udk_last_error(), "nr_hugepages") != NULL ||
			  strstr(udk_last_error(), "mount -t hugetlbfs") != NULL);
	}
}

int main(void)
{
	static const struct unit_test t[] = {
		{"alignment and zeroing", test_align_and_zero},
		{"free and coalesce", test_free_coalesce},
		{"growth events, find, walk, virt2iova", test_growth_events},
		{"a failing ALLOC callback fails the growth", test_callback_failure},
		{"-m limits and their message", test_limits},
		{"bad and double free", test_bad_free},
		{"threads", test_threads},
		{"options", test_bad_opts},
		{"hugepage error messages", test_hugepage_messages},
	};

	unit_quiet_logs();
	return unit_run("mem", t, UDK_ARRAY_SIZE(t));
}
