/* SPDX-License-Identifier: BSD-3-Clause */
/* ctl.c - "udk-nvmf-tgt ctl": the run-time commands of a running target
 * (doc/nvmf.md, "Namespaces at run time") from the command line, through its
 * telemetry socket (app/common/telemetry_client.c finds and reads it):
 * ns-add, ns-remove and stats.  One request, one answer line; the target's
 * errors printed as they come.  Exit 0, 1 (the target refused, or is not
 * there), 2 (bad usage). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nvmf.h"
#include "telemetry_client.h"
#include "tool_args.h"
#include "udk_telemetry.h"

#define PROG "udk-nvmf-tgt"
#define CTL PROG " ctl"
/* Longer than the target's own 2 s hand-off to poll group 0. */
#define ANSWER_TIMEOUT_S 10.0
#define MAX_TARGETS 16

struct ctl_opts {
	int pid;
	const char *socket;
	bool json;
};

static int ctl_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, CTL ": ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see --help)\n");
	return TOOL_EXIT_USAGE;
}

/* The socket of the target to ask into path; 0, or 1 with one line said. */
static int ctl_socket(const struct ctl_opts *o, char *path)
{
	static char found[MAX_TARGETS][TOOL_SOCK_PATH];
	char dirs[4][TOOL_SOCK_PATH], tried[4 * (TOOL_SOCK_PATH + 40)] = "";
	size_t n, nd;

	if (o->socket != NULL) {
		snprintf(path, TOOL_SOCK_PATH, "%s", o->socket);
		return 0;
	}
	n = tool_telemetry_find(CTL, PROG, o->pid, found, MAX_TARGETS);
	/* Looking for the only target: the sockets killed targets left behind
	 * (nobody listens) do not count. */
	for (size_t i = 0; o->pid <= 0 && i < n;) {
		int fd = tool_telemetry_connect(CTL, found[i], true);

		if (fd >= 0 || errno != ECONNREFUSED) {
			if (fd >= 0)
				close(fd);
			i++;
			continue;
		}
		memmove(found[i], found[i + 1], (n - i - 1) * sizeof(found[0]));
		n--;
	}
	if (n == 1) {
		snprintf(path, TOOL_SOCK_PATH, "%s", found[0]);
		return 0;
	}
	if (n > 1) {
		fprintf(stderr, CTL ": %zu targets are running (%s, %s%s): give -p PID or -s SOCKET\n", n,
			found[0], found[1], n > 2 ? ", ..." : "");
		return 1;
	}
	nd = udk_telemetry_dirs(dirs, 4);
	for (size_t i = 0, k = 0; i < nd && k < sizeof(tried); i++) {
		if (o->pid > 0)
			k += (size_t)snprintf(tried + k, sizeof(tried) - k, "%s%s/" PROG ".%d.sock",
					      i ? ", " : "", dirs[i], o->pid);
		else
			k += (size_t)snprintf(tried + k, sizeof(tried) - k, "%s%s/" PROG ".*.sock",
					      i ? ", " : "", dirs[i]);
	}
	if (o->pid > 0)
		fprintf(stderr, CTL ": no target with process id %d: no socket %s (is it running, and "
			"without --no-telemetry?)\n", o->pid, tried);
	else
		fprintf(stderr, CTL ": no running target: none answers at %s (start " PROG ", or give -s "
			"SOCKET, its --telemetry-path)\n", tried);
	return 1;
}

/* Send req (one line) to path and return its answer line, or NULL with one
 * line said. */
static char *ctl_ask(const char *path, const char *req)
{
	char *pend = NULL, *line;
	size_t pend_len = 0, len = strlen(req);
	int fd = tool_telemetry_connect(CTL, path, false);

	if (fd < 0)
		return NULL;
	if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len || send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		fprintf(stderr, CTL ": %s: cannot send: %s\n", path, strerror(errno));
		close(fd);
		return NULL;
	}
	line = tool_telemetry_read_line(fd, &pend, &pend_len, tool_now() + ANSWER_TIMEOUT_S);
	if (line == NULL)
		fprintf(stderr, CTL ": %s: no answer within %.0f s (is it a udk-nvmf-tgt? is it busy?)\n",
			path, ANSWER_TIMEOUT_S);
	free(pend);
	close(fd);
	return line;
}

