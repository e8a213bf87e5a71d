/* SPDX-License-Identifier: BSD-3-Clause */
/* config.h - udk-nvmf-tgt's configuration: a small line-based file (and the
 * same lines from command-line shortcuts), checked before anything is
 * created.  doc/nvmf.md has the reference. */
#ifndef NVMF_CONFIG_H
#define NVMF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvmf.h"

#define NVMF_MAX_BDEVS 64

struct nvmf_bdev_spec {
	char kind[8]; /* malloc, null, file, nvme */
	char name[64];
	uint64_t mib;
	uint32_t block_size;
	char path[256];
	bool read_only;
	char bdf[16];    /* nvme: the controller, one of the EAL's -a devices */
	uint32_t nsid;   /* nvme: its namespace */
	char where[300]; /* "FILE:LINE" or the option, for messages */
};

struct nvmf_config {
	struct nvmf_bdev_spec bdevs[NVMF_MAX_BDEVS];
	unsigned int nbdevs;
	struct nvmf_subsys *cur; /* the subsystem the next lines belong to */
};

/* Parse one line (comments and blank lines allowed) into cfg and t.  where
 * names it in messages.  0, or -1 with a message in err. */
int nvmf_config_line(struct nvmf_config *cfg, struct nvmf_tgt *t, const char *line, const char *where,
		     char *err, size_t errlen);
/* A bdev from a command-line form, NAME:MIB[:BS] (malloc, null), NAME:PATH
 * (file) or NAME:BDF[,NSID] (nvme), as nvmf_config_line() takes "KIND ...". */
int nvmf_config_bdev_arg(struct nvmf_config *cfg, struct nvmf_tgt *t, const char *kind, const char *arg,
			 const char *where, char *err, size_t errlen);
/* Every line of path: 0, or -1 with the first error in err. */
int nvmf_config_file(struct nvmf_config *cfg, struct nvmf_tgt *t, const char *path, char *err,
		     size_t errlen);
/* Cross-checks once all lines are in (namespaces name known bdevs, each
 * bdev serves one namespace, there is a subsystem); adds the discovery
 * subsystem and the default listener.  0, or -1 with err. */
int nvmf_config_finish(struct nvmf_config *cfg, struct nvmf_tgt *t, char *err, size_t errlen);
/* What the configuration serves, for --check and the start-up log. */
void nvmf_config_print(const struct nvmf_config *cfg, const struct nvmf_tgt *t, void *stream);

#endif
