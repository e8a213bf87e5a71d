/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_broker_isolation: what a client of udk-broker cannot do
 * (labbroker.h).  Step 5: a client can map nothing itself, its segments
 * cannot be resized, and a DMA it aims outside them is blocked by the IOMMU
 * (DMAR fault in the kernel log, its memory untouched).  Step 11: a client
 * that punches a hole in its memory holds a page more per page punched (the
 * IOMMU keeps the old one pinned) until the broker's next look, which evicts
 * it, gives every page back and refuses its user from then on.
 *
 * "lab_broker_isolation rogue SOCK BDF" is step 5's client, run as uid 1000;
 * "puncher" that of step 11.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "labbroker.h"
#include "labdev.h"
#include "labjson.h"
#include "labutil.h"
#include "udk_eal.h"
#include "udk_util.h"


/* Try to shrink and grow a granted segment: both refused (sealed). */
static int try_resize(const struct udk_memseg *seg, void *arg)
{
	unsigned int *n = arg;

	n[0]++;
	if (ftruncate(seg->fd, 0) < 0 && errno == EPERM)
		n[1]++;
	if (ftruncate(seg->fd, (off_t)(seg->len + seg->page_size)) < 0 && errno == EPERM)
		n[1]++;
	return 0;
}

/* The client half of the isolation check, as an unprivileged user. */
static int rogue(const char *sock, const char *bdf)
{
	char *argv[] = {"rogue", "--broker", (char *)sock, "-a", (char *)bdf, NULL};
	struct lab_nvme nvme;
	uint64_t iova, end = 0;
	uint8_t *page, *id;
	int zero = 1;

	setvbuf(stdout, NULL, _IONBF, 0);
	printf("rogue: uid %u\n", (unsigned int)getuid());
	LAB_CHECK(getuid() != 0);
	LAB_CHECK(udk_eal_init(5, argv) == 5);
	struct udk_dmamap *map = udk_eal_dmamap();

	/* The client cannot map anything itself. */
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	LAB_CHECK(page != MAP_FAILED);
	udk_last_error_clear();
	LAB_CHECK_RC(udk_dmamap_map(map, page, 4096, &iova), -EPERM);
	LAB_CHECK(lab_last_error_has("policy"));
	LAB_CHECK(lab_last_error_has("udk-broker at"));

	/* DMA into granted memory works. */
	LAB_CHECK_RC(lab_nvme_init(&nvme, udk_eal_device(0), map), 0);
	id = udk_mem_default_zmalloc(4096, 4096, UDK_SOCKET_ANY);
	LAB_CHECK(id != NULL);
	LAB_CHECK_RC(lab_nvme_identify(&nvme, udk_virt2iova(id)), 0);
	LAB_CHECK(lab_nvme_identify_ok(id, "udk-lab-nvme1"));
	printf("rogue: Identify into granted memory at IOVA 0x%llx: OK\n",
	       (unsigned long long)udk_virt2iova(id));

	/* An IOVA past every granted segment. */
	udk_mem_walk(udk_eal_mem(), lb_seg_end, &end);
	iova = UDK_ALIGN_UP(end, 1ull << 21) + (4ull << 20);
	memset(id, 0, 4096);
	printf("rogue: granted segments end at IOVA 0x%llx; aiming Identify at 0x%llx\n",
	       (unsigned long long)end, (unsigned long long)iova);
	printf("ROGUE_IOVA 0x%llx\n", (unsigned long long)iova);
	fflush(stdout);
	lab_nvme_identify(&nvme, iova);
	for (int i = 0; i < 4096; i++)
		zero &= id[i] == 0;
	LAB_CHECK(zero);
	/* The heap grows by asking the broker, up to the policy's limit. */
	size_t got = 0;
	void *p;

	udk_last_error_clear();
	while ((p = udk_mem_default_zmalloc(8u << 20, 4096, UDK_SOCKET_ANY)) != NULL)
		got += 8u << 20;
	printf("rogue: the heap grew to %zu MiB of 8 MiB blocks, then: %s\n", got >> 20,
	       udk_last_error());
	LAB_CHECK(got >= (128u << 20) && got <= (160u << 20));
	LAB_CHECK(lab_last_error_has("memory limit of uid 1000 is 160 MiB"));
	/* Its segments are sealed: it cannot shrink one (the broker's own
	 * mapping would fault, and its scrub at eviction, step 6, kill it with
	 * SIGBUS) nor grow one (hugepages past its policy's 'mem'). */
	unsigned int resize[2] = {0, 0};

	udk_mem_walk(udk_eal_mem(), try_resize, resize);
	printf("rogue: %u segments; truncating and growing refused %u times of %u\n",
	       resize[0], resize[1], 2 * resize[0]);
	LAB_CHECK(resize[0] > 0 && resize[1] == 2 * resize[0]);
	/* A refused MEM costs only that allocation: the device still works. */
	memset(id, 0, 4096);
	LAB_CHECK_RC(lab_nvme_identify(&nvme, udk_virt2iova(id)), 0);
	LAB_CHECK(lab_nvme_identify_ok(id, "udk-lab-nvme1"));
	lab_nvme_fini(&nvme, true);
	udk_mem_default_free(id);
	udk_eal_cleanup();
	printf("rogue: done\n");
	return LAB_PASS;
}

