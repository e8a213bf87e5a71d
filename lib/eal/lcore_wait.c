/* SPDX-License-Identifier: BSD-3-Clause */
/* lcore_wait.c - an lcore that sleeps when idle (udk_eal.h, "Sleeping when
 * idle"): count empty rounds, arm the sources, epoll_wait() on their fds
 * and a wake-up eventfd, disarm, and let the loop poll again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "udk_eal.h"
#include "udk_util.h"

#define WAIT_LOG "eal"
#define WAIT_MAX_SOURCES 64

struct udk_lcore_waitset {
	int epfd;
	int wakefd;
	struct udk_lcore_wait_opts opts;
	uint32_t empty;         /* empty rounds in a row */
	uint64_t empty_since;   /* spin_us: now_ns() of the run's first empty round */
	unsigned int nb_src;
	struct udk_lcore_wait_source src[WAIT_MAX_SOURCES];
	struct udk_lcore_wait_stats st;
};

void udk_lcore_wait_opts_init(struct udk_lcore_wait_opts *opts, size_t size)
{
	struct udk_lcore_wait_opts d = {.opts_size = sizeof(d), .spin_polls = 512,
					.max_sleep_ms = 100};

	if (opts == NULL || size == 0)
		return;
	if (size > sizeof(d))
		size = sizeof(d);
	d.opts_size = size;
	memcpy(opts, &d, size);
}

int udk_lcore_waitset_create(const struct udk_lcore_wait_opts *opts,
			     struct udk_lcore_waitset **out)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct udk_lcore_waitset *ws;
	int rc;

	if (out == NULL)
		return -EINVAL;
	ws = calloc(1, sizeof(*ws));
	if (ws == NULL)
		return -ENOMEM;
	udk_lcore_wait_opts_init(&ws->opts, sizeof(ws->opts));
	if (opts != NULL) {
		if (opts->opts_size == 0 || opts->opts_size > sizeof(ws->opts)) {
			udk_log(UDK_LOG_ERR, WAIT_LOG, "wait set: opts_size %zu is not a size "
				"udk_lcore_wait_opts_init() set", opts->opts_size);
			free(ws);
			return -EINVAL;
		}
		memcpy(&ws->opts, opts, opts->opts_size);
	}
	if (ws->opts.max_sleep_ms < -1) {
		udk_log(UDK_LOG_ERR, WAIT_LOG, "wait set: max_sleep_ms %d; use -1 (no limit) or "
			"a number of ms", ws->opts.max_sleep_ms);
		free(ws);
		return -EINVAL;
	}
	ws->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ws->epfd < 0) {
		rc = -errno;
		udk_log(UDK_LOG_ERR, WAIT_LOG, "wait set: epoll_create1: %s", udk_strerror(rc));
		goto err_free;
	}
	ws->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ws->wakefd < 0) {
		rc = -errno;
		udk_log(UDK_LOG_ERR, WAIT_LOG, "wait set: eventfd: %s", udk_strerror(rc));
		goto err_close_ep;
	}
	ev.data.fd = ws->wakefd;
	if (epoll_ctl(ws->epfd, EPOLL_CTL_ADD, ws->wakefd, &ev) < 0) {
		rc = -errno;
		udk_log(UDK_LOG_ERR, WAIT_LOG, "wait set: epoll_ctl (wake-up eventfd): %s",
			udk_strerror(rc));
		goto err_close_wake;
	}
	*out = ws;
	return 0;

err_close_wake:
	close(ws->wakefd);
err_close_ep:
	close(ws->epfd);
err_free:
	free(ws);
	return rc;
}

void udk_lcore_waitset_destroy(struct udk_lcore_waitset *ws)
{
	if (ws == NULL)
		return;
	close(ws->wakefd);
	close(ws->epfd);
	free(ws);
}

int udk_lcore_waitset_add(struct udk_lcore_waitset *ws, const struct udk_lcore_wait_source *src)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int rc;

	if (ws == NULL || src == NULL || src->fd < 0 || src->arm == NULL) {
		udk_log(UDK_LOG_ERR, WAIT_LOG, "wait set: a source needs an fd and an arm function");
		return -EINVAL;
	}
	for (unsigned int i = 0; i < ws->nb_src; i++)
		if (ws->src[i].fd == src->fd)
			return -EEXIST;
	if (ws->nb_src == WAIT_MAX_SOURCES) {
		udk_log(UDK_LOG_ERR, WAIT_LOG, "wait set: %u sources already; use another set "
			"(another lcore) for more", WAIT_MAX_SOURCES);
		return -E2BIG;
	}
	ev.data.fd = src->fd;
	if (epoll_ctl(ws->epfd, EPOLL_CTL_ADD, src->fd, &ev) < 0) {
		rc = -errno;
		udk_log(UDK_LOG_ERR, WAIT_LOG, "wait set: epoll_ctl (fd %d): %s", src->fd,
			udk_strerror(rc));
		return rc;
	}
	ws->src[ws->nb_src++] = *src;
	return 0;
}

