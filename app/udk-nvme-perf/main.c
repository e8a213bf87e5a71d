/* SPDX-License-Identifier: BSD-3-Clause */
/* udk-nvme-perf - measure NVMe IOPS, bandwidth and latency through udk: QD
 * commands kept in flight per queue pair, one queue pair per worker lcore and
 * namespace, a latency histogram per queue pair, live progress on stderr.
 *
 *   udk-nvme-perf [EAL options] -- --qd N --io-size BYTES --pattern P --time SEC
 *
 * Exit 0 on success, 2 on bad input (options, or values the device refuses:
 * queue depth, I/O size, namespace), 1 on a runtime error (attach, memory,
 * an I/O that failed, --verify finding a block that differs, every
 * controller removed).  A controller hot-unplugged during the run is
 * reported and the others carry on (doc/hotplug.md). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include "hist.h"
#include "out.h"
#include "opts.h"
#include "tool_args.h"
#include "udk_eal.h"
#include "udk_mem.h"
#include "udk_nvme.h"
#include "udk_util.h"
#include "udk_version.h"

struct target {
	struct udk_pci_dev *pdev;
	atomic_bool removed;      /* set by the hot-plug callback */
	struct udk_nvme_ctrlr *ctrlr;
	struct udk_nvme_ctrlr_info info;
};

/* One namespace of one controller: the jobs on it share it. */
struct nsref {
	struct target *tg;
	struct udk_nvme_ns *ns;
	struct udk_nvme_ns_info ni;
};

struct job;

/* One command slot: its buffer stays with it for the whole run. */
struct slot {
	struct job *job;
	void *buf;
	uint64_t t_submit; /* ns */
	bool read;
	uint64_t unit;     /* --verify: what the write holds */
	uint32_t gen;
};

/* One queue pair on one namespace, served by one lcore. */
struct job {
	unsigned int lcore;
	struct target *tg;
	struct nsref *nr;
	struct udk_nvme_qpair *qp;
	struct slot *slots;
	uint32_t qd;
	uint32_t nlb;         /* blocks per I/O */
	uint64_t nb_units;    /* I/O-sized units in the namespace */
	uint64_t next;        /* sequential: next unit */
	uint64_t rng;
	bool random;
	int mix;
	uint64_t reads, writes, errors;
	uint64_t removed;         /* commands that ended or were refused with UDK_EREMOVED */
	uint32_t *acked;          /* --verify: per unit, generation of its last acknowledged write */
	uint32_t wgen;
	uint64_t verified, verify_bad;
	uint16_t err_status;
	int err_rc;
	_Atomic uint64_t pub_ios; /* reads + writes, for the progress line */
	double t0, t1;            /* when its worker started and saw the stop */
	struct hist hist;
} __attribute__((aligned(64)));

struct worker {
	struct job **jobs;
	unsigned int nb_jobs;
	struct udk_lcore_waitset *ws; /* --mode interrupt/adaptive: sleeps when idle */
};

static _Atomic bool stop;
static atomic_uint nb_removed;

