/* SPDX-License-Identifier: BSD-3-Clause */
/* test_segment: a client's segment against what the client can do to the fd
 * it receives.  It cannot shrink the file (the broker's own mapping would
 * fault, and the broker's next touch of it die of SIGBUS) nor grow it (more
 * hugepages than its policy's 'mem'); whatever it does, giving the segment
 * back neither faults the broker nor leaves hugepages behind, even while a
 * copy of the fd survives.  Needs a hugetlbfs mount
 * (UDK_TEST_HUGE_DIR, else the first in /proc/mounts) with 4 free pages;
 * skips (77) without. */
#include "../../tests/unit/common/unit.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker.h"
#include "test_huge.h"

static char huge_dir[256];
static uint64_t page;

/* blog() and now_us() live in main.c, which this test does not link. */
void blog(const char *fmt, ...)
{
	(void)fmt;
}

uint64_t now_us(void)
{
	return 0;
}

static long free_pages(void)
{
	return test_huge_free(page);
}

/* bseg_release in a child: how it ended (0: exited normally). */
static int release_in_child(struct bseg *g)
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		bseg_release(g, 1000);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st);
}

static void test_sealed(void)
{
	struct bseg g;
	char why[300];
	int seals;

	CU_ASSERT_EQUAL_FATAL(bseg_create(&g, huge_dir, page, 2 * page, 1000, why, sizeof(why)), 0);
	seals = fcntl(g.fd, F_GET_SEALS);
	CU_ASSERT_TRUE(seals >= 0 && (seals & F_SEAL_SHRINK) && (seals & F_SEAL_GROW) &&
		       (seals & F_SEAL_SEAL));
	CU_ASSERT_TRUE(fcntl(g.fd, F_GETFD) & FD_CLOEXEC);
	CU_ASSERT_EQUAL(((unsigned char *)g.va)[page + 5], 0);
	bseg_release(&g, 1000);
}

/* Issue 16, item 1: the client truncates its segment, then the broker gives
 * it back (eviction, shutdown). */
static void test_truncate_refused(void)
{
	struct bseg g;
	char why[300];
	long before = free_pages();
	int rc;

	CU_ASSERT_EQUAL_FATAL(bseg_create(&g, huge_dir, page, 2 * page, 1000, why, sizeof(why)), 0);
	rc = ftruncate(g.fd, 0);
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT_EQUAL(errno, EPERM);
	rc = ftruncate(g.fd, (off_t)page);
	CU_ASSERT_EQUAL(rc, -1);
	rc = release_in_child(&g);
	CU_ASSERT_EQUAL(rc, 0); /* SIGBUS (7) when the client could truncate */
	if (rc != 0)
		return;
	bseg_release(&g, 1000);
	CU_ASSERT_EQUAL(free_pages(), before);
}

/* Issue 16, item 2: the client cannot take more hugepages than it was given
 * by growing the file. */
static void test_grow_refused(void)
{
	struct bseg g;
	struct stat st;
	char why[300];
	long before = free_pages();

	CU_ASSERT_EQUAL_FATAL(bseg_create(&g, huge_dir, page, page, 1000, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(free_pages(), before - 1);
	CU_ASSERT_EQUAL(ftruncate(g.fd, (off_t)(4 * page)), -1);
	CU_ASSERT_EQUAL(errno, EPERM);
	CU_ASSERT_EQUAL(fallocate(g.fd, 0, (off_t)page, (off_t)page), -1);
	CU_ASSERT_EQUAL(errno, EPERM);
	CU_ASSERT_EQUAL(fstat(g.fd, &st), 0);
	CU_ASSERT_EQUAL((uint64_t)st.st_size, page);
	CU_ASSERT_EQUAL(free_pages(), before - 1);
	bseg_release(&g, 1000);
	CU_ASSERT_EQUAL(free_pages(), before);
}

/* The client punches a hole (the seals allow it): its mapping and the
 * broker's lose the page; giving the segment back must not touch it. */
static void test_hole_punched(void)
{
	struct bseg g;
	char why[300];
	long before = free_pages();

	CU_ASSERT_EQUAL_FATAL(bseg_create(&g, huge_dir, page, 2 * page, 1000, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(fallocate(g.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
				  (off_t)page), 0);
	CU_ASSERT_EQUAL_FATAL(release_in_child(&g), 0);
	bseg_release(&g, 1000);
	CU_ASSERT_EQUAL(free_pages(), before);
}

/* A copy of the fd kept past the release (a client's child) gets the pages
 * out of its mapping: they go back to the pool now, and what it reads is
 * not the old content. */
static void test_copy_loses_pages(void)
{
	struct bseg g;
	char why[300];
	long before = free_pages();
	unsigned char *va;
	int copy;

	CU_ASSERT_EQUAL_FATAL(bseg_create(&g, huge_dir, page, page, 1000, why, sizeof(why)), 0);
	copy = dup(g.fd);
	va = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, copy, 0);
	CU_ASSERT_FATAL(va != MAP_FAILED);
	memset(va, 0xa5, page);
	bseg_release(&g, 1000);
	CU_ASSERT_EQUAL(free_pages(), before);
	CU_ASSERT_EQUAL(va[0], 0); /* a fresh, zeroed page from the kernel */
	munmap(va, page);
	close(copy);
	CU_ASSERT_EQUAL(free_pages(), before);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{"a segment is sealed, close-on-exec and zeroed", test_sealed},
		{"truncating is refused; release does not fault", test_truncate_refused},
		{"growing is refused", test_grow_refused},
		{"release after a punched hole does not fault", test_hole_punched},
		{"a surviving copy of the fd loses the pages", test_copy_loses_pages},
	};

	if (!test_huge_find(huge_dir, sizeof(huge_dir), &page)) {
		printf("SKIP: no hugetlbfs mount (set UDK_TEST_HUGE_DIR)\n");
		return 77;
	}
	if (free_pages() < 4) {
		printf("SKIP: fewer than 4 free hugepages of %llu kB\n",
		       (unsigned long long)(page >> 10));
		return 77;
	}
	if (unit_add("broker_segment", NULL, NULL, tests, sizeof(tests) / sizeof(tests[0])))
		return 1;
	return unit_run_all();
}
