/* SPDX-License-Identifier: BSD-3-Clause */
/* main.c - udk-devbind: show PCI devices as udk sees them, bind them to
 * vfio-pci and back, diagnose a host (doctor.c) and identify devices through
 * VFIO (probe.c).  Library errors reach stderr through a log sink with the
 * program's prefix. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devbind.h"
#include "tool_args.h"
#include "udk_util.h"

#ifndef UDK_VERSION
#define UDK_VERSION "unknown"
#endif

static const char usage[] =
	"usage: " PROG " [status] [--all] [--json]\n"
	"       " PROG " bind [--force] BDF...\n"
	"       " PROG " unbind BDF...\n"
	"       " PROG " doctor [--json] [BDF...]\n"
	"       " PROG " probe [--json] [--bind [--force]] [--no-dma] BDF...\n"
	"       " PROG " hugepages COUNT [--size 2M|1G] [--node N]\n"
	"       " PROG " -s | -b vfio-pci BDF... | -u BDF...   (dpdk-devbind's spelling)\n"
	"\n"
	"Show, bind and check PCI devices for udk (VFIO).\n"
	"\n"
	"commands:\n"
	"  status        NICs (class 02), NVMe (0108) and devices on vfio-pci, with\n"
	"                driver, IOMMU group, NUMA node and the kernel's interface or\n"
	"                block device names; says what makes the group\n"
	"                of a vfio-pci device not viable (the default command)\n"
	"  bind          bind each BDF to vfio-pci (driver_override, unbind, probe);\n"
	"                refuses a device the machine uses (a mounted, swapping or\n"
	"                held disk, an interface with an address or the default route)\n"
	"  unbind        give each BDF back to its kernel driver\n"
	"  doctor        check IOMMU, VFIO, limits, hugepages and the given devices\n"
	"                (every vfio-pci device when none is given); one line per\n"
	"                check with OK, WARN or FAIL and the fix\n"
	"  probe         open each BDF through VFIO (a private map) and identify it:\n"
	"                config space, capabilities, BARs, IOMMU group and map, and\n"
	"                the device's registers (NVMe: CAP/VS and Identify; e1000/e1000e:\n"
	"                MAC and link; virtio: features, ACCESS_PLATFORM, MAC)\n"
	"  hugepages     reserve COUNT hugepages (default 2M pages; --node N: on that\n"
	"                NUMA node) and say how many the kernel gave (as root)\n"
	"\n"
	"options:\n"
	"  -a, --all     status: every PCI device\n"
	"  -j, --json    status, doctor, probe: machine-readable output\n"
	"  -s, --status  status;  -u, --unbind BDF...: unbind\n"
	"  -b, --bind vfio-pci BDF...: bind (dpdk-devbind's -b DRIVER; udk binds\n"
	"                to vfio-pci only)\n"
	"  -b, --bind    probe: bind each device to vfio-pci first (it stays bound)\n"
	"      --no-dma  probe: read registers only; never enable an NVMe controller\n"
	"  -f, --force   bind, probe --bind: bind a device the machine uses anyway\n"
	"  -h, --help    this text\n"
	"  -V, --version the version\n"
	"\n"
	"BDF is DDDD:BB:DD.F or BB:DD.F (hex).  Exit status: 0 success, 1 failure,\n"
	"2 bad usage or address.  UDK_SYSFS_ROOT points the tool at another sysfs.\n";

/* Is word, after -b, dpdk-devbind's DRIVER (-b vfio-pci BDF) rather than
 * probe's flag followed by an address or a command? */
static bool names_driver(const char *word)
{
	static const char *const cmds[] = {"status", "bind", "unbind", "doctor", "probe",
					   "hugepages"};

	if (word[0] == '-' || (strchr(word, ':') != NULL && strchr(word, '.') != NULL))
		return false;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(word, cmds[i]) == 0)
			return false;
	return true;
}

static void print_usage(FILE *f)
{
	fputs(usage, f);
}

