/* SPDX-License-Identifier: BSD-3-Clause */
/* main.c - udk-nvmf-tgt: an NVMe/TCP target serving udk bdevs to any
 * NVMe/TCP host (the Linux kernel's nvme-tcp through nvme-cli, unmodified).
 * Sets up the EAL, reads the configuration, creates the bdevs, listens, and
 * runs one poll group per lcore of -l (group 0, with the listener, on the
 * main lcore) until SIGINT or SIGTERM. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "tool_args.h"
#include "nvmf.h"
#include "udk_bdev.h"
#include "udk_eal.h"
#include "udk_nvme.h"
#include "udk_pci.h"
#include "udk_telemetry.h"
#include "udk_util.h"
#include "udk_version.h"

#define PROG "udk-nvmf-tgt"
/* How long the loop polls with nothing to do (no bytes moved, no I/O at a
 * bdev) before it waits in epoll_wait; --poll-us.  0: in a 2-vCPU guest,
 * polling idle took CPU from the initiator and lost at every queue depth
 * (doc/nvmf.md, figures). */
#define POLL_US_DEFAULT 0

static volatile sig_atomic_t stop;

void nvmf_log(const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char line[768];
	va_list ap;
	int n;

	/* One write per line: the groups log from their own lcores. */
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), PROG ": %02d:%02d:%02d.%03ld ", tm.tm_hour, tm.tm_min, tm.tm_sec,
		     ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}

static int die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [EAL options] -- [options]\n"
		"       " PROG " ctl [-p PID | -s SOCKET] [--json] COMMAND [ARGS]\n"
		"Serve udk bdevs over NVMe/TCP (to nvme-cli / the Linux nvme-tcp initiator).\n\n"
		"Options:\n"
		"  -c, --config FILE     the configuration (doc/nvmf.md)\n"
		"  --check               check the configuration, print what it serves, exit\n"
		"  --listen ADDR:PORT    listen there (repeatable; default 127.0.0.1:4420)\n"
		"  --malloc NAME:MIB[:BS]  a RAM bdev (block size BS, default 512)\n"
		"  --null NAME:MIB[:BS]  a bdev that completes at once and reads nothing\n"
		"  --file NAME:PATH      a file or kernel block device (io_uring)\n"
		"  --nvme NAME:BDF[,NSID]  namespace NSID (default 1) of the NVMe controller\n"
		"                        BDF, through udk's driver (give BDF to -a as well)\n"
		"  --nqn NQN             a subsystem serving the bdevs of the options above,\n"
		"                        namespaces 1, 2, ... in order\n"
		"  --host NQN            only this host may connect to --nqn (repeatable;\n"
		"                        default: any host)\n"
		"  --stats SECS          a statistics line on stderr every SECS (0: none;\n"
		"                        default 1 on a terminal, else 0)\n"
		"  --poll-us US          poll this long with nothing to do before waiting\n"
		"                        in epoll (default 0: wait at once)\n"
		"  --help, --version\n\n"
		"One poll group per lcore of the EAL's -l list (default: lcore 0).\n"
		"Exit 0 after SIGINT/SIGTERM, 2 on bad input, 1 on a runtime error.\n\n"
		"ctl: a command to the running target, through its telemetry socket\n"
		"(the only udk-nvmf-tgt.PID.sock in /run/udk, $XDG_RUNTIME_DIR/udk, /tmp/udk-UID):\n"
		"  ns-add NQN NSID|auto BDEV  add a namespace on a new bdev: KIND NAME ARGS as\n"
		"                        in the configuration file (malloc ram1 64 [BS],\n"
		"                        null n1 64 [BS], file f1 PATH [BS] [ro]) or\n"
		"                        KIND:NAME:ARGS; auto: the lowest free NSID\n"
		"  ns-remove NQN NSID    remove a namespace (and destroy its bdev)\n"
		"  stats                 connections, poll groups and subsystems\n"
		"  -p, --pid PID         the target with this process id\n"
		"  -s, --socket PATH     the target serving telemetry at PATH\n"
		"  --json                print the target's raw answer\n"
		"Exit 0 when done, 1 when the target refused (its reason on stderr) or\n"
		"is not running, 2 on bad usage.\n\n");
	udk_eal_usage(f);
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void log_sink(int level, const char *comp, const char *msg, void *arg)
{
	(void)arg;
	if (level <= udk_log_get_level())
		fprintf(stderr, PROG ": %s: %s\n", comp, msg);
}

