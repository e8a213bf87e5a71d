/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for lib/eal: every option good and bad (codes and error text),
 * consumed counts, init/cleanup on memfd memory (no VFIO, no hugepages), the
 * default map following heap growth, and lcore launch/wait. */
#include "../common/unit.h"
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "udk_eal.h"
#include "udk_util.h"

#define MIB (1024ull * 1024)
#define MAX_ARGS 32

static char *argv_buf[MAX_ARGS];
static int argc_buf;

/* Build argv = { "prog", args..., NULL } from a NULL-terminated list. */
static char **mkargv(const char *first, va_list ap)
{
	const char *a = first;

	argc_buf = 0;
	argv_buf[argc_buf++] = "prog";
	while (a != NULL && argc_buf < MAX_ARGS - 1) {
		argv_buf[argc_buf++] = (char *)a;
		a = va_arg(ap, const char *);
	}
	argv_buf[argc_buf] = NULL;
	return argv_buf;
}

static int parse(struct udk_eal_args *args, const char *first, ...)
{
	va_list ap;
	char **argv;

	va_start(ap, first);
	argv = mkargv(first, ap);
	va_end(ap);
	udk_last_error_clear();
	return udk_eal_parse(argc_buf, argv, args);
}

static int init(const char *first, ...)
{
	va_list ap;
	char **argv;

	va_start(ap, first);
	argv = mkargv(first, ap);
	va_end(ap);
	udk_last_error_clear();
	return udk_eal_init(argc_buf, argv);
}

#define ERR_IS(text) CU_ASSERT_STRING_EQUAL(udk_last_error(), text)
#define ERR_HAS(text) CU_ASSERT(strstr(udk_last_error(), text) != NULL)

/* The first n CPUs this process may run on, or false if there are fewer. */
static bool usable_cpus(unsigned int *cpus, int n)
{
	cpu_set_t set;
	int k = 0;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return false;
	for (int c = 0; c < CPU_SETSIZE && k < n; c++)
		if (CPU_ISSET(c, &set))
			cpus[k++] = (unsigned int)c;
	return k == n;
}

static void test_parse_defaults_and_counts(void)
{
	struct udk_eal_args a;

	unsetenv("UDK_LOG_LEVEL");
	CU_ASSERT_EQUAL(parse(&a, NULL), 1);
	CU_ASSERT_EQUAL(a.nb_lcores, 0);
	CU_ASSERT_EQUAL(a.nb_allow, 0);
	CU_ASSERT_EQUAL(a.total_mem, 0);
	CU_ASSERT_PTR_NULL(a.huge_dir);
	CU_ASSERT_FALSE(a.no_huge);
	CU_ASSERT_FALSE(a.help);
	CU_ASSERT_EQUAL(a.log_level, UDK_LOG_NOTICE);
	CU_ASSERT_EQUAL(a.backend, UDK_DMAMAP_AUTO);

	/* Counts include argv[0] and the "--". */
	CU_ASSERT_EQUAL(parse(&a, "--no-huge", NULL), 2);
	CU_ASSERT_EQUAL(parse(&a, "--no-huge", "--", NULL), 3);
	CU_ASSERT_EQUAL(parse(&a, "--no-huge", "--", "-x", "--weird", NULL), 3);
	CU_ASSERT_EQUAL(parse(&a, "--", "--no-huge", NULL), 2);
	CU_ASSERT_FALSE(a.no_huge);
	CU_ASSERT_EQUAL(parse(&a, "-m", "64", "--no-huge", "--", "app", NULL), 5);
	/* The first plain argument ends the EAL options too. */
	CU_ASSERT_EQUAL(parse(&a, "--no-huge", "file.txt", "--no-huge", NULL), 2);
	CU_ASSERT_EQUAL(parse(&a, "-", NULL), 1);

	/* UDK_LOG_LEVEL is the default; --log-level wins over it. */
	setenv("UDK_LOG_LEVEL", "debug", 1);
	CU_ASSERT_EQUAL(parse(&a, NULL), 1);
	CU_ASSERT_EQUAL(a.log_level, UDK_LOG_DEBUG);
	CU_ASSERT_EQUAL(parse(&a, "--log-level", "warn", NULL), 3);
	CU_ASSERT_EQUAL(a.log_level, UDK_LOG_WARN);
	setenv("UDK_LOG_LEVEL", "loud", 1);
	CU_ASSERT_EQUAL(parse(&a, NULL), -UDK_EARGS);
	ERR_IS("eal: UDK_LOG_LEVEL: 'loud' is not a log level (expected err, warn, notice, info, "
	       "debug or 1-5)");
	setenv("UDK_LOG_LEVEL", "err", 1);
}

