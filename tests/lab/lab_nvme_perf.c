/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_nvme_perf: udk-nvme-perf (from PATH) against the second lab controller
 * for about two seconds a run: random reads at QD1 and QD32, random writes,
 * a 70% read mix, and one run on a single lcore; each run's JSON must hold
 * I/Os and no errors, ordered percentiles, a read/write split that follows
 * the mix, and a total that matches IOPS x seconds; the QD32 run's I/O count
 * must equal the device's own (SMART host read commands, before and after,
 * read by udk-nvme).  Then the one-line
 * errors for bad input.  Not a timed pass/fail test: the figures are printed.
 * Puts the device back on the driver it had.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labjson.h"
#include "labutil.h"

static char out[65536], err[16384];

/* Run udk-nvme-perf EAL -- ARGS; its stdout and stderr land in out and err. */
static int perf(const char *eal, const char *args)
{
	int rc = lab_sh("udk-nvme-perf %s -- %s >perf.out 2>perf.err", eal, args);
	FILE *f;
	size_t n;

	out[0] = err[0] = '\0';
	if ((f = fopen("perf.out", "r")) != NULL) {
		n = fread(out, 1, sizeof(out) - 1, f);
		out[n] = '\0';
		fclose(f);
	}
	if ((f = fopen("perf.err", "r")) != NULL) {
		n = fread(err, 1, sizeof(err) - 1, f);
		err[n] = '\0';
		fclose(f);
	}
	printf("$ udk-nvme-perf %s -- %s  -> exit %d\n%s%s", eal, args, rc, out, err);
	return rc;
}

static double num(const char *doc, const char *path)
{
	char buf[64];

	if (lab_json_text(lab_json_path(doc, path), buf, sizeof(buf)) < 0)
		return NAN;
	return atof(buf);
}

/* The controller's SMART "host read commands", through udk-nvme. */
static double smart_reads(const char *bdf)
{
	char buf[4096] = "", v[32];

	if (lab_sh("udk-nvme -a %s smart-log --json >smart.json 2>&1", bdf) != 0 ||
	    lab_read_file("smart.json", buf, sizeof(buf)) < 0 ||
	    lab_json_text(lab_json_member(buf, "host_read_commands"), v, sizeof(v)) < 0)
		return NAN;
	return atof(v);
}

/* The checks every run's JSON must pass; mix is the expected % of reads. */
static void check_run(const char *what, int mix)
{
	double iops, secs, ios, reads, writes, lat[6];
	static const char *const pct[] = {"p50", "p90", "p99", "p99_9", "max"};
	char path[64];

	CHECK_MSG(lab_json_valid(out), "%s: output is not JSON", what);
	iops = num(out, "total.iops");
	secs = num(out, "total.seconds");
	ios = num(out, "total.ios");
	reads = num(out, "total.reads");
	writes = num(out, "total.writes");
	CHECK_MSG(iops > 0 && ios > 0, "%s: IOPS %.0f, I/Os %.0f", what, iops, ios);
	CHECK_MSG(num(out, "total.errors") == 0, "%s: errors", what);
	CHECK_MSG(secs > 1.5 && secs < 3.5, "%s: ran %.3f s for --time 2", what, secs);
	CHECK_MSG(fabs(ios - iops * secs) <= 0.02 * ios + 2, "%s: I/Os %.0f vs IOPS x s %.0f",
		  what, ios, iops * secs);
	CHECK_MSG(reads + writes == ios, "%s: reads %.0f + writes %.0f != %.0f", what, reads,
		  writes, ios);
	if (mix == 100 || mix == 0)
		CHECK_MSG((mix == 100 ? writes : reads) == 0, "%s: reads %.0f, writes %.0f", what,
			  reads, writes);
	else
		CHECK_MSG(fabs(100 * reads / ios - mix) < 5, "%s: %.1f%% reads for --mix %d", what,
			  100 * reads / ios, mix);
	lat[0] = num(out, "total.latency_us.min");
	for (int i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "total.latency_us.%s", pct[i]);
		lat[i + 1] = num(out, path);
	}
	for (int i = 0; i < 5; i++)
		CHECK_MSG(lat[i] <= lat[i + 1], "%s: latency %s %.3f > next %.3f", what,
			  i ? pct[i - 1] : "min", lat[i], lat[i + 1]);
	double avg = num(out, "total.latency_us.avg");
	CHECK_MSG(avg >= lat[0] && avg <= lat[5], "%s: avg %.3f outside [min, max]", what, avg);
	CHECK(lab_json_length(lab_json_member(out, "jobs")) >= 1);
	printf("== %s: %.0f IOPS, %.2f MiB/s, p50 %.1f us, p99 %.1f us, max %.1f us\n", what, iops,
	       num(out, "total.mib_s"), lat[1], lat[3], lat[5]);
}