int udk_lcore_waitset_remove(struct udk_lcore_waitset *ws, int fd)
{
	for (unsigned int i = 0; ws != NULL && i < ws->nb_src; i++)
		if (ws->src[i].fd == fd) {
			epoll_ctl(ws->epfd, EPOLL_CTL_DEL, fd, NULL);
			ws->src[i] = ws->src[--ws->nb_src];
			return 0;
		}
	return -ENOENT;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void disarm(struct udk_lcore_waitset *ws, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (ws->src[i].disarm != NULL)
			ws->src[i].disarm(ws->src[i].arg);
}

/* After a sleep that ran to its limit: whether a source has work that came
 * in while the lcore slept, its notification never having reached the fd (a
 * lost notification, or work that came the instant the limit passed). */
static bool work_waiting(struct udk_lcore_waitset *ws)
{
	bool found = false;

	for (unsigned int i = 0; i < ws->nb_src && !found; i++) {
		found = ws->src[i].arm(ws->src[i].arg) > 0;
		if (ws->src[i].disarm != NULL)
			ws->src[i].disarm(ws->src[i].arg);
	}
	return found;
}

/* Arm every source, then sleep unless one has work.  1 slept, 0 not. */
static int sleep_once(struct udk_lcore_waitset *ws)
{
	struct udk_lcore_stats *ls = udk_lcore_stats_self_;
	struct epoll_event ev[8];
	uint64_t t0, dt;
	uint64_t v;
	int n, rc;

	for (unsigned int i = 0; i < ws->nb_src; i++) {
		rc = ws->src[i].arm(ws->src[i].arg);
		if (rc != 0) { /* work came in before the source was watched: poll it */
			disarm(ws, i + 1);
			if (rc > 0)
				ws->st.aborted++;
			return rc > 0 ? 0 : rc;
		}
	}
	t0 = now_ns();
	ws->st.sleeps++;
	udk_counter_add(&ls->sleeps, 1);
	do
		n = epoll_wait(ws->epfd, ev, 8, ws->opts.max_sleep_ms);
	while (n < 0 && errno == EINTR);
	rc = n < 0 ? -errno : 0;
	dt = now_ns() - t0;
	ws->st.sleep_ns += dt;
	udk_counter_add(&ls->sleep_ns, dt);
	disarm(ws, ws->nb_src);
	if (rc < 0) {
		udk_log(UDK_LOG_ERR, WAIT_LOG, "wait set: epoll_wait: %s", udk_strerror(rc));
		return rc;
	}
	if (n == 0) {
		ws->st.timeouts++;
		if (work_waiting(ws))
			ws->st.late++;
		return 1;
	}
	ws->st.wakeups++;
	udk_counter_add(&ls->wakeups, 1);
	/* The waker's work is visible before its write: clear the count now and
	 * the loop's next round finds the work. */
	for (int i = 0; i < n; i++)
		if (ev[i].data.fd == ws->wakefd && read(ws->wakefd, &v, sizeof(v)) < 0)
			break;
	return 1;
}

int udk_lcore_waitset_idle(struct udk_lcore_waitset *ws, unsigned int work)
{
	ws->st.rounds++;
	if (work > 0) {
		ws->empty = 0;
		return 0;
	}
	ws->st.empty_rounds++;
	if (ws->opts.spin_polls == UINT32_MAX)
		return 0;
	if (ws->opts.spin_us > 0) {
		uint64_t t = now_ns();

		if (ws->empty++ == 0)
			ws->empty_since = t;
		if (t - ws->empty_since < (uint64_t)ws->opts.spin_us * 1000)
			return 0;
	} else if (++ws->empty <= ws->opts.spin_polls) {
		return 0;
	}
	ws->empty = 0;
	return sleep_once(ws);
}

int udk_lcore_waitset_wake(struct udk_lcore_waitset *ws)
{
	uint64_t one = 1;

	if (write(ws->wakefd, &one, sizeof(one)) < 0)
		return errno == EAGAIN ? 0 : -errno; /* EAGAIN: the count is full, so it is set */
	return 0;
}

void udk_lcore_waitset_stats(const struct udk_lcore_waitset *ws,
			     struct udk_lcore_wait_stats *stats)
{
	*stats = ws->st;
}
