/* SPDX-License-Identifier: BSD-3-Clause */
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

/* Descriptors a client sent are closed off the serving thread: the last
 * close of a file can take as long as its sender wants (a TCP socket
 * lingering on a full send queue, even one queued inside a UNIX socket where
 * SO_LINGER cannot reach it; a FUSE file's flush).  Each uid has a closing
 * thread of its own while it has descriptors waiting, so a stalled close
 * holds up only its sender's, and a uid with BROKER_MAX_WAITING_FDS waiting
 * is refused at accept.  The sockets of dropped connections go the same way
 * (what is queued on them closes with them). */
static void *closer_main(void *arg)
{
	struct waiting *w = arg;
	struct server *sv = w->sv;
	int fd;

	for (;;) {
		if (read(w->pipe[0], &fd, sizeof(fd)) != (ssize_t)sizeof(fd))
			break; /* cannot happen: the write end stays open until here */
		close(fd);
		pthread_mutex_lock(&sv->waiting_lock);
		if (--w->n == 0 && w != &sv->waiting_shared) {
			close(w->pipe[0]);
			close(w->pipe[1]);
			w->running = false;
			pthread_mutex_unlock(&sv->waiting_lock);
			return NULL;
		}
		pthread_mutex_unlock(&sv->waiting_lock);
	}
	return NULL;
}

/* Start w's closing thread (and its pipe).  0 or a negative errno. */
static int closer_start(struct server *sv, struct waiting *w, uid_t uid)
{
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	if (pipe2(w->pipe, O_CLOEXEC) < 0)
		return -errno;
	fcntl(w->pipe[1], F_SETPIPE_SZ, 1 << 20);
	fcntl(w->pipe[1], F_SETFL, O_NONBLOCK);
	w->sv = sv;
	w->uid = uid;
	w->n = 0;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 << 10);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, closer_main, w);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		close(w->pipe[0]);
		close(w->pipe[1]);
		return -rc;
	}
	w->running = true;
	return 0;
}

/* Under waiting_lock: uid's closer, or a new one for it; the shared one
 * (started with the server, so it needs no descriptor now) when every slot
 * is taken by stalled senders or a thread cannot start (out of descriptors:
 * accept() is failing too). */
static struct waiting *closer_for(struct server *sv, uid_t uid)
{
	struct waiting *w = NULL;

	for (size_t i = 0; i < BROKER_WAITING_SLOTS; i++) {
		if (sv->waiting[i].running && sv->waiting[i].uid == uid)
			return &sv->waiting[i];
		if (!sv->waiting[i].running && w == NULL)
			w = &sv->waiting[i];
	}
	if (w == NULL || closer_start(sv, w, uid) < 0)
		return &sv->waiting_shared;
	return w;
}

static unsigned int waiting_of(struct server *sv, uid_t uid)
{
	unsigned int n = 0;
	bool full = true;

	pthread_mutex_lock(&sv->waiting_lock);
	for (size_t i = 0; i < BROKER_WAITING_SLOTS; i++) {
		if (sv->waiting[i].running && sv->waiting[i].uid == uid)
			n = sv->waiting[i].n;
		full &= sv->waiting[i].running;
	}
	if (n == 0 && full)
		n = sv->waiting_shared.n;
	pthread_mutex_unlock(&sv->waiting_lock);
	return n;
}

int server_init(struct server *sv, struct broker *b, int ls)
{
	memset(sv, 0, sizeof(*sv));
	sv->b = b;
	sv->ls = ls;
	sv->hello_timeout_us = BROKER_HELLO_TIMEOUT_MS * 1000ull;
	sv->max_per_uid = BROKER_MAX_PER_UID;
	pthread_mutex_init(&sv->waiting_lock, NULL);
	return closer_start(sv, &sv->waiting_shared, (uid_t)-1);
}

void server_fini(struct server *sv)
{
	/* The closers are not waited for: one may be stuck on a client's
	 * descriptor, and the process's exit closes what is left without
	 * lingering. */
	while (sv->nb_conns > 0)
		server_drop(sv, sv->nb_conns - 1, "broker stopping");
}

/* Hand a descriptor uid sent to its closer.  A socket is made to close at
 * once (no linger: its queued data is dropped, the peer sees a reset). */
