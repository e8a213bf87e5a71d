/* SPDX-License-Identifier: BSD-3-Clause */
/* server.c - the telemetry socket: one control thread (not an lcore) that
 * polls a listening UNIX socket and up to max_conns clients, all
 * non-blocking, each with its own bounded input buffer.  A client that sends
 * a line too long, never ends its line, stops reading, or is another user is
 * dropped without holding up the others or the program.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "telemetry_internal.h"
#include "udk_util.h"

#define MAX_CONNS 64
#define PATH_LEN 108 /* sizeof(sockaddr_un.sun_path) */

struct conn {
	int fd;                      /* -1: free slot */
	char in[UDK_TELEMETRY_MAX_REQ];
	size_t in_len;
	uint64_t req_start_ms;       /* first byte of an unfinished request; 0: none */
	uint64_t active_ms;          /* last byte read or written */
	char *out;                   /* answers not yet sent */
	size_t out_len, out_off;
	bool closing;                /* close once out is sent */
};

static pthread_mutex_t ctl_lock = PTHREAD_MUTEX_INITIALIZER; /* start/stop */
static struct {
	bool running;
	pthread_t thread;
	int lfd;
	int wake[2];                 /* stop writes wake[1] */
	char path[PATH_LEN];
	struct udk_telemetry_opts opts;
	struct conn conns[MAX_CONNS];
} srv = {.lfd = -1, .wake = {-1, -1}};

void udk_telemetry_opts_init(struct udk_telemetry_opts *opts, size_t size)
{
	struct udk_telemetry_opts d = {
		.opts_size = size,
		.prog = "udk",
		.max_conns = 16,
		.req_timeout_ms = 2000,
		.idle_timeout_ms = 60000,
	};

	memset(opts, 0, size);
	memcpy(opts, &d, size < sizeof(d) ? size : sizeof(d));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- where the socket goes ---- */

/* dir exists (made now if missing, with mode) and we may create files in it;
 * a private fallback (mode 0700) must also be ours and closed to others. */
static bool dir_usable(const char *dir, mode_t mode, bool private_dir)
{
	struct stat st;

	if (mkdir(dir, mode) < 0 && errno != EEXIST)
		return false;
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return false;
	if (private_dir && (st.st_uid != geteuid() || (st.st_mode & 077) != 0))
		return false;
	return access(dir, W_OK | X_OK) == 0;
}

size_t udk_telemetry_dirs(char (*dirs)[108], size_t max)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	size_t n = 0;

	if (n < max)
		snprintf(dirs[n++], PATH_LEN, "/run/udk");
	if (n < max && xdg != NULL && xdg[0] == '/' && strlen(xdg) + 5 < PATH_LEN)
		snprintf(dirs[n++], PATH_LEN, "%s/udk", xdg);
	if (n < max)
		snprintf(dirs[n++], PATH_LEN, "/tmp/udk-%u", (unsigned int)geteuid());
	return n;
}

static int default_path(const char *prog, char *path)
{
	char dirs[3][PATH_LEN], name[40];
	size_t nd = udk_telemetry_dirs(dirs, 3), k = 0;
	const char *base = strrchr(prog, '/');

	/* The program's base name, reduced to characters safe in a file name. */
	for (base = base ? base + 1 : prog; *base != '\0' && k + 1 < sizeof(name) - 8; base++) {
		char ch = *base;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';

		name[k++] = ok ? ch : '_';
	}
	name[k] = '\0';
	if (k == 0)
		snprintf(name, sizeof(name), "udk");
	for (size_t i = 0; i < nd; i++) {
		if (!dir_usable(dirs[i], i == 0 ? 0755 : 0700, i > 0))
			continue;
		if (snprintf(path, PATH_LEN, "%s/%s.%d.sock", dirs[i], name, (int)getpid()) >=
		    PATH_LEN)
			continue;
		if (i > 0)
			udk_log(UDK_LOG_NOTICE, TELEMETRY_LOG, "%s is not writable for uid %u: the "
				"telemetry socket is %s", dirs[0], (unsigned int)geteuid(), path);
		return 0;
	}
	udk_log(UDK_LOG_ERR, TELEMETRY_LOG, "no directory for the telemetry socket: %s, %s%s "
		"cannot be made or written; give a path with --telemetry-path or turn telemetry "
		"off with --no-telemetry", dirs[0], dirs[1], nd > 2 ? " nor the fallbacks" : "");
	return -EACCES;
}

