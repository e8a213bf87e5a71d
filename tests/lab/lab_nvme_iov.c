/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_nvme_iov: vectors of buffers as one command (udk_nvme_ns_iov()) on
 * QEMU's NVMe.  Vectors of mixed shapes over heap memory and over 64 pages of
 * registered memory whose neighbours are never neighbours in IOVA space are
 * written through one qpair and read back through another into vectors of
 * other shapes, and the data compared byte for byte: PRPs (the PRP shape,
 * pages anywhere), SGLs (any shape, elements in several IOVA pieces), and
 * AUTO choosing between them.  Each transfer is one command (the qpair's
 * outstanding count while it waits), and a shape PRPs cannot carry is
 * refused on a PRP-only qpair before the device sees it.  Last, the figure:
 * 16 KiB reads of 4 scattered pages at QD1 as one command, as four commands
 * one after the other, and as four at once.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "labnvme.h"
#include "labutil.h"
#include "udk_dma.h"
#include "udk_eal.h"
#include "udk_mem.h"
#include "udk_nvme.h"
#include "udk_util.h"

#define LBA0 420000u /* a region no other lab test writes */
#define PAGES 64

struct wait {
	bool done;
	int rc;
};

static void done_cb(void *arg, const struct udk_nvme_cpl *cpl)
{
	struct wait *w = arg;

	w->rc = cpl->rc;
	w->done = true;
}

/* One vector command, waited for; -100 when it was not exactly one command
 * in flight. */
static int iov_sync(struct udk_nvme_qpair *qp, struct udk_nvme_ns *ns, enum udk_nvme_io_op op,
		    const struct iovec *v, int n, uint64_t lba)
{
	struct wait w = {0};
	int rc = udk_nvme_ns_iov(qp, ns, op, v, n, lba, 0, done_cb, &w);

	if (rc != 0)
		return rc;
	if (udk_nvme_qpair_outstanding(qp) != 1)
		return -100;
	while (!w.done)
		udk_nvme_qpair_poll(qp, 0);
	return w.rc;
}

static size_t total(const struct iovec *v, int n)
{
	size_t t = 0;

	for (int i = 0; i < n; i++)
		t += v[i].iov_len;
	return t;
}

static void gather(uint8_t *dst, const struct iovec *v, int n)
{
	for (int i = 0; i < n; i++) {
		memcpy(dst, v[i].iov_base, v[i].iov_len);
		dst += v[i].iov_len;
	}
}

