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
#include <termios.h>
#include <unistd.h>

#include "top.h"

#ifndef UDK_VERSION
#define UDK_VERSION "unknown"
#endif

#define MAX_PROCS 256

struct opts {
	int pid;
	const char *socket;
	bool json;
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
		"usage: " PROG " [-p PID | -s SOCKET] [--json] [-d SEC] [-n N]\n"
		"Show what udk processes are doing, from their telemetry sockets\n"
		"(/run/udk/*.sock, then $XDG_RUNTIME_DIR/udk and /tmp/udk-UID).\n\n"
		"  -p, --pid PID       only this process\n"
		"  -s, --socket PATH   only the process serving at PATH\n"
		"      --json          print one snapshot of every command's answer as JSON\n"
		"                      and exit (counters, not rates)\n"
		"  -d, --delay SEC     refresh every SEC seconds (default 1)\n"
		"  -n, --iterations N  draw N screens, then exit\n"
		"  -h, --help, --version\n\n"
		"Keys: q quit, s next sort key, p sort by pid, b by busy%%, t by traffic\n"
		"(packets and I/Os per second).  Exit 1 when the process asked for cannot\n"
		"be reached, 2 on bad usage.\n");
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
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--version")) {
			printf(PROG " (udk) %s\n", UDK_VERSION);
			exit(0);
		} else if (!strcmp(a, "--json")) {
			o->json = true;
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

static void json_escape(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static int snapshot(const struct opts *o)
{
	static char paths[MAX_PROCS][108];
	long n = targets(o, paths);
	bool one = o->socket != NULL || o->pid > 0, first = true;

	if (n < 0)
		return 1;
	printf("{\"processes\":[");
	for (long i = 0; i < n; i++) {
		struct proc p;

		/* All processes: a stale socket (its process died) is skipped quietly. */
		if (!top_query(&p, paths[i], !one)) {
			top_proc_clear(&p);
			if (one) {
				printf("]}\n");
				return 1;
			}
			continue;
		}
		printf("%s{\"socket\":", first ? "" : ",");
		json_escape(p.path);
		for (int c = 0; c < TOP_CMDS; c++) {
			const struct jnode *d = top_data(&p, c), *e = json_get(p.ans[c], "error");

			printf(",\"%s\":", top_cmds[c]);
			if (d != NULL)
				fwrite(d->text, 1, d->text_len, stdout);
			else if (e != NULL)
				printf("{\"error\":%.*s}", (int)e->text_len, e->text);
			else
				printf("null");
		}
		printf("}");
		first = false;
		top_proc_clear(&p);
	}
	printf("]}\n");
	return 0;
}

static struct termios saved_tty;
static bool tty_raw;

static void tty_restore(void)
{
	if (tty_raw)
		tcsetattr(0, TCSANOW, &saved_tty);
	tty_raw = false;
	printf("\x1b[?25h"); /* cursor back */
	fflush(stdout);
}

static int live(const struct opts *o)
{
	static char paths[MAX_PROCS][108];
	static struct proc prev[MAX_PROCS], cur[MAX_PROCS];
	enum sort_key sort = SORT_BUSY;
	size_t nprev = 0;
	long iter = 0;
	int rc = 0;

	if (isatty(0) && tcgetattr(0, &saved_tty) == 0) {
		struct termios raw = saved_tty;

		raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tty_raw = tcsetattr(0, TCSANOW, &raw) == 0;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
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
			if (!top_query(&cur[m], paths[i], true)) {
				top_proc_clear(&cur[m]);
				continue;
			}
			m++;
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
			top_draw(before, cur, m, sort, ws.ws_row ? ws.ws_row : 24,
				 ws.ws_col ? ws.ws_col : 80);
			for (size_t k = 0; k < nprev; k++)
				top_proc_clear(&prev[k]);
			memcpy(prev, cur, m * sizeof(prev[0]));
			memset(cur, 0, m * sizeof(cur[0]));
			nprev = m;
		}
		if (o->pid > 0 && m == 0) {
			fprintf(stderr, PROG ": process %d does not answer\n", o->pid);
			rc = 1;
			break;
		}
		if (o->iterations > 0 && ++iter >= o->iterations)
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
	tty_restore();
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o;
	int rc = parse(argc, argv, &o);

	if (rc != 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	return o.json ? snapshot(&o) : live(&o);
}
