/* SPDX-License-Identifier: BSD-3-Clause */
/* udk-nvme - an nvme-cli for NVMe controllers driven by udk through VFIO:
 *
 *   udk-nvme [EAL options] COMMAND [options]     e.g. udk-nvme -a 0000:00:03.0 identify
 *
 * Commands: identify, read, write, format, smart-log, error-log.  Results go
 * to stdout (text, or JSON with --json), errors to stderr; exit 0 on success,
 * 1 on failure, 2 on a usage error. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "tool_args.h"
#include "udk_eal.h"
#include "udk_util.h"
#include "udk_version.h"

struct command {
	const char *name;
	int (*fn)(struct tool *t);
	const char *args;
	const char *help;
};

static const struct command commands[] = {
	{"list", cmd_list, "[--json]",
	 "List every NVMe controller of the machine (sysfs), on any driver, with the\n"
	 "namespaces of those the kernel drives (as nvme-cli's 'nvme list'); needs no\n"
	 "EAL option, no root and no device on vfio-pci."},
	{"identify", cmd_identify, "[--ns NSID] [--json]",
	 "Show the controller (Identify Controller) and its active namespaces (Identify\n"
	 "Namespace), or only namespace NSID."},
	{"read", cmd_read, "--lba LBA --count N --file FILE [--ns NSID]",
	 "Read N blocks from LBA into FILE ('-': stdout)."},
	{"write", cmd_write, "--lba LBA --file FILE [--count N] [--ns NSID]",
	 "Write FILE to the namespace from LBA.  N defaults to the file's size in blocks;\n"
	 "a short last block, or a file shorter than N blocks, is padded with zeros."},
	{"format", cmd_format, "--yes [--ns NSID] [--lbaf N] [--ses 0|1|2]",
	 "Format NVM: erase namespace NSID (default 1; 0xffffffff: all) with LBA format N\n"
	 "(default: the current one) and secure erase setting 0 none, 1 user data, 2 crypto."},
	{"smart-log", cmd_smart_log, "[--json]", "Show the SMART / Health Information log (02h)."},
	{"error-log", cmd_error_log, "[--entries N] [--json]",
	 "Show the non-empty entries of the Error Information log (01h), newest first."},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: " PROG " [EAL options] COMMAND [options]\n"
		   "Identify, read, write and format NVMe namespaces through udk (VFIO).\n"
		   "The controller is an -a device of the EAL options (--ctrlr N picks the\n"
		   "N-th when several are given).\n\nCommands:\n");
	for (size_t i = 0; i < UDK_ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].args);
	fprintf(f, "\nCommon options: --ctrlr N, --json (identify, logs), --help, --version\n"
		   "'" PROG " COMMAND --help' describes a command.\n\n");
	udk_eal_usage(f);
}

static void command_usage(FILE *f, const struct command *c)
{
	fprintf(f, "usage: " PROG " [EAL options] %s %s [--ctrlr N]\n%s\n", c->name, c->args,
		c->help);
}

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

void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch > 0x7e)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static int number(const char *opt, const char *v, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long n;

	if (v == NULL)
		return die("%s needs a value (see --help)", opt) + 1;
	errno = 0;
	n = strtoull(v, &end, 0);
	if (errno || end == v || *end != '\0' || v[0] == '-' || n > max)
		return die("%s: '%s' is not a number in 0..%llu", opt, v,
			   (unsigned long long)max) + 1;
	*out = n;
	return 0;
}

/* 0, or the exit code 2 for a usage error. */
static int parse(const struct command *c, int argc, char **argv, struct tool_opts *o)
{
	uint64_t v;

	*o = (struct tool_opts){.nsid = 1, .lbaf = -1, .entries = 0};
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		int rc = 0;

		if (!strcmp(a, "--json") && (c->fn == cmd_identify || c->fn == cmd_smart_log ||
					     c->fn == cmd_error_log || c->fn == cmd_list)) {
			o->json = true;
			continue;
		}
		if (!strcmp(a, "--yes") && c->fn == cmd_format) {
			o->yes = true;
			continue;
		}
		if (!strcmp(a, "--file") && (c->fn == cmd_read || c->fn == cmd_write)) {
			if (val == NULL)
				return die("--file needs a file name") + 1;
			o->file = val;
			i++;
			continue;
		}
		if (!strcmp(a, "--ctrlr") && c->fn != cmd_list)
			rc = number(a, val, UDK_MAX_ALLOW - 1, &v), o->ctrlr = (unsigned int)v;
		else if (!strcmp(a, "--ns") && c->fn != cmd_smart_log && c->fn != cmd_error_log &&
			 c->fn != cmd_list)
			rc = number(a, val, UINT32_MAX, &v), o->nsid = (uint32_t)v, o->nsid_set = true;
		else if (!strcmp(a, "--lba") && (c->fn == cmd_read || c->fn == cmd_write))
			rc = number(a, val, UINT64_MAX, &o->lba);
		else if (!strcmp(a, "--count") && (c->fn == cmd_read || c->fn == cmd_write))
			rc = number(a, val, UINT32_MAX, &o->count);
		else if (!strcmp(a, "--lbaf") && c->fn == cmd_format)
			rc = number(a, val, 15, &v), o->lbaf = (int)v;
		else if (!strcmp(a, "--ses") && c->fn == cmd_format)
			rc = number(a, val, 2, &v), o->ses = (int)v;
		else if (!strcmp(a, "--entries") && c->fn == cmd_error_log)
			rc = number(a, val, 256, &v), o->entries = (uint32_t)v;
		else
			return die("%s: unknown option '%s' (see '" PROG " %s --help')", c->name, a,
				   c->name) + 1;
		if (rc)
			return rc;
		i++;
	}
	if ((c->fn == cmd_read || c->fn == cmd_write) && o->file == NULL)
		return die("%s needs --file FILE", c->name) + 1;
	if (c->fn == cmd_read && o->count == 0)
		return die("read needs --count N (blocks, at least 1)") + 1;
	if (c->fn == cmd_format && !o->yes)
		return die("format erases every block of namespace %u: add --yes to go ahead",
			   o->nsid) + 1;
	return 0;
}

