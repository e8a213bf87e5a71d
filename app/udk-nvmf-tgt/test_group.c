/* SPDX-License-Identifier: BSD-3-Clause */
/* test_group: udk-nvmf-tgt's poll-group mailbox and pick (group.c).  Messages
 * posted from other threads all run on the group, each producer's in order,
 * with no wake-up lost (the group sleeps in epoll between drains); a full
 * mailbox refuses a post and keeps what it holds; a new connection goes to
 * the group with the fewest, ties round-robin. */
#include "../../tests/unit/common/unit.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "group.h"

#define PRODUCERS 3
#define PER_PRODUCER 20000

struct tmsg {
	struct nvmf_msg m;
	unsigned int producer, seq;
};

struct sink {
	unsigned int got, next[PRODUCERS], out_of_order, wrong_group;
};

static void on_msg(struct nvmf_group *g, struct nvmf_msg *m)
{
	struct tmsg *t = (struct tmsg *)m;
	struct sink *s = g->ctx;

	if (t->seq != s->next[t->producer])
		s->out_of_order++;
	s->next[t->producer] = t->seq + 1;
	s->got++;
}

struct producer {
	struct nvmf_group *g;
	struct tmsg *msgs;
	unsigned int id, full;
	int err;
};

static void *produce(void *arg)
{
	struct producer *p = arg;

	for (unsigned int i = 0; i < PER_PRODUCER; i++) {
		int rc;

		p->msgs[i] = (struct tmsg){.m.fn = on_msg, .producer = p->id, .seq = i};
		while ((rc = nvmf_group_post(p->g, &p->msgs[i].m)) == -ENOBUFS) {
			p->full++;
			sched_yield();
		}
		if (rc < 0) {
			p->err = rc;
			break;
		}
	}
	return NULL;
}

static void test_mailbox_threads(void)
{
	struct nvmf_group g;
	struct sink s = {0};
	struct producer p[PRODUCERS];
	pthread_t th[PRODUCERS];

	/* A small mailbox so that producers find it full and the group sleeps often. */
	CU_ASSERT_FATAL(nvmf_group_init(&g, 0, 16) == 0);
	g.ctx = &s;
	for (unsigned int i = 0; i < PRODUCERS; i++) {
		p[i] = (struct producer){.g = &g, .id = i, .msgs = calloc(PER_PRODUCER, sizeof(struct tmsg))};
		CU_ASSERT_FATAL(p[i].msgs != NULL);
		CU_ASSERT_FATAL(pthread_create(&th[i], NULL, produce, &p[i]) == 0);
	}
	while (s.got < PRODUCERS * PER_PRODUCER) {
		struct epoll_event ev;
		/* A lost wake-up leaves messages in the mailbox and epoll silent. */
		int n = epoll_wait(g.epfd, &ev, 1, 5000);

		if (n != 1)
			break;
		CU_ASSERT_PTR_EQUAL(ev.data.ptr, &g);
		nvmf_group_drain(&g);
	}
	for (unsigned int i = 0; i < PRODUCERS; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT_EQUAL(p[i].err, 0);
		CU_ASSERT_EQUAL(s.next[i], PER_PRODUCER);
		free(p[i].msgs);
	}
	CU_ASSERT_EQUAL(s.got, PRODUCERS * PER_PRODUCER);
	CU_ASSERT_EQUAL(s.out_of_order, 0);
	nvmf_group_fini(&g);
}

/* One message at a time, the next posted the moment the last one ran: the
 * post lands while the group is finishing its drain, where a doorbell
 * cleared after the ring was checked (not before) loses the wake-up. */
struct pingpong {
	struct nvmf_group *g;
	struct tmsg m[2];
	atomic_uint ran;
	int err;
};

static void on_ping(struct nvmf_group *g, struct nvmf_msg *m)
{
	struct pingpong *pp = g->ctx;

	(void)m;
	atomic_fetch_add(&pp->ran, 1);
}

static void *ping(void *arg)
{
	struct pingpong *pp = arg;

	for (unsigned int i = 0; i < PER_PRODUCER && pp->err == 0; i++) {
		struct tmsg *m = &pp->m[i & 1];

		while (atomic_load(&pp->ran) != i)
			if (atomic_load(&pp->ran) == UINT32_MAX)
				return NULL; /* the group gave up */
		m->m.fn = on_ping;
		pp->err = nvmf_group_post(pp->g, &m->m);
	}
	return NULL;
}

static void test_mailbox_pingpong(void)
{
	struct nvmf_group g;
	struct pingpong pp = {.g = &g};
	pthread_t th;
	unsigned int ran;

	CU_ASSERT_FATAL(nvmf_group_init(&g, 0, 4) == 0);
	g.ctx = &pp;
	atomic_init(&pp.ran, 0);
	CU_ASSERT_FATAL(pthread_create(&th, NULL, ping, &pp) == 0);
	while (atomic_load(&pp.ran) < PER_PRODUCER) {
		struct epoll_event ev;

		if (epoll_wait(g.epfd, &ev, 1, 2000) != 1)
			break;
		nvmf_group_drain(&g);
	}
	ran = atomic_exchange(&pp.ran, UINT32_MAX);
	pthread_join(th, NULL);
	CU_ASSERT_EQUAL(pp.err, 0);
	CU_ASSERT_EQUAL(ran, PER_PRODUCER);
	nvmf_group_fini(&g);
}

