/* SPDX-License-Identifier: BSD-3-Clause */
/* test_bdev_file.c - the file backend on temporary files: in a directory of
 * a disk file system (O_DIRECT, unaligned buffers bounced) and, when there is
 * one, on tmpfs (buffered; fallocate without ZERO_RANGE).  What the bdev
 * wrote is checked by reading the file with pread(), not through the bdev. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/unit.h"
#include "bdevtest.h"

#define BS 512u
#define NBLK 2048u

static const char *dirs[2];
static char paths[2][256];

/* A file of NBLK blocks and a half in dir (the half block is not the bdev's). */
static int make_file(int i, const char *dir)
{
	int fd;

	snprintf(paths[i], sizeof(paths[i]), "%s/udk-bdev-test-%d-XXXXXX", dir, (int)getpid());
	fd = mkstemp(paths[i]);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)NBLK * BS + BS / 2) != 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static void pread_file(const char *path, void *buf, size_t len, off_t off)
{
	int fd = open(path, O_RDONLY);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(pread(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static void test_create_checks(void)
{
	struct udk_bdev *b = NULL;
	char small[256];
	int fd;

	CU_ASSERT_EQUAL(udk_bdev_file_create("f", NULL, 0, false, &b), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_file_create("f", paths[0], 0, false, NULL), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_file_create("f", "/nonexistent/udk", 0, false, &b), -ENOENT);
	CU_ASSERT_LAST_ERROR_HAS("open /nonexistent/udk read-write");
	CU_ASSERT_EQUAL(udk_bdev_file_create("f", dirs[0], 0, true, &b), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("neither a regular file nor a block device");
	CU_ASSERT_EQUAL(udk_bdev_file_create("f", paths[0], 1000, false, &b), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_file_create("f", paths[0], 4096 * 1024, false, &b), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("less than one");
	CU_ASSERT_EQUAL(udk_bdev_file_create("bad name", paths[0], 0, false, &b), -EINVAL);
	snprintf(small, sizeof(small), "%s/udk-bdev-small-XXXXXX", dirs[0]);
	fd = mkstemp(small);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, "tiny", 4), 4);
	close(fd);
	CU_ASSERT_EQUAL(udk_bdev_file_create("f", small, 0, false, &b), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("grow it");
	unlink(small);
	CU_ASSERT_PTR_NULL(b);
	CU_ASSERT_PTR_NULL(udk_bdev_get("f"));
}

/* Write, read back, write zeroes, deallocate, flush on the file in paths[i]. */
static void data_test(int i)
{
	struct udk_bdev *b;
	struct udk_bdev_channel *ch;
	struct udk_bdev_info info;
	struct udk_bdev_stats st;
	struct done d = {0};
	uint8_t *al, *raw = malloc(16 * BS + 1), *un, *chk = malloc(16 * BS), *zero = calloc(1, 16 * BS);
	uint8_t a[100], c[1000], e[948];
	struct iovec rv[3] = {{a, sizeof(a)}, {c, sizeof(c)}, {e, sizeof(e)}};
	int n = 0;

	CU_ASSERT_FATAL(posix_memalign((void **)&al, 4096, 16 * BS) == 0);
	un = raw + 1; /* never aligned */
	CU_ASSERT_EQUAL_FATAL(udk_bdev_file_create("f0", paths[i], 0, false, &b), 0);
	CU_ASSERT_EQUAL(udk_bdev_info(b, &info), 0);
	CU_ASSERT_STRING_EQUAL(info.backend, "file");
	CU_ASSERT_EQUAL(info.block_size, BS);
	CU_ASSERT_EQUAL(info.num_blocks, NBLK); /* the half block is left out */
	printf("(%s: %s) ", dirs[i], info.buf_align > 1 ? "O_DIRECT" : "buffered");
	CU_ASSERT_EQUAL_FATAL(udk_bdev_channel_get(b, &ch), 0);

	/* Aligned buffer at block 10, unaligned one at block 100. */
	fill(al, 16 * BS, 3);
	fill(un, 16 * BS, 4);
	CU_ASSERT_EQUAL(udk_bdev_write(ch, al, 10, 16, on_done, &d), 0);
	CU_ASSERT_EQUAL(udk_bdev_write(ch, un, 100, 16, on_done, &d), 0);
	CU_ASSERT_EQUAL(d.n, 0); /* never inline */
	wait_for(ch, &d, 2);
	CU_ASSERT_EQUAL(d.status, 0);
	pread_file(paths[i], chk, 16 * BS, 10 * BS);
	CU_ASSERT(memcmp(chk, al, 16 * BS) == 0);
	pread_file(paths[i], chk, 16 * BS, 100 * BS);
	CU_ASSERT(memcmp(chk, un, 16 * BS) == 0);
	n = 2;

	/* Read back through the bdev: unaligned buffer, then a vector. */
	memset(raw, 0, 16 * BS + 1);
	CU_ASSERT_EQUAL(udk_bdev_read(ch, un, 10, 16, on_done, &d), 0);
	wait_for(ch, &d, ++n);
	CU_ASSERT_EQUAL(d.status, 0);
	CU_ASSERT(memcmp(un, al, 16 * BS) == 0);
	CU_ASSERT_EQUAL(udk_bdev_readv(ch, rv, 3, 12, 4, on_done, &d), 0);
	wait_for(ch, &d, ++n);
	CU_ASSERT_EQUAL(d.status, 0);
	CU_ASSERT(memcmp(a, al + 2 * BS, sizeof(a)) == 0);
	CU_ASSERT(memcmp(c, al + 2 * BS + sizeof(a), sizeof(c)) == 0);
	CU_ASSERT(memcmp(e, al + 2 * BS + sizeof(a) + sizeof(c), sizeof(e)) == 0);
	CU_ASSERT_EQUAL(udk_bdev_stats(b, &st), 0);
	/* O_DIRECT: the unaligned write and read, and the vector */
	CU_ASSERT_EQUAL(st.bounced, info.buf_align > 1 ? 3u : 0u);

	/* Write zeroes over 12..13, deallocate 20..23; flush. */
	CU_ASSERT_EQUAL(udk_bdev_write_zeroes(ch, 12, 2, on_done, &d), 0);
	wait_for(ch, &d, ++n);
	CU_ASSERT_EQUAL(d.status, 0);
	CU_ASSERT_EQUAL(udk_bdev_deallocate(ch, 20, 4, on_done, &d), 0);
	wait_for(ch, &d, ++n);
	CU_ASSERT_EQUAL(d.status, 0);
	CU_ASSERT_EQUAL(udk_bdev_flush(ch, on_done, &d), 0);
	wait_for(ch, &d, ++n);
	CU_ASSERT_EQUAL(d.status, 0);
	pread_file(paths[i], chk, 16 * BS, 10 * BS);
	CU_ASSERT(memcmp(chk, al, 2 * BS) == 0);
	CU_ASSERT(memcmp(chk + 2 * BS, zero, 2 * BS) == 0);
	CU_ASSERT(memcmp(chk + 4 * BS, al + 4 * BS, 6 * BS) == 0);
	CU_ASSERT(memcmp(chk + 10 * BS, zero, 4 * BS) == 0);
	CU_ASSERT(memcmp(chk + 14 * BS, al + 14 * BS, 2 * BS) == 0);
	/* The last block, and nothing past it. */
	CU_ASSERT_EQUAL(udk_bdev_write(ch, al, NBLK - 1, 1, on_done, &d), 0);
	CU_ASSERT_EQUAL(udk_bdev_write(ch, al, NBLK - 1, 2, on_done, &d), -ERANGE);
	wait_for(ch, &d, ++n);
	CU_ASSERT_EQUAL(d.status, 0);

	/* Put with 32 writes in flight: each ends once, and is in the file. */
	for (int k = 0; k < 32; k++)
		CU_ASSERT_EQUAL(udk_bdev_write(ch, un, 200 + 16 * k, 16, on_done, &d), k < 8 ||
				info.buf_align == 1 ? 0 : -EAGAIN); /* 8 bounce buffers */
	udk_bdev_channel_put(ch);
	CU_ASSERT_EQUAL(d.n, n + (info.buf_align == 1 ? 32 : 8));
	CU_ASSERT_EQUAL(d.status, 0);
	pread_file(paths[i], chk, 16 * BS, 200 * BS + 16 * BS * 7);
	CU_ASSERT(memcmp(chk, un, 16 * BS) == 0);
	CU_ASSERT_EQUAL(udk_bdev_stats(b, &st), 0);
	CU_ASSERT_EQUAL(st.errors, 0);
	CU_ASSERT_EQUAL(st.ops[UDK_BDEV_IO_WRITE_ZEROES], 1);
	CU_ASSERT_EQUAL(udk_bdev_destroy(b), 0);
	free(al);
	free(raw);
	free(chk);
	free(zero);
}

static void test_data_disk(void)
{
	data_test(0);
}

static void test_data_tmpfs(void)
{
	if (dirs[1] == NULL) {
		printf("(no /dev/shm: skipped) ");
		return;
	}
	data_test(1);
}

static void test_read_only(void)
{
	struct udk_bdev *b;
	struct udk_bdev_channel *ch;
	struct udk_bdev_info info;
	struct done d = {0};
	static uint8_t buf[BS] __attribute__((aligned(4096)));

	CU_ASSERT_EQUAL_FATAL(udk_bdev_file_create("fro", paths[0], 4096, true, &b), 0);
	udk_bdev_info(b, &info);
	CU_ASSERT(info.read_only);
	CU_ASSERT_EQUAL(info.block_size, 4096);
	CU_ASSERT_EQUAL(info.num_blocks, NBLK * BS / 4096);
	CU_ASSERT_EQUAL_FATAL(udk_bdev_channel_get(b, &ch), 0);
	CU_ASSERT_EQUAL(udk_bdev_write(ch, buf, 0, 1, on_done, &d), -EROFS);
	CU_ASSERT_LAST_ERROR_HAS("read-only");
	CU_ASSERT_EQUAL(udk_bdev_write_zeroes(ch, 0, 1, on_done, &d), -EROFS);
	CU_ASSERT_EQUAL(udk_bdev_deallocate(ch, 0, 1, on_done, &d), -EROFS);
	CU_ASSERT_EQUAL(udk_bdev_flush(ch, on_done, &d), 0);
	wait_for(ch, &d, 1);
	CU_ASSERT_EQUAL(d.n, 1);
	udk_bdev_channel_put(ch);
	CU_ASSERT_EQUAL(udk_bdev_destroy(b), 0);
}

/* A kernel block device: a loop device with 4096-byte logical blocks over a
 * file (root only; skipped otherwise).  Its geometry comes from BLKSSZGET and
 * BLKGETSIZE64; what the bdev wrote is in the backing file once the loop
 * device is detached. */
static void test_block_device(void)
{
	char backing[256], dev[64] = "", cmd[512];
	struct udk_bdev *b = NULL;
	struct udk_bdev_channel *ch;
	struct udk_bdev_info info;
	struct done d = {0};
	uint8_t *buf, *chk = malloc(8 * 4096), *zero = calloc(1, 8 * 4096);
	FILE *f;
	int fd;

	if (geteuid() != 0) {
		printf("(not root: skipped) ");
		return;
	}
	snprintf(backing, sizeof(backing), "%s/udk-bdev-loop-XXXXXX", dirs[0]);
	fd = mkstemp(backing);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(ftruncate(fd, 4 << 20) == 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "losetup -f --show -b 4096 %s 2>/dev/null", backing);
	f = popen(cmd, "r");
	if (f == NULL || fgets(dev, sizeof(dev), f) == NULL || dev[0] != '/') {
		if (f != NULL)
			pclose(f);
		unlink(backing);
		printf("(no loop device: skipped) ");
		return;
	}
	pclose(f);
	dev[strcspn(dev, "\n")] = 0;

	CU_ASSERT_EQUAL(udk_bdev_file_create("loop", dev, 512, false, &b), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("4096-byte logical blocks");
	CU_ASSERT_EQUAL_FATAL(udk_bdev_file_create("loop", dev, 0, false, &b), 0);
	udk_bdev_info(b, &info);
	CU_ASSERT_EQUAL(info.block_size, 4096);
	CU_ASSERT_EQUAL(info.num_blocks, 1024);
	CU_ASSERT_FATAL(posix_memalign((void **)&buf, 4096, 8 * 4096) == 0);
	fill(buf, 8 * 4096, 9);
	CU_ASSERT_EQUAL_FATAL(udk_bdev_channel_get(b, &ch), 0);
	CU_ASSERT_EQUAL(udk_bdev_write(ch, buf, 100, 8, on_done, &d), 0);
	wait_for(ch, &d, 1);
	CU_ASSERT_EQUAL(d.status, 0);
	CU_ASSERT_EQUAL(udk_bdev_write_zeroes(ch, 101, 2, on_done, &d), 0);
	wait_for(ch, &d, 2);
	CU_ASSERT_EQUAL(d.status, 0);
	CU_ASSERT_EQUAL(udk_bdev_deallocate(ch, 105, 1, on_done, &d), 0);
	wait_for(ch, &d, 3);
	CU_ASSERT(d.status == 0 || d.status == -ENOTSUP);
	CU_ASSERT_EQUAL(udk_bdev_flush(ch, on_done, &d), 0);
	wait_for(ch, &d, 4);
	CU_ASSERT_EQUAL(d.status, 0);
	udk_bdev_channel_put(ch);
	CU_ASSERT_EQUAL(udk_bdev_destroy(b), 0);
	snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
	CU_ASSERT_EQUAL(system(cmd), 0);

	pread_file(backing, chk, 8 * 4096, 100 * 4096);
	CU_ASSERT(memcmp(chk, buf, 4096) == 0);
	CU_ASSERT(memcmp(chk + 4096, zero, 2 * 4096) == 0);
	CU_ASSERT(memcmp(chk + 3 * 4096, buf + 3 * 4096, 2 * 4096) == 0);
	CU_ASSERT(memcmp(chk + 6 * 4096, buf + 6 * 4096, 2 * 4096) == 0);
	unlink(backing);
	free(buf);
	free(chk);
	free(zero);
}

int main(void)
{
	static const struct unit_test t[] = {
		{"create_checks", test_create_checks},
		{"data_disk", test_data_disk},
		{"data_tmpfs", test_data_tmpfs},
		{"read_only", test_read_only},
		{"block_device", test_block_device},
	};
	struct io_uring ring;
	struct stat st;
	int rc;

	rc = io_uring_queue_init(8, &ring, 0);
	if (rc < 0) {
		printf("SKIP: io_uring is not available here: %s\n", strerror(-rc));
		return 77;
	}
	io_uring_queue_exit(&ring);
	dirs[0] = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode))
		dirs[1] = "/dev/shm";
	for (int i = 0; i < 2; i++)
		if (dirs[i] != NULL && make_file(i, dirs[i]) != 0) {
			printf("SKIP: cannot make a file in %s: %s\n", dirs[i], strerror(errno));
			return 77;
		}
	unit_quiet_logs();
	rc = unit_run("bdev_file", t, UDK_ARRAY_SIZE(t));
	for (int i = 0; i < 2; i++)
		if (dirs[i] != NULL)
			unlink(paths[i]);
	return rc;
}
