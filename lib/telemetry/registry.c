/* SPDX-License-Identifier: BSD-3-Clause */
/* registry.c - the commands a process answers: a fixed table of providers
 * under one lock, and udk_telemetry_handle(), which turns one request line
 * into one answer line (the server and the tests share it).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry_internal.h"
#include "udk_util.h"

#define MAX_PROVIDERS 64

struct provider {
	char cmd[UDK_TELEMETRY_MAX_CMD];
	char help[128];
	udk_telemetry_fn fn;       /* one of these two */
	udk_telemetry_req_fn req_fn;
	void *arg;
};

/* The lock is held while a provider runs, so unregister waits for it. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct provider providers[MAX_PROVIDERS];
static size_t nb_providers;

static struct provider *find_locked(const char *cmd)
{
	for (size_t i = 0; i < nb_providers; i++)
		if (strcmp(providers[i].cmd, cmd) == 0)
			return &providers[i];
	return NULL;
}

static int add(const char *cmd, const char *help, udk_telemetry_fn fn, udk_telemetry_req_fn req_fn,
	       void *arg)
{
	struct provider *p;
	int rc = 0;

	if (!telemetry_name_valid(cmd) || (fn == NULL && req_fn == NULL) || strcmp(cmd, "help") == 0) {
		udk_log(UDK_LOG_ERR, TELEMETRY_LOG, "register '%s': a command is 1-%d characters of "
			"a-z, 0-9 and _ (not 'help') with a callback", cmd ? cmd : "(null)",
			UDK_TELEMETRY_MAX_CMD - 1);
		return -EINVAL;
	}
	pthread_mutex_lock(&lock);
	if (find_locked(cmd) != NULL) {
		udk_log(UDK_LOG_ERR, TELEMETRY_LOG, "register '%s': already registered", cmd);
		rc = -EEXIST;
	} else if (nb_providers == MAX_PROVIDERS) {
		udk_log(UDK_LOG_ERR, TELEMETRY_LOG, "register '%s': all %d commands are taken",
			cmd, MAX_PROVIDERS);
		rc = -ENOSPC;
	} else {
		p = &providers[nb_providers++];
		snprintf(p->cmd, sizeof(p->cmd), "%s", cmd);
		snprintf(p->help, sizeof(p->help), "%s", help ? help : "");
		p->fn = fn;
		p->req_fn = req_fn;
		p->arg = arg;
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

int udk_telemetry_register(const char *cmd, const char *help, udk_telemetry_fn fn, void *arg)
{
	return add(cmd, help, fn, NULL, arg);
}

int udk_telemetry_register_req(const char *cmd, const char *help, udk_telemetry_req_fn fn, void *arg)
{
	return add(cmd, help, NULL, fn, arg);
}

static const struct udk_telemetry_param *param(const struct udk_telemetry_req *req, const char *key)
{
	for (unsigned int i = 0; req != NULL && key != NULL && i < req->nparams; i++)
		if (strcmp(req->params[i].key, key) == 0)
			return &req->params[i];
	return NULL;
}

const char *udk_telemetry_param(const struct udk_telemetry_req *req, const char *key)
{
	const struct udk_telemetry_param *p = param(req, key);

	return p != NULL ? p->value : NULL;
}

int udk_telemetry_param_u64(const struct udk_telemetry_req *req, const char *key, uint64_t *v)
{
	const struct udk_telemetry_param *p = param(req, key);
	uint64_t n = 0;

	if (p == NULL)
		return -ENOENT;
	if (!p->number)
		return -EINVAL;
	for (const char *d = p->value; *d; d++) {
		if (n > (UINT64_MAX - (uint64_t)(*d - '0')) / 10)
			return -EINVAL;
		n = n * 10 + (uint64_t)(*d - '0');
	}
	*v = n;
	return 0;
}

const char *udk_telemetry_param_unknown(const struct udk_telemetry_req *req, const char *const *known)
{
	for (unsigned int i = 0; req != NULL && i < req->nparams; i++) {
		bool found = false;

		for (size_t k = 0; known != NULL && known[k] != NULL && !found; k++)
			found = strcmp(known[k], req->params[i].key) == 0;
		if (!found)
			return req->params[i].key;
	}
	return NULL;
}

void udk_telemetry_req_error(struct udk_telemetry_req *req, const char *fmt, ...)
{
	va_list ap;

	if (req == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(req->error, sizeof(req->error), fmt, ap);
	va_end(ap);
}

int udk_telemetry_unregister(const char *cmd)
{
	struct provider *p;
	int rc = -ENOENT;

	if (cmd == NULL)
		return -ENOENT;
	pthread_mutex_lock(&lock);
	p = find_locked(cmd);
	if (p != NULL) {
		*p = providers[--nb_providers];
		rc = 0;
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

static void error_answer(struct udk_json *j, const char *cmd, int rc, const char *msg)
{
	udk_json_obj_open(j, NULL);
	udk_json_str(j, "cmd", cmd != NULL && cmd[0] != '\0' ? cmd : NULL);
	udk_json_obj_open(j, "error");
	udk_json_str(j, "code", udk_strerror_name(rc));
	udk_json_str(j, "message", msg);
	udk_json_obj_close(j);
	udk_json_obj_close(j);
}

static int help_locked(struct udk_json *j)
{
	udk_json_arr_open(j, NULL);
	udk_json_obj_open(j, NULL);
	udk_json_str(j, "cmd", "help");
	udk_json_str(j, "help", "the commands this process answers");
	udk_json_obj_close(j);
	for (size_t i = 0; i < nb_providers; i++) {
		udk_json_obj_open(j, NULL);
		udk_json_str(j, "cmd", providers[i].cmd);
		udk_json_str(j, "help", providers[i].help);
		udk_json_obj_close(j);
	}
	udk_json_arr_close(j);
	return 0;
}

/* Run req's command into data; 0, or an error with its message in msg. */
static int run(struct udk_telemetry_req *req, struct udk_json *data, char *msg, size_t len)
{
	const char *cmd = req->cmd;
	struct provider *p;
	int rc;

	pthread_mutex_lock(&lock);
	p = strcmp(cmd, "help") == 0 ? NULL : find_locked(cmd);
	if (p == NULL && strcmp(cmd, "help") != 0) {
		snprintf(msg, len, "unknown command '%s' (send {\"cmd\":\"help\"} for the list)",
			 cmd);
		pthread_mutex_unlock(&lock);
		return -ENOENT;
	}
	if ((p == NULL || p->req_fn == NULL) && req->has_params) {
		snprintf(msg, len, "'%s' takes no parameters", cmd);
		pthread_mutex_unlock(&lock);
		return -EINVAL;
	}
	if (p == NULL)
		rc = help_locked(data);
	else if (p->req_fn != NULL)
		rc = p->req_fn(data, req, p->arg);
	else
		rc = p->fn(data, p->arg);
	pthread_mutex_unlock(&lock);
	if (rc < 0) {
		snprintf(msg, len, "'%s' failed: %s", cmd, req->error[0] ? req->error : udk_strerror(rc));
		return rc;
	}
	if (udk_json_failed(data)) {
		snprintf(msg, len, "'%s': the answer is over %u bytes or nested too deep", cmd,
			 UDK_TELEMETRY_MAX_ANSWER);
		return -E2BIG;
	}
	if (json_depth(data) != 0 || udk_json_text(data, NULL)[0] == '\0') {
		snprintf(msg, len, "'%s': the provider wrote no complete value", cmd);
		return -EPROTO;
	}
	return 0;
}

