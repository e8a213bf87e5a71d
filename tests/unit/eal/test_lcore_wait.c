/* SPDX-License-Identifier: BSD-3-Clause */
/* test_lcore_wait.c - the wait set's state machine (udk_eal.h, "Sleeping
 * when idle") with fake queues on real eventfds: it spins the asked number
 * of empty rounds, never sleeps past work that came in before the arm, wakes
 * at once for work that comes in after it, and across threads, and counts
 * a sleep that ran to its limit past work whose signal never came. */
#include "../common/unit.h"
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include "udk_eal.h"
#include "udk_util.h"

enum { POST_NONE, POST_BEFORE_CHECK, POST_AFTER_CHECK };

/* A queue as a device fills it: the entry first, then the interrupt
 * (an eventfd write), as an NVMe CQE is written before its MSI-X message. */
struct fakeq {
	int efd;
	atomic_uint pending;
	int post_at_arm; /* POST_*: the "device" posts during the next arm */
	int arms, disarms;
	uint64_t signals; /* eventfd counts read at arm */
};

static void fakeq_post(struct fakeq *q)
{
	uint64_t one = 1;

	atomic_fetch_add(&q->pending, 1);
	CU_ASSERT(write(q->efd, &one, sizeof(one)) == sizeof(one));
}

static unsigned int fakeq_poll(struct fakeq *q)
{
	return atomic_exchange(&q->pending, 0);
}

/* The arm contract: clear the stale signal, so the fd reports what comes
 * from now on, then look at the queue once more. */
static int fakeq_arm(void *arg)
{
	struct fakeq *q = arg;
	uint64_t v;
	int post = q->post_at_arm;

	q->arms++;
	q->post_at_arm = POST_NONE;
	if (read(q->efd, &v, sizeof(v)) == sizeof(v))
		q->signals += v;
	if (post == POST_BEFORE_CHECK)
		fakeq_post(q);
	if (atomic_load(&q->pending) > 0)
		return 1;
	if (post == POST_AFTER_CHECK)
		fakeq_post(q);
	return 0;
}

static void fakeq_disarm(void *arg)
{
	((struct fakeq *)arg)->disarms++;
}

static struct udk_lcore_waitset *new_set_us(struct fakeq *q, uint32_t spin, uint32_t spin_us,
					    int max_ms)
{
	struct udk_lcore_wait_opts o;
	struct udk_lcore_waitset *ws = NULL;
	struct udk_lcore_wait_source src;

	memset(q, 0, sizeof(*q));
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CU_ASSERT_FATAL(q->efd >= 0);
	udk_lcore_wait_opts_init(&o, sizeof(o));
	o.spin_polls = spin;
	o.max_sleep_ms = max_ms;
	o.spin_us = spin_us;
	CU_ASSERT_FATAL(udk_lcore_waitset_create(&o, &ws) == 0);
	src = (struct udk_lcore_wait_source){.fd = q->efd, .arm = fakeq_arm,
					     .disarm = fakeq_disarm, .arg = q};
	CU_ASSERT_FATAL(udk_lcore_waitset_add(ws, &src) == 0);
	return ws;
}

static struct udk_lcore_waitset *new_set(struct fakeq *q, uint32_t spin, int max_ms)
{
	return new_set_us(q, spin, 0, max_ms);
}

