/* SPDX-License-Identifier: BSD-3-Clause */
/* bdev_file.c - the file backend: a regular file or a kernel block device,
 * driven through io_uring (liburing), one ring per channel, so lib/bdev and
 * the targets above it run where there is no VFIO.  O_DIRECT when the file
 * system takes it (buffers that are not aligned go through the channel's
 * aligned bounce buffers), buffered otherwise.  Write zeroes and deallocate
 * are fallocate() through the ring: ZERO_RANGE, else PUNCH_HOLE, else (write
 * zeroes only) plain writes of a zeroed buffer; on a block device the kernel
 * turns them into its zero-out and discard commands. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bdev_internal.h"
#include "udk_util.h"

#define FILE_ZERO_CHUNK (64u << 10) /* bytes per write of the zero-writing fallback */
#define FILE_DRAIN_MS 30000         /* channel_put waits this long for the kernel */

struct file_bdev {
	int fd;
	bool direct;
	bool blockdev;
	uint32_t mem_align;   /* O_DIRECT: what each piece's address must be aligned to */
	uint32_t len_align;   /* O_DIRECT: what each piece's length must be a multiple of */
	/* What fallocate() turned out not to do here (set from the channels'
	 * threads; a stale read costs one -EOPNOTSUPP round). */
	bool no_zero_range, no_punch_hole;
	void *zeroes;         /* FILE_ZERO_CHUNK zeroed, aligned bytes */
};

struct file_ch {
	struct io_uring ring;
	uint32_t unsubmitted; /* SQEs prepared since the last io_uring_submit() */
	uint32_t on_device;   /* SQEs submitted, CQE not yet seen */
};

static bool file_zero_copy(const struct udk_bdev *bdev, const struct iovec *iov, int iovcnt)
{
	const struct file_bdev *f = bdev->priv;

	if (!f->direct)
		return true;
	for (int i = 0; i < iovcnt; i++)
		if (((uintptr_t)iov[i].iov_base & (f->mem_align - 1)) ||
		    (iov[i].iov_len & (f->len_align - 1)))
			return false;
	return true;
}

static int file_channel_create(struct udk_bdev *bdev, struct udk_bdev_channel *ch)
{
	struct file_ch *fc = calloc(1, sizeof(*fc));
	int rc;

	if (fc == NULL)
		return -ENOMEM;
	rc = io_uring_queue_init(bdev->ch_depth, &fc->ring, 0);
	if (rc < 0) {
		BDEV_LOG(UDK_LOG_ERR, "%s: channel get: io_uring_queue_init(%" PRIu32 "): %s "
			 "(is io_uring disabled, sysctl kernel.io_uring_disabled, or is "
			 "RLIMIT_MEMLOCK too low?)", bdev->name, bdev->ch_depth, strerror(-rc));
		free(fc);
		return rc;
	}
	ch->priv = fc;
	return 0;
}

static void file_channel_destroy(struct udk_bdev_channel *ch)
{
	struct file_ch *fc = ch->priv;

	io_uring_queue_exit(&fc->ring);
	free(fc);
}

/* Prepare the SQE of io's next step: the request itself, or, for write
 * zeroes without fallocate, the next chunk of zeroes (io->cursor bytes done). */
