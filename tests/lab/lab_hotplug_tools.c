/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_hotplug_tools: udk's tools when a device is unplugged under them
 * (QMP device_del, doc/hotplug.md).  udk-nvme-perf writing to both lab NVMes
 * with --verify loses nvme1: it reports the removal, carries on with the
 * other controller to the end, exits 0, and every acknowledged write on the
 * survivor reads back right.  udk-fwd generating and verifying frames on
 * virtio-net and the e1000e (behind root port rp2) loses the e1000e: it
 * reports it and carries on (the removed port keeps the byte figures read
 * before the removal).  With its only device removed, each tool stops
 * early with exit 1 and says nothing is left.  Each device is plugged back
 * (device_add) so the lab stays as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "labjson.h"
#include "labutil.h"

static char out[65536], err[65536];
static const char *host_dir;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void slurp(const char *path, char *buf, size_t len)
{
	if (lab_read_file(path, buf, len) < 0)
		buf[0] = '\0';
}

/* Start argv with stdout and stderr in tool.out and tool.err. */
static pid_t start(char *const argv[])
{
	pid_t pid;

	/* Not the last run's words: wait_err() reads these while the tool starts. */
	unlink("tool.out");
	unlink("tool.err");
	pid = fork();

	if (pid == 0) {
		int o = open("tool.out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open("tool.err", O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	REQUIRE(pid > 0);
	printf("$");
	for (int i = 0; argv[i] != NULL; i++)
		printf(" %s", argv[i]);
	printf("\n");
	return pid;
}

/* Wait until tool.err holds `what` (up to 60 s); 0 or -1. */
static int wait_err(const char *what)
{
	for (double t0 = now(); now() - t0 < 60; usleep(100000)) {
		slurp("tool.err", err, sizeof(err));
		if (strstr(err, what) != NULL)
			return 0;
	}
	printf("tool.err never said '%s':\n%s\n", what, err);
	return -1;
}

/* Wait for the tool (up to 90 s, then kill it); its exit status, or -1 if a
 * signal ended it. */
static int finish(pid_t pid, double *secs)
{
	double t0 = now();
	int st;

	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now() - t0 > 90) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			break;
		}
		usleep(50000);
	}
	if (secs != NULL)
		*secs = now() - t0;
	slurp("tool.out", out, sizeof(out));
	slurp("tool.err", err, sizeof(err));
	printf("exit %d%s\n--- stdout\n%s--- stderr\n%s---\n",
	       WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? " (signal)" : "", out, err);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int unplug(const char *id)
{
	char cmd[256], reply[4096];
	int rc;

	snprintf(cmd, sizeof(cmd), "{\"execute\": \"device_del\", \"arguments\": {\"id\": \"%s\"}}",
		 id);
	rc = lab_qmp(cmd, "DEVICE_DELETED", 30, reply, sizeof(reply));
	printf("device_del %s: %s\n", id, rc == 0 ? "DEVICE_DELETED" : reply);
	return rc;
}

/* Run a tool, pull device `id` once it reports progress (`progress` on
 * stderr), and wait for the tool to end: its exit status; secs gets how
 * long it ran after the unplug. */
static int run_and_unplug(char *const argv[], const char *progress, const char *id,
			  double *secs)
{
	pid_t pid = start(argv);

	REQUIRE(wait_err(progress) == 0); /* running: I/O or frames are moving */
	CHECK(unplug(id) == 0);
	return finish(pid, secs);
}

static int replug(const char *json)
{
	char reply[4096];
	int rc = lab_qmp(json, NULL, 10, reply, sizeof(reply));

	if (rc != 0)
		printf("QMP %s: %s\n", json, reply);
	return rc;
}

static bool on_bus(const char *bdf)
{
	char path[128];

	for (double t0 = now(); now() - t0 < 15; usleep(50000)) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
		if (access(path, F_OK) == 0)
			return true;
	}
	return false;
}

static int replug_nvme(const char *bdf, bool new_node)
{
	char cmd[1024];

	if (new_node) {
		snprintf(cmd, sizeof(cmd),
			 "{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"raw\", "
			 "\"node-name\": \"hptool\", \"file\": {\"driver\": \"file\", "
			 "\"filename\": \"%s/hptool.img\"}}}", host_dir);
		if (replug(cmd) != 0)
			return -1;
	}
	if (replug("{\"execute\": \"device_add\", \"arguments\": {\"driver\": \"nvme\", \"id\": "
		   "\"nvme1\", \"serial\": \"udk-lab-nvme1\", \"drive\": \"hptool\", \"bus\": "
		   "\"rp1\"}}") != 0 || !on_bus(bdf))
		return -1;
	return lab_bind_vfio(bdf);
}

