/* SPDX-License-Identifier: BSD-3-Clause */
/* policy.c - udk-broker's policy file: who may have which devices and how
 * much memory.  One rule per line, every field required, in this order:
 *
 *     user  1000  devices 0000:00:04.0,0000:00:05.0  mem 64M
 *     group 2000  devices -                          mem 16M
 *
 * '#' starts a comment; blank lines are ignored.  Anything else (an unknown
 * word, a field missing or out of order, a malformed or duplicate address, a
 * second rule for the same user or group, a size of 0 or past 1 TiB) makes
 * the whole file invalid: the broker refuses to start rather than guess. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "udk_util.h"

#define MAX_LINE 1024
#define MAX_FILE (256 * 1024)

static int fail(char *err, size_t len, const char *path, unsigned int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail(char *err, size_t len, const char *path, unsigned int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, len, "%s:%u: %s", path, line, msg);
	return -EINVAL;
}

/* A decimal id with no sign, leading zeros or junk, below 2^32 - 1. */
static bool parse_id(const char *s, uint32_t *out)
{
	unsigned long long v = 0;

	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] != '\0') || strlen(s) > 10)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned long long)(*s - '0');
	}
	if (v >= 0xffffffffull)
		return false;
	*out = (uint32_t)v;
	return true;
}

static int parse_who(const char *kind, const char *who, uint32_t *id, const char *path,
		     unsigned int line, char *err, size_t len)
{
	if (parse_id(who, id))
		return 0;
	if (strcmp(kind, "user") == 0) {
		struct passwd *pw = getpwnam(who);

		if (pw != NULL) {
			*id = (uint32_t)pw->pw_uid;
			return 0;
		}
	} else {
		struct group *gr = getgrnam(who);

		if (gr != NULL) {
			*id = (uint32_t)gr->gr_gid;
			return 0;
		}
	}
	return fail(err, len, path, line, "no %s '%s' (give a name this system knows or a "
		    "numeric id)", kind, who);
}

static int parse_devs(char *list, struct rule *r, const char *path, unsigned int line, char *err,
		      size_t len)
{
	char *save = NULL, *tok;

	if (strcmp(list, "-") == 0)
		return 0;
	if (list[0] == ',' || list[strlen(list) - 1] == ',' || strstr(list, ",,") != NULL)
		return fail(err, len, path, line, "device list '%s' has an empty entry", list);
	for (tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (!udk_broker_bdf_valid(tok))
			return fail(err, len, path, line, "'%s' is not a PCI address in the form "
				    "DDDD:BB:DD.F (lower-case hex, e.g. 0000:00:04.0)", tok);
		if (rule_has_dev(r, tok))
			return fail(err, len, path, line, "device %s is listed twice", tok);
		if (r->nb_devs == UDK_BROKER_MAX_DEVS)
			return fail(err, len, path, line, "more than %d devices",
				    UDK_BROKER_MAX_DEVS);
		snprintf(r->devs[r->nb_devs++], UDK_BROKER_BDF_LEN, "%s", tok);
	}
	return 0;
}