static void log_sink(int level, const char *comp, const char *msg, void *arg)
{
	(void)arg;
	if (level != UDK_LOG_ERR && level <= udk_log_get_level())
		fprintf(stderr, PROG ": %s: %s\n", comp, msg);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no system call */
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* ---- the I/O path: no allocation, no lock, no system call ---- */

static void on_complete(void *arg, const struct udk_nvme_cpl *cpl);

/* --verify: each block of a write starts with its LBA and the write's
 * generation, so a read-back tells the last acknowledged write from an
 * older one. */
static void stamp(struct job *j, struct slot *s, uint64_t unit)
{
	uint32_t bs = j->nr->ni.block_size;

	s->unit = unit;
	s->gen = ++j->wgen ? j->wgen : ++j->wgen; /* never 0: "no write" */
	for (uint32_t b = 0; b < j->nlb; b++) {
		uint64_t *w = (uint64_t *)((uint8_t *)s->buf + (size_t)b * bs);

		w[0] = unit * j->nlb + b;
		w[1] = s->gen;
	}
}

static void submit(struct job *j, struct slot *s, uint64_t t)
{
	uint64_t unit;
	int rc;

	s->read = j->mix >= 100 || (j->mix > 0 && (int)(xorshift(&j->rng) % 100) < j->mix);
	if (j->random) {
		unit = xorshift(&j->rng) % j->nb_units;
	} else {
		unit = j->next;
		j->next = j->next + 1 >= j->nb_units ? 0 : j->next + 1;
	}
	s->t_submit = t;
	if (j->acked != NULL && !s->read)
		stamp(j, s, unit);
	rc = udk_nvme_ns_io(j->qp, j->nr->ns, s->read ? UDK_NVME_IO_READ : UDK_NVME_IO_WRITE,
			    s->buf, unit * j->nlb, j->nlb, 0, on_complete, s);
	if (unlikely(rc == -UDK_EREMOVED)) {
		j->removed++; /* the controller is gone: the slot stays idle */
	} else if (unlikely(rc < 0)) {
		j->errors++;
		if (j->err_rc == 0)
			j->err_rc = rc;
	}
}

static void on_complete(void *arg, const struct udk_nvme_cpl *cpl)
{
	struct slot *s = arg;
	struct job *j = s->job;
	uint64_t t = now_ns();

	if (unlikely(cpl->rc == -UDK_EREMOVED)) {
		j->removed++;
		return;
	}
	if (unlikely(cpl->rc != 0)) {
		j->errors++;
		if (j->err_rc == 0) {
			j->err_rc = cpl->rc;
			j->err_status = cpl->status;
		}
		return; /* the slot stays idle: a failing command is reported, not repeated */
	}
	hist_add(&j->hist, t - s->t_submit);
	if (s->read) {
		j->reads++;
	} else {
		j->writes++;
		if (j->acked != NULL)
			j->acked[s->unit] = s->gen;
	}
	/* One writer: a relaxed store is enough for the reporting lcore. */
	atomic_store_explicit(&j->pub_ios, j->reads + j->writes, memory_order_relaxed);
	if (!atomic_load_explicit(&stop, memory_order_relaxed))
		submit(j, s, t);
}

static void jobs_start(struct worker *w)
{
	for (unsigned int i = 0; i < w->nb_jobs; i++) {
		struct job *j = w->jobs[i];
		uint64_t t = now_ns();

		j->t0 = now();
		for (uint32_t k = 0; k < j->qd; k++)
			submit(j, &j->slots[k], t);
	}
}

static void jobs_stop(struct worker *w)
{
	double t = now(), deadline = t + 35; /* past the qpair's command timeout */
	bool busy = true;

	for (unsigned int i = 0; i < w->nb_jobs; i++)
		w->jobs[i]->t1 = t;
	while (busy && now() < deadline) {
		busy = false;
		for (unsigned int i = 0; i < w->nb_jobs; i++) {
			udk_nvme_qpair_poll(w->jobs[i]->qp, 0);
			busy = busy || udk_nvme_qpair_outstanding(w->jobs[i]->qp) > 0;
		}
	}
}

/* One round over the worker's queue pairs; in an interrupt mode, the wait
 * set sleeps after the empty rounds it was told to allow. */
static void worker_round(struct worker *w)
{
	int n = 0;

	for (unsigned int i = 0; i < w->nb_jobs; i++)
		n += udk_nvme_qpair_poll(w->jobs[i]->qp, 0);
	udk_lcore_poll(n > 0); /* telemetry's busy/idle poll counts */
	if (w->ws != NULL)
		udk_lcore_waitset_idle(w->ws, n > 0 ? (unsigned int)n : 0);
}

static int worker_main(void *arg)
{
	struct worker *w = arg;

	jobs_start(w);
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		worker_round(w);
	jobs_stop(w);
	return 0;
}

static int arm_qpair(void *qp)
{
	return udk_nvme_qpair_arm(qp);
}

/* --mode interrupt/adaptive: a wait set over the worker's queue pairs. */
static int worker_waitset(const struct opts *o, struct worker *w)
{
	struct udk_lcore_wait_opts wo;

	if (o->mode == M_POLL)
		return 0;
	udk_lcore_wait_opts_init(&wo, sizeof(wo));
	wo.spin_polls = o->mode == M_INTERRUPT ? 0 : o->spin;
	if (udk_lcore_waitset_create(&wo, &w->ws) < 0)
		return die("--mode %s: %s", mode_names[o->mode], udk_last_error());
	for (unsigned int i = 0; i < w->nb_jobs; i++) {
		struct udk_lcore_wait_source src = {
			.fd = udk_nvme_qpair_eventfd(w->jobs[i]->qp), .arm = arm_qpair,
			.arg = w->jobs[i]->qp};

		if (udk_lcore_waitset_add(w->ws, &src) < 0)
			return die("--mode %s: %s", mode_names[o->mode], udk_last_error());
	}
	return 0;
}

/* ---- hot-unplug and --verify ---- */

static struct target *ev_tg;
static unsigned int ev_nt;

/* The hot-plug thread: note the removal; the workers see their commands end
 * with UDK_EREMOVED and leave those slots idle. */
static void on_pci_event(const struct udk_pci_event *ev, void *arg)
{
	(void)arg;
	if (ev->type != UDK_PCI_EVENT_REMOVED)
		return;
	for (unsigned int i = 0; i < ev_nt; i++) {
		if (ev_tg[i].pdev != ev->pdev || atomic_exchange(&ev_tg[i].removed, true))
			continue;
		unsigned int n = atomic_fetch_add(&nb_removed, 1) + 1;
		fprintf(stderr, PROG ": %s was removed (hot-unplug): its commands end with "
			"UDK_EREMOVED; controllers left: %u of %u\n", ev->bdf, ev_nt - n, ev_nt);
	}
}

/* Read back every unit whose last write was acknowledged and compare the
 * stamps; the job's worker is done, so the main thread polls its qpair. */
static void verify_job(struct job *j)
{
	uint32_t bs = j->nr->ni.block_size;
	void *buf = j->slots[0].buf;

	for (uint64_t u = 0; u < j->nb_units && !atomic_load(&j->tg->removed); u++) {
		if (j->acked[u] == 0)
			continue;
		j->verified++;
		if (udk_nvme_ns_io_sync(j->qp, j->nr->ns, UDK_NVME_IO_READ, buf, u * j->nlb, j->nlb,
					NULL) != 0) {
			j->verify_bad++;
			continue;
		}
		for (uint32_t b = 0; b < j->nlb; b++) {
			const uint64_t *w = (const uint64_t *)((uint8_t *)buf + (size_t)b * bs);

			if (w[0] != u * j->nlb + b || w[1] != j->acked[u]) {
				if (j->verify_bad == 0)
					fprintf(stderr, PROG ": verify: %s ns %u LBA %llu holds LBA "
						"%llu of write %llu, not write %u\n", j->tg->info.bdf,
						j->nr->ni.nsid,
						(unsigned long long)(u * j->nlb + b),
						(unsigned long long)w[0], (unsigned long long)w[1],
						j->acked[u]);
				j->verify_bad++;
				break;
			}
		}
	}
	fprintf(stderr, PROG ": verify: %s ns %u: %llu acknowledged writes read back, %llu "
		"differ\n", j->tg->info.bdf, j->nr->ni.nsid, (unsigned long long)j->verified,
		(unsigned long long)j->verify_bad);
}

/* ---- set-up: controllers, namespaces, jobs ---- */

/* Fill nr with namespace nsid of t and check the options against it.  0, or
 * the exit code 2. */
static int ns_open(const struct opts *o, struct target *t, uint32_t nsid, struct nsref *nr)
{
	nr->tg = t;
	if (udk_nvme_ctrlr_ns(t->ctrlr, nsid, &nr->ns) < 0)
		return die("--ns: %s (--ns all takes each controller's active namespaces)",
			   udk_last_error()) + 1;
	udk_nvme_ns_info(nr->ns, &nr->ni);
	if (o->io_size % nr->ni.block_size)
		return die("--io-size %llu is not a multiple of the block size of namespace %u on "
			   "%s (%u bytes)", (unsigned long long)o->io_size, nsid, t->info.bdf,
			   nr->ni.block_size) + 1;
	if (o->io_size / nr->ni.block_size > nr->ni.nsze)
		return die("--io-size %llu is larger than namespace %u on %s",
			   (unsigned long long)o->io_size, nsid, t->info.bdf) + 1;
	return 0;
}

/* Attach every -a controller, find the --ns namespaces of each (nr[], *nn of
 * them) and check the options against them.  0, or the exit code (2: the
 * options do not fit the device, 1: it failed). */
static int targets_open(const struct opts *o, struct target *tg, size_t nt, struct nsref *nr,
			unsigned int *nn)
{
	struct udk_nvme_ctrlr_opts co;
	uint32_t ids[MAX_NS];
	int rc;

	/* Several lcores poll qpairs of one controller: a timeout aborts the
	 * command, and a reset would be the user's to make, never a worker's. */
	udk_nvme_ctrlr_opts_init(&co, sizeof(co));
	co.timeout_action = UDK_NVME_TIMEOUT_ABORT;
	*nn = 0;
	for (size_t i = 0; i < nt; i++) {
		struct target *t = &tg[i];
		uint32_t n = o->nb_nsids;

		t->pdev = udk_eal_device(i);
		if (udk_nvme_ctrlr_attach(t->pdev, &co, &t->ctrlr) < 0)
			return die("controller %zu: %s", i, udk_last_error());
		udk_nvme_ctrlr_info(t->ctrlr, &t->info);
		if (o->coalesce_thr >= 0 &&
		    udk_nvme_ctrlr_set_coalescing(t->ctrlr, (uint8_t)o->coalesce_thr,
						  (uint8_t)o->coalesce_time) < 0)
			return die("--coalesce on %s: %s", t->info.bdf, udk_last_error());
		if (o->qd > t->info.max_qsize - 1)
			return die("--qd %u: %s has queues of at most %u entries, so at most %u "
				   "commands in flight", o->qd, t->info.bdf, t->info.max_qsize,
				   t->info.max_qsize - 1) + 1;
		if (o->io_size > t->info.max_xfer)
			return die("--io-size %llu is more than %s can move in one command "
				   "(MDTS: %u bytes)", (unsigned long long)o->io_size, t->info.bdf,
				   t->info.max_xfer) + 1;
		memcpy(ids, o->nsids, sizeof(ids));
		if (o->ns_all) {
			n = udk_nvme_ctrlr_active_ns(t->ctrlr, ids, MAX_NS);
			if (n == 0)
				return die("--ns all: %s has no active namespace", t->info.bdf) + 1;
			if (n > MAX_NS)
				return die("--ns all: %s has %u active namespaces, more than %d; list "
					   "the ones to use", t->info.bdf, n, MAX_NS) + 1;
		}
		for (uint32_t k = 0; k < n; k++) {
			rc = ns_open(o, t, ids[k], &nr[(*nn)++]);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static int job_open(const struct opts *o, struct job *j, unsigned int idx)
{
	struct udk_nvme_qpair_opts qo;
	struct target *t = j->tg;
	struct nsref *nr = j->nr;

	j->qd = o->qd;
	j->nlb = (uint32_t)(o->io_size / nr->ni.block_size);
	j->nb_units = nr->ni.nsze / j->nlb;
	j->random = o->pattern == P_RANDREAD || o->pattern == P_RANDWRITE ||
		    o->pattern == P_RANDRW;
	j->mix = o->mix;
	j->rng = 0x9e3779b97f4a7c15ull * (idx + 1);
	j->next = j->nb_units / 8 * (idx % 8); /* jobs on one namespace start apart */
	hist_init(&j->hist);
	if (o->verify) {
		if (j->nb_units > (1u << 26) || o->qd >= j->nb_units)
			return die("--verify: namespace %u on %s has %llu I/O units; it needs more "
				   "than --qd and at most 64M", nr->ni.nsid, t->info.bdf,
				   (unsigned long long)j->nb_units) + 1;
		j->acked = calloc(j->nb_units, sizeof(*j->acked));
		if (j->acked == NULL)
			return die("out of memory");
	}
	j->slots = calloc(o->qd, sizeof(*j->slots));
	if (j->slots == NULL)
		return die("out of memory");
	for (uint32_t k = 0; k < o->qd; k++) {
		j->slots[k].job = j;
		j->slots[k].buf = udk_mem_default_zmalloc(o->io_size, 4096, UDK_SOCKET_ANY);
		if (j->slots[k].buf == NULL)
			return die("no DMA memory for %u buffers of %llu bytes: %s", o->qd,
				   (unsigned long long)o->io_size, udk_last_error());
		memset(j->slots[k].buf, 0xa5 ^ (int)k, o->io_size);
	}
	udk_nvme_qpair_opts_init(&qo, sizeof(qo));
	qo.qsize = (uint16_t)(o->qd + 1 > 256 ? o->qd + 1 : 256);
	if (qo.qsize > t->info.max_qsize)
		qo.qsize = (uint16_t)t->info.max_qsize;
	qo.latency_hist = o->qpair_latency;
	qo.intr = (uint8_t)o->mode;
	if (udk_nvme_qpair_create(t->ctrlr, &qo, &j->qp) < 0)
		return die("queue pair for lcore %u on %s: %s", j->lcore, t->info.bdf,
			   udk_last_error());
	return 0;
}

static void job_close(struct job *j, uint32_t qd)
{
	if (j->qp != NULL)
		udk_nvme_qpair_destroy(j->qp);
	for (uint32_t k = 0; j->slots != NULL && k < qd; k++)
		udk_mem_default_free(j->slots[k].buf);
	free(j->slots);
	free(j->acked);
}

/* ---- reporting ---- */

static void progress(struct job *jobs, unsigned int nj, uint64_t *last, double dt, double t,
		     const struct opts *o)
{
	uint64_t ios = 0;

	for (unsigned int i = 0; i < nj; i++)
		ios += atomic_load_explicit(&jobs[i].pub_ios, memory_order_relaxed);
	out_progress(stderr, t, dt, ios - *last, o->io_size, o->time);
	*last = ios;
}

struct result {
	uint64_t reads, writes, errors;
	double secs;
	const struct hist *h;
};

static void result_text(const char *name, const struct result *r, uint64_t io_size)
{
	const struct hist *h = r->h;
	double ios = (double)(r->reads + r->writes), iops = r->secs > 0 ? ios / r->secs : 0;

	printf("%-26s %10.0f %9.2f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n", name, iops,
	       iops * (double)io_size / 1048576,
	       h->count ? (double)h->sum / (double)h->count / 1e3 : 0,
	       h->count ? (double)h->min / 1e3 : 0, (double)h->max / 1e3,
	       (double)hist_percentile(h, 0.50) / 1e3, (double)hist_percentile(h, 0.90) / 1e3,
	       (double)hist_percentile(h, 0.99) / 1e3, (double)hist_percentile(h, 0.999) / 1e3);
}

static void result_json(const struct result *r, uint64_t io_size)
{
	const struct hist *h = r->h;
	double ios = (double)(r->reads + r->writes), iops = r->secs > 0 ? ios / r->secs : 0;

	printf("\"seconds\":%.3f,\"ios\":%llu,\"reads\":%llu,\"writes\":%llu,\"errors\":%llu,"
	       "\"iops\":%.1f,\"mib_s\":%.3f,\"latency_us\":{\"avg\":%.3f,\"min\":%.3f,"
	       "\"max\":%.3f,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p99_9\":%.3f}",
	       r->secs, (unsigned long long)(r->reads + r->writes),
	       (unsigned long long)r->reads, (unsigned long long)r->writes,
	       (unsigned long long)r->errors, iops, iops * (double)io_size / 1048576,
	       h->count ? (double)h->sum / (double)h->count / 1e3 : 0,
	       h->count ? (double)h->min / 1e3 : 0, (double)h->max / 1e3,
	       (double)hist_percentile(h, 0.50) / 1e3, (double)hist_percentile(h, 0.90) / 1e3,
	       (double)hist_percentile(h, 0.99) / 1e3, (double)hist_percentile(h, 0.999) / 1e3);
}

/* One namespace's jobs together: their I/Os, and the longest run among them. */
static void ns_result(const struct nsref *nr, struct job *jobs, unsigned int nj,
		      struct result *r, struct hist *h)
{
	hist_init(h);
	*r = (struct result){.h = h};
	for (unsigned int i = 0; i < nj; i++) {
		struct job *j = &jobs[i];

		if (j->nr != nr)
			continue;
		hist_merge(h, &j->hist);
		r->reads += j->reads, r->writes += j->writes, r->errors += j->errors;
		if (j->t1 - j->t0 > r->secs)
			r->secs = j->t1 - j->t0;
	}
}

static double cpu_secs(const struct rusage *a, const struct rusage *b)
{
	return (double)(b->ru_utime.tv_sec - a->ru_utime.tv_sec) +
	       (double)(b->ru_stime.tv_sec - a->ru_stime.tv_sec) +
	       (double)(b->ru_utime.tv_usec - a->ru_utime.tv_usec) / 1e6 +
	       (double)(b->ru_stime.tv_usec - a->ru_stime.tv_usec) / 1e6;
}

/* The mode's line: what the process cost in CPU, and how often it slept. */
static void report_mode(const struct opts *o, struct job *jobs, unsigned int nj,
			const struct worker *wk, unsigned int nw, double cpu)
{
	struct udk_lcore_wait_stats st, sum = {0};
	uint64_t irqs = 0;

	for (unsigned int i = 0; i < nw; i++)
		if (wk[i].ws != NULL) {
			udk_lcore_waitset_stats(wk[i].ws, &st);
			sum.sleeps += st.sleeps;
			sum.wakeups += st.wakeups;
			sum.aborted += st.aborted;
			sum.sleep_ns += st.sleep_ns;
		}
	for (unsigned int i = 0; i < nj; i++)
		irqs += udk_nvme_qpair_interrupts(jobs[i].qp);
	if (o->json)
		printf(",\"mode\":\"%s\",\"cpu_pct\":%.1f,\"sleeps\":%llu,\"wakeups\":%llu,"
		       "\"aborted_sleeps\":%llu,\"sleep_s\":%.3f,\"interrupts\":%llu",
		       mode_names[o->mode], 100 * cpu, (unsigned long long)sum.sleeps,
		       (unsigned long long)sum.wakeups, (unsigned long long)sum.aborted,
		       (double)sum.sleep_ns / 1e9, (unsigned long long)irqs);
	else
		printf("mode %s: CPU %.1f%% of a core, %llu sleeps (%.2f s), %llu wake-ups, "
		       "%llu interrupts\n", mode_names[o->mode], 100 * cpu,
		       (unsigned long long)sum.sleeps, (double)sum.sleep_ns / 1e9,
		       (unsigned long long)sum.wakeups, (unsigned long long)irqs);
}

/* Prints the results; 0, or 1 when --plot's files could not be written. */
static int report(const struct opts *o, struct job *jobs, unsigned int nj, struct nsref *nr,
		  unsigned int nn, double secs, const struct worker *wk, unsigned int nw,
		  double cpu)
{
	static struct hist total, nh;
	struct result tr = {.secs = secs, .h = &total}, r;
	char name[80];

	hist_init(&total);
	if (o->json)
		printf("{\"pattern\":\"%s\",\"qd\":%u,\"io_size\":%llu,\"mix\":%d,\"ns\":\"%s\","
		       "\"jobs\":[", pattern_names[o->pattern], o->qd,
		       (unsigned long long)o->io_size, o->mix, o->ns_arg);
	else
		printf("%-26s %10s %9s %9s %9s %9s %9s %9s %9s %9s\n", "lcore / device", "IOPS",
		       "MiB/s", "avg us", "min us", "max us", "p50 us", "p90 us", "p99 us",
		       "p99.9 us");
	for (unsigned int i = 0; i < nj; i++) {
		struct job *j = &jobs[i];
		bool gone = atomic_load(&j->tg->removed);

		r = (struct result){j->reads, j->writes, j->errors, j->t1 - j->t0, &j->hist};
		hist_merge(&total, &j->hist);
		tr.reads += j->reads;
		tr.writes += j->writes;
		tr.errors += j->errors;
		if (o->json) {
			printf("%s{\"lcore\":%u,\"bdf\":\"%s\",\"nsid\":%u,\"removed\":%s,", i ? "," : "",
			       j->lcore, j->tg->info.bdf, j->nr->ni.nsid, gone ? "true" : "false");
			if (o->verify)
				printf("\"verified\":%llu,\"verify_errors\":%llu,",
				       (unsigned long long)j->verified,
				       (unsigned long long)j->verify_bad);
			result_json(&r, o->io_size);
			printf("}");
		} else {
			snprintf(name, sizeof(name), "lcore %u %s ns %u%s", j->lcore, j->tg->info.bdf,
				 j->nr->ni.nsid, gone ? " (removed)" : "");
			result_text(name, &r, o->io_size);
		}
	}
	/* Per namespace: the sum of its jobs (one row each when several). */
	if (o->json)
		printf("],\"namespaces\":[");
	for (unsigned int k = 0; k < nn && (o->json || nn > 1); k++) {
		ns_result(&nr[k], jobs, nj, &r, &nh);
		if (o->json) {
			printf("%s{\"bdf\":\"%s\",\"nsid\":%u,", k ? "," : "", nr[k].tg->info.bdf,
			       nr[k].ni.nsid);
			result_json(&r, o->io_size);
			printf("}");
		} else {
			snprintf(name, sizeof(name), "%s ns %u", nr[k].tg->info.bdf, nr[k].ni.nsid);
			result_text(name, &r, o->io_size);
		}
	}
	if (o->json) {
		printf("],\"total\":{");
		result_json(&tr, o->io_size);
		if (o->histogram) {
			printf(",");
			out_hist_json(stdout, &total);
		}
		printf("}");
		report_mode(o, jobs, nj, wk, nw, cpu);
		printf("}\n");
	} else {
		result_text("total", &tr, o->io_size);
		report_mode(o, jobs, nj, wk, nw, cpu);
		if (o->mix > 0 && o->mix < 100)
			printf("reads %llu, writes %llu (%.1f%% reads)\n",
			       (unsigned long long)tr.reads, (unsigned long long)tr.writes,
			       tr.reads + tr.writes ? 100.0 * (double)tr.reads /
						      (double)(tr.reads + tr.writes) : 0);
		if (o->histogram)
			out_hist_text(stdout, "total", &total);
	}
	if (o->plot == NULL)
		return 0;
	if (out_hist_plot(o->plot, "total", &total) < 0)
		return 1;
	fprintf(stderr, PROG ": latency histogram in %s.dat; draw it with 'gnuplot %s.gp' (%s.svg)\n",
		o->plot, o->plot, o->plot);
	return 0;
}

/* Nothing left to drive: end the run early (the main loop's check). */
static void all_removed(unsigned int nt)
{
	if (atomic_load(&nb_removed) == nt && !atomic_exchange(&stop, true))
		fprintf(stderr, PROG ": every controller was removed; stopping\n");
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop, true);
}

/* The main lcore's look at the clock: stop at --time, else a progress line
 * and the asynchronous events once a second; and the removal check. */
static void tick(const struct opts *o, struct target *tg, unsigned int nt, struct job *jobs,
		 unsigned int nj, uint64_t *last, double t0, double *tl)
{
	double t;

	all_removed(nt);
	t = now();
	if (t - t0 >= o->time) {
		atomic_store(&stop, true);
	} else if (t - *tl >= 1.0) {
		progress(jobs, nj, last, t - *tl, t - t0, o);
		*tl = t;
		/* Asynchronous events are logged as they come. */
		for (unsigned int k = 0; k < nt; k++)
			udk_nvme_ctrlr_process_admin(tg[k].ctrlr);
	}
}

int main(int argc, char **argv)
{
	struct udk_eal_args ea;
	struct target tg[UDK_MAX_ALLOW] = {{0}};
	static struct nsref nr[UDK_MAX_ALLOW * MAX_NS];
	struct worker wk[UDK_MAX_LCORES] = {{0}};
	struct job *jobs = NULL;
	struct opts o;
	unsigned int nw, nt = 0, nn = 0, nj = 0, i;
	uint64_t last = 0;
	double t0, tl, secs;
	struct rusage ru0, ru1;
	int n, rc;

	if (tool_help_version(argc, argv, 0, PROG " (udk) " UDK_VERSION_STRING, usage))
		return 0;
	udk_log_set_sink(log_sink, NULL);
	n = udk_eal_parse(argc, argv, &ea);
	if (n < 0)
		return die("%s", udk_last_error()) + 1;
	rc = parse(argc - n, argv + n, &o);
	if (rc)
		return rc;
	if (udk_eal_init(n, argv) < 0)
		return die("EAL init failed: %s", udk_last_error());
	rc = 1;
	nt = (unsigned int)udk_eal_nb_devices();
	if (nt == 0) {
		rc = die("no controller: name it with the EAL option -a BDF (bound to vfio-pci; "
			 "see 'udk-devbind status')") + 1;
		goto out_eal;
	}
	ev_tg = tg;
	ev_nt = nt;
	udk_pci_event_register(on_pci_event, NULL);
	rc = targets_open(&o, tg, nt, nr, &nn);
	if (rc)
		goto out_targets;

	/* More workers than namespaces: each worker a queue pair on the namespace
	 * i % nn.  Fewer: each namespace a queue pair on the worker i % nw. */
	nw = udk_lcore_count() > 1 ? udk_lcore_count() - 1 : 1;
	nj = nw > nn ? nw : nn;
	if (o.verify && nj != nn) {
		rc = die("--verify: each namespace needs exactly one queue pair; %u worker lcores "
			 "for %u namespace%s (use -l with at most %u lcores)", nw, nn,
			 nn == 1 ? "" : "s", nn + 1) + 1;
		goto out_targets;
	}
	jobs = aligned_alloc(64, sizeof(*jobs) * nj);
	if (jobs == NULL) {
		rc = die("out of memory");
		goto out_targets;
	}
	memset(jobs, 0, sizeof(*jobs) * nj);
	for (i = 0; i < nw; i++) {
		wk[i].jobs = calloc(nj, sizeof(struct job *));
		if (wk[i].jobs == NULL) {
			rc = die("out of memory");
			goto out_jobs;
		}
	}
	for (i = 0; i < nj; i++) {
		struct worker *w = &wk[i % nw];

		jobs[i].nr = &nr[i % nn];
		jobs[i].tg = nr[i % nn].tg;
		jobs[i].lcore = udk_lcore_count() > 1 ? i % nw + 1 : 0;
		w->jobs[w->nb_jobs++] = &jobs[i];
		rc = job_open(&o, &jobs[i], i);
		if (rc)
			goto out_jobs;
	}

	for (i = 0; i < nw; i++) {
		rc = worker_waitset(&o, &wk[i]);
		if (rc)
			goto out_jobs;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	fprintf(stderr, PROG ": %s, %llu bytes, QD %u, %u controller%s, %u namespace%s, %u queue "
		"pair%s on %u lcore%s, %.1f s\n", pattern_names[o.pattern],
		(unsigned long long)o.io_size, o.qd, nt, nt == 1 ? "" : "s", nn, nn == 1 ? "" : "s",
		nj, nj == 1 ? "" : "s", nw, nw == 1 ? "" : "s", o.time);
	getrusage(RUSAGE_SELF, &ru0);
	t0 = tl = now();
	if (udk_lcore_count() > 1) {
		for (i = 0; i < nw; i++)
			udk_lcore_launch(i + 1, worker_main, &wk[i]);
		while (!atomic_load(&stop)) {
			usleep(10000);
			tick(&o, tg, nt, jobs, nj, &last, t0, &tl);
		}
		for (i = 0; i < nw; i++)
			udk_lcore_wait(i + 1);
	} else {
		/* One lcore: submit, and look at the clock every few rounds. */
		jobs_start(&wk[0]);
		while (!atomic_load(&stop)) {
			for (int k = 0; k < 64; k++)
				worker_round(&wk[0]);
			tick(&o, tg, nt, jobs, nj, &last, t0, &tl);
		}
		jobs_stop(&wk[0]);
	}
	secs = 0;
	for (i = 0; i < nj; i++)
		if (jobs[i].t1 - jobs[i].t0 > secs)
			secs = jobs[i].t1 - jobs[i].t0;
	for (i = 0; o.verify && i < nj; i++)
		if (!atomic_load(&jobs[i].tg->removed))
			verify_job(&jobs[i]);
	getrusage(RUSAGE_SELF, &ru1);
	rc = report(&o, jobs, nj, nr, nn, secs, wk, nw, cpu_secs(&ru0, &ru1) / (now() - t0));
	for (i = 0; i < nj; i++)
		if (jobs[i].verify_bad)
			rc = die("verify: %s ns %u: %llu of %llu acknowledged writes read back "
				 "wrong", jobs[i].tg->info.bdf, jobs[i].nr->ni.nsid,
				 (unsigned long long)jobs[i].verify_bad,
				 (unsigned long long)jobs[i].verified);
	if (atomic_load(&nb_removed) == nt)
		rc = die("every controller was removed during the run: nothing left to measure");
	for (i = 0; i < nj; i++) {
		if (jobs[i].errors == 0)
			continue;
		rc = die("lcore %u, %s: %llu I/O errors; the first: %s%s%s", jobs[i].lcore,
			 jobs[i].tg->info.bdf, (unsigned long long)jobs[i].errors,
			 udk_strerror(jobs[i].err_rc), jobs[i].err_status ? ", " : "",
			 jobs[i].err_status ? udk_nvme_status_str(jobs[i].err_status) : "");
	}
out_jobs:
	for (i = 0; i < nj; i++)
		job_close(&jobs[i], o.qd);
	for (i = 0; i < nw; i++) {
		udk_lcore_waitset_destroy(wk[i].ws);
		free(wk[i].jobs);
	}
	free(jobs);
out_targets:
	for (i = 0; i < nt; i++)
		if (tg[i].ctrlr != NULL)
			udk_nvme_ctrlr_detach(tg[i].ctrlr);
out_eal:
	udk_pci_event_unregister(on_pci_event, NULL);
	udk_eal_cleanup();
	return rc;
}
