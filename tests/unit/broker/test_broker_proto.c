/* SPDX-License-Identifier: BSD-3-Clause */
/* test_broker_proto: udk-broker's wire protocol (lib/broker).  Good messages
 * survive build -> parse unchanged; every malformation the parser knows is
 * refused with a reason; descriptors travel over a socketpair, and too many
 * or a truncated message are refused with every descriptor closed. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "udk_broker.h"
#include "../common/unit.h"

static char buf[UDK_BROKER_MSG_MAX], why[256];
static struct udk_broker_msg m, p;

static struct udk_broker_msg hello(void)
{
	struct udk_broker_msg h = {.type = UDK_BROKER_HELLO};

	h.u.hello.nb_devs = 2;
	h.u.hello.mem = 64ull << 20;
	strcpy(h.u.hello.devs[0], "0000:00:04.0");
	strcpy(h.u.hello.devs[1], "0000:02:1f.7");
	return h;
}

static struct udk_broker_msg grant(void)
{
	struct udk_broker_msg g = {.type = UDK_BROKER_GRANT, .nfds = 3};

	g.u.grant.g = (struct udk_broker_grant){.nb_devs = 1, .nb_segs = 2, .mem_limit = 1 << 30,
						.uid = 1000, .flags = UDK_BROKER_GRANT_KEPT};
	strcpy(g.u.grant.devs[0], "0000:00:04.0");
	g.u.grant.segs[0] = (struct udk_broker_seg){.len = 2 << 20, .iova = 0x200000,
						    .page_size = 2 << 20};
	g.u.grant.segs[1] = (struct udk_broker_seg){.len = 8 << 20, .iova = 0x40000000,
						    .page_size = 2 << 20, .node = 1};
	return g;
}

/* Build msg, then parse from side: the return code. */
static int roundtrip(const struct udk_broker_msg *msg, enum udk_broker_side side, int *len)
{
	*len = udk_broker_build(msg, buf, sizeof(buf), why, sizeof(why));
	if (*len < 0)
		return *len;
	return udk_broker_parse(buf, (size_t)*len, msg->nfds, side, &p, why, sizeof(why));
}

static void test_good_roundtrip(void)
{
	int len;

	m = hello();
	CU_ASSERT_EQUAL(roundtrip(&m, UDK_BROKER_FROM_CLIENT, &len), 0);
	CU_ASSERT_EQUAL(memcmp(&p.u.hello, &m.u.hello, sizeof(m.u.hello)), 0);
	m = grant();
	CU_ASSERT_EQUAL(roundtrip(&m, UDK_BROKER_FROM_BROKER, &len), 0);
	CU_ASSERT_EQUAL(len, 16 + 24 + 16 + 2 * 32);
	CU_ASSERT_EQUAL(memcmp(&p.u.grant, &m.u.grant, sizeof(m.u.grant)), 0);
	m = (struct udk_broker_msg){.type = UDK_BROKER_MEM, .u.mem.len = 4096};
	CU_ASSERT_EQUAL(roundtrip(&m, UDK_BROKER_FROM_CLIENT, &len), 0);
	m = (struct udk_broker_msg){.type = UDK_BROKER_SEGMENT, .nfds = 1};
	m.u.seg = (struct udk_broker_seg){.len = 4096, .iova = 4096, .page_size = 4096};
	CU_ASSERT_EQUAL(roundtrip(&m, UDK_BROKER_FROM_BROKER, &len), 0);
	m = (struct udk_broker_msg){.type = UDK_BROKER_ERROR};
	m.u.error.code = -13;
	strcpy(m.u.error.text, "no grant");
	CU_ASSERT_EQUAL(roundtrip(&m, UDK_BROKER_FROM_BROKER, &len), 0);
	CU_ASSERT_STRING_EQUAL(p.u.error.text, "no grant");
}

/* buf holds a good HELLO of len bytes; corrupt one field at a time. */
static int hello_with(size_t off, const void *val, size_t n, unsigned int nfds)
{
	m = hello();
	int len = udk_broker_build(&m, buf, sizeof(buf), NULL, 0);

	memcpy(buf + off, val, n);
	return udk_broker_parse(buf, (size_t)len, nfds, UDK_BROKER_FROM_CLIENT, &p, why,
				sizeof(why));
}