static void scatter_pattern(const struct iovec *v, int n, uint32_t seed)
{
	uint32_t k = seed * 2654435761u;

	for (int i = 0; i < n; i++)
		for (size_t j = 0; j < v[i].iov_len; j++, k = k * 1103515245u + 12345u)
			((uint8_t *)v[i].iov_base)[j] = (uint8_t)(k >> 16);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* 16 KiB reads at QD1 for a second from the 4 pages of v, each request
 * (how) 0: one vector command; 1: four 4 KiB commands one after the other
 * (how lib/bdev sent a vector before); 2: the four at once.  Requests per
 * second. */
static double qd1_rate(struct udk_nvme_qpair *qp, struct udk_nvme_ns *ns, const struct iovec *v,
		       int how)
{
	uint64_t t0 = now_ns(), t, n = 0;

	do {
		uint64_t lba = LBA0 + 1024 + (n * 32) % 4096;
		struct wait w[4] = {{0}};

		if (how == 0) {
			CHECK(iov_sync(qp, ns, UDK_NVME_IO_READ, v, 4, lba) == 0);
		} else {
			for (int k = 0; k < 4; k++) {
				CHECK(udk_nvme_ns_io(qp, ns, UDK_NVME_IO_READ, v[k].iov_base,
						     lba + 8 * (uint64_t)k, 8, 0, done_cb, &w[k]) == 0);
				while (how == 1 && !w[k].done)
					udk_nvme_qpair_poll(qp, 0);
			}
			while (!w[3].done || !w[2].done || !w[1].done || !w[0].done)
				udk_nvme_qpair_poll(qp, 0);
		}
		n++;
		t = now_ns();
	} while (t - t0 < 1000000000u);
	return (double)n * 1e9 / (double)(t - t0);
}

static uint8_t flat_w[PAGES * 4096], flat_r[PAGES * 4096];

/* Fill w with a pattern, write it through wq, read it through rq into r
 * (cleared first), compare.  0, or the step that failed (-1 write, -2 read,
 * -3 data) after a line. */
static int cross(const char *what, struct udk_nvme_qpair *wq, struct udk_nvme_qpair *rq,
		 struct udk_nvme_ns *ns, const struct iovec *w, int nw, const struct iovec *r,
		 int nr, uint64_t lba, uint32_t seed)
{
	size_t len = total(w, nw);
	int rc;

	REQUIRE(len == total(r, nr) && len <= sizeof(flat_w));
	scatter_pattern(w, nw, seed);
	for (int i = 0; i < nr; i++)
		memset(r[i].iov_base, 0, r[i].iov_len);
	rc = iov_sync(wq, ns, UDK_NVME_IO_WRITE, w, nw, lba);
	if (rc == 0) {
		rc = iov_sync(rq, ns, UDK_NVME_IO_READ, r, nr, lba);
		if (rc != 0)
			rc = rc == -100 ? -100 : -2;
	} else {
		rc = rc == -100 ? -100 : -1;
	}
	if (rc == 0) {
		gather(flat_w, w, nw);
		gather(flat_r, r, nr);
		rc = memcmp(flat_w, flat_r, len) == 0 ? 0 : -3;
	}
	printf("%s: %zu bytes, %d elements written, %d read: %s\n", what, len, nw, nr,
	       rc == 0 ? "same data" : rc == -1 ? "write failed" : rc == -2 ? "read failed" :
	       rc == -100 ? "not one command" : "DATA DIFFERS");
	return rc;
}

int main(void)
{
	struct udk_nvme_qpair *qs, *qp, *qa;
	struct udk_nvme_ctrlr_info info;
	struct udk_nvme_ctrlr *c;
	struct udk_nvme_ns *ns;
	struct iovec w[16], r[16];
	uint8_t *a, *b, *s;
	char drv[64] = "";
	const char *bdf;
	int adjacent;

	bdf = lab_nvme_eal_init("64", drv, sizeof(drv));
	REQUIRE(udk_nvme_ctrlr_attach(udk_eal_device(0), NULL, &c) == 0);
	REQUIRE(udk_nvme_ctrlr_ns(c, 1, &ns) == 0);
	REQUIRE(udk_nvme_ctrlr_info(c, &info) == 0);
	printf("Identify SGLS 0x%08x, max transfer %u bytes\n", info.sgls, info.max_xfer);
	REQUIRE((info.sgls & 3) != 0 && info.max_xfer >= 64 * 1024);
	qs = lab_nvme_qpair(c, UDK_NVME_SGL_ALWAYS);
	qp = lab_nvme_qpair(c, UDK_NVME_SGL_NEVER);
	qa = lab_nvme_qpair(c, UDK_NVME_SGL_AUTO);

	a = udk_mem_default_zmalloc(PAGES * 4096, 4096, UDK_SOCKET_ANY);
	b = udk_mem_default_zmalloc(PAGES * 4096, 4096, UDK_SOCKET_ANY);
	REQUIRE(a != NULL && b != NULL);
	/* 64 pages registered in reverse order: no neighbours in IOVA space. */
	s = lab_scattered_pages(PAGES, &adjacent);
	printf("registered buffer: %d of %d neighbouring pages adjacent in IOVA space\n", adjacent,
	       PAGES - 1);
	CHECK(adjacent == 0);

	/* The PRP shape: mid-page start to a page end, whole pages (one over
	 * three scattered IOVA pieces), a short last element.  Written as
	 * PRPs; read back as an SGL into odd shapes (dword elements, mid-page
	 * ends), then as AUTO (an SGL for that shape). */
	w[0] = (struct iovec){a + 512, 3584};
	w[1] = (struct iovec){s + 3 * 4096, 3 * 4096};
	w[2] = (struct iovec){a + 8 * 4096, 4096};
	w[3] = (struct iovec){b + 5 * 4096, 1536};
	r[0] = (struct iovec){s + 40 * 4096 + 4, 1020};
	r[1] = (struct iovec){a + 20 * 4096 + 8, 19048}; /* 21504 bytes in all: 42 blocks */
	r[2] = (struct iovec){b + 30 * 4096 + 4092, 4};
	r[3] = (struct iovec){s + 50 * 4096 + 100, 1432};
	CHECK(cross("PRP write, SGL read into other shapes", qp, qs, ns, w, 4, r, 4, LBA0, 1) == 0);
	CHECK(cross("PRP write, AUTO read into other shapes", qp, qa, ns, w, 4, r, 4, LBA0 + 64,
		    2) == 0);
	CHECK(cross("SGL write of other shapes, PRP read", qs, qp, ns, r, 4, w, 4, LBA0 + 128, 3) ==
	      0);
	CHECK(cross("AUTO write (PRPs), AUTO read (SGL)", qa, qa, ns, w, 4, r, 4, LBA0 + 192, 4) ==
	      0);
	/* On the PRP-only qpair the odd shape is refused, naming the element,
	 * and nothing reaches the device. */
	udk_last_error_clear();
	CHECK(udk_nvme_ns_iov(qp, ns, UDK_NVME_IO_READ, r, 4, LBA0, 0, done_cb, NULL) == -EINVAL);
	CHECK(strstr(udk_last_error(), "vector element 0") != NULL &&
	      strstr(udk_last_error(), "breaks the PRP rules") != NULL);
	CHECK(udk_nvme_qpair_outstanding(qp) == 0);
	CHECK(!udk_nvme_ns_iov_fits(ns, UDK_NVME_SGL_NEVER, r, 4));
	CHECK(udk_nvme_ns_iov_fits(ns, UDK_NVME_SGL_AUTO, r, 4));

	/* What a guest's virtio-blk request looks like: 16 pages, none next to
	 * the other, written as PRPs (AUTO) from the scattered memory, read
	 * back as an SGL into 16 heap pages in reverse order. */
	for (int i = 0; i < 16; i++) {
		w[i] = (struct iovec){s + (size_t)(i * 3 % PAGES) * 4096, 4096};
		r[i] = (struct iovec){a + (size_t)(31 - i) * 4096, 4096};
	}
	CHECK(cross("16 guest-like pages, AUTO write, SGL read", qa, qs, ns, w, 16, r, 16,
		    LBA0 + 256, 5) == 0);
	CHECK(cross("16 heap pages, SGL write, PRP read into scattered pages", qs, qp, ns, r, 16,
		    w, 16, LBA0 + 512, 6) == 0);
	/* 16 elements of 512 bytes each in a page of their own: SGL only. */
	for (int i = 0; i < 16; i++) {
		w[i] = (struct iovec){s + (size_t)i * 4096 + 1024, 512};
		r[i] = (struct iovec){b + (size_t)i * 4096 + 2048, 512};
	}
	CHECK(cross("16 x 512 bytes in scattered pages, AUTO (SGL) both ways", qa, qa, ns, w, 16, r,
		    16, LBA0 + 768, 7) == 0);

	/* The figure: a guest-like request of 4 scattered pages at QD1. */
	for (int i = 0; i < 4; i++)
		w[i] = (struct iovec){s + (size_t)(i * 5) * 4096, 4096};
	double one = qd1_rate(qa, ns, w, 0), seq = qd1_rate(qa, ns, w, 1),
	       par = qd1_rate(qa, ns, w, 2);
	printf("16 KiB reads of 4 x 4 KiB at QD1: one command %.0f/s, four in a row %.0f/s "
	       "(x%.2f), four at once %.0f/s (x%.2f)\n", one, seq, one / seq, par, one / par);
	CHECK(one > seq);

	udk_nvme_qpair_destroy(qs);
	udk_nvme_qpair_destroy(qp);
	udk_nvme_qpair_destroy(qa);
	lab_scattered_free(s, PAGES);
	udk_nvme_ctrlr_detach(c);
	udk_mem_default_free(a);
	udk_mem_default_free(b);
	udk_eal_cleanup();
	lab_bind(bdf, drv);
	return lab_result();
}
