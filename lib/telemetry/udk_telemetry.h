/* SPDX-License-Identifier: BSD-3-Clause */
/* udk_telemetry.h - live telemetry: a registry of providers (a command name
 * and a callback that writes one JSON value) and a UNIX socket server that
 * answers one-line JSON requests with them (doc/telemetry.md).
 *
 * Layering: telemetry knows nothing of the libraries above it.  lib/eal,
 * lib/ethdev and drivers/nvme register their providers ("info", "lcores",
 * "maps", "devices", "ports", "nvme"); udk_eal_init() starts the server.
 *
 * Threads: registration, start and stop are thread-safe control calls.
 * Providers run on the server's own thread (not an lcore), one at a time,
 * with the registry's lock held: a provider must not call the registry.
 * Nothing here is fast path; the fast path only bumps counters that
 * providers read with relaxed atomic loads (udk_counter_add()).
 */
#ifndef UDK_TELEMETRY_H
#define UDK_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Protocol limits (doc/telemetry.md, "Protocol"). */
#define UDK_TELEMETRY_MAX_REQ 1024     /* bytes of one request line, newline included */
#define UDK_TELEMETRY_MAX_CMD 32       /* bytes of a command name */
#define UDK_TELEMETRY_MAX_ANSWER (4u << 20) /* bytes of one answer line */
#define UDK_TELEMETRY_VERSION 1        /* the "protocol" member of "info" */

/* ---- counters a fast path keeps for providers to read ---- */

/* Add n to a counter only the calling thread writes: a plain load, add and
 * store (no locked instruction), atomic only so that a reader on another
 * thread sees whole values. */