static void test_mailbox_full(void)
{
	struct nvmf_group g;
	struct sink s = {0};
	struct tmsg m[3];
	struct epoll_event ev;

	CU_ASSERT_FATAL(nvmf_group_init(&g, 1, 2) == 0);
	g.ctx = &s;
	/* Nothing posted: epoll stays quiet and a drain runs nothing. */
	CU_ASSERT_EQUAL(epoll_wait(g.epfd, &ev, 1, 0), 0);
	CU_ASSERT_EQUAL(nvmf_group_drain(&g), 0);
	for (unsigned int i = 0; i < 3; i++)
		m[i] = (struct tmsg){.m.fn = on_msg, .producer = 0, .seq = i};
	CU_ASSERT_EQUAL(nvmf_group_post(&g, &m[0].m), 0);
	CU_ASSERT_EQUAL(nvmf_group_post(&g, &m[1].m), 0);
	CU_ASSERT_EQUAL(nvmf_group_post(&g, &m[2].m), -ENOBUFS);
	CU_ASSERT_EQUAL(epoll_wait(g.epfd, &ev, 1, 0), 1);
	CU_ASSERT_EQUAL(nvmf_group_drain(&g), 2);
	CU_ASSERT_EQUAL(s.got, 2);
	/* Drained: the doorbell is clear until the next post. */
	CU_ASSERT_EQUAL(epoll_wait(g.epfd, &ev, 1, 0), 0);
	CU_ASSERT_EQUAL(nvmf_group_post(&g, &m[2].m), 0);
	CU_ASSERT_EQUAL(epoll_wait(g.epfd, &ev, 1, 0), 1);
	CU_ASSERT_EQUAL(nvmf_group_drain(&g), 1);
	CU_ASSERT_EQUAL(s.next[0], 3);
	CU_ASSERT_EQUAL(s.out_of_order, 0);
	nvmf_group_fini(&g);
	/* A bad depth fails init with nothing held. */
	CU_ASSERT(nvmf_group_init(&g, 2, 0) < 0);
	CU_ASSERT_EQUAL(g.epfd, -1);
	CU_ASSERT_EQUAL(g.efd, -1);
}

static void test_pick(void)
{
	struct nvmf_group gs[3];
	unsigned int rr = 0, hits[3] = {0};

	for (unsigned int i = 0; i < 3; i++) {
		gs[i].id = i;
		atomic_init(&gs[i].nconns, 0);
	}
	/* Equal loads: round-robin. */
	CU_ASSERT_PTR_EQUAL(nvmf_group_pick(gs, 3, &rr), &gs[0]);
	CU_ASSERT_PTR_EQUAL(nvmf_group_pick(gs, 3, &rr), &gs[1]);
	CU_ASSERT_PTR_EQUAL(nvmf_group_pick(gs, 3, &rr), &gs[2]);
	CU_ASSERT_PTR_EQUAL(nvmf_group_pick(gs, 3, &rr), &gs[0]);
	/* The least loaded wins whatever the cursor. */
	atomic_store(&gs[0].nconns, 5);
	atomic_store(&gs[1].nconns, 1);
	atomic_store(&gs[2].nconns, 3);
	rr = 2;
	CU_ASSERT_PTR_EQUAL(nvmf_group_pick(gs, 3, &rr), &gs[1]);
	/* Assigning as connections come keeps the loads level. */
	for (unsigned int i = 0; i < 3; i++)
		atomic_store(&gs[i].nconns, 0);
	for (unsigned int k = 0; k < 30; k++) {
		struct nvmf_group *g = nvmf_group_pick(gs, 3, &rr);

		atomic_fetch_add(&g->nconns, 1);
		hits[g->id]++;
	}
	CU_ASSERT(hits[0] == 10 && hits[1] == 10 && hits[2] == 10);
	/* One group: always it. */
	rr = 7;
	CU_ASSERT_PTR_EQUAL(nvmf_group_pick(gs, 1, &rr), &gs[0]);
	CU_ASSERT_PTR_NULL(nvmf_group_pick(gs, 0, &rr));
}

int main(void)
{
	static const struct unit_test t[] = {
		{"mailbox_threads", test_mailbox_threads},
		{"mailbox_pingpong", test_mailbox_pingpong},
		{"mailbox_full", test_mailbox_full},
		{"pick", test_pick},
	};

	unit_quiet_logs();
	if (unit_add("nvmf_group", NULL, NULL, t, sizeof(t) / sizeof(t[0])))
		return 1;
	return unit_run_all();
}
