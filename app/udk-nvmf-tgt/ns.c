/* SPDX-License-Identifier: BSD-3-Clause */
/* ns.c - namespaces' lives: a bdev made from its spec, a namespace opened
 * on it (geometry, stable identifiers), a channel on it in each poll group,
 * and the run-time commands that add and remove namespaces (telemetry.c
 * hands them to group 0); each change tells the subsystem's controllers
 * (changed namespace list and AEN, admin.c) on the groups that own them. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "nvmf.h"
#include "udk_bdev.h"
#include "udk_telemetry.h"
#include "udk_util.h"

/* How long a run-time command waits for every group to take a namespace
 * change (they do within a poll; a group busy past this finishes it later). */
#define NS_WAIT_MS 2000

int nvmf_bdev_create(const struct nvmf_bdev_spec *b, char *err, size_t el)
{
	struct udk_bdev *bd;
	int rc;

	if (!strcmp(b->kind, "malloc"))
		rc = udk_bdev_malloc_create(b->name, (b->mib << 20) / b->block_size, b->block_size, &bd);
	else if (!strcmp(b->kind, "null"))
		rc = udk_bdev_null_create(b->name, (b->mib << 20) / b->block_size, b->block_size, &bd);
	else if (!strcmp(b->kind, "file"))
		rc = udk_bdev_file_create(b->name, b->path, b->block_size, b->read_only, &bd);
	else
		rc = -ENOTSUP;
	if (rc < 0)
		snprintf(err, el, "bdev %s (%s): %s: %s", b->name, b->where, strerror(-rc),
			 rc == -ENOTSUP ? "not a kind made here" : udk_last_error());
	return rc;
}

/* On the thread that noticed (lib/pci's hot-plug thread for nvme, or the
 * group 0 destroying the bdev): only flag it; group 0 does the
 * rest (nvmf_ns_reap). */
static void on_bdev_event(struct udk_bdev *bdev, enum udk_bdev_event ev, void *arg)
{
	struct nvmf_ns *ns = arg;

	(void)bdev;
	if (ev == UDK_BDEV_EVENT_REMOVE)
		atomic_store_explicit(&ns->gone, true, memory_order_release);
}

/* A namespace's NGUID/UUID from what names it (subsystem, NSID, bdev), not
 * from the bdev's (random for malloc, null and file bdevs): the same after
 * a restart, as a reconnecting host requires ("identifiers changed" makes the
 * kernel drop the namespace and fail its I/O).  Two FNV-1a hashes, stamped as
 * an RFC 9562 version 8 (custom) UUID. */
static void ns_uuid(const char *nqn, uint32_t nsid, const char *bdev, uint8_t uuid[16])
{
	char key[512];
	int n = snprintf(key, sizeof(key), "%s/%u/%s", nqn, nsid, bdev);

	for (int half = 0; half < 2; half++) {
		uint64_t h = half ? 0x84222325cbf29ce4ull : 0xcbf29ce484222325ull;

		for (int i = 0; i < n && i < (int)sizeof(key); i++)
			h = (h ^ (uint8_t)key[i]) * 0x100000001b3ull;
		memcpy(uuid + 8 * half, &h, 8);
	}
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x80);
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
}

int nvmf_ns_open(struct nvmf_subsys *ss, struct nvmf_ns *ns, char *err, size_t el)
{
	struct udk_bdev_info info;
	int rc;

	ns->bdev = udk_bdev_get(ns->bdev_name);
	if (ns->bdev == NULL || udk_bdev_info(ns->bdev, &info) < 0) {
		ns->bdev = NULL;
		snprintf(err, el, "namespace %u of %s: no bdev %s", ns->nsid, ss->nqn, ns->bdev_name);
		return -ENOENT;
	}
	rc = udk_bdev_event_register(ns->bdev, on_bdev_event, ns);
	if (rc < 0) {
		snprintf(err, el, "namespace %u of %s: events of bdev %s: %s", ns->nsid, ss->nqn,
			 ns->bdev_name, udk_last_error());
		ns->bdev = NULL;
		return rc;
	}
	ns->block_size = info.block_size;
	ns->num_blocks = info.num_blocks;
	ns->max_io_blocks = info.max_io_blocks;
	ns->read_only = info.read_only;
	ns->flush = info.io_supported[UDK_BDEV_IO_FLUSH];
	ns->write_zeroes = info.io_supported[UDK_BDEV_IO_WRITE_ZEROES];
	ns->dealloc = info.io_supported[UDK_BDEV_IO_DEALLOCATE];
	ns_uuid(ss->nqn, ns->nsid, ns->bdev_name, ns->uuid);
	atomic_store(&ns->gone, false);
	atomic_store(&ns->nopen, 0);
	atomic_store_explicit(&ns->state, NS_OPENING, memory_order_release);
	return 0;
}

