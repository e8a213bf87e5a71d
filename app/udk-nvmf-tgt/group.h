/* SPDX-License-Identifier: BSD-3-Clause */
/* group.h - udk-nvmf-tgt's poll groups: one per lcore, each with its own
 * epoll set and a mailbox other lcores post messages to (a new connection
 * from the listener, an I/O queue's Connect for the controller's owning
 * group, ...).  The mailbox is a lock-free multi-producer ring plus an
 * eventfd in the group's epoll set as its doorbell: posting takes no lock and
 * one write(2); the group runs what came when epoll reports the eventfd.
 * Needs only libc and lib/ring (the unit test builds it alone). */
#ifndef NVMF_GROUP_H
#define NVMF_GROUP_H

#include <stdatomic.h>

struct udk_ring;
struct nvmf_group;

/* A message: the sender fills it (usually embedded in a larger object) and
 * fn runs on the receiving group's lcore, which then owns it. */
struct nvmf_msg {
	void (*fn)(struct nvmf_group *g, struct nvmf_msg *m);
};

struct nvmf_group {
	unsigned int id;
	int epfd;               /* its sockets and its doorbell */
	int efd;                /* the doorbell (eventfd), epoll data.ptr = the group */
	struct udk_ring *inbox; /* multi-producer, single consumer (the group) */
	atomic_uint nconns;     /* open connections it has (or has been handed); read to pick one */
	void *ctx;              /* the owner's (the target's) */
};

/* Make g: its epoll set, doorbell and a mailbox of depth messages.  0, or a
 * negative errno with the failed step logged (nothing held). */
int nvmf_group_init(struct nvmf_group *g, unsigned int id, unsigned int depth);
/* Close what init made; messages still in the mailbox are dropped, not run. */
void nvmf_group_fini(struct nvmf_group *g);
/* Post m to g from any thread: 0 (g owns m now), or -ENOBUFS when the
 * mailbox is full (m not posted: the caller keeps it). */
int nvmf_group_post(struct nvmf_group *g, struct nvmf_msg *m);
/* On g's lcore, when epoll reports g (data.ptr == g): clear the doorbell and
 * run every message posted before.  Returns how many ran. */
unsigned int nvmf_group_drain(struct nvmf_group *g);
/* The group of n for a new connection: the fewest connections, ties broken
 * round-robin from *rr (the caller's cursor, updated). */
struct nvmf_group *nvmf_group_pick(struct nvmf_group *gs, unsigned int n, unsigned int *rr);

#endif
