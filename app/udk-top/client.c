/* SPDX-License-Identifier: BSD-3-Clause */
/* client.c - udk-top's side of the telemetry protocol (doc/telemetry.md):
 * find the sockets, send every command on one connection, read the answer
 * lines back with a deadline, parse them. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "top.h"
#include "udk_telemetry.h"

#define ANSWER_TIMEOUT_S 3.0

const char *const top_cmds[TOP_CMDS] = {"info", "lcores", "ports", "nvme", "maps", "devices"};

double top_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);

	return a >= b && strcmp(s + a - b, tail) == 0;
}

size_t top_find(int pid, char (*paths)[108], size_t max)
{
	char dirs[4][108], want[32];
	size_t nd = udk_telemetry_dirs(dirs, 4), n = 0;

	snprintf(want, sizeof(want), ".%d.sock", pid);
	for (size_t i = 0; i < nd; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *e;

		if (d == NULL)
			continue;
		while ((e = readdir(d)) != NULL && n < max) {
			if (!ends_with(e->d_name, pid > 0 ? want : ".sock"))
				continue;
			if (snprintf(paths[n], 108, "%s/%s", dirs[i], e->d_name) >= 108)
				continue;
			n++;
		}
		closedir(d);
	}
	return n;
}

void top_proc_clear(struct proc *p)
{
	for (int i = 0; i < TOP_CMDS; i++) {
		json_free(p->ans[i]);
		free(p->line[i]);
	}
	memset(p, 0, sizeof(*p));
}

const struct jnode *top_data(const struct proc *p, int cmd)
{
	return json_get(p->ans[cmd], "data");
}

/* One line from fd into a new buffer (without the newline), by deadline. */
static char *read_line(int fd, char **pend, size_t *pend_len, double deadline)
{
	for (;;) {
		char *nl = *pend ? memchr(*pend, '\n', *pend_len) : NULL;
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		char buf[65536], *b;
		double left;
		ssize_t r;

		if (nl != NULL) {
			size_t n = (size_t)(nl - *pend);
			char *line = malloc(n + 1);

			if (line == NULL)
				return NULL;
			memcpy(line, *pend, n);
			line[n] = '\0';
			memmove(*pend, nl + 1, *pend_len - n - 1);
			*pend_len -= n + 1;
			return line;
		}
		left = deadline - top_now();
		if (left <= 0 || poll(&pf, 1, (int)(left * 1000) + 1) <= 0)
			return NULL;
		r = read(fd, buf, sizeof(buf));
		if (r <= 0 || *pend_len + (size_t)r > 2 * UDK_TELEMETRY_MAX_ANSWER)
			return NULL;
		b = realloc(*pend, *pend_len + (size_t)r);
		if (b == NULL)
			return NULL;
		memcpy(b + *pend_len, buf, (size_t)r);
		*pend = b;
		*pend_len += (size_t)r;
	}
}

bool top_query(struct proc *p, const char *path, bool quiet)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char req[64 * TOP_CMDS], *pend = NULL;
	size_t pend_len = 0, len = 0;
	double deadline;
	int fd;

	memset(p, 0, sizeof(*p));
	snprintf(p->path, sizeof(p->path), "%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (!quiet)
			fprintf(stderr, PROG ": %s: %s%s\n", path, strerror(errno),
				errno == ECONNREFUSED ? " (a stale socket: its process is gone)" :
				errno == EACCES ? " (it belongs to another user; run as that "
				"user or root)" : "");
		if (fd >= 0)
			close(fd);
		return false;
	}
	for (int i = 0; i < TOP_CMDS; i++)
		len += (size_t)snprintf(req + len, sizeof(req) - len, "{\"cmd\":\"%s\"}\n",
					top_cmds[i]);
	if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len) {
		if (!quiet)
			fprintf(stderr, PROG ": %s: cannot send: %s\n", path, strerror(errno));
		close(fd);
		return false;
	}
	deadline = top_now() + ANSWER_TIMEOUT_S;
	for (int i = 0; i < TOP_CMDS; i++) {
		p->line[i] = read_line(fd, &pend, &pend_len, deadline);
		if (p->line[i] == NULL) {
			if (!quiet)
				fprintf(stderr, PROG ": %s: no answer to '%s' within %.0f s (the "
					"process refused us, or is busy)\n", path, top_cmds[i],
					ANSWER_TIMEOUT_S);
			break;
		}
		p->ans[i] = json_parse(p->line[i], strlen(p->line[i]));
		if (p->ans[i] == NULL && !quiet)
			fprintf(stderr, PROG ": %s: '%s': the answer is not JSON\n", path,
				top_cmds[i]);
	}
	free(pend);
	close(fd);
	p->t = top_now();
	p->ok = p->ans[0] != NULL && top_data(p, 0) != NULL;
	return p->ok;
}
