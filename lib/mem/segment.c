/* SPDX-License-Identifier: BSD-3-Clause */
/* segment.c - the memory behind the heaps: one fd-backed segment per growth
 * step, a hugetlbfs file (found through libhugetlbfs) or a memfd with no_huge,
 * placed on a NUMA node.  Also the checks that turn a missing hugepage setup
 * into one line saying what to reserve or mount.
 */
#include <errno.h>
#include <fcntl.h>
#include <hugetlbfs.h>
#include <numa.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "mem_internal.h"
#include "udk_util.h"

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

#define MIB (1024ull * 1024)
#define GIB (1024ull * MIB)
/* Bits in the node masks passed to the mempolicy calls; the kernel wants at
 * least as many as it has possible nodes. */
#define MASK_BITS 1024

void mem_fmt_size(char *buf, size_t len, uint64_t bytes)
{
	if (bytes != 0 && bytes % GIB == 0)
		snprintf(buf, len, "%llu GiB", (unsigned long long)(bytes / GIB));
	else if (bytes % MIB == 0)
		snprintf(buf, len, "%llu MiB", (unsigned long long)(bytes / MIB));
	else if (bytes % 1024 == 0)
		snprintf(buf, len, "%llu kB", (unsigned long long)(bytes / 1024));
	else
		snprintf(buf, len, "%llu bytes", (unsigned long long)bytes);
}

/* The spelling mount(8) takes for pagesize= ("2M", "1G"). */
static void fmt_mount_size(char *buf, size_t len, uint64_t bytes)
{
	if (bytes % GIB == 0)
		snprintf(buf, len, "%lluG", (unsigned long long)(bytes / GIB));
	else if (bytes % MIB == 0)
		snprintf(buf, len, "%lluM", (unsigned long long)(bytes / MIB));
	else
		snprintf(buf, len, "%lluK", (unsigned long long)(bytes / 1024));
}

int mem_node_count(void)
{
	int n;

	if (numa_available() < 0)
		return 1;
	n = numa_max_node() + 1;
	return n > UDK_MAX_NUMA_NODES ? UDK_MAX_NUMA_NODES : n;
}

/* The sysfs folder of one hugepage size, per node when the kernel has node
 * folders (NUMA), else system-wide.  node < 0: always system-wide. */
static void hp_dir(char *buf, size_t len, int node, uint64_t page_size)
{
	unsigned long long kb = page_size / 1024;
	char path[512];

	if (node >= 0) {
		snprintf(path, sizeof(path), "%s/devices/system/node/node%d/hugepages/hugepages-%llukB",
			 udk_sysfs_root(), node, kb);
		if (access(path, F_OK) == 0) {
			snprintf(buf, len, "%s", path);
			return;
		}
	}
	snprintf(buf, len, "%s/kernel/mm/hugepages/hugepages-%llukB", udk_sysfs_root(), kb);
}

static uint64_t hp_read(const char *dir, const char *attr)
{
	char path[600];
	uint64_t v = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, attr);
	if (udk_sysfs_read_u64(path, &v) < 0)
		return 0;
	return v;
}

/* Log the "reserve hugepages" line; node < 0 means any node. */
static int no_free_pages(const struct udk_mem *mem, int node, size_t seg_len, uint64_t free_pages)
{
	uint64_t ps = mem->opts.page_size;
	uint64_t need = seg_len / ps;
	/* Suggest room for growth (128 MiB), not just this one segment. */
	uint64_t more = need > (128 * MIB) / ps ? need : (128 * MIB) / ps;
	char dir[512], seg[32], on_node[32] = "", mount_hint[200] = "";

	hp_dir(dir, sizeof(dir), node, ps);
	mem_fmt_size(seg, sizeof(seg), seg_len);
	if (node >= 0)
		snprintf(on_node, sizeof(on_node), " on node %d", node);
	if (mem->huge_dir[0] == '\0' && hugetlbfs_find_path_for_size((long)ps) == NULL)
		snprintf(mount_hint, sizeof(mount_hint),
			 " and mount hugetlbfs ('mount -t hugetlbfs nodev /dev/hugepages')");
	udk_log(UDK_LOG_ERR, "mem",
		"no free %llu kB hugepages%s (need %llu for a %s segment, %llu free): reserve them with "
		"'echo %llu > %s/nr_hugepages'%s",
		(unsigned long long)(ps / 1024), on_node, (unsigned long long)need, seg,
		(unsigned long long)free_pages,
		(unsigned long long)(hp_read(dir, "nr_hugepages") + more), dir, mount_hint);
	return -UDK_ENOHUGE;
}

