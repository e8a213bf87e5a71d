/* SPDX-License-Identifier: BSD-3-Clause */
/* test_holes: a client that punches a hole in a segment it was granted
 * (FALLOC_FL_PUNCH_HOLE, which the seals allow) and touches the page again.
 * Under an IOMMU its mapping then holds a fresh hugepage while the map keeps
 * the old one pinned: more than its policy's 'mem'.  The broker must see the
 * hole (on its tick, or at once on the client's next request), evict the
 * client, give every page back and refuse that user afterwards; a client
 * that only uses its memory is never evicted.
 *
 * It runs the broker's own files (server.c, grant.c, session.c, segment.c,
 * policy.c) over socketpairs with the real clock and maps of backend
 * BROKERED (no IOMMU on the host: there is no pin, so the pool's count shows
 * the hole being refilled and given back, not the pinned copy).  Needs a
 * hugetlbfs mount (UDK_TEST_HUGE_DIR, else the first in /proc/mounts) with
 * 8 free pages; skips (77) without. */
#include "../../tests/unit/common/unit.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "test_huge.h"

static struct broker b;
static struct server sv;
static char logbuf[16384];

void blog(const char *fmt, ...)
{
	char line[1024];
	size_t n = strlen(logbuf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", line);
	if (getenv("UDK_TEST_VERBOSE") != NULL)
		fprintf(stderr, "broker: %s\n", line);
}

uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static long free_pages(void)
{
	return test_huge_free(b.huge_page);
}

/* A client of uid: its end of a socketpair whose other end the broker
 * admitted as from uid. */
static int client_of(uid_t uid)
{
	struct ucred cr = {.pid = getpid(), .uid = uid, .gid = uid};
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -1;
	fcntl(sp[1], F_SETFL, O_NONBLOCK);
	if (server_admit(&sv, sp[1], &cr) < 0) {
		close(sp[0]);
		return -1;
	}
	return sp[0];
}

/* Serve until the client has a message (parsed into m, its fds in fds), or
 * ms pass.  1 with a message, 0 when the broker hung up, -1 on timeout. */
static int next_msg(int cl, unsigned int ms, struct udk_broker_msg *m, int *fds)
{
	uint64_t end = now_us() + ms * 1000ull;
	char buf[UDK_BROKER_MSG_MAX];
	unsigned int nfds;
	size_t len;

	while (now_us() < end) {
		struct pollfd pf = {.fd = cl, .events = POLLIN};

		server_step(&sv, 20);
		if (poll(&pf, 1, 0) != 1)
			continue;
		if (udk_broker_recv(cl, buf, sizeof(buf), &len, fds, UDK_BROKER_MAX_FDS,
				    &nfds) < 0 || len == 0)
			return 0;
		if (udk_broker_parse(buf, len, nfds, UDK_BROKER_FROM_BROKER, m, NULL, 0) < 0)
			return 0;
		return 1;
	}
	return -1;
}

/* A BROKERED map accepts only the ranges it was told of (lib/dma): a
 * session made ahead of the HELLO, with the map told of every IOVA its one
 * segment of len can get.  The allocator takes the first free IOVA of the
 * first aperture, aligned to at most 1 GiB (lib/dma's natural alignment of
 * the broker's mapping). */
static void prepare(uid_t uid, uint64_t len)
{
	struct udk_iova_range r;
	struct session *s;
	size_t n;

	CU_ASSERT_EQUAL_FATAL(session_create(&b, uid, uid, &s), 0);
	CU_ASSERT_EQUAL_FATAL(udk_dmamap_iova_ranges(s->map, &r, 1, &n), 0);
	for (unsigned int k = 12; k <= 30; k++)
		CU_ASSERT_EQUAL(udk_dmamap_broker_grant(s->map, UDK_ALIGN_UP(r.start, 1ull << k), len,
							"test"), 0);
}

/* HELLO for mem bytes; the client's mapping of its one segment (len in
 * *len, fd in *fd), or NULL. */
static unsigned char *hello(int cl, uint64_t mem, size_t *len, int *fd)
{
	static struct udk_broker_msg m;
	int fds[UDK_BROKER_MAX_FDS];
	void *va;

	prepare(sv.conns[sv.nb_conns - 1].uid, mem);
	memset(&m, 0, sizeof(m));
	m.type = UDK_BROKER_HELLO;
	m.u.hello.mem = mem;
	if (udk_broker_send_msg(cl, &m, NULL) < 0 || next_msg(cl, 2000, &m, fds) != 1 ||
	    m.type != UDK_BROKER_GRANT || m.u.grant.g.nb_segs != 1)
		return NULL;
	*fd = fds[0];
	*len = m.u.grant.segs[0].len;
	va = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	return va == MAP_FAILED ? NULL : va;
}

/* A client that only uses its memory stays, tick after tick. */
static void test_good_client_stays(void)
{
	int cl = client_of(1000), fd, fds[UDK_BROKER_MAX_FDS];
	struct udk_broker_msg m;
	unsigned char *va;
	size_t len;

	CU_ASSERT_FATAL(cl >= 0);
	va = hello(cl, 4 << 20, &len, &fd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(va);
	memset(va, 0x5a, len);
	CU_ASSERT_EQUAL(next_msg(cl, 2500, &m, fds), -1); /* two ticks, nothing said */
	CU_ASSERT_PTR_NOT_NULL(session_find_uid(&b, 1000));
	CU_ASSERT_PTR_NULL(strstr(logbuf, "hole"));
	munmap(va, len);
	close(fd);
	close(cl);
	server_step(&sv, 20); /* parked */
}

/* Issue 16, item 2: the hole is found on the tick, with no request. */
static void test_hole_evicted_on_tick(void)
{
	int cl = client_of(1001), fd, fds[UDK_BROKER_MAX_FDS];
	long before = free_pages();
	struct udk_broker_msg m;
	unsigned char *va;
	uint64_t t0;
	size_t len;
	int rc;

	CU_ASSERT_FATAL(cl >= 0);
	va = hello(cl, 4 << 20, &len, &fd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(va);
	memset(va, 0x5a, len);
	CU_ASSERT_EQUAL(free_pages(), before - (long)(len / b.huge_page));
	CU_ASSERT_EQUAL_FATAL(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
					(off_t)b.huge_page), 0);
	va[0] = 1; /* a fresh page in the hole */
	t0 = now_us();
	rc = next_msg(cl, 3000, &m, fds);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT(rc == 1 && m.type == UDK_BROKER_ERROR &&
		  strstr(m.u.error.text, "segment 0 of uid 1001 has a hole punched") != NULL);
	printf("\n    evicted %.2f s after the hole", (double)(now_us() - t0) / 1e6);
	CU_ASSERT(now_us() - t0 < 2000000u);
	CU_ASSERT_EQUAL(next_msg(cl, 500, &m, fds), 0); /* and hung up */
	CU_ASSERT_PTR_NULL(session_find_uid(&b, 1001));
	CU_ASSERT_PTR_NOT_NULL(strstr(logbuf, "uid 1001: segment 0 (IOVA"));
	CU_ASSERT_EQUAL(free_pages(), before); /* the client's mapping lost them too */
	munmap(va, len);
	close(fd);
	close(cl);
	CU_ASSERT_EQUAL(free_pages(), before);

	/* and refused from then on */
	cl = client_of(1001);
	CU_ASSERT_FATAL(cl >= 0);
	memset(&m, 0, sizeof(m));
	m.type = UDK_BROKER_HELLO;
	m.u.hello.mem = 2 << 20;
	CU_ASSERT_EQUAL(udk_broker_send_msg(cl, &m, NULL), 0);
	rc = next_msg(cl, 2000, &m, fds);
	CU_ASSERT(rc == 1 && m.type == UDK_BROKER_ERROR &&
		  strstr(m.u.error.text, "refused until the broker restarts") != NULL);
	CU_ASSERT_PTR_NULL(session_find_uid(&b, 1001));
	CU_ASSERT_EQUAL(free_pages(), before);
	close(cl);
}

/* The client's next request finds it at once, tick or not. */
static void test_hole_evicted_on_request(void)
{
	int cl = client_of(1002), fd, fds[UDK_BROKER_MAX_FDS];
	long before = free_pages();
	struct udk_broker_msg m;
	unsigned char *va;
	size_t len;
	int rc;

	CU_ASSERT_FATAL(cl >= 0);
	va = hello(cl, 2 << 20, &len, &fd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(va);
	CU_ASSERT_EQUAL_FATAL(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
					(off_t)b.huge_page), 0);
	va[0] = 1;
	memset(&m, 0, sizeof(m));
	m.type = UDK_BROKER_MEM;
	m.u.mem.len = 2 << 20;
	sv.next_hole_check_us = now_us() + 60000000u; /* no tick for a minute */
	CU_ASSERT_EQUAL(udk_broker_send_msg(cl, &m, NULL), 0);
	rc = next_msg(cl, 500, &m, fds); /* the MEM refused (past 'mem'), ... */
	CU_ASSERT(rc == 1 && m.type == UDK_BROKER_ERROR);
	rc = next_msg(cl, 500, &m, fds); /* ... then the eviction, within the same round */
	CU_ASSERT(rc == 1 && m.type == UDK_BROKER_ERROR &&
		  strstr(m.u.error.text, "hole punched") != NULL);
	CU_ASSERT_PTR_NULL(session_find_uid(&b, 1002));
	munmap(va, len);
	close(fd);
	close(cl);
	CU_ASSERT_EQUAL(free_pages(), before);
}

/* A client's child that kept the fd punches after its parent left: the
 * parked session is evicted as well. */
static void test_hole_in_parked_session(void)
{
	int cl = client_of(1003), fd;
	long before = free_pages();
	uint64_t end;
	unsigned char *va;
	size_t len;

	CU_ASSERT_FATAL(cl >= 0);
	va = hello(cl, 2 << 20, &len, &fd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(va);
	close(cl);
	server_step(&sv, 20);
	CU_ASSERT_PTR_NOT_NULL_FATAL(session_find_uid(&b, 1003));
	CU_ASSERT_EQUAL(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
				  (off_t)b.huge_page), 0);
	va[0] = 1;
	end = now_us() + 2000000u;
	while (session_find_uid(&b, 1003) != NULL && now_us() < end)
		server_step(&sv, 50);
	CU_ASSERT_PTR_NULL(session_find_uid(&b, 1003));
	munmap(va, len);
	close(fd);
	CU_ASSERT_EQUAL(free_pages(), before);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{"a client that uses its memory is not evicted", test_good_client_stays},
		{"a hole punched and refilled: evicted on the tick, pages back, user refused",
		 test_hole_evicted_on_tick},
		{"a hole punched: evicted on the next request", test_hole_evicted_on_request},
		{"a hole punched in a parked session: evicted", test_hole_in_parked_session},
	};
	const char *policy = "user 1000 devices - mem 4M\n"
			     "user 1001 devices - mem 4M\n"
			     "user 1002 devices - mem 2M\n"
			     "user 1003 devices - mem 2M\n";
	char err[600];
	int rc;

	if (!test_huge_find(b.huge_dir, sizeof(b.huge_dir), &b.huge_page)) {
		printf("SKIP: no hugetlbfs mount (set UDK_TEST_HUGE_DIR)\n");
		return 77;
	}
	if (b.huge_page != 2 << 20) {
		printf("SKIP: the hugetlbfs mount %s is not of 2 MiB pages\n", b.huge_dir);
		return 77;
	}
	if (free_pages() < 8) {
		printf("SKIP: fewer than 8 free hugepages of 2 MiB\n");
		return 77;
	}
	b.map_backend = UDK_DMAMAP_BROKERED;
	if (policy_parse(policy, "test.policy", &b.policy, err, sizeof(err)) < 0 ||
	    server_init(&sv, &b, -1) < 0) {
		printf("cannot set up the broker: %s\n", err);
		return 1;
	}
	unit_quiet_logs();
	if (unit_add("broker_holes", NULL, NULL, tests, sizeof(tests) / sizeof(tests[0])))
		return 1;
	rc = unit_run_all();
	server_fini(&sv);
	while (b.sessions != NULL)
		session_evict(&b, b.sessions, "end of test");
	return rc;
}