static void test_parse_lcores(void)
{
	struct udk_eal_args a;
	unsigned int cpus[2];

	CU_ASSERT_EQUAL(parse(&a, "-l", "0", NULL), 3);
	CU_ASSERT_EQUAL(a.nb_lcores, 1);
	CU_ASSERT_EQUAL(a.lcore_cpu[0], 0);
	CU_ASSERT_EQUAL(parse(&a, "-l0", NULL), 2);
	CU_ASSERT_EQUAL(a.nb_lcores, 1);
	CU_ASSERT_EQUAL(parse(&a, "--lcores=0", NULL), 2);
	CU_ASSERT_EQUAL(parse(&a, "--lcores", "0-0", NULL), 3);
	CU_ASSERT_EQUAL(a.nb_lcores, 1);
	if (usable_cpus(cpus, 2)) {
		char list[32];

		snprintf(list, sizeof(list), "%u,%u", cpus[1], cpus[0]);
		CU_ASSERT_EQUAL(parse(&a, "-l", list, NULL), 3);
		CU_ASSERT_EQUAL(a.nb_lcores, 2);
		CU_ASSERT_EQUAL(a.lcore_cpu[0], cpus[1]);
		CU_ASSERT_EQUAL(a.lcore_cpu[1], cpus[0]);
	}

	CU_ASSERT_EQUAL(parse(&a, "-l", "0-x", NULL), -UDK_EARGS);
	ERR_IS("eal: -l: '0-x' is not a core list (expected e.g. 0-3,5)");
	CU_ASSERT_EQUAL(parse(&a, "--lcores", "", NULL), -UDK_EARGS);
	ERR_IS("eal: --lcores: '' is not a core list (expected e.g. 0-3,5)");
	CU_ASSERT_EQUAL(parse(&a, "-l", "0,", NULL), -UDK_EARGS);
	ERR_IS("eal: -l: '0,' is not a core list (expected e.g. 0-3,5)");
	CU_ASSERT_EQUAL(parse(&a, "-l", "0;1", NULL), -UDK_EARGS);
	CU_ASSERT_EQUAL(parse(&a, "-l", "1-0", NULL), -UDK_EARGS);
	ERR_IS("eal: -l: '1-0': range 1-0 runs backwards (expected e.g. 0-3,5)");
	CU_ASSERT_EQUAL(parse(&a, "-l", "0,0", NULL), -UDK_EARGS);
	ERR_IS("eal: -l: CPU 0 is listed twice in '0,0'");
	CU_ASSERT_EQUAL(parse(&a, "-l", "5000", NULL), -UDK_EARGS);
	ERR_IS("eal: -l: CPU 5000 is out of range (at most 1023)");
	if (sysconf(_SC_NPROCESSORS_CONF) < 1000) {
		CU_ASSERT_EQUAL(parse(&a, "-l", "1000", NULL), -UDK_EARGS);
		ERR_HAS("eal: -l: CPU 1000 is not online or not available to this process");
	}
	CU_ASSERT_EQUAL(parse(&a, "-l", NULL), -UDK_EARGS);
	ERR_IS("eal: -l: missing LIST");
}

static void test_parse_allow(void)
{
	struct udk_eal_args a;

	CU_ASSERT_EQUAL(parse(&a, "-a", "0000:03:00.1", "--allow", "04:1f.7", "-a0001:00:02.0",
			      NULL), 6);
	CU_ASSERT_EQUAL(a.nb_allow, 3);
	CU_ASSERT_EQUAL(a.allow[0].bus, 3);
	CU_ASSERT_EQUAL(a.allow[0].func, 1);
	CU_ASSERT_EQUAL(a.allow[1].domain, 0);
	CU_ASSERT_EQUAL(a.allow[1].dev, 0x1f);
	CU_ASSERT_EQUAL(a.allow[2].domain, 1);

	CU_ASSERT_EQUAL(parse(&a, "-a", "12345", NULL), -UDK_EARGS);
	ERR_IS("eal: -a: '12345' is not a PCI address (expected e.g. 0000:03:00.1 or 03:00.1)");
	CU_ASSERT_EQUAL(parse(&a, "--allow", "00:20.0", NULL), -UDK_EARGS);
	ERR_IS("eal: --allow: '00:20.0' is not a PCI address (expected e.g. 0000:03:00.1 or "
	       "03:00.1)");
	CU_ASSERT_EQUAL(parse(&a, "-a", "03:00.1", "-a", "0000:03:00.1", NULL), -UDK_EARGS);
	ERR_IS("eal: -a: device 0000:03:00.1 is given twice");
	CU_ASSERT_EQUAL(parse(&a, "--allow", NULL), -UDK_EARGS);
	ERR_IS("eal: --allow: missing BDF");
}

