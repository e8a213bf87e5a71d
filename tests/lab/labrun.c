/* SPDX-License-Identifier: BSD-3-Clause */
/* labrun.c - lab_run(): a command's exit code and combined output. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "labrun.h"

int lab_run(char *out, size_t len, const char *fmt, ...)
{
	char cmd[8192];
	size_t n = 0;
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd) - 8, fmt, ap);
	va_end(ap);
	strcat(cmd, " 2>&1");
	out[0] = '\0';
	p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	while (n + 1 < len && fgets(out + n, (int)(len - n), p) != NULL)
		n += strlen(out + n);
	out[n] = '\0';
	st = pclose(p);
	st = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	printf("$ %s  -> exit %d\n%s", cmd, st, out);
	return st;
}
