/* SPDX-License-Identifier: BSD-3-Clause */
/* rw.c - udk-nvme read, write and format: blocks to and from a file through
 * one I/O queue pair, in commands of up to the controller's maximum transfer,
 * with progress on stderr when it takes more than a second. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"
#include "udk_mem.h"
#include "udk_util.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct xfer {
	struct udk_nvme_qpair *qp;
	struct udk_nvme_ns *ns;
	struct udk_nvme_ns_info ni;
	uint8_t *buf;
	uint32_t chunk; /* blocks per command */
	double t0, last;
};

static int xfer_open(struct tool *t, struct xfer *x)
{
	memset(x, 0, sizeof(*x));
	if (tool_ns(t, &x->ns, &x->ni))
		return 1;
	if (t->o.lba >= x->ni.nsze || t->o.count > x->ni.nsze - t->o.lba)
		return die("LBA %llu+%llu is past the end of namespace %u (%llu blocks)",
			   (unsigned long long)t->o.lba, (unsigned long long)t->o.count,
			   x->ni.nsid, (unsigned long long)x->ni.nsze);
	x->chunk = t->info.max_xfer / x->ni.block_size;
	x->buf = udk_mem_default_zmalloc((size_t)x->chunk * x->ni.block_size, 4096, UDK_SOCKET_ANY);
	if (x->buf == NULL)
		return die("no DMA memory for a %u-byte buffer: %s", t->info.max_xfer,
			   udk_last_error());
	if (udk_nvme_qpair_create(t->ctrlr, NULL, &x->qp) < 0) {
		udk_mem_default_free(x->buf);
		return die("I/O queue: %s", udk_last_error());
	}
	x->t0 = x->last = now();
	return 0;
}

static void xfer_close(struct xfer *x)
{
	udk_nvme_qpair_destroy(x->qp);
	udk_mem_default_free(x->buf);
}

static void progress(struct xfer *x, const char *what, uint64_t done, uint64_t total, bool end)
{
	double t = now();

	if ((!end && t - x->last < 1.0) || (end && t - x->t0 < 1.0))
		return;
	x->last = t;
	fprintf(stderr, PROG ": %s %llu of %llu blocks (%.1f MiB/s)%s", what,
		(unsigned long long)done, (unsigned long long)total,
		(double)done * x->ni.block_size / (1 << 20) / (t - x->t0), end ? "\n" : "\r");
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Up to len bytes; returns how many (short only at the end of the file). */
static ssize_t read_full(int fd, uint8_t *p, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int cmd_read(struct tool *t)
{
	struct xfer x;
	uint64_t done = 0;
	int fd, rc = 0;

	if (xfer_open(t, &x))
		return 1;
	fd = strcmp(t->o.file, "-") == 0 ? STDOUT_FILENO :
		open(t->o.file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = die("%s: %s", t->o.file, strerror(errno));
		goto out;
	}
	while (done < t->o.count) {
		uint32_t nlb = t->o.count - done < x.chunk ? (uint32_t)(t->o.count - done) : x.chunk;

		if (udk_nvme_ns_io_sync(x.qp, x.ns, UDK_NVME_IO_READ, x.buf, t->o.lba + done, nlb,
					NULL) < 0) {
			rc = die("read of LBA %llu+%u: %s", (unsigned long long)(t->o.lba + done),
				 nlb, udk_last_error());
			break;
		}
		if (write_all(fd, x.buf, (size_t)nlb * x.ni.block_size) < 0) {
			rc = die("%s: %s", t->o.file, strerror(errno));
			break;
		}
		done += nlb;
		progress(&x, "read", done, t->o.count, false);
	}
	progress(&x, "read", done, t->o.count, true);
	if (fd != STDOUT_FILENO && close(fd) < 0 && rc == 0)
		rc = die("%s: %s", t->o.file, strerror(errno));
out:
	xfer_close(&x);
	return rc;
}

int cmd_write(struct tool *t)
{
	struct xfer x;
	struct stat st;
	uint64_t done = 0;
	int fd, rc = 0;

	fd = strcmp(t->o.file, "-") == 0 ? STDIN_FILENO : open(t->o.file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return die("%s: %s", t->o.file, strerror(errno));
	if (t->o.count == 0) {
		struct udk_nvme_ns *ns;
		struct udk_nvme_ns_info ni;

		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
			close(fd);
			return die("%s: not a non-empty regular file; give --count N", t->o.file);
		}
		if (tool_ns(t, &ns, &ni)) {
			close(fd);
			return 1;
		}
		t->o.count = ((uint64_t)st.st_size + ni.block_size - 1) / ni.block_size;
	}
	if (xfer_open(t, &x)) {
		close(fd);
		return 1;
	}
	while (done < t->o.count) {
		uint32_t nlb = t->o.count - done < x.chunk ? (uint32_t)(t->o.count - done) : x.chunk;
		size_t len = (size_t)nlb * x.ni.block_size;
		ssize_t got = read_full(fd, x.buf, len);

		if (got < 0) {
			rc = die("%s: %s", t->o.file, strerror(errno));
			break;
		}
		memset(x.buf + got, 0, len - (size_t)got); /* pad with zeros */
		if (udk_nvme_ns_io_sync(x.qp, x.ns, UDK_NVME_IO_WRITE, x.buf, t->o.lba + done, nlb,
					NULL) < 0) {
			rc = die("write of LBA %llu+%u: %s", (unsigned long long)(t->o.lba + done),
				 nlb, udk_last_error());
			break;
		}
		done += nlb;
		progress(&x, "wrote", done, t->o.count, false);
	}
	if (rc == 0 && udk_nvme_ns_io_sync(x.qp, x.ns, UDK_NVME_IO_FLUSH, NULL, 0, 0, NULL) < 0)
		rc = die("flush: %s", udk_last_error());
	progress(&x, "wrote", done, t->o.count, true);
	if (fd != STDIN_FILENO)
		close(fd);
	xfer_close(&x);
	return rc;
}

int cmd_format(struct tool *t)
{
	struct udk_nvme_ns *ns;
	struct udk_nvme_ns_info ni;
	int lbaf = t->o.lbaf;

	if (t->o.nsid != 0xffffffffu) {
		if (tool_ns(t, &ns, &ni))
			return 1;
		if (lbaf < 0)
			lbaf = ni.flbas & 0xf;
		if (lbaf > ni.nlbaf)
			return die("--lbaf %d: namespace %u has LBA formats 0..%u", lbaf, ni.nsid,
				   ni.nlbaf);
	} else if (lbaf < 0) {
		lbaf = 0;
	}
	fprintf(stderr, PROG ": formatting namespace %u of %s (LBA format %d, secure erase %d)\n",
		t->o.nsid, t->info.bdf, lbaf, t->o.ses);
	if (udk_nvme_ctrlr_format(t->ctrlr, t->o.nsid, (uint8_t)lbaf, (uint8_t)t->o.ses) < 0)
		return die("format: %s", udk_last_error());
	if (t->o.nsid != 0xffffffffu && udk_nvme_ctrlr_ns(t->ctrlr, t->o.nsid, &ns) == 0) {
		udk_nvme_ns_info(ns, &ni);
		printf("namespace %u formatted: %llu blocks of %u bytes\n", ni.nsid,
		       (unsigned long long)ni.nsze, ni.block_size);
	} else {
		printf("formatted\n");
	}
	return 0;
}