static int replug_e1000e(const char *bdf, const char *mac)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
		 "\"e1000e\", \"id\": \"e1000e0\", \"netdev\": \"p1\", \"bus\": \"rp2\", "
		 "\"romfile\": \"\", \"mac\": \"%s\"}}", mac);
	if (replug(cmd) != 0 || !on_bus(bdf))
		return -1;
	return lab_bind_vfio(bdf);
}

static double num(const char *v, const char *path)
{
	char buf[64];

	return lab_json_text(lab_json_path(v, path), buf, sizeof(buf)) == 0 ? atof(buf) : -1;
}

/* The element of the array at v whose member key is want. */
static const char *find(const char *v, const char *key, const char *want)
{
	for (int i = 0; i < lab_json_length(v); i++)
		if (lab_json_is(lab_json_index(v, i), key, want))
			return lab_json_index(v, i);
	return NULL;
}

static void nvme_perf(const char *a, const char *b)
{
	char *both[] = {"udk-nvme-perf", "-l", "0", "-m", "96", "-a", (char *)a, "-a", (char *)b,
			"--", "--pattern", "write", "--qd", "8", "--time", "12", "--verify",
			"--json", NULL};
	char *one[] = {"udk-nvme-perf", "-l", "0", "-m", "64", "-a", (char *)b, "--",
		       "--pattern", "write", "--qd", "8", "--time", "60", "--json", NULL};
	const char *ja, *jb;
	double secs;
	int rc;

	printf("== udk-nvme-perf on two controllers loses %s\n", b);
	rc = run_and_unplug(both, "IOPS", "nvme1", &secs);
	CHECK_MSG(rc == 0, "udk-nvme-perf carries on with the other controller: exit 0");
	CHECK(strstr(err, "was removed (hot-unplug)") != NULL && strstr(err, b) != NULL);
	CHECK(strstr(err, "controllers left: 1 of 2") != NULL);
	CHECK(lab_json_valid(out));
	ja = find(lab_json_member(out, "jobs"), "bdf", a);
	jb = find(lab_json_member(out, "jobs"), "bdf", b);
	REQUIRE(ja != NULL && jb != NULL);
	CHECK(lab_json_is(ja, "removed", "false") && lab_json_is(jb, "removed", "true"));
	printf("survivor: %.0f writes, %.0f read back, %.0f differ; removed: %.0f writes before\n",
	       num(ja, "writes"), num(ja, "verified"), num(ja, "verify_errors"), num(jb, "writes"));
	CHECK(num(ja, "writes") > 1000 && num(ja, "errors") == 0);
	/* Sequential 4 KiB writes over 65536 units: each unit written is read
	 * back once, for its last acknowledged write. */
	CHECK(num(ja, "verified") == (num(ja, "writes") < 65536 ? num(ja, "writes") : 65536));
	CHECK(num(ja, "verify_errors") == 0);
	CHECK(num(jb, "errors") == 0 && num(jb, "writes") > 0);
	CHECK(secs > 5); /* it ran its course, not stopped at the removal */
	REQUIRE(replug_nvme(b, true) == 0);

	printf("== udk-nvme-perf loses its only controller\n");
	rc = run_and_unplug(one, "IOPS", "nvme1", &secs);
	CHECK_MSG(rc == 1, "nothing left: exit 1");
	CHECK(strstr(err, "every controller was removed") != NULL);
	CHECK_MSG(secs < 30, "it stopped at the removal, not after --time 60");
	REQUIRE(replug_nvme(b, false) == 0);
}

