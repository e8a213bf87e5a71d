/* SPDX-License-Identifier: BSD-3-Clause */
/* labbroker.c - the udk-broker lab tests' broker, policy and helpers
 * (labbroker.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "labbroker.h"
#include "labutil.h"
#include "udk_eal.h"

char lb_out[65536], lb_err[16384];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void lb_slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

int lb_run(double *secs, const char *fmt, ...)
{
	char cmd[900];
	va_list ap;
	double t0;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	t0 = now_s();
	rc = lab_sh("%s >c.out 2>c.err", cmd);
	if (secs != NULL)
		*secs = now_s() - t0;
	lb_slurp("c.out", lb_out, sizeof(lb_out));
	lb_slurp("c.err", lb_err, sizeof(lb_err));
	printf("$ %s  -> exit %d (%.2f s)\n%s%s", cmd, rc, now_s() - t0, lb_out, lb_err);
	return rc;
}

bool lb_log_has(const char *a, const char *b, int timeout_ms)
{
	static char log[262144];

	for (int t = 0; t <= timeout_ms; t += 100) {
		lb_slurp("broker.log", log, sizeof(log));
		for (char *line = log, *nl; *line; line = nl + 1) {
			nl = strchr(line, '\n');
			if (nl == NULL)
				break;
			*nl = '\0';
			if (strstr(line, a) != NULL && (b == NULL || strstr(line, b) != NULL))
				return true;
		}
		usleep(100000);
	}
	printf("broker.log has no line with '%s'%s%s\n", a, b ? " and " : "", b ? b : "");
	return false;
}

double lb_last_grant_ms(void)
{
	static char log[262144];
	double ms = -1;

	lb_slurp("broker.log", log, sizeof(log));
	for (char *p = log; (p = strstr(p, "GRANTED")) != NULL; p++) {
		char *in = strstr(p, ") in ");
		char *nl = strchr(p, '\n');

		if (in != NULL && (nl == NULL || in < nl))
			ms = atof(in + 5);
	}
	return ms;
}

pid_t lb_spawn(const char *cmd)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

long lb_log_value(const char *a, const char *key)
{
	static char log[262144];
	long v = -1;

	lb_slurp("broker.log", log, sizeof(log));
	for (char *line = log, *nl; *line; line = nl + 1) {
		char *k;

		nl = strchr(line, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
		if (strstr(line, a) != NULL && (k = strstr(line, key)) != NULL)
			v = strtol(k + strlen(key), NULL, 10);
	}
	return v;
}

bool lb_on_iommufd(void)
{
	const char *want = lab_env("UDK_LAB_IOMMU_BACKEND");

	return want != NULL && strcmp(want, "iommufd") == 0;
}

int lb_fds_on(pid_t pid, const char *path)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		char link[64], t[256];
		ssize_t len;

		snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)pid, fd);
		len = readlink(link, t, sizeof(t) - 1);
		if (len <= 0)
			continue;
		t[len] = '\0';
		n += strcmp(t, path) == 0;
	}
	return n;
}

static void write_policy(const char *bdf)
{
	FILE *f = fopen("policy", "w");

	REQUIRE(f != NULL);
	fprintf(f, "# lab_broker: uid 1000 and 1002 may have the second NVMe, 1002 the first too\n"
		   "user 1000 devices %s mem 160M\n"
		   "user 1002 devices %s,%s mem 32M\n"
		   "user 1003 devices %s,%s mem 64M\n"
		   "# root, for the hostile requests (a uid without a rule is refused at accept)\n"
		   "user 0 devices - mem 2M\n", bdf, bdf, lab_env_require("UDK_LAB_NVME"),
		lab_env_require("UDK_LAB_VIRTIO"),
		lab_env_require("UDK_LAB_E1000E"));
	fclose(f);
}

/* Bind-mount the build tree (three levels above this test's executable,
 * build/tests/lab/NAME) at /tmp/udk-build, and rewrite self and PATH's build
 * directories to go through it. */
