/* SPDX-License-Identifier: BSD-3-Clause */
/* view.c - udk-top's screen: rates from two samples of each process (the
 * counters' differences over the time between them), one table per kind
 * (processes, lcores, ports, NVMe queue pairs), each sorted by the chosen
 * key, cut to the terminal's height. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "top.h"

#define CMD_INFO 0
#define CMD_LCORES 1
#define CMD_PORTS 2
#define CMD_NVME 3

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

static enum sort_key g_sort;

static int by_key(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (g_sort != SORT_PID && x->key != y->key)
		return x->key < y->key ? 1 : -1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* The element of prev's array whose member key equals cur's (a number or
 * a string), or NULL. */
static const struct jnode *match(const struct jnode *arr, const struct jnode *cur,
				 const char *key, const char *key2)
{
	for (size_t i = 0; i < json_len(arr); i++) {
		const struct jnode *e = json_at(arr, i);
		bool same = json_num(e, key) == json_num(cur, key) &&
			    strcmp(json_str(e, key), json_str(cur, key)) == 0;

		if (same && key2 != NULL)
			same = json_num(e, key2) == json_num(cur, key2);
		if (same)
			return e;
	}
	return NULL;
}

static double rate(const struct jnode *cur, const struct jnode *prev, const char *key, double dt)
{
	double d;

	if (prev == NULL || dt <= 0)
		return 0;
	d = json_num(cur, key) - json_num(prev, key);
	return d > 0 ? d / dt : 0;
}

/* The latency below which fraction q of the commands of the interval lie,
 * in ns, from the bucket differences; each bucket counts as its middle. */
static double lat_pct(const struct jnode *cur, const struct jnode *prev, double q)
{
	const struct jnode *cb = json_get(json_get(cur, "latency"), "buckets");
	const struct jnode *pb = json_get(json_get(prev, "latency"), "buckets");
	double total = 0, seen = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < json_len(cb); i++) {
			const struct jnode *b = json_at(cb, i);
			double low = json_num(json_at(b, 0), NULL), n = json_num(json_at(b, 1), NULL);

			for (size_t k = 0; k < json_len(pb); k++)
				if (json_num(json_at(json_at(pb, k), 0), NULL) == low)
					n -= json_num(json_at(json_at(pb, k), 1), NULL);
			if (pass == 0) {
				total += n;
			} else if ((seen += n) >= q * total && total > 0) {
				return low == 0 ? 1 : low * 1.5;
			}
		}
	}
	return 0;
}

static void draw_table(const char *title, const char *header, struct table *t, int *line, int rows)
{
	if (t->n == 0 || *line + 3 > rows)
		return;
	qsort(t->rows, t->n, sizeof(t->rows[0]), by_key);
	printf("\n\x1b[1m%s\x1b[0m\n\x1b[7m%s\x1b[0m\x1b[K\n", title, header);
	*line += 3;
	for (size_t i = 0; i < t->n; i++) {
		if (*line + 1 >= rows) {
			printf("  ... %zu more\x1b[K\n", t->n - i);
			(*line)++;
			return;
		}
		printf("%s\x1b[K\n", t->rows[i].text);
		(*line)++;
	}
}