/* HugePages_Free of /proc/meminfo, or -1. */
static long huge_free(void)
{
	char line[128];
	long n = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "HugePages_Free: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* The last segment of at least two pages. */
static int last_seg(const struct udk_memseg *seg, void *arg)
{
	if (seg->len >= 2 * seg->page_size)
		*(const struct udk_memseg **)arg = seg;
	return 0;
}

/* Step 11's client (uid 1000): punches a hole in a granted segment and
 * touches it again, three times on one page, then on a second page, reading
 * HugePages_Free after each, all within microseconds (the broker looks once
 * a second); then the same a few seconds on, after the broker's check. */
static int puncher(const char *sock, const char *bdf)
{
	char *argv[] = {"puncher", "--broker", (char *)sock, "-m", "16", "-a", (char *)bdf, NULL};
	const struct udk_memseg *seg = NULL;
	long f[6];
	size_t off;

	setvbuf(stdout, NULL, _IONBF, 0);
	LAB_CHECK(getuid() != 0);
	LAB_CHECK(udk_eal_init(7, argv) == 7);
	/* The heap takes the granted segments as it grows. */
	LAB_CHECK(udk_mem_default_zmalloc(4u << 20, 4096, UDK_SOCKET_ANY) != NULL);
	udk_mem_walk(udk_eal_mem(), last_seg, &seg);
	LAB_CHECK(seg != NULL);
	off = seg->len - seg->page_size; /* the last pages: no heap header there */
	f[0] = huge_free();
	for (int k = 1; k <= 4; k++) {
		size_t at = k < 4 ? off : off - seg->page_size;

		LAB_CHECK(fallocate(seg->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				    seg->fd_offset + (off_t)at, (off_t)seg->page_size) == 0);
		((volatile uint8_t *)seg->va)[at] = 1;
		f[k] = huge_free();
	}
	sleep(3);
	f[5] = huge_free();
	printf("PUNCH %ld %ld %ld %ld %ld %ld\n", f[0], f[1], f[2], f[3], f[4], f[5]);
	_exit(0); /* evicted: nothing of its grant is left to clean up */
}

int main(int argc, char **argv)
{
	struct lb_lab l;
	char line[512], needle[64];
	unsigned long long iova = 0;
	uint64_t mark;

	if (argc == 4 && strcmp(argv[1], "rogue") == 0)
		return rogue(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "puncher") == 0)
		return puncher(argv[2], argv[3]);
	setvbuf(stdout, NULL, _IONBF, 0);
	lb_start(&l);

	/* 5. isolation: the client maps nothing; a DMA outside its segments faults. */
	mark = lab_kmsg_mark();
	CHECK(lb_run(NULL, AS(1000) "%s rogue %s %s", l.self, SOCK, l.bdf) == 0);
	{
		const char *p = strstr(lb_out, "ROGUE_IOVA 0x");

		CHECK(p != NULL && sscanf(p, "ROGUE_IOVA 0x%llx", &iova) == 1);
	}
	snprintf(needle, sizeof(needle), "DMAR.*fault addr 0x%llx ", iova);
	CHECK(iova != 0 && lab_kmsg_find(mark, needle, 10000, line, sizeof(line)) == 1);
	printf("kernel log: %s\n", line);

	/* 11. A hole punched in a segment and touched again: under the IOMMU
	 * the old page stays pinned while a fresh one fills the hole (one
	 * page more per page punched, not per punch), until the broker's next
	 * look (a second at most) evicts the client and refuses its user. */
	{
		long f0 = huge_free(), f[6] = {0};
		const char *p;

		CHECK(lb_run(NULL, AS(1000) "%s puncher %s %s", l.self, SOCK, l.bdf) == 0);
		p = strstr(lb_out, "PUNCH ");
		CHECK(p != NULL && sscanf(p, "PUNCH %ld %ld %ld %ld %ld %ld", &f[0], &f[1], &f[2],
					  &f[3], &f[4], &f[5]) == 6);
		printf("HugePages_Free: %ld before the client; in it %ld, after a hole punched "
		       "and touched %ld, twice more on that page %ld %ld, on a second page %ld; "
		       "3 s later %ld; after it exited %ld\n", f0, f[0], f[1], f[2], f[3], f[4],
		       f[5], huge_free());
		CHECK(f[1] == f[0] - 1 && f[2] == f[1] && f[3] == f[1] && f[4] == f[1] - 1);
		CHECK(lb_log_has("uid 1000: segment", "has a hole punched", 1000));
		CHECK(lb_log_has("uid 1000: evicted (hole punched", NULL, 1000));
		CHECK(f[5] > f[0] && huge_free() >= f0);
		CHECK(lb_run(NULL, AS(1000) "udk-nvme --broker %s -a %s -m 16 identify", SOCK,
			  l.bdf) != 0);
		CHECK(strstr(lb_err, "refused until the broker restarts") != NULL);
	}

	return lb_stop(&l, false);
}