static void fwd(const char *virtio, const char *e1000e, const char *mac)
{
	char *both[] = {"udk-fwd", "-l", "0", "-a", (char *)virtio, "-a", (char *)e1000e, "--",
			"--mode", "txonly", "--verify", "--duration", "10", "--interval", "1",
			"--json", NULL};
	char *one[] = {"udk-fwd", "-l", "0", "-a", (char *)e1000e, "--", "--mode", "txonly",
		       "--duration", "60", "--interval", "1", NULL};
	const char *p0, *p1;
	double secs;
	int rc;

	printf("== udk-fwd on virtio-net and e1000e loses the e1000e\n");
	rc = run_and_unplug(both, "Mpps", "e1000e0", &secs);
	CHECK_MSG(rc == 0, "udk-fwd carries on with the other port: exit 0");
	CHECK(strstr(err, "was removed (hot-unplug); carrying on") != NULL);
	CHECK(lab_json_valid(out));
	p0 = lab_json_index(lab_json_member(out, "ports"), 0);
	p1 = lab_json_index(lab_json_member(out, "ports"), 1);
	REQUIRE(p0 != NULL && p1 != NULL);
	CHECK(lab_json_is(p0, "removed", "false") && lab_json_is(p1, "removed", "true"));
	printf("virtio: tx %.0f, verified %.0f; e1000e: tx %.0f, verified %.0f, invalid %.0f\n",
	       num(p0, "tx"), num(p0, "valid"), num(p1, "tx"), num(p1, "valid"),
	       num(p1, "invalid"));
	CHECK(num(p0, "valid") > 100 && num(p1, "valid") > 100);
	CHECK(num(p0, "invalid") == 0 && num(p1, "invalid") == 0);
	/* Bytes are the ports' own counters: the survivor's are 64 a frame to
	 * the end; the removed port's are the last read before the removal
	 * (0.1 s at most), more than none and never more than its frames. */
	printf("virtio: rx_bytes %.0f tx_bytes %.0f; e1000e: rx_bytes %.0f (rx %.0f) tx_bytes "
	       "%.0f (tx %.0f)\n", num(p0, "rx_bytes"), num(p0, "tx_bytes"), num(p1, "rx_bytes"),
	       num(p1, "rx"), num(p1, "tx_bytes"), num(p1, "tx"));
	CHECK(num(p0, "rx_bytes") == 64 * num(p0, "rx") && num(p0, "tx_bytes") == 64 * num(p0, "tx"));
	CHECK(num(p1, "rx_bytes") > 0 && num(p1, "rx_bytes") <= 64 * num(p1, "rx"));
	CHECK(num(p1, "tx_bytes") > 0 && num(p1, "tx_bytes") <= 64 * num(p1, "tx"));
	CHECK(secs > 5);
	REQUIRE(replug_e1000e(e1000e, mac) == 0);

	printf("== udk-fwd loses its only port\n");
	rc = run_and_unplug(one, "Mpps", "e1000e0", &secs);
	CHECK_MSG(rc == 1, "nothing left: exit 1");
	CHECK(strstr(err, "every port was removed") != NULL);
	CHECK_MSG(secs < 30, "it stopped at the removal, not after --duration 60");
	REQUIRE(replug_e1000e(e1000e, mac) == 0);
}

int main(void)
{
	const char *nvme_a, *nvme_b, *virtio, *e1000e, *mac;
	char d_a[64] = "", d_b[64] = "", d_v[64] = "", d_e[64] = "";

	setvbuf(stdout, NULL, _IONBF, 0);
	lab_require_guest();
	nvme_a = lab_env_require("UDK_LAB_NVME");
	nvme_b = lab_env_require("UDK_LAB_NVME2");
	virtio = lab_env_require("UDK_LAB_VIRTIO");
	e1000e = lab_env_require("UDK_LAB_E1000E");
	mac = lab_env_require("UDK_LAB_MAC_E1000E");
	host_dir = lab_env_require("UDK_LAB_HOST_DIR");
	REQUIRE(lab_sh("truncate -s 256M /mnt/hptool.img") == 0);
	lab_device_driver(nvme_a, d_a, sizeof(d_a));
	lab_device_driver(nvme_b, d_b, sizeof(d_b));
	lab_device_driver(virtio, d_v, sizeof(d_v));
	lab_device_driver(e1000e, d_e, sizeof(d_e));
	REQUIRE(lab_bind_vfio(nvme_a) == 0 && lab_bind_vfio(nvme_b) == 0);
	REQUIRE(lab_bind_vfio(virtio) == 0 && lab_bind_vfio(e1000e) == 0);

	nvme_perf(nvme_a, nvme_b);
	fwd(virtio, e1000e, mac);

	lab_bind(nvme_a, d_a);
	lab_bind(nvme_b, d_b);
	lab_bind(virtio, d_v);
	lab_bind(e1000e, d_e);
	return lab_result();
}