/* Options after the EAL's: config lines built from the shortcuts. */
static int parse(int argc, char **argv, struct nvmf_config *cfg, struct nvmf_tgt *t, bool *check,
		 unsigned int *stats)
{
	const char *nqn = NULL, *hosts[NVMF_MAX_HOSTS];
	unsigned int nhosts = 0, first_bdev;
	char line[1100], err[512];
	bool have_config = false;

	*stats = isatty(2) ? 1 : 0;
	t->poll_us = POLL_US_DEFAULT;
	for (int i = 0; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool shortcut = !strcmp(o, "--malloc") || !strcmp(o, "--null") || !strcmp(o, "--file") ||
				!strcmp(o, "--nvme");

		if (!strcmp(o, "--check")) {
			*check = true;
			continue;
		}
		if (v == NULL) {
			return die("%s: %s", o, strncmp(o, "--", 2) && strcmp(o, "-c") ?
				   "unknown option (see --help)" : "needs a value") + 1;
		}
		i++;
		if (!strcmp(o, "-c") || !strcmp(o, "--config")) {
			if (have_config)
				return die("one --config only") + 1;
			have_config = true;
			if (nvmf_config_file(cfg, t, v, err, sizeof(err)) < 0)
				return die("%s", err) + 1;
		} else if (!strcmp(o, "--listen")) {
			snprintf(line, sizeof(line), "listen %s", v);
			if (nvmf_config_line(cfg, t, line, o, err, sizeof(err)) < 0)
				return die("%s", err) + 1;
		} else if (shortcut) {
			if (nvmf_config_bdev_arg(cfg, t, o + 2, v, o, err, sizeof(err)) < 0)
				return die("%s", err) + 1;
		} else if (!strcmp(o, "--nqn")) {
			nqn = v;
		} else if (!strcmp(o, "--host")) {
			if (nhosts == NVMF_MAX_HOSTS)
				return die("--host: at most %d", NVMF_MAX_HOSTS) + 1;
			hosts[nhosts++] = v;
		} else if (!strcmp(o, "--stats")) {
			char *end;
			unsigned long s = strtoul(v, &end, 10);

			if (*v < '0' || *v > '9' || *end || s > 3600)
				return die("--stats '%s': seconds, 0 to 3600", v) + 1;
			*stats = (unsigned int)s;
		} else if (!strcmp(o, "--poll-us")) {
			char *end;
			unsigned long us = strtoul(v, &end, 10);

			if (*v < '0' || *v > '9' || *end || us > 1000000)
				return die("--poll-us '%s': microseconds, 0 to 1000000", v) + 1;
			t->poll_us = (unsigned int)us;
		} else {
			return die("%s: unknown option (see --help)", o) + 1;
		}
	}
	if (nhosts && nqn == NULL)
		return die("--host needs --nqn") + 1;
	if (nqn != NULL) {
		/* The command-line bdevs not named by a config file's namespace lines. */
		first_bdev = 0;
		snprintf(line, sizeof(line), "subsystem %s", nqn);
		cfg->cur = NULL;
		if (nvmf_config_line(cfg, t, line, "--nqn", err, sizeof(err)) < 0)
			return die("%s", err) + 1;
		for (unsigned int i = 0; i < nhosts; i++) {
			snprintf(line, sizeof(line), "host %s", hosts[i]);
			if (nvmf_config_line(cfg, t, line, "--host", err, sizeof(err)) < 0)
				return die("%s", err) + 1;
		}
		if (!nhosts)
			nvmf_config_line(cfg, t, "allow-any-host", "--nqn", err, sizeof(err));
		for (unsigned int b = first_bdev; b < cfg->nbdevs; b++) {
			if (strncmp(cfg->bdevs[b].where, "--", 2))
				continue;
			snprintf(line, sizeof(line), "namespace %s", cfg->bdevs[b].name);
			if (nvmf_config_line(cfg, t, line, "--nqn", err, sizeof(err)) < 0)
				return die("%s", err) + 1;
		}
	}
	if (nvmf_config_finish(cfg, t, err, sizeof(err)) < 0)
		return die("%s", err) + 1;
	return 0;
}

/* The controllers of nvme bdevs, attached once each, detached at exit. */
static struct udk_nvme_ctrlr *nvme_ctrlrs[UDK_MAX_ALLOW];

