/* SPDX-License-Identifier: BSD-3-Clause */
/* ns.c - namespaces' lives on the poll thread: a bdev made from its spec,
 * a namespace opened on it (channel, geometry, stable identifiers), and the
 * run-time commands that add and remove namespaces (telemetry.c hands them
 * over); each change tells the subsystem's controllers (changed namespace
 * list and AEN, admin.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "nvmf.h"
#include "udk_bdev.h"
#include "udk_telemetry.h"
#include "udk_util.h"

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
 * poll thread destroying the bdev): only flag it; the poll thread does the
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
		goto err_bdev;
	}
	rc = udk_bdev_channel_get(ns->bdev, &ns->ch);
	if (rc < 0) {
		snprintf(err, el, "namespace %u of %s: a channel on bdev %s: %s", ns->nsid, ss->nqn,
			 ns->bdev_name, strerror(-rc));
		goto err_events;
	}
	ns->block_size = info.block_size;
	ns->num_blocks = info.num_blocks;
	ns->max_io_blocks = info.max_io_blocks;
	ns->read_only = info.read_only;
	ns->flush = info.io_supported[UDK_BDEV_IO_FLUSH];
	ns->write_zeroes = info.io_supported[UDK_BDEV_IO_WRITE_ZEROES];
	ns->dealloc = info.io_supported[UDK_BDEV_IO_DEALLOCATE];
	ns_uuid(ss->nqn, ns->nsid, ns->bdev_name, ns->uuid);
	return 0;

err_events:
	udk_bdev_event_unregister(ns->bdev, on_bdev_event, ns);
err_bdev:
	ns->bdev = NULL;
	return rc;
}

void nvmf_ns_close(struct nvmf_ns *ns)
{
	if (ns->ch != NULL) {
		udk_bdev_channel_put(ns->ch); /* what is in flight completes, or fails, here */
		ns->ch = NULL;
	}
	if (ns->bdev != NULL)
		udk_bdev_event_unregister(ns->bdev, on_bdev_event, ns);
	ns->bdev = NULL;
}

/* ---- run-time commands (the poll thread, from telemetry.c) ---- */

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
			taken |= ss->ns[i].nsid == id && (!ss->ns[i].removed || ss->ns[i].bdev != NULL);
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
		if (ss->ns[i].removed && ss->ns[i].bdev == NULL)
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
	if (ns == NULL)
		ns = &ss->ns[ss->nns++];
	memset(ns, 0, sizeof(*ns));
	ns->nsid = *out;
	snprintf(ns->bdev_name, sizeof(ns->bdev_name), "%s", t->cfg->bdevs[b].name);
	rc = nvmf_ns_open(ss, ns, err, el);
	if (rc < 0)
		goto err_bdev;
	udk_counter_add(&ss->stats.namespaces, 1);
	nvmf_log("namespace %u of %s added: bdev %s", ns->nsid, ss->nqn, ns->bdev_name);
	nvmf_ns_changed(t, ss, ns->nsid);
	return 0;

err_bdev:
	ns->removed = true; /* the slot is free again */
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
	struct udk_bdev *bd;
	char name[sizeof(ns->bdev_name)];
	int rc;

	if (ss == NULL)
		return -ENOENT;
	ns = nvmf_ns_find(ss, nsid);
	if (ns == NULL) {
		snprintf(err, el, "no namespace %u in %s", nsid, ss->nqn);
		return -ENOENT;
	}
	/* Hosts see it gone first (I/O to it fails with Invalid Namespace), then
	 * its bdev goes: what is in flight completes in channel_put. */
	ns->removed = true;
	udk_counter_add(&ss->stats.namespaces, (uint64_t)-1);
	nvmf_log("namespace %u of %s removed by command (bdev %s)", ns->nsid, ss->nqn, ns->bdev_name);
	nvmf_ns_changed(t, ss, ns->nsid);
	snprintf(name, sizeof(name), "%s", ns->bdev_name);
	bd = ns->bdev;
	nvmf_ns_close(ns);
	rc = bd != NULL ? udk_bdev_destroy(bd) : 0;
	if (rc < 0)
		nvmf_log("namespace %u of %s: bdev %s not destroyed: %s", nsid, ss->nqn, name,
			 strerror(-rc));
	else
		spec_drop(t->cfg, name);
	return 0;
}
