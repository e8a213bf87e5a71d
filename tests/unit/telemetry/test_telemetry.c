/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for lib/telemetry and the providers above it: the request
 * parser's accepted and refused forms, the answers' shape, then a process
 * with the EAL and two crossed net_ring ports that sends N packets and polls
 * its lcore, and whose socket must report exactly those counts; the
 * socket's defences (oversized, malformed, endless requests, too many or
 * non-reading clients, another uid) while other clients keep being served.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/unit.h"
#include "labjson.h"
#include "ring_ports.h"
#include "udk_eal.h"
#include "udk_ethdev.h"
#include "udk_mbuf.h"
#include "udk_telemetry.h"

#define NB_PKTS 200

static char tmpdir[64], sock_path[96];

/* ---- a client ---- */

static int client(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read one line (up to len-1 bytes) within timeout_ms: its length, 0 if
 * the server closed first, -ETIMEDOUT. */
static int read_line(int fd, char *buf, size_t len, int timeout_ms)
{
	size_t n = 0;
	double end = now_s() + timeout_ms / 1000.0;

	while (n + 1 < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)((end - now_s()) * 1000);
		ssize_t r;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return -ETIMEDOUT;
		r = read(fd, buf + n, 1);
		if (r <= 0)
			break;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return (int)n;
}

static bool send_str(int fd, const char *s)
{
	return write(fd, s, strlen(s)) == (ssize_t)strlen(s);
}

/* One request on a new connection; the answer in buf. */
static int ask(const char *cmd, char *buf, size_t len)
{
	char req[128];
	int fd = client(sock_path), n;

	if (fd < 0)
		return fd;
	snprintf(req, sizeof(req), "{\"cmd\":\"%s\"}\n", cmd);
	send_str(fd, req);
	n = read_line(fd, buf, len, 5000);
	close(fd);
	return n;
}

static double num(const char *doc, const char *path)
{
	char b[64];

	if (lab_json_text(lab_json_path(doc, path), b, sizeof(b)) < 0)
		return -1;
	return atof(b);
}

/* ---- the parser and the answers, without a socket ---- */

static char *handle(const char *req)
{
	char *a = NULL;
	size_t len;

	CU_ASSERT_EQUAL_FATAL(udk_telemetry_handle(req, strlen(req), &a, &len), 0);
	CU_ASSERT_EQUAL(strlen(a), len);
	CU_ASSERT_EQUAL(a[len - 1], '\n');
	CU_ASSERT_PTR_NULL(memchr(a, '\n', len - 1)); /* one line */
	CU_ASSERT(lab_json_valid(a));
	return a;
}

static void expect_error(const char *req, const char *code, const char *msg_part)
{
	char *a = handle(req);

	if (!lab_json_is(a, "error.code", code) || strstr(a, msg_part) == NULL)
		fprintf(stderr, "request '%s' -> %s", req, a);
	CU_ASSERT(lab_json_is(a, "error.code", code));
	CU_ASSERT_PTR_NOT_NULL(strstr(a, msg_part));
	CU_ASSERT_PTR_NULL(lab_json_member(a, "data"));
	free(a);
}

static int fail_fn(struct udk_json *j, void *arg)
{
	(void)j;
	(void)arg;
	return -EIO;
}

static int half_fn(struct udk_json *j, void *arg)
{
	(void)arg;
	udk_json_obj_open(j, NULL); /* never closed */
	return 0;
}

static int echo_fn(struct udk_json *j, void *arg)
{
	udk_json_obj_open(j, NULL);
	udk_json_str(j, "s", arg);
	udk_json_double(j, "nan", 0.0 / 0.0);
	udk_json_i64(j, "neg", -5);
	udk_json_obj_close(j);
	return 0;
}

static void test_parser(void)
{
	char *a, big[1100];

	a = handle("{\"cmd\":\"help\"}");
	CU_ASSERT(lab_json_is(a, "cmd", "help"));
	CU_ASSERT(lab_json_is(a, "data.0.cmd", "help"));
	free(a);
	a = handle(" { \"cmd\" :\t\"help\" } \r");
	CU_ASSERT(lab_json_is(a, "cmd", "help"));
	free(a);
	expect_error("", "EINVAL", "a request is a JSON object");
	expect_error("help", "EINVAL", "a request is a JSON object");
	expect_error("[\"help\"]", "EINVAL", "a request is a JSON object");
	expect_error("{\"cmd\":\"help\",\"x\":1}", "EINVAL", "no other member");
	expect_error("{\"command\":\"help\"}", "EINVAL", "first member is \\\"cmd\\\"");
	expect_error("{\"cmd\":\"he\\u006cp\"}", "EINVAL", "a-z, 0-9 and _");
	expect_error("{\"cmd\":\"HELP\"}", "EINVAL", "a-z, 0-9 and _");
	expect_error("{\"cmd\":\"\"}", "EINVAL", "empty string");
	expect_error("{\"cmd\":\"help}", "EINVAL", "a-z, 0-9 and _");
	expect_error("{\"cmd\":\"help", "EINVAL", "unterminated string");
	expect_error("{\"cmd\":42}", "EINVAL", "expected a string");
	expect_error("{\"cmd\" \"help\"}", "EINVAL", "expected ':'");
	expect_error("{\"cmd\":\"help\"} x", "EINVAL", "trailing bytes");
	expect_error("{\"cmd\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", "EINVAL", "too long");
	expect_error("{\"cmd\":\"nosuch\"}", "ENOENT", "unknown command 'nosuch'");
	memset(big, ' ', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	expect_error(big, "E2BIG", "request too long");
	/* A NUL inside is just a byte that is not allowed. */
	{
		char *b = NULL;
		size_t len;

		CU_ASSERT_EQUAL(udk_telemetry_handle("{\"cmd\":\"he\0p\"}", 14, &b, &len), 0);
		CU_ASSERT(lab_json_is(b, "error.code", "EINVAL"));
		free(b);
	}
}

static void test_providers(void)
{
	char *a;

	CU_ASSERT_EQUAL(udk_telemetry_register("t_fail", "fails", fail_fn, NULL), 0);
	CU_ASSERT_EQUAL(udk_telemetry_register("t_half", "half a value", half_fn, NULL), 0);
	CU_ASSERT_EQUAL(udk_telemetry_register("t_echo", "echo", echo_fn, "q\"\\\n\x01"), 0);
	CU_ASSERT_EQUAL(udk_telemetry_register("t_echo", "again", echo_fn, NULL), -EEXIST);
	CU_ASSERT_EQUAL(udk_telemetry_register("help", "mine", echo_fn, NULL), -EINVAL);
	CU_ASSERT_EQUAL(udk_telemetry_register("Bad", "x", echo_fn, NULL), -EINVAL);
	CU_ASSERT_EQUAL(udk_telemetry_register("ok", "x", NULL, NULL), -EINVAL);
	expect_error("{\"cmd\":\"t_fail\"}", "EIO", "'t_fail' failed");
	expect_error("{\"cmd\":\"t_half\"}", "EPROTO", "no complete value");
	a = handle("{\"cmd\":\"t_echo\"}");
	CU_ASSERT(lab_json_is(a, "data.s", "q\"\\\n\x01"));
	CU_ASSERT(lab_json_is(a, "data.nan", "null"));
	CU_ASSERT(lab_json_is(a, "data.neg", "-5"));
	free(a);
	a = handle("{\"cmd\":\"help\"}");
	CU_ASSERT_PTR_NOT_NULL(strstr(a, "\"cmd\":\"t_echo\",\"help\":\"echo\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(a, "\"cmd\":\"ports\"")); /* ethdev's, from its constructor */
	CU_ASSERT_PTR_NOT_NULL(strstr(a, "\"cmd\":\"nvme\""));
	free(a);
	CU_ASSERT_EQUAL(udk_telemetry_unregister("t_fail"), 0);
	CU_ASSERT_EQUAL(udk_telemetry_unregister("t_half"), 0);
	CU_ASSERT_EQUAL(udk_telemetry_unregister("t_echo"), 0);
	CU_ASSERT_EQUAL(udk_telemetry_unregister("t_echo"), -ENOENT);
	expect_error("{\"cmd\":\"t_echo\"}", "ENOENT", "unknown command");
}

/* A command with parameters: echoes "name" and "n", fails with its own
 * message when "fail" is given. */
static int params_fn(struct udk_json *j, struct udk_telemetry_req *req, void *arg)
{
	static const char *const known[] = {"name", "n", "fail", NULL};
	const char *bad = udk_telemetry_param_unknown(req, known);
	uint64_t n = 0;
	int rc;

	(void)arg;
	if (bad != NULL) {
		udk_telemetry_req_error(req, "unknown parameter '%s'", bad);
		return -EINVAL;
	}
	if (udk_telemetry_param(req, "fail") != NULL) {
		udk_telemetry_req_error(req, "no device %s here", udk_telemetry_param(req, "fail"));
		return -ENODEV;
	}
	rc = udk_telemetry_param_u64(req, "n", &n);
	if (rc == -EINVAL) {
		udk_telemetry_req_error(req, "'n' is a number");
		return rc;
	}
	udk_json_obj_open(j, NULL);
	udk_json_str(j, "name", udk_telemetry_param(req, "name"));
	udk_json_u64(j, "n", n);
	udk_json_bool(j, "has_n", rc == 0);
	udk_json_obj_close(j);
	return 0;
}

static void test_params(void)
{
	char *a;

	CU_ASSERT_EQUAL(udk_telemetry_register_req("t_params", "params", params_fn, NULL), 0);
	CU_ASSERT_EQUAL(udk_telemetry_register_req("t_params", "again", params_fn, NULL), -EEXIST);
	a = handle("{\"cmd\":\"t_params\",\"params\":{\"name\":\"nqn.2026-12.io.udk:a b/c\",\"n\":42}}");
	CU_ASSERT(lab_json_is(a, "data.name", "nqn.2026-12.io.udk:a b/c"));
	CU_ASSERT(lab_json_is(a, "data.n", "42"));
	free(a);
	a = handle(" { \"cmd\" : \"t_params\" , \"params\" : { } } ");
	CU_ASSERT(lab_json_is(a, "data.name", "null"));
	CU_ASSERT(lab_json_is(a, "data.has_n", "false"));
	free(a);
	a = handle("{\"cmd\":\"t_params\"}"); /* no params at all: as an empty set */
	CU_ASSERT(lab_json_is(a, "data.has_n", "false"));
	free(a);
	a = handle("{\"cmd\":\"t_params\",\"params\":{\"n\":18446744073709551615}}");
	CU_ASSERT(lab_json_is(a, "data.n", "18446744073709551615"));
	free(a);
	expect_error("{\"cmd\":\"t_params\",\"params\":{\"n\":18446744073709551616}}", "EINVAL",
		     "'n' is a number");
	expect_error("{\"cmd\":\"t_params\",\"params\":{\"n\":\"7\"}}", "EINVAL", "'n' is a number");
	expect_error("{\"cmd\":\"t_params\",\"params\":{\"fail\":\"x1\"}}", "ENODEV",
		     "'t_params' failed: no device x1 here");
	expect_error("{\"cmd\":\"t_params\",\"params\":{\"frob\":1}}", "EINVAL",
		     "unknown parameter 'frob'");
	expect_error("{\"cmd\":\"help\",\"params\":{}}", "EINVAL", "'help' takes no parameters");
	expect_error("{\"cmd\":\"t_params\",\"params\":{\"n\":1,\"n\":2}}", "EINVAL", "given twice");
	expect_error("{\"cmd\":\"t_params\",\"params\":{\"name\":\"a\\\"b\"}}", "EINVAL",
		     "without escapes");
	expect_error("{\"cmd\":\"t_params\",\"params\":{\"n\":-1}}", "EINVAL",
		     "a string or an unsigned integer");
	expect_error("{\"cmd\":\"t_params\",\"params\":{\"n\":{}}}", "EINVAL",
		     "a string or an unsigned integer");
	expect_error("{\"cmd\":\"t_params\",\"params\":[]}", "EINVAL", "\\\"params\\\" is an object");
	expect_error("{\"cmd\":\"t_params\",\"params\":{\"n\":1}", "EINVAL", "expected '}'");
	expect_error("{\"cmd\":\"t_params\",\"params\":{\"n\":1 \"m\":2}}", "EINVAL",
		     "expected ',' or '}'");
	expect_error("{\"cmd\":\"t_params\",\"params\":{\"a\":1,\"b\":1,\"c\":1,\"d\":1,"
		     "\"e\":1,\"f\":1,\"g\":1,\"h\":1,\"i\":1}}", "EINVAL", "more than 8 parameters");
	expect_error("{\"cmd\":\"t_params\",\"parms\":{}}", "EINVAL", "no other member than");
	CU_ASSERT_EQUAL(udk_telemetry_unregister("t_params"), 0);
}

/* ---- a process with ports, through its socket ---- */

static struct udk_mempool *mp;
static uint16_t p0, p1;

static int eal_up(void)
{
	char *argv[] = {"test", "--no-huge", "-m", "64", "-l", "0", "--vdev", "net_ring0",
			"--vdev", "net_ring1,peer=net_ring0", "--telemetry-path", sock_path, NULL};

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/udk-tm-XXXXXX");
	if (mkdtemp(tmpdir) == NULL || chmod(tmpdir, 0755) < 0)
		return 1;
	snprintf(sock_path, sizeof(sock_path), "%s/t.sock", tmpdir);
	if (udk_eal_init(12, argv) != 12)
		return 1;
	if (udk_pktmbuf_pool_create("pkts", 512, 32, 0, UDK_SOCKET_ANY, &mp) != 0)
		return 1;
	return 0;
}

static int eal_down(void)
{
	return ring_ports_down(mp, tmpdir);
}

/* Sends NB_PKTS frames of 100 bytes p0 -> p1, receiving as it goes, and
 * counts each poll round on lcore 0: busy when it received something. */
static void test_counters_match(void)
{
	static char buf[65536];
	unsigned int sent = 0, got = 0, busy = 0, idle = 0;
	struct stat st;
	const char *port;

	CU_ASSERT_EQUAL_FATAL(udk_eth_probe_eal(), 2);
	CU_ASSERT_EQUAL(udk_eth_dev_find("net_ring0", &p0), 0);
	CU_ASSERT_EQUAL(udk_eth_dev_find("net_ring1", &p1), 0);
	ring_port_up(p0, mp);
	ring_port_up(p1, mp);
	CU_ASSERT_STRING_EQUAL(udk_telemetry_path(), sock_path);
	CU_ASSERT_EQUAL(stat(sock_path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);

	while (got < NB_PKTS) {
		struct udk_mbuf *m[16];
		uint16_t n = 0, k;

		while (sent < NB_PKTS && n < 16) {
			m[n] = udk_pktmbuf_alloc(mp);
			CU_ASSERT_PTR_NOT_NULL_FATAL(m[n]);
			CU_ASSERT_PTR_NOT_NULL_FATAL(udk_pktmbuf_append(m[n], 100));
			n++;
			sent++;
		}
		k = udk_eth_tx_burst(p0, 0, m, n);
		CU_ASSERT_EQUAL_FATAL(k, n);
		n = udk_eth_rx_burst(p1, 0, m, 16);
		for (uint16_t i = 0; i < n; i++)
			udk_pktmbuf_free(m[i]);
		got += n;
		udk_lcore_poll(n > 0);
		if (n > 0)
			busy++;
		else
			idle++;
	}
	/* An idle round or two more, as a poll loop waiting for work does. */
	udk_lcore_poll(false);
	udk_lcore_poll(false);
	idle += 2;

	CU_ASSERT(ask("ports", buf, sizeof(buf)) > 0);
	CU_ASSERT(lab_json_valid(buf));
	CU_ASSERT(lab_json_is(buf, "cmd", "ports"));
	CU_ASSERT_EQUAL(lab_json_length(lab_json_member(buf, "data")), 2);
	for (int i = 0; i < 2; i++) {
		port = lab_json_index(lab_json_member(buf, "data"), i);
		if (lab_json_is(port, "name", "net_ring0")) {
			CU_ASSERT_EQUAL(num(port, "stats.opackets"), NB_PKTS);
			CU_ASSERT_EQUAL(num(port, "stats.obytes"), NB_PKTS * 100);
			CU_ASSERT_EQUAL(num(port, "stats.ipackets"), 0);
			CU_ASSERT(lab_json_is(port, "driver", "net_ring"));
			CU_ASSERT(lab_json_is(port, "started", "true"));
		} else {
			CU_ASSERT(lab_json_is(port, "name", "net_ring1"));
			CU_ASSERT_EQUAL(num(port, "stats.ipackets"), NB_PKTS);
			CU_ASSERT_EQUAL(num(port, "stats.ibytes"), NB_PKTS * 100);
			CU_ASSERT_EQUAL(num(port, "stats.opackets"), 0);
		}
	}

	CU_ASSERT(ask("lcores", buf, sizeof(buf)) > 0);
	CU_ASSERT_EQUAL(lab_json_length(lab_json_member(buf, "data")), 1);
	CU_ASSERT_EQUAL(num(buf, "data.0.busy_polls"), busy);
	CU_ASSERT_EQUAL(num(buf, "data.0.idle_polls"), idle);
	CU_ASSERT(lab_json_is(buf, "data.0.lcore", "0"));

	CU_ASSERT(ask("info", buf, sizeof(buf)) > 0);
	CU_ASSERT_EQUAL(num(buf, "data.pid"), getpid());
	CU_ASSERT(lab_json_is(buf, "data.prog", "test"));
	CU_ASSERT(lab_json_is(buf, "data.args.11", sock_path));
	CU_ASSERT(lab_json_is(buf, "data.socket", sock_path));
	CU_ASSERT(lab_json_is(buf, "data.protocol", "1"));

	{
		struct udk_mem_stats ms;
		struct udk_dmamap_info mi;

		CU_ASSERT(ask("maps", buf, sizeof(buf)) > 0);
		udk_mem_stats(udk_eal_mem(), &ms);
		CU_ASSERT_EQUAL(udk_dmamap_info(udk_eal_dmamap(), &mi), 0);
		CU_ASSERT(ms.segments > 0);
		CU_ASSERT_EQUAL(num(buf, "data.memory.segments"), ms.segments);
		CU_ASSERT_EQUAL(num(buf, "data.memory.bytes_reserved"), ms.bytes_reserved);
		CU_ASSERT_EQUAL(lab_json_length(lab_json_path(buf, "data.memory.segment")),
				(int)ms.segments);
		CU_ASSERT(lab_json_is(buf, "data.maps.0.name", "default"));
		CU_ASSERT_EQUAL(num(buf, "data.maps.0.mappings"), mi.nb_mappings);
		CU_ASSERT_EQUAL(num(buf, "data.maps.0.bytes_mapped"), mi.bytes_mapped);
		CU_ASSERT(num(buf, "data.maps.0.bytes_mapped") >= ms.bytes_reserved);
		CU_ASSERT(num(buf, "data.maps.0.iova_used") >= ms.bytes_reserved);
		CU_ASSERT(lab_json_length(lab_json_path(buf, "data.maps.0.iova_ranges")) > 0);
	}
	CU_ASSERT(ask("devices", buf, sizeof(buf)) > 0);
	CU_ASSERT_EQUAL(lab_json_length(lab_json_member(buf, "data")), 0);
	CU_ASSERT(ask("nvme", buf, sizeof(buf)) > 0);
	CU_ASSERT_EQUAL(lab_json_length(lab_json_member(buf, "data")), 0);
}

/* Several requests in one write, answered in order on one connection. */
static void test_pipelined(void)
{
	char buf[65536];
	int fd = client(sock_path);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(send_str(fd, "{\"cmd\":\"info\"}\n{\"cmd\":\"bogus\"}\n{\"cmd\":\"lcores\"}\n"));
	CU_ASSERT(read_line(fd, buf, sizeof(buf), 5000) > 0);
	CU_ASSERT(lab_json_is(buf, "cmd", "info"));
	CU_ASSERT(read_line(fd, buf, sizeof(buf), 5000) > 0);
	CU_ASSERT(lab_json_is(buf, "error.code", "ENOENT"));
	CU_ASSERT(read_line(fd, buf, sizeof(buf), 5000) > 0);
	CU_ASSERT(lab_json_is(buf, "cmd", "lcores"));
	/* A malformed request does not end the connection. */
	CU_ASSERT(send_str(fd, "{{{\n{\"cmd\":\"info\"}\n"));
	CU_ASSERT(read_line(fd, buf, sizeof(buf), 5000) > 0);
	CU_ASSERT(lab_json_is(buf, "error.code", "EINVAL"));
	CU_ASSERT(read_line(fd, buf, sizeof(buf), 5000) > 0);
	CU_ASSERT(lab_json_is(buf, "cmd", "info"));
	close(fd);
}

/* Oversized: an error, then the server closes (it cannot find the next
 * request's start). */
static void test_oversized(void)
{
	char big[3000], buf[4096];
	int fd = client(sock_path);

	CU_ASSERT_FATAL(fd >= 0);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	send_str(fd, big);
	CU_ASSERT(read_line(fd, buf, sizeof(buf), 5000) > 0);
	CU_ASSERT(lab_json_is(buf, "error.code", "E2BIG"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "request too long"));
	CU_ASSERT_EQUAL(read_line(fd, buf, sizeof(buf), 5000), 0); /* closed */
	close(fd);
}

/* A request that never ends (slowloris): after the request timeout (2 s by
 * default) an error and the end of the connection; meanwhile other clients
 * are answered at once, and the program's own thread never waits. */
static void test_endless(void)
{
	char buf[65536];
	int slow = client(sock_path), slow2 = client(sock_path);
	double t0 = now_s(), t;

	CU_ASSERT_FATAL(slow >= 0 && slow2 >= 0);
	CU_ASSERT(send_str(slow, "{\"cmd\":"));
	CU_ASSERT(send_str(slow2, "{"));
	for (int i = 0; i < 5; i++) {
		double a = now_s();

		CU_ASSERT(ask("info", buf, sizeof(buf)) > 0);
		CU_ASSERT(lab_json_is(buf, "cmd", "info"));
		CU_ASSERT(now_s() - a < 1.0);
		/* The slow client trickles a byte now and then: no newline ever. */
		send_str(slow, " ");
		usleep(200000);
	}
	CU_ASSERT(read_line(slow, buf, sizeof(buf), 6000) > 0);
	t = now_s() - t0;
	CU_ASSERT(lab_json_is(buf, "error.code", "ETIMEDOUT"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "within 2000 ms"));
	CU_ASSERT(t >= 1.9 && t < 4.0);
	CU_ASSERT_EQUAL(read_line(slow, buf, sizeof(buf), 5000), 0);
	CU_ASSERT(read_line(slow2, buf, sizeof(buf), 5000) > 0);
	CU_ASSERT(lab_json_is(buf, "error.code", "ETIMEDOUT"));
	close(slow);
	close(slow2);
}

/* Clients that never read their answers do not hold up the others; more
 * clients than max_conns (16) get an error line and are closed. */
static void test_many_clients(void)
{
	char buf[65536];
	int fds[20], n = 0, refused = 0;

	for (int i = 0; i < 20; i++) {
		fds[i] = client(sock_path);
		CU_ASSERT(fds[i] >= 0);
	}
	/* The first 16 ask for a lot and do not read. */
	for (int i = 0; i < 20; i++) {
		for (int k = 0; k < 50; k++)
			if (send(fds[i], "{\"cmd\":\"maps\"}\n", 15, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
				break;
	}
	usleep(300000);
	for (int i = 16; i < 20; i++) {
		if (read_line(fds[i], buf, sizeof(buf), 3000) > 0 &&
		    lab_json_is(buf, "error.code", "EBUSY"))
			refused++;
	}
	CU_ASSERT_EQUAL(refused, 4);
	/* Every slot is taken by a non-reader: a new client is refused, but
	 * answered, at once. */
	{
		double a = now_s();
		int fd = client(sock_path);

		CU_ASSERT(read_line(fd, buf, sizeof(buf), 3000) > 0);
		CU_ASSERT(lab_json_is(buf, "error.code", "EBUSY"));
		CU_ASSERT(now_s() - a < 1.0);
		close(fd);
	}
	for (int i = 0; i < 20; i++)
		close(fds[i]);
	usleep(200000);
	/* Slots free again. */
	for (int i = 0; i < 3 && n == 0; i++) {
		if (ask("info", buf, sizeof(buf)) > 0 && lab_json_is(buf, "cmd", "info"))
			n = 1;
		else
			usleep(200000);
	}
	CU_ASSERT_EQUAL(n, 1);
}

/* Another user: refused by the socket's mode (0600) and, should it be
 * reachable anyway (a umask window, a chmod), by the SO_PEERCRED check. */
static void test_other_uid(void)
{
	char buf[4096];
	pid_t pid;
	int status;

	if (geteuid() != 0) {
		printf("\n  SKIP other-uid check: needs root to switch to another uid\n");
		return;
	}
	for (int open_mode = 0; open_mode < 2; open_mode++) {
		if (open_mode)
			CU_ASSERT_EQUAL(chmod(sock_path, 0666), 0);
		pid = fork();
		CU_ASSERT_FATAL(pid >= 0);
		if (pid == 0) {
			int fd, n;

			if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
				_exit(10);
			fd = client(sock_path);
			if (fd < 0)
				_exit(fd == -EACCES ? 20 : 21); /* the mode refused it */
			send_str(fd, "{\"cmd\":\"info\"}\n");
			n = read_line(fd, buf, sizeof(buf), 3000);
			_exit(n == 0 ? 30 : 31); /* 30: closed without an answer */
		}
		CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
		CU_ASSERT(WIFEXITED(status));
		CU_ASSERT_EQUAL(WEXITSTATUS(status), open_mode ? 30 : 20);
	}
	CU_ASSERT_EQUAL(chmod(sock_path, 0600), 0);
	/* Root and the owner still get in. */
	CU_ASSERT(ask("info", buf, sizeof(buf)) > 0);
	CU_ASSERT(lab_json_is(buf, "cmd", "info"));
}

/* Start and stop, the default path, the options. */
static void test_server_lifecycle(void)
{
	struct udk_telemetry_opts o;
	char path[200];
	int fd;

	udk_telemetry_opts_init(&o, sizeof(o));
	o.path = sock_path;
	CU_ASSERT_EQUAL(udk_telemetry_start(&o), -EALREADY);
	/* A second process may not take a live server's path. */
	{
		char *argv[] = {"test_telemetry", "--addr-in-use", sock_path, NULL};
		pid_t pid = fork();
		int status;

		CU_ASSERT_FATAL(pid >= 0);
		if (pid == 0) {
			execv("/proc/self/exe", argv);
			_exit(127);
		}
		waitpid(pid, &status, 0);
		CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	fd = client(sock_path);
	CU_ASSERT(fd >= 0); /* still ours, still serving */
	close(fd);

	/* The default path: /run/udk (or a fallback) / prog.pid.sock. */
	{
		char *argv[] = {"unit/te st", "--no-huge", "-m", "32", NULL};
		char want[64];
		struct stat st;

		eal_down();
		CU_ASSERT_EQUAL(access(sock_path, F_OK), -1); /* removed at stop */
		CU_ASSERT_EQUAL_FATAL(udk_eal_init(4, argv), 4);
		CU_ASSERT_PTR_NOT_NULL_FATAL(udk_telemetry_path());
		snprintf(path, sizeof(path), "%s", udk_telemetry_path());
		snprintf(want, sizeof(want), "/te_st.%d.sock", (int)getpid());
		CU_ASSERT_PTR_NOT_NULL(strstr(path, want));
		if (geteuid() == 0)
			CU_ASSERT_EQUAL(strncmp(path, "/run/udk/", 9), 0);
		CU_ASSERT_EQUAL(stat(path, &st), 0);
		CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
		udk_eal_cleanup();
		CU_ASSERT_EQUAL(access(path, F_OK), -1);
	}
	{
		char *argv[] = {"test", "--no-huge", "-m", "32", "--no-telemetry", NULL};

		CU_ASSERT_EQUAL_FATAL(udk_eal_init(5, argv), 5);
		CU_ASSERT_PTR_NULL(udk_telemetry_path());
		udk_eal_cleanup();
	}
	{
		char *argv[] = {"test", "--telemetry-path", "", NULL};
		char longp[200];
		char *argv2[] = {"test", "--no-huge", "--telemetry-path", longp, NULL};

		udk_last_error_clear();
		CU_ASSERT_EQUAL(udk_eal_init(3, argv), -UDK_EARGS);
		CU_ASSERT_LAST_ERROR_HAS("is not a socket path");
		memset(longp, 'a', sizeof(longp) - 1);
		longp[0] = '/';
		longp[sizeof(longp) - 1] = '\0';
		CU_ASSERT_EQUAL(udk_eal_init(4, argv2), -ENAMETOOLONG);
	}
	/* Back up for nothing else: the suite's teardown cleans up twice safely. */
	CU_ASSERT_EQUAL(eal_up(), 0);
}

/* The second process of test_server_lifecycle: 0 if the EAL refuses the
 * path a live server holds. */
static int addr_in_use(char *path)
{
	char *argv[] = {"test2", "--no-huge", "-m", "32", "--telemetry-path", path, NULL};

	unit_quiet_logs();
	return udk_eal_init(6, argv) == -EADDRINUSE &&
			       strstr(udk_last_error(), "another process serves telemetry") ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const struct unit_test pure[] = {
		{"parser", test_parser},
		{"providers", test_providers},
		{"commands with parameters", test_params},
	};
	static const struct unit_test live[] = {
		{"counters match what the process did", test_counters_match},
		{"pipelined and malformed requests", test_pipelined},
		{"oversized request", test_oversized},
		{"endless request", test_endless},
		{"too many and non-reading clients", test_many_clients},
		{"another uid cannot connect", test_other_uid},
		{"start, stop, default path, options", test_server_lifecycle},
	};

	if (argc == 3 && strcmp(argv[1], "--addr-in-use") == 0)
		return addr_in_use(argv[2]);
	signal(SIGPIPE, SIG_IGN);
	unit_quiet_logs();
	if (unit_add("telemetry", NULL, NULL, pure, UDK_ARRAY_SIZE(pure)) != 0 ||
	    unit_add("telemetry socket", eal_up, eal_down, live, UDK_ARRAY_SIZE(live)) != 0)
		return 1;
	return unit_run_all();
}
