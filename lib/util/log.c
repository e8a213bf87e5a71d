/* SPDX-License-Identifier: BSD-3-Clause */
/* log.c - leveled logging with a component tag, a pluggable sink, and the
 * per-thread copy of the last error line (udk_last_error()). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "udk_util.h"

static atomic_int log_level = UDK_LOG_NOTICE;
static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static udk_log_sink_fn sink_fn;
static void *sink_arg;
static _Thread_local char last_error[640];

static const char *level_names[] = {
	[UDK_LOG_ERR] = "err", [UDK_LOG_WARN] = "warn", [UDK_LOG_NOTICE] = "notice",
	[UDK_LOG_INFO] = "info", [UDK_LOG_DEBUG] = "debug",
};

void udk_log_set_level(int level)
{
	if (level < UDK_LOG_ERR)
		level = UDK_LOG_ERR;
	if (level > UDK_LOG_DEBUG)
		level = UDK_LOG_DEBUG;
	atomic_store(&log_level, level);
}

int udk_log_get_level(void)
{
	return atomic_load(&log_level);
}

int udk_log_level_parse(const char *s, int *level)
{
	if (s == NULL || *s == '\0')
		return -UDK_EARGS;
	for (int i = UDK_LOG_ERR; i <= UDK_LOG_DEBUG; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*level = i;
			return 0;
		}
	}
	if (s[1] == '\0' && s[0] >= '1' && s[0] <= '5') {
		*level = s[0] - '0';
		return 0;
	}
	return -UDK_EARGS;
}

void udk_log_set_sink(udk_log_sink_fn fn, void *arg)
{
	pthread_mutex_lock(&sink_lock);
	sink_fn = fn;
	sink_arg = arg;
	pthread_mutex_unlock(&sink_lock);
}

void udk_vlog(int level, const char *component, const char *fmt, va_list ap)
{
	char msg[512];

	if (level > atomic_load(&log_level) && level != UDK_LOG_ERR)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (level == UDK_LOG_ERR)
		snprintf(last_error, sizeof(last_error), "%.64s: %s", component, msg);
	if (level > atomic_load(&log_level))
		return;

	pthread_mutex_lock(&sink_lock);
	if (sink_fn != NULL)
		sink_fn(level, component, msg, sink_arg);
	else
		fprintf(stderr, "udk: %s: %s%s\n", component,
			level == UDK_LOG_ERR ? "error: " : level == UDK_LOG_WARN ? "warning: " : "",
			msg);
	pthread_mutex_unlock(&sink_lock);
}

void udk_log(int level, const char *component, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	udk_vlog(level, component, fmt, ap);
	va_end(ap);
}

const char *udk_last_error(void)
{
	return last_error;
}

void udk_last_error_clear(void)
{
	last_error[0] = '\0';
}