static int file_prep(struct udk_bdev_channel *ch, struct bdev_io *io)
{
	struct file_ch *fc = ch->priv;
	struct file_bdev *f = ch->bdev->priv;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&fc->ring);
	uint64_t off = io->offset * ch->bdev->info.block_size, len = bdev_io_bytes(io);
	int mode;

	if (unlikely(sqe == NULL))
		return -EAGAIN;
	switch (io->type) {
	case UDK_BDEV_IO_READ:
		io_uring_prep_readv(sqe, f->fd, io->iov, (unsigned)io->iovcnt, off);
		break;
	case UDK_BDEV_IO_WRITE:
		io_uring_prep_writev(sqe, f->fd, io->iov, (unsigned)io->iovcnt, off);
		break;
	case UDK_BDEV_IO_FLUSH:
		io_uring_prep_fsync(sqe, f->fd, IORING_FSYNC_DATASYNC);
		break;
	case UDK_BDEV_IO_WRITE_ZEROES:
		if (f->no_zero_range && f->no_punch_hole) {
			uint64_t n = len - io->cursor;

			if (n > FILE_ZERO_CHUNK)
				n = FILE_ZERO_CHUNK;
			io_uring_prep_write(sqe, f->fd, f->zeroes, (unsigned)n, off + io->cursor);
			io->priv = NULL;
			break;
		}
		/* fallthrough */
	default: /* deallocate */
		mode = io->type == UDK_BDEV_IO_WRITE_ZEROES && !f->no_zero_range ?
			FALLOC_FL_ZERO_RANGE : FALLOC_FL_PUNCH_HOLE;
		io_uring_prep_fallocate(sqe, f->fd, mode | FALLOC_FL_KEEP_SIZE, off, len);
		io->priv = (void *)(uintptr_t)mode; /* for the -EOPNOTSUPP fallback */
		break;
	}
	io_uring_sqe_set_data(sqe, io);
	fc->unsubmitted++;
	fc->on_device++;
	return 0;
}

static int file_submit(struct udk_bdev_channel *ch, struct bdev_io *io)
{
	io->cursor = 0;
	return file_prep(ch, io);
}

/* One CQE of io: end it, or prepare its next step. */
static void file_cqe(struct udk_bdev_channel *ch, struct bdev_io *io, int res)
{
	struct file_bdev *f = ch->bdev->priv;
	uint64_t len = bdev_io_bytes(io);
	uintptr_t mode = (uintptr_t)io->priv;

	switch (io->type) {
	case UDK_BDEV_IO_READ:
	case UDK_BDEV_IO_WRITE:
		/* The bdev lies inside the file: a short transfer is an error. */
		bdev_io_done(io, (uint64_t)res == len ? 0 : -EIO);
		return;
	case UDK_BDEV_IO_FLUSH:
		bdev_io_done(io, res < 0 ? -EIO : 0);
		return;
	default:
		break;
	}
	if (mode == 0) { /* a chunk of zeroes written */
		if (res <= 0) {
			bdev_io_done(io, -EIO);
			return;
		}
		io->cursor += (uint64_t)res;
		if (io->cursor >= len || file_prep(ch, io) != 0)
			bdev_io_done(io, io->cursor >= len ? 0 : -EIO);
		return;
	}
	if (res != -EOPNOTSUPP && res != -EINVAL) {
		bdev_io_done(io, res < 0 ? -EIO : 0);
		return;
	}
	/* This fallocate mode is not there: fall back to the next way. */
	if (mode == FALLOC_FL_ZERO_RANGE)
		f->no_zero_range = true;
	else
		f->no_punch_hole = true;
	if (io->type == UDK_BDEV_IO_DEALLOCATE) {
		bdev_io_done(io, -ENOTSUP);
		return;
	}
	io->cursor = 0;
	if (file_prep(ch, io) != 0)
		bdev_io_done(io, -EIO);
}

static void file_reap(struct udk_bdev_channel *ch)
{
	struct file_ch *fc = ch->priv;
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&fc->ring, head, cqe) {
		fc->on_device--;
		file_cqe(ch, io_uring_cqe_get_data(cqe), cqe->res);
		n++;
	}
	io_uring_cq_advance(&fc->ring, n);
}

static void file_poll(struct udk_bdev_channel *ch)
{
	struct file_ch *fc = ch->priv;

	if (fc->unsubmitted != 0) {
		int rc = io_uring_submit(&fc->ring);

		if (rc > 0)
			fc->unsubmitted -= (uint32_t)rc < fc->unsubmitted ? (uint32_t)rc :
				fc->unsubmitted;
	}
	file_reap(ch);
}

