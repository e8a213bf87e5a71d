/* SPDX-License-Identifier: BSD-3-Clause */
/* test_bdev_nvme.c - the nvme backend's logic over the fake controller of
 * tests/unit/nvme (fakedev.h: a thread playing the device, no data kept):
 * geometry from Identify, the controller's heap as the zero-copy memory,
 * buffers outside it bounced, vectors of whole-block heap pieces not, memory
 * registered with udk_bdev_mem_register() going without a copy, types the controller lacks refused with
 * -ENOTSUP, completions only from poll, one qpair per channel (-EAGAIN when
 * the controller has no more), channel_put cancelling what the device holds,
 * and a removed controller's I/O ending with -UDK_EREMOVED.  Data integrity
 * is the lab's (tests/lab/lab_bdev_nvme.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/unit.h"
#include "../nvme/fakedev.h"
#include "../nvme/fakemem.h"
#include "bdevtest.h"
#include "udk_dma.h"
#include "udk_eal.h"
#include "udk_nvme.h"

struct rig {
	struct fakedev *d;
	struct udk_nvme_ctrlr *c;
	struct udk_bdev *b;
};

static bool rig_up(struct rig *r)
{
	struct udk_nvme_ctrlr_opts co;

	udk_nvme_ctrlr_opts_init(&co, sizeof(co));
	co.admin_timeout_ms = 3000;
	co.no_aer = true;
	r->c = fakedev_ctrlr(&r->d, &co);
	return r->c != NULL && udk_bdev_nvme_create("nv0", r->c, 1, &r->b) == 0;
}

static void rig_down(struct rig *r)
{
	CU_ASSERT_EQUAL(udk_bdev_destroy(r->b), 0);
	fakedev_free(r->c, r->d);
}

static void test_create(void)
{
	struct rig r;
	struct udk_bdev_info info;
	struct udk_bdev *b = NULL;

	CU_ASSERT_FATAL(rig_up(&r));
	CU_ASSERT_EQUAL(udk_bdev_nvme_create("nv1", r.c, 2, &b), -ENOENT);
	CU_ASSERT_LAST_ERROR_HAS("namespace 2 is not active");
	CU_ASSERT_EQUAL(udk_bdev_nvme_create("nv1", NULL, 1, &b), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_nvme_create("nv0", r.c, 1, &b), -EEXIST);
	CU_ASSERT_PTR_NULL(b);
	CU_ASSERT_EQUAL(udk_bdev_info(r.b, &info), 0);
	CU_ASSERT_STRING_EQUAL(info.backend, "nvme");
	CU_ASSERT_EQUAL(info.block_size, 512);        /* LBA format 0: 2^9 */
	CU_ASSERT_EQUAL(info.num_blocks, 1u << 20);   /* NSZE */
	CU_ASSERT_EQUAL(info.max_io_blocks, (4096u << 5) / 512); /* MDTS 5 */
	CU_ASSERT_EQUAL(info.buf_align, 4);
	CU_ASSERT(info.io_supported[UDK_BDEV_IO_FLUSH]);
	CU_ASSERT_FALSE(info.io_supported[UDK_BDEV_IO_WRITE_ZEROES]); /* ONCS 0 */
	CU_ASSERT_FALSE(info.io_supported[UDK_BDEV_IO_DEALLOCATE]);
	CU_ASSERT_PTR_EQUAL(udk_bdev_mem(r.b), udk_nvme_ctrlr_mem(r.c));
	rig_down(&r);
}

/* Zero copy from the heap, bounced from elsewhere; completions from poll;
 * the types the controller lacks refused. */
