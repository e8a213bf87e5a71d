/* SPDX-License-Identifier: BSD-3-Clause */
/* list.c - udk-nvme list: every NVMe controller of the machine and, for those
 * the kernel drives, their namespaces, as nvme-cli's `nvme list` shows them;
 * all from sysfs, so it needs no EAL, no root and no device bound to
 * vfio-pci.  A controller on vfio-pci shows no namespaces (only opening it
 * can tell: `udk-nvme -a BDF identify`). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "udk_pci.h"
#include "udk_util.h"

#define NVME_CLASS 0x010802 /* mass storage, non-volatile memory, NVMe */

struct list_ctx {
	bool json;
	unsigned int nctrl;
};

/* sysfs attribute dir/name into buf ("" when absent). */
static void attr(const char *dir, const char *name, char *buf, size_t len)
{
	char path[1024];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
	    udk_sysfs_read(path, buf, len) < 0)
		buf[0] = '\0';
}

/* The block device of a namespace directory: nvme0n1 as is; nvme0c1n1 (a
 * path of a multipath namespace) is the disk nvme0n1 of subsystem 0. */
static bool ns_disk(const char *ent, char *disk, size_t len)
{
	unsigned int a, b, c;
	char tail;

	if (sscanf(ent, "nvme%un%u%c", &a, &c, &tail) == 2)
		return snprintf(disk, len, "nvme%un%u", a, c) > 0;
	if (sscanf(ent, "nvme%uc%un%u%c", &a, &b, &c, &tail) == 3)
		return snprintf(disk, len, "nvme%un%u", a, c) > 0;
	return false;
}

static void print_ns(struct list_ctx *x, const char *cdir, const char *ent, bool *first)
{
	char dir[1024], disk[64], nsid[32], size[32], lbs[32];
	unsigned long long sectors, block;

	if (!ns_disk(ent, disk, sizeof(disk)))
		return;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", cdir, ent) >= sizeof(dir))
		return;
	attr(dir, "nsid", nsid, sizeof(nsid));
	if (nsid[0] == '\0')
		snprintf(nsid, sizeof(nsid), "%s", strrchr(disk, 'n') + 1);
	attr(dir, "size", size, sizeof(size));
	attr(dir, "queue/logical_block_size", lbs, sizeof(lbs));
	sectors = strtoull(size, NULL, 10);
	block = strtoull(lbs, NULL, 10);
	if (x->json) {
		printf("%s{\"nsid\":%s,\"device\":\"/dev/%s\",\"bytes\":%llu,\"block_size\":%llu}",
		       *first ? "" : ",", nsid, disk, sectors * 512, block);
	} else {
		printf("  /dev/%-12s namespace %-4s %10.2f GB, %llu-byte blocks\n", disk, nsid,
		       (double)sectors * 512 / 1e9, block);
	}
	*first = false;
}

/* The namespaces of controller directory cdir, in name order. */
static void list_ns(struct list_ctx *x, const char *cdir)
{
	struct dirent **ents;
	bool first = true;
	int n = scandir(cdir, &ents, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		print_ns(x, cdir, ents[i]->d_name, &first);
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
}

static int one(const struct udk_pci_info *info, void *arg)
{
	struct list_ctx *x = arg;
	char bdf[UDK_PCI_ADDR_STRLEN], cdir[1024], ctrl[64] = "", model[128] = "", serial[64] = "";
	char fw[32] = "";
	DIR *d;

	if (info->class_code != NVME_CLASS)
		return 0;
	udk_pci_addr_format(&info->addr, bdf, sizeof(bdf));
	/* The kernel's controller, when nvme drives it: .../BDF/nvme/nvmeN. */
	snprintf(cdir, sizeof(cdir), "%s/bus/pci/devices/%s/nvme", udk_sysfs_root(), bdf);
	d = opendir(cdir);
	if (d != NULL) {
		struct dirent *e;

		while ((e = readdir(d)) != NULL)
			if (strncmp(e->d_name, "nvme", 4) == 0 &&
			    (size_t)snprintf(ctrl, sizeof(ctrl), "%s", e->d_name) < sizeof(ctrl))
				break;
		closedir(d);
	}
	if (ctrl[0]) {
		size_t l = strlen(cdir);

		snprintf(cdir + l, sizeof(cdir) - l, "/%s", ctrl);
		attr(cdir, "model", model, sizeof(model));
		attr(cdir, "serial", serial, sizeof(serial));
		attr(cdir, "firmware_rev", fw, sizeof(fw));
	}
	if (x->json) {
		printf("%s{\"bdf\":\"%s\",\"driver\":", x->nctrl ? "," : "", bdf);
		json_str(stdout, info->driver);
		printf(",\"controller\":");
		json_str(stdout, ctrl);
		printf(",\"model\":");
		json_str(stdout, model);
		printf(",\"serial\":");
		json_str(stdout, serial);
		printf(",\"firmware\":");
		json_str(stdout, fw);
		printf(",\"namespaces\":[");
		if (ctrl[0])
			list_ns(x, cdir);
		printf("]}");
	} else {
		printf("%-12s %-10s %-10s %-20s %-40s %s\n", bdf,
		       info->driver[0] ? info->driver : "(none)", ctrl[0] ? ctrl : "-",
		       serial[0] ? serial : "-", model[0] ? model : "-", fw[0] ? fw : "-");
		if (ctrl[0])
			list_ns(x, cdir);
		else if (!strcmp(info->driver, "vfio-pci"))
			printf("  on vfio-pci: its namespaces show only through udk ("
			       PROG " -a %s identify)\n", bdf);
	}
	x->nctrl++;
	return 0;
}

int cmd_list(struct tool *t)
{
	struct list_ctx x = {.json = t->o.json};
	int rc;

	if (x.json)
		printf("{\"controllers\":[");
	else
		printf("%-12s %-10s %-10s %-20s %-40s %s\n", "BDF", "DRIVER", "KERNEL", "SERIAL",
		       "MODEL", "FIRMWARE");
	rc = udk_pci_scan(one, &x);
	if (x.json)
		printf("]}\n");
	else if (x.nctrl == 0)
		printf("no NVMe controller (PCI class 010802) on this machine\n");
	if (rc < 0)
		return die("list: %s", udk_last_error());
	return 0;
}