static int check_huge_dir(struct udk_mem *mem)
{
	const char *dir = mem->opts.huge_dir;
	struct statfs sfs;
	char want[32], have[32];

	if (statfs(dir, &sfs) < 0) {
		udk_log(UDK_LOG_ERR, "mem", "--huge-dir %s: %s; give the path of a hugetlbfs mount",
			dir, strerror(errno));
		return -UDK_ENOHUGE;
	}
	if ((unsigned long)sfs.f_type != HUGETLBFS_MAGIC) {
		udk_log(UDK_LOG_ERR, "mem",
			"--huge-dir %s is not a hugetlbfs mount: mount one there with "
			"'mount -t hugetlbfs nodev %s', or drop --huge-dir", dir, dir);
		return -UDK_ENOHUGE;
	}
	/* hugetlbfs reports its page size as the block size. */
	if (mem->opts.page_size != 0 && mem->opts.page_size != (uint64_t)sfs.f_bsize) {
		fmt_mount_size(want, sizeof(want), mem->opts.page_size);
		mem_fmt_size(have, sizeof(have), (uint64_t)sfs.f_bsize);
		udk_log(UDK_LOG_ERR, "mem",
			"--huge-dir %s holds %s pages, not the %s asked for: mount one with "
			"'mount -t hugetlbfs -o pagesize=%s nodev DIR'", dir, have, want, want);
		return -UDK_ENOHUGE;
	}
	mem->opts.page_size = (uint64_t)sfs.f_bsize;
	snprintf(mem->huge_dir, sizeof(mem->huge_dir), "%s", dir);
	return 0;
}

/* Is page_size one of the hugepage sizes the kernel offers? */
static int check_page_size(struct udk_mem *mem)
{
	long sizes[16];
	int n = gethugepagesizes(sizes, (int)UDK_ARRAY_SIZE(sizes));
	char list[200] = "", one[32], want[32];
	size_t used = 0;

	if (n <= 0) {
		udk_log(UDK_LOG_ERR, "mem",
			"this kernel offers no hugepages (%s/kernel/mm/hugepages is empty): "
			"enable CONFIG_HUGETLBFS or run with --no-huge", udk_sysfs_root());
		return -UDK_ENOHUGE;
	}
	if (mem->opts.page_size == 0) {
		long def = gethugepagesize();
		mem->opts.page_size = def > 0 ? (uint64_t)def : (uint64_t)sizes[0];
	}
	for (int i = 0; i < n; i++) {
		if ((uint64_t)sizes[i] == mem->opts.page_size)
			return 0;
		mem_fmt_size(one, sizeof(one), (uint64_t)sizes[i]);
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", one);
		if (used >= sizeof(list))
			break;
	}
	mem_fmt_size(want, sizeof(want), mem->opts.page_size);
	udk_log(UDK_LOG_ERR, "mem", "%s hugepages are not offered by this system (offered: %s)",
		want, list);
	return -UDK_ENOHUGE;
}