/* channel_put: let the kernel finish (it cannot be interrupted midway);
 * after FILE_DRAIN_MS what is left is reported cancelled, and the ring's
 * teardown waits for the kernel. */
static void file_drain(struct udk_bdev_channel *ch)
{
	struct file_ch *fc = ch->priv;
	struct __kernel_timespec ts = {0, 10 * 1000000};
	struct io_uring_cqe *cqe;

	for (int waited = 0; fc->on_device != 0 && waited < FILE_DRAIN_MS; waited += 10) {
		file_poll(ch);
		if (fc->on_device != 0)
			io_uring_wait_cqe_timeout(&fc->ring, &cqe, &ts);
	}
	if (fc->on_device == 0)
		return;
	BDEV_LOG(UDK_LOG_ERR, "%s: channel put: %" PRIu32 " I/O still in the kernel after %d ms; "
		 "reported cancelled", ch->bdev->name, fc->on_device, FILE_DRAIN_MS);
	for (uint32_t i = 0; i < ch->bdev->ch_depth; i++) {
		struct bdev_io *io = &ch->ios[i];
		bool queued = false;

		for (struct bdev_io *d = ch->done_head; d != NULL && !queued; d = d->next)
			queued = d == io;
		for (struct bdev_io *d = ch->free_ios; d != NULL && !queued; d = d->next)
			queued = d == io;
		if (!queued)
			bdev_io_done(io, -ECANCELED);
	}
}

static void file_free(struct file_bdev *f)
{
	if (f->fd >= 0)
		close(f->fd);
	free(f->zeroes);
	free(f);
}

static void file_destroy(struct udk_bdev *bdev)
{
	file_free(bdev->priv);
}

static const struct bdev_ops file_ops = {
	.name = "file",
	.channel_create = file_channel_create,
	.channel_destroy = file_channel_destroy,
	.submit = file_submit,
	.poll = file_poll,
	.drain = file_drain,
	.zero_copy = file_zero_copy,
	.destroy = file_destroy,
};

/* Can fd do O_DIRECT reads of bs bytes at offset 0 with mem_align-aligned
 * memory?  Some file systems open O_DIRECT and refuse the I/O. */
static bool direct_works(int fd, uint32_t bs, uint32_t mem_align)
{
	void *p;
	bool ok;

	if (posix_memalign(&p, mem_align > 4096 ? mem_align : 4096, bs) != 0)
		return false;
	ok = pread(fd, p, bs, 0) == (ssize_t)bs;
	free(p);
	return ok;
}

/* Open path, O_DIRECT when it works; find its size and block size. */
static int file_open(const char *name, const char *path, uint32_t *block_size, bool read_only,
		     struct file_bdev *f, uint64_t *bytes)
{
	int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct statx stx;
	struct stat st;

