/* SPDX-License-Identifier: BSD-3-Clause */
/* test_nvme_recover.c - what drivers/nvme does after a command timeout
 * (nvme_recover.c) and with Asynchronous Events (nvme_aer.c), against the
 * fake controller of fakedev.h: Abort that works (no reset), Abort the
 * controller refuses (reset: the timed-out command -ETIMEDOUT, the others
 * -ECANCELED, the qpair usable again), Abort never answered (the controller
 * marked failed under UDK_NVME_TIMEOUT_ABORT, then reset by the user), no
 * recovery at all (UDK_NVME_TIMEOUT_NONE), and an event delivered, its log
 * read, the callback run and the request re-armed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fakedev.h"
#include "fakemem.h"
#include "../common/unit.h"

struct result {
	int n, rc;
};

static void cb(void *arg, const struct udk_nvme_cpl *cpl)
{
	struct result *r = arg;

	r->n++;
	r->rc = cpl->rc;
}

/* Every line the driver logs, for the checks of what it said and in which
 * order. */
static char logged[16384];

static void log_sink(int level, const char *comp, const char *msg, void *arg)
{
	size_t n = strlen(logged);

	(void)level;
	(void)comp;
	(void)arg;
	snprintf(logged + n, sizeof(logged) - n, "%s\n", msg);
	if (getenv("UDK_TEST_VERBOSE") != NULL)
		fprintf(stderr, "%s\n", msg);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

struct rig {
	struct fakedev *d;
	struct udk_nvme_ctrlr *c;
	struct udk_nvme_qpair *qp;
	struct udk_nvme_ns *ns;
	uint8_t *buf;
	int resubmit_rc;
};

/* A callback that submits again at once (as udk-nvme-perf's do). */
static void resubmit_cb(void *arg, const struct udk_nvme_cpl *cpl)
{
	struct rig *r = arg;

	(void)cpl;
	r->resubmit_rc = udk_nvme_ns_read(r->qp, r->ns, r->buf, 16, 8, NULL, NULL);
}

static bool rig_up(struct rig *r, enum udk_nvme_timeout_action action)
{
	struct udk_nvme_ctrlr_opts co;
	struct udk_nvme_qpair_opts qo;

	udk_nvme_ctrlr_opts_init(&co, sizeof(co));
	co.admin_timeout_ms = 3000; /* generous: the device is a thread on a busy machine */
	co.timeout_action = (uint8_t)action;
	r->c = fakedev_ctrlr(&r->d, &co);
	if (r->c == NULL)
		return false;
	udk_nvme_qpair_opts_init(&qo, sizeof(qo));
	qo.qsize = 16;
	qo.timeout_ms = 1000; /* a stalled device thread must not look like a timeout */
	r->buf = udk_mem_default_zmalloc(4096, 4096, UDK_SOCKET_ANY);
	return r->buf != NULL && udk_nvme_qpair_create(r->c, &qo, &r->qp) == 0 &&
	       udk_nvme_ctrlr_ns(r->c, 1, &r->ns) == 0;
}

static void rig_down(struct rig *r)
{
	udk_mem_default_free(r->buf);
	fakedev_free(r->c, r->d);
}

static int read_now(struct rig *r)
{
	return udk_nvme_ns_io_sync(r->qp, r->ns, UDK_NVME_IO_READ, r->buf, 0, 8, NULL);
}

static void poll_until(struct udk_nvme_qpair *qp, const struct result *res, int n)
{
	for (int i = 0; i < 2000000 && res->n < n; i++) {
		udk_nvme_qpair_poll(qp, 0);
		if (res->n < n)
			sleep_ms(0);
	}
}

static void test_abort_works(void)
{
	struct rig r;
	struct result a = {0};

	CU_ASSERT_FATAL(rig_up(&r, UDK_NVME_TIMEOUT_ABORT_RESET));
	CU_ASSERT(read_now(&r) == 0);
	int resets = fakedev_get(&r.d->ndisable);
	__atomic_store_n(&r.d->hold_io, true, __ATOMIC_RELEASE);
	__atomic_store_n(&r.d->abort_mode, FAKE_ABORT_OK, __ATOMIC_RELEASE);
	CU_ASSERT(udk_nvme_ns_read(r.qp, r.ns, r.buf, 0, 8, cb, &a) == 0);
	poll_until(r.qp, &a, 1);
	CU_ASSERT(a.n == 1 && a.rc == -ETIMEDOUT);
	CU_ASSERT(fakedev_get(&r.d->nabort) == 1);
	CU_ASSERT(fakedev_get(&r.d->ndisable) == resets); /* no reset */
	/* The aborted command's completion freed its slot already. */
	CU_ASSERT(udk_nvme_qpair_outstanding(r.qp) == 0 && r.qp->nb_free == 15);
	__atomic_store_n(&r.d->hold_io, false, __ATOMIC_RELEASE);
	CU_ASSERT(read_now(&r) == 0 && a.n == 1);
	rig_down(&r);
}

static void test_abort_refused_then_reset(void)
{
	struct rig r;
	struct result a = {0}, b = {0};

	CU_ASSERT_FATAL(rig_up(&r, UDK_NVME_TIMEOUT_ABORT_RESET));
	int resets = fakedev_get(&r.d->ndisable);
	__atomic_store_n(&r.d->hold_io, true, __ATOMIC_RELEASE);
	__atomic_store_n(&r.d->abort_mode, FAKE_ABORT_NOT, __ATOMIC_RELEASE);
	/* a, b, and c (whose callback submits again) go in together; b's and
	 * c's deadlines are then pushed far out, so only a times out however
	 * the machine schedules this thread. */
	uint16_t slot_b = (uint16_t)(r.qp->sq_tail + 1), slot_c = (uint16_t)(r.qp->sq_tail + 2);
	CU_ASSERT(udk_nvme_ns_read(r.qp, r.ns, r.buf, 0, 8, cb, &a) == 0);
	CU_ASSERT(udk_nvme_ns_read(r.qp, r.ns, r.buf, 8, 8, cb, &b) == 0);
	r.resubmit_rc = 1;
	CU_ASSERT(udk_nvme_ns_read(r.qp, r.ns, r.buf, 16, 8, resubmit_cb, &r) == 0);
	udk_nvme_qpair_poll(r.qp, 0); /* rings the doorbell, starts the clocks */
	r.qp->reqs[r.qp->sq[slot_b].cid].deadline_ns = UINT64_MAX / 2;
	r.qp->reqs[r.qp->sq[slot_c].cid].deadline_ns = UINT64_MAX / 2;
	logged[0] = '\0';
	poll_until(r.qp, &a, 1);
	CU_ASSERT(a.n == 1 && a.rc == -ETIMEDOUT);
	CU_ASSERT(b.n == 1 && b.rc == -ECANCELED);
	/* Submitting from a cancelled command's callback is refused, not lost. */
	CU_ASSERT(r.resubmit_rc == -UDK_EDEVSTATE);
	CU_ASSERT(fakedev_get(&r.d->nabort) == 1);
	CU_ASSERT(fakedev_get(&r.d->ndisable) == resets + 1);
	const char *p = strstr(logged, "Abort of command ");
	CU_ASSERT(p != NULL && strstr(p, "the controller did not abort it") != NULL);
	p = p != NULL ? strstr(p, "could not be aborted on queue 1: resetting the controller") : p;
	CU_ASSERT(p != NULL && strstr(p, "controller reset; queues rebuilt") != NULL);
	CU_ASSERT(udk_nvme_qpair_outstanding(r.qp) == 0 && r.qp->nb_free == 15);
	/* The qpair was re-created on the controller: it works. */
	__atomic_store_n(&r.d->hold_io, false, __ATOMIC_RELEASE);
	CU_ASSERT(read_now(&r) == 0);
	CU_ASSERT(udk_nvme_ctrlr_health(r.c) == 0);
	rig_down(&r);
}

static void test_abort_unanswered_marks_failed(void)
{
	struct rig r;
	struct result a = {0};

	CU_ASSERT_FATAL(rig_up(&r, UDK_NVME_TIMEOUT_ABORT));
	int resets = fakedev_get(&r.d->ndisable);
	__atomic_store_n(&r.d->hold_io, true, __ATOMIC_RELEASE);
	__atomic_store_n(&r.d->abort_mode, FAKE_ABORT_SILENT, __ATOMIC_RELEASE);
	CU_ASSERT(udk_nvme_ns_read(r.qp, r.ns, r.buf, 0, 8, cb, &a) == 0);
	logged[0] = '\0';
	poll_until(r.qp, &a, 1);
	CU_ASSERT(a.n == 1 && a.rc == -ETIMEDOUT);
	CU_ASSERT(fakedev_get(&r.d->nabort) == 1);
	CU_ASSERT(fakedev_get(&r.d->ndisable) == resets); /* the application resets */
	CU_ASSERT(strstr(logged, "Abort of command 0 on queue 1: no completion within 3000 ms") !=
		  NULL);
	CU_ASSERT(strstr(logged, "a timed-out command could not be aborted on queue 1; new I/O "
			 "is refused until udk_nvme_ctrlr_reset()") != NULL);
	CU_ASSERT(udk_nvme_ns_read(r.qp, r.ns, r.buf, 0, 8, cb, &a) == -UDK_EDEVSTATE);
	CU_ASSERT_LAST_ERROR_HAS("the controller has failed");
	__atomic_store_n(&r.d->hold_io, false, __ATOMIC_RELEASE);
	CU_ASSERT(udk_nvme_ctrlr_reset(r.c) == 0);
	CU_ASSERT(fakedev_get(&r.d->ndisable) == resets + 1);
	CU_ASSERT(read_now(&r) == 0);
	rig_down(&r);
}

static void test_no_recovery(void)
{
	struct rig r;
	struct result a = {0};

	CU_ASSERT_FATAL(rig_up(&r, UDK_NVME_TIMEOUT_NONE));
	__atomic_store_n(&r.d->hold_io, true, __ATOMIC_RELEASE);
	CU_ASSERT(udk_nvme_ns_read(r.qp, r.ns, r.buf, 0, 8, cb, &a) == 0);
	poll_until(r.qp, &a, 1);
	CU_ASSERT(a.n == 1 && a.rc == -ETIMEDOUT);
	CU_ASSERT(fakedev_get(&r.d->nabort) == 0);
	CU_ASSERT(r.qp->nb_free == 14); /* the slot waits for the device */
	rig_down(&r);
}

struct events {
	int n;
	struct udk_nvme_aer ev;
	uint8_t warning;
};

static void aer_cb(void *arg, struct udk_nvme_ctrlr *c, const struct udk_nvme_aer *ev)
{
	struct events *e = arg;

	(void)c;
	e->n++;
	e->ev = *ev;
	e->warning = *(const uint8_t *)ev->log;
}

static void test_aer(void)
{
	struct events e = {0};
	struct rig r;

	CU_ASSERT_FATAL(rig_up(&r, UDK_NVME_TIMEOUT_ABORT_RESET));
	CU_ASSERT(r.c->info.nb_aer == 4 && r.c->info.aerl == 3);
	for (int i = 0; i < 1000 && fakedev_get(&r.d->naer) < 4; i++)
		sleep_ms(1);
	CU_ASSERT(fakedev_get(&r.d->naer) == 4);
	udk_nvme_ctrlr_register_aer_cb(r.c, aer_cb, &e);
	CU_ASSERT(udk_nvme_ctrlr_process_admin(r.c) == 0 && e.n == 0);
	/* SMART/health, temperature threshold, log page 02h (§5.2.1). */
	__atomic_store_n(&r.d->post_event, 0x00020101u, __ATOMIC_RELEASE);
	for (int i = 0; i < 2000 && e.n == 0; i++) {
		CU_ASSERT(udk_nvme_ctrlr_process_admin(r.c) >= 0);
		sleep_ms(1);
	}
	CU_ASSERT(e.n == 1);
	CU_ASSERT(e.ev.type == UDK_NVME_AER_SMART && e.ev.info == 1 && e.ev.log_page == 2);
	CU_ASSERT(e.ev.log_rc == 0 && e.warning == 0x2);
	CU_ASSERT(fakedev_get(&r.d->nlog) == 1);
	CU_ASSERT_STRING_EQUAL(udk_nvme_aer_str(&e.ev), "SMART/health: temperature threshold "
			       "(type 1, info 0x01, log 0x02)");
	/* Re-armed: four outstanding again. */
	for (int i = 0; i < 1000 && fakedev_get(&r.d->naer) < 4; i++)
		sleep_ms(1);
	CU_ASSERT(fakedev_get(&r.d->naer) == 4);
	rig_down(&r);
}

/* Identify strings are the device's: control bytes in them never reach a
 * log line or udk-nvme identify's terminal. */
static void test_identify_strings(void)
{
	struct rig r;

	CU_ASSERT_FATAL(rig_up(&r, UDK_NVME_TIMEOUT_NONE));
	CU_ASSERT_STRING_EQUAL(r.c->info.model, "fake NVMe");
	CU_ASSERT_STRING_EQUAL(r.c->info.serial, "?]0;pwn?SN?2J");
	CU_ASSERT_STRING_EQUAL(r.c->info.firmware, "1.0??[2J");
	rig_down(&r);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{"abort_works", test_abort_works},
		{"abort_refused_then_reset", test_abort_refused_then_reset},
		{"abort_unanswered_marks_failed", test_abort_unanswered_marks_failed},
		{"no_recovery", test_no_recovery},
		{"aer", test_aer},
		{"identify_strings", test_identify_strings},
	};

	udk_log_set_sink(log_sink, NULL);
	return unit_run("nvme_recover", tests, UDK_ARRAY_SIZE(tests));
}