static void test_parse_mem(void)
{
	struct udk_eal_args a;

	CU_ASSERT_EQUAL(parse(&a, "-m", "512", NULL), 3);
	CU_ASSERT_EQUAL(a.total_mem, 512 * MIB);
	CU_ASSERT_EQUAL(a.socket_mem[0], 0);
	CU_ASSERT_EQUAL(parse(&a, "--socket-mem", "512,256", NULL), 3);
	CU_ASSERT_EQUAL(a.total_mem, 0);
	CU_ASSERT_EQUAL(a.socket_mem[0], 512 * MIB);
	CU_ASSERT_EQUAL(a.socket_mem[1], 256 * MIB);
	CU_ASSERT_EQUAL(a.socket_mem[2], 0);
	CU_ASSERT_EQUAL(parse(&a, "--socket-mem=0,64", NULL), 2);
	CU_ASSERT_EQUAL(a.socket_mem[0], 0);
	CU_ASSERT_EQUAL(a.socket_mem[1], 64 * MIB);
	/* The last -m wins. */
	CU_ASSERT_EQUAL(parse(&a, "-m", "1,1", "-m", "8", NULL), 5);
	CU_ASSERT_EQUAL(a.total_mem, 8 * MIB);
	CU_ASSERT_EQUAL(a.socket_mem[0], 0);

	CU_ASSERT_EQUAL(parse(&a, "-m", "lots", NULL), -UDK_EARGS);
	ERR_IS("eal: -m: 'lots' is not a memory size (expected MiB, e.g. 512, or MiB per NUMA "
	       "node, e.g. 512,512)");
	CU_ASSERT_EQUAL(parse(&a, "-m", "512M", NULL), -UDK_EARGS);
	CU_ASSERT_EQUAL(parse(&a, "-m", "512,", NULL), -UDK_EARGS);
	CU_ASSERT_EQUAL(parse(&a, "-m", "-5", NULL), -UDK_EARGS);
	CU_ASSERT_EQUAL(parse(&a, "-m", "99999999999999999999", NULL), -UDK_EARGS);
	CU_ASSERT_EQUAL(parse(&a, "-m", "0", NULL), -UDK_EARGS);
	ERR_IS("eal: -m: '0' is not a memory size (expected more than 0 MiB)");
	CU_ASSERT_EQUAL(parse(&a, "-m", "1,1,1,1,1,1,1,1,1", NULL), -UDK_EARGS);
	ERR_IS("eal: -m: '1,1,1,1,1,1,1,1,1' names more than 8 NUMA nodes");
}

static void test_parse_other_options(void)
{
	struct udk_eal_args a;

	CU_ASSERT_EQUAL(parse(&a, "--huge-dir", "/mnt/huge", "--no-huge", NULL), 4);
	CU_ASSERT_STRING_EQUAL(a.huge_dir, "/mnt/huge");
	CU_ASSERT_TRUE(a.no_huge);
	CU_ASSERT_EQUAL(parse(&a, "--huge-dir=/dev/hugepages", NULL), 2);
	CU_ASSERT_STRING_EQUAL(a.huge_dir, "/dev/hugepages");
	CU_ASSERT_EQUAL(parse(&a, "--huge-dir", "", NULL), -UDK_EARGS);
	ERR_IS("eal: --huge-dir: '' is not a directory (expected the path of a hugetlbfs mount)");

	CU_ASSERT_EQUAL(parse(&a, "--log-level", "debug", NULL), 3);
	CU_ASSERT_EQUAL(a.log_level, UDK_LOG_DEBUG);
	CU_ASSERT_EQUAL(parse(&a, "--log-level=2", NULL), 2);
	CU_ASSERT_EQUAL(a.log_level, UDK_LOG_WARN);
	CU_ASSERT_EQUAL(parse(&a, "--log-level", "loud", NULL), -UDK_EARGS);
	ERR_IS("eal: --log-level: 'loud' is not a log level (expected err, warn, notice, info, "
	       "debug or 1-5)");

	CU_ASSERT_EQUAL(parse(&a, "--iommu-backend", "type1", NULL), 3);
	CU_ASSERT_EQUAL(a.backend, UDK_DMAMAP_VFIO_TYPE1);
	CU_ASSERT_EQUAL(parse(&a, "--iommu-backend=iommufd", NULL), 2);
	CU_ASSERT_EQUAL(a.backend, UDK_DMAMAP_IOMMUFD);
	CU_ASSERT_EQUAL(parse(&a, "--iommu-backend", "auto", NULL), 3);
	CU_ASSERT_EQUAL(a.backend, UDK_DMAMAP_AUTO);
	CU_ASSERT_EQUAL(parse(&a, "--iommu-backend", "type2", NULL), -UDK_EARGS);
	ERR_IS("eal: --iommu-backend: 'type2' is not an IOMMU backend (expected auto, type1 or "
	       "iommufd)");

	CU_ASSERT_EQUAL(parse(&a, "-h", NULL), 2);
	CU_ASSERT_TRUE(a.help);
	CU_ASSERT_EQUAL(parse(&a, "--help", "--", NULL), 3);
	CU_ASSERT_TRUE(a.help);

	CU_ASSERT_EQUAL(parse(&a, "--no-huge=yes", NULL), -UDK_EARGS);
	ERR_IS("eal: --no-huge=yes: takes no value");
	CU_ASSERT_EQUAL(parse(&a, "--bogus", NULL), -UDK_EARGS);
	ERR_HAS("eal: --bogus: unknown EAL option");
	CU_ASSERT_EQUAL(parse(&a, "--no-huge", "-x", "--", NULL), -UDK_EARGS);
	ERR_HAS("eal: -x: unknown EAL option");
	CU_ASSERT_EQUAL(parse(&a, "--lcoresx=1", NULL), -UDK_EARGS);
	ERR_HAS("eal: --lcoresx=1: unknown EAL option");
}