static int nvme_ctrlr(const char *bdf, struct udk_nvme_ctrlr **out)
{
	for (size_t i = 0; i < udk_eal_nb_devices(); i++) {
		struct udk_pci_dev *pdev = udk_eal_device(i);
		char name[UDK_PCI_ADDR_STRLEN];
		int rc;

		udk_pci_addr_format(&udk_pci_dev_info(pdev)->addr, name, sizeof(name));
		if (strcmp(name, bdf))
			continue;
		if (nvme_ctrlrs[i] == NULL && (rc = udk_nvme_ctrlr_attach(pdev, NULL, &nvme_ctrlrs[i])) < 0)
			return die("NVMe controller %s: %s", bdf, udk_last_error());
		*out = nvme_ctrlrs[i];
		return 0;
	}
	return die("NVMe controller %s is not one of the EAL's devices: give it with -a %s (bound to "
		   "vfio-pci: udk-devbind)", bdf, bdf);
}

static int bdevs_create(struct nvmf_config *cfg)
{
	char err[512];

	for (unsigned int i = 0; i < cfg->nbdevs; i++) {
		struct nvmf_bdev_spec *b = &cfg->bdevs[i];
		struct udk_nvme_ctrlr *ctrlr = NULL;
		struct udk_bdev *bd;
		int rc;

		if (strcmp(b->kind, "nvme")) {
			if (nvmf_bdev_create(b, err, sizeof(err)) < 0)
				return die("%s", err);
			continue;
		}
		if (nvme_ctrlr(b->bdf, &ctrlr))
			return 1;
		rc = udk_bdev_nvme_create(b->name, ctrlr, b->nsid, &bd);
		if (rc < 0)
			return die("bdev %s (%s): %s: %s", b->name, b->where, strerror(-rc), udk_last_error());
	}
	return 0;
}

static int namespaces_open(struct nvmf_tgt *t)
{
	char err[512];

	for (unsigned int s = 0; s < t->nsubsys; s++)
		for (unsigned int i = 0; i < t->subsys[s].nns; i++)
			if (nvmf_ns_open(&t->subsys[s], &t->subsys[s].ns[i], err, sizeof(err)) < 0)
				return die("%s", err);
	return 0;
}

static void stats_add(struct nvmf_stats *sum, const struct nvmf_stats *s)
{
	sum->ios += udk_counter_read(&s->ios);
	sum->bytes_read += udk_counter_read(&s->bytes_read);
	sum->bytes_written += udk_counter_read(&s->bytes_written);
	sum->conns_closed += udk_counter_read(&s->conns_closed);
}

static struct nvmf_stats stats_sum(struct nvmf_tgt *t)
{
	struct nvmf_stats sum = {.conns_total = udk_counter_read(&t->stats.conns_total)};

	for (unsigned int g = 0; g < t->ngroups; g++)
		stats_add(&sum, &t->pgs[g].stats);
	return sum;
}

static void stats_line(struct nvmf_tgt *t, double dt, struct nvmf_stats *last)
{
	struct nvmf_stats s = stats_sum(t);
	unsigned int ctrlrs = 0, conns = atomic_load(&t->nconns);

	for (unsigned int i = 0; i < NVMF_MAX_CTRLR; i++)
		ctrlrs += atomic_load(&t->ctrlr[i].id) != 0;
	fprintf(stderr, PROG ": %u connection%s, %u controller%s, %.0f IOPS, read %.1f MB/s, write %.1f MB/s%s",
		conns, conns == 1 ? "" : "s", ctrlrs, ctrlrs == 1 ? "" : "s",
		(double)(s.ios - last->ios) / dt, (double)(s.bytes_read - last->bytes_read) / dt / 1e6,
		(double)(s.bytes_written - last->bytes_written) / dt / 1e6, isatty(2) ? "\033[K\r" : "\n");
	*last = s;
}

static bool is_listener(struct nvmf_tgt *t, void *p)
{
	return (char *)p >= (char *)t->listen && (char *)p < (char *)(t->listen + NVMF_MAX_LISTEN);
}

/* One poll group's loop, on its lcore.  Group 0 also runs the listener, the
 * run-time commands, namespace changes and the statistics line. */
