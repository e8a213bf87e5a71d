/* SPDX-License-Identifier: BSD-3-Clause */
/* opts.c - udk-nvme-perf's command line (opts.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "udk_eal.h"
#include "udk_util.h"

const char *const mode_names[] = {"poll", "interrupt", "adaptive"};
const char *const pattern_names[] = {"read", "write", "randread", "randwrite", "rw", "randrw"};

int die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [EAL options] -- [options]\n"
		"Measure NVMe IOPS, bandwidth and latency through udk (VFIO).\n\n"
		"Options:\n"
		"  --qd N              commands in flight per queue pair (default 1)\n"
		"  --io-size BYTES     bytes per I/O, a multiple of the block size, up to the\n"
		"                      controller's maximum transfer; K/M suffixes (default 4096)\n"
		"  --pattern P         read, write, randread, randwrite, rw, randrw\n"
		"                      (default randread)\n"
		"  --mix READ%%         reads in rw/randrw, 0..100 (default 50)\n"
		"  --time SEC          seconds to run (default 5)\n"
		"  --ns LIST           namespaces on every controller: an NSID, a comma list\n"
		"                      (1,2) or 'all' for each one's active namespaces\n"
		"                      (default 1)\n"
		"  --json              print the results as JSON\n"
		"  --verify            with --pattern write: stamp every block, then read back\n"
		"                      each acknowledged write of the controllers that remain\n"
		"  --mode M            poll (default: spin on the completion queues), interrupt\n"
		"                      (sleep until a completion's MSI-X interrupt) or adaptive\n"
		"                      (poll, sleep after --spin empty polls); doc/interrupts.md\n"
		"  --spin N            adaptive: empty polls before a sleep (default 512)\n"
		"  --coalesce THR,TIME interrupt/adaptive: one interrupt per THR+1 completions\n"
		"                      or TIME x 100 us after the first (NVMe Set Features 08h)\n"
		"  --qpair-latency     have the driver keep each queue pair's latency\n"
		"                      histogram for telemetry (udk-top; costs a clock read\n"
		"                      per submit and per poll that completes)\n"
		"  --histogram         print the total's latency histogram after the results\n"
		"                      (in --json: the total's \"histogram\" buckets)\n"
		"  --plot PREFIX       write the total's latency histogram to PREFIX.dat and a\n"
		"                      gnuplot script PREFIX.gp that draws it into PREFIX.svg\n"
		"                      (gnuplot PREFIX.gp; Debian: gnuplot-nox)\n"
		"  --help, --version\n"
		"spdk_nvme_perf's -q, -o, -w, -t and -M are taken for --qd, --io-size,\n"
		"--pattern, --time and --mix, -LL for --histogram, -L as a no-op (the\n"
		"percentiles are always printed); its -c is the EAL's -c, before --.\n\n"
		"Controllers are the -a devices.  EAL -l: lcore 0 reports, lcores 1.. each\n"
		"drive one queue pair per namespace given to them (namespace i mod N, N the\n"
		"namespaces of all controllers); with one lcore, lcore 0 does both.\n"
		"Exit 2 on bad input, 1 on a runtime error.\n\n");
	udk_eal_usage(f);
}

static int number(const char *opt, const char *v, uint64_t lo, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long n;

	if (v == NULL)
		return die("%s needs a value (see --help)", opt) + 1;
	errno = 0;
	n = strtoull(v, &end, 0);
	if (!errno && end != v && (*end == 'k' || *end == 'K') && end[1] == '\0')
		n <<= 10, end++;
	else if (!errno && end != v && (*end == 'm' || *end == 'M') && end[1] == '\0')
		n <<= 20, end++;
	if (errno || end == v || *end != '\0' || v[0] == '-' || n < lo || n > max)
		return die("%s: '%s' is not a number in %llu..%llu", opt, v,
			   (unsigned long long)lo, (unsigned long long)max) + 1;
	*out = n;
	return 0;
}

/* --ns: "all", or NSIDs separated by commas.  0, or the exit code 2. */
static int parse_ns(const char *v, struct opts *o)
{
	char buf[256], *save = NULL;
	uint64_t n;

	if (v == NULL)
		return die("--ns needs a value (see --help)") + 1;
	o->ns_arg = v;
	o->ns_all = !strcmp(v, "all");
	o->nb_nsids = 0;
	if (o->ns_all)
		return 0;
	if (strlen(v) >= sizeof(buf) || v[0] == ',' || v[strlen(v) - 1] == ',' || strstr(v, ",,"))
		return die("--ns: '%s' is not 'all' or a list of NSIDs such as 1,2", v) + 1;
	strcpy(buf, v);
	for (char *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		if (number("--ns", t, 1, 0xfffffffe, &n))
			return 2;
		for (unsigned int k = 0; k < o->nb_nsids; k++)
			if (o->nsids[k] == n)
				return die("--ns: namespace %llu is listed twice",
					   (unsigned long long)n) + 1;
		if (o->nb_nsids == MAX_NS)
			return die("--ns: more than %d namespaces", MAX_NS) + 1;
		o->nsids[o->nb_nsids++] = (uint32_t)n;
	}
	return 0;
}

/* spdk_nvme_perf's short options, each the long option of the same meaning. */
static const char *const spdk_alias[][2] = {
	{"-q", "--qd"}, {"-o", "--io-size"}, {"-w", "--pattern"}, {"-t", "--time"}, {"-M", "--mix"},
};

