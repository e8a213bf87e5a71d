/* SPDX-License-Identifier: BSD-3-Clause */
/* The client side of the telemetry protocol (doc/telemetry.md), shared by
 * the tools that talk to a running udk process (udk-top, udk-nvmf-tgt ctl):
 * find its socket in directories only we or root may write, connect, and
 * read answer lines by a deadline.  Every message on stderr starts with the
 * calling tool's name (prog). */
#ifndef UDK_TOOL_TELEMETRY_CLIENT_H
#define UDK_TOOL_TELEMETRY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#define TOOL_SOCK_PATH 108

/* Monotonic seconds. */
double tool_now(void);

/* The sockets in the telemetry directories into paths, at most max; returns
 * how many.  name: only the sockets of that program ("NAME.PID.sock"), NULL
 * for any; pid > 0: only that process's.  A directory or socket owned by
 * someone else than us or root, or that group or others may write, is
 * skipped with one line on stderr (once per path per run). */
size_t tool_telemetry_find(const char *prog, const char *name, int pid,
			   char (*paths)[TOOL_SOCK_PATH], size_t max);

/* A connected socket to path, or -1 with one line on stderr (unless quiet)
 * naming path and why (no such socket, stale, another user's). */
int tool_telemetry_connect(const char *prog, const char *path, bool quiet);

/* The next line from fd (without its newline) in a new buffer the caller
 * frees, or NULL (closed, error, too long, or deadline, a tool_now() time,
 * passed).  pend and pend_len keep what was read past the line; free(*pend)
 * when done. */
char *tool_telemetry_read_line(int fd, char **pend, size_t *pend_len, double deadline);

#endif