/* The options a DPDK user types: taken with DPDK's meaning where udk has
 * one, else refused with one line naming udk's way. */
static void test_parse_dpdk_habits(void)
{
	struct udk_eal_args a;
	unsigned int cpus[2];
	char mask[300];

	/* -c COREMASK: the same lcores as -l with the set bits, ascending. */
	CU_ASSERT_EQUAL(parse(&a, "-c", "0x1", NULL), 3);
	CU_ASSERT_EQUAL(a.nb_lcores, 1);
	CU_ASSERT_EQUAL(a.lcore_cpu[0], 0);
	CU_ASSERT_EQUAL(parse(&a, "-c1", NULL), 2);
	CU_ASSERT_EQUAL(a.nb_lcores, 1);
	CU_ASSERT_EQUAL(parse(&a, "--coremask=0X1", NULL), 2);
	CU_ASSERT_EQUAL(a.nb_lcores, 1);
	if (usable_cpus(cpus, 2) && cpus[1] < 64) {
		snprintf(mask, sizeof(mask), "0x%llx", (1ull << cpus[0]) | (1ull << cpus[1]));
		CU_ASSERT_EQUAL(parse(&a, "-c", mask, NULL), 3);
		CU_ASSERT_EQUAL(a.nb_lcores, 2);
		CU_ASSERT_EQUAL(a.lcore_cpu[0], cpus[0]);
		CU_ASSERT_EQUAL(a.lcore_cpu[1], cpus[1]);
	}
	/* Of -l and -c, the last wins. */
	if (usable_cpus(cpus, 2) && cpus[1] < 64) {
		char list[16];

		snprintf(mask, sizeof(mask), "0x%llx", 1ull << cpus[0]);
		snprintf(list, sizeof(list), "%u", cpus[1]);
		CU_ASSERT_EQUAL(parse(&a, "-l", list, "-c", mask, NULL), 5);
		CU_ASSERT_EQUAL(a.nb_lcores, 1);
		CU_ASSERT_EQUAL(a.lcore_cpu[0], cpus[0]);
		CU_ASSERT_EQUAL(parse(&a, "-c", mask, "-l", list, NULL), 5);
		CU_ASSERT_EQUAL(a.nb_lcores, 1);
		CU_ASSERT_EQUAL(a.lcore_cpu[0], cpus[1]);
	}
	CU_ASSERT_EQUAL(parse(&a, "-c", "0x0", NULL), -UDK_EARGS);
	ERR_IS("eal: -c: '0x0' is not a core mask (expected at least one bit set, e.g. 0x1)");
	CU_ASSERT_EQUAL(parse(&a, "-c", "0-3", NULL), -UDK_EARGS);
	ERR_IS("eal: -c: '0-3' is not a core mask (expected hexadecimal, e.g. 0xf for CPUs 0-3, or "
	       "use -l 0-3)");
	CU_ASSERT_EQUAL(parse(&a, "-c", "0x", NULL), -UDK_EARGS);
	ERR_IS("eal: -c: '0x' is not a core mask (expected hexadecimal, e.g. 0xf for CPUs 0-3, or "
	       "use -l 0-3)");
	/* Bit 1024: past CPU_SETSIZE. */
	memset(mask, '0', sizeof(mask));
	mask[0] = '1';
	mask[257] = '\0';
	CU_ASSERT_EQUAL(parse(&a, "-c", mask, NULL), -UDK_EARGS);
	ERR_IS("eal: -c: CPU 1024 is out of range (at most 1023)");
	CU_ASSERT_EQUAL(parse(&a, "-c", NULL), -UDK_EARGS);
	ERR_IS("eal: -c: missing MASK");

	/* --log-level: DPDK's names and "*:LEVEL"; not its component patterns
	 * nor its numbers 6-8. */
	CU_ASSERT_EQUAL(parse(&a, "--log-level", "warning", NULL), 3);
	CU_ASSERT_EQUAL(a.log_level, UDK_LOG_WARN);
	CU_ASSERT_EQUAL(parse(&a, "--log-level=error", NULL), 2);
	CU_ASSERT_EQUAL(a.log_level, UDK_LOG_ERR);
	CU_ASSERT_EQUAL(parse(&a, "--log-level=crit", NULL), 2);
	CU_ASSERT_EQUAL(a.log_level, UDK_LOG_ERR);
	CU_ASSERT_EQUAL(parse(&a, "--log-level", "*:debug", NULL), 3);
	CU_ASSERT_EQUAL(a.log_level, UDK_LOG_DEBUG);
	CU_ASSERT_EQUAL(parse(&a, "--log-level", ".*:info", NULL), 3);
	CU_ASSERT_EQUAL(a.log_level, UDK_LOG_INFO);
	CU_ASSERT_EQUAL(parse(&a, "--log-level", "*:4", NULL), 3);
	CU_ASSERT_EQUAL(a.log_level, UDK_LOG_INFO);
	CU_ASSERT_EQUAL(parse(&a, "--log-level=lib.eal:debug", NULL), -UDK_EARGS);
	ERR_IS("eal: --log-level: 'lib.eal:debug': udk has no per-component log levels: use "
	       "--log-level LEVEL (for every component)");
	CU_ASSERT_EQUAL(parse(&a, "--log-level", "8", NULL), -UDK_EARGS);
	ERR_IS("eal: --log-level: '8': udk has no DPDK level numbers above 5: use notice, info or "
	       "debug (udk's 1-5 are err to debug)");
	CU_ASSERT_EQUAL(parse(&a, "--log-level", "*:loud", NULL), -UDK_EARGS);
	ERR_IS("eal: --log-level: '*:loud' is not a log level (expected err, warn, notice, info, "
	       "debug or 1-5)");

	/* Refused, each with one line saying what udk does instead. */
	CU_ASSERT_EQUAL(parse(&a, "--iova-mode", "pa", NULL), -UDK_EARGS);
	ERR_IS("eal: --iova-mode: udk has no physical-address mode: IOVAs always come from the map "
	       "(doc/iova.md); drop the option");
	CU_ASSERT_EQUAL(parse(&a, "--iova-mode=va", NULL), -UDK_EARGS);
	ERR_IS("eal: --iova-mode: udk has no virtual-address mode: IOVAs always come from the map "
	       "(doc/iova.md); drop the option");
	CU_ASSERT_EQUAL(parse(&a, "--iova-mode", "dc", NULL), -UDK_EARGS);
	ERR_IS("eal: --iova-mode: 'dc' is not an IOVA mode (expected pa or va, neither of which udk "
	       "has: drop the option)");
	CU_ASSERT_EQUAL(parse(&a, "--main-lcore", "2", "-l", "0-3", NULL), -UDK_EARGS);
	ERR_IS("eal: --main-lcore: udk has no main-lcore option: lcore 0 (the main thread) runs on "
	       "the first CPU of -l; list that CPU first, e.g. -l 2,0-1");
	CU_ASSERT_EQUAL(parse(&a, "--file-prefix=app1", NULL), -UDK_EARGS);
	ERR_IS("eal: --file-prefix: udk has no file prefix: it keeps no runtime files that processes "
	       "could share (pages are unlinked at once); name the telemetry socket with "
	       "--telemetry-path");
	CU_ASSERT_EQUAL(parse(&a, "--no-huge", "--in-memory", NULL), -UDK_EARGS);
	ERR_IS("eal: --in-memory: udk has no in-memory mode to turn on: it keeps no hugepage or "
	       "config files; drop the option (add --no-telemetry for no socket file either)");
}

