/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_broker_policy: libFuzzer target for udk-broker's policy file parser
 * (app/udk-broker/policy.c), which runs as root on a file an administrator
 * (or a careless package) wrote.  The input is the file's text, taken as
 * policy_load() takes it (no NUL byte).  Beyond not crashing (ASan, UBSan),
 * every refusal must say where and why, and every accepted policy must hold
 * only rules the broker can enforce as written: a size of 4k..1 TiB in
 * pages, valid distinct addresses, one rule per user or group, each found
 * again by policy_match(). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rule(const struct policy *p, const struct rule *r)
{
	if (r->mem == 0 || r->mem > UDK_BROKER_MAX_MEM || r->mem % 4096 != 0 ||
	    r->nb_devs > UDK_BROKER_MAX_DEVS || r->line == 0)
		abort();
	for (unsigned int i = 0; i < r->nb_devs; i++) {
		if (!udk_broker_bdf_valid(r->devs[i]))
			abort();
		for (unsigned int j = 0; j < i; j++)
			if (strcmp(r->devs[i], r->devs[j]) == 0)
				abort();
	}
	for (const struct rule *o = p->rules; o < r; o++)
		if (o->is_group == r->is_group && o->id == r->id)
			abort();
	if (!r->is_group && policy_match(p, r->id, (gid_t)-1) != r)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy p;
	char err[1024], *text;
	int rc;

	if (memchr(data, '\0', size) != NULL)
		return 0; /* policy_load() refuses the file before parsing */
	text = fuzz_cstr(data, size);
	if (text == NULL)
		return 0;
	err[0] = '\0';
	rc = policy_parse(text, "policy", &p, err, sizeof(err));
	free(text);
	if (rc < 0) {
		/* "policy:LINE: what is wrong" */
		if (rc != -EINVAL || strncmp(err, "policy:", 7) != 0 || strlen(err) < 10)
			abort();
		return 0;
	}
	if (rc != 0 || p.nb_rules == 0 || p.nb_rules > BROKER_MAX_RULES)
		abort();
	for (size_t i = 0; i < p.nb_rules; i++)
		check_rule(&p, &p.rules[i]);
	return 0;
}