	f->fd = open(path, flags | O_DIRECT);
	f->direct = f->fd >= 0;
	if (f->fd < 0 && errno == EINVAL) /* tmpfs and friends */
		f->fd = open(path, flags);
	if (f->fd < 0) {
		int rc = -errno;

		BDEV_LOG(UDK_LOG_ERR, "file bdev %s: open %s%s: %s", name, path,
			 read_only ? " read-only" : " read-write", strerror(-rc));
		return rc;
	}
	if (fstat(f->fd, &st) != 0) {
		int rc = -errno;

		BDEV_LOG(UDK_LOG_ERR, "file bdev %s: fstat %s: %s", name, path, strerror(-rc));
		return rc;
	}
	f->mem_align = 512;
	f->len_align = 512;
	if (S_ISBLK(st.st_mode)) {
		int lbs = 0;

		if (ioctl(f->fd, BLKSSZGET, &lbs) != 0 || ioctl(f->fd, BLKGETSIZE64, bytes) != 0) {
			int rc = -errno;

			BDEV_LOG(UDK_LOG_ERR, "file bdev %s: %s: BLKSSZGET/BLKGETSIZE64: %s", name,
				 path, strerror(-rc));
			return rc;
		}
		f->blockdev = true;
		if (*block_size == 0)
			*block_size = (uint32_t)lbs;
		if (*block_size < (uint32_t)lbs || *block_size % (uint32_t)lbs != 0) {
			BDEV_LOG(UDK_LOG_ERR, "file bdev %s: %s has %d-byte logical blocks: give "
				 "block size 0 or a multiple of %d", name, path, lbs, lbs);
			return -EINVAL;
		}
		f->mem_align = f->len_align = (uint32_t)lbs;
	} else if (S_ISREG(st.st_mode)) {
		*bytes = (uint64_t)st.st_size;
		if (*block_size == 0)
			*block_size = 512;
		if (statx(f->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
		    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_mem_align != 0) {
			f->mem_align = stx.stx_dio_mem_align;
			if (stx.stx_dio_offset_align > f->len_align)
				f->len_align = stx.stx_dio_offset_align;
			if (stx.stx_dio_offset_align > *block_size)
				f->direct = false; /* blocks smaller than the file system's */
		}
	} else {
		BDEV_LOG(UDK_LOG_ERR, "file bdev %s: %s is neither a regular file nor a block device",
			 name, path);
		return -EINVAL;
	}
	if (f->direct && (!UDK_IS_POW2(*block_size) ||
			  !direct_works(f->fd, *block_size, f->mem_align)))
		f->direct = false;
	if (!f->direct && fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) & ~O_DIRECT) != 0) {
		int rc = -errno;

		BDEV_LOG(UDK_LOG_ERR, "file bdev %s: %s: clearing O_DIRECT: %s", name, path,
			 strerror(-rc));
		return rc;
	}
	if (*bytes < *block_size) {
		BDEV_LOG(UDK_LOG_ERR, "file bdev %s: %s holds %" PRIu64 " bytes, less than one "
			 "%" PRIu32 "-byte block: grow it (truncate -s)", name, path, *bytes,
			 *block_size);
		return -EINVAL;
	}
	return 0;
}

int udk_bdev_file_create(const char *name, const char *path, uint32_t block_size, bool read_only,
			 struct udk_bdev **out)
{
	struct file_bdev *f;
	struct udk_bdev *b;
	uint64_t bytes = 0;
	int rc;

	if (path == NULL || out == NULL) {
		BDEV_LOG(UDK_LOG_ERR, "file bdev create: %s is NULL", path == NULL ? "path" : "out");
		return -EINVAL;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		BDEV_LOG(UDK_LOG_ERR, "file bdev %s: out of memory", name);
		return -ENOMEM;
	}
	rc = file_open(name != NULL ? name : "?", path, &block_size, read_only, f, &bytes);
	if (rc != 0)
		goto err_close;
	rc = bdev_alloc(name, &file_ops, bytes / block_size, block_size, out, &b);
	if (rc != 0)
		goto err_close;
	if (posix_memalign(&f->zeroes, 4096, FILE_ZERO_CHUNK) != 0) {
		f->zeroes = NULL;
		BDEV_LOG(UDK_LOG_ERR, "file bdev %s: out of memory", name);
		rc = -ENOMEM;
		goto err_free_bdev;
	}
	memset(f->zeroes, 0, FILE_ZERO_CHUNK);
	b->priv = f;
	b->info.read_only = read_only;
	b->info.buf_align = f->direct ? f->mem_align : 1;
	b->nb_bounce = f->direct ? 8 : 0;
	if (!f->direct)
		BDEV_LOG(UDK_LOG_NOTICE, "file bdev %s: %s does not take O_DIRECT here: buffered "
			 "I/O through the page cache", name, path);
	return bdev_register(b, out);

err_free_bdev:
	bdev_free(b);
err_close:
	file_free(f);
	return rc;
}
