/* SPDX-License-Identifier: BSD-3-Clause */
/* test_huge.h - what the broker's segment tests need of the host: a
 * hugetlbfs mount (UDK_TEST_HUGE_DIR, else the first in /proc/mounts), its
 * page size, and how many of those pages the pool has free. */
#ifndef UDK_BROKER_TEST_HUGE_H
#define UDK_BROKER_TEST_HUGE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>

#define HUGETLBFS_MAGIC_ 0x958458f6

/* The free pages of the pool of page bytes, or -1. */
static inline long test_huge_free(uint64_t page)
{
	char path[128];
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB/free_hugepages",
		 (unsigned long long)(page >> 10));
	f = fopen(path, "r");
	if (f != NULL) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/* The mount into dir (len bytes) and its page size into page; false if none. */
static inline bool test_huge_find(char *dir, size_t len, uint64_t *page)
{
	const char *env = getenv("UDK_TEST_HUGE_DIR");
	char dev[256], mnt[256], type[64];
	struct statfs sfs;
	FILE *f;

	dir[0] = '\0';
	if (env != NULL) {
		snprintf(dir, len, "%s", env);
	} else {
		f = fopen("/proc/mounts", "r");
		if (f == NULL)
			return false;
		while (fscanf(f, "%255s %255s %63s %*[^\n]", dev, mnt, type) == 3)
			if (strcmp(type, "hugetlbfs") == 0 && dir[0] == '\0')
				snprintf(dir, len, "%s", mnt);
		fclose(f);
	}
	if (dir[0] == '\0' || statfs(dir, &sfs) < 0 ||
	    (unsigned long)sfs.f_type != HUGETLBFS_MAGIC_)
		return false;
	*page = (uint64_t)sfs.f_bsize;
	return true;
}

#endif
