/* SPDX-License-Identifier: BSD-3-Clause */
/* lab_fwd_intr: udk-fwd's --intr-mode over virtio-net driven through PCI,
 * receive interrupts by MSI-X (virtio_pci.c), on the lab's two virtio-nets
 * whose taps the host loops back to them (lab.py, mq_taps): vnetmq0 with
 * split rings, vnetmq1 with packed.  For each:
 *
 * - paced bursts (txonly --verify --burst-gap: the frames come back on the
 *   same port) in adaptive and interrupt mode: frames came back, none
 *   damaged or missing, and the lcore slept between bursts, at least one
 *   burst's echo in 24 ending a sleep through the queue's MSI-X eventfd
 *   rather than the sleep limit.  Every gap ends at the limit (the next
 *   burst is due) and most echoes are back before the lcore sleeps: 8-29
 *   of 80 woke it (4 s runs, four boots); with the arm not enabling the
 *   ring's notifications 0-1 did, and without a vector udk-fwd stops; adaptive with
 *   the time-based spin (--spin-us) too, on the split ring;
 * - idle: udk-fwd io with no traffic, its CPU (utime + stime of
 *   /proc/PID/stat) over IDLE_S seconds: adaptive at most IDLE_LIMIT % of a
 *   core, poll many times that (the measurement sees a spinning lcore).
 *
 * Runs udk-fwd as a user would, from PATH; puts both devices back on their
 * drivers. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "labjson.h"
#include "labutil.h"

#define BURST 32
#define GAP_MS 50
#define RUN_S 6
#define IDLE_S 8
#define IDLE_LIMIT 5.0   /* % of one core, adaptive, in the TCG guest */

extern char **environ;
static char out[1 << 16];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Start `sh -c "exec CMD >OUT 2>ERR"`: the pid is udk-fwd's. */
static pid_t start(const char *cmd, const char *outf, const char *errf)
{
	char sh[1024];
	char *argv[] = {"sh", "-c", sh, NULL};
	pid_t pid;

	snprintf(sh, sizeof(sh), "exec %s >%s 2>%s", cmd, outf, errf);
	printf("$ %s\n", sh);
	fflush(stdout);
	if (posix_spawnp(&pid, "sh", NULL, NULL, argv, environ) != 0)
		lab_fatal("cannot start sh for %s", cmd);
	return pid;
}

