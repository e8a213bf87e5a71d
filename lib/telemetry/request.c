/* SPDX-License-Identifier: BSD-3-Clause */
/* request.c - the request parser: strict and bounded.  A request is one
 * JSON object with exactly one member, "cmd", whose value is a command name
 * of [a-z0-9_] (doc/telemetry.md, "Protocol").  Anything else is refused with
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

/* A string of name characters only: no escapes, nothing a command could
 * need them for.  Writes at most max-1 bytes and a NUL. */
static int name_string(struct cursor *c, char *out, size_t max, const char **why)
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
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) {
			*why = "a command name is made of a-z, 0-9 and _";
			return -EINVAL;
		}
		if (n + 1 >= max) {
			*why = "command name too long";
			return -EINVAL;
		}
		out[n++] = ch;
	}
	if (n == 0) {
		*why = "empty string";
		return -EINVAL;
	}
	out[n] = '\0';
	return 0;
}

int telemetry_parse_request(const char *req, size_t req_len, char cmd[UDK_TELEMETRY_MAX_CMD],
			    const char **why)
{
	struct cursor c = {req, req + req_len};
	char key[8];
	int rc;

	cmd[0] = '\0';
	if (req_len >= UDK_TELEMETRY_MAX_REQ) {
		*why = "request too long";
		return -E2BIG;
	}
	if (!eat(&c, '{')) {
		*why = "a request is a JSON object, e.g. {\"cmd\":\"help\"}";
		return -EINVAL;
	}
	rc = name_string(&c, key, sizeof(key), why);
	if (rc < 0 || strcmp(key, "cmd") != 0) {
		*why = "the object's only member is \"cmd\"";
		return -EINVAL;
	}
	if (!eat(&c, ':')) {
		*why = "expected ':' after \"cmd\"";
		return -EINVAL;
	}
	rc = name_string(&c, cmd, UDK_TELEMETRY_MAX_CMD, why);
	if (rc < 0) {
		cmd[0] = '\0';
		return rc;
	}
	if (!eat(&c, '}')) {
		cmd[0] = '\0';
		*why = "expected '}' after the command (no other member is allowed)";
		return -EINVAL;
	}
	skip_ws(&c);
	if (c.p != c.end) {
		cmd[0] = '\0';
		*why = "trailing bytes after the request object";
		return -EINVAL;
	}
	return 0;
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
