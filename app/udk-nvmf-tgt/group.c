/* SPDX-License-Identifier: BSD-3-Clause */
/* group.c - poll groups and their mailboxes (group.h).
 *
 * No wake-up is lost: a poster enqueues, then writes the eventfd; the group
 * reads (clears) the eventfd, then dequeues until the ring is empty.  A
 * message the drain does not see was enqueued after its last dequeue, so its
 * doorbell write came after the read and epoll reports the group again. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "group.h"
#include "udk_ring.h"

#define DRAIN_BURST 32

int nvmf_group_init(struct nvmf_group *g, unsigned int id, unsigned int depth)
{
	struct epoll_event ev = {.events = EPOLLIN};
	char name[32];
	int rc;

	memset(g, 0, sizeof(*g));
	g->id = id;
	g->efd = -1;
	g->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (g->epfd < 0) {
		rc = -errno;
		fprintf(stderr, "udk-nvmf-tgt: poll group %u: epoll_create1: %s\n", id, strerror(-rc));
		return rc;
	}
	g->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (g->efd < 0) {
		rc = -errno;
		fprintf(stderr, "udk-nvmf-tgt: poll group %u: eventfd: %s\n", id, strerror(-rc));
		goto fail;
	}
	ev.data.ptr = g;
	if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->efd, &ev) < 0) {
		rc = -errno;
		fprintf(stderr, "udk-nvmf-tgt: poll group %u: epoll_ctl: %s\n", id, strerror(-rc));
		goto fail;
	}
	snprintf(name, sizeof(name), "nvmf-grp%u", id);
	rc = udk_ring_create(name, depth, UDK_RING_SC, &g->inbox);
	if (rc < 0) {
		fprintf(stderr, "udk-nvmf-tgt: poll group %u: mailbox of %u: %s\n", id, depth,
			strerror(-rc));
		goto fail;
	}
	atomic_init(&g->nconns, 0);
	return 0;
fail:
	if (g->efd >= 0)
		close(g->efd);
	close(g->epfd);
	g->efd = g->epfd = -1;
	return rc;
}

void nvmf_group_fini(struct nvmf_group *g)
{
	if (g->inbox != NULL)
		udk_ring_free(g->inbox);
	g->inbox = NULL;
	if (g->efd >= 0)
		close(g->efd);
	if (g->epfd >= 0)
		close(g->epfd);
	g->efd = g->epfd = -1;
}

int nvmf_group_post(struct nvmf_group *g, struct nvmf_msg *m)
{
	void *obj = m;
	uint64_t one = 1;

	if (udk_ring_enqueue_bulk(g->inbox, &obj, 1) != 1)
		return -ENOBUFS;
	/* EAGAIN: the counter is at its maximum, so the doorbell is rung already.
	 * Any other failure: m is in the mailbox all the same (the group owns
	 * it) and runs at the group's next drain. */
	if (write(g->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		fprintf(stderr, "udk-nvmf-tgt: poll group %u: doorbell: %s\n", g->id, strerror(errno));
	return 0;
}

unsigned int nvmf_group_drain(struct nvmf_group *g)
{
	void *m[DRAIN_BURST];
	uint64_t v;
	unsigned int n, ran = 0;

	if (read(g->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing rung (a spurious report); the ring is still checked. */
	}
	while ((n = udk_ring_dequeue_burst(g->inbox, m, DRAIN_BURST)) > 0)
		for (unsigned int i = 0; i < n; i++, ran++) {
			struct nvmf_msg *msg = m[i];

			msg->fn(g, msg);
		}
	return ran;
}

struct nvmf_group *nvmf_group_pick(struct nvmf_group *gs, unsigned int n, unsigned int *rr)
{
	struct nvmf_group *best = NULL;
	unsigned int best_n = 0;

	for (unsigned int k = 0; k < n; k++) {
		struct nvmf_group *g = &gs[(*rr + k) % n];
		unsigned int c = atomic_load_explicit(&g->nconns, memory_order_relaxed);

		if (best == NULL || c < best_n) {
			best = g;
			best_n = c;
		}
	}
	if (n > 0)
		*rr = (unsigned int)(best - gs + 1) % n;
	return best;
}