void nvmf_ns_close(struct nvmf_ns *ns)
{
	if (ns->bdev != NULL)
		udk_bdev_event_unregister(ns->bdev, on_bdev_event, ns);
	ns->bdev = NULL;
}

/* ---- each group's channels ---- */

void nvmf_pg_sync(struct nvmf_pg *pg)
{
	struct nvmf_tgt *t = pg->tgt;

	/* Cleared first: a change made after this posts sync again. */
	atomic_store(&pg->sync_posted, false);
	for (unsigned int s = 0; s < t->nsubsys; s++) {
		struct nvmf_subsys *ss = &t->subsys[s];
		unsigned int n = __atomic_load_n(&ss->nns, __ATOMIC_ACQUIRE), bits;

		for (unsigned int i = 0; i < n; i++) {
			struct nvmf_ns *ns = &ss->ns[i];
			unsigned int st = atomic_load_explicit(&ns->state, memory_order_acquire);
			int rc;

			if ((st == NS_OPENING || st == NS_ACTIVE) && !pg->counted[s][i]) {
				rc = udk_bdev_channel_get(ns->bdev, &pg->ch[s][i]);
				if (rc < 0) {
					pg->ch[s][i] = NULL;
					nvmf_log("namespace %u of %s: poll group %u: a channel on bdev %s: %s "
						 "(I/O on its queues there fails with Invalid Namespace)", ns->nsid,
						 ss->nqn, pg->g->id, ns->bdev_name, strerror(-rc));
				}
				pg->counted[s][i] = true;
				atomic_fetch_add_explicit(&ns->nopen, 1, memory_order_release);
			} else if ((st == NS_REMOVING || st == NS_FREE) && pg->counted[s][i]) {
				if (pg->ch[s][i] != NULL)
					udk_bdev_channel_put(pg->ch[s][i]); /* what is in flight completes here */
				pg->ch[s][i] = NULL;
				pg->counted[s][i] = false;
				atomic_fetch_sub_explicit(&ns->nopen, 1, memory_order_release);
			}
		}
		bits = atomic_exchange(&pg->aen_bits[s], 0);
		for (unsigned int c = 0; bits && c < NVMF_MAX_CTRLR; c++) {
			struct nvmf_ctrlr *ctrlr = &t->ctrlr[c];

			if (!nvmf_ctrlr_mine(pg, ctrlr) || ctrlr->ss != ss)
				continue;
			for (unsigned int b = 0; b < NVMF_MAX_NS; b++)
				if (bits & (1u << b))
					nvmf_ctrlr_ns_changed(ctrlr, b + 1);
		}
	}
}

static void sync_run(struct nvmf_group *g, struct nvmf_msg *m)
{
	(void)m;
	nvmf_pg_sync(g->ctx);
}

void nvmf_pg_kick(struct nvmf_pg *pg)
{
	int rc;

	if (atomic_exchange(&pg->sync_posted, true))
		return;
	pg->sync.fn = sync_run;
	if ((rc = nvmf_group_post(pg->g, &pg->sync)) < 0) {
		atomic_store(&pg->sync_posted, false);
		nvmf_log("poll group %u: namespace change not posted: %s (its next check runs it)", pg->g->id,
			 strerror(-rc));
	}
}

void nvmf_pg_put_channels(struct nvmf_pg *pg)
{
	for (unsigned int s = 0; s < NVMF_MAX_SUBSYS; s++)
		for (unsigned int i = 0; i < NVMF_MAX_NS; i++) {
			if (pg->ch[s][i] != NULL)
				udk_bdev_channel_put(pg->ch[s][i]);
			pg->ch[s][i] = NULL;
		}
}

static void kick_all(struct nvmf_tgt *t)
{
	for (unsigned int g = 0; g < t->ngroups; g++)
		nvmf_pg_kick(&t->pgs[g]);
}

/* Group 0: the bdev goes once no group holds a channel on it. */
static void ns_free(struct nvmf_tgt *t, struct nvmf_subsys *ss, struct nvmf_ns *ns);

void nvmf_ns_step(struct nvmf_tgt *t, unsigned int wait_ms)
{
	uint64_t until = nvmf_now_ns() + (uint64_t)wait_ms * 1000000u;
	struct timespec ms = {0, 1000000};

	for (;;) {
		bool busy = false;

		for (unsigned int s = 0; s < t->nsubsys; s++)
			for (unsigned int i = 0; i < t->subsys[s].nns; i++) {
				struct nvmf_ns *ns = &t->subsys[s].ns[i];
				unsigned int st = atomic_load(&ns->state);
				unsigned int n = atomic_load_explicit(&ns->nopen, memory_order_acquire);

				if (st == NS_OPENING && n == t->ngroups) {
					atomic_store_explicit(&ns->state, NS_ACTIVE, memory_order_release);
					udk_counter_add(&t->pgs[0].ss_stats[s].namespaces, 1);
					nvmf_ns_changed(t, &t->subsys[s], ns->nsid);
				} else if (st == NS_REMOVING && n == 0) {
					ns_free(t, &t->subsys[s], ns);
				} else if (st == NS_OPENING || st == NS_REMOVING) {
					busy = true;
				}
			}
		t->ns_busy = busy;
		if (!busy || nvmf_now_ns() >= until)
			return;
		nvmf_pg_sync(&t->pgs[0]); /* this group's part; the others run theirs */
		nanosleep(&ms, NULL);
	}
}