static void test_io(void)
{
	struct rig r;
	struct udk_bdev_channel *ch;
	struct udk_bdev_stats st;
	struct done d = {0};
	uint8_t *dma, *heap = malloc(8 * 512);
	struct iovec v[2];

	CU_ASSERT_FATAL(rig_up(&r));
	dma = udk_mem_zmalloc(udk_bdev_mem(r.b), 8 * 512, 4096, UDK_SOCKET_ANY);
	CU_ASSERT_FATAL(dma != NULL && heap != NULL);
	CU_ASSERT_EQUAL_FATAL(udk_bdev_channel_get(r.b, &ch), 0);
	CU_ASSERT_EQUAL(udk_bdev_write(ch, dma, 0, 8, on_done, &d), 0);
	CU_ASSERT_EQUAL(udk_bdev_read(ch, dma + 4, 8, 1, on_done, &d), 0); /* dword aligned */
	CU_ASSERT_EQUAL(d.n, 0);
	wait_for(ch, &d, 2);
	CU_ASSERT_EQUAL(d.status, 0);
	CU_ASSERT_EQUAL(udk_bdev_stats(r.b, &st), 0);
	CU_ASSERT_EQUAL(st.bounced, 0);
	CU_ASSERT_EQUAL(udk_bdev_write(ch, heap, 0, 8, on_done, &d), 0);
	CU_ASSERT_EQUAL(udk_bdev_read(ch, dma + 2, 0, 1, on_done, &d), 0); /* not dword aligned */
	v[0] = (struct iovec){dma, 512};
	v[1] = (struct iovec){dma + 1024, 512}; /* one command (an SGL), no copy */
	CU_ASSERT_EQUAL(udk_bdev_readv(ch, v, 2, 0, 2, on_done, &d), 0);
	v[0] = (struct iovec){dma, 256};
	v[1] = (struct iovec){dma + 1024, 768}; /* not whole blocks each: one SGL, no copy */
	CU_ASSERT_EQUAL(udk_bdev_readv(ch, v, 2, 0, 2, on_done, &d), 0);
	v[1] = (struct iovec){dma + 1026, 768}; /* not dword aligned: bounced */
	CU_ASSERT_EQUAL(udk_bdev_readv(ch, v, 2, 0, 2, on_done, &d), 0);
	CU_ASSERT_EQUAL(udk_bdev_flush(ch, on_done, &d), 0);
	wait_for(ch, &d, 8);
	CU_ASSERT_EQUAL(d.status, 0);
	CU_ASSERT_EQUAL(udk_bdev_stats(r.b, &st), 0);
	CU_ASSERT_EQUAL(st.bounced, 3);
	CU_ASSERT_EQUAL(st.ops[UDK_BDEV_IO_WRITE], 2);
	CU_ASSERT_EQUAL(st.ops[UDK_BDEV_IO_READ], 5);
	CU_ASSERT_EQUAL(st.ops[UDK_BDEV_IO_FLUSH], 1);
	CU_ASSERT_EQUAL(st.errors, 0);
	CU_ASSERT_EQUAL(udk_bdev_write_zeroes(ch, 0, 8, on_done, &d), -ENOTSUP);
	CU_ASSERT_LAST_ERROR_HAS("the nvme backend does not do it here");
	CU_ASSERT_EQUAL(udk_bdev_deallocate(ch, 0, 8, on_done, &d), -ENOTSUP);
	CU_ASSERT_EQUAL(udk_bdev_read(ch, dma, (1u << 20) - 1, 2, on_done, &d), -ERANGE);
	CU_ASSERT_EQUAL(udk_bdev_read(ch, dma, 0, 257, on_done, &d), -E2BIG);
	CU_ASSERT_EQUAL(udk_bdev_channel_poll(ch, 0), 0);
	CU_ASSERT_EQUAL(d.n, 8);
	udk_bdev_channel_put(ch);
	udk_mem_free(udk_bdev_mem(r.b), dma);
	free(heap);
	rig_down(&r);
}

/* The bounced count of bdev b after readv of v[0, n) at block 0 (nblk
 * blocks), polled to its end with status 0. */
static uint64_t bounced_after(struct udk_bdev *b, struct udk_bdev_channel *ch,
			      const struct iovec *v, int n, uint32_t nblk)
{
	struct udk_bdev_stats st;
	struct done d = {0};

	CU_ASSERT_EQUAL(ended(ch, &d, udk_bdev_readv(ch, v, n, 0, nblk, on_done, &d)), 0);
	CU_ASSERT_EQUAL(udk_bdev_stats(b, &st), 0);
	return st.bounced;
}

/* udk_bdev_mem_register(): memory that is not the controller's heap (guest
 * RAM, say) goes into the map of its device and then without a copy, one
 * piece or several, until it is unregistered.  The fake controller's heap
 * belongs to no map until a map is adopted with it. */
