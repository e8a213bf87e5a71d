/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_broker_session: libFuzzer target for udk-broker's sessions, driven by
 * sequences of what clients can do: connect as one of several users (listed,
 * in a listed group, unlisted), send HELLO, MEM, raw bytes or descriptors,
 * hang up, and let time pass.  It runs the broker's own code (server.c,
 * grant.c, session.c, segment.c, policy.c, lib/broker) over socketpairs,
 * with a clock of its own and maps of backend BROKERED (no IOMMU needed, so
 * grants, parking, reuse and eviction are all reached on a host without
 * VFIO; devices fail to open, as a missing one does).  After every step it
 * checks what the broker promises: every answer parses; no unlisted uid
 * holds a connection; no uid more than its cap; no connection without HELLO
 * past the timeout; a session belongs to one uid and at most one connected
 * client; no session holds more memory than its rule allows. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "udk_util.h"

#define MAX_CLIENTS 12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static uint64_t clock_us = 1000000;
static struct broker b;
static struct server sv;
static int client[MAX_CLIENTS]; /* our end, -1 when free */
static int server_end[MAX_CLIENTS];

void blog(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap); /* the formats are run, printed on demand */
	va_end(ap);
	if (getenv("FUZZ_BROKER_LOG") != NULL)
		fprintf(stderr, "broker: %s\n", line);
}

uint64_t now_us(void)
{
	return clock_us;
}

static const struct ucred who[] = {
	{.pid = 10, .uid = 1000, .gid = 1000}, /* user rule with a device and 8 MiB */
	{.pid = 11, .uid = 1001, .gid = 1001}, /* user rule, memory only */
	{.pid = 12, .uid = 3000, .gid = 2000}, /* matched by its group's rule */
	{.pid = 13, .uid = 4242, .gid = 4242}, /* in no rule */
	{.pid = 14, .uid = 1000, .gid = 1000}, /* the first user again */
	{.pid = 15, .uid = 0, .gid = 0},       /* root is not special: no rule */
};

static const char *const bdfs[] = {"0000:00:04.0", "0000:00:05.0", "0000:02:00.0",
				   "0000:00:04.0"};

static void quiet(int level, const char *comp, const char *msg, void *arg)
{
	(void)level;
	(void)comp;
	(void)msg;
	(void)arg;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *policy = "user 1000 devices 0000:00:04.0 mem 8M\n"
			     "user 1001 devices - mem 4M\n"
			     "group 2000 devices 0000:00:05.0,0000:02:00.0 mem 2M\n";
	char err[600];

	(void)argc;
	(void)argv;
	udk_log_set_sink(quiet, NULL);
	if (policy_parse(policy, "fuzz.policy", &b.policy, err, sizeof(err)) < 0 ||
	    server_init(&sv, &b, -1) < 0)
		abort();
	snprintf(b.huge_dir, sizeof(b.huge_dir), "/dev/hugepages");
	b.huge_page = 2 << 20;
	b.map_backend = UDK_DMAMAP_BROKERED;
	for (int i = 0; i < MAX_CLIENTS; i++)
		client[i] = -1;
	return 0;
}

static int conn_index(int k)
{
	for (size_t i = 0; i < sv.nb_conns; i++)
		if (sv.conns[i].sock == server_end[k])
			return (int)i;
	return -1;
}

/* Everything the broker sent to client k must parse as a broker message. */
static void drain(int k)
{
	char buf[UDK_BROKER_MSG_MAX], why[256];
	static struct udk_broker_msg m;
	int fds[UDK_BROKER_MAX_FDS];
	unsigned int nfds;
	size_t len;
	int rc;

	for (;;) {
		rc = udk_broker_recv(client[k], buf, sizeof(buf), &len, fds, UDK_BROKER_MAX_FDS,
				     &nfds);
		if (rc == -EAGAIN)
			return;
		if (rc < 0 || len == 0) {
			close(client[k]); /* the broker hung up */
			client[k] = -1;
			return;
		}
		if (udk_broker_parse(buf, len, nfds, UDK_BROKER_FROM_BROKER, &m, why,
				     sizeof(why)) < 0)
			abort();
		for (unsigned int i = 0; i < nfds; i++)
			close(fds[i]);
	}
}

