/* SPDX-License-Identifier: BSD-3-Clause */
/* test_bdev.c - lib/bdev's core with the malloc and null backends: creation
 * checks, the registry, data written then read back (plain and vectored),
 * write-zeroes and deallocate, completions only from poll, a full channel,
 * every bad argument refused with its code and no callback, channel_put
 * ending what is in flight, statistics over two threads' channels, events. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/unit.h"
#include "bdevtest.h"

static void test_create_checks(void)
{
	struct udk_bdev *b = NULL, *b2 = NULL;
	char longname[80];

	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	CU_ASSERT_EQUAL(udk_bdev_malloc_create(NULL, 8, 512, &b), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_malloc_create("", 8, 512, &b), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_malloc_create("a b", 8, 512, &b), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("printable characters without spaces");
	CU_ASSERT_EQUAL(udk_bdev_malloc_create(longname, 8, 512, &b), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_malloc_create("m0", 8, 512, NULL), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_malloc_create("m0", 8, 0, &b), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_malloc_create("m0", 8, 1000, &b), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("block size 1000 is not a power of two");
	CU_ASSERT_EQUAL(udk_bdev_malloc_create("m0", 8, 256, &b), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_null_create("n0", 8, 1u << 17, &b), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_null_create("n0", 0, 512, &b), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_null_create("n0", UINT64_MAX, 4096, &b), -EINVAL);
	CU_ASSERT_PTR_NULL(b);
	CU_ASSERT_PTR_NULL(udk_bdev_get("m0"));

	CU_ASSERT_EQUAL_FATAL(udk_bdev_malloc_create("m0", 8, 512, &b), 0);
	CU_ASSERT_EQUAL(udk_bdev_null_create("m0", 8, 512, &b2), -EEXIST);
	CU_ASSERT_LAST_ERROR_HAS("the name m0 is taken");
	CU_ASSERT_PTR_NULL(b2);
	CU_ASSERT_EQUAL(udk_bdev_destroy(b), 0);
	CU_ASSERT_EQUAL(udk_bdev_destroy(NULL), -EINVAL);
}

static int walk_collect(struct udk_bdev *b, void *arg)
{
	char *s = arg;
	struct udk_bdev_info info;

	udk_bdev_info(b, &info);
	strcat(s, info.name);
	strcat(s, ",");
	return strcmp(info.name, "stop") == 0 ? 7 : 0;
}

static void test_registry(void)
{
	struct udk_bdev *a, *b, *c;
	struct udk_bdev_info info;
	char names[128] = "";

	CU_ASSERT_EQUAL_FATAL(udk_bdev_malloc_create("ra", 16, 4096, &a), 0);
	CU_ASSERT_EQUAL_FATAL(udk_bdev_null_create("stop", 1000, 512, &b), 0);
	CU_ASSERT_EQUAL_FATAL(udk_bdev_null_create("rc", 10, 512, &c), 0);
	CU_ASSERT_PTR_EQUAL(udk_bdev_get("ra"), a);
	CU_ASSERT_PTR_EQUAL(udk_bdev_get("stop"), b);
	CU_ASSERT_PTR_NULL(udk_bdev_get("nope"));
	CU_ASSERT_PTR_NULL(udk_bdev_get(NULL));
	CU_ASSERT_EQUAL(udk_bdev_walk(walk_collect, names), 7);
	CU_ASSERT_STRING_EQUAL(names, "ra,stop,");

	CU_ASSERT_EQUAL(udk_bdev_info(a, &info), 0);
	CU_ASSERT_STRING_EQUAL(info.name, "ra");
	CU_ASSERT_STRING_EQUAL(info.backend, "malloc");
	CU_ASSERT_EQUAL(info.block_size, 4096);
	CU_ASSERT_EQUAL(info.num_blocks, 16);
	CU_ASSERT(info.max_io_blocks >= 1);
	CU_ASSERT(info.io_supported[UDK_BDEV_IO_DEALLOCATE]);
	CU_ASSERT_FALSE(info.read_only);
	CU_ASSERT_EQUAL(info.uuid[6] >> 4, 4); /* a version-4 UUID */
	CU_ASSERT_PTR_NULL(udk_bdev_mem(a));
	CU_ASSERT_EQUAL(udk_bdev_info(NULL, &info), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_info(b, &info), 0);
	CU_ASSERT_STRING_EQUAL(info.backend, "null");

	CU_ASSERT_EQUAL(udk_bdev_destroy(b), 0);
	CU_ASSERT_PTR_NULL(udk_bdev_get("stop"));
	names[0] = 0;
	CU_ASSERT_EQUAL(udk_bdev_walk(walk_collect, names), 0);
	CU_ASSERT_STRING_EQUAL(names, "ra,rc,");
	CU_ASSERT_EQUAL(udk_bdev_destroy(a), 0);
	CU_ASSERT_EQUAL(udk_bdev_destroy(c), 0);
	CU_ASSERT_STRING_EQUAL(udk_bdev_io_type_name(UDK_BDEV_IO_WRITE_ZEROES), "write_zeroes");
	CU_ASSERT_STRING_EQUAL(udk_bdev_io_type_name(UDK_BDEV_IO_TYPE_COUNT), "?");
}