static unsigned long long num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (unsigned long long)json_integer_value(v) : 0;
}

static const char *str(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : "?";
}

/* The "nvmf" answer as plain text. */
static void print_stats(const json_t *d)
{
	const json_t *e;
	size_t i;

	printf("connections %llu open, %llu in all\n\n", num(d, "connections"), num(d, "connections_total"));
	printf("%-5s %5s %11s %11s %12s %12s %14s\n", "GROUP", "LCORE", "CONNECTIONS", "CONTROLLERS",
	       "IOS", "BYTES_READ", "BYTES_WRITTEN");
	json_array_foreach(json_object_get(d, "groups"), i, e)
		printf("%-5llu %5llu %11llu %11llu %12llu %12llu %14llu\n", num(e, "id"), num(e, "lcore"),
		       num(e, "connections"), num(e, "controllers"), num(e, "ios"), num(e, "bytes_read"),
		       num(e, "bytes_written"));
	printf("\n%-40s %3s %5s %6s %10s %6s %10s %14s %14s\n", "SUBSYSTEM", "NS", "CTRLS", "QUEUES",
	       "COMMANDS", "ERRORS", "IOS", "BYTES_READ", "BYTES_WRITTEN");
	json_array_foreach(json_object_get(d, "subsystems"), i, e)
		printf("%-40s %3llu %5llu %6llu %10llu %6llu %10llu %14llu %14llu\n", str(e, "nqn"),
		       num(e, "namespaces"), num(e, "controllers"), num(e, "queues"), num(e, "commands"),
		       num(e, "errors"), num(e, "ios"), num(e, "bytes_read"), num(e, "bytes_written"));
}

/* KIND:NAME:ARGS as one word, or the configuration file's words KIND NAME
 * ARGS... (malloc ram1 64 4096) made into KIND:NAME:ARGS ARGS (the target
 * turns the first colons into spaces). */
static int bdev_spec(int argc, char **argv, char *out, size_t size)
{
	size_t k;

	if (argc == 1) {
		k = (size_t)snprintf(out, size, "%s", argv[0]);
	} else if (argc == 2) {
		return ctl_usage("ns-add: bdev '%s ...': KIND NAME ARGS, as in the configuration "
				 "file (malloc ram1 64), or KIND:NAME:ARGS", argv[0]);
	} else {
		k = (size_t)snprintf(out, size, "%s:%s:%s", argv[0], argv[1], argv[2]);
		for (int i = 3; i < argc && k < size; i++)
			k += (size_t)snprintf(out + k, size - k, " %s", argv[i]);
	}
	if (k >= size)
		return ctl_usage("ns-add: bdev '%s...' is too long", argv[0]);
	return 0;
}

static const char *const ctl_cmds = "ns-add, ns-remove or stats";

