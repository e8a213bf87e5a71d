/* SPDX-License-Identifier: BSD-3-Clause */
/* telemetry_internal.h - what the parts of lib/telemetry share (json.c,
 * request.c, registry.c, server.c).  Not installed. */
#ifndef UDK_TELEMETRY_INTERNAL_H
#define UDK_TELEMETRY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "udk_telemetry.h"

#define TELEMETRY_LOG "telemetry"

struct udk_telemetry_param {
	char key[UDK_TELEMETRY_MAX_CMD];
	char value[256];
	bool number;
};

/* A parsed request: the command, its parameters, and the message a failing
 * provider may leave (udk_telemetry_req_error()). */
struct udk_telemetry_req {
	char cmd[UDK_TELEMETRY_MAX_CMD];
	struct udk_telemetry_param params[UDK_TELEMETRY_MAX_PARAMS];
	unsigned int nparams;
	bool has_params; /* a "params" member, even an empty one */
	char error[256];
};

/* request.c: parse one request line (no newline) into req.  0, or
 * -EINVAL/-E2BIG with a static reason in *why (req->cmd then empty). */
int telemetry_parse_request(const char *line, size_t len, struct udk_telemetry_req *req,
			    const char **why);
bool telemetry_name_valid(const char *name);

/* json.c */
unsigned int json_depth(const struct udk_json *j);
/* Take the buffer out of j (the caller frees it); j is empty afterwards. */
char *json_take(struct udk_json *j, size_t *len);
/* A member whose value is already JSON text. */
void json_raw(struct udk_json *j, const char *key, const char *text, size_t len);

/* Text after the top value (the answer's newline). */
void json_append(struct udk_json *j, const char *text, size_t len);

/* registry.c: an error answer line, malloc'ed; NULL without memory. */
char *telemetry_error_line(int rc, const char *msg, size_t *len);

#endif