void top_draw(const struct proc *prev, const struct proc *cur, size_t n, enum sort_key sort,
	      int rows, int cols)
{
	struct table procs = {0}, lcores = {0}, ports = {0}, qps = {0};
	char clock[16];
	time_t now = time(NULL);
	int line = 2;

	g_sort = sort;
	strftime(clock, sizeof(clock), "%H:%M:%S", localtime(&now));
	printf("\x1b[H\x1b[1m" PROG "\x1b[0m  %s  %zu process%s  sort: %s   "
	       "(s: next sort key, q: quit)\x1b[K\n", clock, n, n == 1 ? "" : "es",
	       sort_names[sort]);
	for (size_t i = 0; i < n; i++) {
		const struct proc *c = &cur[i], *p = prev[i].ok ? &prev[i] : NULL;
		const struct jnode *info = top_data(c, CMD_INFO);
		const struct jnode *lc = top_data(c, CMD_LCORES), *plc = p ? top_data(p, CMD_LCORES) : NULL;
		const struct jnode *pt = top_data(c, CMD_PORTS), *ppt = p ? top_data(p, CMD_PORTS) : NULL;
		const struct jnode *nv = top_data(c, CMD_NVME), *pnv = p ? top_data(p, CMD_NVME) : NULL;
		double dt = p ? c->t - p->t : 0, pid = json_num(info, "pid");
		double busy = 0, polls = 0, rxp = 0, txp = 0, rxb = 0, txb = 0, drops = 0, iops = 0;
		double lat_sum = 0, lat_n = 0;
		struct row *r;

		if (!c->ok)
			continue;
		for (size_t k = 0; k < json_len(lc); k++) {
			const struct jnode *e = json_at(lc, k), *pe = match(plc, e, "lcore", NULL);
			double b = rate(e, pe, "busy_polls", dt), id = rate(e, pe, "idle_polls", dt);

			busy += b;
			polls += b + id;
			if ((r = add(&lcores)) == NULL)
				continue;
			r->pid = pid;
			r->key = sort == SORT_TRAFFIC ? b + id : b + id > 0 ? b / (b + id) : 0;
			snprintf(r->text, sizeof(r->text), "%8.0f %5.0f %4.0f %6.1f %12.0f %12.0f  %s",
				 pid, json_num(e, "lcore"), json_num(e, "cpu"),
				 b + id > 0 ? 100 * b / (b + id) : 0, b, id,
				 json_num(e, "running") ? "running" : "waiting");
		}
		for (size_t k = 0; k < json_len(pt); k++) {
			const struct jnode *e = json_at(pt, k), *pe = match(ppt, e, "name", NULL);
			const struct jnode *s = json_get(e, "stats"), *ps = json_get(pe, "stats");
			double ip = rate(s, ps, "ipackets", dt), op = rate(s, ps, "opackets", dt);
			double ib = rate(s, ps, "ibytes", dt) * 8 / 1e6, ob = rate(s, ps, "obytes", dt) * 8 / 1e6;
			double dr = rate(s, ps, "imissed", dt) + rate(s, ps, "ierrors", dt) +
				    rate(s, ps, "oerrors", dt);

			rxp += ip, txp += op, rxb += ib, txb += ob, drops += dr;
			if ((r = add(&ports)) == NULL)
				continue;
			r->pid = pid;
			r->key = ip + op;
			snprintf(r->text, sizeof(r->text), "%8.0f %4.0f %-14.14s %-8.8s %-4s %10.0f %9.1f "
				 "%10.0f %9.1f %8.0f", pid, json_num(e, "port"), json_str(e, "name"),
				 json_str(e, "driver"),
				 json_num(json_get(e, "link"), "up") ? "up" : "down", ip, ib, op, ob, dr);
		}
		for (size_t k = 0; k < json_len(nv); k++) {
			const struct jnode *ctl = json_at(nv, k);
			const struct jnode *pctl = match(pnv, ctl, "bdf", NULL);
			const struct jnode *q = json_get(ctl, "qpairs"), *pq = json_get(pctl, "qpairs");

			for (size_t m = 0; m < json_len(q); m++) {
				const struct jnode *e = json_at(q, m), *pe = match(pq, e, "qid", NULL);
				const struct jnode *l = json_get(e, "latency"), *pl = json_get(pe, "latency");
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
				r->pid = pid;
				r->key = io;
				snprintf(r->text, sizeof(r->text), "%8.0f %-13s %4.0f %10.0f %8.0f %8.0f %s",
					 pid, json_str(ctl, "bdf"), json_num(e, "qid"), io,
					 json_num(e, "in_flight"), json_num(e, "errors") +
					 json_num(e, "timeouts"), lat);
			}
		}
		if ((r = add(&procs)) == NULL)
			continue;
		r->pid = pid;
		r->key = sort == SORT_TRAFFIC ? rxp + txp + iops : polls > 0 ? busy / polls : 0;
		snprintf(r->text, sizeof(r->text), "%8.0f %-16.16s %7.0f %6.0f %6.1f %10.0f %10.0f %8.0f "
			 "%10.0f %9s", pid, strrchr(json_str(info, "prog"), '/') ? strrchr(json_str(info, "prog"), '/') + 1 : json_str(info, "prog"), json_num(info, "uptime_s"),
			 json_num(info, "lcores"), polls > 0 ? 100 * busy / polls : 0, rxp, txp, drops,
			 iops, "");
		if (lat_n > 0)
			snprintf(r->text + strlen(r->text) - 9, 10, "%9.1f", lat_sum / lat_n / 1e3);
	}
	(void)cols;
	draw_table("processes", "     PID PROG              UPTIME LCORES  BUSY%     RX pps     "
		   "TX pps   DROP/s       IOPS    LAT us", &procs, &line, rows);
	draw_table("lcores (busy: polls that found work)", "     PID LCORE  CPU  BUSY%"
		   "      BUSY/s       IDLE/s  STATE", &lcores, &line, rows);
	draw_table("ports", "     PID PORT NAME           DRIVER   LINK     RX pps   RX Mb/s"
		   "     TX pps   TX Mb/s   DROP/s", &ports, &line, rows);
	draw_table("NVMe queue pairs (latency: --qpair-latency / opts.latency_hist)",
		   "     PID BDF            QID       IOPS IN-FLGHT   ERRORS  AVG us   P99 us",
		   &qps, &line, rows);
	printf("\x1b[J");
	fflush(stdout);
	free(procs.rows);
	free(lcores.rows);
	free(ports.rows);
	free(qps.rows);
}
