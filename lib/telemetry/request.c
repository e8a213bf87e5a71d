/* SPDX-License-Identifier: BSD-3-Clause */
/* request.c - the request parser: strict and bounded.  A request is one
 * JSON object whose first member, "cmd", is a command name of [a-z0-9_],
 * optionally followed by "params", a flat object of strings and unsigned
 * integers (doc/telemetry.md, "Protocol").  Anything else is refused with
 * a reason; nothing is allocated and no byte is read past req_len, so any
 * input is safe to hand it (it is fuzzed: tests/unit/telemetry/fuzz_request.c).
 */
#include <errno.h>
#include <string.h>

#include "telemetry_internal.h"

struct cursor {
	const char *p, *end;
};

static void skip_ws(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r'))
		c->p++;
}

static bool eat(struct cursor *c, char ch)
{
	skip_ws(c);
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return true;
	}
	return false;
}

static bool name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
}

static bool text_char(char ch)
{
	return ch >= 0x20 && ch <= 0x7e && ch != '\\';
}

/* A string without escapes whose bytes all pass ok; bad and long say what
 * is wrong otherwise.  Writes at most max-1 bytes and a NUL; returns the
 * length, or -EINVAL. */
static int plain_string(struct cursor *c, char *out, size_t max, bool (*ok)(char), const char *bad,
			const char *lng, const char **why)
{
	size_t n = 0;

	if (!eat(c, '"')) {
		*why = "expected a string";
		return -EINVAL;
	}
	for (;;) {
		char ch;

		if (c->p == c->end) {
			*why = "unterminated string";
			return -EINVAL;
		}
		ch = *c->p++;
		if (ch == '"')
			break;
		if (!ok(ch)) {
			*why = bad;
			return -EINVAL;
		}
		if (n + 1 >= max) {
			*why = lng;
			return -EINVAL;
		}
		out[n++] = ch;
	}
	out[n] = '\0';
	return (int)n;
}

/* A string of name characters only: nothing a command could need escapes
 * for. */
static int name_string(struct cursor *c, char *out, size_t max, const char **why)
{
	int n = plain_string(c, out, max, name_char, "a command name is made of a-z, 0-9 and _",
			     "command name too long", why);

	if (n == 0) {
		*why = "empty string";
		return -EINVAL;
	}
	return n < 0 ? n : 0;
}

/* A parameter's value: a string of printable ASCII without '\\' (no
 * escapes), or the digits of an unsigned integer. */
static int param_value(struct cursor *c, struct udk_telemetry_param *p, const char **why)
{
	size_t n = 0;
	int rc;

	skip_ws(c);
	if (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
			if (n == 20) {
				*why = "a parameter's number has more than 20 digits";
				return -EINVAL;
			}
			p->value[n++] = *c->p++;
		}
		p->value[n] = '\0';
		p->number = true;
		return 0;
	}
	if (c->p == c->end || *c->p != '"') {
		*why = "a parameter's value is a string or an unsigned integer";
		return -EINVAL;
	}
	rc = plain_string(c, p->value, sizeof(p->value), text_char,
			  "a parameter's string is printable ASCII without escapes",
			  "a parameter's string is longer than 255 bytes", why);
	p->number = false;
	return rc < 0 ? rc : 0;
}

/* "params": { "key": value, ... } (the opening brace still to eat). */
static int params(struct cursor *c, struct udk_telemetry_req *req, const char **why)
{
	req->has_params = true;
	if (!eat(c, '{')) {
		*why = "\"params\" is an object";
		return -EINVAL;
	}
	if (eat(c, '}'))
		return 0;
	do {
		struct udk_telemetry_param *p;
		int rc;

		if (req->nparams == UDK_TELEMETRY_MAX_PARAMS) {
			*why = "more than 8 parameters";
			return -EINVAL;
		}
		p = &req->params[req->nparams];
		rc = name_string(c, p->key, sizeof(p->key), why);
		if (rc < 0) {
			*why = "a parameter's name is a string of a-z, 0-9 and _ (at most 31)";
			return rc;
		}
		for (unsigned int i = 0; i < req->nparams; i++)
			if (strcmp(req->params[i].key, p->key) == 0) {
				*why = "a parameter is given twice";
				return -EINVAL;
			}
		if (!eat(c, ':')) {
			*why = "expected ':' after a parameter's name";
			return -EINVAL;
		}
		rc = param_value(c, p, why);
		if (rc < 0)
			return rc;
		req->nparams++;
	} while (eat(c, ','));
	if (!eat(c, '}')) {
		*why = "expected ',' or '}' in \"params\"";
		return -EINVAL;
	}
	return 0;
}

int telemetry_parse_request(const char *line, size_t len, struct udk_telemetry_req *req,
			    const char **why)
{
	struct cursor c = {line, line + len};
	char key[8];
	int rc;

	memset(req, 0, sizeof(*req));
	if (len >= UDK_TELEMETRY_MAX_REQ) {
		*why = "request too long";
		return -E2BIG;
	}
	if (!eat(&c, '{')) {
		*why = "a request is a JSON object, e.g. {\"cmd\":\"help\"}";
		return -EINVAL;
	}
	rc = name_string(&c, key, sizeof(key), why);
	if (rc < 0 || strcmp(key, "cmd") != 0) {
		*why = "the object's first member is \"cmd\"";
		return -EINVAL;
	}
	if (!eat(&c, ':')) {
		*why = "expected ':' after \"cmd\"";
		return -EINVAL;
	}
	rc = name_string(&c, req->cmd, UDK_TELEMETRY_MAX_CMD, why);
	if (rc < 0)
		goto err;
	if (eat(&c, ',')) {
		rc = name_string(&c, key, sizeof(key), why);
		if (rc < 0 || strcmp(key, "params") != 0 || !eat(&c, ':')) {
			*why = "no other member than \"params\" may follow \"cmd\"";
			rc = -EINVAL;
			goto err;
		}
		rc = params(&c, req, why);
		if (rc < 0)
			goto err;
	}
	if (!eat(&c, '}')) {
		*why = "expected '}' after the command (no other member than \"params\" is allowed)";
		rc = -EINVAL;
		goto err;
	}
	skip_ws(&c);
	if (c.p != c.end) {
		*why = "trailing bytes after the request object";
		rc = -EINVAL;
		goto err;
	}
	return 0;
err:
	req->cmd[0] = '\0';
	return rc;
}

bool telemetry_name_valid(const char *name)
{
	size_t n = 0;

	if (name == NULL)
		return false;
	for (; name[n] != '\0'; n++) {
		char ch = name[n];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
			return false;
	}
	return n > 0 && n < UDK_TELEMETRY_MAX_CMD;
}
