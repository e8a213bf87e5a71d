/* SPDX-License-Identifier: BSD-3-Clause */
/* telemetry_client.c - what the tools that talk to a running udk process
 * share (telemetry_client.h). */
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

#include "telemetry_client.h"
#include "udk_telemetry.h"

#define MAX_WARN 64 /* paths warned about, each once */

double tool_now(void)
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
static bool trusted(const char *prog, const char *path, const struct stat *st, const char *what)
{
	static char warned[MAX_WARN][TOOL_SOCK_PATH];
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
	fprintf(stderr, "%s: skipping %s %s: %s; another user could have planted it "
		"(chown it to you, chmod go-w it, or remove it)\n", prog, what, path, why);
	return false;
}

/* Whether file is a socket name find asks for. */
static bool wanted(const char *file, const char *name, int pid)
{
	char tail[32];
	size_t n = name != NULL ? strlen(name) : 0;

	snprintf(tail, sizeof(tail), pid > 0 ? ".%d.sock" : ".sock", pid);
	if (!ends_with(file, tail))
		return false;
	/* NAME.PID.sock: the name, a dot, digits (or exactly pid's). */
	if (name != NULL) {
		const char *p = file + n + 1;

		if (strncmp(file, name, n) || file[n] != '.')
			return false;
		if (pid <= 0) {
			if (*p < '0' || *p > '9')
				return false;
			while (*p >= '0' && *p <= '9')
				p++;
			return !strcmp(p, ".sock");
		}
		return !strcmp(file + n, tail);
	}
	return true;
}

size_t tool_telemetry_find(const char *prog, const char *name, int pid,
			   char (*paths)[TOOL_SOCK_PATH], size_t max)
{
	char dirs[4][TOOL_SOCK_PATH];
	size_t nd = udk_telemetry_dirs(dirs, 4), n = 0;

	for (size_t i = 0; i < nd; i++) {
		struct stat st;
		struct dirent *e;
		DIR *d;
		int dfd;

		if ((d = opendir(dirs[i])) == NULL)
			continue;
		/* The directory we opened, not what its path names now. */
		dfd = dirfd(d);
		if (fstat(dfd, &st) < 0 || !trusted(prog, dirs[i], &st, "directory")) {
			closedir(d);
			continue;
		}
		while ((e = readdir(d)) != NULL && n < max) {
			if (!wanted(e->d_name, name, pid))
				continue;
			if (snprintf(paths[n], TOOL_SOCK_PATH, "%s/%s", dirs[i], e->d_name) >=
			    TOOL_SOCK_PATH)
				continue;
			if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISSOCK(st.st_mode) || !trusted(prog, paths[n], &st, "socket"))
				continue;
			n++;
		}
		closedir(d);
	}
	return n;
}

int tool_telemetry_connect(const char *prog, const char *path, bool quiet)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	if (!quiet)
		fprintf(stderr, "%s: %s: %s%s\n", prog, path, strerror(errno),
			errno == ECONNREFUSED ? " (a stale socket: its process is gone)" :
			errno == ENOENT ? " (is the process running? its --telemetry-path?)" :
			errno == EACCES ? " (it belongs to another user; run as that "
			"user or root)" : "");
	if (fd >= 0)
		close(fd);
	return -1;
}

char *tool_telemetry_read_line(int fd, char **pend, size_t *pend_len, double deadline)
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
		left = deadline - tool_now();
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
