/* SPDX-License-Identifier: BSD-3-Clause */
/* json.c - udk-top's reader of telemetry answers: a recursive-descent
 * parser (RFC 8259) into a tree of nodes; strings are unescaped, numbers
 * are doubles (exact up to 2^53, enough for a screen of rates). */
#include <stdlib.h>
#include <string.h>

#include "top.h"

#define MAX_DEPTH 64

struct parser {
	const char *p, *end;
	int depth;
};

static void ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
				   *ps->p == '\r'))
		ps->p++;
}

static int hexval(char c)
{
	static const char digits[] = "0123456789abcdef";
	const char *d = c != '\0' ? strchr(digits, c | 0x20) : NULL; /* | 0x20: lower case */

	return d != NULL ? (int)(d - digits) : -1;
}

/* A string at ps->p (at its quote) into a new unescaped copy; NULL if bad.
 * \u escapes above ASCII become '?': the screen needs no more. */
static char *string(struct parser *ps)
{
	const char *p = ps->p + 1;
	char *out, *o;

	out = malloc((size_t)(ps->end - ps->p) + 1);
	if (out == NULL)
		return NULL;
	o = out;
	for (;;) {
		char c;

		if (p >= ps->end)
			goto bad;
		c = *p++;
		if (c == '"')
			break;
		if ((unsigned char)c < 0x20)
			goto bad;
		if (c != '\\') {
			*o++ = c;
			continue;
		}
		if (p >= ps->end)
			goto bad;
		c = *p++;
		switch (c) {
		case '"': case '\\': case '/': *o++ = c; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			int v = 0;

			if (ps->end - p < 4)
				goto bad;
			for (int i = 0; i < 4; i++) {
				int h = hexval(p[i]);

				if (h < 0)
					goto bad;
				v = v * 16 + h;
			}
			p += 4;
			*o++ = v > 0 && v < 0x80 ? (char)v : '?';
			break;
		}
		default:
			goto bad;
		}
	}
	*o = '\0';
	ps->p = p;
	return out;
bad:
	free(out);
	return NULL;
}

static bool literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return false;
	ps->p += n;
	return true;
}

static bool number(struct parser *ps, double *out)
{
	const char *p = ps->p;
	char buf[64];
	size_t n;

	if (p < ps->end && *p == '-')
		p++;
	if (p >= ps->end || *p < '0' || *p > '9')
		return false;
	if (*p == '0')
		p++;
	else
		while (p < ps->end && *p >= '0' && *p <= '9')
			p++;
	if (p < ps->end && *p == '.') {
		p++;
		if (p >= ps->end || *p < '0' || *p > '9')
			return false;
		while (p < ps->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < ps->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < ps->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= ps->end || *p < '0' || *p > '9')
			return false;
		while (p < ps->end && *p >= '0' && *p <= '9')
			p++;
	}
	n = (size_t)(p - ps->p);
	if (n >= sizeof(buf))
		return false;
	memcpy(buf, ps->p, n);
	buf[n] = '\0';
	*out = strtod(buf, NULL);
	ps->p = p;
	return true;
}

static struct jnode *value(struct parser *ps);

/* The members or elements of the object or array n, up to close. */
static bool members(struct parser *ps, struct jnode *n, char close)
{
	struct jnode **tail = &n->child;

	ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return true;
	}
	for (;;) {
		char *key = NULL;
		struct jnode *c;

		ws(ps);
		if (close == '}') {
			if (ps->p >= ps->end || *ps->p != '"' || (key = string(ps)) == NULL)
				return false;
			ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				free(key);
				return false;
			}
			ps->p++;
		}
		c = value(ps);
		if (c == NULL) {
			free(key);
			return false;
		}
		c->key = key;
		*tail = c;
		tail = &c->next;
		ws(ps);
		if (ps->p >= ps->end)
			return false;
		if (*ps->p == close) {
			ps->p++;
			return true;
		}
		if (*ps->p++ != ',')
			return false;
	}
}

static struct jnode *value(struct parser *ps)
{
	struct jnode *n;
	bool ok;

	ws(ps);
	if (ps->p >= ps->end || ++ps->depth > MAX_DEPTH)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	n->text = ps->p;
	switch (*ps->p) {
	case '{':
	case '[':
		n->type = *ps->p == '{' ? J_OBJ : J_ARR;
		ps->p++;
		ok = members(ps, n, n->type == J_OBJ ? '}' : ']');
		break;
	case '"':
		n->type = J_STR;
		ok = (n->str = string(ps)) != NULL;
		break;
	case 't':
		n->type = J_BOOL;
		n->num = 1;
		ok = literal(ps, "true");
		break;
	case 'f':
		n->type = J_BOOL;
		ok = literal(ps, "false");
		break;
	case 'n':
		ok = literal(ps, "null");
		break;
	default:
		n->type = J_NUM;
		ok = number(ps, &n->num);
	}
	ps->depth--;
	if (!ok) {
		json_free(n);
		return NULL;
	}
	n->text_len = (size_t)(ps->p - n->text);
	return n;
}

struct jnode *json_parse(const char *text, size_t len)
{
	struct parser ps = {text, text + len, 0};
	struct jnode *n = value(&ps);

	ws(&ps);
	if (n != NULL && ps.p != ps.end) {
		json_free(n);
		return NULL;
	}
	return n;
}

void json_free(struct jnode *n)
{
	while (n != NULL) {
		struct jnode *next = n->next;

		json_free(n->child);
		free(n->key);
		free(n->str);
		free(n);
		n = next;
	}
}

const struct jnode *json_get(const struct jnode *obj, const char *key)
{
	if (obj == NULL || obj->type != J_OBJ)
		return NULL;
	for (const struct jnode *c = obj->child; c != NULL; c = c->next)
		if (strcmp(c->key, key) == 0)
			return c;
	return NULL;
}

const struct jnode *json_at(const struct jnode *arr, size_t i)
{
	if (arr == NULL || arr->type != J_ARR)
		return NULL;
	for (const struct jnode *c = arr->child; c != NULL; c = c->next)
		if (i-- == 0)
			return c;
	return NULL;
}

size_t json_len(const struct jnode *arr)
{
	size_t n = 0;

	if (arr == NULL || arr->type != J_ARR)
		return 0;
	for (const struct jnode *c = arr->child; c != NULL; c = c->next)
		n++;
	return n;
}

double json_num(const struct jnode *n, const char *key)
{
	const struct jnode *v = key ? json_get(n, key) : n;

	return v != NULL && (v->type == J_NUM || v->type == J_BOOL) ? v->num : 0;
}

const char *json_str(const struct jnode *n, const char *key)
{
	const struct jnode *v = key ? json_get(n, key) : n;

	return v != NULL && v->type == J_STR ? v->str : "";
}
