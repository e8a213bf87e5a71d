/* SPDX-License-Identifier: BSD-3-Clause */
/* telemetry.c - the target's telemetry commands (doc/nvmf.md, "Telemetry"
 * and "Namespaces at run time"): "nvmf", connections, per poll group its
 * connections, controllers and I/O, and per subsystem its controllers,
 * queues, commands, I/O and bytes (each group's counters summed); "nvmf_ns_add" and
 * "nvmf_ns_remove", which change the target.  Providers run on the
 * telemetry thread: "nvmf" reads only what does not change after start (the
 * subsystems' NQNs) and counters the poll groups keep with
 * udk_counter_add(); the others hand their request to poll group 0 (an
 * eventfd in its epoll set) and wait for its answer, so that only group 0
 * changes namespaces.  Group 0 takes the hand-off's mutex only when the
 * eventfd fires, never on the I/O path. */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "nvmf.h"
#include "udk_telemetry.h"

/* How long a command waits for poll group 0 to take it. */
#define CTL_TIMEOUT_MS 2000

enum ctl_op { CTL_NS_ADD, CTL_NS_REMOVE };
enum ctl_state { CTL_IDLE, CTL_POSTED, CTL_TAKEN, CTL_DONE };

struct nvmf_ctl {
	pthread_mutex_t lock;
	pthread_cond_t done;
	int efd;
	enum ctl_state state;
	/* the request */
	enum ctl_op op;
	char nqn[NVMF_NQN_MAX + 1];
	char bdev[256];
	uint32_t nsid;
	/* the answer */
	int rc;
	uint32_t nsid_out;
	char err[512];
};

/* A subsystem's counter summed over the groups. */
static uint64_t ss_sum(const struct nvmf_tgt *t, unsigned int s, size_t field)
{
	uint64_t v = 0;

	for (unsigned int g = 0; g < t->ngroups; g++)
		v += udk_counter_read((const uint64_t *)((const char *)&t->pgs[g].ss_stats[s] + field));
	return v;
}

static int nvmf_cmd(struct udk_json *j, void *arg)
{
	const struct nvmf_tgt *t = arg;
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
		{"namespaces", offsetof(struct nvmf_subsys_stats, namespaces)},
		{"controllers", offsetof(struct nvmf_subsys_stats, controllers)},
		{"queues", offsetof(struct nvmf_subsys_stats, queues)},
		{"connects", offsetof(struct nvmf_subsys_stats, connects)},
		{"commands", offsetof(struct nvmf_subsys_stats, commands)},
		{"errors", offsetof(struct nvmf_subsys_stats, errors)},
		{"ios", offsetof(struct nvmf_subsys_stats, ios)},
		{"reads", offsetof(struct nvmf_subsys_stats, reads)},
		{"writes", offsetof(struct nvmf_subsys_stats, writes)},
		{"bytes_read", offsetof(struct nvmf_subsys_stats, bytes_read)},
		{"bytes_written", offsetof(struct nvmf_subsys_stats, bytes_written)},
	};
	uint64_t opened = udk_counter_read(&t->stats.conns_total), closed = 0;

	for (unsigned int g = 0; g < t->ngroups; g++)
		closed += udk_counter_read(&t->pgs[g].stats.conns_closed);
	udk_json_obj_open(j, NULL);
	udk_json_u64(j, "connections", opened - closed);
	udk_json_u64(j, "connections_total", opened);
	/* Per poll group (one per lcore): the connections it polls (or has in
	 * its mailbox), the controllers it owns, the I/O it served. */
	udk_json_arr_open(j, "groups");
	for (unsigned int g = 0; g < t->ngroups; g++) {
		const struct nvmf_pg *pg = &t->pgs[g];
		uint64_t ctrlrs = 0;

		for (unsigned int s = 0; s < t->nsubsys; s++)
			ctrlrs += udk_counter_read(&pg->ss_stats[s].controllers);
		udk_json_obj_open(j, NULL);
		udk_json_u64(j, "id", t->groups[g].id);
		udk_json_u64(j, "lcore", pg->lcore);
		udk_json_u64(j, "connections",
			     atomic_load_explicit(&t->groups[g].nconns, memory_order_relaxed));
		udk_json_u64(j, "controllers", ctrlrs);
		udk_json_u64(j, "ios", udk_counter_read(&pg->stats.ios));
		udk_json_u64(j, "bytes_read", udk_counter_read(&pg->stats.bytes_read));
		udk_json_u64(j, "bytes_written", udk_counter_read(&pg->stats.bytes_written));
		udk_json_obj_close(j);
	}
	udk_json_arr_close(j);
	udk_json_arr_open(j, "subsystems");
	for (unsigned int i = 0; i < t->nsubsys; i++) {
		const struct nvmf_subsys *ss = &t->subsys[i];

		udk_json_obj_open(j, NULL);
		udk_json_str(j, "nqn", ss->nqn);
		udk_json_bool(j, "discovery", ss->discovery);
		for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
			udk_json_u64(j, fields[f].name, ss_sum(t, i, fields[f].off));
		udk_json_obj_close(j);
	}
	udk_json_arr_close(j);
	udk_json_obj_close(j);
	return 0;
}