static int parse_line(char *text, unsigned int line, struct policy *p, char *err, size_t len)
{
	char *tok[8], *save = NULL, *t;
	size_t n = 0;
	struct rule r = {.line = line};
	int rc;

	for (t = strtok_r(text, " \t", &save); t != NULL; t = strtok_r(NULL, " \t", &save)) {
		if (t[0] == '#')
			break;
		if (n == UDK_ARRAY_SIZE(tok))
			return fail(err, len, p->path, line, "too many fields (expected 'user|group "
				    "WHO devices LIST mem SIZE')");
		tok[n++] = t;
	}
	if (n == 0)
		return 0;
	if (n != 6)
		return fail(err, len, p->path, line, "%zu fields, expected 6: 'user|group WHO "
			    "devices LIST mem SIZE'", n);
	if (strcmp(tok[0], "user") != 0 && strcmp(tok[0], "group") != 0)
		return fail(err, len, p->path, line, "'%s': a rule starts with 'user' or 'group'",
			    tok[0]);
	r.is_group = tok[0][0] == 'g';
	rc = parse_who(tok[0], tok[1], &r.id, p->path, line, err, len);
	if (rc < 0)
		return rc;
	if (strcmp(tok[2], "devices") != 0)
		return fail(err, len, p->path, line, "'%s' where 'devices' was expected", tok[2]);
	rc = parse_devs(tok[3], &r, p->path, line, err, len);
	if (rc < 0)
		return rc;
	if (strcmp(tok[4], "mem") != 0)
		return fail(err, len, p->path, line, "'%s' where 'mem' was expected", tok[4]);
	if (strpbrk(tok[5], "kKmMgG") == NULL || udk_parse_size(tok[5], &r.mem) < 0 ||
	    r.mem == 0 || r.mem > UDK_BROKER_MAX_MEM || r.mem % 4096 != 0)
		return fail(err, len, p->path, line, "mem '%s' is not a size with its unit, "
			    "from 4k to 1024G (e.g. 64M)", tok[5]);
	for (size_t i = 0; i < p->nb_rules; i++)
		if (p->rules[i].is_group == r.is_group && p->rules[i].id == r.id)
			return fail(err, len, p->path, line, "a second rule for %s %u (the first "
				    "is on line %u)", tok[0], r.id, p->rules[i].line);
	if (p->nb_rules == BROKER_MAX_RULES)
		return fail(err, len, p->path, line, "more than %d rules", BROKER_MAX_RULES);
	p->rules[p->nb_rules++] = r;
	return 0;
}

int policy_parse(const char *text, const char *path, struct policy *p, char *err, size_t len)
{
	char buf[MAX_LINE + 2];
	unsigned int line = 0;
	const char *s = text;
	int rc;

	memset(p, 0, sizeof(*p));
	snprintf(p->path, sizeof(p->path), "%s", path);
	while (*s != '\0') {
		const char *nl = strchr(s, '\n');
		size_t n = nl != NULL ? (size_t)(nl - s) : strlen(s);

		line++;
		if (n > MAX_LINE)
			return fail(err, len, path, line, "line longer than %d bytes", MAX_LINE);
		memcpy(buf, s, n);
		buf[n] = '\0';
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)buf[i] < 0x20 && buf[i] != '\t' && buf[i] != '\r')
				return fail(err, len, path, line, "control character 0x%02x",
					    (unsigned char)buf[i]);
		if (n > 0 && buf[n - 1] == '\r')
			buf[n - 1] = '\0';
		rc = parse_line(buf, line, p, err, len);
		if (rc < 0)
			return rc;
		s += n + (nl != NULL);
	}
	if (p->nb_rules == 0)
		return fail(err, len, path, line, "no rules: nobody could use the broker");
	return 0;
}

int policy_load(const char *path, struct policy *p, char *err, size_t len)
{
	FILE *f = fopen(path, "r");
	char *text;
	size_t n;
	int rc;

	if (f == NULL) {
		snprintf(err, len, "%s: cannot open the policy: %s", path, strerror(errno));
		return -errno;
	}
	text = malloc(MAX_FILE + 1);
	if (text == NULL) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(text, 1, MAX_FILE + 1, f);
	fclose(f);
	if (n > MAX_FILE) {
		free(text);
		snprintf(err, len, "%s: larger than %d bytes", path, MAX_FILE);
		return -EFBIG;
	}
	text[n] = '\0';
	if (strlen(text) != n) {
		free(text);
		snprintf(err, len, "%s: contains a NUL byte", path);
		return -EINVAL;
	}
	rc = policy_parse(text, path, p, err, len);
	free(text);
	return rc;
}

const struct rule *policy_match(const struct policy *p, uid_t uid, gid_t gid)
{
	for (size_t i = 0; i < p->nb_rules; i++)
		if (!p->rules[i].is_group && p->rules[i].id == (uint32_t)uid)
			return &p->rules[i];
	for (size_t i = 0; i < p->nb_rules; i++)
		if (p->rules[i].is_group && p->rules[i].id == (uint32_t)gid)
			return &p->rules[i];
	return NULL;
}

bool rule_has_dev(const struct rule *r, const char *bdf)
{
	for (unsigned int i = 0; i < r->nb_devs; i++)
		if (strcmp(r->devs[i], bdf) == 0)
			return true;
	return false;
}