static void run(struct nvmf_pg *pg, unsigned int stats)
{
	struct nvmf_tgt *t = pg->tgt;
	bool main_group = pg == &t->pgs[0];
	struct nvmf_stats last = stats_sum(t);
	uint64_t next_check = 0, next_stats = 0, now, busy_ns = nvmf_now_ns();
	bool tx_pending = false, idle = false;

	while (!atomic_load_explicit(&t->stop, memory_order_relaxed)) {
		struct epoll_event ev[64];
		bool moved = false, inflight;
		int n = epoll_wait(pg->g->epfd, ev, 64, !idle ? 0 : tx_pending ? 1 : 100);

		if (main_group && stop)
			atomic_store(&t->stop, true);
		/* Only the sockets epoll reports are read: one syscall a loop when
		 * nothing comes, whatever the number of connections. */
		for (int i = 0; i < n; i++)
			if (main_group && is_listener(t, ev[i].data.ptr))
				nvmf_accept(t, ev[i].data.ptr);
			else if (main_group && ev[i].data.ptr == t->ctl)
				nvmf_ctl_run(t);
			else if (ev[i].data.ptr == pg->g)
				moved |= nvmf_group_drain(pg->g) > 0;
			else
				moved |= nvmf_conn_poll(ev[i].data.ptr);
		inflight = nvmf_poll_bdevs(pg);
		/* Flush what the completions queued; a socket that takes no more
		 * (a host not reading) is tried again every millisecond at most. */
		tx_pending = false;
		for (struct nvmf_conn *c = pg->conns; c != NULL; c = c->next) {
			moved |= nvmf_conn_flush(c);
			tx_pending |= nvmf_conn_tx_pending(c);
		}
		now = nvmf_now_ns();
		/* I/O at a bdev is polled for, never slept on. */
		if (moved || inflight)
			busy_ns = now;
		idle = !moved && !inflight && now - busy_ns >= (uint64_t)t->poll_us * 1000u;
		if (main_group && t->ns_busy)
			nvmf_ns_step(t, 0);
		if (now >= next_check) {
			nvmf_kato_check(pg, now);
			if (main_group)
				nvmf_ns_reap(t);
			nvmf_conns_reap(pg);
			next_check = now + 100000000u;
		}
		if (main_group && stats && now >= next_stats) {
			if (next_stats)
				stats_line(t, stats + (double)(now - next_stats) / 1e9, &last);
			next_stats = now + stats * 1000000000ull;
		}
	}
}

/* A worker lcore's group: its channels first, then its loop; its channels
 * put on the way out (they are this thread's). */
static int worker(void *arg)
{
	struct nvmf_pg *pg = arg;

	nvmf_pg_sync(pg);
	run(pg, 0);
	nvmf_pg_put_channels(pg);
	return 0;
}

/* Each group's mailbox holds every message its connections can have in
 * flight at once: up to 2 * NVMF_MAX_CONNS connections (open and closed not
 * yet freed), each with its adopt, link, unlink and kill, plus sync. */
#define MAILBOX_DEPTH 4096
_Static_assert(MAILBOX_DEPTH > 2 * NVMF_MAX_CONNS * 4 + 1, "mailbox depth");

static int groups_init(struct nvmf_tgt *t)
{
	unsigned int n = udk_lcore_count();

	if (n > NVMF_MAX_GROUPS) {
		nvmf_log("%u lcores: poll groups on the first %d only", n, NVMF_MAX_GROUPS);
		n = NVMF_MAX_GROUPS;
	}
	t->pgs = calloc(n, sizeof(*t->pgs));
	if (t->pgs == NULL)
		return die("poll groups: out of memory");
	for (unsigned int i = 0; i < n; i++) {
		if (nvmf_group_init(&t->groups[i], i, MAILBOX_DEPTH) < 0)
			return die("poll group %u: cannot be made (see above)", i);
		t->ngroups = i + 1;
		t->groups[i].ctx = &t->pgs[i];
		t->pgs[i].g = &t->groups[i];
		t->pgs[i].tgt = t;
		t->pgs[i].lcore = i;
	}
	t->epfd = t->groups[0].epfd;
	return 0;
}

static unsigned int drain_all(struct nvmf_tgt *t)
{
	unsigned int ran = 0;

	for (unsigned int i = 0; i < t->ngroups; i++)
		ran += nvmf_group_drain(&t->groups[i]);
	return ran;
}

/* After every group stopped, on this thread: close every connection and
 * controller, run the messages that makes, free what is left. */
static void teardown(struct nvmf_tgt *t)
{
	while (drain_all(t))
		; /* connections still in a mailbox join their group's list */
	for (unsigned int g = 0; g < t->ngroups; g++)
		for (struct nvmf_conn *c = t->pgs[g].conns; c != NULL; c = c->next)
			nvmf_conn_close(c, "the target is stopping");
	for (unsigned int i = 0; i < NVMF_MAX_CTRLR; i++)
		nvmf_ctrlr_destroy(&t->ctrlr[i], "the target is stopping");
	while (drain_all(t))
		;
	for (unsigned int g = 0; g < t->ngroups; g++)
		nvmf_conns_reap(&t->pgs[g]);
}