static void free_set(struct udk_lcore_waitset *ws, struct fakeq *q)
{
	udk_lcore_waitset_destroy(ws);
	close(q->efd);
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_spin_then_sleep(void)
{
	struct udk_lcore_wait_stats st;
	struct fakeq q;
	struct udk_lcore_waitset *ws = new_set(&q, 3, 10);

	for (int i = 0; i < 3; i++)
		CU_ASSERT(udk_lcore_waitset_idle(ws, 0) == 0);
	CU_ASSERT(udk_lcore_waitset_idle(ws, 1) == 0); /* work: count again */
	for (int i = 0; i < 3; i++)
		CU_ASSERT(udk_lcore_waitset_idle(ws, 0) == 0);
	CU_ASSERT(q.arms == 0);
	CU_ASSERT(udk_lcore_waitset_idle(ws, 0) == 1); /* the 4th empty round sleeps */
	udk_lcore_waitset_stats(ws, &st);
	CU_ASSERT(st.sleeps == 1 && st.timeouts == 1 && st.wakeups == 0 && st.aborted == 0);
	CU_ASSERT(st.late == 0);
	CU_ASSERT(st.rounds == 8 && st.empty_rounds == 7);
	CU_ASSERT(st.sleep_ns >= 9000000);
	/* Armed for the sleep, and once more after it ran to its limit. */
	CU_ASSERT(q.arms == 2 && q.disarms == 2);
	free_set(ws, &q);

	/* UINT32_MAX: poll mode, never sleeps. */
	ws = new_set(&q, UINT32_MAX, 10);
	for (int i = 0; i < 10000; i++)
		CU_ASSERT(udk_lcore_waitset_idle(ws, 0) == 0);
	CU_ASSERT(q.arms == 0);
	free_set(ws, &q);
}

/* spin_us: the set sleeps once the run of empty rounds has lasted spin_us,
 * however many rounds that took (spin_polls 1 would have slept at the
 * second), and a round with work starts the time again. */
static void test_spin_us_then_sleep(void)
{
	struct udk_lcore_wait_stats st;
	struct fakeq q;
	struct udk_lcore_waitset *ws = new_set_us(&q, 1, 30000, 10);
	uint64_t t0 = ms_now(), t1;
	unsigned int rounds = 0;
	int rc = 0;

	/* 20 ms of empty rounds, all inside the 30 ms spin: no sleep. */
	while (ms_now() - t0 < 20) {
		CU_ASSERT(udk_lcore_waitset_idle(ws, 0) == 0);
		rounds++;
	}
	CU_ASSERT(rounds > 2);
	CU_ASSERT(q.arms == 0);
	CU_ASSERT(udk_lcore_waitset_idle(ws, 1) == 0); /* work: the time starts again */
	t1 = ms_now();
	for (rounds = 0; rc == 0 && ms_now() - t1 < 5000; rounds++)
		rc = udk_lcore_waitset_idle(ws, 0);
	CU_ASSERT(rc == 1);
	CU_ASSERT(ms_now() - t1 >= 30 + 9); /* the spin, then the 10 ms sleep */
	CU_ASSERT(rounds > 2);
	udk_lcore_waitset_stats(ws, &st);
	/* Armed for the sleep, and once more after it ran to its limit (late?). */
	CU_ASSERT(st.sleeps == 1 && st.timeouts == 1 && st.late == 0);
	CU_ASSERT(q.arms == 2 && q.disarms == 2);
	free_set(ws, &q);

	/* spin_polls UINT32_MAX (poll mode) still never sleeps. */
	ws = new_set_us(&q, UINT32_MAX, 1, 10);
	t0 = ms_now();
	while (ms_now() - t0 < 5)
		CU_ASSERT(udk_lcore_waitset_idle(ws, 0) == 0);
	CU_ASSERT(q.arms == 0);
	free_set(ws, &q);
}

/* The race the design is about: work lands between the loop's last (empty)
 * poll and the arm.  The set must not sleep on it. */
static void test_work_before_arm_does_not_sleep(void)
{
	struct udk_lcore_wait_stats st;
	struct fakeq q;
	struct udk_lcore_waitset *ws = new_set(&q, 0, 5000);
	uint64_t t0;

	CU_ASSERT(fakeq_poll(&q) == 0); /* the last poll: empty */
	q.post_at_arm = POST_BEFORE_CHECK;
	t0 = ms_now();
	CU_ASSERT(udk_lcore_waitset_idle(ws, 0) == 0);
	CU_ASSERT(ms_now() - t0 < 1000);
	udk_lcore_waitset_stats(ws, &st);
	CU_ASSERT(st.sleeps == 0 && st.aborted == 1);
	CU_ASSERT(q.disarms == 1); /* an aborted sleep disarms what it armed */
	CU_ASSERT(fakeq_poll(&q) == 1);
	free_set(ws, &q);
}

/* Work right after the arm's check: the fd is watched by then, so epoll
 * returns at once rather than at max_sleep_ms. */
static void test_work_after_arm_wakes(void)
{
	struct udk_lcore_wait_stats st;
	struct fakeq q;
	struct udk_lcore_waitset *ws = new_set(&q, 0, 5000);
	uint64_t t0;

	q.post_at_arm = POST_AFTER_CHECK;
	t0 = ms_now();
	CU_ASSERT(udk_lcore_waitset_idle(ws, 0) == 1);
	CU_ASSERT(ms_now() - t0 < 1000);
	udk_lcore_waitset_stats(ws, &st);
	CU_ASSERT(st.sleeps == 1 && st.wakeups == 1 && st.timeouts == 0);
	CU_ASSERT(fakeq_poll(&q) == 1);
	free_set(ws, &q);
}

struct waker {
	struct udk_lcore_waitset *ws;
	atomic_int handed; /* work handed over */
};

static void *waker_thread(void *arg)
{
	struct waker *w = arg;

	usleep(50000);
	atomic_store(&w->handed, 1);
	udk_lcore_waitset_wake(w->ws);
	return NULL;
}

static void test_cross_thread_wake(void)
{
	struct udk_lcore_wait_stats st;
	struct fakeq q;
	struct waker w = {.ws = new_set(&q, 0, 5000)};
	pthread_t t;
	uint64_t t0;

	/* A wake before the sleep is not lost: the sleep returns at once. */
	CU_ASSERT(udk_lcore_waitset_wake(w.ws) == 0);
	t0 = ms_now();
	CU_ASSERT(udk_lcore_waitset_idle(w.ws, 0) == 1);
	CU_ASSERT(ms_now() - t0 < 1000);
	/* One from another thread while asleep. */
	CU_ASSERT_FATAL(pthread_create(&t, NULL, waker_thread, &w) == 0);
	t0 = ms_now();
	while (!atomic_load(&w.handed) && ms_now() - t0 < 4000)
		udk_lcore_waitset_idle(w.ws, 0);
	CU_ASSERT(atomic_load(&w.handed) == 1);
	CU_ASSERT(ms_now() - t0 < 2000);
	pthread_join(t, NULL);
	udk_lcore_waitset_stats(w.ws, &st);
	CU_ASSERT(st.wakeups == 2 && st.timeouts == 0);
	free_set(w.ws, &q);
}

/* Many sleeps racing a producer: every item is consumed and no sleep runs
 * to its limit (a lost wake-up would end in a timeout). */
#define STRESS_ITEMS 20000
struct producer {
	struct fakeq *q;
	atomic_int done;
};

static void *producer_thread(void *arg)
{
	struct producer *p = arg;

	for (int i = 0; i < STRESS_ITEMS; i++) {
		fakeq_post(p->q);
		if (i % 7 == 0)
			usleep(i % 3 ? 0 : 20);
	}
	atomic_store(&p->done, 1);
	return NULL;
}

static void test_no_lost_wakeup_stress(void)
{
	struct udk_lcore_wait_stats st;
	struct fakeq q;
	struct udk_lcore_waitset *ws = new_set(&q, 0, 2000);
	struct producer p = {.q = &q};
	unsigned int got = 0, n;
	pthread_t t;
	uint64_t t0 = ms_now();

	CU_ASSERT_FATAL(pthread_create(&t, NULL, producer_thread, &p) == 0);
	while (got < STRESS_ITEMS && ms_now() - t0 < 60000) {
		n = fakeq_poll(&q);
		got += n;
		udk_lcore_waitset_idle(ws, n);
	}
	pthread_join(t, NULL);
	got += fakeq_poll(&q);
	udk_lcore_waitset_stats(ws, &st);
	CU_ASSERT(got == STRESS_ITEMS);
	CU_ASSERT(st.timeouts == 0);
	CU_ASSERT(st.sleeps > 0);
	CU_ASSERT(st.sleeps == st.wakeups);
	free_set(ws, &q);
}

/* A device that fills the queue and never signals (a lost notification):
 * the sleep runs to its limit, and the set counts it late. */
static void *silent_thread(void *arg)
{
	usleep(5000);
	atomic_fetch_add(&((struct fakeq *)arg)->pending, 1);
	return NULL;
}

static void test_lost_notification_counted(void)
{
	struct udk_lcore_wait_stats st;
	struct fakeq q;
	struct udk_lcore_waitset *ws = new_set(&q, 0, 100);
	pthread_t t;
	uint64_t t0 = ms_now();

	CU_ASSERT_FATAL(pthread_create(&t, NULL, silent_thread, &q) == 0);
	CU_ASSERT(udk_lcore_waitset_idle(ws, 0) == 1);
	pthread_join(t, NULL);
	CU_ASSERT(ms_now() - t0 >= 90); /* nothing woke it */
	udk_lcore_waitset_stats(ws, &st);
	CU_ASSERT(st.timeouts == 1 && st.wakeups == 0 && st.late == 1);
	/* Taken, then a sleep with nothing coming: a timeout, not late. */
	CU_ASSERT(fakeq_poll(&q) == 1);
	CU_ASSERT(udk_lcore_waitset_idle(ws, 0) == 1);
	udk_lcore_waitset_stats(ws, &st);
	CU_ASSERT(st.timeouts == 2 && st.late == 1);
	free_set(ws, &q);
}

static void test_bad_input(void)
{
	struct udk_lcore_wait_opts o;
	struct udk_lcore_waitset *ws = NULL;
	struct udk_lcore_wait_source src = {.fd = -1, .arm = fakeq_arm};
	struct fakeq q;

	udk_lcore_wait_opts_init(&o, sizeof(o));
	CU_ASSERT(o.spin_polls == 512 && o.max_sleep_ms == 100);
	o.max_sleep_ms = -2;
	CU_ASSERT(udk_lcore_waitset_create(&o, &ws) == -EINVAL);
	o.max_sleep_ms = 1;
	o.opts_size = 0;
	CU_ASSERT(udk_lcore_waitset_create(&o, &ws) == -EINVAL);
	CU_ASSERT(udk_lcore_waitset_create(NULL, NULL) == -EINVAL);
	ws = new_set(&q, 0, 1);
	CU_ASSERT(udk_lcore_waitset_add(ws, &src) == -EINVAL);
	src.fd = q.efd;
	CU_ASSERT(udk_lcore_waitset_add(ws, &src) == -EEXIST);
	src.arm = NULL;
	CU_ASSERT(udk_lcore_waitset_add(ws, &src) == -EINVAL);
	CU_ASSERT(udk_lcore_waitset_remove(ws, 12345) == -ENOENT);
	CU_ASSERT(udk_lcore_waitset_remove(ws, q.efd) == 0);
	CU_ASSERT(udk_lcore_waitset_idle(ws, 0) == 1); /* no sources: sleeps to the limit */
	CU_ASSERT(q.arms == 0);
	free_set(ws, &q);
}

int main(void)
{
	static const struct unit_test t[] = {
		{"spin_polls empty rounds, then a sleep", test_spin_then_sleep},
		{"spin_us of empty rounds, then a sleep", test_spin_us_then_sleep},
		{"work between the last poll and the arm: no sleep", test_work_before_arm_does_not_sleep},
		{"work right after the arm: woken at once", test_work_after_arm_wakes},
		{"udk_lcore_waitset_wake from another thread", test_cross_thread_wake},
		{"20000 items against sleeps: none lost", test_no_lost_wakeup_stress},
		{"a notification that never came: counted late", test_lost_notification_counted},
		{"bad input", test_bad_input},
	};

	unit_quiet_logs();
	return unit_run("lcore_wait", t, UDK_ARRAY_SIZE(t));
}
