/* server.c - udk-broker's connections: who may take a slot (accept), what a
 * connection may cost the broker before it is a client (time, slots, file
 * descriptors), and the loop that serves them on the broker's one thread.
 * Nothing a connection sends or does may block that thread or starve other
 * users: doc/broker.md, "Threat model", lists what this file answers for. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "udk_util.h"

#define ACCEPT_PAUSE_US 100000u /* after accept() ran out of descriptors */
#define LOG_REFUSED_EVERY_US 1000000u

/* Descriptors a client attached to a message are closed here, never on the
 * serving thread: the last close of a file can take as long as its owner
 * wants (a TCP socket lingering on a full send queue, a FUSE file's flush). */
static void *closer_main(void *arg)
{
	struct server *sv = arg;
	int fd;

	while (read(sv->closer_pipe[0], &fd, sizeof(fd)) == (ssize_t)sizeof(fd))
		close(fd);
	return NULL;
}

int server_init(struct server *sv, struct broker *b, int ls)
{
	int rc;

	memset(sv, 0, sizeof(*sv));
	sv->b = b;
	sv->ls = ls;
	sv->hello_timeout_us = BROKER_HELLO_TIMEOUT_MS * 1000ull;
	sv->max_per_uid = BROKER_MAX_PER_UID;
	if (pipe2(sv->closer_pipe, O_CLOEXEC) < 0)
		return -errno;
	/* Room for more descriptors than the broker may have open: a write
	 * never waits for the closer (a full pipe is handled below anyway). */
	fcntl(sv->closer_pipe[1], F_SETPIPE_SZ, 1 << 20);
	fcntl(sv->closer_pipe[1], F_SETFL, O_NONBLOCK);
	rc = pthread_create(&sv->closer, NULL, closer_main, sv);
	if (rc != 0) {
		close(sv->closer_pipe[0]);
		close(sv->closer_pipe[1]);
		return -rc;
	}
	pthread_detach(sv->closer);
	return 0;
}

void server_fini(struct server *sv)
{
	while (sv->nb_conns > 0)
		server_drop(sv, sv->nb_conns - 1, "broker stopping");
	/* The closer ends at EOF, when it is done.  Not waited for: it may be
	 * stuck on a client's descriptor, and the process's exit closes what
	 * is left without lingering. */
	close(sv->closer_pipe[1]);
}

/* Hand a client's descriptor to the closer.  A socket is made to close at
 * once (no linger: its queued data is dropped, the peer sees a reset). */
static void discard_fd(struct server *sv, int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)); /* ENOTSOCK: not a socket */
	if (write(sv->closer_pipe[1], &fd, sizeof(fd)) == (ssize_t)sizeof(fd))
		return;
	/* The closer is stuck on earlier ones: keep this one open rather than
	 * block (it counts against RLIMIT_NOFILE, which accept() handles). */
	sv->fds_kept++;
	if (!sv->fds_kept_logged) {
		blog("descriptors sent by clients are not being closed (the closer is blocked on "
		     "one); %llu kept open", (unsigned long long)sv->fds_kept);
		sv->fds_kept_logged = true;
	}
}

static unsigned int conns_of(const struct server *sv, uid_t uid)
{
	unsigned int n = 0;

	for (size_t i = 0; i < sv->nb_conns; i++)
		n += sv->conns[i].uid == uid;
	return n;
}

/* A refusal at accept is logged at most once a second per uid in a row, so
 * that a user hammering the socket cannot fill the log. */
static void refuse_at_accept(struct server *sv, int s, const struct ucred *cr, int code,
			     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void refuse_at_accept(struct server *sv, int s, const struct ucred *cr, int code,
			     const char *fmt, ...)
{
	struct conn c = {.sock = s, .uid = cr->uid, .gid = cr->gid, .pid = cr->pid};
	uint64_t now = now_us();
	char text[300];
	bool quiet = cr->uid == sv->last_refused_uid && now - sv->last_refused_us <
		     LOG_REFUSED_EVERY_US;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (!quiet) {
		sv->last_refused_uid = cr->uid;
		sv->last_refused_us = now;
	}
	grant_refuse(&c, code, quiet, "%s", text);
	close(s);
}

int server_admit(struct server *sv, int s, const struct ucred *cr)
{
	const struct policy *p = &sv->b->policy;

	/* Before a slot is taken: a user the policy does not name can hold
	 * none, one who is named only a few. */
	if (policy_match(p, cr->uid, cr->gid) == NULL) {
		refuse_at_accept(sv, s, cr, -EACCES, "uid %u (gid %u) has no grant in policy %s; "
				 "the administrator adds a line 'user %u devices BDF,... mem SIZE'",
				 (unsigned int)cr->uid, (unsigned int)cr->gid, p->path,
				 (unsigned int)cr->uid);
		return -EACCES;
	}
	if (conns_of(sv, cr->uid) >= sv->max_per_uid) {
		refuse_at_accept(sv, s, cr, -EBUSY, "uid %u already has %u connections, the most "
				 "one user may have", (unsigned int)cr->uid, sv->max_per_uid);
		return -EBUSY;
	}
	if (sv->nb_conns == BROKER_MAX_CLIENTS) {
		refuse_at_accept(sv, s, cr, -EBUSY, "%d connections already; try again later",
				 BROKER_MAX_CLIENTS);
		return -EBUSY;
	}
	sv->conns[sv->nb_conns++] = (struct conn){.sock = s, .uid = cr->uid, .gid = cr->gid,
						  .pid = cr->pid, .since_us = now_us()};
	return 0;
}

static void accept_one(struct server *sv)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	int s = accept4(sv->ls, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (s < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* The connection stays in the backlog, so poll() would
			 * wake at once forever: stop listening for a moment. */
			if (!sv->accept_failing)
				blog("accept: %s; new connections wait until descriptors are "
				     "freed (raise the broker's RLIMIT_NOFILE, e.g. LimitNOFILE= "
				     "in its unit)", strerror(errno));
			sv->accept_failing = true;
			sv->accept_paused_until = now_us() + ACCEPT_PAUSE_US;
		}
		return;
	}
	if (sv->accept_failing) {
		blog("accept: works again");
		sv->accept_failing = false;
	}
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
		blog("REFUSED a connection: SO_PEERCRED: %s", strerror(errno));
		close(s);
		return;
	}
	server_admit(sv, s, &cr);
}

