/* SPDX-License-Identifier: BSD-3-Clause */
/* test_nvme_intr.c - interrupt qpairs against the fake controller of
 * fakedev.h, whose MSI-X vectors are eventfds the test routes: the CQ is
 * created with IEN and IV = qid, udk_nvme_qpair_arm() reports queued and
 * posted work, every completion of a QD1 stream is signalled and counted,
 * an lcore wait set sleeps on the qpair and wakes for each completion, and
 * the errors (no MSI-X, no vector for the queue, a bad mode). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fakedev.h"
#include "fakemem.h"
#include "udk_eal.h"
#include "../common/unit.h"

#define NVEC 2 /* vectors 0 (admin) and 1: queue 1 has one, queue 2 does not */

struct rig {
	struct fakedev *d;
	struct udk_nvme_ctrlr *c;
	struct udk_nvme_ns *ns;
	uint8_t *buf;
	int efd[NVEC];
};

static bool rig_up_aer(struct rig *r, bool msix, bool aer)
{
	struct udk_nvme_ctrlr_opts co;

	memset(r, 0, sizeof(*r));
	udk_nvme_ctrlr_opts_init(&co, sizeof(co));
	co.admin_timeout_ms = 3000;
	co.no_aer = !aer;
	r->c = fakedev_ctrlr(&r->d, &co);
	if (r->c == NULL)
		return false;
	if (msix) { /* what msix_setup() would get from lib/pci */
		r->c->msix_efds = calloc(NVEC, sizeof(int));
		if (r->c->msix_efds == NULL)
			return false;
		for (int v = 0; v < NVEC; v++) {
			r->efd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			r->c->msix_efds[v] = r->d->vec_efd[v] = r->efd[v];
		}
		r->c->msix_nvec = NVEC;
		__atomic_store_n(&r->d->nvec, NVEC, __ATOMIC_RELEASE);
	}
	r->buf = udk_mem_default_zmalloc(4096, 4096, UDK_SOCKET_ANY);
	return r->buf != NULL && udk_nvme_ctrlr_ns(r->c, 1, &r->ns) == 0;
}

static bool rig_up(struct rig *r, bool msix)
{
	return rig_up_aer(r, msix, false);
}

static void rig_down(struct rig *r)
{
	udk_mem_default_free(r->buf);
	__atomic_store_n(&r->d->nvec, 0, __ATOMIC_RELEASE);
	fakedev_free(r->c, r->d);
	for (int v = 0; v < NVEC; v++)
		if (r->efd[v] > 0)
			close(r->efd[v]);
}

static int qpair(struct rig *r, enum udk_nvme_intr_mode mode, struct udk_nvme_qpair **qp)
{
	struct udk_nvme_qpair_opts qo;

	udk_nvme_qpair_opts_init(&qo, sizeof(qo));
	qo.qsize = 16;
	qo.intr = (uint8_t)mode;
	return udk_nvme_qpair_create(r->c, &qo, qp);
}

static void count_cb(void *arg, const struct udk_nvme_cpl *cpl)
{
	int *n = arg;

	CU_ASSERT(cpl->rc == 0);
	(*n)++;
}

static void test_create_ien_iv(void)
{
	struct udk_nvme_qpair *qp = NULL, *pq = NULL;
	struct rig r;

	CU_ASSERT_FATAL(rig_up(&r, true));
	CU_ASSERT_FATAL(qpair(&r, UDK_NVME_INTR_INTERRUPT, &qp) == 0);
	CU_ASSERT(r.d->cq[1].cdw11 == (1u << 16 | 2u | 1u)); /* IV 1, IEN, PC */
	CU_ASSERT(udk_nvme_qpair_eventfd(qp) == r.efd[1]);
	/* A reset rebuilds the queue with the same vector. */
	r.d->cq[1].cdw11 = 0;
	CU_ASSERT(udk_nvme_ctrlr_reset(r.c) == 0);
	CU_ASSERT(r.d->cq[1].cdw11 == (1u << 16 | 2u | 1u));
	CU_ASSERT(udk_nvme_qpair_eventfd(qp) == r.efd[1]);
	CU_ASSERT(udk_nvme_qpair_destroy(qp) == 0);
	CU_ASSERT_FATAL(qpair(&r, UDK_NVME_INTR_POLL, &pq) == 0);
	CU_ASSERT(r.d->cq[1].cdw11 == 1u); /* no interrupts */
	CU_ASSERT(udk_nvme_qpair_eventfd(pq) == -ENOTSUP);
	CU_ASSERT(udk_nvme_qpair_arm(pq) == -ENOTSUP);
	rig_down(&r);
}