int udk_telemetry_handle(const char *req, size_t req_len, char **answer, size_t *len)
{
	struct udk_json *j = udk_json_new(), *data = udk_json_new();
	struct udk_telemetry_req *r = malloc(sizeof(*r));
	char msg[320];
	const char *why = "", *text, *cmd;
	size_t tlen;
	int rc;

	*answer = NULL;
	*len = 0;
	if (j == NULL || data == NULL || r == NULL)
		goto err_nomem;
	cmd = r->cmd;
	rc = telemetry_parse_request(req, req_len, r, &why);
	if (rc < 0) {
		error_answer(j, NULL, rc, why);
	} else {
		rc = run(r, data, msg, sizeof(msg));
		if (rc < 0) {
			error_answer(j, cmd, rc, msg);
		} else {
			text = udk_json_text(data, &tlen);
			udk_json_obj_open(j, NULL);
			udk_json_str(j, "cmd", cmd);
			json_raw(j, "data", text, tlen);
			udk_json_obj_close(j);
			if (udk_json_failed(j)) {
				udk_json_free(j);
				if ((j = udk_json_new()) == NULL)
					goto err_nomem;
				snprintf(msg, sizeof(msg), "'%s': the answer is over %u bytes", cmd,
					 UDK_TELEMETRY_MAX_ANSWER);
				error_answer(j, cmd, -E2BIG, msg);
			}
		}
	}
	json_append(j, "\n", 1);
	if (udk_json_failed(j))
		goto err_nomem;
	*answer = json_take(j, len);
	udk_json_free(j);
	udk_json_free(data);
	free(r);
	return 0;
err_nomem:
	udk_json_free(j);
	udk_json_free(data);
	free(r);
	return -ENOMEM;
}

char *telemetry_error_line(int rc, const char *msg, size_t *len)
{
	struct udk_json *j = udk_json_new();
	char *line = NULL;

	*len = 0;
	if (j == NULL)
		return NULL;
	error_answer(j, NULL, rc, msg);
	json_append(j, "\n", 1);
	if (!udk_json_failed(j))
		line = json_take(j, len);
	udk_json_free(j);
	return line;
}