static inline void udk_counter_add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* Read a counter another thread writes with udk_counter_add(). */
static inline uint64_t udk_counter_read(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* ---- JSON writer ---- */

/* An answer being built.  Every call takes the member name `key` when the
 * value goes into an object, NULL when it goes into an array or is the top
 * value.  Errors (out of memory, over UDK_TELEMETRY_MAX_ANSWER, nesting past
 * 32 levels) are sticky and make the whole answer an error. */
struct udk_json;

void udk_json_obj_open(struct udk_json *j, const char *key);
void udk_json_obj_close(struct udk_json *j);
void udk_json_arr_open(struct udk_json *j, const char *key);
void udk_json_arr_close(struct udk_json *j);
void udk_json_str(struct udk_json *j, const char *key, const char *s); /* NULL: null */
void udk_json_u64(struct udk_json *j, const char *key, uint64_t v);
void udk_json_i64(struct udk_json *j, const char *key, int64_t v);
void udk_json_double(struct udk_json *j, const char *key, double v); /* NaN/inf: null */
void udk_json_bool(struct udk_json *j, const char *key, bool v);

/* A writer of one's own (tests, tools).  udk_json_new: NULL without memory.
 * udk_json_text: the text so far ("" after an error), owned by j. */
struct udk_json *udk_json_new(void);
void udk_json_free(struct udk_json *j);
const char *udk_json_text(const struct udk_json *j, size_t *len);
bool udk_json_failed(const struct udk_json *j);

/* ---- providers ---- */

/* Write exactly one JSON value (key NULL) describing the state now.  0, or
 * a negative error: the client gets an error answer naming it. */
typedef int (*udk_telemetry_fn)(struct udk_json *out, void *arg);

/* Register cmd (1..UDK_TELEMETRY_MAX_CMD-1 of [a-z0-9_]) with a one-line help
 * text (both copied).  -EINVAL (bad name, NULL fn), -EEXIST (taken), -ENOSPC
 * (registry full: 64 commands).  Any thread, also from a constructor. */
int udk_telemetry_register(const char *cmd, const char *help, udk_telemetry_fn fn, void *arg);

/* ---- commands with parameters ---- */

/* A request may carry parameters: {"cmd":"x","params":{"k":"text","n":42}}
 * (doc/telemetry.md, "Protocol").  Keys are [a-z0-9_] (at most 31 bytes),
 * values a string of printable ASCII without '"' or '\' (at most 255
 * bytes) or an unsigned integer; at most UDK_TELEMETRY_MAX_PARAMS of them,
 * no key twice.  The request lives while the provider runs. */
#define UDK_TELEMETRY_MAX_PARAMS 8
struct udk_telemetry_req;

/* The parameter's value as text (a number as its digits), NULL if absent. */
const char *udk_telemetry_param(const struct udk_telemetry_req *req, const char *key);
/* The parameter as an unsigned integer: 0, -ENOENT (absent) or -EINVAL (a
 * string, or more than 64 bits). */
int udk_telemetry_param_u64(const struct udk_telemetry_req *req, const char *key, uint64_t *v);
/* Parameters other than those in known (a NULL-terminated list): the first
 * such key, or NULL when every key is known. */
const char *udk_telemetry_param_unknown(const struct udk_telemetry_req *req, const char *const *known);
/* Say why the command failed: the error answer's message becomes "'cmd'
 * failed: <this>" instead of the errno's text.  Call before returning the
 * negative error. */
void udk_telemetry_req_error(struct udk_telemetry_req *req, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A provider that takes parameters (and may change the process: such a
 * command is only as safe as the socket, which only the process's uid and
 * root may use).  Same rules as udk_telemetry_fn otherwise.  A command
 * registered with udk_telemetry_register() refuses any parameter. */
typedef int (*udk_telemetry_req_fn)(struct udk_json *out, struct udk_telemetry_req *req, void *arg);
int udk_telemetry_register_req(const char *cmd, const char *help, udk_telemetry_req_fn fn, void *arg);

/* Remove cmd; once this returns its provider is not running and will not
 * run again.  -ENOENT if cmd is not registered. */
int udk_telemetry_unregister(const char *cmd);

/* Answer one request line (without its newline) as the server would: the
 * answer is one line of JSON ending in '\n', in malloc'ed memory the caller
 * frees (*answer, *len).  Always produces an answer, an error one for a bad
 * request; -ENOMEM only if even that could not be allocated.  Thread-safe. */
int udk_telemetry_handle(const char *req, size_t req_len, char **answer, size_t *len);

/* ---- the server ---- */

struct udk_telemetry_opts {
	size_t opts_size;          /* set by udk_telemetry_opts_init() */
	const char *path;          /* socket path; NULL: <dir>/<prog>.<pid>.sock */
	const char *prog;          /* program name for the default path (default "udk") */
	unsigned int max_conns;    /* clients served at once (default 16, at most 64) */
	unsigned int req_timeout_ms;  /* a started request must end within (default 2000) */
	unsigned int idle_timeout_ms; /* a silent or non-reading client is dropped after (default 60000) */
};
void udk_telemetry_opts_init(struct udk_telemetry_opts *opts, size_t size);

/* Create the socket (mode 0600; the directory is made if missing) and start
 * the server thread.  The default directory is /run/udk; when it cannot be
 * made or written, $XDG_RUNTIME_DIR/udk, then /tmp/udk-<uid> (mode 0700),
 * with a line naming the one used.  Clients whose uid (SO_PEERCRED) is
 * neither ours nor root's are refused.  0, -EALREADY (running),
 * -ENAMETOOLONG (path too long for a UNIX socket), -EADDRINUSE (a live
 * server answers at an explicit path), or the error of the failed step,
 * logged with its remedy. */
int udk_telemetry_start(const struct udk_telemetry_opts *opts);

/* Stop the thread, close every client and remove the socket file.  Safe
 * when not running. */
void udk_telemetry_stop(void);

/* The socket path while running, else NULL. */
const char *udk_telemetry_path(void);

/* Directories a client looks in for servers, in order: /run/udk, then the
 * fallbacks above for the calling user.  Fills up to max paths (108 bytes
 * each, the size of a UNIX socket path); returns how many. */
size_t udk_telemetry_dirs(char (*dirs)[108], size_t max);

#ifdef __cplusplus
}
#endif
#endif