static void discard_fd(struct server *sv, int fd, uid_t uid)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	struct waiting *w;
	bool queued = false;

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)); /* ENOTSOCK: not a socket */
	pthread_mutex_lock(&sv->waiting_lock);
	w = closer_for(sv, uid);
	if (write(w->pipe[1], &fd, sizeof(fd)) == (ssize_t)sizeof(fd)) {
		w->n++;
		queued = true;
	}
	pthread_mutex_unlock(&sv->waiting_lock);
	if (queued)
		return;
	/* Its closer's queue is full (stuck on an earlier one): keep it open
	 * rather than block (it counts against RLIMIT_NOFILE, which accept()
	 * handles). */
	sv->fds_kept++;
	if (!sv->fds_kept_logged) {
		blog("descriptors sent by uid %u wait behind one whose close does not return; "
		     "%llu kept open", (unsigned int)uid, (unsigned long long)sv->fds_kept);
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
	if (waiting_of(sv, cr->uid) >= BROKER_MAX_WAITING_FDS) {
		refuse_at_accept(sv, s, cr, -EBUSY, "descriptors uid %u sent are still waiting to "
				 "be closed (%u, the most one user may have); try again later",
				 (unsigned int)cr->uid, BROKER_MAX_WAITING_FDS);
		return -EBUSY;
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
	/* Messages still queued on the socket may carry descriptors, whose
	 * last close comes with the socket's: its user's closer closes it. */
	discard_fd(sv, c->sock, c->uid);
	sv->conns[i] = sv->conns[--sv->nb_conns];
}

void server_serve(struct server *sv, size_t i)
{
	char buf[UDK_BROKER_MSG_MAX];
	int fds[UDK_BROKER_RECV_ALL_FDS];
	struct conn *c = &sv->conns[i];
	unsigned int nfds;
	size_t len;
	int rc;

	/* Every descriptor that came goes to the closer, whatever the message:
	 * clients send none, and the parser refuses a message that has any. */
	rc = udk_broker_recv_all(c->sock, buf, sizeof(buf), &len, fds, &nfds);
	for (unsigned int k = 0; k < nfds; k++)
		discard_fd(sv, fds[k], c->uid);
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
	rc = grant_message(sv->b, c, buf, len, nfds);
	if (rc < 0)
		server_drop(sv, i, "request refused");
}

/* A hole in a segment is the one thing the seals leave a client to do to
 * it, and it is a policy violation: the client's mapping faults in fresh
 * hugepages for the hole while the IOMMU keeps the old ones pinned, so the
 * client would hold more than its 'mem' (twice it at most) until eviction.
 * Evicting now gives both back; refusing the user from then on keeps it
 * from doing it again with a new grant (the fd it kept of the evicted
 * segment still lets it fault in up to that segment's size). */
unsigned int server_check_holes(struct server *sv)
{
	struct broker *b = sv->b;
	unsigned int n = 0;

	for (struct session *s = b->sessions, *next; s != NULL; s = next) {
		unsigned int seg;
		uint64_t off;
		char why[160];

		next = s->next;
		if (!session_hole(s, &seg, &off))
			continue;
		blog("uid %u: segment %u (IOVA 0x%llx, %llu MiB) has a hole punched at offset "
		     "0x%llx: policy violation; evicting, and refusing uid %u until the broker "
		     "restarts", (unsigned int)s->uid, seg, (unsigned long long)s->segs[seg].iova,
		     (unsigned long long)(s->segs[seg].len >> 20), (unsigned long long)off,
		     (unsigned int)s->uid);
		snprintf(why, sizeof(why), "hole punched in segment %u", seg);
		for (size_t i = sv->nb_conns; i-- > 0;) {
			struct conn *c = &sv->conns[i];

			if (c->s != s)
				continue;
			grant_refuse(c, -EPERM, true, "segment %u of uid %u has a hole punched in "
				     "it (FALLOC_FL_PUNCH_HOLE), which the broker does not allow: "
				     "evicted", seg, (unsigned int)s->uid);
			server_drop(sv, i, why);
		}
		if (!session_banned(b, s->uid))
			b->banned[b->nb_banned++ % BROKER_MAX_BANNED] = s->uid;
		session_evict(b, s, why);
		n++;
	}
	sv->next_hole_check_us = now_us() + BROKER_HOLE_CHECK_MS * 1000ull;
	return n;
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
	if (sv->b->sessions != NULL && sv->next_hole_check_us < next)
		next = sv->next_hole_check_us > now ? sv->next_hole_check_us : now;
	if (next == UINT64_MAX)
		return -1;
	return (int)((next - now + 999) / 1000);
}

int server_step(struct server *sv, int max_wait_ms)
{
	struct pollfd pf[BROKER_MAX_CLIENTS + 1];
	int wait = server_expire(sv);
	bool listening = now_us() >= sv->accept_paused_until, served = false;

	if (max_wait_ms >= 0 && (wait < 0 || wait > max_wait_ms))
		wait = max_wait_ms;
	pf[0] = (struct pollfd){.fd = listening ? sv->ls : -1, .events = POLLIN};
	for (size_t i = 0; i < sv->nb_conns; i++)
		pf[i + 1] = (struct pollfd){.fd = sv->conns[i].sock, .events = POLLIN};
	if (poll(pf, sv->nb_conns + 1, wait) < 0)
		return errno == EINTR ? 0 : -errno;
	/* Backwards: server_drop() moves the last connection into the slot. */
	for (size_t i = sv->nb_conns; i-- > 0;) {
		if (pf[i + 1].revents & POLLIN) {
			server_serve(sv, i);
			served = true;
		} else if (pf[i + 1].revents & (POLLHUP | POLLERR | POLLNVAL)) {
			server_drop(sv, i, "socket closed");
		}
	}
	if (pf[0].revents & POLLIN)
		accept_one(sv);
	/* After every request, and once a tick: mincore() over each segment,
	 * a few microseconds, never a wait. */
	if (served || now_us() >= sv->next_hole_check_us)
		server_check_holes(sv);
	return 0;
}