static void test_mem_register(void)
{
	struct rig r;
	struct udk_bdev_channel *ch;
	struct udk_dmamap_opts mo;
	struct udk_dmamap *map;
	struct udk_bdev *mb;
	size_t len = 16 * 4096 + 512; /* not a whole number of pages, nor of 2 MiB */
	uint8_t *ram = aligned_alloc(4096, 18 * 4096);
	struct iovec v[3];

	CU_ASSERT_FATAL(ram != NULL);
	CU_ASSERT_FATAL(rig_up(&r));
	CU_ASSERT_EQUAL(udk_bdev_mem_register(r.b, ram, len), -ENOTSUP);
	CU_ASSERT_LAST_ERROR_HAS("belongs to no map");
	CU_ASSERT_EQUAL(udk_bdev_mem_register(NULL, ram, len), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_mem_register(r.b, NULL, len), -EINVAL);
	CU_ASSERT_EQUAL(udk_bdev_mem_register(r.b, ram, 0), -EINVAL);
	/* A backend that uses any buffer in place has nothing to do. */
	CU_ASSERT_EQUAL_FATAL(udk_bdev_malloc_create("m0", 64, 512, &mb), 0);
	CU_ASSERT_EQUAL(udk_bdev_mem_register(mb, ram, len), 0);
	CU_ASSERT_EQUAL(udk_bdev_mem_unregister(mb, ram, len), 0);
	CU_ASSERT_EQUAL(udk_bdev_destroy(mb), 0);

	udk_dmamap_opts_init(&mo, sizeof(mo));
	mo.backend = UDK_DMAMAP_VFIO_TYPE1; /* takes mappings with no device, opens nothing */
	mo.name = "guest";
	CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(&mo, &map), 0);
	CU_ASSERT_EQUAL_FATAL(udk_eal_adopt(udk_nvme_ctrlr_mem(r.c), map), 0);
	CU_ASSERT_EQUAL_FATAL(udk_bdev_channel_get(r.b, &ch), 0);
	v[0] = (struct iovec){ram + 512, 2048};      /* pieces as a guest's driver gives them */
	v[1] = (struct iovec){ram + 3 * 4096, 4096};
	v[2] = (struct iovec){ram + 9 * 4096 + 1024, 1024};
	CU_ASSERT_EQUAL(bounced_after(r.b, ch, v, 3, 14), 1);
	CU_ASSERT_EQUAL(udk_bdev_mem_register(r.b, ram, len), 0);
	CU_ASSERT_EQUAL(udk_bdev_mem_register(r.b, ram + 4096, 512), -UDK_EOVERLAP);
	CU_ASSERT_EQUAL(bounced_after(r.b, ch, v, 3, 14), 1); /* one command, no copy */
	CU_ASSERT_EQUAL(bounced_after(r.b, ch, v + 1, 1, 8), 1);
	v[2].iov_len = 4096; /* the range was widened to whole pages: its last one is mapped */
	v[2].iov_base = ram + 16 * 4096;
	CU_ASSERT_EQUAL(bounced_after(r.b, ch, v + 2, 1, 8), 1);
	v[2].iov_base = ram + 16 * 4096 + 512; /* its end is past the last page */
	CU_ASSERT_EQUAL(bounced_after(r.b, ch, v + 1, 2, 16), 2);
	CU_ASSERT_EQUAL(udk_bdev_mem_unregister(r.b, ram, len), 0);
	CU_ASSERT_EQUAL(bounced_after(r.b, ch, v, 2, 12), 3);
	CU_ASSERT_NOT_EQUAL(udk_bdev_mem_unregister(r.b, ram, len), 0);
	udk_bdev_channel_put(ch);
	CU_ASSERT_EQUAL(udk_eal_adopt(NULL, NULL), 0);
	/* The fake's heap again as it was: the default memory, no fallback
	 * table (the map's goes with the map). */
	udk_mem_set_xlate_fallback(udk_nvme_ctrlr_mem(r.c), NULL);
	udk_mem_set_default(udk_nvme_ctrlr_mem(r.c));
	udk_dmamap_put(map);
	rig_down(&r);
	free(ram);
}

