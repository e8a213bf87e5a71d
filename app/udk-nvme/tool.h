/* SPDX-License-Identifier: BSD-3-Clause */
/* tool.h - what the commands of udk-nvme share: the options, the controller
 * they act on, and the error and JSON helpers. */
#ifndef UDK_NVME_TOOL_H
#define UDK_NVME_TOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "udk_nvme.h"

#define PROG "udk-nvme"

struct tool_opts {
	unsigned int ctrlr;   /* --ctrlr: index among the -a devices */
	uint32_t nsid;        /* --ns */
	bool nsid_set;
	uint64_t lba;         /* --lba */
	uint64_t count;       /* --count (blocks), 0: not given */
	const char *file;     /* --file */
	int lbaf;             /* --lbaf, -1: keep the current one */
	int ses;              /* --ses */
	uint32_t entries;     /* --entries */
	bool yes;             /* --yes */
	bool json;            /* --json */
};

struct tool {
	struct tool_opts o;
	struct udk_nvme_ctrlr *ctrlr;
	struct udk_nvme_ctrlr_info info;
};

/* "udk-nvme: <message>" on stderr; returns 1 (the exit code). */
int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A JSON string, quoted and escaped. */
void json_str(FILE *f, const char *s);

/* The namespace --ns names (default 1), or die()s. */
int tool_ns(struct tool *t, struct udk_nvme_ns **ns, struct udk_nvme_ns_info *ni);

int cmd_identify(struct tool *t);
/* Needs no EAL and no controller: every NVMe controller sysfs shows. */
int cmd_list(struct tool *t);
int cmd_smart_log(struct tool *t);
int cmd_error_log(struct tool *t);
int cmd_read(struct tool *t);
int cmd_write(struct tool *t);
int cmd_format(struct tool *t);

#endif
