/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_request.c - libFuzzer target for the telemetry request path: any
 * bytes given to udk_telemetry_handle() (parser, dispatch, JSON writer)
 * must give exactly one line of valid JSON, never a crash, a leak or a read
 * past the input (built with ASan and UBSan by clang, tests/unit/telemetry/
 * meson.build).  Providers are registered so that dispatch runs too, with
 * and without parameters. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "labjson.h"
#include "udk_telemetry.h"
#include "udk_util.h"

static int echo(struct udk_json *j, void *arg)
{
	(void)arg;
	udk_json_obj_open(j, NULL);
	udk_json_str(j, "s", "a\"b\\c\n\x01");
	udk_json_u64(j, "n", UINT64_MAX);
	udk_json_arr_open(j, "a");
	udk_json_double(j, NULL, 1.5);
	udk_json_bool(j, NULL, true);
	udk_json_arr_close(j);
	udk_json_obj_close(j);
	return 0;
}

/* Reads every parameter it is given, as a command with parameters would. */
static int pecho(struct udk_json *j, struct udk_telemetry_req *req, void *arg)
{
	static const char *const known[] = {"k", "n", NULL};
	uint64_t n = 0;

	(void)arg;
	if (udk_telemetry_param_unknown(req, known) != NULL) {
		udk_telemetry_req_error(req, "unknown parameter '%s'", udk_telemetry_param_unknown(req, known));
		return -EINVAL;
	}
	udk_json_obj_open(j, NULL);
	udk_json_str(j, "k", udk_telemetry_param(req, "k"));
	udk_json_bool(j, "n", udk_telemetry_param_u64(req, "n", &n) == 0);
	udk_json_u64(j, "v", n);
	udk_json_obj_close(j);
	return 0;
}

static void quiet(int level, const char *comp, const char *msg, void *arg)
{
	(void)level;
	(void)comp;
	(void)msg;
	(void)arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	char *answer, *copy;
	size_t len;

	if (!once) {
		udk_log_set_sink(quiet, NULL);
		udk_telemetry_register("echo", "fuzz", echo, NULL);
		udk_telemetry_register_req("pecho", "fuzz", pecho, NULL);
		once = 1;
	}
	/* An exact-size copy: ASan catches any read past the request. */
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	if (udk_telemetry_handle(copy, size, &answer, &len) == 0) {
		if (len == 0 || answer[len - 1] != '\n' || memchr(answer, '\n', len - 1) != NULL ||
		    strlen(answer) != len)
			abort();
		answer[len - 1] = '\0';
		if (!lab_json_valid(answer))
			abort();
		free(answer);
	}
	free(copy);
	return 0;
}
