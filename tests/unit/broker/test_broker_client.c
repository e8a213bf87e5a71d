/* SPDX-License-Identifier: BSD-3-Clause */
/* test_broker_client: lib/eal's --broker client against a fake udk-broker
 * (a thread on a UNIX socket, no root or hugepages needed).  A grant of memfd
 * segments becomes the heap, with the broker's IOVAs; the brokered map
 * refuses any mapping of its own, naming the policy; the heap grows by MEM
 * requests and fails clearly at the broker's limit; refusals, malformed
 * answers and a missing broker give one clear line each. */
#include "../common/unit.h"
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "udk_broker.h"
#include "udk_eal.h"

enum scenario { REFUSE, REFUSE_UNREAD, GARBAGE, GRANT };

static char path[108];
static int lsock = -1;
static enum scenario scen;
static pthread_t thr;

#define SEG0_IOVA 0x10000000ull
#define SEG1_IOVA 0x20000000ull
#define SEG_LEN (4ull << 20)

static int memfd(size_t len)
{
	int fd = memfd_create("fake-broker-seg", MFD_CLOEXEC);

	CU_ASSERT_FATAL(fd >= 0 && ftruncate(fd, (off_t)len) == 0);
	return fd;
}

static void reply_error(int s, int code, const char *text)
{
	struct udk_broker_msg m = {.type = UDK_BROKER_ERROR};

	m.u.error.code = code;
	snprintf(m.u.error.text, sizeof(m.u.error.text), "%s", text);
	udk_broker_send_msg(s, &m, NULL);
}

static void *fake_broker(void *arg)
{
	char buf[UDK_BROKER_MSG_MAX];
	int fds[UDK_BROKER_MAX_FDS], s, fd;
	struct udk_broker_msg m;
	unsigned int nfds, mems = 0;
	size_t len;

	(void)arg;
	s = accept(lsock, NULL, NULL);
	if (s < 0)
		return NULL;
	if (scen == REFUSE_UNREAD) {
		/* As udk-broker refuses at accept: ERROR and close, the HELLO
		 * unread (the client then sees ECONNRESET before the ERROR). */
		struct pollfd pf = {.fd = s, .events = POLLIN};

		poll(&pf, 1, 5000);
		reply_error(s, -EACCES, "uid 4242 (gid 4242) has no grant in policy /etc/p");
		close(s);
		return NULL;
	}
	while (udk_broker_recv(s, buf, sizeof(buf), &len, fds, UDK_BROKER_MAX_FDS, &nfds) == 0 &&
	       len > 0) {
		if (udk_broker_parse(buf, len, nfds, UDK_BROKER_FROM_CLIENT, &m, NULL, 0) < 0)
			break;
		if (scen == REFUSE) {
			reply_error(s, -EACCES, "uid 4242 has no grant in policy /etc/test-policy");
		} else if (scen == GARBAGE) {
			send(s, "UDKB-but-not-really", 19, 0);
		} else if (m.type == UDK_BROKER_HELLO) {
			struct udk_broker_msg g = {.type = UDK_BROKER_GRANT, .nfds = 1};

			g.u.grant.g = (struct udk_broker_grant){.nb_segs = 1, .mem_limit = 2 * SEG_LEN,
								.uid = 4242};
			g.u.grant.segs[0] = (struct udk_broker_seg){.len = SEG_LEN,
								    .iova = SEG0_IOVA,
								    .page_size = 4096};
			fd = memfd(SEG_LEN);
			udk_broker_send_msg(s, &g, &fd);
			close(fd);
		} else if (mems++ == 0) {
			struct udk_broker_msg g = {.type = UDK_BROKER_SEGMENT, .nfds = 1};

			g.u.seg = (struct udk_broker_seg){.len = SEG_LEN, .iova = SEG1_IOVA,
							  .page_size = 4096};
			fd = memfd(SEG_LEN);
			udk_broker_send_msg(s, &g, &fd);
			close(fd);
		} else {
			reply_error(s, -UDK_EMEMLIMIT, "memory limit of uid 4242 is 8 MiB (policy "
				    "/etc/test-policy)");
		}
	}
	close(s);
	return NULL;
}

static void start(enum scenario sc)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	scen = sc;
	snprintf(path, sizeof(path), "/tmp/udk-test-broker-%d.sock", (int)getpid());
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	lsock = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CU_ASSERT_FATAL(lsock >= 0 && bind(lsock, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
			listen(lsock, 4) == 0);
	CU_ASSERT_FATAL(pthread_create(&thr, NULL, fake_broker, NULL) == 0);
}

static void stop(void)
{
	pthread_join(thr, NULL);
	close(lsock);
	unlink(path);
}