static void test_usage(void)
{
	char buf[4096] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	udk_eal_usage(f);
	fclose(f);
	const char *opts[] = { "--lcores", "--allow", "--socket-mem", "--huge-dir", "--no-huge",
			       "--log-level", "--iommu-backend", "--help", "-c, --coremask",
			       "--main-lcore, --file-prefix, --in-memory and --iova-mode" };
	for (size_t i = 0; i < UDK_ARRAY_SIZE(opts); i++)
		CU_ASSERT(strstr(buf, opts[i]) != NULL);
}

struct counter {
	int alloc, free;
};

static int count_cb(enum udk_mem_event ev, struct udk_memseg *seg, void *arg)
{
	struct counter *c = arg;

	(void)seg;
	if (ev == UDK_MEM_EVENT_ALLOC)
		c->alloc++;
	else
		c->free++;
	return 0;
}

static void test_init_cleanup(void)
{
	struct udk_dmamap_info info;
	struct counter c = { 0 };
	struct udk_mem_stats st;
	uint64_t iova;
	char *p, *q;

	CU_ASSERT_EQUAL(udk_lcore_id(), UDK_LCORE_ANY);
	CU_ASSERT_EQUAL_FATAL(init("--no-huge", "--", "app-arg", NULL), 3);
	CU_ASSERT_FALSE(udk_eal_help_requested());
	CU_ASSERT_PTR_NOT_NULL(udk_eal_mem());
	CU_ASSERT_PTR_EQUAL(udk_mem_default(), udk_eal_mem());
	CU_ASSERT_PTR_NOT_NULL_FATAL(udk_eal_dmamap());
	CU_ASSERT_EQUAL(udk_eal_nb_devices(), 0);
	CU_ASSERT_PTR_NULL(udk_eal_device(0));
	CU_ASSERT_EQUAL(udk_lcore_count(), 1);
	CU_ASSERT_EQUAL(udk_lcore_id(), 0);
	CU_ASSERT_EQUAL(init("--no-huge", NULL), -EBUSY);

	CU_ASSERT_EQUAL(udk_mem_event_register(udk_eal_mem(), count_cb, &c), 0);
	p = udk_mem_default_zmalloc(100, 0, UDK_SOCKET_ANY);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(c.alloc, 1);
	CU_ASSERT_NOT_EQUAL(udk_virt2iova(p), UDK_IOVA_BAD);
	CU_ASSERT_EQUAL(udk_dmamap_virt2iova(udk_eal_dmamap(), p, &iova), 0);
	CU_ASSERT_EQUAL(iova, udk_virt2iova(p));
	/* Memory registered with the default map translates too. */
	char *ext = malloc(8192);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ext);
	CU_ASSERT_EQUAL(udk_virt2iova(ext + 100), UDK_IOVA_BAD);
	CU_ASSERT_EQUAL(udk_dma_register(udk_eal_dmamap(), ext, 8192), 0);
	CU_ASSERT_EQUAL(udk_dmamap_virt2iova(udk_eal_dmamap(), ext + 100, &iova), 0);
	CU_ASSERT_EQUAL(udk_virt2iova(ext + 100), iova);
	CU_ASSERT_EQUAL(udk_dma_unregister(udk_eal_dmamap(), ext, 8192), 0);
	CU_ASSERT_EQUAL(udk_virt2iova(ext + 100), UDK_IOVA_BAD);
	free(ext);

	/* More than one segment: the growth maps the new one before the
	 * pointer comes back. */
	q = udk_mem_default_zmalloc(4 * MIB, 4096, UDK_SOCKET_ANY);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_EQUAL(c.alloc, 2);
	CU_ASSERT_NOT_EQUAL(udk_virt2iova(q + 4 * MIB - 1), UDK_IOVA_BAD);
	CU_ASSERT_EQUAL(udk_virt2iova(q + 10), udk_virt2iova(q) + 10);
	udk_mem_stats(udk_eal_mem(), &st);
	CU_ASSERT_EQUAL(st.segments, 2);
	CU_ASSERT_EQUAL(udk_dmamap_info(udk_eal_dmamap(), &info), 0);
	CU_ASSERT_EQUAL(info.nb_mappings, 2);
	CU_ASSERT_EQUAL(info.bytes_mapped, st.bytes_reserved);
	udk_mem_default_free(q);
	udk_mem_default_free(p);

	udk_eal_cleanup();
	CU_ASSERT_EQUAL(c.free, 2);
	CU_ASSERT_PTR_NULL(udk_eal_mem());
	CU_ASSERT_PTR_NULL(udk_eal_dmamap());
	CU_ASSERT_PTR_NULL(udk_mem_default());
	CU_ASSERT_EQUAL(udk_lcore_id(), UDK_LCORE_ANY);
	CU_ASSERT_EQUAL(udk_virt2iova(p), UDK_IOVA_BAD);
	udk_eal_cleanup(); /* harmless twice */

	/* And again, from scratch. */
	CU_ASSERT_EQUAL_FATAL(init("--no-huge", "--log-level", "err", NULL), 4);
	p = udk_mem_default_zmalloc(64, 0, 0);
	CU_ASSERT_PTR_NOT_NULL(p);
	CU_ASSERT_NOT_EQUAL(udk_virt2iova(p), UDK_IOVA_BAD);
	udk_eal_cleanup();
}

