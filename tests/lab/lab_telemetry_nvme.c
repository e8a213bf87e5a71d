/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_telemetry_nvme: udk-nvme-perf (random reads, QD8, two lcores, the
 * driver's latency histograms on) against the first lab controller, watched
 * by udk-top --json every ~0.2 s (plus its own run time) through its telemetry socket.  The queue
 * pair's completed count must grow from snapshot to snapshot, never pass
 * the tool's final I/O count, and fall short of it by no more than the
 * I/Os the tool's own IOPS allow in the time after the last snapshot; the
 * histogram must count those completions; the worker lcore's busy polls
 * must grow; the map, the device and the default socket (found by pid) must
 * be there.  Puts the device back on the driver it had.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "labjson.h"
#include "labutil.h"

#define MAX_SNAPS 200
#define QD 8

static char doc[262144];

struct snap {
	double t;               /* seconds since the tool started */
	double completed, lat_count, busy, in_flight;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double num(const char *v, const char *path)
{
	char b[64];

	if (lab_json_text(lab_json_path(v, path), b, sizeof(b)) < 0)
		return NAN;
	return atof(b);
}

static bool read_doc(const char *file)
{
	FILE *f = fopen(file, "r");
	size_t n;

	doc[0] = '\0';
	if (f == NULL)
		return false;
	n = fread(doc, 1, sizeof(doc) - 1, f);
	doc[n] = '\0';
	fclose(f);
	return lab_json_valid(doc);
}

int main(void)
{
	static struct snap s[MAX_SNAPS];
	char drv[64] = "", cwd[256], sock[320], cmd[1024];
	double t0, t_end, final_ios, iops;
	const char *bdf, *proc;
	int ns = 0, status, bad_json = 0;
	pid_t pid;

	setvbuf(stdout, NULL, _IONBF, 0);
	lab_require_guest();
	bdf = lab_env_require("UDK_LAB_NVME");
	REQUIRE(getcwd(cwd, sizeof(cwd)) != NULL);
	snprintf(sock, sizeof(sock), "%s/perf.sock", cwd);
	lab_device_driver(bdf, drv, sizeof(drv));
	REQUIRE(lab_bind_vfio(bdf) == 0);

	snprintf(cmd, sizeof(cmd), "exec udk-nvme-perf -l 0-1 -a %s --telemetry-path %s -- "
		 "--pattern randread --qd %d --time 8 --json --qpair-latency >perf.out "
		 "2>perf.err", bdf, sock, QD);
	printf("$ %s\n", cmd);
	t0 = now();
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (;;) {
		double t = now() - t0;

		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		if (t > 120) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			lab_fatal("udk-nvme-perf did not end within 120 s");
		}
		if (lab_sh("udk-top --json -s %s >top.json 2>top.err", sock) != 0) {
			usleep(100000); /* not serving yet (EAL init) or gone */
			continue;
		}
		if (!read_doc("top.json")) {
			bad_json++;
			continue;
		}
		proc = lab_json_path(doc, "processes.0");
		if (ns < MAX_SNAPS && !isnan(num(proc, "nvme.0.qpairs.0.completed"))) {
			s[ns].t = (now() - t0 + t) / 2; /* the middle of the query */
			s[ns].completed = num(proc, "nvme.0.qpairs.0.completed");
			s[ns].lat_count = num(proc, "nvme.0.qpairs.0.latency.count");
			s[ns].in_flight = num(proc, "nvme.0.qpairs.0.in_flight");
			s[ns].busy = num(proc, "lcores.1.busy_polls");
			if (ns == 2) { /* once, in the middle of the run */
				CHECK(lab_json_is(lab_json_path(proc, "devices.0"), "bdf", bdf));
				CHECK(lab_json_is(lab_json_path(proc, "maps.maps.0"), "live", "true"));
				CHECK(num(proc, "maps.maps.0.devices") == 1);
				CHECK(num(proc, "maps.maps.0.bytes_mapped") >=
				      num(proc, "maps.memory.bytes_reserved"));
				CHECK(lab_json_is(lab_json_path(proc, "nvme.0"), "bdf", bdf));
				CHECK(num(proc, "info.lcores") == 2);
			}
			ns++;
		}
		usleep(200000);
	}
	t_end = now() - t0;
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "udk-nvme-perf exit status %d",
		  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	lab_sh("cat perf.out perf.err top.err");
	CHECK_MSG(bad_json == 0, "%d snapshots were not JSON", bad_json);
	REQUIRE(read_doc("perf.out"));
	final_ios = num(doc, "total.ios");
	iops = num(doc, "total.iops");
	printf("udk-nvme-perf: %.0f I/Os, %.0f IOPS; %d snapshots, run ended by %.2f s\n",
	       final_ios, iops, ns, t_end);
	for (int i = 0; i < ns; i++)
		printf("  t %.2f s: completed %.0f, histogram %.0f, in flight %.0f, lcore 1 busy "
		       "polls %.0f\n", s[i].t, s[i].completed, s[i].lat_count, s[i].in_flight,
		       s[i].busy);
	REQUIRE(ns >= 3);
	CHECK(num(doc, "total.errors") == 0);
	for (int i = 1; i < ns; i++) {
		CHECK_MSG(s[i].completed >= s[i - 1].completed, "completed went back: %.0f -> %.0f",
			  s[i - 1].completed, s[i].completed);
		CHECK(s[i].busy >= s[i - 1].busy);
	}
	CHECK(s[ns - 1].completed > s[0].completed);
	CHECK(s[ns - 1].busy > s[0].busy);
	for (int i = 0; i < ns; i++) {
		/* The driver records a completion in the histogram before it counts
		 * it completed, and the provider reads completed first, the histogram
		 * after (both only grow): the histogram can be ahead by what the lcore
		 * did while the snapshot was taken (any amount, if the telemetry
		 * thread lost the CPU), never behind, and never above the total (and
		 * the few in flight when the tool stopped counting). */
		CHECK_MSG(s[i].lat_count >= s[i].completed && s[i].lat_count <= final_ios + QD,
			  "histogram count %.0f vs completed %.0f (tool's total %.0f)",
			  s[i].lat_count, s[i].completed, final_ios);
		/* A poll's completion callbacks submit again before the poll
		 * publishes its completed count: a snapshot in between sees up to
		 * QD - 1 of those as well (seen: 15 at QD 8 on a loaded host). */
		CHECK_MSG(s[i].in_flight <= 2 * QD - 1, "in flight %.0f > 2 x QD %d - 1",
			  s[i].in_flight, QD);
		CHECK_MSG(s[i].completed <= final_ios, "snapshot %.0f > the tool's total %.0f",
			  s[i].completed, final_ios);
	}
	/* What the last snapshot missed fits in the time left at the tool's rate
	 * (its run ends before the process does; +50% and a QD for slack). */
	CHECK_MSG(final_ios - s[ns - 1].completed <= iops * (t_end - s[ns - 1].t) * 1.5 + QD,
		  "after the last snapshot at %.2f s the tool did %.0f more I/Os; at %.0f IOPS "
		  "the %.2f s left allow %.0f", s[ns - 1].t, final_ios - s[ns - 1].completed, iops,
		  t_end - s[ns - 1].t, iops * (t_end - s[ns - 1].t) * 1.5 + QD);
	/* The rate between two snapshots agrees with the tool's IOPS (loosely:
	 * the guest is emulated and the snapshots are not evenly spaced). */
	{
		int a = ns / 4, b = ns - 1 - ns / 4;

		if (b > a && s[b].t - s[a].t > 0.5) {
			double r = (s[b].completed - s[a].completed) / (s[b].t - s[a].t);

			printf("completions per second between snapshots %d and %d: %.0f (tool: %.0f)\n",
			       a, b, r, iops);
			CHECK_MSG(r > iops / 3 && r < iops * 3, "rate %.0f vs IOPS %.0f", r, iops);
		}
	}
	CHECK(access(sock, F_OK) != 0); /* removed at exit */

	/* The default socket under /run/udk, found by pid, and the live view. */
	snprintf(cmd, sizeof(cmd), "exec udk-nvme-perf -l 0-1 -a %s -- --pattern randread "
		 "--qd 4 --time 3 --qpair-latency >perf2.out 2>perf2.err", bdf);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	{
		bool found = false, drawn = false;

		for (int i = 0; i < 60 && !(found && drawn); i++) {
			usleep(250000);
			if (!found && lab_sh("udk-top --json -p %d >top2.json 2>&1", (int)pid) == 0 &&
			    read_doc("top2.json") &&
			    num(doc, "processes.0.info.pid") == pid &&
			    strncmp(lab_json_path(lab_json_path(doc, "processes.0"), "socket") ?
				    lab_json_path(lab_json_path(doc, "processes.0"), "socket") : "", "\"/run/udk/",
				    10) == 0)
				found = true;
			if (found && !drawn &&
			    lab_sh("udk-top -p %d -n 2 -d 0.5 >top2.txt 2>&1", (int)pid) == 0 &&
			    lab_sh("grep -q 'NVMe queue pairs' top2.txt && grep -q '%s' top2.txt",
				   bdf) == 0)
				drawn = true;
		}
		CHECK_MSG(found, "udk-top -p %d found no socket under /run/udk", (int)pid);
		CHECK_MSG(drawn, "the live view did not show the queue pair");
		lab_sh("sed 's/\\x1b\\[[0-9;?]*[a-zA-Z]//g' top2.txt | tail -12");
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	lab_bind(bdf, drv);
	return lab_result();
}