static int init(void)
{
	char *argv[] = {"test", "--broker", path, "--", NULL};

	udk_last_error_clear();
	return udk_eal_init(4, argv);
}

static bool said(const char *text)
{
	bool ok = strstr(udk_last_error(), text) != NULL;

	if (!ok)
		fprintf(stderr, "last error '%s' lacks '%s'\n", udk_last_error(), text);
	return ok;
}

static void test_grant(void)
{
	uint64_t iova;
	void *a, *b, *page;

	start(GRANT);
	CU_ASSERT_EQUAL_FATAL(init(), 4);
	a = udk_mem_default_zmalloc(4096, 4096, UDK_SOCKET_ANY);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	iova = udk_virt2iova(a);
	CU_ASSERT(iova >= SEG0_IOVA && iova < SEG0_IOVA + SEG_LEN);
	CU_ASSERT_EQUAL(udk_dmamap_virt2iova(udk_eal_dmamap(), a, &iova), 0);

	/* The client maps nothing of its own. */
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_dmamap_map(udk_eal_dmamap(), page, 4096, &iova), -EPERM);
	CU_ASSERT(said("belongs to udk-broker at"));
	CU_ASSERT(said("policy for uid 4242"));
	CU_ASSERT_EQUAL(udk_dma_register(udk_eal_dmamap(), page, 4096), -EPERM);
	munmap(page, 4096);

	/* Growth: one more segment from the broker, then its limit. */
	b = udk_mem_default_zmalloc(SEG_LEN, 4096, UDK_SOCKET_ANY); /* no room left in the first */
	CU_ASSERT_PTR_NOT_NULL(b);
	iova = udk_virt2iova(b);
	CU_ASSERT(iova >= SEG1_IOVA && iova < SEG1_IOVA + SEG_LEN);
	udk_last_error_clear();
	CU_ASSERT_PTR_NULL(udk_mem_default_zmalloc(SEG_LEN, 4096, UDK_SOCKET_ANY));
	CU_ASSERT_EQUAL(errno, UDK_EMEMLIMIT);
	CU_ASSERT(said("udk-broker refused: memory limit of uid 4242 is 8 MiB"));
	udk_mem_default_free(a);
	udk_mem_default_free(b);
	udk_eal_cleanup(); /* closes the socket: the fake broker's loop ends */
	stop();
}

static void test_refused(void)
{
	start(REFUSE);
	CU_ASSERT_EQUAL(init(), -EACCES);
	CU_ASSERT(said("udk-broker refused: uid 4242 has no grant in policy /etc/test-policy"));
	stop();
	start(REFUSE_UNREAD);
	CU_ASSERT_EQUAL(init(), -EACCES);
	CU_ASSERT(said("udk-broker refused: uid 4242 (gid 4242) has no grant in policy /etc/p"));
	stop();
	start(GARBAGE);
	CU_ASSERT_EQUAL(init(), -EPROTO);
	CU_ASSERT(said("malformed answer"));
	stop();
}

static void test_no_broker(void)
{
	char *argv[] = {"test", "--broker", "/nonexistent/udk-broker.sock", NULL};
	char *empty[] = {"test", "--broker", "", NULL};

	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_eal_init(3, argv), -ENOENT);
	CU_ASSERT(said("no udk-broker listens there"));
	CU_ASSERT_EQUAL(udk_eal_init(3, empty), -UDK_EARGS);
	CU_ASSERT(said("is not a socket path"));
	for (int i = 0; i < 3; i++) {
		static char *opt[][2] = {{"--no-huge", NULL}, {"--huge-dir", "/dev/hugepages"},
					 {"--iommu-backend", "type1"}};
		static const char *name[] = {"--no-huge cannot", "--huge-dir cannot",
					     "--iommu-backend cannot"};
		char *a[] = {"test", "--broker", "/x.sock", opt[i][0], opt[i][1], NULL};

		CU_ASSERT_EQUAL(udk_eal_init(opt[i][1] ? 5 : 4, a), -UDK_EARGS);
		CU_ASSERT(said(name[i]));
	}
	char *pernode[] = {"test", "--broker", "/x.sock", "-m", "16,16", NULL};

	CU_ASSERT_EQUAL(udk_eal_init(5, pernode), -UDK_EARGS);
	CU_ASSERT(said("one value per NUMA node"));
}

int main(void)
{
	static const struct unit_test tests[] = {
		{"a grant becomes the heap; the map refuses the rest", test_grant},
		{"refusals and malformed answers", test_refused},
		{"no broker at the path", test_no_broker},
	};

	unit_quiet_logs();
	if (unit_add("broker_client", NULL, NULL, tests, UDK_ARRAY_SIZE(tests)))
		return 1;
	return unit_run_all();
}