int main(int argc, char **argv)
{
	static struct nvmf_tgt tgt;
	static struct nvmf_config cfg;
	struct udk_eal_args ea;
	struct sigaction sa = {.sa_handler = on_signal};
	bool check = false;
	unsigned int stats, launched = 0;
	int n, rc;

	if (tool_help_version(argc, argv, 0, PROG " (udk) " UDK_VERSION_STRING, usage))
		return 0;
	if (argc > 1 && !strcmp(argv[1], "ctl"))
		return nvmf_ctl_main(argc - 2, argv + 2);
	udk_log_set_sink(log_sink, NULL);
	n = udk_eal_parse(argc, argv, &ea);
	if (n < 0)
		return TOOL_EXIT_USAGE; /* the EAL's line said why */
	tgt.cfg = &cfg;
	rc = parse(argc - n, argv + n, &cfg, &tgt, &check, &stats);
	if (rc)
		return rc;
	if (check) {
		nvmf_config_print(&cfg, &tgt, stdout);
		printf("configuration OK\n");
		return 0;
	}
	if (udk_eal_init(n, argv) < 0)
		return die("EAL init failed: %s", udk_last_error());
	rc = 1;
	if (groups_init(&tgt) || bdevs_create(&cfg) || namespaces_open(&tgt))
		goto out;
	/* Every group gets its channels before anything is served. */
	for (unsigned int i = 1; i < tgt.ngroups; i++)
		if (udk_lcore_launch(i, worker, &tgt.pgs[i]) < 0) {
			die("poll group %u: lcore %u: %s", i, i, udk_last_error());
			goto out;
		} else {
			launched = i + 1;
		}
	nvmf_pg_sync(&tgt.pgs[0]);
	tgt.ns_busy = true;
	nvmf_ns_step(&tgt, 10000);
	if (tgt.ns_busy) {
		die("namespaces: the poll groups did not open their channels within 10 s");
		goto out;
	}
	for (unsigned int i = 0; i < tgt.nlisten; i++)
		if (nvmf_listen(&tgt, &tgt.listen[i]) < 0)
			goto out;
	/* Without telemetry (--no-telemetry) the command is only unused. */
	if (nvmf_telemetry_register(&tgt) < 0)
		goto out;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	nvmf_config_print(&cfg, &tgt, stderr);
	nvmf_log("ready: %u poll group%s", tgt.ngroups, tgt.ngroups == 1 ? "" : "s");
	run(&tgt.pgs[0], stats);
	rc = 0;
out:
	atomic_store(&tgt.stop, true);
	nvmf_telemetry_unregister(&tgt);
	for (unsigned int i = 1; i < launched; i++)
		udk_lcore_wait(i);
	if (tgt.pgs != NULL) {
		struct nvmf_stats sum = stats_sum(&tgt);

		nvmf_log("stopping: %llu I/Os served, %llu connections", (unsigned long long)sum.ios,
			 (unsigned long long)sum.conns_total);
		nvmf_pg_put_channels(&tgt.pgs[0]);
		/* The groups have stopped: this thread finishes their work, the
		 * messages they exchange included, until nothing moves. */
		teardown(&tgt);
	}
	for (unsigned int s = 0; s < tgt.nsubsys; s++)
		for (unsigned int i = 0; i < tgt.subsys[s].nns; i++)
			nvmf_ns_close(&tgt.subsys[s].ns[i]);
	for (unsigned int i = 0; i < cfg.nbdevs; i++) {
		struct udk_bdev *b = udk_bdev_get(cfg.bdevs[i].name);

		if (b != NULL)
			udk_bdev_destroy(b);
	}
	for (unsigned int i = 0; i < UDK_MAX_ALLOW; i++)
		if (nvme_ctrlrs[i] != NULL)
			udk_nvme_ctrlr_detach(nvme_ctrlrs[i]);
	for (unsigned int i = 0; i < tgt.nlisten; i++)
		if (tgt.listen[i].fd >= 0)
			close(tgt.listen[i].fd);
	for (unsigned int i = 0; i < tgt.ngroups; i++)
		nvmf_group_fini(&tgt.groups[i]);
	free(tgt.pgs);
	udk_eal_cleanup();
	return rc;
}