static void test_init_failures(void)
{
	char dir[] = "/tmp/udk-test-eal-XXXXXX";

	/* A bad option sets nothing up. */
	CU_ASSERT_EQUAL(init("--no-huge", "-l", "zz", NULL), -UDK_EARGS);
	ERR_IS("eal: -l: 'zz' is not a core list (expected e.g. 0-3,5)");
	CU_ASSERT_PTR_NULL(udk_eal_mem());

	/* The memory step fails with its own message, kept as last error. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	CU_ASSERT_EQUAL(init("--huge-dir", dir, NULL), -UDK_ENOHUGE);
	ERR_HAS("not a hugetlbfs mount");
	CU_ASSERT_PTR_NULL(udk_eal_mem());
	rmdir(dir);

	/* The map step: the iommufd backend is refused by lib/dma; memory
	 * made before it is undone. */
	if (init("--no-huge", "--iommu-backend", "iommufd", NULL) < 0) {
		CU_ASSERT_PTR_NULL(udk_eal_mem());
		CU_ASSERT_PTR_NULL(udk_eal_dmamap());
	} else {
		udk_eal_cleanup();
	}

	/* A device that does not exist: everything before it is undone. */
	CU_ASSERT(init("--no-huge", "-a", "0000:ff:1f.7", NULL) < 0);
	CU_ASSERT(udk_last_error()[0] != '\0');
	CU_ASSERT_PTR_NULL(udk_eal_mem());
	CU_ASSERT_PTR_NULL(udk_eal_dmamap());
	CU_ASSERT_EQUAL(udk_lcore_count(), 0);

	/* --help: usage, no setup. */
	CU_ASSERT_EQUAL(init("--help", "--", NULL), 3);
	CU_ASSERT_TRUE(udk_eal_help_requested());
	CU_ASSERT_PTR_NULL(udk_eal_mem());
	udk_eal_cleanup();

	/* After all that, init works. */
	CU_ASSERT_EQUAL_FATAL(init("--no-huge", NULL), 2);
	CU_ASSERT_FALSE(udk_eal_help_requested());
	udk_eal_cleanup();
}

