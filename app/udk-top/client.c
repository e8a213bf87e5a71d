/* SPDX-License-Identifier: BSD-3-Clause */
/* client.c - udk-top's side of the telemetry protocol (doc/telemetry.md),
 * on app/common/telemetry_client.c: find the sockets, send every command on
 * one connection, read the answer lines back with a deadline. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "telemetry_client.h"
#include "top.h"
#include "udk_telemetry.h"

#define ANSWER_TIMEOUT_S 3.0

double top_now(void)
{
	return tool_now();
}

size_t top_find(int pid, char (*paths)[108], size_t max)
{
	return tool_telemetry_find(PROG, NULL, pid, paths, max);
}

bool top_query(struct proc *p, const char *path, bool quiet)
{
	char req[64 * TOP_CMDS], *pend = NULL, *line;
	size_t pend_len = 0, len = 0;
	double deadline;
	int fd;

	memset(p, 0, sizeof(*p));
	snprintf(p->path, sizeof(p->path), "%s", path);
	fd = tool_telemetry_connect(PROG, path, quiet);
	if (fd < 0)
		return false;
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
		line = tool_telemetry_read_line(fd, &pend, &pend_len, deadline);
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