/* Write a pattern, read it back into another buffer; the callbacks run only
 * from poll. */
static void test_malloc_data(void)
{
	struct udk_bdev *b;
	struct udk_bdev_channel *ch;
	struct done w = {0}, r = {0}, z = {0}, f = {0};
	const uint32_t bs = 512;
	uint8_t *wbuf = malloc(8 * bs), *rbuf = malloc(8 * bs), *zero = calloc(1, 8 * bs);

	CU_ASSERT_EQUAL_FATAL(udk_bdev_malloc_create("mdata", 64, bs, &b), 0);
	CU_ASSERT_EQUAL_FATAL(udk_bdev_channel_get(b, &ch), 0);
	fill(wbuf, 8 * bs, 1);
	CU_ASSERT_EQUAL(udk_bdev_write(ch, wbuf, 3, 8, on_done, &w), 0);
	CU_ASSERT_EQUAL(w.n, 0); /* never inline */
	CU_ASSERT_EQUAL(udk_bdev_channel_outstanding(ch), 1);
	CU_ASSERT_EQUAL(udk_bdev_channel_poll(ch, 0), 1);
	CU_ASSERT_EQUAL(w.n, 1);
	CU_ASSERT_EQUAL(w.status, 0);
	CU_ASSERT_EQUAL(udk_bdev_channel_outstanding(ch), 0);

	memset(rbuf, 0xee, 8 * bs);
	CU_ASSERT_EQUAL(udk_bdev_read(ch, rbuf, 3, 8, on_done, &r), 0);
	CU_ASSERT_EQUAL(r.n, 0);
	wait_for(ch, &r, 1);
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT(memcmp(rbuf, wbuf, 8 * bs) == 0);
	/* The neighbours stayed zero. */
	CU_ASSERT_EQUAL(udk_bdev_read(ch, rbuf, 0, 3, on_done, &r), 0);
	wait_for(ch, &r, 2);
	CU_ASSERT(memcmp(rbuf, zero, 3 * bs) == 0);

	/* Write zeroes over blocks 4..5, deallocate 9..10: they read back zero. */
	CU_ASSERT_EQUAL(udk_bdev_write_zeroes(ch, 4, 2, on_done, &z), 0);
	CU_ASSERT_EQUAL(udk_bdev_deallocate(ch, 9, 2, on_done, &z), 0);
	CU_ASSERT_EQUAL(udk_bdev_flush(ch, on_done, &f), 0);
	CU_ASSERT_EQUAL(z.n + f.n, 0);
	wait_for(ch, &z, 2);
	wait_for(ch, &f, 1);
	CU_ASSERT_EQUAL(z.status, 0);
	CU_ASSERT_EQUAL(f.status, 0);
	memset(rbuf, 0xee, 8 * bs);
	CU_ASSERT_EQUAL(udk_bdev_read(ch, rbuf, 3, 8, on_done, &r), 0);
	wait_for(ch, &r, 3);
	CU_ASSERT(memcmp(rbuf, wbuf, bs) == 0);                   /* block 3 */
	CU_ASSERT(memcmp(rbuf + bs, zero, 2 * bs) == 0);          /* 4, 5 */
	CU_ASSERT(memcmp(rbuf + 3 * bs, wbuf + 3 * bs, 3 * bs) == 0); /* 6..8 */
	CU_ASSERT(memcmp(rbuf + 6 * bs, zero, 2 * bs) == 0);      /* 9, 10 */

	udk_bdev_channel_put(ch);
	CU_ASSERT_EQUAL(udk_bdev_destroy(b), 0);
	free(wbuf);
	free(rbuf);
	free(zero);
}