void errmsg(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void log_sink(int level, const char *component, const char *msg, void *arg)
{
	(void)component;
	(void)arg;
	fprintf(stderr, PROG ": %s%s\n", level == UDK_LOG_WARN ? "warning: " : "", msg);
}

static const char *kind_of(const struct udk_pci_info *info)
{
	if ((info->class_code >> 16) == 0x02)
		return "net";
	if ((info->class_code >> 8) == 0x0108)
		return "nvme";
	return "other";
}

struct status_ctx {
	bool all, json;
	int count;
	int err;
};

void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* A comma-separated list as a JSON array of strings. */
static void json_list(const char *list)
{
	char buf[256];
	char *save = NULL, *tok;
	bool first = true;

	snprintf(buf, sizeof(buf), "%s", list);
	putchar('[');
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		printf("%s", first ? "" : ", ");
		json_str(tok);
		first = false;
	}
	putchar(']');
}

/* viable: 1 viable, 0 not (blocker filled), -1 not applicable or unknown. */
static int viability(const struct udk_pci_info *info, struct udk_pci_info *blocker)
{
	int rc;

	if (strcmp(info->driver, "vfio-pci") != 0 || info->iommu_group < 0)
		return -1;
	rc = udk_pci_group_blocker(info->iommu_group, blocker);
	if (rc < 0)
		return -1;
	return rc == 0;
}

static int status_one(const struct udk_pci_info *info, void *arg)
{
	struct status_ctx *c = arg;
	char bdf[UDK_PCI_ADDR_STRLEN], bbdf[UDK_PCI_ADDR_STRLEN];
	struct udk_pci_info blk;
	struct devbind_names names;
	const char *kind = kind_of(info);
	int viable;

	if (!c->all && strcmp(kind, "other") == 0 && strcmp(info->driver, "vfio-pci") != 0)
		return 0;
	udk_pci_addr_format(&info->addr, bdf, sizeof(bdf));
	viable = viability(info, &blk);
	if (viable == 0)
		udk_pci_addr_format(&blk.addr, bbdf, sizeof(bbdf));
	devbind_kernel_names(bdf, &names);

	if (c->json) {
		printf("%s\n    {\"address\": \"%s\", \"vendor\": \"%04x\", \"device\": \"%04x\", "
		       "\"subsystem_vendor\": \"%04x\", \"subsystem_device\": \"%04x\", "
		       "\"class\": \"%06x\", \"kind\": \"%s\", \"driver\": ",
		       c->count ? "," : "", bdf, info->vendor_id, info->device_id,
		       info->subsys_vendor_id, info->subsys_device_id, info->class_code, kind);
		json_str(info->driver);
		printf(", \"driver_override\": ");
		json_str(info->driver_override);
		printf(", \"iommu_group\": ");
		if (info->iommu_group >= 0)
			printf("%d", info->iommu_group);
		else
			printf("null");
		printf(", \"numa_node\": ");
		if (info->numa_node >= 0)
			printf("%d", info->numa_node);
		else
			printf("null");
		printf(", \"interfaces\": ");
		json_list(names.ifs);
		printf(", \"block_devices\": ");
		json_list(names.disks);
		printf(", \"viable\": %s, \"blocker\": ",
		       viable < 0 ? "null" : viable ? "true" : "false");
		if (viable == 0) {
			printf("{\"address\": \"%s\", \"driver\": ", bbdf);
			json_str(blk.driver);
			printf("}");
		} else {
			printf("null");
		}
		printf("}");
	} else {
		char group[16], node[16], kname[520];

		if (c->count == 0)
			printf("%-12s  %-9s  %-5s  %-14s  %5s  %4s  %s\n", "ADDRESS", "VID:DID", "KIND",
			       "DRIVER", "GROUP", "NODE", "KERNEL NAME");
		snprintf(group, sizeof(group), "%d", info->iommu_group);
		snprintf(node, sizeof(node), "%d", info->numa_node);
		snprintf(kname, sizeof(kname), "%s%s%s", names.ifs,
			 names.ifs[0] && names.disks[0] ? "," : "", names.disks);
		printf("%-12s  %04x:%04x  %-5s  %-14s  %5s  %4s  %s\n", bdf, info->vendor_id,
		       info->device_id, kind, info->driver[0] ? info->driver : "-",
		       info->iommu_group >= 0 ? group : "-", info->numa_node >= 0 ? node : "-",
		       kname[0] ? kname : "-");
		if (viable == 0)
			printf("    group %d not viable: %s is bound to %s\n", info->iommu_group, bbdf,
			       blk.driver);
	}
	c->count++;
	return 0;
}

