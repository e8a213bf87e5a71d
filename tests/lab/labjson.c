/* SPDX-License-Identifier: BSD-3-Clause */
/* labjson.c - a validating scanner for small JSON documents (labjson.h). */
#include <stdlib.h>
#include <string.h>

#include "labjson.h"

#define MAX_DEPTH 32

static const char *ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* p at '"': copy the unescaped string to out (if not NULL) and return the
 * character after the closing quote, or NULL.  \u escapes above 0x7f are
 * kept as '?': the tools print ASCII. */
static const char *string(const char *p, char *out, size_t len, bool *fits)
{
	size_t n = 0;

	*fits = true;
	for (p++; *p != '"'; p++) {
		char c = *p;

		if ((unsigned char)c < 0x20)
			return NULL;
		if (c == '\\') {
			p++;
			switch (*p) {
			case '"': case '\\': case '/': c = *p; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': {
				int v = 0;

				for (int i = 1; i <= 4; i++) {
					if (hexval(p[i]) < 0)
						return NULL;
					v = v * 16 + hexval(p[i]);
				}
				p += 4;
				c = v < 0x80 ? (char)v : '?';
				break;
			}
			default:
				return NULL;
			}
		}
		if (out != NULL) {
			if (n + 1 < len)
				out[n++] = c;
			else
				*fits = false;
		}
	}
	if (out != NULL && len > 0)
		out[n] = '\0';
	return p + 1;
}

static const char *number(const char *p)
{
	const char *s;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (*p == '.') {
		s = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == s)
			return NULL;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		s = p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == s)
			return NULL;
	}
	return p;
}

/* p at a value (no leading whitespace): the character after it, or NULL. */
static const char *value(const char *p, int depth)
{
	bool fits;

	if (depth > MAX_DEPTH)
		return NULL;
	switch (*p) {
	case '"':
		return string(p, NULL, 0, &fits);
	case '{':
	case '[': {
		char close = *p == '{' ? '}' : ']';

		p = ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				if (*p != '"' || (p = string(p, NULL, 0, &fits)) == NULL)
					return NULL;
				p = ws(p);
				if (*p != ':')
					return NULL;
				p = ws(p + 1);
			}
			if ((p = value(p, depth + 1)) == NULL)
				return NULL;
			p = ws(p);
			if (*p == close)
				return p + 1;
			if (*p != ',')
				return NULL;
			p = ws(p + 1);
		}
	}
	case 't':
		return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
	case 'f':
		return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
	case 'n':
		return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
	default:
		return number(p);
	}
}

bool lab_json_valid(const char *text)
{
	const char *p = value(ws(text), 0);

	return p != NULL && *ws(p) == '\0';
}

const char *lab_json_index(const char *v, int i)
{
	if (v == NULL || *v != '[')
		return NULL;
	v = ws(v + 1);
	if (*v == ']')
		return NULL;
	while (i-- > 0) {
		v = value(v, 0);
		if (v == NULL || *(v = ws(v)) != ',')
			return NULL;
		v = ws(v + 1);
	}
	return v;
}

int lab_json_length(const char *v)
{
	int n = 0;

	if (v == NULL || *v != '[')
		return -1;
	while (lab_json_index(v, n) != NULL)
		n++;
	return n;
}

const char *lab_json_member(const char *v, const char *key)
{
	char name[128];
	bool fits;

	if (v == NULL || *v != '{')
		return NULL;
	v = ws(v + 1);
	while (*v == '"') {
		v = string(v, name, sizeof(name), &fits);
		if (v == NULL || *(v = ws(v)) != ':')
			return NULL;
		v = ws(v + 1);
		if (fits && strcmp(name, key) == 0)
			return v;
		v = value(v, 0);
		if (v == NULL || *(v = ws(v)) != ',')
			return NULL;
		v = ws(v + 1);
	}
	return NULL;
}

const char *lab_json_path(const char *v, const char *path)
{
	char key[128];

	while (v != NULL && *path != '\0') {
		size_t n = strcspn(path, ".");

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		/* A number steps into an array: "nvme.0.qpairs.1.qid". */
		if (*v == '[' && n > 0 && strspn(key, "0123456789") == n)
			v = lab_json_index(v, atoi(key));
		else
			v = lab_json_member(v, key);
		path += n;
		if (*path == '.')
			path++;
	}
	return v;
}

int lab_json_text(const char *v, char *out, size_t len)
{
	const char *end;
	bool fits;

	if (v == NULL || *v == '{' || *v == '[' || len == 0)
		return -1;
	if (*v == '"')
		return string(v, out, len, &fits) != NULL && fits ? 0 : -1;
	end = value(v, 0);
	if (end == NULL || (size_t)(end - v) >= len)
		return -1;
	memcpy(out, v, (size_t)(end - v));
	out[end - v] = '\0';
	return 0;
}

bool lab_json_is(const char *v, const char *path, const char *want)
{
	char buf[256];

	return lab_json_text(lab_json_path(v, path), buf, sizeof(buf)) == 0 &&
	       strcmp(buf, want) == 0;
}

unsigned long long lab_json_u64(const char *v, const char *key)
{
	char buf[32];

	if (lab_json_text(lab_json_member(v, key), buf, sizeof(buf)) != 0)
		return ~0ULL;
	return strtoull(buf, NULL, 10);
}
