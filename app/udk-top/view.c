/* SPDX-License-Identifier: BSD-3-Clause */
/* view.c - udk-top's screen: rates from two samples of each process (the
 * counters' differences over the time between them), one table per kind
 * (processes, lcores, ports, NVMe queue pairs, NVMe/TCP subsystems), each
 * sorted by the chosen
 * key, cut to the terminal's height.  The escape sequences are udk-top's
 * own (none in batch mode); every string from a process goes through
 * top_printable first. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "top.h"

#define CMD_INFO 0
#define CMD_LCORES 1
#define CMD_PORTS 2
#define CMD_NVME 3
#define CMD_NVMF 6
#define CMD_VHOST_BLK 7

const char *const sort_names[SORT_NB] = {"pid", "busy", "traffic"};

struct row {
	double pid, key;
	char text[256];
};

struct table {
	struct row *rows;
	size_t n, cap;
};

static struct row *add(struct table *t)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 32;
		struct row *r = realloc(t->rows, cap * sizeof(*r));

		if (r == NULL)
			return NULL;
		t->rows = r;
		t->cap = cap;
	}
	memset(&t->rows[t->n], 0, sizeof(t->rows[0]));
	return &t->rows[t->n++];
}

/* Lines of latency buckets read (power-of-two buckets of a u64: 64). */
#define MAX_BUCKETS 64
/* NVMe queue pairs read per process, over all its controllers. */
#define MAX_QPAIRS 1024

static enum sort_key g_sort;

/* udk-top's own escape sequences; all empty in batch mode. */
struct esc {
	const char *home, *bold, *rev, *off, *eol, *eos;
};

/* A sort key from a process's numbers: an infinite or NaN one (a process
 * may send 1e308) would make the order inconsistent. */
static double sane(double v)
{
	return isfinite(v) ? v : 0;
}

static int by_key(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (g_sort != SORT_PID && x->key != y->key)
		return x->key < y->key ? 1 : -1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* The element of prev's array whose member key equals cur's (a number or
 * a string), or NULL. */
static const json_t *match(const json_t *arr, const json_t *cur,
				 const char *key, const char *key2)
{
	for (size_t i = 0; i < top_len(arr); i++) {
		const json_t *e = top_at(arr, i);
		bool same = top_num(e, key) == top_num(cur, key) &&
			    strcmp(top_str(e, key), top_str(cur, key)) == 0;

		if (same && key2 != NULL)
			same = top_num(e, key2) == top_num(cur, key2);
		if (same)
			return e;
	}
	return NULL;
}

static double rate(const json_t *cur, const json_t *prev, const char *key, double dt)
{
	double d;

	if (prev == NULL || dt <= 0)
		return 0;
	d = top_num(cur, key) - top_num(prev, key);
	return d > 0 ? d / dt : 0;
}

/* The latency below which fraction q of the commands of the interval lie,
 * in ns, from the bucket differences; each bucket counts as its middle. */
static double lat_pct(const json_t *cur, const json_t *prev, double q)
{
	const json_t *cb = top_get(top_get(cur, "latency"), "buckets");
	const json_t *pb = top_get(top_get(prev, "latency"), "buckets");
	double total = 0, seen = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < top_len(cb) && i < MAX_BUCKETS; i++) {
			const json_t *b = top_at(cb, i);
			double low = top_num(top_at(b, 0), NULL), n = top_num(top_at(b, 1), NULL);

			for (size_t k = 0; k < top_len(pb) && k < MAX_BUCKETS; k++)
				if (top_num(top_at(top_at(pb, k), 0), NULL) == low)
					n -= top_num(top_at(top_at(pb, k), 1), NULL);
			if (pass == 0) {
				total += n;
			} else if ((seen += n) >= q * total && total > 0) {
				return low == 0 ? 1 : low * 1.5;
			}
		}
	}
	return 0;
}

