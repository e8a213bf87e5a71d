/* SPDX-License-Identifier: BSD-3-Clause */
/* nvme_telemetry.c - telemetry's "nvme" command (doc/telemetry.md): every
 * attached controller with its I/O queue pairs, their command counters and,
 * when the qpair records them, latency histograms.  The counters are the
 * qpair's own (nvme_internal.h), read with relaxed loads while its lcore
 * runs; the controller's lock keeps qpairs from going away meanwhile.
 */
#include <pthread.h>
#include <stdlib.h>

#include "nvme_internal.h"
#include "udk_util.h"

/* Attached controllers, for this command only. */
static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct udk_nvme_ctrlr **ctrlrs;
static size_t nb_ctrlrs, cap_ctrlrs;

void nvme_telemetry_add(struct udk_nvme_ctrlr *c)
{
	pthread_mutex_lock(&list_lock);
	if (nb_ctrlrs == cap_ctrlrs) {
		size_t cap = cap_ctrlrs ? 2 * cap_ctrlrs : 8;
		struct udk_nvme_ctrlr **a = realloc(ctrlrs, cap * sizeof(*a));

		if (a == NULL) { /* telemetry will not show it; the driver works on */
			pthread_mutex_unlock(&list_lock);
			udk_log(UDK_LOG_WARN, NVME_LOG, "%s: no memory to list it in telemetry",
				c->info.bdf);
			return;
		}
		ctrlrs = a;
		cap_ctrlrs = cap;
	}
	ctrlrs[nb_ctrlrs++] = c;
	pthread_mutex_unlock(&list_lock);
}

void nvme_telemetry_remove(struct udk_nvme_ctrlr *c)
{
	pthread_mutex_lock(&list_lock);
	for (size_t i = 0; i < nb_ctrlrs; i++) {
		if (ctrlrs[i] == c) {
			ctrlrs[i] = ctrlrs[--nb_ctrlrs];
			break;
		}
	}
	if (nb_ctrlrs == 0) {
		free(ctrlrs);
		ctrlrs = NULL;
		cap_ctrlrs = 0;
	}
	pthread_mutex_unlock(&list_lock);
}

static void latency(struct udk_json *j, const struct udk_nvme_qpair *qp)
{
	uint64_t count = 0;

	if (qp->lat_hist == NULL) {
		udk_json_str(j, "latency", NULL);
		return;
	}
	udk_json_obj_open(j, "latency");
	udk_json_u64(j, "sum_ns", udk_counter_read(&qp->stats.lat_sum_ns));
	udk_json_u64(j, "max_ns", udk_counter_read(&qp->stats.lat_max_ns));
	/* [low_ns, count] for each non-empty bucket [low, 2 * low). */
	udk_json_arr_open(j, "buckets");
	for (unsigned int b = 0; b < NVME_LAT_BUCKETS; b++) {
		uint64_t n = udk_counter_read(&qp->lat_hist[b]);

		if (n == 0)
			continue;
		count += n;
		udk_json_arr_open(j, NULL);
		udk_json_u64(j, NULL, b == 0 ? 0 : 1ull << b);
		udk_json_u64(j, NULL, n);
		udk_json_arr_close(j);
	}
	udk_json_arr_close(j);
	udk_json_u64(j, "count", count);
	udk_json_obj_close(j);
}

static void qpair(struct udk_json *j, const struct udk_nvme_qpair *qp)
{
	const struct nvme_qpair_stats *s = &qp->stats;
	uint64_t sub = udk_counter_read(&s->submitted);
	/* Acquire, paired with the poll's release: the histogram read below
	 * (latency()) counts at least these completions. */
	uint64_t done = __atomic_load_n(&s->completed, __ATOMIC_ACQUIRE);
	uint64_t tmo = udk_counter_read(&s->timeouts), can = udk_counter_read(&s->cancelled);

	udk_json_obj_open(j, NULL);
	udk_json_u64(j, "qid", qp->qid);
	udk_json_u64(j, "qsize", qp->qsize);
	udk_json_u64(j, "submitted", sub);
	udk_json_u64(j, "completed", done);
	udk_json_u64(j, "errors", udk_counter_read(&s->errors));
	udk_json_u64(j, "timeouts", tmo);
	udk_json_u64(j, "cancelled", can);
	udk_json_str(j, "intr", qp->intr == UDK_NVME_INTR_INTERRUPT ? "interrupt" :
			    qp->intr == UDK_NVME_INTR_ADAPTIVE ? "adaptive" : "poll");
	udk_json_u64(j, "interrupts", udk_counter_read(&s->interrupts));
	/* Read one after the other, not at one instant: never below zero.  A
	 * poll publishes completed once, after its callbacks submitted again,
	 * so this can read up to one poll's completions high. */
	udk_json_u64(j, "in_flight", sub > done + tmo + can ? sub - done - tmo - can : 0);
	latency(j, qp);
	udk_json_obj_close(j);
}

static int nvme_cmd(struct udk_json *j, void *unused)
{
	(void)unused;
	udk_json_arr_open(j, NULL);
	pthread_mutex_lock(&list_lock);
	for (size_t i = 0; i < nb_ctrlrs; i++) {
		struct udk_nvme_ctrlr *c = ctrlrs[i];

		/* A long admin command (format, reset) holds the lock: say so
		 * rather than keep every telemetry client waiting. */
		bool locked = pthread_mutex_trylock(&c->lock) == 0;

		udk_json_obj_open(j, NULL);
		udk_json_str(j, "bdf", c->info.bdf);
		udk_json_bool(j, "busy", !locked);
		if (locked) {
			udk_json_str(j, "model", c->info.model);
			udk_json_str(j, "serial", c->info.serial);
			udk_json_u64(j, "namespaces", c->info.nb_active_ns);
			udk_json_bool(j, "failed", __atomic_load_n(&c->failed, __ATOMIC_RELAXED));
			udk_json_arr_open(j, "qpairs");
			for (const struct udk_nvme_qpair *qp = c->qpairs; qp != NULL; qp = qp->next)
				qpair(j, qp);
			udk_json_arr_close(j);
			pthread_mutex_unlock(&c->lock);
		}
		udk_json_obj_close(j);
	}
	pthread_mutex_unlock(&list_lock);
	udk_json_arr_close(j);
	return 0;
}

__attribute__((constructor)) static void nvme_telemetry_init(void)
{
	udk_telemetry_register("nvme", "NVMe controllers, I/O queue pairs, counters, latency",
			       nvme_cmd, NULL);
}
