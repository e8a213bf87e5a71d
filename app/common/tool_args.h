/* SPDX-License-Identifier: BSD-3-Clause */
/* What every udk tool does before anything else: --help and --version
 * anywhere on the line (EAL options, the tool's own, after "--"), before the
 * EAL or any device is touched, so both work on a host with no hugepages,
 * no IOMMU and no devices.  Usage errors exit TOOL_EXIT_USAGE everywhere. */
#ifndef UDK_TOOL_ARGS_H
#define UDK_TOOL_ARGS_H

#include <stdio.h>
#include <string.h>

#define TOOL_EXIT_USAGE 2

enum tool_early { TOOL_RUN, TOOL_HELP, TOOL_VERSION };

/* The first of --help/-h and --version on the line, or TOOL_RUN.  -V counts
 * as --version only where the tool says so (udk-devbind's own -V). */
static inline enum tool_early tool_early_option(int argc, char **argv, int short_version)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return TOOL_HELP;
		if (!strcmp(argv[i], "--version") || (short_version && !strcmp(argv[i], "-V")))
			return TOOL_VERSION;
	}
	return TOOL_RUN;
}

/* The common case: --help prints usage(stdout), --version prints
 * version_line ("udk-fwd (udk) 0.2.0"); true when either was done and the
 * tool exits 0. */
static inline int tool_help_version(int argc, char **argv, int short_version,
				    const char *version_line, void (*usage)(FILE *))
{
	switch (tool_early_option(argc, argv, short_version)) {
	case TOOL_HELP:
		usage(stdout);
		return 1;
	case TOOL_VERSION:
		printf("%s\n", version_line);
		return 1;
	case TOOL_RUN:
		break;
	}
	return 0;
}

#endif
