/* SPDX-License-Identifier: BSD-3-Clause */
/* json.c - the JSON writer providers fill: a growing buffer, a comma flag
 * per nesting level, strings escaped per RFC 8259 §7 and always valid UTF-8
 * (RFC 8259 §8.1), whatever bytes they came as.  Errors are sticky so a
 * provider writes straight through and the caller checks once.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry_internal.h"

#define MAX_DEPTH 32

struct udk_json {
	char *buf;
	size_t len, cap;
	unsigned int depth;
	bool need_comma[MAX_DEPTH + 1];
	bool failed;
};

struct udk_json *udk_json_new(void)
{
	return calloc(1, sizeof(struct udk_json));
}

void udk_json_free(struct udk_json *j)
{
	if (j == NULL)
		return;
	free(j->buf);
	free(j);
}

bool udk_json_failed(const struct udk_json *j)
{
	return j->failed;
}

const char *udk_json_text(const struct udk_json *j, size_t *len)
{
	if (j->failed || j->buf == NULL) {
		if (len != NULL)
			*len = 0;
		return "";
	}
	if (len != NULL)
		*len = j->len;
	return j->buf;
}

char *json_take(struct udk_json *j, size_t *len)
{
	char *b = j->buf;

	*len = j->len;
	j->buf = NULL;
	j->len = j->cap = 0;
	return b;
}

static void put(struct udk_json *j, const char *s, size_t n)
{
	if (j->failed)
		return;
	if (j->len + n + 1 > UDK_TELEMETRY_MAX_ANSWER) {
		j->failed = true;
		return;
	}
	if (j->len + n + 1 > j->cap) {
		size_t cap = j->cap ? j->cap : 1024;
		char *b;

		while (cap < j->len + n + 1)
			cap *= 2;
		b = realloc(j->buf, cap);
		if (b == NULL) {
			j->failed = true;
			return;
		}
		j->buf = b;
		j->cap = cap;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void puts_(struct udk_json *j, const char *s)
{
	put(j, s, strlen(s));
}

/* The length of the valid UTF-8 sequence at p, a NUL-terminated string
 * (RFC 3629 §4: no overlong form, no surrogate, nothing past U+10FFFF), or
 * 0.  A NUL ends every check before the byte after it is read. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char c = p[0], lo, hi;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 &&
		       (p[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/* s as a JSON string: runs of printable ASCII and valid UTF-8 as they are;
 * '"' and '\\' escaped; control characters and DEL as \u00XX; each byte of
 * an invalid UTF-8 sequence as \ufffd (the replacement character). */
static void quoted(struct udk_json *j, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t run = 0, n;

	put(j, "\"", 1);
	for (; p[run] != '\0';) {
		unsigned char c = p[run];
		char esc[7];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			run++;
			continue;
		}
		if (c >= 0x80 && (n = utf8_len(p + run)) > 0) {
			run += n;
			continue;
		}
		put(j, (const char *)p, run);
		p += run + 1;
		run = 0;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(j, esc, 2);
		} else if (c >= 0x80) {
			put(j, "\\ufffd", 6);
		} else {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			put(j, esc, 6);
		}
	}
	put(j, (const char *)p, run);
	put(j, "\"", 1);
}

/* The comma and the member name before a value. */
static void begin_value(struct udk_json *j, const char *key)
{
	if (j->need_comma[j->depth])
		put(j, ",", 1);
	j->need_comma[j->depth] = true;
	if (key != NULL) {
		quoted(j, key);
		put(j, ":", 1);
	}
}

static void open_(struct udk_json *j, const char *key, const char *bracket)
{
	begin_value(j, key);
	if (j->depth == MAX_DEPTH) {
		j->failed = true;
		return;
	}
	puts_(j, bracket);
	j->need_comma[++j->depth] = false;
}

static void close_(struct udk_json *j, const char *bracket)
{
	if (j->depth == 0) {
		j->failed = true;
		return;
	}
	j->depth--;
	puts_(j, bracket);
}

void udk_json_obj_open(struct udk_json *j, const char *key)
{
	open_(j, key, "{");
}

void udk_json_obj_close(struct udk_json *j)
{
	close_(j, "}");
}

void udk_json_arr_open(struct udk_json *j, const char *key)
{
	open_(j, key, "[");
}

void udk_json_arr_close(struct udk_json *j)
{
	close_(j, "]");
}

void udk_json_str(struct udk_json *j, const char *key, const char *s)
{
	begin_value(j, key);
	if (s == NULL)
		puts_(j, "null");
	else
		quoted(j, s);
}

void udk_json_u64(struct udk_json *j, const char *key, uint64_t v)
{
	char b[24];

	begin_value(j, key);
	snprintf(b, sizeof(b), "%" PRIu64, v);
	puts_(j, b);
}

void udk_json_i64(struct udk_json *j, const char *key, int64_t v)
{
	char b[24];

	begin_value(j, key);
	snprintf(b, sizeof(b), "%" PRId64, v);
	puts_(j, b);
}

void udk_json_double(struct udk_json *j, const char *key, double v)
{
	char b[32];

	begin_value(j, key);
	if (!isfinite(v)) {
		puts_(j, "null");
		return;
	}
	snprintf(b, sizeof(b), "%.6g", v);
	puts_(j, b);
}

void udk_json_bool(struct udk_json *j, const char *key, bool v)
{
	begin_value(j, key);
	puts_(j, v ? "true" : "false");
}

void json_raw(struct udk_json *j, const char *key, const char *text, size_t len)
{
	begin_value(j, key);
	put(j, text, len);
}

void json_append(struct udk_json *j, const char *text, size_t len)
{
	put(j, text, len);
}

unsigned int json_depth(const struct udk_json *j)
{
	return j->depth;
}