static bool readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) == 1;
}

static void test_arm_sees_queued_and_posted_work(void)
{
	struct udk_nvme_qpair *qp = NULL;
	struct rig r;
	int done = 0;

	CU_ASSERT_FATAL(rig_up(&r, true));
	CU_ASSERT_FATAL(qpair(&r, UDK_NVME_INTR_ADAPTIVE, &qp) == 0);
	CU_ASSERT(udk_nvme_qpair_arm(qp) == 0); /* idle: sleep */
	CU_ASSERT(udk_nvme_ns_read(qp, r.ns, r.buf, 0, 8, count_cb, &done) == 0);
	CU_ASSERT(udk_nvme_qpair_arm(qp) == 1); /* queued, doorbell not rung: poll */
	CU_ASSERT(udk_nvme_qpair_poll(qp, 0) >= 0); /* rings it */
	CU_ASSERT_FATAL(readable(r.efd[1], 5000)); /* the device's message */
	CU_ASSERT(udk_nvme_qpair_arm(qp) == 1); /* the completion waits in the CQ */
	CU_ASSERT(udk_nvme_qpair_interrupts(qp) == 1);
	CU_ASSERT(udk_nvme_qpair_poll(qp, 0) == 1);
	CU_ASSERT(done == 1);
	CU_ASSERT(udk_nvme_qpair_arm(qp) == 0);
	rig_down(&r);
}

static int arm_qp(void *arg)
{
	return udk_nvme_qpair_arm(arg);
}

/* QD1 through a wait set that sleeps at every empty round: every I/O
 * sleeps and is woken by its completion's interrupt, and the eventfd
 * counts one interrupt per completion. */
static void test_qd1_stream_sleeps_and_counts(void)
{
	struct udk_lcore_wait_opts wo;
	struct udk_lcore_wait_stats st;
	struct udk_lcore_waitset *ws = NULL;
	struct udk_nvme_qpair *qp = NULL;
	struct rig r;
	int done = 0, n;
	const int ios = 200;

	CU_ASSERT_FATAL(rig_up(&r, true));
	CU_ASSERT_FATAL(qpair(&r, UDK_NVME_INTR_INTERRUPT, &qp) == 0);
	udk_lcore_wait_opts_init(&wo, sizeof(wo));
	wo.spin_polls = 0;
	wo.max_sleep_ms = 5000;
	CU_ASSERT_FATAL(udk_lcore_waitset_create(&wo, &ws) == 0);
	CU_ASSERT_FATAL(udk_lcore_waitset_add(ws, &(struct udk_lcore_wait_source){
		.fd = udk_nvme_qpair_eventfd(qp), .arm = arm_qp, .arg = qp}) == 0);
	for (int i = 0; i < ios; i++) {
		int want = done + 1;

		CU_ASSERT_FATAL(udk_nvme_ns_read(qp, r.ns, r.buf, 0, 8, count_cb, &done) == 0);
		while (done < want) {
			n = udk_nvme_qpair_poll(qp, 0);
			udk_lcore_waitset_idle(ws, n > 0 ? (unsigned int)n : 0);
		}
	}
	udk_nvme_qpair_arm(qp); /* reads the last completion's count */
	udk_lcore_waitset_stats(ws, &st);
	CU_ASSERT(done == ios);
	CU_ASSERT(udk_nvme_qpair_interrupts(qp) == (uint64_t)ios);
	CU_ASSERT(st.timeouts == 0);
	CU_ASSERT(st.sleeps > 0 && st.sleeps == st.wakeups);
	udk_lcore_waitset_destroy(ws);
	rig_down(&r);
}

static void on_event(void *arg, struct udk_nvme_ctrlr *c, const struct udk_nvme_aer *ev)
{
	(void)c;
	(void)ev;
	(*(int *)arg)++;
}

/* An Asynchronous Event signals vector 0 and the admin arm sees it, both
 * still in the CQ and already reaped by another thread's admin command. */