#define HDR 16
#define DEV(i) (HDR + 16 + 16 * (i))

static void expect(int rc, const char *text)
{
	CU_ASSERT_EQUAL(rc, -EPROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, text));
	if (strstr(why, text) == NULL)
		fprintf(stderr, "why: '%s', wanted '%s'\n", why, text);
	CU_ASSERT_EQUAL(p.type, 0); /* nothing half-parsed is left */
}

static void test_bad_header(void)
{
	uint32_t u32;
	uint16_t u16;
	int len;

	expect(udk_broker_parse(buf, 3, 0, UDK_BROKER_FROM_CLIENT, &p, why, sizeof(why)),
	       "shorter than a header");
	expect(udk_broker_parse(NULL, 0, 0, UDK_BROKER_FROM_CLIENT, &p, why, sizeof(why)),
	       "shorter than a header");
	u32 = 0x41414141;
	expect(hello_with(0, &u32, 4, 0), "bad magic");
	u16 = 2;
	expect(hello_with(4, &u16, 2, 0), "protocol version 2");
	u16 = 0;
	expect(hello_with(6, &u16, 2, 0), "unknown message type 0");
	u16 = 99;
	expect(hello_with(6, &u16, 2, 0), "unknown message type 99");
	u16 = UDK_BROKER_GRANT;
	expect(hello_with(6, &u16, 2, 0), "GRANT may not come from the client");
	u32 = 5;
	expect(hello_with(8, &u32, 4, 0), "header says 5 payload bytes");
	expect(hello_with(12, &(uint32_t){0}, 4, 2), "header says 0 descriptors, 2 came");
	u32 = 1;
	expect(hello_with(12, &u32, 4, 1), "HELLO carries no descriptors");
	/* A broker message parsed by the broker. */
	m = grant();
	len = udk_broker_build(&m, buf, sizeof(buf), NULL, 0);
	expect(udk_broker_parse(buf, (size_t)len, 3, UDK_BROKER_FROM_CLIENT, &p, why, sizeof(why)),
	       "may not come from the client");
	/* Trailing bytes. */
	m = hello();
	len = udk_broker_build(&m, buf, sizeof(buf), NULL, 0);
	expect(udk_broker_parse(buf, (size_t)len + 1, 0, UDK_BROKER_FROM_CLIENT, &p, why,
				sizeof(why)), "payload bytes");
}

static void test_bad_hello(void)
{
	uint32_t u32;
	uint64_t u64;

	u32 = UDK_BROKER_MAX_DEVS + 1;
	expect(hello_with(HDR, &u32, 4, 0), "asks for 17 devices");
	u32 = 1;
	expect(hello_with(HDR + 4, &u32, 4, 0), "flags 0x1");
	u64 = 4097;
	expect(hello_with(HDR + 8, &u64, 8, 0), "HELLO memory 0x1001");
	u64 = UDK_BROKER_MAX_MEM + 4096;
	expect(hello_with(HDR + 8, &u64, 8, 0), "up to 1 TiB");
	expect(hello_with(DEV(0), "0000:00:04.0xxxx", 16, 0), "not NUL-terminated");
	expect(hello_with(DEV(0), "0000:00:04.A", 13, 0), "is not a PCI address");
	expect(hello_with(DEV(0), "0000:00:20.0", 13, 0), "is not a PCI address");
	expect(hello_with(DEV(0), "0000:00:04.8", 13, 0), "is not a PCI address");
	expect(hello_with(DEV(0), "00:04.0", 8, 0), "is not a PCI address");
	expect(hello_with(DEV(0) + 13, "x", 1, 0), "bytes after the address");
	expect(hello_with(DEV(1), "0000:00:04.0", 13, 0), "names 0000:00:04.0 twice");
	expect(hello_with(DEV(5), "x", 1, 0), "unused device slot 5");
}

