/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_nvme_perf_multi: udk-nvme-perf on both lab NVMe controllers at once, on
 * one map (the EAL's), with a row of figures per controller: each row must
 * hold I/Os and no errors, the total must be their sum, and each
 * controller's own count (SMART host read / write commands, read before and
 * after through udk-nvme) must equal its row.  Once with one worker lcore
 * polling both controllers' qpairs, once with lcore 0 alone doing both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labjson.h"
#include "labrun.h"
#include "labutil.h"

static char out[65536];

static double num(const char *v, const char *path)
{
	char buf[64];

	if (lab_json_text(lab_json_path(v, path), buf, sizeof(buf)) < 0)
		return -1;
	return atof(buf);
}

/* SMART host read + write commands of bdf, through udk-nvme. */
static double smart_cmds(const char *bdf)
{
	static char s[8192];
	char r[32], w[32];

	const char *j;

	if (lab_run(s, sizeof(s), "udk-nvme -a %s smart-log --json", bdf) != 0 ||
	    (j = strchr(s, '{')) == NULL ||
	    lab_json_text(lab_json_member(j, "host_read_commands"), r, sizeof(r)) < 0 ||
	    lab_json_text(lab_json_member(j, "host_write_commands"), w, sizeof(w)) < 0)
		return -1;
	return atof(r) + atof(w);
}

static void run(const char *lcores, const char *a, const char *b, const char *pattern)
{
	double before[2] = {smart_cmds(a), smart_cmds(b)}, sum = 0;
	const char *bdf[2] = {a, b};
	bool seen[2] = {false, false};

	CHECK(lab_run(out, sizeof(out), "udk-nvme-perf -l %s -a %s -a %s -- --pattern %s --qd 8 "
		      "--io-size 4096 --time 2 --json", lcores, a, b, pattern) == 0);
	const char *json = strchr(out, '{');
	REQUIRE(json != NULL && lab_json_valid(json));
	const char *jobs = lab_json_member(json, "jobs");
	CHECK_MSG(lab_json_length(jobs) == 2, "%d rows, one per controller expected",
		  lab_json_length(jobs));
	for (int i = 0; i < lab_json_length(jobs); i++) {
		const char *j = lab_json_index(jobs, i);
		int k = lab_json_is(j, "bdf", a) ? 0 : lab_json_is(j, "bdf", b) ? 1 : -1;
		double ios = num(j, "ios");

		REQUIRE(k >= 0);
		seen[k] = true;
		sum += ios;
		CHECK_MSG(ios > 0 && num(j, "errors") == 0, "%s: %.0f I/Os", bdf[k], ios);
		double dev = smart_cmds(bdf[k]) - before[k];
		printf("== -l %s %s: %s: %.0f IOPS, %.0f I/Os; the controller counted %.0f\n",
		       lcores, pattern, bdf[k], num(j, "iops"), ios, dev);
		CHECK_MSG(dev == ios, "%s counted %.0f commands, the tool %.0f", bdf[k], dev, ios);
	}
	CHECK(seen[0] && seen[1]);
	CHECK_MSG(num(json, "total.ios") == sum, "total %.0f, rows %.0f",
		  num(json, "total.ios"), sum);
}

int main(void)
{
	char drv[2][64] = {"", ""};
	const char *a, *b;

	setvbuf(stdout, NULL, _IONBF, 0);
	lab_require_guest();
	a = lab_env_require("UDK_LAB_NVME");
	b = lab_env_require("UDK_LAB_NVME2");
	lab_device_driver(a, drv[0], sizeof(drv[0]));
	lab_device_driver(b, drv[1], sizeof(drv[1]));
	REQUIRE(lab_bind_vfio(a) == 0 && lab_bind_vfio(b) == 0);

	run("0-1", a, b, "randread");
	run("0", a, b, "randrw --mix 70");

	lab_bind(a, drv[0]);
	lab_bind(b, drv[1]);
	return lab_result();
}