/* Commands the fake device served for readv of v[0, n) at block 0 (nblk
 * blocks), and the bounced count after it; status 0. */
static int commands_for(struct rig *r, struct udk_bdev_channel *ch, const struct iovec *v, int n,
			uint32_t nblk, uint64_t *bounced)
{
	int before = fakedev_get(&r->d->nrw);

	*bounced = bounced_after(r->b, ch, v, n, nblk);
	return fakedev_get(&r->d->nrw) - before;
}

/* A vector goes as one command when the driver takes it so (PRPs for the
 * PRP shape, an SGL for any other when the controller has SGLs), as one
 * command per piece when it must and each piece is whole blocks, bounced
 * otherwise. */
static void test_iov_one_command(void)
{
	struct rig r;
	struct udk_bdev_channel *ch;
	struct iovec v[16];
	uint64_t bounced;
	uint8_t *dma;

	CU_ASSERT_FATAL(rig_up(&r));
	dma = udk_mem_zmalloc(udk_bdev_mem(r.b), 32 * 4096, 4096, UDK_SOCKET_ANY);
	CU_ASSERT_FATAL(dma != NULL);
	CU_ASSERT_EQUAL_FATAL(udk_bdev_channel_get(r.b, &ch), 0);
	/* 16 pages in reverse order, as a guest's request comes: one command. */
	for (int i = 0; i < 16; i++)
		v[i] = (struct iovec){dma + (size_t)(30 - 2 * i) * 4096, 4096};
	CU_ASSERT_EQUAL(commands_for(&r, ch, v, 16, 128, &bounced), 1);
	CU_ASSERT_EQUAL(bounced, 0);
	/* Pieces that are not whole blocks, nor pages: one SGL. */
	v[0] = (struct iovec){dma + 100, 300};
	v[1] = (struct iovec){dma + 8192 + 4, 1748};
	v[2] = (struct iovec){dma + 5 * 4096, 512};
	CU_ASSERT_EQUAL(commands_for(&r, ch, v, 3, 5, &bounced), 1);
	CU_ASSERT_EQUAL(bounced, 0);
	udk_bdev_channel_put(ch);

	/* A controller without SGLs (as if Identify SGLS were 0; the qpair of
	 * the next channel is created PRP-only). */
	r.c->info.sgls = 0;
	CU_ASSERT_EQUAL_FATAL(udk_bdev_channel_get(r.b, &ch), 0);
	for (int i = 0; i < 16; i++)
		v[i] = (struct iovec){dma + (size_t)(30 - 2 * i) * 4096, 4096};
	v[0] = (struct iovec){dma + 30 * 4096 + 512, 3584}; /* the first may start mid-page */
	v[15].iov_len = 1024;                              /* the last may end mid-page */
	CU_ASSERT_EQUAL(commands_for(&r, ch, v, 16, 121, &bounced), 1);
	CU_ASSERT_EQUAL(bounced, 0);
	v[0] = (struct iovec){dma, 512};
	v[1] = (struct iovec){dma + 1024, 512}; /* not the PRP shape: a command per block */
	CU_ASSERT_EQUAL(commands_for(&r, ch, v, 2, 2, &bounced), 2);
	CU_ASSERT_EQUAL(bounced, 0);
	v[0] = (struct iovec){dma, 256};
	v[1] = (struct iovec){dma + 1024, 768}; /* nor whole blocks: one bounced command */
	CU_ASSERT_EQUAL(commands_for(&r, ch, v, 2, 2, &bounced), 1);
	CU_ASSERT_EQUAL(bounced, 1);
	udk_bdev_channel_put(ch);
	r.c->info.sgls = 1;
	udk_mem_free(udk_bdev_mem(r.b), dma);
	rig_down(&r);
}

/* The fake controller grants three I/O queues (FAKE_QUEUES - 1): a fourth
 * channel waits for one to be put. */
