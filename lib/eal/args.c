/* SPDX-License-Identifier: BSD-3-Clause */
/* args.c - the EAL command line: a small hand parser over argv (no getopt, so
 * the application can run getopt on what follows without inheriting state).
 * Every bad option gives -UDK_EARGS and one line naming it and the expected
 * form.
 */
#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "udk_eal.h"
#include "udk_util.h"

#define MIB (1024ull * 1024)
/* -m values above this many MiB (1 PiB) are typos, and would overflow. */
#define MAX_MEM_MIB (1ull << 30)

static int bad(const char *opt, const char *val, const char *what, const char *expected)
{
	udk_log(UDK_LOG_ERR, "eal", "%s: '%s' is not %s (expected %s)", opt, val, what, expected);
	return -UDK_EARGS;
}

/* A decimal number at *s, advancing *s; false if there is none or it is too
 * big for max. */
static bool number(const char **s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;
	const char *p = *s;

	if (!isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (unsigned long long)(*p - '0');
		if (v > max)
			return false;
		p++;
	}
	*s = p;
	*out = v;
	return true;
}

/* CPUs this process may run on: the affinity mask, or every configured CPU
 * when the mask cannot be read. */
static bool cpu_usable(unsigned long long cpu)
{
	cpu_set_t set;
	long n;

	if (cpu >= CPU_SETSIZE)
		return false;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		return CPU_ISSET((int)cpu, &set);
	n = sysconf(_SC_NPROCESSORS_CONF);
	return n > 0 && cpu < (unsigned long long)n;
}

/* Append CPU c as lcore *n of args (checks shared by -l and -c). */
static int add_lcore(const char *opt, const char *val, struct udk_eal_args *args, size_t *n,
		     unsigned long long c)
{
	if (c >= CPU_SETSIZE) {
		udk_log(UDK_LOG_ERR, "eal", "%s: CPU %llu is out of range (at most %d)", opt, c,
			CPU_SETSIZE - 1);
		return -UDK_EARGS;
	}
	if (!cpu_usable(c)) {
		udk_log(UDK_LOG_ERR, "eal", "%s: CPU %llu is not online or not available to this "
			"process (see taskset -p %d)", opt, c, (int)getpid());
		return -UDK_EARGS;
	}
	for (size_t i = 0; i < *n; i++) {
		if (args->lcore_cpu[i] == c) {
			udk_log(UDK_LOG_ERR, "eal", "%s: CPU %llu is listed twice in '%s'", opt, c,
				val);
			return -UDK_EARGS;
		}
	}
	if (*n == UDK_MAX_LCORES) {
		udk_log(UDK_LOG_ERR, "eal", "%s: '%s' lists more than %d lcores", opt, val,
			UDK_MAX_LCORES);
		return -UDK_EARGS;
	}
	args->lcore_cpu[(*n)++] = (unsigned int)c;
	return 0;
}

static int parse_lcores(const char *opt, const char *val, struct udk_eal_args *args)
{
	const char *expected = "e.g. 0-3,5";
	const char *p = val;
	unsigned long long lo, hi;
	size_t n = 0;

	for (;;) {
		if (!number(&p, ~0ull / 16, &lo))
			return bad(opt, val, "a core list", expected);
		hi = lo;
		if (*p == '-') {
			p++;
			if (!number(&p, ~0ull / 16, &hi))
				return bad(opt, val, "a core list", expected);
			if (hi < lo) {
				udk_log(UDK_LOG_ERR, "eal", "%s: '%s': range %llu-%llu runs backwards "
					"(expected %s)", opt, val, lo, hi, expected);
				return -UDK_EARGS;
			}
		}
		for (unsigned long long c = lo; c <= hi; c++) {
			int ret = add_lcore(opt, val, args, &n, c);

			if (ret < 0)
				return ret;
		}
		if (*p == '\0')
			break;
		if (*p != ',')
			return bad(opt, val, "a core list", expected);
		p++;
	}
	args->nb_lcores = n;
	return 0;
}

