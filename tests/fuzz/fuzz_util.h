/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_util.h - what the libFuzzer targets of tests/fuzz share. */
#ifndef UDK_FUZZ_UTIL_H
#define UDK_FUZZ_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "udk_util.h"

/* The input as a C string in its own heap block (so ASan sees a read past
 * it), NUL-terminated; NULL if out of memory.  The caller frees it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s != NULL) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

/* Log lines udk wrote since the target last cleared it. */
static int fuzz_nb_logged;

static inline void fuzz_log_sink(int level, const char *comp, const char *msg, void *arg)
{
	(void)level;
	(void)comp;
	(void)arg;
	if (msg[0] == '\0')
		abort(); /* an empty message tells the user nothing */
	fuzz_nb_logged++;
}

/* Count udk's log lines instead of printing them (millions of runs). */
static inline void fuzz_log_quiet(void)
{
	udk_log_set_sink(fuzz_log_sink, NULL);
}

#endif