/* Wait for pid; its stdout (outf) into out; its stderr echoed.  Exit code. */
static int finish(pid_t pid, const char *outf, const char *errf)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	if (lab_read_file(outf, out, sizeof(out)) < 0)
		out[0] = '\0';
	printf("%s", out);
	lab_sh("cat %s", errf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* utime + stime of pid in seconds (proc(5): fields 14 and 15). */
static double cpu_s(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long ut, st;
	const char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (lab_read_file(path, buf, sizeof(buf)) < 0 || (p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static unsigned long long num(const char *v, const char *key)
{
	char buf[32];

	if (lab_json_text(lab_json_member(v, key), buf, sizeof(buf)) != 0)
		return ~0ULL;
	return strtoull(buf, NULL, 10);
}

static void bursts(const char *label, const char *bdf, const char *mode, const char *spin)
{
	char cmd[512];
	const char *port;
	unsigned long long want = RUN_S * 1000 / GAP_MS / 24;
	int rc;

	snprintf(cmd, sizeof(cmd), "udk-fwd -l 0 -a %s -- --mode txonly --verify --burst %d "
		 "--burst-gap %d --intr-mode %s %s --duration %d --interval 0 --json",
		 bdf, BURST, GAP_MS, mode, spin, RUN_S);
	rc = finish(start(cmd, "fwd.json", "fwd.err"), "fwd.json", "fwd.err");
	CHECK_MSG(rc == 0, "%s, %s: udk-fwd exit status %d", label, mode, rc);
	REQUIRE(lab_json_valid(out));
	port = lab_json_index(lab_json_member(out, "ports"), 0);
	REQUIRE(port != NULL);
	printf("%s, %s: tx %llu, rx %llu, verified %llu, invalid %llu, lost %llu; %llu sleeps, "
	       "%llu woken by a frame, %llu at the limit, %llu not taken\n", label, mode,
	       num(port, "tx"), num(port, "rx"), num(port, "valid"), num(port, "invalid"),
	       num(port, "lost"), num(out, "sleeps"), num(out, "wakeups"), num(out, "timeouts"),
	       num(out, "sleeps_aborted"));
	CHECK_MSG(lab_json_is(out, "intr_mode", mode), "%s, %s: the mode ran", label, mode);
	/* Every frame sent comes back over the tap but the last burst's,
	 * which may be on the way at the stop. */
	CHECK_MSG(num(port, "valid") >= BURST * want && num(port, "valid") == num(port, "rx") &&
		  num(port, "valid") + BURST >= num(port, "tx"),
		  "%s, %s: the bursts came back, every byte verified", label, mode);
	CHECK_MSG(num(port, "invalid") == 0 && num(port, "lost") == 0,
		  "%s, %s: none damaged or missing", label, mode);
	/* No notification lost: no sleep ran to its limit with a frame waiting
	 * (with the arm broken every sleep does).  How many bursts end a sleep
	 * is the tap's echo timing: an echo back within adaptive mode's spin
	 * leaves no sleep to end, so adaptive asks for one wake-up and
	 * interrupt mode, which sleeps at the first empty round, for want. */
	CHECK_MSG(num(out, "sleeps") > 0 && num(out, "sleeps_late") <= 2,
		  "%s, %s: the lcore slept between bursts and no frame waited for a sleep's "
		  "limit (%llu late sleeps, at most 2)", label, mode, num(out, "sleeps_late"));
	CHECK_MSG(num(out, "wakeups") >= (strcmp(mode, "interrupt") == 0 ? want : 1),
		  "%s, %s: frames woke the lcore (%llu wake-ups by the MSI-X eventfd, at least "
		  "%llu wanted)", label, mode, num(out, "wakeups"),
		  strcmp(mode, "interrupt") == 0 ? want : 1ull);
}

/* udk-fwd io with no traffic: % of a core it used over IDLE_S seconds. */
static double idle(const char *label, const char *bdf, const char *mode, int secs)
{
	char cmd[512];
	double c0, c1, t0, t1, pct;
	pid_t pid;
	int rc;

	snprintf(cmd, sizeof(cmd), "udk-fwd -l 0 -a %s -- --mode io --intr-mode %s "
		 "--duration %d --interval 0 --json", bdf, mode, secs + 6);
	pid = start(cmd, "idle.json", "idle.err");
	sleep(4); /* past the start-up */
	c0 = cpu_s(pid), t0 = now_s();
	sleep((unsigned int)secs);
	c1 = cpu_s(pid), t1 = now_s();
	rc = finish(pid, "idle.json", "idle.err");
	CHECK_MSG(rc == 0 && lab_json_valid(out), "%s, idle %s: udk-fwd ended cleanly", label,
		  mode);
	REQUIRE(c0 >= 0 && c1 >= c0);
	pct = 100.0 * (c1 - c0) / (t1 - t0);
	printf("%s, idle %s: %.2f%% of a core over %.1f s (%.2f s of CPU; %llu sleeps)\n", label,
	       mode, pct, t1 - t0, c1 - c0, num(out, "sleeps"));
	return pct;
}

int main(void)
{
	static const char *label[2] = {"vnetmq0 (split)", "vnetmq1 (packed)"};
	char bdf[2][LAB_BDF_LEN], drv[2][64];

	lab_require_guest();
	if (lab_env("UDK_LAB_MAC_VNETMQ0") == NULL || lab_env("UDK_LAB_MAC_VNETMQ1") == NULL)
		lab_skip("the lab has no virtio-net on a looped tap: lab.py could not make its "
			 "taps (it says why on the host; it needs CAP_NET_ADMIN)");
	/* vnet0 is the first 1af4:1041; the looped ones follow it (lab.py
	 * slots 0x18, 0x19). */
	for (int d = 0; d < 2; d++) {
		REQUIRE(lab_find_device(0x1af4, 0x1041, (unsigned int)d + 1, bdf[d]) == 0);
		lab_device_driver(bdf[d], drv[d], sizeof(drv[d]));
		printf("%s: %s (driver '%s')\n", label[d], bdf[d], drv[d]);
		REQUIRE(lab_bind_vfio(bdf[d]) == 0);
	}
	for (int d = 0; d < 2; d++) {
		bursts(label[d], bdf[d], "adaptive", "--spin 64");
		bursts(label[d], bdf[d], "interrupt", "--spin 64");
	}
	/* The time-based spin (udk-fwd --spin-us): 20 µs of empty rounds, a
	 * round or two under TCG (100 µs woke on 8 echoes of 80, the rest
	 * caught spinning). */
	bursts(label[0], bdf[0], "adaptive", "--spin-us 20");
	for (int d = 0; d < 2; d++) {
		double a = idle(label[d], bdf[d], "adaptive", IDLE_S);

		CHECK_MSG(a <= IDLE_LIMIT, "%s: idle adaptive udk-fwd used %.2f%% of a core (at "
			  "most %.0f%%)", label[d], a, IDLE_LIMIT);
		if (d == 0) {
			double p = idle(label[d], bdf[d], "poll", 3);

			CHECK_MSG(p >= 5 * (a > 1 ? a : 1), "%s: idle poll used %.1f%% of a core, "
				  "at least 5x adaptive (the measurement sees a spinning lcore)",
				  label[d], p);
		}
	}
	for (int d = 0; d < 2; d++)
		CHECK(lab_bind(bdf[d], drv[d][0] ? drv[d] : NULL) == 0);
	return lab_result();
}
