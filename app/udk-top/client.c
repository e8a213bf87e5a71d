/* SPDX-License-Identifier: BSD-3-Clause */
/* client.c - udk-top's side of the telemetry protocol (doc/telemetry.md):
 * find the sockets (in directories only we or root may write), send every
 * command on one connection, read the answer lines back with a deadline. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "top.h"
#include "udk_telemetry.h"

#define ANSWER_TIMEOUT_S 3.0
#define MAX_WARN 64 /* paths warned about, each once */

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

/* Whether what is at path may be trusted, as ssh trusts its files: owned by
 * us or root, writable by nobody else.  Else one line on stderr, once. */
static bool trusted(const char *path, const struct stat *st, const char *what)
{
	static char warned[MAX_WARN][108];
	static size_t nwarned;
	char why[160];

	if (st->st_uid != geteuid() && st->st_uid != 0)
		snprintf(why, sizeof(why), "it is owned by uid %u, not by you (uid %u) or root",
			 (unsigned int)st->st_uid, (unsigned int)geteuid());
	else if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0)
		snprintf(why, sizeof(why), "it is writable by group or others (mode %04o)",
			 (unsigned int)(st->st_mode & 07777));
	else
		return true;
	for (size_t i = 0; i < nwarned; i++)
		if (strcmp(warned[i], path) == 0)
			return false;
	if (nwarned < MAX_WARN)
		snprintf(warned[nwarned++], sizeof(warned[0]), "%s", path);
	fprintf(stderr, PROG ": skipping %s %s: %s; another user could have planted it "
		"(chown it to you, chmod go-w it, or remove it)\n", what, path, why);
	return false;
}

size_t top_find(int pid, char (*paths)[108], size_t max)
{
	char dirs[4][108], want[32];
	size_t nd = udk_telemetry_dirs(dirs, 4), n = 0;

	snprintf(want, sizeof(want), ".%d.sock", pid);
	for (size_t i = 0; i < nd; i++) {
		struct stat st;
		struct dirent *e;
		DIR *d;
		int dfd;

		if ((d = opendir(dirs[i])) == NULL)
			continue;
		/* The directory we opened, not what its path names now. */
		dfd = dirfd(d);
		if (fstat(dfd, &st) < 0 || !trusted(dirs[i], &st, "directory")) {
			closedir(d);
			continue;
		}
		while ((e = readdir(d)) != NULL && n < max) {
			if (!ends_with(e->d_name, pid > 0 ? want : ".sock"))
				continue;
			if (snprintf(paths[n], 108, "%s/%s", dirs[i], e->d_name) >= 108)
				continue;
			if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISSOCK(st.st_mode) || !trusted(paths[n], &st, "socket"))
				continue;
			n++;
		}
		closedir(d);
	}
	return n;
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
	char req[64 * TOP_CMDS], *pend = NULL, *line;
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
		line = read_line(fd, &pend, &pend_len, deadline);
		if (line == NULL) {
			if (!quiet)
				fprintf(stderr, PROG ": %s: no answer to '%s' within %.0f s (the "
					"process refused us, or is busy)\n", path, top_cmds[i],
					ANSWER_TIMEOUT_S);
			break;
		}
		if (!top_proc_answer(p, i, line, strlen(line)) && !quiet)
			fprintf(stderr, PROG ": %s: '%s': the answer is not JSON\n", path,
				top_cmds[i]);
		free(line);
	}
	free(pend);
	close(fd);
	p->t = top_now();
	return p->ok;
}