void server_drop(struct server *sv, size_t i, const char *why)
{
	struct conn *c = &sv->conns[i];

	if (c->s != NULL) {
		blog("uid %u pid %d: client gone (%s)", (unsigned int)c->uid, (int)c->pid, why);
		session_park(c->s);
	}
	/* Closed by the closer too: messages still queued on it may carry
	 * descriptors, whose last close comes with the socket's. */
	discard_fd(sv, c->sock);
	sv->conns[i] = sv->conns[--sv->nb_conns];
}

void server_serve(struct server *sv, size_t i)
{
	char buf[UDK_BROKER_MSG_MAX];
	int fds[UDK_BROKER_MAX_FDS];
	struct conn *c = &sv->conns[i];
	unsigned int nfds;
	size_t len;
	int rc;

	rc = udk_broker_recv(c->sock, buf, sizeof(buf), &len, fds, UDK_BROKER_MAX_FDS, &nfds);
	if (rc == -EAGAIN)
		return;
	if (rc < 0) {
		blog("REFUSED uid %u pid %d: unreadable message (%s)", (unsigned int)c->uid,
		     (int)c->pid, udk_strerror(rc));
		server_drop(sv, i, "bad message");
		return;
	}
	if (len == 0) {
		server_drop(sv, i, "socket closed");
		return;
	}
	/* Clients send no descriptors: the parser refuses the message. */
	for (unsigned int k = 0; k < nfds; k++)
		discard_fd(sv, fds[k]);
	rc = grant_message(sv->b, c, buf, len, nfds);
	if (rc < 0)
		server_drop(sv, i, "request refused");
}

int server_expire(struct server *sv)
{
	uint64_t now = now_us(), next = UINT64_MAX;

	for (size_t i = sv->nb_conns; i-- > 0;) {
		struct conn *c = &sv->conns[i];
		uint64_t end = c->since_us + sv->hello_timeout_us;

		if (c->s != NULL)
			continue;
		if (now >= end) {
			grant_refuse(c, -ETIMEDOUT, false, "no HELLO within %llu ms of connecting",
				     (unsigned long long)(sv->hello_timeout_us / 1000));
			server_drop(sv, i, "no HELLO");
			continue;
		}
		next = end < next ? end : next;
	}
	if (sv->accept_paused_until > now && sv->accept_paused_until < next)
		next = sv->accept_paused_until;
	if (next == UINT64_MAX)
		return -1;
	return (int)((next - now + 999) / 1000);
}

int server_step(struct server *sv, int max_wait_ms)
{
	struct pollfd pf[BROKER_MAX_CLIENTS + 1];
	int wait = server_expire(sv);
	bool listening = now_us() >= sv->accept_paused_until;

	if (max_wait_ms >= 0 && (wait < 0 || wait > max_wait_ms))
		wait = max_wait_ms;
	pf[0] = (struct pollfd){.fd = listening ? sv->ls : -1, .events = POLLIN};
	for (size_t i = 0; i < sv->nb_conns; i++)
		pf[i + 1] = (struct pollfd){.fd = sv->conns[i].sock, .events = POLLIN};
	if (poll(pf, sv->nb_conns + 1, wait) < 0)
		return errno == EINTR ? 0 : -errno;
	/* Backwards: server_drop() moves the last connection into the slot. */
	for (size_t i = sv->nb_conns; i-- > 0;) {
		if (pf[i + 1].revents & POLLIN)
			server_serve(sv, i);
		else if (pf[i + 1].revents & (POLLHUP | POLLERR | POLLNVAL))
			server_drop(sv, i, "socket closed");
	}
	if (pf[0].revents & POLLIN)
		accept_one(sv);
	return 0;
}