/* A server that answers at path: then it is not ours to replace. */
static bool someone_listens(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return live;
}

static int listen_at(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		udk_log(UDK_LOG_ERR, TELEMETRY_LOG, "socket path '%s' is longer than the %zu bytes "
			"a UNIX socket allows; choose a shorter --telemetry-path", path,
			sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (someone_listens(&sa)) {
		udk_log(UDK_LOG_ERR, TELEMETRY_LOG, "%s: another process serves telemetry there; "
			"choose another --telemetry-path", path);
		return -EADDRINUSE;
	}
	unlink(path); /* a stale socket of a process that is gone */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		udk_log(UDK_LOG_ERR, TELEMETRY_LOG, "socket: %s", strerror(-rc));
		return rc;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		udk_log(UDK_LOG_ERR, TELEMETRY_LOG, "bind %s: %s; check the directory's "
			"permissions or choose another --telemetry-path", path, strerror(-rc));
		goto err_close;
	}
	/* Connecting needs write permission on the socket: owner only.  (Until
	 * this chmod the umask's mode applies; SO_PEERCRED covers that window.) */
	rc = chmod(path, 0600) < 0 ? -errno : listen(fd, 16) < 0 ? -errno : 0;
	if (rc < 0) {
		udk_log(UDK_LOG_ERR, TELEMETRY_LOG, "making the socket %s private and listening: "
			"%s", sa.sun_path, udk_strerror(rc));
		unlink(path);
		goto err_close;
	}
	return fd;
err_close:
	close(fd);
	return rc;
}

/* ---- clients ---- */

static void conn_close(struct conn *c)
{
	close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Queue an answer (taking it); false if it could not be queued. */
static bool queue(struct conn *c, char *line, size_t len)
{
	char *b;

	if (line == NULL)
		return false;
	if (c->out == NULL) {
		c->out = line;
		c->out_len = len;
		c->out_off = 0;
		return true;
	}
	b = realloc(c->out, c->out_len + len);
	if (b == NULL) {
		free(line);
		return false;
	}
	memcpy(b + c->out_len, line, len);
	free(line);
	c->out = b;
	c->out_len += len;
	return true;
}

/* Best effort: send an error line now, then close. */
static void refuse(int fd, int rc, const char *msg)
{
	size_t len;
	char *line = telemetry_error_line(rc, msg, &len);

	if (line != NULL && send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* the client is gone or full: nothing more to do */
	}
	free(line);
}

static void fail_conn(struct conn *c, int rc, const char *msg)
{
	size_t len = 0;
	char *line = telemetry_error_line(rc, msg, &len);

	if (!queue(c, line, len)) {
		conn_close(c);
		return;
	}
	c->closing = true;
	c->in_len = 0;
	c->req_start_ms = 0;
}

/* Answer the complete lines in c->in while nothing waits to be sent. */
static void process_lines(struct conn *c, uint64_t now)
{
	char *nl, *answer;
	size_t len;

	while (!c->closing && c->out == NULL &&
	       (nl = memchr(c->in, '\n', c->in_len)) != NULL) {
		size_t line = (size_t)(nl - c->in);

		if (udk_telemetry_handle(c->in, line, &answer, &len) < 0 ||
		    !queue(c, answer, len)) {
			conn_close(c);
			return;
		}
		memmove(c->in, nl + 1, c->in_len - line - 1);
		c->in_len -= line + 1;
		c->req_start_ms = 0; /* the next request's clock starts with its bytes */
	}
	if (c->closing)
		return;
	if (c->in_len == sizeof(c->in)) {
		fail_conn(c, -E2BIG, "request too long (a request is one line of at most 1023 "
			  "bytes)");
		return;
	}
	if (c->in_len > 0 && c->req_start_ms == 0)
		c->req_start_ms = now;
}

static void on_readable(struct conn *c, uint64_t now)
{
	ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(c);
		return;
	}
	if (n < 0)
		return;
	c->active_ms = now;
	c->in_len += (size_t)n;
	process_lines(c, now);
}