static int cmd_status(bool all, bool json)
{
	struct status_ctx c = {.all = all, .json = json};
	int rc;

	if (json)
		printf("{\"devices\": [");
	rc = udk_pci_scan(status_one, &c);
	if (json)
		printf("%s]}\n", c.count ? "\n" : "");
	else if (rc == 0 && c.count == 0)
		printf("no %sPCI devices\n", all ? "" : "NIC, NVMe or vfio-pci ");
	return rc < 0 ? EXIT_FAIL : EXIT_OK;
}

static int cmd_bind(bool bind, const struct udk_pci_addr *addrs, int n, bool force)
{
	char bdf[UDK_PCI_ADDR_STRLEN];
	int status = EXIT_OK;

	for (int i = 0; i < n; i++) {
		struct udk_pci_info before, after;
		int rc;

		udk_pci_addr_format(&addrs[i], bdf, sizeof(bdf));
		if (udk_pci_info_get(&addrs[i], &before) < 0 ||
		    (bind && devbind_refuse_in_use("bind", bdf, before.driver, force))) {
			status = EXIT_FAIL;
			continue;
		}
		rc = bind ? udk_pci_bind_vfio(&addrs[i]) : udk_pci_unbind_vfio(&addrs[i]);
		if (rc < 0) {
			status = EXIT_FAIL;
			continue;
		}
		if (udk_pci_info_get(&addrs[i], &after) < 0)
			after.driver[0] = '\0';
		printf("%s: %s -> %s\n", bdf, before.driver[0] ? before.driver : "(none)",
		       after.driver[0] ? after.driver : "(none)");
		if (bind && after.iommu_group >= 0) {
			struct udk_pci_info blk;
			char bbdf[UDK_PCI_ADDR_STRLEN];

			if (udk_pci_group_blocker(after.iommu_group, &blk) == 1) {
				udk_pci_addr_format(&blk.addr, bbdf, sizeof(bbdf));
				errmsg("warning: group %d not viable: %s is bound to %s; bind it to "
				       "vfio-pci too or unbind it", after.iommu_group, bbdf, blk.driver);
			}
		}
	}
	return status;
}

