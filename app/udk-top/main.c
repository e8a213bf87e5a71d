/* SPDX-License-Identifier: BSD-3-Clause */
/* main.c - udk-top: a live view of the udk processes on this machine
 * through their telemetry sockets (doc/udk-top.md), or one snapshot as
 * JSON for scripts. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "tool_args.h"
#include "top.h"

#ifndef UDK_VERSION
#define UDK_VERSION "unknown"
#endif

#define MAX_PROCS 256

struct opts {
	int pid;
	const char *socket;
	bool json;
	bool batch;      /* plain lines, no escape sequences (-b, or stdout no tty) */
	double delay;
	long iterations; /* 0: until q */
};

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [-p PID | -s SOCKET] [--json | -b] [-d SEC] [-n N]\n"
		"Show what udk processes are doing, from their telemetry sockets\n"
		"(/run/udk/*.sock, then $XDG_RUNTIME_DIR/udk and /tmp/udk-UID).\n\n"
		"  -p, --pid PID       only this process\n"
		"  -s, --socket PATH   only the process serving at PATH\n"
		"      --json          print one snapshot of every command's answer as JSON\n"
		"                      and exit (counters, not rates)\n"
		"  -b, --batch         plain text screens one after the other, no cursor\n"
		"                      or clear sequences (the default when stdout is not\n"
		"                      a terminal); with -n N, N screens\n"
		"  -d, --delay SEC     refresh every SEC seconds (default 1)\n"
		"  -n, --iterations N  draw N screens, then exit\n"
		"  -h, --help, --version\n\n"
		"Keys: q quit, s next sort key, p sort by pid, b by busy%%, t by traffic\n"
		"(packets and I/Os per second).  Sockets in a directory, and sockets, that\n"
		"are not owned by you or root or that others may write are skipped.\n"
		"Exit 1 when the process asked for cannot be reached, 2 on bad usage.\n");
}

static int bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, PROG ": ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see --help)\n");
	return 2;
}

static int parse(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.delay = 1.0};
	if (tool_help_version(argc, argv, 0, PROG " (udk) " UDK_VERSION, usage))
		exit(0);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (!strcmp(a, "--")) {
			continue; /* udk-top takes no operand: -- changes nothing */
		} else if (!strcmp(a, "--json")) {
			o->json = true;
			continue;
		} else if (!strcmp(a, "-b") || !strcmp(a, "--batch")) {
			o->batch = true;
			continue;
		}
		if (strcmp(a, "-p") && strcmp(a, "--pid") && strcmp(a, "-s") && strcmp(a, "--socket") &&
		    strcmp(a, "-d") && strcmp(a, "--delay") && strcmp(a, "-n") &&
		    strcmp(a, "--iterations"))
			return bad_usage("unknown option '%s'", a);
		if (v == NULL)
			return bad_usage("%s needs a value", a);
		if (!strcmp(a, "-p") || !strcmp(a, "--pid")) {
			long pid = strtol(v, &end, 10);

			if (*v == '\0' || *end != '\0' || pid <= 0 || pid > 4194304)
				return bad_usage("--pid: '%s' is not a process id", v);
			o->pid = (int)pid;
		} else if (!strcmp(a, "-s") || !strcmp(a, "--socket")) {
			if (*v == '\0' || strlen(v) >= 108)
				return bad_usage("--socket: '%s' is not a socket path (1-107 bytes)", v);
			o->socket = v;
		} else if (!strcmp(a, "-d") || !strcmp(a, "--delay")) {
			o->delay = strtod(v, &end);
			if (*v == '\0' || *end != '\0' || !(o->delay >= 0.1 && o->delay <= 3600))
				return bad_usage("--delay: '%s' is not a number of seconds in 0.1..3600",
						 v);
		} else if (!strcmp(a, "-n") || !strcmp(a, "--iterations")) {
			o->iterations = strtol(v, &end, 10);
			if (*v == '\0' || *end != '\0' || o->iterations <= 0)
				return bad_usage("--iterations: '%s' is not a positive number", v);
		}
		i++;
	}
	if (o->pid > 0 && o->socket != NULL)
		return bad_usage("%s: give -p or -s, not both", "-p/-s");
	return 0;
}

/* The sockets to ask: one (-s, -p) or all.  -1 if the one asked for is
 * not there. */
static long targets(const struct opts *o, char (*paths)[108])
{
	size_t n;

	if (o->socket != NULL) {
		struct stat st;
		const char *why = stat(o->socket, &st) < 0 ? errno == ENOENT ? "no such socket" :
				  strerror(errno) : !S_ISSOCK(st.st_mode) ? "not a socket" : NULL;

		if (why != NULL) {
			fprintf(stderr, PROG ": %s: %s (is the process running? -s takes the path "
				"it serves telemetry at, its --telemetry-path)\n", o->socket, why);
			return -1;
		}
		snprintf(paths[0], 108, "%s", o->socket);
		return 1;
	}
	n = top_find(o->pid, paths, MAX_PROCS);
	if (o->pid > 0 && n == 0) {
		fprintf(stderr, PROG ": no telemetry socket of process %d (is it a udk program, "
			"started without --no-telemetry? see --help for where sockets are)\n", o->pid);
		return -1;
	}
	return (long)n;
}