static void test_bad_others(void)
{
	int len;

	m = (struct udk_broker_msg){.type = UDK_BROKER_MEM, .u.mem.len = 0};
	CU_ASSERT_EQUAL(udk_broker_build(&m, buf, sizeof(buf), why, sizeof(why)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "MEM length 0x0"));

	m = grant();
	m.nfds = 2;
	CU_ASSERT_EQUAL(roundtrip(&m, UDK_BROKER_FROM_BROKER, &len), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "2 descriptors, its counts say 3"));
	m = grant();
	m.u.grant.segs[1].page_size = 3 << 20;
	CU_ASSERT_EQUAL(roundtrip(&m, UDK_BROKER_FROM_BROKER, &len), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "segment 1: page size"));
	m = grant();
	m.u.grant.segs[0].iova = ~0ull << 12;
	CU_ASSERT_EQUAL(roundtrip(&m, UDK_BROKER_FROM_BROKER, &len), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "wraps"));
	m = grant();
	m.u.grant.segs[0].pad = 1;
	CU_ASSERT_EQUAL(roundtrip(&m, UDK_BROKER_FROM_BROKER, &len), -EINVAL);
	m = grant();
	m.u.grant.g.flags = 0x80;
	CU_ASSERT_EQUAL(roundtrip(&m, UDK_BROKER_FROM_BROKER, &len), -EINVAL);
	m = grant();
	m.u.grant.g.nb_segs = UDK_BROKER_MAX_SEGS + 1;
	CU_ASSERT_EQUAL(roundtrip(&m, UDK_BROKER_FROM_BROKER, &len), -EINVAL);
	/* Counts that disagree with the payload size. */
	m = grant();
	len = udk_broker_build(&m, buf, sizeof(buf), NULL, 0);
	memcpy(buf + HDR + 4, &(uint32_t){3}, 4);
	expect(udk_broker_parse(buf, (size_t)len, 3, UDK_BROKER_FROM_BROKER, &p, why, sizeof(why)),
	       "its counts say");

	m = (struct udk_broker_msg){.type = UDK_BROKER_SEGMENT, .nfds = 0};
	m.u.seg = (struct udk_broker_seg){.len = 4096, .iova = 4096, .page_size = 4096};
	CU_ASSERT_EQUAL(roundtrip(&m, UDK_BROKER_FROM_BROKER, &len), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "with one"));

	m = (struct udk_broker_msg){.type = UDK_BROKER_ERROR};
	m.u.error.code = 5;
	CU_ASSERT_EQUAL(roundtrip(&m, UDK_BROKER_FROM_BROKER, &len), -EINVAL);
	m.u.error.code = -5;
	memset(m.u.error.text, 'a', sizeof(m.u.error.text));
	CU_ASSERT_EQUAL(roundtrip(&m, UDK_BROKER_FROM_BROKER, &len), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "not NUL-terminated"));
	strcpy(m.u.error.text, "bell\a");
	CU_ASSERT_EQUAL(roundtrip(&m, UDK_BROKER_FROM_BROKER, &len), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "control character"));
}