/* One row per subsystem of an NVMe/TCP target ("nvmf", doc/nvmf.md). */
static void add_subsystems(struct table *t, const json_t *cur, const json_t *prev, double pid,
			   double dt)
{
	const json_t *ss = top_get(cur, "subsystems"), *pss = top_get(prev, "subsystems");
	char nqn[34];
	struct row *r;

	for (size_t k = 0; k < top_len(ss); k++) {
		const json_t *e = top_at(ss, k), *pe = match(pss, e, "nqn", NULL);
		double io = rate(e, pe, "ios", dt), err = rate(e, pe, "errors", dt);

		if ((r = add(t)) == NULL)
			return;
		r->pid = sane(pid);
		r->key = sane(io);
		top_printable(top_str(e, "nqn"), nqn, sizeof(nqn));
		snprintf(r->text, sizeof(r->text), "%8.0f %-32s %4.0f %6.0f %10.0f %9.1f %9.1f %8.0f",
			 pid, nqn, top_num(e, "controllers"), top_num(e, "queues"), io,
			 rate(e, pe, "bytes_read", dt) / 1e6, rate(e, pe, "bytes_written", dt) / 1e6, err);
	}
}

static void draw_table(FILE *f, const struct esc *x, const char *title, const char *header,
		       struct table *t, int *line, int rows)
{
	if (t->n == 0 || *line + 3 > rows)
		return;
	qsort(t->rows, t->n, sizeof(t->rows[0]), by_key);
	fprintf(f, "\n%s%s%s\n%s%s%s%s\n", x->bold, title, x->off, x->rev, header, x->off, x->eol);
	*line += 3;
	for (size_t i = 0; i < t->n; i++) {
		if (*line + 1 >= rows) {
			fprintf(f, "  ... %zu more%s\n", t->n - i, x->eol);
			(*line)++;
			return;
		}
		fprintf(f, "%s%s\n", t->rows[i].text, x->eol);
		(*line)++;
	}
}

void top_draw(FILE *f, const struct proc *prev, const struct proc *cur, size_t n,
	      enum sort_key sort, int rows, bool batch)
{
	static const struct esc tty = {"\x1b[H", "\x1b[1m", "\x1b[7m", "\x1b[0m", "\x1b[K", "\x1b[J"};
	static const struct esc plain = {"", "", "", "", "", ""};
	const struct esc *x = batch ? &plain : &tty;
	struct table procs = {0}, lcores = {0}, ports = {0}, qps = {0}, subs = {0}, vbs = {0};
	char clock[16];
	time_t now = time(NULL);
	int line = 2;