/* Memory that belongs to a map: a second map gets a heap of its own whose
 * segments are mapped into it (and not into the default map), registered
 * memory of that map translates through the heap, and the heap goes with its
 * last reference, unmapping its segments from the map. */
static void test_map_mem(void)
{
	struct udk_dmamap_opts o;
	struct udk_dmamap_info info;
	struct udk_dmamap *b;
	struct udk_mem *mb, *mb2, *md;
	struct udk_mem_stats st;
	uint64_t iova;
	char *p, *ext;

	udk_dmamap_opts_init(&o, sizeof(o));
	o.backend = UDK_DMAMAP_VFIO_TYPE1; /* takes mappings with no device, opens nothing */
	o.name = "B";
	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(&o, &b), 0);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_eal_map_mem_get(b, &mb), -EINVAL);
	ERR_IS("eal: memory for map B: the EAL is not initialised; call udk_eal_init() first");
	CU_ASSERT_EQUAL(udk_eal_map_mem_get(NULL, &mb), -EINVAL);
	CU_ASSERT_EQUAL(udk_eal_device_mem_get(NULL, &mb), -EINVAL);

	CU_ASSERT_EQUAL_FATAL(init("--no-huge", "-m", "8", NULL), 4);
	/* The default map's heap is the EAL's memory; its references are not counted. */
	CU_ASSERT_EQUAL(udk_eal_map_mem_get(udk_eal_dmamap(), &md), 0);
	CU_ASSERT_PTR_EQUAL(md, udk_eal_mem());
	udk_eal_map_mem_put(md);
	CU_ASSERT_PTR_EQUAL(udk_eal_mem_map(md), udk_eal_dmamap());

	CU_ASSERT_EQUAL_FATAL(udk_eal_map_mem_get(b, &mb), 0);
	CU_ASSERT_PTR_NOT_EQUAL(mb, udk_eal_mem());
	CU_ASSERT_EQUAL(udk_eal_map_mem_get(b, &mb2), 0);
	CU_ASSERT_PTR_EQUAL(mb2, mb); /* one heap per map */
	udk_eal_map_mem_put(mb2);
	CU_ASSERT_PTR_EQUAL(udk_eal_mem_map(mb), b);

	p = udk_mem_zmalloc(mb, 4096, 4096, UDK_SOCKET_ANY);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	iova = udk_mem_virt2iova(mb, p);
	CU_ASSERT_NOT_EQUAL(iova, UDK_IOVA_BAD);
	CU_ASSERT_EQUAL(udk_mem_find(mb, p)->iova + (uint64_t)(p - (char *)udk_mem_find(mb, p)->va),
			iova);
	{
		uint64_t in_b = 0;
		CU_ASSERT_EQUAL(udk_dmamap_virt2iova(b, p, &in_b), 0);
		CU_ASSERT_EQUAL(in_b, iova);
		CU_ASSERT_EQUAL(udk_dmamap_virt2iova(udk_eal_dmamap(), p, &in_b), -UDK_ENOTMAPPED);
	}
	CU_ASSERT_EQUAL(udk_virt2iova(p), UDK_IOVA_BAD); /* not the default map's memory */
	udk_mem_stats(mb, &st);
	CU_ASSERT_EQUAL(udk_dmamap_info(b, &info), 0);
	CU_ASSERT_EQUAL(info.nb_mappings, st.segments);
	CU_ASSERT_EQUAL(info.bytes_mapped, st.bytes_reserved);

	/* Memory registered with map B translates through B's heap, not the default's. */
	ext = aligned_alloc(4096, 8192);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ext);
	CU_ASSERT_EQUAL(udk_dma_register(b, ext, 8192), 0);
	CU_ASSERT_EQUAL(udk_dmamap_virt2iova(b, ext + 100, &iova), 0);
	CU_ASSERT_EQUAL(udk_mem_virt2iova(mb, ext + 100), iova);
	CU_ASSERT_EQUAL(udk_virt2iova(ext + 100), UDK_IOVA_BAD);
	CU_ASSERT_EQUAL(udk_dma_unregister(b, ext, 8192), 0);
	free(ext);

	/* The last reference frees the heap and unmaps it from B; B lives on
	 * while somebody holds it (here the test), and a new heap comes next time. */
	udk_mem_free(mb, p);
	udk_eal_map_mem_put(mb);
	CU_ASSERT_EQUAL(udk_dmamap_info(b, &info), 0);
	CU_ASSERT_EQUAL(info.nb_mappings, 0);
	CU_ASSERT_EQUAL(info.bytes_mapped, 0);
	CU_ASSERT_EQUAL_FATAL(udk_eal_map_mem_get(b, &mb), 0);
	p = udk_mem_zmalloc(mb, 64, 0, UDK_SOCKET_ANY);
	CU_ASSERT_PTR_NOT_NULL(p);
	CU_ASSERT_EQUAL(udk_dmamap_info(b, &info), 0);
	CU_ASSERT_EQUAL(info.nb_mappings, 1);
	/* The heap holds B: the creator may let go first. */
	udk_dmamap_put(b);
	CU_ASSERT_PTR_EQUAL(udk_eal_mem_map(mb), b);
	CU_ASSERT_EQUAL(udk_dmamap_info(b, &info), 0);
	udk_mem_free(mb, p);
	udk_eal_map_mem_put(mb); /* frees heap and map */
	udk_eal_cleanup();
}