/* Group 0: hosts see it gone first (I/O to it fails with Invalid Namespace,
 * an AEN), then each group puts its channel (what is in flight completes),
 * then its bdev goes (ns_free). */
static void ns_retire(struct nvmf_tgt *t, struct nvmf_subsys *ss, struct nvmf_ns *ns, bool destroy)
{
	ns->destroy = destroy;
	atomic_store_explicit(&ns->state, NS_REMOVING, memory_order_release);
	udk_counter_add(&t->pgs[0].ss_stats[ss - t->subsys].namespaces, (uint64_t)-1);
	nvmf_ns_changed(t, ss, ns->nsid);
	kick_all(t);
	t->ns_busy = true;
}

void nvmf_ns_reap(struct nvmf_tgt *t)
{
	for (unsigned int s = 0; s < t->nsubsys; s++)
		for (unsigned int i = 0; i < t->subsys[s].nns; i++) {
			struct nvmf_ns *ns = &t->subsys[s].ns[i];

			if (atomic_load(&ns->state) != NS_ACTIVE ||
			    !atomic_load_explicit(&ns->gone, memory_order_acquire))
				continue;
			nvmf_log("namespace %u of %s removed: its bdev %s went away", ns->nsid, t->subsys[s].nqn,
				 ns->bdev_name);
			ns_retire(t, &t->subsys[s], ns, false);
		}
}

/* ---- run-time commands (group 0, from telemetry.c) ---- */

static struct nvmf_subsys *subsys_of(struct nvmf_tgt *t, const char *nqn, char *err, size_t el)
{
	for (unsigned int i = 0; nqn != NULL && i < t->nsubsys; i++)
		if (!strcmp(t->subsys[i].nqn, nqn)) {
			if (!t->subsys[i].discovery)
				return &t->subsys[i];
			snprintf(err, el, "%s is the discovery subsystem: it has no namespaces", nqn);
			return NULL;
		}
	snprintf(err, el, "no subsystem '%s' here (\"subsystem\": the NQN of one in the configuration)",
		 nqn ? nqn : "");
	return NULL;
}

/* The spec's entry in cfg, made with the config's own checks; its index. */
static int spec_add(struct nvmf_config *cfg, struct nvmf_tgt *t, const char *bdev, char *err, size_t el)
{
	char kind[8];
	const char *colon = strchr(bdev, ':');

	if (colon == NULL || colon - bdev >= (long)sizeof(kind)) {
		snprintf(err, el, "bdev '%s': give KIND:NAME:ARGS, e.g. malloc:ram1:64 (MiB), "
			 "null:n1:64:4096, file:f1:/path", bdev);
		return -EINVAL;
	}
	memcpy(kind, bdev, (size_t)(colon - bdev));
	kind[colon - bdev] = '\0';
	if (strcmp(kind, "malloc") && strcmp(kind, "null") && strcmp(kind, "file")) {
		snprintf(err, el, "bdev '%s': the kind is malloc, null or file at run time (nvme bdevs "
			 "are given at start, with -a BDF)", bdev);
		return -EINVAL;
	}
	if (nvmf_config_bdev_arg(cfg, t, kind, colon + 1, "nvmf_ns_add", err, el) < 0)
		return -EINVAL;
	if (udk_bdev_get(cfg->bdevs[cfg->nbdevs - 1].name) != NULL) {
		snprintf(err, el, "bdev name '%s' is taken", cfg->bdevs[cfg->nbdevs - 1].name);
		cfg->nbdevs--;
		return -EEXIST;
	}
	return (int)cfg->nbdevs - 1;
}

static void spec_drop(struct nvmf_config *cfg, const char *name)
{
	for (unsigned int i = 0; i < cfg->nbdevs; i++)
		if (!strcmp(cfg->bdevs[i].name, name)) {
			cfg->bdevs[i] = cfg->bdevs[--cfg->nbdevs];
			return;
		}
}

