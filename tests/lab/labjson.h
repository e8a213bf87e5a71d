/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * labjson: just enough JSON (RFC 8259) for a lab test to check a tool's
 * --json output: validate a document and look values up by path.  Values are
 * pointers into the caller's text; nothing is allocated.
 */
#ifndef UDK_LABJSON_H
#define UDK_LABJSON_H

#include <stdbool.h>
#include <stddef.h>

/* true if text is exactly one JSON value (whitespace around it allowed). */
bool lab_json_valid(const char *text);

/* The i-th element (0-based) of the array at v, or NULL. */
const char *lab_json_index(const char *v, int i);
/* The number of elements of the array at v, or -1 if v is not an array. */
int lab_json_length(const char *v);
/* The value of member `key` of the object at v, or NULL. */
const char *lab_json_member(const char *v, const char *key);
/* Members by a dotted path, "nvme.identify.model"; a number is an array
 * index ("jobs.0.lcore"); "" is v itself. */
const char *lab_json_path(const char *v, const char *path);

/*
 * The value at v as text: a string unescaped (without quotes), any other
 * scalar as written ("true", "null", "16384").  0, or -1 if v is NULL, an
 * object or array, or does not fit.
 */
int lab_json_text(const char *v, char *out, size_t len);
/* lab_json_text(lab_json_path(v, path)) compared with want. */
bool lab_json_is(const char *v, const char *path, const char *want);
/* The number in member key of object v, or ~0ULL if there is none. */
unsigned long long lab_json_u64(const char *v, const char *key);

#endif /* UDK_LABJSON_H */