/* Library errors reach the user once, through die() with the step. */
static void log_sink(int level, const char *comp, const char *msg, void *arg)
{
	(void)arg;
	if (level != UDK_LOG_ERR && level <= udk_log_get_level())
		fprintf(stderr, PROG ": %s: %s\n", comp, msg);
}

int tool_ns(struct tool *t, struct udk_nvme_ns **ns, struct udk_nvme_ns_info *ni)
{
	if (udk_nvme_ctrlr_ns(t->ctrlr, t->o.nsid, ns) < 0)
		return die("%s", udk_last_error());
	udk_nvme_ns_info(*ns, ni);
	return 0;
}

int main(int argc, char **argv)
{
	struct udk_eal_args ea;
	const struct command *c = NULL;
	struct tool t = {0};
	int n, rc;

	switch (tool_early_option(argc, argv, 0)) {
	case TOOL_HELP:
		/* The command's usage when the line names one, else the tool's. */
		for (int i = 1; i < argc && c == NULL; i++)
			for (size_t k = 0; k < UDK_ARRAY_SIZE(commands); k++)
				if (!strcmp(argv[i], commands[k].name))
					c = &commands[k];
		if (c != NULL)
			command_usage(stdout, c);
		else
			usage(stdout);
		return 0;
	case TOOL_VERSION:
		puts(PROG " (udk) " UDK_VERSION_STRING);
		return 0;
	case TOOL_RUN:
		break;
	}
	udk_log_set_sink(log_sink, NULL);
	n = udk_eal_parse(argc, argv, &ea);
	if (n < 0)
		return die("%s", udk_last_error()) + 1;
	if (n >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < UDK_ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[n], commands[i].name))
			c = &commands[i];
	if (c == NULL)
		return die("unknown command '%s' (see --help)", argv[n]) + 1;
	rc = parse(c, argc - n - 1, argv + n + 1, &t.o);
	if (rc)
		return rc;
	if (c->fn == cmd_list)
		return cmd_list(&t);

	if (udk_eal_init(n, argv) < 0)
		return die("EAL init failed: %s", udk_last_error());
	if (udk_eal_nb_devices() == 0) {
		udk_eal_cleanup();
		return die("no controller: name it with the EAL option -a BDF (bound to vfio-pci; "
			   "see 'udk-devbind status')") + 1;
	}
	if (t.o.ctrlr >= udk_eal_nb_devices()) {
		udk_eal_cleanup();
		return die("--ctrlr %u: only %zu devices were given with -a", t.o.ctrlr,
			   udk_eal_nb_devices()) + 1;
	}
	if (udk_nvme_ctrlr_attach(udk_eal_device(t.o.ctrlr), NULL, &t.ctrlr) < 0) {
		rc = die("controller: %s", udk_last_error());
		udk_eal_cleanup();
		return rc;
	}
	udk_nvme_ctrlr_info(t.ctrlr, &t.info);
	rc = c->fn(&t);
	udk_nvme_ctrlr_detach(t.ctrlr);
	udk_eal_cleanup();
	return rc;
}