int nvmf_ns_add(struct nvmf_tgt *t, const char *nqn, const char *bdev, uint32_t nsid, char *err,
		size_t el, uint32_t *out)
{
	struct nvmf_subsys *ss = subsys_of(t, nqn, err, el);
	struct nvmf_ns *ns = NULL;
	struct udk_bdev *bd;
	bool fresh;
	int rc, b;

	*out = 0;
	if (ss == NULL)
		return -ENOENT;
	if (nsid > NVMF_MAX_NS) {
		snprintf(err, el, "NSID %u: 1 to %d (0 or none: the lowest free)", nsid, NVMF_MAX_NS);
		return -EINVAL;
	}
	for (uint32_t id = nsid ? nsid : 1; id <= (nsid ? nsid : NVMF_MAX_NS) && !*out; id++) {
		bool taken = false;

		for (unsigned int i = 0; i < ss->nns; i++)
			taken |= ss->ns[i].nsid == id && atomic_load(&ss->ns[i].state) != NS_FREE;
		if (!taken)
			*out = id;
	}
	if (!*out && nsid) {
		snprintf(err, el, "NSID %u is taken in %s", nsid, ss->nqn);
		return -EEXIST;
	}
	if (!*out) {
		snprintf(err, el, "no NSID left in %s (1 to %d)", ss->nqn, NVMF_MAX_NS);
		return -ENOSPC;
	}
	/* A slot: one whose namespace was removed and released, else a new one. */
	for (unsigned int i = 0; i < ss->nns && ns == NULL; i++)
		if (atomic_load(&ss->ns[i].state) == NS_FREE)
			ns = &ss->ns[i];
	if (ns == NULL && ss->nns == NVMF_MAX_NS) {
		snprintf(err, el, "%s has %d namespaces, the most it takes", ss->nqn, NVMF_MAX_NS);
		return -ENOSPC;
	}
	b = spec_add(t->cfg, t, bdev, err, el);
	if (b < 0)
		return b;
	rc = nvmf_bdev_create(&t->cfg->bdevs[b], err, el);
	if (rc < 0)
		goto err_spec;
	fresh = ns == NULL;
	if (fresh)
		ns = &ss->ns[ss->nns];
	/* A FREE slot: no group reads past its state. */
	memset((char *)ns + offsetof(struct nvmf_ns, destroy), 0,
	       sizeof(*ns) - offsetof(struct nvmf_ns, destroy));
	ns->nsid = *out;
	snprintf(ns->bdev_name, sizeof(ns->bdev_name), "%s", t->cfg->bdevs[b].name);
	rc = nvmf_ns_open(ss, ns, err, el);
	if (rc < 0)
		goto err_bdev;
	if (fresh)
		__atomic_store_n(&ss->nns, ss->nns + 1, __ATOMIC_RELEASE);
	nvmf_log("namespace %u of %s added: bdev %s", ns->nsid, ss->nqn, ns->bdev_name);
	/* Served once every group has its channel: then the hosts are told. */
	kick_all(t);
	t->ns_busy = true;
	nvmf_ns_step(t, NS_WAIT_MS);
	return 0;

err_bdev:
	bd = udk_bdev_get(t->cfg->bdevs[b].name);
	if (bd != NULL)
		udk_bdev_destroy(bd);
err_spec:
	spec_drop(t->cfg, t->cfg->bdevs[b].name);
	*out = 0;
	return rc;
}

int nvmf_ns_remove(struct nvmf_tgt *t, const char *nqn, uint32_t nsid, char *err, size_t el)
{
	struct nvmf_subsys *ss = subsys_of(t, nqn, err, el);
	struct nvmf_ns *ns;

	if (ss == NULL)
		return -ENOENT;
	ns = nvmf_ns_find(ss, nsid);
	if (ns == NULL) {
		snprintf(err, el, "no namespace %u in %s", nsid, ss->nqn);
		return -ENOENT;
	}
	nvmf_log("namespace %u of %s removed by command (bdev %s)", ns->nsid, ss->nqn, ns->bdev_name);
	ns_retire(t, ss, ns, true);
	nvmf_ns_step(t, NS_WAIT_MS);
	return 0;
}

static void ns_free(struct nvmf_tgt *t, struct nvmf_subsys *ss, struct nvmf_ns *ns)
{
	struct udk_bdev *bd = ns->bdev;
	char name[sizeof(ns->bdev_name)];
	int rc;

	snprintf(name, sizeof(name), "%s", ns->bdev_name);
	nvmf_ns_close(ns);
	atomic_store_explicit(&ns->state, NS_FREE, memory_order_release);
	if (!ns->destroy)
		return; /* gone by itself (hot-unplug): destroyed at exit */
	rc = bd != NULL ? udk_bdev_destroy(bd) : 0;
	if (rc < 0)
		nvmf_log("namespace %u of %s: bdev %s not destroyed: %s", ns->nsid, ss->nqn, name,
			 strerror(-rc));
	else
		spec_drop(t->cfg, name);
}