static void test_admin_arm(void)
{
	struct rig r;
	int events = 0;

	CU_ASSERT_FATAL(rig_up_aer(&r, true, true));
	for (int i = 0; i < 1000 && fakedev_get(&r.d->naer) < 1; i++)
		usleep(1000);
	CU_ASSERT_FATAL(fakedev_get(&r.d->naer) >= 1);
	udk_nvme_ctrlr_register_aer_cb(r.c, on_event, &events);
	CU_ASSERT(udk_nvme_ctrlr_admin_eventfd(r.c) == r.efd[0]);
	CU_ASSERT(udk_nvme_ctrlr_admin_arm(r.c) == 0); /* bring-up's counts cleared */
	__atomic_store_n(&r.d->post_event, 0x010102u, __ATOMIC_RELEASE); /* SMART, temperature */
	CU_ASSERT_FATAL(readable(r.efd[0], 5000));
	CU_ASSERT(udk_nvme_ctrlr_admin_arm(r.c) == 1); /* in the CQ */
	/* An admin command of another thread reaps it (nb_events): still pending. */
	CU_ASSERT(udk_nvme_ctrlr_set_features(r.c, 0x04, 300, NULL) == 0);
	CU_ASSERT(udk_nvme_ctrlr_admin_arm(r.c) == 1);
	CU_ASSERT(udk_nvme_ctrlr_process_admin(r.c) == 1);
	CU_ASSERT(events == 1);
	usleep(20000); /* the re-armed AER and the log page's completions */
	udk_nvme_ctrlr_process_admin(r.c);
	CU_ASSERT(udk_nvme_ctrlr_admin_arm(r.c) == 0);
	rig_down(&r);

	CU_ASSERT_FATAL(rig_up(&r, false));
	CU_ASSERT(udk_nvme_ctrlr_admin_eventfd(r.c) == -ENOTSUP);
	CU_ASSERT(udk_nvme_ctrlr_admin_arm(r.c) == -ENOTSUP);
	rig_down(&r);
}

/* Set Features 08h: THR in bits 7:0, TIME (100 µs) in 15:8 (§5.21.1.8). */
static void test_coalescing(void)
{
	struct rig r;

	CU_ASSERT_FATAL(rig_up(&r, true));
	CU_ASSERT(udk_nvme_ctrlr_set_coalescing(r.c, 7, 2) == 0);
	CU_ASSERT(r.d->feat_cdw10 == 0x08);
	CU_ASSERT(r.d->feat_cdw11 == 0x0207);
	CU_ASSERT(udk_nvme_ctrlr_set_coalescing(NULL, 0, 0) == -EINVAL);
	rig_down(&r);
}

static void test_errors(void)
{
	struct udk_nvme_qpair *a = NULL, *b = NULL;
	struct rig r;

	CU_ASSERT_FATAL(rig_up(&r, false)); /* a controller without MSI-X */
	CU_ASSERT(qpair(&r, UDK_NVME_INTR_INTERRUPT, &a) == -ENOTSUP);
	CU_ASSERT(qpair(&r, (enum udk_nvme_intr_mode)7, &a) == -EINVAL);
	CU_ASSERT(qpair(&r, UDK_NVME_INTR_POLL, &a) == 0); /* polling still works */
	rig_down(&r);

	CU_ASSERT_FATAL(rig_up(&r, true));
	CU_ASSERT(qpair(&r, UDK_NVME_INTR_INTERRUPT, &a) == 0);
	CU_ASSERT(qpair(&r, UDK_NVME_INTR_INTERRUPT, &b) == -ENOTSUP); /* queue 2: no vector */
	CU_ASSERT(r.c->qid_used[2] == 0); /* nothing half-made left */
	rig_down(&r);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{"Create I/O CQ with IEN and IV = qid, after a reset too", test_create_ien_iv},
		{"arm: queued and posted work, interrupts counted", test_arm_sees_queued_and_posted_work},
		{"QD1 stream: a sleep and an interrupt per completion", test_qd1_stream_sleeps_and_counts},
		{"admin queue: an event signals vector 0 and arms as pending", test_admin_arm},
		{"interrupt coalescing: Set Features 08h", test_coalescing},
		{"no MSI-X, no vector, bad mode", test_errors},
	};

	unit_quiet_logs();
	return unit_run("nvme_intr", tests, UDK_ARRAY_SIZE(tests));
}