/* Vectored I/O with uneven pieces crosses block boundaries both ways. */
static void test_malloc_vectored(void)
{
	struct udk_bdev *b;
	struct udk_bdev_channel *ch;
	struct done d = {0};
	uint8_t src[2048], a[100], c[1000], e[948], flat[2048];
	struct iovec wv[3] = {{src, 700}, {src + 700, 1}, {src + 701, 1347}};
	struct iovec rv[3] = {{a, sizeof(a)}, {c, sizeof(c)}, {e, sizeof(e)}};

	CU_ASSERT_EQUAL_FATAL(udk_bdev_malloc_create("mvec", 16, 512, &b), 0);
	CU_ASSERT_EQUAL_FATAL(udk_bdev_channel_get(b, &ch), 0);
	fill(src, sizeof(src), 2);
	CU_ASSERT_EQUAL(udk_bdev_writev(ch, wv, 3, 5, 4, on_done, &d), 0);
	CU_ASSERT_EQUAL(d.n, 0);
	wait_for(ch, &d, 1);
	CU_ASSERT_EQUAL(d.status, 0);
	CU_ASSERT_EQUAL(udk_bdev_readv(ch, rv, 3, 5, 4, on_done, &d), 0);
	wait_for(ch, &d, 2);
	memcpy(flat, a, sizeof(a));
	memcpy(flat + sizeof(a), c, sizeof(c));
	memcpy(flat + sizeof(a) + sizeof(c), e, sizeof(e));
	CU_ASSERT(memcmp(flat, src, sizeof(src)) == 0);
	/* And the plain read sees the same bytes. */
	memset(flat, 0, sizeof(flat));
	CU_ASSERT_EQUAL(udk_bdev_read(ch, flat, 5, 4, on_done, &d), 0);
	wait_for(ch, &d, 3);
	CU_ASSERT(memcmp(flat, src, sizeof(src)) == 0);
	udk_bdev_channel_put(ch);
	CU_ASSERT_EQUAL(udk_bdev_destroy(b), 0);
}

static void test_null(void)
{
	struct udk_bdev *b;
	struct udk_bdev_channel *ch;
	struct done d = {0};
	uint8_t buf[4096];

	CU_ASSERT_EQUAL_FATAL(udk_bdev_null_create("null0", 1u << 20, 4096, &b), 0);
	CU_ASSERT_EQUAL_FATAL(udk_bdev_channel_get(b, &ch), 0);
	memset(buf, 0x5a, sizeof(buf));
	CU_ASSERT_EQUAL(udk_bdev_read(ch, buf, (1u << 20) - 1, 1, on_done, &d), 0);
	CU_ASSERT_EQUAL(udk_bdev_write(ch, buf, 0, 1, on_done, &d), 0);
	CU_ASSERT_EQUAL(udk_bdev_deallocate(ch, 0, 1u << 20, on_done, &d), 0);
	CU_ASSERT_EQUAL(d.n, 0);
	CU_ASSERT_EQUAL(udk_bdev_channel_outstanding(ch), 3);
	CU_ASSERT_EQUAL(udk_bdev_channel_poll(ch, 0), 3);
	CU_ASSERT_EQUAL(d.n, 3);
	CU_ASSERT_EQUAL(d.status, 0);
	CU_ASSERT_EQUAL(buf[0], 0x5a); /* null reads leave the buffer alone */
	CU_ASSERT_EQUAL(udk_bdev_channel_poll(ch, 0), 0);
	udk_bdev_channel_put(ch);
	CU_ASSERT_EQUAL(udk_bdev_destroy(b), 0);
}

/* Each bad call returns its code, queues nothing, and its callback never
 * runs. */