static void open_build_tree(char *self, size_t len)
{
	static const char *mnt = "/tmp/udk-build";
	char root[512], path[4096] = "", *p, *save = NULL;
	const char *old = getenv("PATH");
	size_t n;

	snprintf(root, sizeof(root), "%s", self);
	for (int i = 0; i < 3; i++) {
		p = strrchr(root, '/');
		REQUIRE(p != NULL);
		*p = '\0';
	}
	n = strlen(root);
	printf("uid 1000 cannot enter %s (a directory above it is closed to other users): "
	       "showing it at %s\n", root, mnt);
	REQUIRE(lab_sh("mkdir -p %s && mount --bind %s %s", mnt, root, mnt) == 0);
	snprintf(path, sizeof(path), "%s%s", mnt, self + n);
	snprintf(self, len, "%s", path);
	path[0] = '\0';
	char *copy = strdup(old != NULL ? old : "");
	REQUIRE(copy != NULL);
	for (p = strtok_r(copy, ":", &save); p != NULL; p = strtok_r(NULL, ":", &save)) {
		size_t used = strlen(path);
		bool under = strncmp(p, root, n) == 0 && (p[n] == '/' || p[n] == '\0');

		snprintf(path + used, sizeof(path) - used, "%s%s%s", used ? ":" : "",
			 under ? mnt : "", under ? p + n : p);
	}
	free(copy);
	setenv("PATH", path, 1);
}

int lb_seg_end(const struct udk_memseg *seg, void *arg)
{
	uint64_t *end = arg;

	if (seg->iova + seg->len > *end)
		*end = seg->iova + seg->len;
	return 0;
}

void lb_start(struct lb_lab *l)
{
	char cmd[900];
	ssize_t n;

	memset(l, 0, sizeof(*l));
	setvbuf(stdout, NULL, _IONBF, 0);
	lab_require_guest();
	l->bdf = lab_env_require("UDK_LAB_NVME2");
	l->other = lab_env_require("UDK_LAB_NVME");
	if (access("/usr/bin/setpriv", X_OK) != 0)
		lab_skip("no setpriv (util-linux) to run as another user");
	n = readlink("/proc/self/exe", l->self, sizeof(l->self) - 1);
	REQUIRE(n > 0);
	l->self[n] = '\0'; /* readlink does not terminate */
	lab_device_driver(l->bdf, l->drv, sizeof(l->drv));
	lab_device_driver(l->other, l->drv_other, sizeof(l->drv_other));
	REQUIRE(lab_bind_vfio(l->bdf) == 0);
	REQUIRE(lab_bind_vfio(l->other) == 0);
	write_policy(l->bdf);
	chmod(".", 0755);
	/* The guest sees the host's tree with the host's modes: a build under a
	 * directory other users cannot enter (e.g. /root) cannot be run as them.
	 * Then show them the same tree at an open place (RUNPATHs are relative). */
	if (lab_sh(AS(1000) "udk-nvme --help >/dev/null 2>&1") != 0 ||
	    lab_sh(AS(1000) "test -x %s", l->self) != 0)
		open_build_tree(l->self, sizeof(l->self));
	if (lab_sh(AS(1000) "udk-nvme --help >/dev/null 2>&1") != 0 ||
	    lab_sh(AS(1000) "test -x %s", l->self) != 0)
		lab_skip("uid 1000 cannot run the build tree's binaries (%s), even through a bind "
			 "mount under /tmp", l->self);

	REQUIRE(lab_sh("udk-broker --policy policy --check") == 0);
	snprintf(cmd, sizeof(cmd), "exec udk-broker --policy policy --socket %s --log broker.log "
		 "2>broker.err", SOCK);
	l->broker = lb_spawn(cmd);
	REQUIRE(lb_log_has("listening on", NULL, 20000));
}

int lb_stop(struct lb_lab *l, bool nics)
{
	int st;

	kill(l->broker, SIGTERM);
	waitpid(l->broker, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(lb_log_has("stopped", NULL, 1000));
	lab_sh("cat broker.log");
	/* Only now: unbinding a device the broker holds waits until it lets go. */
	if (nics) {
		lab_bind(lab_env_require("UDK_LAB_VIRTIO"), NULL);
		lab_bind(lab_env_require("UDK_LAB_E1000E"), NULL);
	}
	lab_bind(l->bdf, l->drv);
	lab_bind(l->other, l->drv_other);
	return lab_result();
}