/* DPDK's -c: a hexadecimal mask (0x optional), bit i for CPU i; the same
 * lcores as -l listing the set bits in ascending order. */
static int parse_coremask(const char *opt, const char *val, struct udk_eal_args *args)
{
	const char *expected = "hexadecimal, e.g. 0xf for CPUs 0-3, or use -l 0-3";
	const char *p = val;
	size_t len, n = 0;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	len = strlen(p);
	if (len == 0)
		return bad(opt, val, "a core mask", expected);
	for (size_t i = 0; i < len; i++)
		if (!isxdigit((unsigned char)p[i]))
			return bad(opt, val, "a core mask", expected);
	/* The last digit holds CPUs 0-3, the one before it 4-7, and so on. */
	for (size_t d = 0; d < len; d++) {
		char ch = p[len - 1 - d];
		unsigned int nibble = (unsigned int)(isdigit((unsigned char)ch) ? ch - '0' :
						     tolower((unsigned char)ch) - 'a' + 10);

		for (unsigned int b = 0; b < 4; b++) {
			int ret;

			if (!(nibble & (1u << b)))
				continue;
			ret = add_lcore(opt, val, args, &n, 4ull * d + b);
			if (ret < 0)
				return ret;
		}
	}
	if (n == 0)
		return bad(opt, val, "a core mask", "at least one bit set, e.g. 0x1");
	args->nb_lcores = n;
	return 0;
}

static int parse_mem(const char *opt, const char *val, struct udk_eal_args *args)
{
	const char *expected = "MiB, e.g. 512, or MiB per NUMA node, e.g. 512,512";
	uint64_t per_node[UDK_MAX_NUMA_NODES] = { 0 };
	const char *p = val;
	unsigned long long v;
	size_t n = 0;

	for (;;) {
		if (!number(&p, MAX_MEM_MIB, &v))
			return bad(opt, val, "a memory size", expected);
		if (n == UDK_MAX_NUMA_NODES) {
			udk_log(UDK_LOG_ERR, "eal", "%s: '%s' names more than %d NUMA nodes", opt,
				val, UDK_MAX_NUMA_NODES);
			return -UDK_EARGS;
		}
		per_node[n++] = v * MIB;
		if (*p == '\0')
			break;
		if (*p != ',')
			return bad(opt, val, "a memory size", expected);
		p++;
	}
	memset(args->socket_mem, 0, sizeof(args->socket_mem));
	args->total_mem = 0;
	/* "-m N" limits the whole process; "-m N,M" each node (0: no limit). */
	if (n == 1 && strchr(val, ',') == NULL) {
		if (per_node[0] == 0)
			return bad(opt, val, "a memory size", "more than 0 MiB");
		args->total_mem = per_node[0];
	} else {
		memcpy(args->socket_mem, per_node, sizeof(per_node));
	}
	return 0;
}

static int parse_allow(const char *opt, const char *val, struct udk_eal_args *args)
{
	struct udk_pci_addr a;

	if (udk_pci_addr_parse(val, &a) < 0)
		return bad(opt, val, "a PCI address", "e.g. 0000:03:00.1 or 03:00.1");
	for (size_t i = 0; i < args->nb_allow; i++) {
		if (udk_pci_addr_cmp(&args->allow[i], &a) == 0) {
			udk_log(UDK_LOG_ERR, "eal", "%s: device %s is given twice", opt, val);
			return -UDK_EARGS;
		}
	}
	if (args->nb_allow == UDK_MAX_ALLOW) {
		udk_log(UDK_LOG_ERR, "eal", "%s: more than %d devices", opt, UDK_MAX_ALLOW);
		return -UDK_EARGS;
	}
	args->allow[args->nb_allow++] = a;
	return 0;
}