static void test_bad_args(void)
{
	struct udk_bdev *b;
	struct udk_bdev_channel *ch;
	struct udk_bdev_info info;
	struct done d = {0};
	static uint8_t buf[1u << 21];
	struct iovec iv[2] = {{buf, 512}, {buf + 512, 511}};
	struct iovec ivnull[2] = {{buf, 512}, {NULL, 512}};

	CU_ASSERT_EQUAL_FATAL(udk_bdev_malloc_create("mbad", 100, 512, &b), 0);
	CU_ASSERT_EQUAL_FATAL(udk_bdev_channel_get(b, &ch), 0);
	udk_bdev_info(b, &info);
	CU_ASSERT_EQUAL(udk_bdev_channel_get(NULL, &ch), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_channel_get(b, NULL), -EINVAL);

	CU_ASSERT_EQUAL(udk_bdev_read(NULL, buf, 0, 1, on_done, &d), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_read(ch, buf, 0, 1, NULL, &d), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("cb is NULL");
	CU_ASSERT_EQUAL(udk_bdev_read(ch, NULL, 0, 1, on_done, &d), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("the buffer is NULL");
	CU_ASSERT_EQUAL(udk_bdev_write(ch, buf, 0, 0, on_done, &d), -ERANGE);
	CU_ASSERT_EQUAL(udk_bdev_write(ch, buf, 99, 2, on_done, &d), -ERANGE);
	CU_ASSERT_LAST_ERROR_HAS("outside the bdev's 100 blocks");
	CU_ASSERT_EQUAL(udk_bdev_write(ch, buf, 100, 1, on_done, &d), -ERANGE);
	CU_ASSERT_EQUAL(udk_bdev_read(ch, buf, UINT64_MAX, 2, on_done, &d), -ERANGE);
	CU_ASSERT_EQUAL(udk_bdev_write_zeroes(ch, 50, 51, on_done, &d), -ERANGE);
	CU_ASSERT_EQUAL(udk_bdev_deallocate(ch, 0, 0, on_done, &d), -ERANGE);
	CU_ASSERT_EQUAL(udk_bdev_flush(ch, NULL, NULL), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_readv(ch, iv, 2, 0, 2, on_done, &d), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("the iov holds 1023 bytes, 2 blocks need 1024");
	CU_ASSERT_EQUAL(udk_bdev_writev(ch, ivnull, 2, 0, 2, on_done, &d), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_writev(ch, NULL, 1, 0, 1, on_done, &d), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_writev(ch, iv, 0, 0, 1, on_done, &d), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_writev(ch, iv, -1, 0, 1, on_done, &d), -EINVAL);

	/* A bdev big enough that max_io_blocks is the limit, not the end. */
	{
		struct udk_bdev *big;
		struct udk_bdev_channel *bch;
		struct udk_bdev_info bi;

		CU_ASSERT_EQUAL_FATAL(udk_bdev_null_create("nbig", 1u << 24, 512, &big), 0);
		CU_ASSERT_EQUAL_FATAL(udk_bdev_channel_get(big, &bch), 0);
		udk_bdev_info(big, &bi);
		CU_ASSERT_EQUAL(udk_bdev_read(bch, buf, 0, bi.max_io_blocks + 1, on_done, &d),
				-E2BIG);
		CU_ASSERT_LAST_ERROR_HAS("split it");
		CU_ASSERT_EQUAL(udk_bdev_read(bch, buf, 0, bi.max_io_blocks, on_done, &d), 0);
		/* write zeroes and deallocate are not bounded by a buffer */
		CU_ASSERT_EQUAL(udk_bdev_write_zeroes(bch, 0, bi.max_io_blocks + 1, on_done, &d),
				0);
		CU_ASSERT_EQUAL(d.n, 0);
		wait_for(bch, &d, 2);
		CU_ASSERT_EQUAL(d.n, 2);
		d.n = 0;
		udk_bdev_channel_put(bch);
		CU_ASSERT_EQUAL(udk_bdev_destroy(big), 0);
	}

	CU_ASSERT_EQUAL(udk_bdev_channel_outstanding(ch), 0);
	CU_ASSERT_EQUAL(udk_bdev_channel_poll(ch, 0), 0);
	CU_ASSERT_EQUAL(d.n, 0);
	CU_ASSERT_EQUAL(udk_bdev_channel_poll(NULL, 0), -EINVAL);
	udk_bdev_channel_put(ch);
	udk_bdev_channel_put(NULL);
	CU_ASSERT_EQUAL(udk_bdev_destroy(b), 0);
}

/* A full channel says -EAGAIN; poll with a max runs that many. */
static void test_full_channel(void)
{
	struct udk_bdev *b;
	struct udk_bdev_channel *ch;
	struct done d = {0};
	uint8_t buf[512];
	int n = 0, rc;

	CU_ASSERT_EQUAL_FATAL(udk_bdev_null_create("nfull", 64, 512, &b), 0);
	CU_ASSERT_EQUAL_FATAL(udk_bdev_channel_get(b, &ch), 0);
	while ((rc = udk_bdev_read(ch, buf, 0, 1, on_done, &d)) == 0 && n < 100000)
		n++;
	CU_ASSERT_EQUAL(rc, -EAGAIN);
	CU_ASSERT(n >= 16);
	CU_ASSERT_EQUAL(udk_bdev_channel_outstanding(ch), (uint32_t)n);
	CU_ASSERT_EQUAL(d.n, 0);
	CU_ASSERT_EQUAL(udk_bdev_channel_poll(ch, 10), 10);
	CU_ASSERT_EQUAL(d.n, 10);
	CU_ASSERT_EQUAL(udk_bdev_channel_outstanding(ch), (uint32_t)n - 10);
	CU_ASSERT_EQUAL(udk_bdev_read(ch, buf, 0, 1, on_done, &d), 0);
	CU_ASSERT_EQUAL(udk_bdev_channel_poll(ch, 0), n - 10 + 1);
	CU_ASSERT_EQUAL(d.n, n + 1);
	udk_bdev_channel_put(ch);
	CU_ASSERT_EQUAL(udk_bdev_destroy(b), 0);
}

/* A callback that submits again: its new I/O waits for the next poll. */
struct chain {
	struct udk_bdev_channel *ch;
	int left, runs, rc;
	uint8_t buf[512];
};

static void chain_cb(void *arg, int status)
{
	struct chain *c = arg;

	c->runs++;
	c->rc = status;
	if (c->left-- > 0)
		c->rc = udk_bdev_read(c->ch, c->buf, 0, 1, chain_cb, c);
}

static void test_resubmit_from_callback(void)
{
	struct udk_bdev *b;
	struct chain c = {.left = 3};

	CU_ASSERT_EQUAL_FATAL(udk_bdev_null_create("nchain", 8, 512, &b), 0);
	CU_ASSERT_EQUAL_FATAL(udk_bdev_channel_get(b, &c.ch), 0);
	CU_ASSERT_EQUAL(udk_bdev_read(c.ch, c.buf, 0, 1, chain_cb, &c), 0);
	for (int i = 1; i <= 4; i++) {
		CU_ASSERT_EQUAL(udk_bdev_channel_poll(c.ch, 0), 1);
		CU_ASSERT_EQUAL(c.runs, i);
		CU_ASSERT_EQUAL(c.rc, 0);
	}
	CU_ASSERT_EQUAL(udk_bdev_channel_poll(c.ch, 0), 0);
	udk_bdev_channel_put(c.ch);
	CU_ASSERT_EQUAL(udk_bdev_destroy(b), 0);
}

/* channel_put ends what is in flight, each callback exactly once; a callback
 * run by put cannot submit on the channel being put. */
static void test_put_ends_in_flight(void)
{
	struct udk_bdev *b;
	struct udk_bdev_channel *ch;
	struct done d = {0};
	struct chain c = {.left = 1};
	uint8_t buf[512];

	CU_ASSERT_EQUAL_FATAL(udk_bdev_malloc_create("mput", 8, 512, &b), 0);
	CU_ASSERT_EQUAL_FATAL(udk_bdev_channel_get(b, &ch), 0);
	c.ch = ch;
	for (int i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(udk_bdev_read(ch, buf, i, 1, on_done, &d), 0);
	CU_ASSERT_EQUAL(udk_bdev_read(ch, c.buf, 0, 1, chain_cb, &c), 0);
	CU_ASSERT_EQUAL(d.n, 0);
	udk_bdev_channel_put(ch);
	CU_ASSERT_EQUAL(d.n, 5);
	CU_ASSERT_EQUAL(d.status, 0);
	CU_ASSERT_EQUAL(c.runs, 1);
	CU_ASSERT_EQUAL(c.rc, -ECANCELED);
	CU_ASSERT_EQUAL(udk_bdev_destroy(b), 0);
}

/* Counters of two channels on two threads add up, and survive channel_put. */
struct worker {
	struct udk_bdev *b;
	int writes, reads;
	int failed;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct udk_bdev_channel *ch;
	struct done d = {0};
	uint8_t buf[4 * 512];

	if (udk_bdev_channel_get(w->b, &ch) != 0) {
		w->failed = 1;
		return NULL;
	}
	memset(buf, 1, sizeof(buf));
	for (int i = 0; i < w->writes; i++)
		while (udk_bdev_write(ch, buf, (uint64_t)i % 60, 4, on_done, &d) == -EAGAIN)
			udk_bdev_channel_poll(ch, 0);
	for (int i = 0; i < w->reads; i++)
		while (udk_bdev_read(ch, buf, (uint64_t)i % 60, 2, on_done, &d) == -EAGAIN)
			udk_bdev_channel_poll(ch, 0);
	wait_for(ch, &d, w->writes + w->reads);
	if (d.n != w->writes + w->reads || d.status != 0)
		w->failed = 1;
	udk_bdev_channel_put(ch);
	return NULL;
}

static void test_stats(void)
{
	struct udk_bdev *b;
	struct udk_bdev_channel *ch;
	struct udk_bdev_stats st;
	struct worker w[2] = {{.writes = 1000, .reads = 300}, {.writes = 500, .reads = 2000}};
	pthread_t t[2];
	struct done d = {0};
	uint8_t buf[512];

	CU_ASSERT_EQUAL_FATAL(udk_bdev_malloc_create("mstats", 64, 512, &b), 0);
	CU_ASSERT_EQUAL_FATAL(udk_bdev_channel_get(b, &ch), 0);
	CU_ASSERT_EQUAL(udk_bdev_stats(b, &st), 0);
	CU_ASSERT_EQUAL(st.channels, 1);
	CU_ASSERT_EQUAL(st.ops[UDK_BDEV_IO_WRITE], 0);
	for (int i = 0; i < 2; i++) {
		w[i].b = b;
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CU_ASSERT_EQUAL(w[0].failed + w[1].failed, 0);
	CU_ASSERT_EQUAL(udk_bdev_flush(ch, on_done, &d), 0);
	wait_for(ch, &d, 1);
	CU_ASSERT_EQUAL(udk_bdev_stats(b, &st), 0);
	CU_ASSERT_EQUAL(st.channels, 1);
	CU_ASSERT_EQUAL(st.ops[UDK_BDEV_IO_WRITE], 1500);
	CU_ASSERT_EQUAL(st.ops[UDK_BDEV_IO_READ], 2300);
	CU_ASSERT_EQUAL(st.ops[UDK_BDEV_IO_FLUSH], 1);
	CU_ASSERT_EQUAL(st.bytes_written, 1500ull * 4 * 512);
	CU_ASSERT_EQUAL(st.bytes_read, 2300ull * 2 * 512);
	CU_ASSERT_EQUAL(st.errors, 0);
	CU_ASSERT_EQUAL(st.bounced, 0);
	/* Refused calls count nothing. */
	CU_ASSERT_EQUAL(udk_bdev_read(ch, buf, 64, 1, on_done, &d), -ERANGE);
	udk_bdev_channel_put(ch);
	CU_ASSERT_EQUAL(udk_bdev_stats(b, &st), 0);
	CU_ASSERT_EQUAL(st.channels, 0);
	CU_ASSERT_EQUAL(st.ops[UDK_BDEV_IO_READ], 2300);
	CU_ASSERT_EQUAL(udk_bdev_stats(NULL, &st), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_destroy(b), 0);
}

struct seen {
	int remove, other;
	struct udk_bdev *bdev;
};

static void on_event(struct udk_bdev *bdev, enum udk_bdev_event ev, void *arg)
{
	struct seen *s = arg;

	s->bdev = bdev;
	if (ev == UDK_BDEV_EVENT_REMOVE)
		s->remove++;
	else
		s->other++;
}

/* destroy sends REMOVE once, refuses while a channel is open, and the open
 * channel's I/O then gets -UDK_EREMOVED. */
static void test_events_and_destroy(void)
{
	struct udk_bdev *b;
	struct udk_bdev_channel *ch, *ch2;
	struct seen s = {0}, s2 = {0}, many[8];
	struct done d = {0};
	uint8_t buf[512];

	CU_ASSERT_EQUAL_FATAL(udk_bdev_malloc_create("mev", 8, 512, &b), 0);
	CU_ASSERT_EQUAL(udk_bdev_event_register(b, on_event, &s), 0);
	CU_ASSERT_EQUAL(udk_bdev_event_register(b, on_event, &s), -EEXIST);
	CU_ASSERT_EQUAL(udk_bdev_event_register(b, NULL, &s), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_event_register(b, on_event, &s2), 0);
	for (int i = 0; i < 6; i++)
		CU_ASSERT_EQUAL(udk_bdev_event_register(b, on_event, &many[i]), 0);
	CU_ASSERT_EQUAL(udk_bdev_event_register(b, on_event, &many[6]), -ENOSPC);
	CU_ASSERT_LAST_ERROR_HAS("callback slots are taken");
	for (int i = 0; i < 6; i++)
		CU_ASSERT_EQUAL(udk_bdev_event_unregister(b, on_event, &many[i]), 0);
	CU_ASSERT_EQUAL(udk_bdev_event_unregister(b, on_event, &many[0]), -ENOENT);
	CU_ASSERT_EQUAL(udk_bdev_event_unregister(b, on_event, &s2), 0);

	CU_ASSERT_EQUAL_FATAL(udk_bdev_channel_get(b, &ch), 0);
	CU_ASSERT_EQUAL(udk_bdev_write(ch, buf, 0, 1, on_done, &d), 0);
	CU_ASSERT_EQUAL(udk_bdev_destroy(b), -EBUSY);
	CU_ASSERT_LAST_ERROR_HAS("1 channel is still open");
	CU_ASSERT_EQUAL(s.remove, 1);
	CU_ASSERT_PTR_EQUAL(s.bdev, b);
	CU_ASSERT_EQUAL(s2.remove, 0);
	CU_ASSERT_PTR_EQUAL(udk_bdev_get("mev"), b); /* still there */
	CU_ASSERT_EQUAL(udk_bdev_channel_get(b, &ch2), -UDK_EREMOVED);
	CU_ASSERT_EQUAL(udk_bdev_read(ch, buf, 0, 1, on_done, &d), -UDK_EREMOVED);
	/* What was queued before still completes. */
	CU_ASSERT_EQUAL(udk_bdev_channel_poll(ch, 0), 1);
	CU_ASSERT_EQUAL(d.n, 1);
	udk_bdev_channel_put(ch);
	CU_ASSERT_EQUAL(udk_bdev_destroy(b), 0);
	CU_ASSERT_EQUAL(s.remove, 1); /* once */
	CU_ASSERT_EQUAL(s.other, 0);
	CU_ASSERT_PTR_NULL(udk_bdev_get("mev"));
}

int main(void)
{
	static const struct unit_test t[] = {
		{"create_checks", test_create_checks},
		{"registry", test_registry},
		{"malloc_data", test_malloc_data},
		{"malloc_vectored", test_malloc_vectored},
		{"null", test_null},
		{"bad_args", test_bad_args},
		{"full_channel", test_full_channel},
		{"resubmit_from_callback", test_resubmit_from_callback},
		{"put_ends_in_flight", test_put_ends_in_flight},
		{"stats", test_stats},
		{"events_and_destroy", test_events_and_destroy},
	};

	unit_quiet_logs();
	return unit_run("bdev", t, UDK_ARRAY_SIZE(t));
}
