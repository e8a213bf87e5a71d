/* SPDX-License-Identifier: BSD-3-Clause */
/* segment.c - one segment of a client's memory: a sealed hugetlb memfd the
 * broker zeroes and hands to the client as an fd, and gives back at
 * eviction.  Mapping it into the user's IOMMU map is session.c's part.
 *
 * The client holds the fd, so anything the fd allows it may do while the
 * broker still maps the file.  The seals take away what would hurt the
 * broker or other users: shrinking (the broker's next touch of a truncated
 * page is a SIGBUS) and growing (hugepages past the policy's 'mem').  What
 * the seals leave open, punching a hole, takes pages out of mappings: the
 * broker's mapping loses them for good (nothing the client does puts them
 * back), which is how bseg_hole() sees it; so after the fd has left, the
 * broker never reads or writes the memory. */
#include <errno.h>
#include <fcntl.h>
#include <linux/memfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "broker.h"
#include "udk_util.h"

#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

int bseg_create(struct bseg *g, const char *huge_dir, uint64_t page_size, uint64_t len,
		uid_t uid, char *why, size_t wlen)
{
	char name[48];
	int rc;

	/* A memfd, not a file in huge_dir: a hugetlbfs file cannot be sealed
	 * (the kernel makes it with F_SEAL_SEAL).  The page size is the
	 * mount's, as a memfd flag (log2 of the size). */
	snprintf(name, sizeof(name), "udk-broker-uid%u", (unsigned int)uid);
	g->fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB |
				   ((unsigned int)__builtin_ctzll(page_size) << MFD_HUGE_SHIFT));
	if (g->fd < 0) {
		rc = -errno;
		snprintf(why, wlen, "cannot create a segment of %llu kB pages: memfd_create: %s",
			 (unsigned long long)(page_size >> 10), strerror(errno));
		return rc;
	}
	if (ftruncate(g->fd, (off_t)len) < 0) {
		rc = -errno;
		snprintf(why, wlen, "cannot size a %llu MiB segment: %s",
			 (unsigned long long)(len >> 20), strerror(errno));
		goto err_close;
	}
	if (fcntl(g->fd, F_ADD_SEALS, SEALS) < 0) {
		rc = -errno;
		snprintf(why, wlen, "cannot seal a segment: %s", strerror(errno));
		goto err_close;
	}
	g->va = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, g->fd, 0);
	if (g->va == MAP_FAILED) {
		rc = -errno;
		snprintf(why, wlen, "no %llu MiB of free %llu kB hugepages (%s; %s is their "
			 "mount); reserve more (/proc/sys/vm/nr_hugepages)",
			 (unsigned long long)(len >> 20), (unsigned long long)(page_size >> 10),
			 strerror(errno), huge_dir);
		goto err_close;
	}
	/* Zeroed by the broker, whatever the kernel did: the client sees no
	 * byte it did not write.  The last time the broker touches it. */
	memset(g->va, 0, len);
	g->len = len;
	g->page_size = page_size;
	/* Every page is in the broker's mapping now, or a client would be
	 * taken for one that punched a hole. */
	rc = bseg_hole(g, NULL);
	if (rc != 0) {
		if (rc > 0)
			rc = -EFAULT;
		snprintf(why, wlen, "a new %llu MiB segment is not all in memory: %s",
			 (unsigned long long)(len >> 20), strerror(-rc));
		munmap(g->va, len);
		goto err_close;
	}
	return 0;

err_close:
	close(g->fd);
	return rc;
}

int bseg_hole(const struct bseg *g, uint64_t *off)
{
	/* mincore() on a hugetlb mapping reports each page table entry: the
	 * broker's entries were all made at creation (MAP_POPULATE, then the
	 * memset) and only a punched hole clears one.  A client that touches
	 * the hole again gets a fresh page in its own mapping and in the
	 * file, not in the broker's, so the file's size in blocks (st_blocks)
	 * would be whole again and SEEK_HOLE never sees a hole on hugetlbfs;
	 * this does. */
	unsigned char vec[4096];
	size_t small = (size_t)sysconf(_SC_PAGESIZE), chunk = sizeof(vec) * small;

	for (size_t at = 0; at < g->len; at += chunk) {
		size_t n = g->len - at < chunk ? g->len - at : chunk;

		if (mincore((char *)g->va + at, n, vec) < 0)
			return -errno;
		for (size_t i = 0; i < (n + small - 1) / small; i++) {
			if (!(vec[i] & 1)) {
				if (off != NULL)
					*off = at + i * small;
				return 1;
			}
		}
	}
	return 0;
}

void bseg_release(struct bseg *g, uid_t uid)
{
	/* No scrub through the broker's mapping: the client may have punched
	 * holes, and where the pool is empty touching one is a SIGBUS.
	 * Punching the whole file instead takes every page out of every
	 * mapping (a copy of the fd the client kept included) and back to the
	 * pool; the kernel zeroes a hugepage before it maps it again, and
	 * bseg_create zeroes every new segment.  The seals do not forbid it
	 * (only F_SEAL_WRITE would). */
	if (fallocate(g->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)g->len) < 0)
		blog("uid %u: freeing a segment's pages: %s", (unsigned int)uid, strerror(errno));
	munmap(g->va, g->len);
	close(g->fd);
}