static int parse_vdev(const char *opt, const char *val, struct udk_eal_args *args)
{
	if (*val == '\0' || *val == ',')
		return bad(opt, val, "a software device", "NAME[,KEY=VALUE...], e.g. net_ring0");
	if (args->nb_vdevs == UDK_MAX_VDEVS) {
		udk_log(UDK_LOG_ERR, "eal", "%s: more than %d software devices", opt, UDK_MAX_VDEVS);
		return -UDK_EARGS;
	}
	args->vdev[args->nb_vdevs++] = val;
	return 0;
}

static int parse_backend(const char *opt, const char *val, struct udk_eal_args *args)
{
	if (strcmp(val, "auto") == 0)
		args->backend = UDK_DMAMAP_AUTO;
	else if (strcmp(val, "type1") == 0)
		args->backend = UDK_DMAMAP_VFIO_TYPE1;
	else if (strcmp(val, "iommufd") == 0)
		args->backend = UDK_DMAMAP_IOMMUFD;
	else
		return bad(opt, val, "an IOMMU backend", "auto, type1 or iommufd");
	return 0;
}

/* --log-level: udk's names and numbers (1-5), DPDK's level names, and DPDK's
 * "PATTERN:LEVEL" where the pattern means every component ("*", ".*"); udk
 * has one level for all components.  DPDK's numbers are not taken: 1-5 are
 * udk's own, and 6-8 would mean something else in udk's scale. */
static int parse_log_level(const char *opt, const char *val, struct udk_eal_args *args)
{
	static const struct {
		const char *dpdk;
		int level;
	} dpdk_names[] = {
		{ "emerg", UDK_LOG_ERR }, { "alert", UDK_LOG_ERR }, { "crit", UDK_LOG_ERR },
		{ "error", UDK_LOG_ERR }, { "warning", UDK_LOG_WARN },
	};
	const char *colon = strrchr(val, ':');
	const char *level = val;

	if (colon != NULL) {
		size_t plen = (size_t)(colon - val);

		if (!(plen == 1 && val[0] == '*') && !(plen == 2 && strncmp(val, ".*", 2) == 0)) {
			udk_log(UDK_LOG_ERR, "eal", "%s: '%s': udk has no per-component log levels: "
				"use --log-level LEVEL (for every component)", opt, val);
			return -UDK_EARGS;
		}
		level = colon + 1;
	}
	if (udk_log_level_parse(level, &args->log_level) == 0)
		return 0;
	for (size_t i = 0; i < UDK_ARRAY_SIZE(dpdk_names); i++) {
		if (strcasecmp(level, dpdk_names[i].dpdk) == 0) {
			args->log_level = dpdk_names[i].level;
			return 0;
		}
	}
	if (level[0] >= '6' && level[0] <= '8' && level[1] == '\0') {
		udk_log(UDK_LOG_ERR, "eal", "%s: '%s': udk has no DPDK level numbers above 5: use "
			"notice, info or debug (udk's 1-5 are err to debug)", opt, val);
		return -UDK_EARGS;
	}
	return bad(opt, val, "a log level", "err, warn, notice, info, debug or 1-5");
}

/* DPDK's --iova-mode: udk has neither of its modes. */
static int parse_iova_mode(const char *opt, const char *val, struct udk_eal_args *args)
{
	(void)args;
	if (strcmp(val, "pa") == 0 || strcmp(val, "va") == 0) {
		udk_log(UDK_LOG_ERR, "eal", "%s: udk has no %s mode: IOVAs always come from the "
			"map (doc/iova.md); drop the option", opt,
			val[0] == 'p' ? "physical-address" : "virtual-address");
		return -UDK_EARGS;
	}
	return bad(opt, val, "an IOVA mode", "pa or va, neither of which udk has: drop the option");
}

static int parse_huge_dir(const char *opt, const char *val, struct udk_eal_args *args)
{
	if (*val == '\0')
		return bad(opt, val, "a directory", "the path of a hugetlbfs mount");
	args->huge_dir = val;
	return 0;
}