int nvmf_ctl_main(int argc, char **argv)
{
	struct ctl_opts o = {0};
	char path[TOOL_SOCK_PATH], bdev[256], *line, *req_text;
	const char *cmd, *nqn = NULL;
	json_t *req, *ans, *err, *data;
	json_error_t jerr;
	unsigned long nsid = 0;
	int i, rc;

	for (i = 0; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (!strcmp(a, "--json")) {
			o.json = true;
			continue;
		}
		if (strcmp(a, "-p") && strcmp(a, "--pid") && strcmp(a, "-s") && strcmp(a, "--socket"))
			return ctl_usage("unknown option '%s'", a);
		if (v == NULL)
			return ctl_usage("%s needs a value", a);
		if (!strcmp(a, "-p") || !strcmp(a, "--pid")) {
			long pid = strtol(v, &end, 10);

			if (*v == '\0' || *end != '\0' || pid <= 0 || pid > 4194304)
				return ctl_usage("--pid: '%s' is not a process id", v);
			o.pid = (int)pid;
		} else {
			if (*v == '\0' || strlen(v) >= TOOL_SOCK_PATH)
				return ctl_usage("--socket: '%s' is not a socket path (1-107 bytes)", v);
			o.socket = v;
		}
		i++;
	}
	if (o.pid > 0 && o.socket != NULL)
		return ctl_usage("%s: give -p or -s, not both", "-p/-s");
	if (i == argc)
		return ctl_usage("a command: %s", ctl_cmds);
	cmd = argv[i++];
	argc -= i;
	argv += i;
	if (!strcmp(cmd, "stats")) {
		if (argc != 0)
			return ctl_usage("stats takes no argument, not '%s'", argv[0]);
		req = json_pack("{ss}", "cmd", "nvmf");
	} else if (!strcmp(cmd, "ns-add") || !strcmp(cmd, "ns-remove")) {
		bool add = cmd[3] == 'a';
		char *end;

		if (add ? argc < 3 : argc != 2)
			return ctl_usage(add ? "usage: %s NQN NSID|auto BDEV" : "usage: %s NQN NSID", cmd);
		nqn = argv[0];
		if (!(add && !strcmp(argv[1], "auto"))) {
			nsid = strtoul(argv[1], &end, 10);
			if (argv[1][0] < '1' || argv[1][0] > '9' || *end != '\0' || nsid > NVMF_MAX_NS)
				return ctl_usage(add ? "NSID '%s': a namespace ID, 1 to 32, or auto (the "
						 "lowest free)" : "NSID '%s': a namespace ID, 1 to 32", argv[1]);
		}
		if (add && (rc = bdev_spec(argc - 2, argv + 2, bdev, sizeof(bdev))) != 0)
			return rc;
		req = add ? nsid ? json_pack("{ss s{ss sI ss}}", "cmd", "nvmf_ns_add", "params", "subsystem", nqn,
					     "nsid", (json_int_t)nsid, "bdev", bdev) :
			    json_pack("{ss s{ss ss}}", "cmd", "nvmf_ns_add", "params", "subsystem", nqn, "bdev", bdev) :
			    json_pack("{ss s{ss sI}}", "cmd", "nvmf_ns_remove", "params", "subsystem", nqn, "nsid",
				      (json_int_t)nsid);
	} else {
		return ctl_usage("unknown command '%s' (ns-add, ns-remove or stats)", cmd);
	}
	/* json_pack fails on a string that is not UTF-8. */
	req_text = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (req_text == NULL)
		return ctl_usage("%s: the NQN and bdev must be UTF-8 text", cmd);
	rc = ctl_socket(&o, path);
	line = rc ? NULL : ctl_ask(path, req_text);
	free(req_text);
	if (line == NULL)
		return 1;
	ans = json_loads(line, 0, &jerr);
	err = json_object_get(ans, "error");
	data = json_object_get(ans, "data");
	rc = 0;
	if (o.json)
		printf("%s\n", line);
	if (err != NULL) {
		fprintf(stderr, CTL ": %s: %s (%s)\n", cmd, str(err, "message"), str(err, "code"));
		rc = 1;
	} else if (!json_is_object(data)) {
		fprintf(stderr, CTL ": %s: %s: the answer is not the target's (%.80s)\n", cmd, path, line);
		rc = 1;
	} else if (o.json) {
		; /* printed above */
	} else if (!strcmp(cmd, "stats")) {
		print_stats(data);
	} else if (!strcmp(cmd, "ns-add")) {
		printf("namespace %llu of %s: bdev %s\n", num(data, "nsid"), str(data, "subsystem"),
		       str(data, "bdev"));
	} else {
		printf("namespace %llu of %s removed\n", num(data, "nsid"), str(data, "subsystem"));
	}
	json_decref(ans);
	free(line);
	return rc;
}