static void check(void)
{
	for (size_t i = 0; i < sv.nb_conns; i++) {
		const struct conn *c = &sv.conns[i];
		unsigned int same = 0;

		if (policy_match(&b.policy, c->uid, c->gid) == NULL)
			abort();
		for (size_t j = 0; j < sv.nb_conns; j++)
			same += sv.conns[j].uid == c->uid;
		if (same > BROKER_MAX_PER_UID)
			abort();
		if (c->s == NULL && clock_us >= c->since_us + sv.hello_timeout_us)
			abort();
		if (c->s != NULL && (c->s->uid != c->uid || c->s->sock != c->sock))
			abort();
	}
	for (struct session *s = b.sessions; s != NULL; s = s->next) {
		bool found = s->sock < 0;

		for (struct session *o = s->next; o != NULL; o = o->next)
			if (o->uid == s->uid)
				abort();
		for (size_t i = 0; i < sv.nb_conns; i++)
			found |= sv.conns[i].s == s;
		if (!found || (s->rule != NULL && s->mem > s->rule->mem))
			abort();
	}
}

static void do_connect(uint8_t arg)
{
	int pair[2], k;

	for (k = 0; k < MAX_CLIENTS && client[k] >= 0; k++)
		;
	if (k == MAX_CLIENTS ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) < 0)
		return;
	client[k] = pair[0];
	server_end[k] = pair[1];
	server_admit(&sv, pair[1], &who[arg % (sizeof(who) / sizeof(who[0]))]);
}

/* Send buf from client k with nfds descriptors, and let the broker read it. */
static void do_send(int k, const void *buf, size_t len, unsigned int nfds)
{
	int fds[3], i;

	if (client[k] < 0)
		return;
	for (unsigned int n = 0; n < nfds; n++)
		fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	udk_broker_send(client[k], buf, len, fds, nfds);
	for (unsigned int n = 0; n < nfds; n++)
		close(fds[n]);
	i = conn_index(k);
	if (i >= 0)
		server_serve(&sv, (size_t)i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct udk_broker_msg m;
	char buf[UDK_BROKER_MSG_MAX];
	size_t p = 0;
	int n, i;

	while (p < size) {
		uint8_t op = data[p] & 7, arg = data[p] >> 3;
		int k = arg % MAX_CLIENTS;

		p++;
		switch (op) {
		case 0:
			do_connect(arg);
			break;
		case 1: /* HELLO: device mask and MiB in the next two bytes */
		case 2: /* MEM: MiB in the next byte */
			memset(&m, 0, sizeof(m));
			if (op == 1 && p + 2 <= size) {
				m.type = UDK_BROKER_HELLO;
				for (unsigned int d = 0; d < 4; d++)
					if (data[p] & (1u << d))
						strcpy(m.u.hello.devs[m.u.hello.nb_devs++], bdfs[d]);
				m.u.hello.mem = (uint64_t)data[p + 1] << 19; /* half MiB steps */
				p += 2;
			} else if (op == 2 && p + 1 <= size) {
				m.type = UDK_BROKER_MEM;
				m.u.mem.len = ((uint64_t)data[p] + 1) << 19;
				p++;
			} else {
				return 0;
			}
			n = udk_broker_build(&m, buf, sizeof(buf), NULL, 0);
			if (n > 0) /* a HELLO with a repeated address does not build */
				do_send(k, buf, (size_t)n, 0);
			break;
		case 3: /* raw bytes with descriptors: length, count, then the bytes */
			if (p + 2 > size)
				return 0;
			n = data[p] < size - p - 2 ? data[p] : (int)(size - p - 2);
			do_send(k, data + p + 2, (size_t)n, data[p + 1] % 4);
			p += 2 + (size_t)n;
			break;
		case 4: /* the client hangs up */
			if (client[k] >= 0) {
				close(client[k]);
				client[k] = -1;
				i = conn_index(k);
				if (i >= 0)
					server_serve(&sv, (size_t)i);
			}
			break;
		default: /* time passes: up to 15.5 s */
			clock_us += (uint64_t)arg * 500000u;
			server_expire(&sv);
			break;
		}
		for (int c = 0; c < MAX_CLIENTS; c++)
			if (client[c] >= 0)
				drain(c);
		check();
	}
	while (sv.nb_conns > 0)
		server_drop(&sv, sv.nb_conns - 1, "end of input");
	while (b.sessions != NULL)
		session_evict(&b, b.sessions, "end of input");
	for (int c = 0; c < MAX_CLIENTS; c++) {
		if (client[c] >= 0)
			close(client[c]);
		client[c] = -1;
	}
	return 0;
}
