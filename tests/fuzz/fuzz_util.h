/* fuzz_util.h - what the libFuzzer targets of tests/fuzz share. */
#ifndef UDK_FUZZ_UTIL_H
#define UDK_FUZZ_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

#endif