int main(void)
{
	char drv[64] = "", eal[128], eal1[128];
	const char *bdf;

	setvbuf(stdout, NULL, _IONBF, 0);
	lab_require_guest();
	bdf = lab_env_require("UDK_LAB_NVME2");
	lab_device_driver(bdf, drv, sizeof(drv));
	REQUIRE(lab_bind_vfio(bdf) == 0);
	snprintf(eal, sizeof(eal), "-l 0-1 -a %s", bdf);
	snprintf(eal1, sizeof(eal1), "-l 0 -a %s", bdf);

	CHECK(perf(eal, "--pattern randread --qd 1 --io-size 4096 --time 2 --json") == 0);
	check_run("randread QD1 4 KiB", 100);
	CHECK(lab_json_is(lab_json_index(lab_json_member(out, "jobs"), 0), "lcore", "1"));
	CHECK(lab_json_is(lab_json_index(lab_json_member(out, "jobs"), 0), "bdf", bdf));
	double dev0 = smart_reads(bdf);
	CHECK(perf(eal, "--pattern randread --qd 32 --io-size 4k --time 2 --json") == 0);
	check_run("randread QD32 4 KiB", 100);
	double ios = num(out, "total.ios"), dev1 = smart_reads(bdf);
	CHECK_MSG(dev1 - dev0 == ios, "the device counted %.0f reads, the tool %.0f", dev1 - dev0,
		  ios);
	printf("the device counted %.0f read commands, the tool %.0f\n", dev1 - dev0, ios);
	CHECK(perf(eal, "--pattern randwrite --qd 8 --io-size 4096 --time 2 --json") == 0);
	check_run("randwrite QD8 4 KiB", 0);
	CHECK(perf(eal, "--pattern rw --mix 70 --qd 16 --io-size 8192 --time 2 --json") == 0);
	check_run("rw 70% reads QD16 8 KiB", 70);
	CHECK(perf(eal1, "--pattern randrw --mix 70 --qd 4 --io-size 4096 --time 2 --json") == 0);
	check_run("randrw 70% on lcore 0 alone", 70);
	CHECK(lab_json_is(lab_json_index(lab_json_member(out, "jobs"), 0), "lcore", "0"));

	/* Text output and the live progress lines. */
	CHECK(perf(eal, "--pattern randread --qd 4 --time 2.5") == 0);
	CHECK(strstr(out, "p99.9 us") != NULL && strstr(out, "total") != NULL);
	CHECK(strstr(err, "IOPS") != NULL && strstr(err, "MiB/s") != NULL);
	CHECK(strstr(err, "% done, ") != NULL && strstr(err, " s left") != NULL);

	/* spdk_nvme_perf's spelling; -LL's buckets add up to the total's I/Os. */
	CHECK(perf(eal, "-w randread -q 4 -o 4096 -t 2 -LL --json") == 0);
	CHECK(lab_json_valid(out));
	const char *total = lab_json_member(out, "total");
	const char *hist = total ? lab_json_member(total, "histogram") : NULL;
	unsigned long long in_buckets = 0;
	CHECK(hist != NULL && lab_json_length(hist) >= 1);
	for (int k = 0; hist != NULL && k < lab_json_length(hist); k++)
		in_buckets += lab_json_u64(lab_json_index(hist, k), "count");
	CHECK_MSG(total != NULL && in_buckets == lab_json_u64(total, "ios"),
		  "histogram holds %llu I/Os", in_buckets);
	CHECK(perf(eal, "-w randread -q 4 -t 1 -LL --plot /tmp/lab-perf-lat") == 0);
	CHECK(strstr(out, "latency histogram, total (") != NULL && strstr(out, "cumulative") != NULL);
	/* --plot: the data file's counts add up to the run's I/Os (the text's
	 * title line), and gnuplot draws the script. */
	unsigned long long ios_text = 0, in_dat = 0;
	const char *t = strstr(out, "latency histogram, total (");
	if (t != NULL)
		ios_text = strtoull(t + strlen("latency histogram, total ("), NULL, 10);
	FILE *dat = fopen("/tmp/lab-perf-lat.dat", "r");
	CHECK(dat != NULL);
	if (dat != NULL) {
		char row[256];
		double lo, hi, cum;
		unsigned long long n;
		while (fgets(row, sizeof(row), dat) != NULL)
			if (row[0] != '#' && sscanf(row, "%lf %lf %llu %lf", &lo, &hi, &n, &cum) == 4)
				in_dat += n;
		fclose(dat);
	}
	CHECK_MSG(ios_text > 0 && in_dat == ios_text, "--plot's data holds %llu of %llu I/Os",
		  in_dat, ios_text);
	if (access("/usr/bin/gnuplot", X_OK) == 0)
		CHECK(lab_sh("cd /tmp && gnuplot lab-perf-lat.gp && test -s lab-perf-lat.svg") == 0);
	lab_sh("rm -f /tmp/lab-perf-lat.dat /tmp/lab-perf-lat.gp /tmp/lab-perf-lat.svg");

	/* Bad input: one line each, exit 2. */
	CHECK(perf(eal, "--qd 0") == 2 && strstr(err, "--qd: '0' is not a number") != NULL);
	CHECK(perf(eal, "--qd 65535 --time 1") == 2 && strstr(err, "commands in flight") != NULL);
	CHECK(perf(eal, "--io-size 1000 --time 1") == 2 &&
	      strstr(err, "--io-size 1000 is not a multiple of the block size") != NULL);
	CHECK(perf(eal, "--io-size 64M --time 1") == 2 && strstr(err, "(MDTS:") != NULL);
	CHECK(perf(eal, "--pattern sideways") == 2 &&
	      strstr(err, "unknown pattern 'sideways'") != NULL);
	CHECK(perf(eal, "--ns 9 --time 1") == 2 && strstr(err, "namespace 9 is not active") != NULL);

	lab_bind(bdf, drv);
	return lab_result();
}