static int parse_broker(const char *opt, const char *val, struct udk_eal_args *args)
{
	if (*val == '\0' || strlen(val) >= 108) /* sizeof(sun_path) */
		return bad(opt, val, "a socket path", "the UNIX socket udk-broker listens on");
	args->broker = val;
	return 0;
}

static int parse_telemetry_path(const char *opt, const char *val, struct udk_eal_args *args)
{
	if (*val == '\0')
		return bad(opt, val, "a socket path", "e.g. /run/udk/myapp.sock");
	args->telemetry_path = val;
	return 0;
}

struct option_def {
	char short_name;     /* 0: long only */
	const char *no;      /* DPDK's option udk refuses: the line saying what to use */
	const char *long_name;
	int (*parse)(const char *opt, const char *val, struct udk_eal_args *args); /* NULL: flag */
	const char *arg_name;
	const char *help;
};

static const struct option_def options[] = {
	{ 'l', NULL, "lcores", parse_lcores, "LIST",
	  "CPUs to run lcores on, e.g. 0-3,5 (lcore i runs on the i-th CPU listed)" },
	{ 'c', NULL, "coremask", parse_coremask, "MASK",
	  "DPDK's core mask: hexadecimal, bit i for CPU i; the same as -l listing those CPUs" },
	{ 'a', NULL, "allow", parse_allow, "BDF", "open this PCI device (repeatable), e.g. 0000:03:00.1" },
	{ 0, NULL, "vdev", parse_vdev, "NAME[,ARGS]",
	  "add a software device (repeatable), e.g. net_ring0 or net_ring1,peer=net_ring0" },
	{ 'm', NULL, "socket-mem", parse_mem, "MiB[,MiB..]",
	  "memory limit: N for the whole process, or one value per NUMA node (0: no limit)" },
	{ 0, NULL, "huge-dir", parse_huge_dir, "DIR", "hugetlbfs mount to take hugepages from" },
	{ 0, NULL, "no-huge", NULL, NULL, "use ordinary memory (memfd) instead of hugepages" },
	{ 0, NULL, "log-level", parse_log_level, "LEVEL",
	  "err, warn, notice, info, debug or 1-5, also DPDK's error, warning and *:LEVEL "
	  "(default: $UDK_LOG_LEVEL, else notice)" },
	{ 0, NULL, "iommu-backend", parse_backend, "NAME", "auto, type1 or iommufd (default auto)" },
	{ 0, NULL, "broker", parse_broker, "SOCK",
	  "take memory and the -a devices from udk-broker at SOCK (no root needed)" },
	{ 0, NULL, "no-telemetry", NULL, NULL, "serve no telemetry socket (doc/telemetry.md)" },
	{ 0, NULL, "telemetry-path", parse_telemetry_path, "PATH",
	  "telemetry socket (default /run/udk/PROG.PID.sock)" },
	{ 0, NULL, "iova-mode", parse_iova_mode, "pa|va", NULL },
	{ 0, "udk has no main-lcore option: lcore 0 (the main thread) runs on the first CPU of -l; "
	  "list that CPU first, e.g. -l 2,0-1", "main-lcore", NULL, "N", NULL },
	{ 0, "udk has no file prefix: it keeps no runtime files that processes could share "
	  "(pages are unlinked at once); name the telemetry socket with --telemetry-path",
	  "file-prefix", NULL, "NAME", NULL },
	{ 0, "udk has no in-memory mode to turn on: it keeps no hugepage or config files; drop "
	  "the option (add --no-telemetry for no socket file either)", "in-memory", NULL, NULL,
	  NULL },
	{ 'h', NULL, "help", NULL, NULL, "print this help" },
};

