/* SPDX-License-Identifier: BSD-3-Clause */
/* test_policy: udk-broker's policy parser.  A good file gives its rules and
 * the matching rule for a client; every malformation fails the whole file
 * with its line number and what is wrong. */
#include "../../tests/unit/common/unit.h"
#include <string.h>

#include "broker.h"

static struct policy pol;
static char err[600];

/* blog() and now_us() live in main.c, which this test does not link. */
void blog(const char *fmt, ...)
{
	(void)fmt;
}

uint64_t now_us(void)
{
	return 0;
}

static void test_good(void)
{
	const char *text = "# devices for the storage team\n"
			   "user 1000 devices 0000:00:04.0,0000:02:00.0 mem 64M   # comment\n"
			   "\n"
			   "   group\t2000 devices - mem 1G\r\n"
			   "user root devices 0000:00:05.0 mem 2M";
	const struct rule *r;

	CU_ASSERT_EQUAL_FATAL(policy_parse(text, "p", &pol, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(pol.nb_rules, 3);
	r = policy_match(&pol, 1000, 2000);
	CU_ASSERT_PTR_EQUAL(r, &pol.rules[0]); /* the user's rule before its group's */
	CU_ASSERT_EQUAL(r->nb_devs, 2);
	CU_ASSERT_EQUAL(r->mem, 64ull << 20);
	CU_ASSERT_EQUAL(r->line, 2);
	CU_ASSERT_TRUE(rule_has_dev(r, "0000:02:00.0"));
	CU_ASSERT_FALSE(rule_has_dev(r, "0000:00:05.0"));
	r = policy_match(&pol, 1001, 2000);
	CU_ASSERT_TRUE(r != NULL && r->is_group && r->nb_devs == 0 && r->mem == 1ull << 30);
	CU_ASSERT_PTR_NULL(policy_match(&pol, 1001, 1001));
	CU_ASSERT_TRUE(policy_match(&pol, 0, 0) == &pol.rules[2]); /* "root" resolved */
}

static void bad(const char *text, const char *want)
{
	err[0] = '\0';
	CU_ASSERT_EQUAL(policy_parse(text, "pol", &pol, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	if (strstr(err, want) == NULL)
		fprintf(stderr, "'%s' gave '%s', wanted '%s'\n", text, err, want);
}

static void test_bad(void)
{
	bad("", "pol:0: no rules");
	bad("# only a comment\n", "no rules");
	bad("user 1000 devices - mem", "pol:1: 5 fields, expected 6");
	bad("user 1000 devices - mem 1M extra", "7 fields");
	bad("\nusers 1000 devices - mem 1M", "pol:2: 'users': a rule starts with");
	bad("user no-such-user-here devices - mem 1M", "no user 'no-such-user-here'");
	bad("group no-such-group-here devices - mem 1M", "no group 'no-such-group-here'");
	bad("user -1 devices - mem 1M", "no user '-1'");
	bad("user 4294967295 devices - mem 1M", "no user");
	bad("user 1000 device - mem 1M", "'device' where 'devices' was expected");
	bad("user 1000 devices - memory 1M", "'memory' where 'mem' was expected");
	bad("user 1000 devices 00:04.0 mem 1M", "'00:04.0' is not a PCI address");
	bad("user 1000 devices 0000:00:04.0,,0000:00:05.0 mem 1M", "empty entry");
	bad("user 1000 devices 0000:00:04.0, mem 1M", "empty entry");
	bad("user 1000 devices 0000:00:04.0,0000:00:04.0 mem 1M", "listed twice");
	bad("user 1000 devices - mem 64", "is not a size with its unit");
	bad("user 1000 devices - mem 0M", "is not a size");
	bad("user 1000 devices - mem 2048G", "is not a size");
	bad("user 1000 devices - mem 1x", "is not a size");
	bad("user 1000 devices - mem 1M\nuser 1000 devices - mem 2M",
	    "pol:2: a second rule for user 1000 (the first is on line 1)");
	bad("user 1000 devices - mem 1M\x01", "control character 0x01");
}

static void test_limits(void)
{
	static char big[BROKER_MAX_RULES * 40 + 64 + 2000];
	size_t n = 0;

	for (int i = 0; i <= BROKER_MAX_RULES; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "user %d devices - mem 1M\n", i + 1);
	bad(big, "more than 256 rules");
	memset(big, 'a', 1500);
	big[1500] = '\0';
	bad(big, "longer than 1024 bytes");
	snprintf(big, sizeof(big), "user 1 devices ");
	for (int i = 0; i <= UDK_BROKER_MAX_DEVS; i++)
		snprintf(big + strlen(big), sizeof(big) - strlen(big), "%s0000:00:%02x.0",
			 i ? "," : "", i);
	strcat(big, " mem 1M");
	bad(big, "more than 16 devices");
	CU_ASSERT_EQUAL(policy_load("/nonexistent/policy", &pol, err, sizeof(err)), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot open the policy"));
}

int main(void)
{
	static const struct unit_test tests[] = {
		{"a good policy and matching", test_good},
		{"every malformation fails with its line", test_bad},
		{"limits and a missing file", test_limits},
	};

	unit_quiet_logs();
	if (unit_add("broker_policy", NULL, NULL, tests, UDK_ARRAY_SIZE(tests)))
		return 1;
	return unit_run_all();
}
