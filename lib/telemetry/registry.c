/* SPDX-License-Identifier: BSD-3-Clause */
/* registry.c - the commands a process answers: a fixed table of providers
 * under one lock, and udk_telemetry_handle(), which turns one request line
 * into one answer line (the server and the tests share it).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry_internal.h"
#include "udk_util.h"

#define MAX_PROVIDERS 64

struct provider {
	char cmd[UDK_TELEMETRY_MAX_CMD];
	char help[128];
	udk_telemetry_fn fn;
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

int udk_telemetry_register(const char *cmd, const char *help, udk_telemetry_fn fn, void *arg)
{
	struct provider *p;
	int rc = 0;

	if (!telemetry_name_valid(cmd) || fn == NULL || strcmp(cmd, "help") == 0) {
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
		p->arg = arg;
	}
	pthread_mutex_unlock(&lock);
	return rc;
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

/* Run cmd into data; 0, or an error with its message in msg. */
static int run(const char *cmd, struct udk_json *data, char *msg, size_t len)
{
	struct provider *p;
	int rc;

	pthread_mutex_lock(&lock);
	if (strcmp(cmd, "help") == 0) {
		rc = help_locked(data);
	} else if ((p = find_locked(cmd)) == NULL) {
		snprintf(msg, len, "unknown command '%s' (send {\"cmd\":\"help\"} for the list)",
			 cmd);
		pthread_mutex_unlock(&lock);
		return -ENOENT;
	} else {
		rc = p->fn(data, p->arg);
	}
	pthread_mutex_unlock(&lock);
	if (rc < 0) {
		snprintf(msg, len, "'%s' failed: %s", cmd, udk_strerror(rc));
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
	char cmd[UDK_TELEMETRY_MAX_CMD], msg[160];
	const char *why = "", *text;
	size_t tlen;
	int rc;

	*answer = NULL;
	*len = 0;
	if (j == NULL || data == NULL)
		goto err_nomem;
	rc = telemetry_parse_request(req, req_len, cmd, &why);
	if (rc < 0) {
		error_answer(j, NULL, rc, why);
	} else {
		rc = run(cmd, data, msg, sizeof(msg));
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
	return 0;
err_nomem:
	udk_json_free(j);
	udk_json_free(data);
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