void udk_eal_usage(void *stream)
{
	FILE *f = stream;
	char name[64];

	fprintf(f, "EAL options (end them with --):\n");
	for (size_t i = 0; i < UDK_ARRAY_SIZE(options); i++) {
		const struct option_def *o = &options[i];

		if (o->help == NULL)
			continue;
		if (o->short_name)
			snprintf(name, sizeof(name), "-%c, --%s%s%s", o->short_name, o->long_name,
				 o->arg_name ? " " : "", o->arg_name ? o->arg_name : "");
		else
			snprintf(name, sizeof(name), "    --%s%s%s", o->long_name,
				 o->arg_name ? " " : "", o->arg_name ? o->arg_name : "");
		fprintf(f, "  %-32s %s\n", name, o->help);
	}
	fprintf(f, "  DPDK's --main-lcore, --file-prefix, --in-memory and --iova-mode are refused "
		"with a line saying what udk does instead.\n");
}

/* Which option argv[i] is, and where its inline value starts ("-l0-3",
 * "--lcores=0-3"), or NULL for none. */
static const struct option_def *lookup(const char *arg, const char **inline_val)
{
	*inline_val = NULL;
	for (size_t i = 0; i < UDK_ARRAY_SIZE(options); i++) {
		const struct option_def *o = &options[i];

		if (arg[1] == '-') {
			size_t len = strlen(o->long_name);

			if (strncmp(arg + 2, o->long_name, len) != 0)
				continue;
			if (arg[2 + len] == '\0')
				return o;
			if (arg[2 + len] == '=') {
				*inline_val = arg + 3 + len;
				return o;
			}
		} else if (o->short_name != 0 && arg[1] == o->short_name) {
			if (arg[2] != '\0')
				*inline_val = arg + 2;
			return o;
		}
	}
	return NULL;
}

int udk_eal_parse(int argc, char **argv, struct udk_eal_args *args)
{
	const char *env = getenv("UDK_LOG_LEVEL");
	int i, ret;

	if (args == NULL || argc < 1 || argv == NULL)
		return -EINVAL;
	memset(args, 0, sizeof(*args));
	args->backend = UDK_DMAMAP_AUTO;
	args->log_level = UDK_LOG_NOTICE;
	if (env != NULL && *env != '\0' && udk_log_level_parse(env, &args->log_level) < 0)
		return bad("UDK_LOG_LEVEL", env, "a log level", "err, warn, notice, info, debug or 1-5");

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *val;
		const struct option_def *o;

		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		/* The first plain argument ends the EAL options. */
		if (arg[0] != '-' || arg[1] == '\0')
			break;
		o = lookup(arg, &val);
		if (o == NULL) {
			udk_log(UDK_LOG_ERR, "eal", "%s: unknown EAL option (see --help; end EAL "
				"options with -- before the application's own)", arg);
			return -UDK_EARGS;
		}
		if (o->no != NULL) {
			udk_log(UDK_LOG_ERR, "eal", "--%s: %s", o->long_name, o->no);
			return -UDK_EARGS;
		}
		if (o->parse == NULL) {
			if (val != NULL) {
				udk_log(UDK_LOG_ERR, "eal", "%s: takes no value", arg);
				return -UDK_EARGS;
			}
			if (o->short_name == 'h')
				args->help = true;
			else if (strcmp(o->long_name, "no-telemetry") == 0)
				args->no_telemetry = true;
			else
				args->no_huge = true;
			continue;
		}
		if (val == NULL) {
			if (i + 1 >= argc) {
				udk_log(UDK_LOG_ERR, "eal", "%s: missing %s", arg, o->arg_name);
				return -UDK_EARGS;
			}
			val = argv[++i];
		}
		/* Name the option as the user spelled it, without an inline value. */
		{
			char opt[40];

			snprintf(opt, sizeof(opt), "%s%s", arg[1] == '-' ? "--" : "-",
				 arg[1] == '-' ? o->long_name : (char[]){ o->short_name, 0 });
			ret = o->parse(opt, val, args);
		}
		if (ret < 0)
			return ret;
	}
	return i;
}
