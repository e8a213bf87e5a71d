/* SPDX-License-Identifier: BSD-3-Clause */
/* hugepages.c - udk-devbind hugepages COUNT: reserve hugepages, what doctor
 * tells a user with none to do (the echo into sysfs, done for them, and
 * checked: the kernel may give fewer than asked when memory is fragmented). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "devbind.h"
#include "udk_util.h"

/* "2M", "2MB", "2048kB", "1G", "1GB": the size in kB, 0 if none of these. */
static unsigned long size_kb(const char *s)
{
	char *end;
	unsigned long n = strtoul(s, &end, 10);

	if (end == s)
		return 0;
	if (!strcmp(end, "kB") || !strcmp(end, "K") || !strcmp(end, "KB"))
		return n;
	if (!strcmp(end, "M") || !strcmp(end, "MB"))
		return n * 1024;
	if (!strcmp(end, "G") || !strcmp(end, "GB"))
		return n * 1024 * 1024;
	return 0;
}

static bool hugetlbfs_mounted(void)
{
	char line[1024], dev[256], dir[512], type[64];
	bool found = false;
	FILE *f = fopen("/proc/mounts", "r");

	if (f == NULL)
		return true; /* cannot tell: say nothing */
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = sscanf(line, "%255s %511s %63s", dev, dir, type) == 3 &&
			strcmp(type, "hugetlbfs") == 0;
	fclose(f);
	return found;
}

int cmd_hugepages(const char *count, const char *size, const char *node)
{
	char dir[512], path[600], val[32], where[32] = "";
	unsigned long kb = size_kb(size ? size : "2M"), want, nodeid = 0;
	uint64_t got = 0;
	struct stat st;
	char *end;
	int rc;

	want = count ? strtoul(count, &end, 10) : 0;
	if (count == NULL || *count == '\0' || *end != '\0' || count[0] == '-' || want > 1u << 24) {
		errmsg("hugepages needs a COUNT, 0..16777216 (e.g. 'udk-devbind hugepages 512')");
		return EXIT_USAGE;
	}
	if (kb == 0) {
		errmsg("--size %s: give the page size as 2M, 1G or 2048kB", size);
		return EXIT_USAGE;
	}
	if (node != NULL) {
		nodeid = strtoul(node, &end, 10);
		if (*node == '\0' || *end != '\0' || node[0] == '-') {
			errmsg("--node %s: not a NUMA node number", node);
			return EXIT_USAGE;
		}
		snprintf(where, sizeof(where), " on node %lu", nodeid);
		snprintf(dir, sizeof(dir), "%s/devices/system/node/node%lu/hugepages/hugepages-%lukB",
			 udk_sysfs_root(), nodeid, kb);
	} else {
		snprintf(dir, sizeof(dir), "%s/kernel/mm/hugepages/hugepages-%lukB",
			 udk_sysfs_root(), kb);
	}
	if (stat(dir, &st) < 0) {
		errmsg("no %lukB hugepages%s: %s does not exist (the sizes this machine has are "
		       "under %s/kernel/mm/hugepages)", kb, where, dir, udk_sysfs_root());
		return EXIT_FAIL;
	}
	snprintf(path, sizeof(path), "%s/nr_hugepages", dir);
	snprintf(val, sizeof(val), "%lu", want);
	rc = udk_sysfs_write(path, val);
	if (rc == -EACCES || rc == -EPERM) {
		errmsg("reserving hugepages needs root (or write access to %s)", path);
		return EXIT_FAIL;
	}
	if (rc < 0 || udk_sysfs_read_u64(path, &got) < 0) {
		errmsg("hugepages: %s", udk_last_error());
		return EXIT_FAIL;
	}
	printf("hugepages-%lukB%s: %llu reserved (asked %lu)\n", kb, where,
	       (unsigned long long)got, want);
	if (got < want) {
		errmsg("the kernel reserved only %llu of %lu %lukB pages%s: memory is too "
		       "fragmented; ask for fewer, or reserve them at boot (hugepages=%lu on the "
		       "kernel command line)", (unsigned long long)got, want, kb, where, want);
		return EXIT_FAIL;
	}
	if (!hugetlbfs_mounted())
		printf("hugetlbfs is not mounted: run 'mkdir -p /dev/hugepages && mount -t "
		       "hugetlbfs nodev /dev/hugepages' (or add it to /etc/fstab)\n");
	return EXIT_OK;
}