static void on_writable(struct conn *c, uint64_t now)
{
	ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_close(c);
		return;
	}
	c->active_ms = now;
	c->out_off += (size_t)n;
	if (c->out_off < c->out_len)
		return;
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	if (c->closing) {
		conn_close(c);
		return;
	}
	if (c->in_len > 0)
		c->req_start_ms = now; /* the rest's clock was stopped while we wrote */
	process_lines(c, now);
}

static void on_accept(uint64_t now)
{
	for (;;) {
		int fd = accept4(srv.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		struct conn *slot = NULL;

		if (fd < 0)
			return; /* EAGAIN, or the client went away already */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
		    (cred.uid != geteuid() && cred.uid != 0)) {
			udk_log(UDK_LOG_NOTICE, TELEMETRY_LOG, "refused a client of uid %d (pid %d): "
				"only uid %u and root may connect", (int)cred.uid, (int)cred.pid,
				(unsigned int)geteuid());
			close(fd);
			continue;
		}
		for (unsigned int i = 0; i < srv.opts.max_conns; i++) {
			if (srv.conns[i].fd < 0) {
				slot = &srv.conns[i];
				break;
			}
		}
		if (slot == NULL) {
			refuse(fd, -EBUSY, "too many clients; try again later");
			close(fd);
			continue;
		}
		slot->fd = fd;
		slot->active_ms = now;
	}
}

/* Drop clients past their deadlines; the poll timeout until the next one. */
static int expire(uint64_t now)
{
	uint64_t next = now + 1000;

	for (unsigned int i = 0; i < srv.opts.max_conns; i++) {
		struct conn *c = &srv.conns[i];
		uint64_t d;

		if (c->fd < 0)
			continue;
		/* While answers wait the request is not read, so its clock does not
		 * run; the idle timeout covers a client that never reads them. */
		if (c->req_start_ms != 0 && !c->closing && c->out == NULL) {
			d = c->req_start_ms + srv.opts.req_timeout_ms;
			if (now >= d) {
				char msg[96];

				snprintf(msg, sizeof(msg), "request not ended by a newline within %u ms",
					 srv.opts.req_timeout_ms);
				refuse(c->fd, -ETIMEDOUT, msg);
				conn_close(c);
				continue;
			}
			if (d < next)
				next = d;
		}
		d = c->active_ms + srv.opts.idle_timeout_ms;
		if (now >= d) {
			conn_close(c);
			continue;
		}
		if (d < next)
			next = d;
	}
	return (int)(next - now);
}

static void *serve(void *unused)
{
	struct pollfd pfd[MAX_CONNS + 2];
	struct conn *who[MAX_CONNS + 2];

	(void)unused;
	for (;;) {
		uint64_t now = now_ms();
		int timeout = expire(now);
		nfds_t n = 2;

		pfd[0] = (struct pollfd){.fd = srv.wake[0], .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = srv.lfd, .events = POLLIN};
		for (unsigned int i = 0; i < srv.opts.max_conns; i++) {
			struct conn *c = &srv.conns[i];

			if (c->fd < 0)
				continue;
			/* No reading while answers wait: a client that does not
			 * read cannot make us buffer without bound. */
			pfd[n] = (struct pollfd){.fd = c->fd,
						 .events = c->out ? POLLOUT : POLLIN};
			who[n++] = c;
		}
		if (poll(pfd, n, timeout) < 0 && errno != EINTR) {
			udk_log(UDK_LOG_ERR, TELEMETRY_LOG, "poll: %s; telemetry stops",
				strerror(errno));
			break;
		}
		if (pfd[0].revents)
			break;
		now = now_ms();
		for (nfds_t i = 2; i < n; i++) {
			struct conn *c = who[i];

			if (pfd[i].revents == 0 || c->fd != pfd[i].fd)
				continue;
			if (c->out != NULL && (pfd[i].revents & (POLLOUT | POLLERR | POLLHUP)))
				on_writable(c, now);
			else if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP))
				on_readable(c, now);
		}
		if (pfd[1].revents & POLLIN)
			on_accept(now);
	}
	return NULL;
}