/* The telemetry thread: post the request, wake poll group 0, wait. */
static int ctl_call(struct nvmf_ctl *ctl, struct udk_telemetry_req *req)
{
	struct timespec until;
	uint64_t one = 1;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += CTL_TIMEOUT_MS / 1000;
	pthread_mutex_lock(&ctl->lock);
	ctl->state = CTL_POSTED;
	if (write(ctl->efd, &one, sizeof(one)) != sizeof(one))
		rc = -errno;
	while (rc == 0 && ctl->state != CTL_DONE) {
		if (ctl->state == CTL_TAKEN) { /* taken: what it does is bounded, wait for it */
			pthread_cond_wait(&ctl->done, &ctl->lock);
			continue;
		}
		rc = -pthread_cond_timedwait(&ctl->done, &ctl->lock, &until);
		if (rc == -ETIMEDOUT && ctl->state != CTL_POSTED)
			rc = 0;
	}
	if (rc < 0) {
		ctl->state = CTL_IDLE; /* not taken: withdrawn */
		udk_telemetry_req_error(req, "poll group 0 did not take the command within %d ms",
					CTL_TIMEOUT_MS);
	} else {
		rc = ctl->rc;
		ctl->state = CTL_IDLE;
		if (rc < 0)
			udk_telemetry_req_error(req, "%s", ctl->err);
	}
	pthread_mutex_unlock(&ctl->lock);
	return rc;
}

/* "subsystem" and "nsid" (and "bdev" for add) into ctl; 0 or -EINVAL. */
static int ctl_params(struct nvmf_ctl *ctl, struct udk_telemetry_req *req, bool add)
{
	static const char *const add_keys[] = {"subsystem", "nsid", "bdev", NULL};
	static const char *const remove_keys[] = {"subsystem", "nsid", NULL};
	const char *bad = udk_telemetry_param_unknown(req, add ? add_keys : remove_keys);
	const char *nqn = udk_telemetry_param(req, "subsystem");
	const char *bdev = udk_telemetry_param(req, "bdev");
	uint64_t nsid = 0;
	int rc = udk_telemetry_param_u64(req, "nsid", &nsid);

	if (bad != NULL) {
		udk_telemetry_req_error(req, "unknown parameter '%s' (%s)", bad,
					add ? "subsystem, bdev, nsid" : "subsystem, nsid");
		return -EINVAL;
	}
	if (nqn == NULL || strlen(nqn) > NVMF_NQN_MAX) {
		udk_telemetry_req_error(req, "give \"subsystem\": the NQN of a subsystem");
		return -EINVAL;
	}
	if (rc == -EINVAL || nsid > UINT32_MAX || (rc == -ENOENT && !add) || (!add && nsid == 0)) {
		udk_telemetry_req_error(req, "give \"nsid\": a namespace ID, a number from 1%s",
					add ? " (or leave it out: the lowest free)" : "");
		return -EINVAL;
	}
	if (add && (bdev == NULL || strlen(bdev) >= sizeof(ctl->bdev))) {
		udk_telemetry_req_error(req, "give \"bdev\": KIND:NAME:ARGS, e.g. malloc:ram1:64 "
					"(64 MiB), null:n1:64:4096, file:f1:/path");
		return -EINVAL;
	}
	snprintf(ctl->nqn, sizeof(ctl->nqn), "%s", nqn);
	snprintf(ctl->bdev, sizeof(ctl->bdev), "%s", add ? bdev : "");
	ctl->nsid = (uint32_t)nsid;
	ctl->op = add ? CTL_NS_ADD : CTL_NS_REMOVE;
	return 0;
}