static int snapshot(const struct opts *o)
{
	static char paths[MAX_PROCS][108];
	long n = targets(o, paths);
	bool one = o->socket != NULL || o->pid > 0;
	json_t *root, *procs = json_array();
	int rc = 0;

	if (n < 0) {
		json_decref(procs);
		return 1;
	}
	root = json_pack("{so}", "processes", procs); /* takes procs, even on failure */
	if (root == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	for (long i = 0; i < n; i++) {
		struct proc p;
		json_t *pj;

		/* All processes: a stale socket (its process died) is skipped quietly. */
		if (!top_query(&p, paths[i], !one)) {
			top_proc_clear(&p);
			if (one) {
				rc = 1;
				break;
			}
			continue;
		}
		pj = top_proc_json(&p);
		top_proc_clear(&p);
		if (json_array_append_new(procs, pj) < 0) {
			fprintf(stderr, PROG ": out of memory\n");
			rc = 1;
			break;
		}
	}
	if (json_dumpf(root, stdout, JSON_COMPACT) < 0)
		rc = 1;
	putchar('\n');
	json_decref(root);
	return rc;
}

static struct termios saved_tty;
static bool tty_raw;

static void tty_restore(bool batch)
{
	if (tty_raw)
		tcsetattr(0, TCSANOW, &saved_tty);
	tty_raw = false;
	if (!batch)
		printf("\x1b[?25h"); /* cursor back */
	fflush(stdout);
}

static int live(const struct opts *o)
{
	static char paths[MAX_PROCS][108];
	static struct proc prev[MAX_PROCS], cur[MAX_PROCS];
	enum sort_key sort = SORT_BUSY;
	size_t nprev = 0;
	bool one = o->socket != NULL || o->pid > 0;
	long iter = 0;
	int rc = 0;

	if (!o->batch && isatty(0) && tcgetattr(0, &saved_tty) == 0) {
		struct termios raw = saved_tty;

		raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tty_raw = tcsetattr(0, TCSANOW, &raw) == 0;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (!o->batch)
		printf("\x1b[?25l\x1b[2J");
	while (!quit) {
		long n = targets(o, paths);
		size_t m = 0;
		struct winsize ws = {.ws_row = 24, .ws_col = 80};
		double end;

		if (n < 0) {
			rc = 1;
			break;
		}
		for (long i = 0; i < n; i++) {
			if (!top_query(&cur[m], paths[i], !one)) {
				top_proc_clear(&cur[m]);
				continue;
			}
			m++;
		}
		if (one && m == 0) {
			if (o->pid > 0)
				fprintf(stderr, PROG ": process %d does not answer\n", o->pid);
			rc = 1;
			break;
		}
		/* Line the previous samples up with the current ones by socket
		 * (shallow copies: prev still owns them). */
		{
			static struct proc before[MAX_PROCS];

			for (size_t i = 0; i < m; i++) {
				memset(&before[i], 0, sizeof(before[i]));
				for (size_t k = 0; k < nprev; k++)
					if (prev[k].ok && strcmp(prev[k].path, cur[i].path) == 0)
						before[i] = prev[k];
			}
			ioctl(1, TIOCGWINSZ, &ws);
			if (o->batch && iter > 0)
				putchar('\n');
			top_draw(stdout, before, cur, m, sort, ws.ws_row ? ws.ws_row : 24, o->batch);
			for (size_t k = 0; k < nprev; k++)
				top_proc_clear(&prev[k]);
			memcpy(prev, cur, m * sizeof(prev[0]));
			memset(cur, 0, m * sizeof(cur[0]));
			nprev = m;
		}
		if (++iter == o->iterations)
			break;
		/* Wait for the next refresh, reading keys meanwhile. */
		end = top_now() + o->delay;
		while (!quit) {
			double left = end - top_now();
			struct pollfd pf = {.fd = 0, .events = POLLIN};
			char key;

			if (left <= 0)
				break;
			if (poll(&pf, tty_raw ? 1 : 0, (int)(left * 1000) + 1) <= 0) {
				if (!tty_raw && left > 0)
					continue;
				break;
			}
			if (read(0, &key, 1) != 1)
				continue;
			if (key == 'q' || key == 'Q')
				quit = 1;
			else if (key == 's')
				sort = (enum sort_key)((sort + 1) % SORT_NB);
			else if (key == 'p')
				sort = SORT_PID;
			else if (key == 'b')
				sort = SORT_BUSY;
			else if (key == 't')
				sort = SORT_TRAFFIC;
			else
				continue;
			break; /* redraw now */
		}
	}
	for (size_t k = 0; k < nprev; k++)
		top_proc_clear(&prev[k]);
	tty_restore(o->batch);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o;
	int rc = parse(argc, argv, &o);

	if (rc != 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	if (!isatty(1))
		o.batch = true;
	return o.json ? snapshot(&o) : live(&o);
}