static void test_channels(void)
{
	struct rig r;
	struct udk_bdev_channel *ch[4];
	struct udk_bdev_stats st;

	CU_ASSERT_FATAL(rig_up(&r));
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL_FATAL(udk_bdev_channel_get(r.b, &ch[i]), 0);
	CU_ASSERT_EQUAL(udk_bdev_channel_get(r.b, &ch[3]), -EAGAIN);
	CU_ASSERT_EQUAL(udk_bdev_stats(r.b, &st), 0);
	CU_ASSERT_EQUAL(st.channels, 3);
	udk_bdev_channel_put(ch[1]);
	CU_ASSERT_EQUAL_FATAL(udk_bdev_channel_get(r.b, &ch[1]), 0); /* its queue is free again */
	for (int i = 0; i < 3; i++)
		udk_bdev_channel_put(ch[i]);
	rig_down(&r);
}

/* Bring the rig up with n one-block reads that the fake device holds, the
 * doorbell rung; returns their buffer (the caller frees it). */
static uint8_t *held_reads(struct rig *r, struct udk_bdev_channel **ch, struct done *d, int n)
{
	uint8_t *dma;

	CU_ASSERT_FATAL(rig_up(r));
	dma = udk_mem_zmalloc(udk_bdev_mem(r->b), 4096, 4096, UDK_SOCKET_ANY);
	CU_ASSERT_FATAL(dma != NULL);
	CU_ASSERT_EQUAL_FATAL(udk_bdev_channel_get(r->b, ch), 0);
	__atomic_store_n(&r->d->hold_io, true, __ATOMIC_RELEASE);
	for (int i = 0; i < n; i++)
		CU_ASSERT_EQUAL(udk_bdev_read(*ch, dma, (uint64_t)i, 1, on_done, d), 0);
	udk_bdev_channel_poll(*ch, 0); /* rings the doorbell */
	CU_ASSERT_EQUAL(d->n, 0);
	CU_ASSERT_EQUAL(udk_bdev_channel_outstanding(*ch), (uint32_t)n);
	return dma;
}

/* What the device holds when the channel is put ends with -ECANCELED, each
 * callback once. */
static void test_put_cancels(void)
{
	struct rig r;
	struct udk_bdev_channel *ch;
	struct done d = {0};
	uint8_t *dma = held_reads(&r, &ch, &d, 4);

	udk_bdev_channel_put(ch);
	CU_ASSERT_EQUAL(d.n, 4);
	CU_ASSERT_EQUAL(d.status, -ECANCELED);
	__atomic_store_n(&r.d->hold_io, false, __ATOMIC_RELEASE);
	udk_mem_free(udk_bdev_mem(r.b), dma);
	rig_down(&r);
}

/* A removed controller: held I/O ends with -UDK_EREMOVED at the next poll,
 * new I/O is refused with it. */
static void test_removed(void)
{
	struct rig r;
	struct udk_bdev_channel *ch;
	struct done d = {0};
	uint8_t *dma = held_reads(&r, &ch, &d, 1);

	/* What lib/pci's remove handler does (drivers/nvme/remove.c). */
	__atomic_store_n(&r.c->removed, true, __ATOMIC_RELEASE);
	__atomic_store_n(&r.c->failed, true, __ATOMIC_RELEASE);
	wait_for(ch, &d, 1);
	CU_ASSERT_EQUAL(d.n, 1);
	CU_ASSERT_EQUAL(d.status, -UDK_EREMOVED);
	CU_ASSERT_EQUAL(udk_bdev_read(ch, dma, 0, 1, on_done, &d), -UDK_EREMOVED);
	udk_bdev_channel_put(ch);
	CU_ASSERT_EQUAL(d.n, 1);
	udk_mem_free(udk_bdev_mem(r.b), dma);
	__atomic_store_n(&r.c->removed, false, __ATOMIC_RELEASE); /* let the fake shut down */
	__atomic_store_n(&r.c->failed, false, __ATOMIC_RELEASE);
	__atomic_store_n(&r.d->hold_io, false, __ATOMIC_RELEASE);
	rig_down(&r);
}

int main(void)
{
	static const struct unit_test t[] = {
		{"create", test_create},
		{"io", test_io},
		{"mem_register", test_mem_register},
		{"iov_one_command", test_iov_one_command},
		{"channels", test_channels},
		{"put_cancels", test_put_cancels},
		{"removed", test_removed},
	};

	unit_quiet_logs();
	return unit_run("bdev_nvme", t, UDK_ARRAY_SIZE(t));
}