int seg_check_opts(struct udk_mem *mem)
{
	struct udk_mem_opts *o = &mem->opts;
	uint64_t avail;
	const char *path;
	char dir[512], size[32];
	int ret;

	if (o->no_huge || o->source != NULL) {
		/* A source says each segment's page size; the heap only needs the
		 * smallest to align its growth requests. */
		o->page_size = (uint64_t)sysconf(_SC_PAGESIZE);
		mem->huge_dir[0] = '\0';
	} else {
		if (o->huge_dir != NULL) {
			ret = check_huge_dir(mem);
			if (ret < 0)
				return ret;
		}
		ret = check_page_size(mem);
		if (ret < 0)
			return ret;
	}
	if (o->segment_size == 0)
		o->segment_size = o->page_size > 2 * MIB ? o->page_size : 2 * MIB;
	o->segment_size = UDK_ALIGN_UP(o->segment_size, o->page_size);
	if (o->no_huge || o->source != NULL)
		return 0;

	/* Pages that are free but promised to other mappings are not ours. */
	hp_dir(dir, sizeof(dir), -1, o->page_size);
	avail = hp_read(dir, "free_hugepages");
	avail = avail > hp_read(dir, "resv_hugepages") ? avail - hp_read(dir, "resv_hugepages") : 0;
	if (avail < o->segment_size / o->page_size)
		return no_free_pages(mem, -1, o->segment_size, avail);

	if (mem->huge_dir[0] == '\0') {
		path = hugetlbfs_find_path_for_size((long)o->page_size);
		if (path == NULL) {
			fmt_mount_size(size, sizeof(size), o->page_size);
			udk_log(UDK_LOG_ERR, "mem",
				"no hugetlbfs mount for %llu kB pages: mount one with 'mkdir -p "
				"/dev/hugepages && mount -t hugetlbfs -o pagesize=%s nodev /dev/hugepages', "
				"or pass --huge-dir", (unsigned long long)(o->page_size / 1024), size);
			return -UDK_ENOHUGE;
		}
		snprintf(mem->huge_dir, sizeof(mem->huge_dir), "%s", path);
	}
	return 0;
}

static int open_backing(struct udk_mem *mem, int node)
{
	char path[300];
	int fd;

	if (mem->opts.no_huge) {
		snprintf(path, sizeof(path), "udk-seg-node%d", node);
		fd = memfd_create(path, MFD_CLOEXEC);
		if (fd < 0) {
			udk_log(UDK_LOG_ERR, "mem", "memfd_create for a segment failed: %s",
				strerror(errno));
			return -errno;
		}
		return fd;
	}
	/* Our own file rather than hugetlbfs_unlinked_fd_for_size(), so that
	 * --huge-dir is honoured; unlinked at once, the fd is the only name. */
	snprintf(path, sizeof(path), "%s/udk-seg.XXXXXX", mem->huge_dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		udk_log(UDK_LOG_ERR, "mem", "cannot create a segment file in hugetlbfs mount %s: %s",
			mem->huge_dir, strerror(errno));
		return -errno;
	}
	unlink(path);
	return fd;
}

/* Bind the calling thread's allocations to node for the duration of the
 * mmap: MAP_POPULATE faults the pages in at once, so the policy has to be in
 * place before the mmap, not applied with mbind() after it.  Returns true if
 * the old policy was saved and must be restored. */
static bool policy_push(int node, int *old_mode, unsigned long *old_mask)
{
	unsigned long mask[MASK_BITS / (8 * sizeof(unsigned long))] = { 0 };

	if (numa_available() < 0)
		return false;
	if (get_mempolicy(old_mode, old_mask, MASK_BITS, NULL, 0) < 0)
		return false;
	mask[node / (8 * sizeof(unsigned long))] |= 1ul << (node % (8 * sizeof(unsigned long)));
	if (set_mempolicy(MPOL_BIND, mask, MASK_BITS) < 0) {
		udk_log(UDK_LOG_DEBUG, "mem", "cannot bind to node %d (%s); placing by default",
			node, strerror(errno));
		return false;
	}
	return true;
}

static void policy_pop(int old_mode, const unsigned long *old_mask)
{
	/* MPOL_DEFAULT takes no mask. */
	if (old_mode == MPOL_DEFAULT)
		set_mempolicy(MPOL_DEFAULT, NULL, 0);
	else
		set_mempolicy(old_mode, old_mask, MASK_BITS);
}

