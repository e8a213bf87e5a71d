/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit test of the telemetry JSON writer's strings: whatever bytes a
 * provider hands it (a device's model string, a file name), the answer is
 * valid UTF-8 (checked by glibc's iconv) and valid JSON (parsed back by
 * jansson); valid UTF-8 comes back unchanged, each byte of an invalid
 * sequence as U+FFFD, control characters as \u00XX. */
#include <iconv.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../common/unit.h"
#include "udk_telemetry.h"

/* The writer's text for {"s": s}, in a buffer of the caller's. */
static const char *written(const char *s, char *out, size_t size)
{
	struct udk_json *j = udk_json_new();
	const char *t;

	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	udk_json_obj_open(j, NULL);
	udk_json_str(j, "s", s);
	udk_json_obj_close(j);
	CU_ASSERT_FALSE(udk_json_failed(j));
	t = udk_json_text(j, NULL);
	snprintf(out, size, "%s", t);
	udk_json_free(j);
	return out;
}

/* Valid UTF-8 by glibc's converter: no overlong form, no surrogate, nothing
 * past U+10FFFF, no cut sequence. */
static bool utf8_valid(const char *s)
{
	iconv_t cd = iconv_open("UTF-32LE", "UTF-8");
	char buf[4 * 1024], *in = (char *)s, *o = buf;
	size_t il = strlen(s), ol = sizeof(buf), r;

	CU_ASSERT_FATAL(cd != (iconv_t)-1);
	r = iconv(cd, &in, &il, &o, &ol);
	iconv_close(cd);
	return r != (size_t)-1 && il == 0;
}

static void test_cases(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"plain", "{\"s\":\"plain\"}"},
		{"caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e \xf4\x8f\xbf\xbf",
		 "{\"s\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e \xf4\x8f\xbf\xbf\"}"},
		{"\x80", "{\"s\":\"\\ufffd\"}"},                         /* lone continuation */
		{"a\xc0\xafz", "{\"s\":\"a\\ufffd\\ufffdz\"}"},          /* overlong '/' */
		{"\xe0\x80\xaf", "{\"s\":\"\\ufffd\\ufffd\\ufffd\"}"},   /* overlong, 3 bytes */
		{"\xed\xa0\x80", "{\"s\":\"\\ufffd\\ufffd\\ufffd\"}"},   /* surrogate U+D800 */
		{"\xf4\x90\x80\x80", "{\"s\":\"\\ufffd\\ufffd\\ufffd\\ufffd\"}"}, /* > U+10FFFF */
		{"\xf8\x88\x80\x80\x80", "{\"s\":\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"}"},
		{"x\xe2\x82", "{\"s\":\"x\\ufffd\\ufffd\"}"},            /* cut at the end */
		{"\xe2\x82x", "{\"s\":\"\\ufffd\\ufffdx\"}"},            /* cut in the middle */
		{"\xff\xfe", "{\"s\":\"\\ufffd\\ufffd\"}"},
		{"\x1b]0;t\x07\x1b[2J\x7f", "{\"s\":\"\\u001b]0;t\\u0007\\u001b[2J\\u007f\"}"},
		{"q\"b\\", "{\"s\":\"q\\\"b\\\\\"}"},
	};
	char out[512];

	for (size_t i = 0; i < UDK_ARRAY_SIZE(cases); i++) {
		written(cases[i].in, out, sizeof(out));
		if (strcmp(out, cases[i].out) != 0)
			fprintf(stderr, "case %zu: got %s\n", i, out);
		CU_ASSERT_STRING_EQUAL(out, cases[i].out);
		CU_ASSERT_TRUE(utf8_valid(out));
	}
	/* A key is written the same way. */
	{
		struct udk_json *j = udk_json_new();

		CU_ASSERT_PTR_NOT_NULL_FATAL(j);
		udk_json_obj_open(j, NULL);
		udk_json_u64(j, "k\xff", 1);
		udk_json_obj_close(j);
		CU_ASSERT_STRING_EQUAL(udk_json_text(j, NULL), "{\"k\\ufffd\":1}");
		udk_json_free(j);
	}
}

/* Code point cp (not a surrogate) as UTF-8 at out; returns its length. */
static size_t encode(unsigned int cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Random byte strings, biased to the bytes that make UTF-8 sequences: the
 * text is always valid UTF-8 and JSON, and a valid input comes back whole. */
static void test_random(void)
{
	static const unsigned char pick[] = {0x00, 0x01, 0x1f, 0x22, 0x41, 0x5c, 0x7f, 0x80, 0x8f,
					     0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0,
					     0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff};
	unsigned int seed = 16;
	size_t valid_inputs = 0;
	char in[65], out[65 * 6 + 16];

	for (int it = 0; it < 50000; it++) {
		size_t n = (size_t)rand_r(&seed) % 64 + 1;
		json_error_t err;
		json_t *doc;

		if (it % 2 == 0) {
			for (size_t k = 0; k < n; k++) {
				int r = rand_r(&seed);

				in[k] = (char)(r & 1 ? pick[(r >> 1) % sizeof(pick)] : (r >> 1) & 0xff);
				if (in[k] == '\0')
					in[k] = 'z';
			}
		} else { /* code points of every length, controls among them */
			size_t k = 0;

			while (k + 4 < n) {
				unsigned int r = (unsigned int)rand_r(&seed);
				unsigned int cp = (r & 3) == 0 ? 1 + (r >> 2) % 0x7f :
						  (r & 3) == 1 ? 0x80 + (r >> 2) % 0x780 :
						  (r & 3) == 2 ? 0x800 + (r >> 2) % 0xf800 :
						  0x10000 + (r >> 2) % 0x100000;

				if (cp >= 0xd800 && cp <= 0xdfff)
					cp = 0xfffd;
				k += encode(cp, in + k);
			}
			n = k;
		}
		in[n] = '\0';
		written(in, out, sizeof(out));
		if (!utf8_valid(out)) {
			CU_FAIL("the writer's text is not valid UTF-8");
			fprintf(stderr, "not UTF-8: %s\n", out);
			return;
		}
		doc = json_loads(out, 0, &err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
		if (utf8_valid(in)) {
			valid_inputs++;
			CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(doc, "s")), in);
		}
		json_decref(doc);
	}
	CU_ASSERT(valid_inputs > 1000); /* the round trip was tested, not only validity */
}

int main(void)
{
	static const struct unit_test tests[] = {
		{"strings: fixed cases", test_cases},
		{"strings: random bytes", test_random},
	};

	unit_quiet_logs();
	return unit_run("telemetry json writer", tests, UDK_ARRAY_SIZE(tests));
}