static void test_bdf(void)
{
	CU_ASSERT_TRUE(udk_broker_bdf_valid("0000:00:00.0"));
	CU_ASSERT_TRUE(udk_broker_bdf_valid("ffff:ff:1f.7"));
	CU_ASSERT_FALSE(udk_broker_bdf_valid("FFFF:ff:1f.7"));
	CU_ASSERT_FALSE(udk_broker_bdf_valid("0000:00:00.0 "));
	CU_ASSERT_FALSE(udk_broker_bdf_valid("0000:00:00"));
	CU_ASSERT_FALSE(udk_broker_bdf_valid(""));
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void test_fds(void)
{
	int sv[2], fds[UDK_BROKER_MAX_FDS], got[UDK_BROKER_MAX_FDS], send_fds[3];
	unsigned int nfds;
	size_t len;
	int n, free_fd;

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	for (int i = 0; i < 3; i++)
		send_fds[i] = open("/dev/null", O_RDONLY);
	m = grant();
	CU_ASSERT_EQUAL(udk_broker_send_msg(sv[0], &m, send_fds), 0);
	CU_ASSERT_EQUAL(udk_broker_recv(sv[1], buf, sizeof(buf), &len, got, UDK_BROKER_MAX_FDS,
					&nfds), 0);
	CU_ASSERT_EQUAL(nfds, 3);
	CU_ASSERT_EQUAL(udk_broker_parse(buf, len, nfds, UDK_BROKER_FROM_BROKER, &p, why,
					 sizeof(why)), 0);
	CU_ASSERT_TRUE(fcntl(got[0], F_GETFD) & FD_CLOEXEC);
	for (unsigned int i = 0; i < nfds; i++)
		close(got[i]);

	/* More descriptors than the receiver takes: refused, none kept (the
	 * next descriptor number is the same before and after). */
	n = udk_broker_build(&m, buf, sizeof(buf), NULL, 0);
	CU_ASSERT_EQUAL(udk_broker_send(sv[0], buf, (size_t)n, send_fds, 3), 0);
	free_fd = dup(0);
	close(free_fd);
	CU_ASSERT_EQUAL(udk_broker_recv(sv[1], buf, sizeof(buf), &len, fds, 2, &nfds), -EMSGSIZE);
	CU_ASSERT_EQUAL(nfds, 0);
	CU_ASSERT_FALSE(fd_open(free_fd));

	/* A message longer than the buffer: refused, its descriptor closed. */
	CU_ASSERT_EQUAL(udk_broker_send(sv[0], buf, 100, send_fds, 1), 0);
	CU_ASSERT_EQUAL(udk_broker_recv(sv[1], buf, 50, &len, fds, 4, &nfds), -EMSGSIZE);
	CU_ASSERT_EQUAL(nfds, 0);
	CU_ASSERT_FALSE(fd_open(free_fd));

	/* The peer hung up: len 0. */
	close(sv[0]);
	CU_ASSERT_EQUAL(udk_broker_recv(sv[1], buf, sizeof(buf), &len, fds, 4, &nfds), 0);
	CU_ASSERT_EQUAL(len, 0);
	close(sv[1]);
	for (int i = 0; i < 3; i++)
		close(send_fds[i]);
	CU_ASSERT_EQUAL(udk_broker_send(-1, buf, 16, NULL, UDK_BROKER_MAX_FDS + 1), -EINVAL);
}

/* udk_broker_recv_all: room for the kernel's most (so it drops none) and
 * every descriptor handed over, even with the message refused. */
static void test_recv_all(void)
{
	int sv[2], many[200], fds[UDK_BROKER_RECV_ALL_FDS];
	unsigned int nfds;
	size_t len;

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	many[0] = open("/dev/null", O_RDONLY);
	for (int i = 1; i < 200; i++)
		many[i] = many[0];
	memset(buf, 'x', 100);
	CU_ASSERT_EQUAL(udk_broker_send(sv[0], buf, 20, many, 200), -EINVAL); /* past MAX_FDS */
	/* The sender's limit is udk's; build a 200-descriptor message by hand. */
	{
		union {
			char b[CMSG_SPACE(sizeof(many))];
			struct cmsghdr a;
		} ctl;
		struct iovec iov = {.iov_base = buf, .iov_len = 20};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
				    .msg_controllen = sizeof(ctl.b)};
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(many));
		memcpy(CMSG_DATA(c), many, sizeof(many));
		CU_ASSERT_EQUAL(sendmsg(sv[0], &mh, 0), 20);
	}
	CU_ASSERT_EQUAL(udk_broker_recv_all(sv[1], buf, sizeof(buf), &len, fds, &nfds), 0);
	CU_ASSERT_EQUAL(nfds, 200);
	CU_ASSERT_EQUAL(len, 20);
	for (unsigned int i = 0; i < nfds; i++)
		close(fds[i]);
	/* Too long for the buffer: -EMSGSIZE, and its descriptor is the
	 * caller's, still open. */
	CU_ASSERT_EQUAL(udk_broker_send(sv[0], buf, 100, many, 1), 0);
	CU_ASSERT_EQUAL(udk_broker_recv_all(sv[1], buf, 50, &len, fds, &nfds), -EMSGSIZE);
	CU_ASSERT_EQUAL(nfds, 1);
	CU_ASSERT_TRUE(nfds == 1 && fd_open(fds[0]));
	if (nfds == 1)
		close(fds[0]);
	close(many[0]);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{"good messages survive build and parse", test_good_roundtrip},
		{"bad headers", test_bad_header},
		{"bad HELLO fields", test_bad_hello},
		{"bad GRANT, MEM, SEGMENT, ERROR", test_bad_others},
		{"PCI address form", test_bdf},
		{"descriptors over a socketpair", test_fds},
		{"every descriptor handed over (udk-broker)", test_recv_all},
	};

	unit_quiet_logs();
	if (unit_add("broker_proto", NULL, NULL, tests, UDK_ARRAY_SIZE(tests)))
		return 1;
	return unit_run_all();
}