	g_sort = sort;
	strftime(clock, sizeof(clock), "%H:%M:%S", localtime(&now));
	if (batch)
		rows = INT_MAX;
	fprintf(f, "%s%s" PROG "%s  %s  %zu process%s  sort: %s%s%s\n", x->home, x->bold, x->off,
		clock, n, n == 1 ? "" : "es", sort_names[sort],
		batch ? "" : "   (s: next sort key, q: quit)", x->eol);
	for (size_t i = 0; i < n; i++) {
		const struct proc *c = &cur[i], *p = prev[i].ok ? &prev[i] : NULL;
		const json_t *info = top_data(c, CMD_INFO);
		const json_t *lc = top_data(c, CMD_LCORES), *plc = p ? top_data(p, CMD_LCORES) : NULL;
		const json_t *pt = top_data(c, CMD_PORTS), *ppt = p ? top_data(p, CMD_PORTS) : NULL;
		const json_t *nv = top_data(c, CMD_NVME), *pnv = p ? top_data(p, CMD_NVME) : NULL;
		const json_t *vb = top_data(c, CMD_VHOST_BLK);
		const json_t *pvb = p ? top_data(p, CMD_VHOST_BLK) : NULL;
		double dt = p ? c->t - p->t : 0, pid = top_num(info, "pid");
		double busy = 0, polls = 0, rxp = 0, txp = 0, rxb = 0, txb = 0, drops = 0, iops = 0;
		double lat_sum = 0, lat_n = 0;
		size_t nqp = 0;
		const char *prog;
		char s1[32], s2[32];
		struct row *r;

		if (!c->ok)
			continue;
		for (size_t k = 0; k < top_len(lc); k++) {
			const json_t *e = top_at(lc, k), *pe = match(plc, e, "lcore", NULL);
			double b = rate(e, pe, "busy_polls", dt), id = rate(e, pe, "idle_polls", dt);

			busy += b;
			polls += b + id;
			if ((r = add(&lcores)) == NULL)
				continue;
			r->pid = sane(pid);
			r->key = sane(sort == SORT_TRAFFIC ? b + id : b + id > 0 ? b / (b + id) : 0);
			/* Lcores with a wait set: the share of time asleep, wake-ups/s. */
			double sl = rate(e, pe, "sleep_ns", dt) / 1e7, wk = rate(e, pe, "wakeups", dt);

			snprintf(r->text, sizeof(r->text), "%8.0f %5.0f %4.0f %6.1f %12.0f %12.0f "
				 "%6.1f %8.0f  %s", pid, top_num(e, "lcore"), top_num(e, "cpu"),
				 b + id > 0 ? 100 * b / (b + id) : 0, b, id, sl > 100 ? 100 : sl, wk,
				 top_num(e, "running") ? "running" : "waiting");
		}
		for (size_t k = 0; k < top_len(pt); k++) {
			const json_t *e = top_at(pt, k), *pe = match(ppt, e, "name", NULL);
			const json_t *s = top_get(e, "stats"), *ps = top_get(pe, "stats");
			double ip = rate(s, ps, "ipackets", dt), op = rate(s, ps, "opackets", dt);
			double ib = rate(s, ps, "ibytes", dt) * 8 / 1e6, ob = rate(s, ps, "obytes", dt) * 8 / 1e6;
			double dr = rate(s, ps, "imissed", dt) + rate(s, ps, "ierrors", dt) +
				    rate(s, ps, "oerrors", dt);

			rxp += ip, txp += op, rxb += ib, txb += ob, drops += dr;
			if ((r = add(&ports)) == NULL)
				continue;
			r->pid = sane(pid);
			r->key = sane(ip + op);
			snprintf(r->text, sizeof(r->text), "%8.0f %4.0f %-14.14s %-8.8s %-4s %10.0f %9.1f "
				 "%10.0f %9.1f %8.0f", pid, top_num(e, "port"),
				 top_printable(top_str(e, "name"), s1, sizeof(s1)),
				 top_printable(top_str(e, "driver"), s2, sizeof(s2)),
				 top_num(top_get(e, "link"), "up") ? "up" : "down", ip, ib, op, ob, dr);
		}
		for (size_t k = 0; k < top_len(nv); k++) {
			const json_t *ctl = top_at(nv, k);
			const json_t *pctl = match(pnv, ctl, "bdf", NULL);
			const json_t *q = top_get(ctl, "qpairs"), *pq = top_get(pctl, "qpairs");

			for (size_t m = 0; m < top_len(q) && nqp < MAX_QPAIRS; m++, nqp++) {
				const json_t *e = top_at(q, m), *pe = match(pq, e, "qid", NULL);
				const json_t *l = top_get(e, "latency"), *pl = top_get(pe, "latency");
				double io = rate(e, pe, "completed", dt);
				double ls = rate(l, pl, "sum_ns", dt), ln = rate(l, pl, "count", dt);
				char lat[40] = "        -        -";

				iops += io;
				lat_sum += ls;
				lat_n += ln;
				if (ln > 0)
					snprintf(lat, sizeof(lat), "%9.1f %8.1f", ls / ln / 1e3,
						 lat_pct(e, pe, 0.99) / 1e3);
				if ((r = add(&qps)) == NULL)
					continue;
				r->pid = sane(pid);
				r->key = sane(io);
				snprintf(r->text, sizeof(r->text), "%8.0f %-13s %4.0f %10.0f %8.0f %8.0f %s",
					 pid, top_printable(top_str(ctl, "bdf"), s1, sizeof(s1)),
					 top_num(e, "qid"), io,
					 top_num(e, "in_flight"), top_num(e, "errors") +
					 top_num(e, "timeouts"), lat);
			}
		}
		add_subsystems(&subs, top_data(c, CMD_NVMF), p ? top_data(p, CMD_NVMF) : NULL, pid, dt);
		for (size_t k = 0; k < top_len(vb); k++) {
			const json_t *e = top_at(vb, k), *pe = match(pvb, e, "name", NULL);
			double io = rate(e, pe, "requests", dt);

			iops += io;
			if ((r = add(&vbs)) == NULL)
				continue;
			r->pid = sane(pid);
			r->key = sane(io);
			snprintf(r->text, sizeof(r->text), "%8.0f %-16.16s %-4s %6.0f %10.0f %9.1f %9.1f "
				 "%8.0f %8.0f %8.0f", pid,
				 top_printable(top_str(e, "name"), s1, sizeof(s1)),
				 top_num(e, "connected") ? "yes" : "no", top_num(e, "queues_started"), io,
				 rate(e, pe, "bytes_read", dt) / 1e6, rate(e, pe, "bytes_written", dt) / 1e6,
				 top_num(e, "in_flight"), rate(e, pe, "errors", dt),
				 top_num(e, "resubmitted"));
		}
		if ((r = add(&procs)) == NULL)
			continue;
		r->pid = sane(pid);
		r->key = sane(sort == SORT_TRAFFIC ? rxp + txp + iops : polls > 0 ? busy / polls : 0);
		prog = strrchr(top_str(info, "prog"), '/');
		prog = prog != NULL ? prog + 1 : top_str(info, "prog");
		snprintf(r->text, sizeof(r->text), "%8.0f %-16.16s %7.0f %6.0f %6.1f %10.0f %10.0f %8.0f "
			 "%10.0f %9s", pid, top_printable(prog, s1, sizeof(s1)), top_num(info, "uptime_s"),
			 top_num(info, "lcores"), polls > 0 ? 100 * busy / polls : 0, rxp, txp, drops,
			 iops, "");
		if (lat_n > 0)
			snprintf(r->text + strlen(r->text) - 9, 10, "%9.1f", lat_sum / lat_n / 1e3);
	}
	draw_table(f, x, "processes", "     PID PROG              UPTIME LCORES  BUSY%     RX pps     "
		   "TX pps   DROP/s       IOPS    LAT us", &procs, &line, rows);
	draw_table(f, x, "lcores (busy: polls that found work)", "     PID LCORE  CPU  BUSY%"
		   "      BUSY/s       IDLE/s SLEEP%  WAKE/s  STATE", &lcores, &line, rows);
	draw_table(f, x, "ports", "     PID PORT NAME           DRIVER   LINK     RX pps   RX Mb/s"
		   "     TX pps   TX Mb/s   DROP/s", &ports, &line, rows);
	draw_table(f, x, "NVMe queue pairs (latency: --qpair-latency / opts.latency_hist)",
		   "     PID BDF            QID       IOPS IN-FLGHT   ERRORS  AVG us   P99 us",
		   &qps, &line, rows);
	draw_table(f, x, "NVMe/TCP subsystems (udk-nvmf-tgt)", "     PID NQN                              "
		   "CTRL QUEUES       IOPS   RD MB/s   WR MB/s    ERR/s", &subs, &line, rows);
	draw_table(f, x, "vhost-blk devices (udk-vhost-blk)",
		   "     PID NAME             CONN QUEUES       IOPS  RD MB/s  WR MB/s IN-FLGHT"
		   "    ERR/s    RESUB", &vbs, &line, rows);
	fputs(x->eos, f);
	fflush(f);
	free(procs.rows);
	free(lcores.rows);
	free(ports.rows);
	free(qps.rows);
	free(subs.rows);
	free(vbs.rows);
}