int main(int argc, char **argv)
{
	const char *cmd = NULL;
	struct udk_pci_addr *addrs;
	bool all = false, json = false, bind = false, no_dma = false, force = false;
	bool operands = false;
	const char *hp_count = NULL, *hp_size = NULL, *hp_node = NULL;
	int naddrs = 0, status, level;
	const char *env_level = getenv("UDK_LOG_LEVEL");

	if (tool_help_version(argc, argv, 1, PROG " (udk) " UDK_VERSION, print_usage))
		return EXIT_OK;
	udk_log_set_sink(log_sink, NULL);
	if (env_level != NULL && udk_log_level_parse(env_level, &level) == 0)
		udk_log_set_level(level);

	addrs = calloc((size_t)argc, sizeof(*addrs));
	if (addrs == NULL) {
		errmsg("out of memory");
		return EXIT_FAIL;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0 && !operands) {
			operands = true; /* the rest are the command and addresses */
		} else if (operands || a[0] != '-' || a[1] == '\0') {
			if (cmd == NULL)
				cmd = a;
			else if (strcmp(cmd, "hugepages") == 0 && hp_count == NULL)
				hp_count = a;
			else if (udk_pci_addr_parse(a, &addrs[naddrs]) < 0)
				goto usage_error; /* the library said what is wrong */
			else
				naddrs++;
		} else if (strcmp(a, "-a") == 0 || strcmp(a, "--all") == 0) {
			all = true;
		} else if (strcmp(a, "-j") == 0 || strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "-s") == 0 || strcmp(a, "--status") == 0) {
			cmd = cmd ? cmd : "status"; /* dpdk-devbind's spelling */
		} else if (strcmp(a, "-u") == 0 || strcmp(a, "--unbind") == 0) {
			cmd = cmd ? cmd : "unbind";
		} else if ((strcmp(a, "-b") == 0 || strcmp(a, "--bind") == 0) &&
			   (i + 1 >= argc || !names_driver(argv[i + 1]))) {
			bind = true; /* probe --bind */
		} else if (strcmp(a, "-b") == 0 || strcmp(a, "--bind") == 0 ||
			   strncmp(a, "--bind=", 7) == 0) {
			/* dpdk-devbind's -b DRIVER BDF... */
			const char *drv = a[2] == '\0' || a[6] == '\0' ? argv[++i] : a + 7;

			if (strcmp(drv, "vfio-pci") != 0) {
				errmsg("-b %s: udk-devbind binds to vfio-pci only ('-b vfio-pci BDF', or "
				       "'bind BDF'); 'udk-devbind -u BDF' gives a device back to its "
				       "kernel driver", drv);
				goto usage_error;
			}
			cmd = cmd ? cmd : "bind";
		} else if ((strcmp(a, "--size") == 0 || strcmp(a, "--node") == 0) && i + 1 < argc) {
			*(a[2] == 's' ? &hp_size : &hp_node) = argv[++i]; /* hugepages */
		} else if (strcmp(a, "--no-dma") == 0) {
			no_dma = true;
		} else if (strcmp(a, "-f") == 0 || strcmp(a, "--force") == 0) {
			force = true;
		} else {
			errmsg("unknown option '%s' (see --help)", a);
			goto usage_error;
		}
	}
	if (cmd == NULL)
		cmd = "status";

	if ((hp_size || hp_node) && strcmp(cmd, "hugepages") != 0) {
		errmsg("--size and --node are options of hugepages (see --help)");
		goto usage_error;
	}
	if ((bind || no_dma) && strcmp(cmd, "probe") != 0) {
		errmsg("--bind and --no-dma are options of probe (see --help)");
		goto usage_error;
	}
	if (force && strcmp(cmd, "bind") != 0 && !(bind && strcmp(cmd, "probe") == 0)) {
		errmsg("--force is an option of bind and probe --bind (see --help)");
		goto usage_error;
	}
	if (strcmp(cmd, "status") == 0) {
		if (naddrs > 0) {
			errmsg("status takes no address (see --help)");
			goto usage_error;
		}
		status = cmd_status(all, json);
	} else if (strcmp(cmd, "bind") == 0 || strcmp(cmd, "unbind") == 0) {
		if (naddrs == 0) {
			errmsg("%s needs at least one PCI address (DDDD:BB:DD.F)", cmd);
			goto usage_error;
		}
		if (all || json) {
			errmsg("--all and --json are options of status (see --help)");
			goto usage_error;
		}
		status = cmd_bind(cmd[0] == 'b', addrs, naddrs, force);
	} else if (strcmp(cmd, "hugepages") == 0) {
		if (naddrs > 0 || all || json) {
			errmsg("hugepages takes a COUNT and --size, --node only (see --help)");
			goto usage_error;
		}
		status = cmd_hugepages(hp_count, hp_size, hp_node);
	} else if (strcmp(cmd, "doctor") == 0) {
		status = cmd_doctor(addrs, naddrs, json);
	} else if (strcmp(cmd, "probe") == 0) {
		if (naddrs == 0) {
			errmsg("probe needs at least one PCI address (DDDD:BB:DD.F)");
			goto usage_error;
		}
		if (all) {
			errmsg("--all is an option of status (see --help)");
			goto usage_error;
		}
		status = cmd_probe(addrs, naddrs, json, bind, no_dma, force);
	} else {
		errmsg("unknown command '%s': expected status, bind, unbind, doctor, probe or "
		       "hugepages "
		       "(see --help)", cmd);
		goto usage_error;
	}
	free(addrs);
	return status;

usage_error:
	free(addrs);
	return EXIT_USAGE;
}