static int ns_cmd(struct udk_json *j, struct udk_telemetry_req *req, struct nvmf_tgt *t, bool add)
{
	struct nvmf_ctl *ctl = t->ctl;
	int rc;

	/* Providers run one at a time: ctl is ours until ctl_call returns. */
	rc = ctl_params(ctl, req, add);
	if (rc == 0)
		rc = ctl_call(ctl, req);
	if (rc < 0)
		return rc;
	udk_json_obj_open(j, NULL);
	udk_json_str(j, "subsystem", ctl->nqn);
	udk_json_u64(j, "nsid", add ? ctl->nsid_out : ctl->nsid);
	if (add)
		udk_json_str(j, "bdev", ctl->bdev);
	udk_json_obj_close(j);
	return 0;
}

static int ns_add_cmd(struct udk_json *j, struct udk_telemetry_req *req, void *arg)
{
	return ns_cmd(j, req, arg, true);
}

static int ns_remove_cmd(struct udk_json *j, struct udk_telemetry_req *req, void *arg)
{
	return ns_cmd(j, req, arg, false);
}

void nvmf_ctl_run(struct nvmf_tgt *t)
{
	struct nvmf_ctl *ctl = t->ctl;
	uint64_t n;
	int rc;

	if (read(ctl->efd, &n, sizeof(n)) < 0)
		return;
	pthread_mutex_lock(&ctl->lock);
	if (ctl->state != CTL_POSTED) { /* withdrawn */
		pthread_mutex_unlock(&ctl->lock);
		return;
	}
	ctl->state = CTL_TAKEN;
	pthread_mutex_unlock(&ctl->lock);
	/* The request is ours while TAKEN: the telemetry thread waits. */
	ctl->err[0] = '\0';
	if (ctl->op == CTL_NS_ADD)
		rc = nvmf_ns_add(t, ctl->nqn, ctl->bdev, ctl->nsid, ctl->err, sizeof(ctl->err), &ctl->nsid_out);
	else
		rc = nvmf_ns_remove(t, ctl->nqn, ctl->nsid, ctl->err, sizeof(ctl->err));
	pthread_mutex_lock(&ctl->lock);
	ctl->rc = rc;
	ctl->state = CTL_DONE;
	pthread_cond_signal(&ctl->done);
	pthread_mutex_unlock(&ctl->lock);
}

int nvmf_telemetry_register(struct nvmf_tgt *t)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct nvmf_ctl *ctl = calloc(1, sizeof(*ctl));
	int rc;

	if (ctl == NULL)
		return -ENOMEM;
	ctl->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ctl->efd < 0) {
		rc = -errno;
		nvmf_log("run-time commands: eventfd: %s", strerror(-rc));
		free(ctl);
		return rc;
	}
	pthread_mutex_init(&ctl->lock, NULL);
	pthread_cond_init(&ctl->done, NULL);
	ev.data.ptr = ctl;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, ctl->efd, &ev) < 0) {
		rc = -errno;
		nvmf_log("run-time commands: epoll: %s", strerror(-rc));
		goto err_ctl;
	}
	t->ctl = ctl;
	rc = udk_telemetry_register("nvmf", "NVMe/TCP target: connections, per subsystem its "
				    "controllers, queues, commands, I/O and bytes", nvmf_cmd, t);
	if (rc == 0)
		rc = udk_telemetry_register_req("nvmf_ns_add", "add a namespace: params subsystem (NQN), "
						"bdev (KIND:NAME:ARGS), nsid (optional)", ns_add_cmd, t);
	if (rc == 0)
		rc = udk_telemetry_register_req("nvmf_ns_remove", "remove a namespace: params subsystem "
						"(NQN), nsid", ns_remove_cmd, t);
	if (rc < 0) {
		nvmf_log("telemetry commands: %s", strerror(-rc));
		nvmf_telemetry_unregister(t);
	}
	return rc;

err_ctl:
	pthread_cond_destroy(&ctl->done);
	pthread_mutex_destroy(&ctl->lock);
	close(ctl->efd);
	free(ctl);
	return rc;
}

void nvmf_telemetry_unregister(struct nvmf_tgt *t)
{
	struct nvmf_ctl *ctl = t->ctl;

	/* Once these return no provider runs or will run: ctl is free to go. */
	udk_telemetry_unregister("nvmf");
	udk_telemetry_unregister("nvmf_ns_add");
	udk_telemetry_unregister("nvmf_ns_remove");
	if (ctl == NULL)
		return;
	epoll_ctl(t->epfd, EPOLL_CTL_DEL, ctl->efd, NULL);
	pthread_cond_destroy(&ctl->done);
	pthread_mutex_destroy(&ctl->lock);
	close(ctl->efd);
	free(ctl);
	t->ctl = NULL;
}
