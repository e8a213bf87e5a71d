/* SPDX-License-Identifier: BSD-3-Clause */
/* labrun.h - run a command in the guest and keep what it printed. */
#ifndef UDK_LABRUN_H
#define UDK_LABRUN_H

#include <stddef.h>

/* Run the shell command made from fmt with stdout and stderr together into
 * out (NUL-terminated, cut at len - 1), echo both to stdout, and return its
 * exit code (-1 if it could not run or was killed). */
int lab_run(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