int udk_telemetry_start(const struct udk_telemetry_opts *opts)
{
	struct udk_telemetry_opts o;
	int rc;

	udk_telemetry_opts_init(&o, sizeof(o));
	if (opts != NULL)
		memcpy(&o, opts, opts->opts_size < sizeof(o) ? opts->opts_size : sizeof(o));
	o.opts_size = sizeof(o);
	if (o.max_conns == 0 || o.max_conns > MAX_CONNS || o.req_timeout_ms == 0 ||
	    o.idle_timeout_ms == 0) {
		udk_log(UDK_LOG_ERR, TELEMETRY_LOG, "start: max_conns must be 1-%d and the "
			"timeouts above 0", MAX_CONNS);
		return -EINVAL;
	}
	pthread_mutex_lock(&ctl_lock);
	if (srv.running) {
		rc = -EALREADY;
		udk_log(UDK_LOG_ERR, TELEMETRY_LOG, "start: already serving at %s", srv.path);
		goto out;
	}
	srv.opts = o;
	if (o.path != NULL) {
		if (strlen(o.path) >= PATH_LEN) {
			rc = listen_at(o.path); /* logs the length error */
			goto out;
		}
		snprintf(srv.path, PATH_LEN, "%s", o.path);
	} else if ((rc = default_path(o.prog ? o.prog : "udk", srv.path)) < 0) {
		goto out;
	}
	srv.opts.path = NULL;
	srv.opts.prog = NULL;
	rc = listen_at(srv.path);
	if (rc < 0)
		goto out;
	srv.lfd = rc;
	if (pipe2(srv.wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		rc = -errno;
		udk_log(UDK_LOG_ERR, TELEMETRY_LOG, "pipe: %s", strerror(-rc));
		goto err_listen;
	}
	for (unsigned int i = 0; i < MAX_CONNS; i++) {
		memset(&srv.conns[i], 0, sizeof(srv.conns[i]));
		srv.conns[i].fd = -1;
	}
	rc = -pthread_create(&srv.thread, NULL, serve, NULL);
	if (rc < 0) {
		udk_log(UDK_LOG_ERR, TELEMETRY_LOG, "thread: %s", strerror(-rc));
		goto err_pipe;
	}
	pthread_setname_np(srv.thread, "udk-telemetry");
	srv.running = true;
	udk_log(UDK_LOG_INFO, TELEMETRY_LOG, "serving at %s", srv.path);
	rc = 0;
	goto out;
err_pipe:
	close(srv.wake[0]);
	close(srv.wake[1]);
	srv.wake[0] = srv.wake[1] = -1;
err_listen:
	close(srv.lfd);
	srv.lfd = -1;
	unlink(srv.path);
out:
	pthread_mutex_unlock(&ctl_lock);
	return rc;
}

void udk_telemetry_stop(void)
{
	pthread_mutex_lock(&ctl_lock);
	if (!srv.running) {
		pthread_mutex_unlock(&ctl_lock);
		return;
	}
	if (write(srv.wake[1], "x", 1) < 0) {
		/* the pipe cannot be full: one byte, written once */
	}
	pthread_join(srv.thread, NULL);
	for (unsigned int i = 0; i < MAX_CONNS; i++)
		if (srv.conns[i].fd >= 0)
			conn_close(&srv.conns[i]);
	close(srv.lfd);
	close(srv.wake[0]);
	close(srv.wake[1]);
	srv.lfd = srv.wake[0] = srv.wake[1] = -1;
	unlink(srv.path);
	srv.running = false;
	pthread_mutex_unlock(&ctl_lock);
}

const char *udk_telemetry_path(void)
{
	const char *p;

	pthread_mutex_lock(&ctl_lock);
	p = srv.running ? srv.path : NULL;
	pthread_mutex_unlock(&ctl_lock);
	return p;
}