int parse(int argc, char **argv, struct opts *o)
{
	uint64_t v;

	*o = (struct opts){.qd = 1, .io_size = 4096, .pattern = P_RANDREAD, .mix = -1,
			   .time = 5, .nsids = {1}, .nb_nsids = 1, .ns_arg = "1", .spin = 512,
			   .coalesce_thr = -1, .coalesce_time = -1};
	bool spin_set = false;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		int rc = 0;

		for (size_t k = 0; k < UDK_ARRAY_SIZE(spdk_alias); k++)
			if (!strcmp(a, spdk_alias[k][0]))
				a = spdk_alias[k][1];
		if (!strcmp(a, "-c"))
			return die("-c: the core mask is an EAL option: give it before -- "
				   "(-c MASK, or -l LIST)") + 1;

		if (!strcmp(a, "--json")) {
			o->json = true;
			continue;
		}
		if (!strcmp(a, "--verify")) {
			o->verify = true;
			continue;
		}
		if (!strcmp(a, "--histogram") || !strcmp(a, "-LL")) {
			o->histogram = true;
			continue;
		}
		/* spdk_nvme_perf -L: the latency summary, which udk always prints. */
		if (!strcmp(a, "-L"))
			continue;
		if (!strcmp(a, "--qpair-latency")) {
			o->qpair_latency = true;
			continue;
		}
		if (!strcmp(a, "--qd")) {
			rc = number(a, val, 1, 65535, &v), o->qd = (uint32_t)v;
		} else if (!strcmp(a, "--io-size")) {
			rc = number(a, val, 1, 1u << 30, &o->io_size);
		} else if (!strcmp(a, "--mix")) {
			rc = number(a, val, 0, 100, &v), o->mix = (int)v;
		} else if (!strcmp(a, "--ns")) {
			rc = parse_ns(val, o);
		} else if (!strcmp(a, "--time")) {
			char *end;
			if (val == NULL)
				return die("--time needs a value (see --help)") + 1;
			o->time = strtod(val, &end);
			if (end == val || *end != '\0' || !(o->time > 0 && o->time <= 86400))
				return die("--time: '%s' is not a number of seconds in (0, 86400]",
					   val) + 1;
		} else if (!strcmp(a, "--plot")) {
			if (val == NULL || val[0] == '\0')
				return die("--plot needs a file name prefix (see --help)") + 1;
			if (strlen(val) > 4000)
				return die("--plot: the prefix is longer than 4000 bytes") + 1;
			o->plot = val;
		} else if (!strcmp(a, "--spin")) {
			rc = number(a, val, 0, 1u << 30, &v), o->spin = (uint32_t)v;
			spin_set = true;
		} else if (!strcmp(a, "--coalesce")) {
			unsigned int thr, tm;
			char end;
			if (val == NULL)
				return die("--coalesce needs a value (see --help)") + 1;
			if (sscanf(val, "%u,%u%c", &thr, &tm, &end) != 2 || thr > 255 || tm > 255 ||
			    val[0] == '-' || strchr(val, '-') != NULL)
				return die("--coalesce: '%s' is not THR,TIME (each 0..255)", val) + 1;
			o->coalesce_thr = (int)thr;
			o->coalesce_time = (int)tm;
		} else if (!strcmp(a, "--mode")) {
			size_t k;
			if (val == NULL)
				return die("--mode needs a value (see --help)") + 1;
			for (k = 0; k < UDK_ARRAY_SIZE(mode_names); k++)
				if (!strcmp(val, mode_names[k]))
					break;
			if (k == UDK_ARRAY_SIZE(mode_names))
				return die("--mode: unknown mode '%s' (poll, interrupt, adaptive)",
					   val) + 1;
			o->mode = (enum mode)k;
		} else if (!strcmp(a, "--pattern")) {
			size_t k;
			if (val == NULL)
				return die("--pattern needs a value (see --help)") + 1;
			for (k = 0; k < UDK_ARRAY_SIZE(pattern_names); k++)
				if (!strcmp(val, pattern_names[k]))
					break;
			if (k == UDK_ARRAY_SIZE(pattern_names))
				return die("--pattern: unknown pattern '%s' (read, write, randread, "
					   "randwrite, rw, randrw)", val) + 1;
			o->pattern = (enum pattern)k;
		} else {
			return die("unknown option '%s' (see --help)", a) + 1;
		}
		if (rc)
			return rc;
		i++;
	}
	if (o->mix >= 0 && o->pattern != P_RW && o->pattern != P_RANDRW)
		return die("--mix applies to the rw and randrw patterns, not %s",
			   pattern_names[o->pattern]) + 1;
	if (o->verify && o->pattern != P_WRITE)
		return die("--verify needs --pattern write (sequential writes: one write per block "
			   "in flight at a time), not %s", pattern_names[o->pattern]) + 1;
	if (spin_set && o->mode != M_ADAPTIVE)
		return die("--spin applies to --mode adaptive, not %s", mode_names[o->mode]) + 1;
	if (o->coalesce_thr >= 0 && o->mode == M_POLL)
		return die("--coalesce applies to --mode interrupt or adaptive, not poll") + 1;
	if (o->mix < 0)
		o->mix = o->pattern == P_READ || o->pattern == P_RANDREAD ? 100 :
			 o->pattern == P_WRITE || o->pattern == P_RANDWRITE ? 0 : 50;
	return 0;
}