/* A segment from the memory's source: mmap what it gave, IOVA and all. */
static int seg_take(struct udk_mem *mem, int node, size_t len, struct seg **out)
{
	const struct udk_mem_source *src = mem->opts.source;
	struct udk_mem_given g = {.fd = -1, .iova = UDK_IOVA_BAD};
	struct seg *seg;
	struct block *b;
	void *va;
	int ret;

	seg = calloc(1, sizeof(*seg));
	b = calloc(1, sizeof(*b));
	if (seg == NULL || b == NULL) {
		ret = -ENOMEM;
		goto err_free;
	}
	ret = src->take(src->arg, node, len, &g);
	if (ret < 0)
		goto err_free;
	va = mmap(NULL, g.len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, g.fd, 0);
	if (va == MAP_FAILED) {
		ret = -errno;
		udk_log(UDK_LOG_ERR, "mem", "mmap of a given segment (%zu bytes, fd %d) failed: %s",
			g.len, g.fd, strerror(errno));
		close(g.fd);
		goto err_free;
	}
	seg->pub = (struct udk_memseg){.va = va, .len = g.len, .page_size = g.page_size,
				       .fd = g.fd, .socket = g.socket, .iova = g.iova};
	b->len = g.len;
	b->free = true;
	seg->blocks = b;
	*out = seg;
	return 0;

err_free:
	free(b);
	free(seg);
	return ret;
}

int seg_create(struct udk_mem *mem, int node, size_t len, struct seg **out)
{
	unsigned long old_mask[MASK_BITS / (8 * sizeof(unsigned long))] = { 0 };
	struct seg *seg;
	struct block *b;
	uint64_t free_pages;
	char dir[512], size[32];
	int old_mode = MPOL_DEFAULT, fd, ret, where = -1;
	bool pushed;
	void *va;

	if (mem->opts.source != NULL)
		return seg_take(mem, node, len, out);
	/* Check first: hugetlbfs refuses an mmap it cannot reserve, but a
	 * count that is short on this node is worth a message of its own. */
	if (!mem->opts.no_huge) {
		hp_dir(dir, sizeof(dir), node, mem->opts.page_size);
		free_pages = hp_read(dir, "free_hugepages");
		if (free_pages < len / mem->opts.page_size)
			return no_free_pages(mem, node, len, free_pages);
	}

	seg = calloc(1, sizeof(*seg));
	b = calloc(1, sizeof(*b));
	if (seg == NULL || b == NULL) {
		ret = -ENOMEM;
		udk_log(UDK_LOG_ERR, "mem", "out of memory for segment metadata");
		goto err_free;
	}

	fd = open_backing(mem, node);
	if (fd < 0) {
		ret = fd;
		goto err_free;
	}
	if (ftruncate(fd, (off_t)len) < 0) {
		ret = -errno;
		mem_fmt_size(size, sizeof(size), len);
		udk_log(UDK_LOG_ERR, "mem", "cannot size a %s segment file: %s", size,
			strerror(errno));
		goto err_close;
	}

	pushed = policy_push(node, &old_mode, old_mask);
	va = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	ret = -errno;
	if (pushed)
		policy_pop(old_mode, old_mask);
	if (va == MAP_FAILED) {
		if (!mem->opts.no_huge && ret == -ENOMEM) {
			ret = no_free_pages(mem, node, len, hp_read(dir, "free_hugepages"));
		} else {
			mem_fmt_size(size, sizeof(size), len);
			udk_log(UDK_LOG_ERR, "mem", "mmap of a %s segment on node %d failed: %s",
				size, node, strerror(-ret));
		}
		goto err_close;
	}

	if (numa_available() >= 0 &&
	    get_mempolicy(&where, NULL, 0, va, MPOL_F_NODE | MPOL_F_ADDR) == 0)
		seg->pub.socket = where;
	else
		seg->pub.socket = node;
	seg->pub.va = va;
	seg->pub.len = len;
	seg->pub.page_size = mem->opts.page_size;
	seg->pub.fd = fd;
	seg->pub.fd_offset = 0;
	seg->pub.iova = UDK_IOVA_BAD;
	b->off = 0;
	b->len = len;
	b->free = true;
	seg->blocks = b;
	*out = seg;
	return 0;

err_close:
	close(fd);
err_free:
	free(b);
	free(seg);
	return ret;
}

void seg_release(struct seg *seg)
{
	struct block *b, *next;

	if (seg == NULL)
		return;
	munmap(seg->pub.va, seg->pub.len);
	close(seg->pub.fd);
	for (b = seg->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(seg);
}