static void test_init_mem_limit(void)
{
	void *p;

	CU_ASSERT_EQUAL_FATAL(init("--no-huge", "-m", "2", NULL), 4);
	p = udk_mem_default_zmalloc(MIB, 0, 0);
	CU_ASSERT_PTR_NOT_NULL(p);
	CU_ASSERT_PTR_NULL(udk_mem_default_zmalloc(2 * MIB, 0, 0));
	ERR_IS("mem: -m limit of 2 MiB reached: 2 MiB in use, 2 MiB more needed; raise -m");
	udk_mem_default_free(p);
	udk_eal_cleanup();
}

static atomic_int release;

static int on_lcore(void *arg)
{
	unsigned int *out = arg;

	out[0] = udk_lcore_id();
	out[1] = (unsigned int)sched_getcpu();
	while (!atomic_load(&release))
		sched_yield();
	return 42;
}

static void test_lcores(void)
{
	unsigned int cpus[2], seen[2] = { 99, 99 };
	char list[32];

	if (!usable_cpus(cpus, 2)) {
		printf("\n  SKIP: lcore launch needs 2 CPUs, this process has 1\n");
		return;
	}
	snprintf(list, sizeof(list), "%u,%u", cpus[0], cpus[1]);
	CU_ASSERT_EQUAL_FATAL(init("-l", list, "--no-huge", NULL), 4);
	CU_ASSERT_EQUAL(udk_lcore_count(), 2);
	CU_ASSERT_EQUAL(udk_lcore_id(), 0);
	CU_ASSERT_EQUAL((unsigned int)sched_getcpu(), cpus[0]);

	atomic_store(&release, 0);
	CU_ASSERT_EQUAL(udk_lcore_launch(1, on_lcore, seen), 0);
	CU_ASSERT_EQUAL(udk_lcore_launch(1, on_lcore, seen), -EBUSY);
	CU_ASSERT_EQUAL(udk_lcore_launch(0, on_lcore, seen), -EINVAL);
	CU_ASSERT_EQUAL(udk_lcore_launch(2, on_lcore, seen), -EINVAL);
	CU_ASSERT_EQUAL(udk_lcore_wait(2), -EINVAL);
	atomic_store(&release, 1);
	CU_ASSERT_EQUAL(udk_lcore_wait(1), 42);
	CU_ASSERT_EQUAL(seen[0], 1);
	CU_ASSERT_EQUAL(seen[1], cpus[1]);
	/* The lcore takes more work after the first. */
	CU_ASSERT_EQUAL(udk_lcore_launch(1, on_lcore, seen), 0);
	CU_ASSERT_EQUAL(udk_lcore_wait(1), 42);
	udk_eal_cleanup();
	CU_ASSERT_EQUAL(udk_lcore_count(), 0);
	CU_ASSERT_EQUAL(udk_lcore_launch(1, on_lcore, seen), -EINVAL);
}

int main(void)
{
	static const struct unit_test t[] = {
		{"defaults, consumed counts, UDK_LOG_LEVEL", test_parse_defaults_and_counts},
		{"-l/--lcores", test_parse_lcores},
		{"-a/--allow", test_parse_allow},
		{"-m/--socket-mem", test_parse_mem},
		{"other options and unknown ones", test_parse_other_options},
		{"DPDK's options: -c, --log-level forms, refusals", test_parse_dpdk_habits},
		{"usage lists every option", test_usage},
		{"init and cleanup (no-huge), map follows the heap", test_init_cleanup},
		{"init failures undo every step", test_init_failures},
		{"-m limit through init", test_init_mem_limit},
		{"memory of a map: a heap per map, references", test_map_mem},
		{"lcore launch and wait", test_lcores},
	};

	unit_quiet_logs();
	return unit_run("eal", t, UDK_ARRAY_SIZE(t));
}
