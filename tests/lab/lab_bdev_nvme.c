/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_bdev_nvme: lib/bdev's nvme backend on the lab's first NVMe controller
 * (namespace 1).  Patterns written through the bdev and read back, from
 * buffers in the controller's heap (zero copy) and from plain malloc() memory
 * and vectors (bounced), in batches of many sizes; what the bdev wrote is
 * also read through a raw drivers/nvme qpair, so a bdev that reads its own
 * mistakes back cannot pass.  Flush; write zeroes (also one longer than a
 * command's 65536 blocks) reads back zeroes with its neighbours intact;
 * deallocate; a vector of 16 scattered DMA pages is one command each way (the
 * controller's SMART counters) with nothing bounced; two channels on two
 * lcores at once; bad input refused before
 * the device; channel_put with reads in flight; destroy with a channel open.
 * Last, the second controller is given back (udk_pci_dev_remove(), the steps
 * of a hot-unplug): its bdev gets REMOVE from lib/pci's event, its reads end
 * once each (done or -UDK_EREMOVED), new I/O is refused; the first bdev is
 * not disturbed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "labbackend.h"
#include "labutil.h"
#include "udk_bdev.h"
#include "udk_eal.h"
#include "udk_mem.h"
#include "udk_nvme.h"
#include "udk_pci.h"
#include "udk_util.h"

#define AREA 4096u /* blocks per pass */
#define QD 16

struct io {
	int done, ok, cancelled, failed;
};

static void io_cb(void *arg, int status)
{
	struct io *s = arg;

	s->done++;
	if (status == 0)
		s->ok++;
	else if (status == -ECANCELED)
		s->cancelled++;
	else {
		s->failed++;
		fprintf(stderr, "  I/O failed: %d (%s)\n", status, udk_strerror_name(status));
	}
}

/* Poll ch until s has n completions. */
static void wait_n(struct udk_bdev_channel *ch, struct io *s, int n)
{
	while (s->done < n)
		udk_bdev_channel_poll(ch, 0);
}

/* One I/O, waited for: its status. */
static int sync_io(struct udk_bdev_channel *ch, enum udk_bdev_io_type t, void *buf,
		   uint64_t lba, uint32_t nlb)
{
	struct io s = {0};
	int rc = -EINVAL;

	switch (t) {
	case UDK_BDEV_IO_READ:
		rc = udk_bdev_read(ch, buf, lba, nlb, io_cb, &s);
		break;
	case UDK_BDEV_IO_WRITE:
		rc = udk_bdev_write(ch, buf, lba, nlb, io_cb, &s);
		break;
	case UDK_BDEV_IO_FLUSH:
		rc = udk_bdev_flush(ch, io_cb, &s);
		break;
	case UDK_BDEV_IO_WRITE_ZEROES:
		rc = udk_bdev_write_zeroes(ch, lba, nlb, io_cb, &s);
		break;
	case UDK_BDEV_IO_DEALLOCATE:
		rc = udk_bdev_deallocate(ch, lba, nlb, io_cb, &s);
		break;
	default:
		break;
	}
	if (rc != 0)
		return rc;
	wait_n(ch, &s, 1);
	return s.ok == 1 ? 0 : -EIO;
}

/* What a pass writes from and reads into. */
enum bufkind { BUF_DMA, BUF_HEAP, BUF_VEC };

struct pass {
	struct udk_bdev *bdev;
	struct udk_bdev_channel *ch; /* NULL: the pass gets its own (on its lcore) */
	uint64_t first;
	uint32_t nblocks, bs, max_nlb;
	uint64_t seed;
	enum bufkind wkind, rkind;
	long bad_lba;
	int errors;
};

/* Write the area in batches of up to QD I/Os of varied sizes (one of them
 * the largest the bdev takes), then read it back and verify every block. */
static int write_read_verify(struct pass *p)
{
	static const uint32_t sizes[] = {1, 8, 3, 64, 255, 16, 7};
	struct udk_mem *mem = udk_bdev_mem(p->bdev);
	size_t slot = (size_t)p->max_nlb * p->bs + 4096;
	uint8_t *dma = udk_mem_zmalloc(mem, slot * QD, 4096, UDK_SOCKET_ANY);
	uint8_t *heap = malloc(slot * QD + 1);
	struct udk_bdev_channel *ch = p->ch;
	struct iovec iov[QD][3];

	p->errors = 0;
	p->bad_lba = -1;
	if (dma == NULL || heap == NULL)
		return -ENOMEM;
	if (ch == NULL && udk_bdev_channel_get(p->bdev, &ch) != 0)
		return -EIO;
	for (int phase = 0; phase < 2; phase++) {
		enum bufkind kind = phase == 0 ? p->wkind : p->rkind;
		uint64_t lba = p->first, end = p->first + p->nblocks;
		unsigned int k = 0;

		while (lba < end) {
			struct io s = {0};
			uint64_t at[QD];
			uint32_t nlbs[QD];
			uint8_t *bufs[QD];
			int n = 0;

			for (; n < QD && lba < end; n++, k++) {
				uint32_t nlb = k % 9 == 8 ? p->max_nlb : sizes[k % 7];
				size_t len;
				uint8_t *buf;
				int rc;

				if (nlb > end - lba)
					nlb = (uint32_t)(end - lba);
				len = (size_t)nlb * p->bs;
				/* heap buffers start at an odd address: never DMA-able */
				buf = kind == BUF_DMA ? dma + (size_t)n * slot :
							heap + (size_t)n * slot + 1;
				at[n] = lba;
				nlbs[n] = nlb;
				bufs[n] = buf;
				if (phase == 0)
					lab_pattern_fill(buf, lba, nlb, p->bs, p->seed);
				else
					memset(buf, 0xee, len);
				if (kind == BUF_VEC) {
					size_t a = len / 3, b = len / 2 - a + 1;

					iov[n][0] = (struct iovec){buf, a};
					iov[n][1] = (struct iovec){buf + a, b};
					iov[n][2] = (struct iovec){buf + a + b, len - a - b};
					rc = phase == 0 ?
						udk_bdev_writev(ch, iov[n], 3, lba, nlb, io_cb, &s) :
						udk_bdev_readv(ch, iov[n], 3, lba, nlb, io_cb, &s);
				} else {
					rc = phase == 0 ? udk_bdev_write(ch, buf, lba, nlb, io_cb, &s) :
						udk_bdev_read(ch, buf, lba, nlb, io_cb, &s);
				}
				if (rc == -EAGAIN) { /* bounce buffers all taken: wait, retry */
					wait_n(ch, &s, n);
					n--;
					k--;
					continue;
				}
				CHECK_MSG(rc == 0, "submit: %d (%s)", rc, udk_last_error());
				if (rc != 0) {
					p->errors++;
					s.done++;
				}
				lba += nlb;
			}
			wait_n(ch, &s, n);
			p->errors += s.failed;
			for (int i = 0; phase == 1 && i < n; i++) {
				long b = lab_pattern_check(bufs[i], at[i], nlbs[i], p->bs, p->seed);

				if (b >= 0 && p->bad_lba < 0)
					p->bad_lba = (long)at[i] + b;
			}
		}
	}
	if (p->ch == NULL)
		udk_bdev_channel_put(ch);
	udk_mem_free(mem, dma);
	free(heap);
	return 0;
}

static int worker(void *arg)
{
	return write_read_verify(arg);
}

/* Read [lba, lba+nlb) through a raw drivers/nvme qpair, max blocks per
 * command, and verify it: -1, the first bad LBA, or -2 (the read failed). */
static long raw_verify(struct udk_nvme_qpair *qp, struct udk_nvme_ns *ns, uint64_t lba,
		       uint32_t nlb, uint32_t bs, uint32_t max, uint64_t seed)
{
	uint8_t *b = udk_mem_default_zmalloc((size_t)max * bs, 4096, UDK_SOCKET_ANY);
	long bad = b == NULL ? -2 : -1;

	for (uint32_t done = 0; bad == -1 && done < nlb; done += max) {
		uint32_t n = nlb - done < max ? nlb - done : max;

		if (udk_nvme_ns_io_sync(qp, ns, UDK_NVME_IO_READ, b, lba + done, n, NULL) != 0)
			bad = -2;
		else if ((bad = lab_pattern_check(b, lba + done, n, bs, seed)) >= 0)
			bad += (long)(lba + done);
	}
	udk_mem_default_free(b);
	return bad;
}

static uint64_t smart_cmds(struct udk_nvme_ctrlr *c, bool writes)
{
	struct udk_nvme_smart_log *sl = udk_mem_default_zmalloc(sizeof(*sl), 4096, UDK_SOCKET_ANY);
	uint64_t n = UINT64_MAX;

	REQUIRE(sl != NULL);
	if (udk_nvme_ctrlr_get_log_page(c, UDK_NVME_LOG_SMART, 0xffffffff, sl, sizeof(*sl)) == 0)
		memcpy(&n, writes ? sl->host_write_cmds : sl->host_read_cmds, 8);
	udk_mem_default_free(sl);
	return n;
}

/* A vector of 16 DMA pages, none next to the other (as a guest's request
 * comes), written and read back through the bdev at lba: one command each
 * way by the controller's own SMART command counters, nothing bounced, and
 * the data the raw qpair reads in one piece is the vector's. */
static void vector_one_command(struct udk_bdev *b, struct udk_bdev_channel *ch,
			       struct udk_nvme_ctrlr *c, struct udk_nvme_qpair *raw,
			       struct udk_nvme_ns *ns, uint64_t lba)
{
	uint8_t *m = udk_mem_zmalloc(udk_bdev_mem(b), 31 * 4096, 4096, UDK_SOCKET_ANY);
	uint8_t *flat = udk_mem_zmalloc(udk_bdev_mem(b), 16 * 4096, 4096, UDK_SOCKET_ANY);
	struct udk_bdev_stats st0, st1;
	struct iovec v[16];
	uint64_t r0, w0, r1, w1;
	struct io s = {0};
	bool same = true;

	REQUIRE(m != NULL && flat != NULL);
	for (int i = 0; i < 16; i++) {
		v[i] = (struct iovec){m + (size_t)(30 - 2 * i) * 4096, 4096};
		for (int j = 0; j < 4096; j++)
			((uint8_t *)v[i].iov_base)[j] = (uint8_t)(i * 37 + j * 11 + 5);
	}
	udk_bdev_stats(b, &st0);
	w0 = smart_cmds(c, true);
	CHECK(udk_bdev_writev(ch, v, 16, lba, 128, io_cb, &s) == 0);
	wait_n(ch, &s, 1);
	w1 = smart_cmds(c, true);
	r0 = smart_cmds(c, false);
	for (int i = 0; i < 16; i++)
		memset(v[i].iov_base, 0, 4096);
	CHECK(udk_bdev_readv(ch, v, 16, lba, 128, io_cb, &s) == 0);
	wait_n(ch, &s, 2);
	r1 = smart_cmds(c, false);
	udk_bdev_stats(b, &st1);
	CHECK(udk_nvme_ns_io_sync(raw, ns, UDK_NVME_IO_READ, flat, lba, 128, NULL) == 0);
	for (int i = 0; i < 16; i++)
		for (int j = 0; j < 4096; j++)
			same = same && ((uint8_t *)v[i].iov_base)[j] == (uint8_t)(i * 37 + j * 11 + 5) &&
			       flat[i * 4096 + j] == (uint8_t)(i * 37 + j * 11 + 5);
	printf("16-page vector through the bdev: %llu write and %llu read commands (SMART), %llu "
	       "bounced, data %s\n", (unsigned long long)(w1 - w0), (unsigned long long)(r1 - r0),
	       (unsigned long long)(st1.bounced - st0.bounced), same ? "same" : "DIFFERS");
	CHECK(s.ok == 2 && w1 - w0 == 1 && r1 - r0 == 1 && st1.bounced == st0.bounced && same);
	udk_mem_free(udk_bdev_mem(b), m);
	udk_mem_free(udk_bdev_mem(b), flat);
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != 0)
			return false;
	return true;
}

struct seen {
	int remove;
};

static void on_event(struct udk_bdev *b, enum udk_bdev_event ev, void *arg)
{
	struct seen *s = arg;

	(void)b;
	s->remove += ev == UDK_BDEV_EVENT_REMOVE;
}

struct ucount {
	int done, ok, removed, other;
};

static void unplug_cb(void *arg, int status)
{
	struct ucount *u = arg;

	u->done++;
	u->ok += status == 0;
	u->removed += status == -UDK_EREMOVED;
	u->other += status != 0 && status != -UDK_EREMOVED;
}

/* The second controller given back under a bdev with reads in flight. */
static void unplug(struct udk_nvme_ctrlr *c1, const struct seen *first)
{
	struct udk_bdev *b;
	struct udk_bdev_channel *ch;
	struct seen seen = {0};
	struct ucount u = {0};
	uint8_t *buf;

	REQUIRE(udk_bdev_nvme_create("nvme1n1", c1, 1, &b) == 0);
	CHECK(udk_bdev_event_register(b, on_event, &seen) == 0);
	REQUIRE(udk_bdev_channel_get(b, &ch) == 0);
	buf = udk_mem_zmalloc(udk_bdev_mem(b), 16 * 4096, 4096, UDK_SOCKET_ANY);
	REQUIRE(buf != NULL);
	for (int i = 0; i < 16; i++)
		CHECK(udk_bdev_read(ch, buf + i * 4096, (uint64_t)i * 8, 8, unplug_cb, &u) == 0);
	udk_bdev_channel_poll(ch, 0); /* to the device */
	CHECK(udk_pci_dev_remove(udk_eal_device(1)) == 0);
	CHECK_MSG(seen.remove == 1, "REMOVE events: %d", seen.remove);
	CHECK(first->remove == 0);
	while (u.done < 16)
		udk_bdev_channel_poll(ch, 0);
	printf("controller 2 given back with 16 reads in flight: %d ended, %d ok, %d "
	       "-UDK_EREMOVED, %d otherwise; REMOVE events %d\n", u.done, u.ok, u.removed,
	       u.other, seen.remove);
	CHECK(u.done == 16 && u.ok + u.removed == 16);
	CHECK(udk_bdev_read(ch, buf, 0, 8, unplug_cb, &u) == -UDK_EREMOVED);
	udk_bdev_channel_put(ch);
	CHECK(u.done == 16);
	CHECK(udk_bdev_channel_get(b, &ch) == -UDK_EREMOVED);
	udk_mem_free(udk_bdev_mem(b), buf);
	CHECK(udk_bdev_destroy(b) == 0 && seen.remove == 1);
}

/* 4 KiB random reads at queue depth qd for about a second, zero copy. */
static double rand_read_iops(struct udk_bdev *bdev, struct udk_bdev_channel *ch, int qd)
{
	struct udk_mem *mem = udk_bdev_mem(bdev);
	uint8_t *bufs = udk_mem_zmalloc(mem, 32 * 4096, 4096, UDK_SOCKET_ANY);
	struct io s = {0};
	uint64_t x = 12345;
	int sent = 0;
	struct timespec t0, t1;
	double secs;

	REQUIRE(bufs != NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		while (sent - s.done < qd) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			if (udk_bdev_read(ch, bufs + (sent % 32) * 4096, (x >> 20) % 4096 * 8, 8, io_cb,
					  &s) != 0)
				break;
			sent++;
		}
		udk_bdev_channel_poll(ch, 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	} while (secs < 1.0);
	wait_n(ch, &s, sent);
	CHECK(s.failed == 0);
	udk_mem_free(mem, bufs);
	return (double)s.done / secs;
}

int main(void)
{
	const char *bdf, *bdf2;
	struct udk_nvme_ctrlr *c, *c1;
	struct udk_nvme_ctrlr_info ci;
	struct udk_nvme_ns *ns;
	struct udk_nvme_qpair *raw;
	struct udk_bdev *b;
	struct udk_bdev_info info;
	struct udk_bdev_stats st0, st1;
	struct udk_bdev_channel *ch, *ch2;
	struct seen seen = {0};
	char drv[64] = "", drv2[64] = "";

	setvbuf(stdout, NULL, _IONBF, 0);
	lab_require_guest();
	bdf = lab_env_require("UDK_LAB_NVME");
	bdf2 = lab_env_require("UDK_LAB_NVME2");
	lab_device_driver(bdf, drv, sizeof(drv));
	lab_device_driver(bdf2, drv2, sizeof(drv2));
	REQUIRE(lab_bind_vfio(bdf) == 0 && lab_bind_vfio(bdf2) == 0);
	char *argv[] = {"lab", "-l", "0,1", "-m", "160", "-a", (char *)bdf, "-a", (char *)bdf2,
			NULL};
	REQUIRE(udk_eal_init(9, argv) == 9);
	REQUIRE(lab_backend_ok(udk_eal_dmamap()));
	REQUIRE(udk_nvme_ctrlr_attach(udk_eal_device(0), NULL, &c) == 0);
	REQUIRE(udk_nvme_ctrlr_attach(udk_eal_device(1), NULL, &c1) == 0);
	udk_nvme_ctrlr_info(c, &ci);
	REQUIRE(udk_nvme_ctrlr_ns(c, 1, &ns) == 0);
	REQUIRE(udk_nvme_qpair_create(c, NULL, &raw) == 0);

	CHECK(udk_bdev_nvme_create("n1", c, 7, &b) == -ENOENT);
	REQUIRE(udk_bdev_nvme_create("nvme0n1", c, 1, &b) == 0);
	CHECK(udk_bdev_nvme_create("nvme0n1", c, 1, &b) == -EEXIST);
	REQUIRE(udk_bdev_info(b, &info) == 0);
	printf("%s: %s bdev on %s, %llu blocks of %u bytes, max %u blocks per I/O, write zeroes "
	       "%d, deallocate %d, uuid %02x%02x..%02x\n", info.name, info.backend, ci.bdf,
	       (unsigned long long)info.num_blocks, info.block_size, info.max_io_blocks,
	       info.io_supported[UDK_BDEV_IO_WRITE_ZEROES],
	       info.io_supported[UDK_BDEV_IO_DEALLOCATE], info.uuid[0], info.uuid[1],
	       info.uuid[15]);
	CHECK(strcmp(info.backend, "nvme") == 0);
	CHECK(info.num_blocks * info.block_size == 256ull << 20);
	CHECK(info.max_io_blocks == ci.max_xfer / info.block_size);
	CHECK(udk_bdev_mem(b) == udk_nvme_ctrlr_mem(c));
	CHECK(info.io_supported[UDK_BDEV_IO_WRITE_ZEROES] &&
	      info.io_supported[UDK_BDEV_IO_DEALLOCATE]);
	CHECK(udk_bdev_event_register(b, on_event, &seen) == 0);
	REQUIRE(udk_bdev_channel_get(b, &ch) == 0);

	/* Zero copy out, bounced back in; then the other way; then vectors. */
	struct pass p = {.bdev = b, .ch = ch, .first = 0, .nblocks = AREA, .bs = info.block_size,
			 .max_nlb = info.max_io_blocks, .seed = 0xa, .wkind = BUF_DMA,
			 .rkind = BUF_HEAP};
	static const char *const kinds[] = {"DMA (zero copy)", "heap (bounced)", "iovec (bounced)"};
	static const enum bufkind w[] = {BUF_DMA, BUF_HEAP, BUF_VEC};
	static const enum bufkind r[] = {BUF_HEAP, BUF_VEC, BUF_DMA};

	for (int i = 0; i < 3; i++) {
		udk_bdev_stats(b, &st0);
		p.first = (uint64_t)i * AREA;
		p.seed = 0xa + (uint64_t)i;
		p.wkind = w[i];
		p.rkind = r[i];
		REQUIRE(write_read_verify(&p) == 0);
		udk_bdev_stats(b, &st1);
		long raw_bad = raw_verify(raw, ns, p.first, AREA, info.block_size, info.max_io_blocks,
				    p.seed);
		printf("blocks %llu+%u: written from %s, read into %s: %d errors, first bad LBA "
		       "%ld; raw qpair read: first bad %ld; %llu I/O bounced\n",
		       (unsigned long long)p.first, AREA, kinds[w[i]], kinds[r[i]], p.errors,
		       p.bad_lba, raw_bad, (unsigned long long)(st1.bounced - st0.bounced));
		CHECK(p.errors == 0 && p.bad_lba < 0 && raw_bad == -1);
		/* Every I/O from heap or iovec memory bounced, none from DMA
		 * memory (both phases issue the same number of I/O). */
		uint64_t nio = st1.ops[UDK_BDEV_IO_WRITE] - st0.ops[UDK_BDEV_IO_WRITE];
		CHECK(st1.ops[UDK_BDEV_IO_READ] - st0.ops[UDK_BDEV_IO_READ] == nio);
		CHECK(st1.bounced - st0.bounced == nio * ((w[i] != BUF_DMA) + (r[i] != BUF_DMA)));
		CHECK(st1.errors == 0);
	}

	/* Flush; write zeroes 100+50 inside area 0; one longer than a command
	 * takes (70000 blocks, from 20000); deallocate. */
	size_t rlen = (size_t)info.max_io_blocks * info.block_size;
	uint8_t *rb = udk_mem_zmalloc(udk_bdev_mem(b), rlen, 4096, UDK_SOCKET_ANY);
	REQUIRE(rb != NULL && info.max_io_blocks >= 64);
	CHECK(sync_io(ch, UDK_BDEV_IO_FLUSH, NULL, 0, 0) == 0);
	CHECK(sync_io(ch, UDK_BDEV_IO_WRITE_ZEROES, NULL, 100, 50) == 0);
	CHECK(sync_io(ch, UDK_BDEV_IO_READ, rb, 96, 64) == 0);
	bool zero_ok = lab_pattern_check(rb, 96, 4, info.block_size, 0xa) < 0 &&
		       all_zero(rb + 4 * (size_t)info.block_size, 50 * (size_t)info.block_size) &&
		       lab_pattern_check(rb + 54 * (size_t)info.block_size, 150, 10,
					 info.block_size, 0xa) < 0;
	printf("write zeroes 100+50: %s\n", zero_ok ? "zeros there, neighbours intact" : "WRONG");
	CHECK(zero_ok);
	memset(rb, 0x5a, rlen);
	for (uint64_t lba = 20000; lba < 20000 + 70000 + 64; lba += 64)
		if (sync_io(ch, UDK_BDEV_IO_WRITE, rb, lba, 64) != 0)
			break;
	CHECK(sync_io(ch, UDK_BDEV_IO_WRITE_ZEROES, NULL, 20000, 70000) == 0);
	bool long_ok = true;
	for (uint64_t lba = 20000 + 65536 - 32; lba < 20000 + 70000; lba += 2000) {
		memset(rb, 0xee, 64 * (size_t)info.block_size);
		long_ok = long_ok && sync_io(ch, UDK_BDEV_IO_READ, rb, lba, 64) == 0 &&
			  all_zero(rb, (20000 + 70000 - lba < 64 ? 20000 + 70000 - lba : 64) *
					       (size_t)info.block_size);
	}
	CHECK(sync_io(ch, UDK_BDEV_IO_READ, rb, 20000 + 70000, 1) == 0 && rb[0] == 0x5a);
	printf("write zeroes of 70000 blocks (two commands): %s\n", long_ok ? "zeros" : "WRONG");
	CHECK(long_ok);
	CHECK(sync_io(ch, UDK_BDEV_IO_DEALLOCATE, NULL, 1000, 100) == 0);
	CHECK(sync_io(ch, UDK_BDEV_IO_FLUSH, NULL, 0, 0) == 0);

	vector_one_command(b, ch, c, raw, ns, 200000);

	/* Refused before the device, with their codes. */
	struct io none = {0};
	CHECK(udk_bdev_read(ch, rb, info.num_blocks - 4, 8, io_cb, &none) == -ERANGE);
	CHECK(udk_bdev_read(ch, rb, 0, info.max_io_blocks + 1, io_cb, &none) == -E2BIG);
	CHECK(udk_bdev_read(ch, NULL, 0, 1, io_cb, &none) == -EINVAL);
	CHECK(udk_bdev_channel_outstanding(ch) == 0 && udk_bdev_channel_poll(ch, 0) == 0 &&
	      none.done == 0);

	/* Two channels on two lcores at once, disjoint areas, both kinds of buffer. */
	struct pass pw = p, pm = p;
	pw.ch = NULL, pw.first = 4 * AREA, pw.seed = 0xc, pw.wkind = BUF_HEAP, pw.rkind = BUF_DMA;
	pm.ch = ch, pm.first = 5 * AREA, pm.seed = 0xd, pm.wkind = BUF_DMA, pm.rkind = BUF_HEAP;
	CHECK(udk_lcore_launch(1, worker, &pw) == 0);
	CHECK(write_read_verify(&pm) == 0);
	CHECK(udk_lcore_wait(1) == 0);
	printf("two channels on two lcores: lcore 1 %d errors (bad %ld), lcore 0 %d errors (bad "
	       "%ld)\n", pw.errors, pw.bad_lba, pm.errors, pm.bad_lba);
	CHECK(pw.errors == 0 && pw.bad_lba < 0 && pm.errors == 0 && pm.bad_lba < 0);
	CHECK(raw_verify(raw, ns, 4 * AREA, AREA, info.block_size, info.max_io_blocks, 0xc) == -1);

	double qd1 = rand_read_iops(b, ch, 1), qd32 = rand_read_iops(b, ch, 32);
	printf("4 KiB random reads through the bdev: %.0f IOPS at QD1, %.0f at QD32\n", qd1, qd32);

	/* channel_put with 32 reads in flight: each ends exactly once. */
	REQUIRE(udk_bdev_channel_get(b, &ch2) == 0);
	struct io put = {0};
	for (int i = 0; i < 32; i++) {
		CHECK(udk_bdev_read(ch2, rb, (uint64_t)i * 8, 8, io_cb, &put) == 0);
		if (i == 15)
			udk_bdev_channel_poll(ch2, 0); /* the first 16 reach the device */
	}
	udk_bdev_channel_put(ch2);
	printf("channel put with 32 reads in flight: %d done, %d ok, %d cancelled, %d failed\n",
	       put.done, put.ok, put.cancelled, put.failed);
	CHECK(put.done == 32 && put.failed == 0);

	udk_bdev_stats(b, &st1);
	printf("stats: %llu reads, %llu writes, %llu write zeroes, %llu flushes, %llu bounced, "
	       "%llu errors, %u channels\n", (unsigned long long)st1.ops[UDK_BDEV_IO_READ],
	       (unsigned long long)st1.ops[UDK_BDEV_IO_WRITE],
	       (unsigned long long)st1.ops[UDK_BDEV_IO_WRITE_ZEROES],
	       (unsigned long long)st1.ops[UDK_BDEV_IO_FLUSH], (unsigned long long)st1.bounced,
	       (unsigned long long)st1.errors, st1.channels);
	CHECK(st1.channels == 1 && st1.errors == 0);

	/* The other controller goes away: this bdev does not notice. */
	unplug(c1, &seen);
	CHECK(sync_io(ch, UDK_BDEV_IO_READ, rb, 0, 8) == 0 &&
	      lab_pattern_check(rb, 0, 8, info.block_size, 0xa) < 0);

	/* Destroy with a channel open: REMOVE, -EBUSY; after the put, gone. */
	CHECK(udk_bdev_destroy(b) == -EBUSY && seen.remove == 1);
	CHECK(udk_bdev_read(ch, rb, 0, 1, io_cb, &none) == -UDK_EREMOVED);
	udk_mem_free(udk_bdev_mem(b), rb);
	udk_bdev_channel_put(ch);
	CHECK(udk_bdev_destroy(b) == 0 && seen.remove == 1);
	CHECK(udk_bdev_get("nvme0n1") == NULL);

	udk_nvme_qpair_destroy(raw);
	udk_nvme_ctrlr_detach(c);
	udk_nvme_ctrlr_detach(c1);
	udk_eal_cleanup();
	lab_bind(bdf, drv);
	lab_bind(bdf2, drv2);
	return lab_result();
}
