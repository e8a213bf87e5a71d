/* SPDX-License-Identifier: BSD-3-Clause */
/* answer.c - what udk-top makes of a process's telemetry answers: each line
 * parsed by jansson, read through accessors that take a missing member or a
 * wrong type as empty (any process may have planted any answer), strings
 * cut to printable ASCII before they reach a terminal. */
#include <string.h>

#include "top.h"

const char *const top_cmds[TOP_CMDS] = {"info", "lcores", "ports", "nvme", "maps", "devices",
						    "nvmf", "vhost_blk"};

json_t *top_parse(const char *line, size_t len)
{
	json_error_t err;

	return json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
}

const json_t *top_get(const json_t *obj, const char *key)
{
	return json_is_object(obj) ? json_object_get(obj, key) : NULL;
}

const json_t *top_at(const json_t *arr, size_t i)
{
	return i < top_len(arr) ? json_array_get(arr, i) : NULL;
}

size_t top_len(const json_t *arr)
{
	size_t n = json_is_array(arr) ? json_array_size(arr) : 0;

	return n < TOP_MAX_ITEMS ? n : TOP_MAX_ITEMS;
}

double top_num(const json_t *n, const char *key)
{
	const json_t *v = key != NULL ? top_get(n, key) : n;

	if (json_is_number(v))
		return json_number_value(v);
	return json_is_true(v) ? 1 : 0;
}

const char *top_str(const json_t *n, const char *key)
{
	const json_t *v = key != NULL ? top_get(n, key) : n;

	return json_is_string(v) ? json_string_value(v) : "";
}

char *top_printable(const char *s, char *out, size_t size)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k = 0;

	while (*p != '\0' && k + 1 < size) {
		if (*p >= 0x20 && *p < 0x7f) {
			out[k++] = (char)*p++;
			continue;
		}
		out[k++] = '?';
		/* A UTF-8 lead byte and its continuation bytes: one '?'. */
		if (*p++ >= 0xc0)
			while ((*p & 0xc0) == 0x80)
				p++;
	}
	out[k] = '\0';
	return out;
}

bool top_proc_answer(struct proc *p, int cmd, const char *line, size_t len)
{
	json_decref(p->ans[cmd]);
	p->ans[cmd] = top_parse(line, len);
	if (cmd == 0)
		p->ok = top_data(p, 0) != NULL;
	return p->ans[cmd] != NULL;
}

void top_proc_clear(struct proc *p)
{
	for (int i = 0; i < TOP_CMDS; i++)
		json_decref(p->ans[i]);
	memset(p, 0, sizeof(*p));
}

const json_t *top_data(const struct proc *p, int cmd)
{
	return top_get(p->ans[cmd], "data");
}

json_t *top_proc_json(const struct proc *p)
{
	json_t *o = json_object(), *path = json_string(p->path);
	char clean[sizeof(p->path)];

	if (path == NULL) { /* not UTF-8 */
		top_printable(p->path, clean, sizeof(clean));
		path = json_string(clean);
	}
	if (o == NULL || json_object_set_new(o, "socket", path) < 0)
		goto err;
	for (int c = 0; c < TOP_CMDS; c++) {
		const json_t *d = top_data(p, c), *e = top_get(p->ans[c], "error");
		json_t *v = d != NULL ? json_incref((json_t *)d) : e != NULL ?
			    json_pack("{sO}", "error", e) : json_null();

		if (json_object_set_new(o, top_cmds[c], v) < 0)
			goto err;
	}
	return o;
err:
	json_decref(o);
	return NULL;
}
