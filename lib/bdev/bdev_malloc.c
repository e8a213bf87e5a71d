/* SPDX-License-Identifier: BSD-3-Clause */
/* bdev_malloc.c - two backends without a device: malloc keeps the blocks in
 * RAM (udk's DMA memory when the EAL is up, so a NIC or an NVMe target can
 * send them without a copy; anonymous memory otherwise, which the kernel
 * gives page by page), null keeps nothing.  Both end every I/O inside submit;
 * its callback runs at the channel's next poll, as for any backend. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bdev_internal.h"
#include "udk_mem.h"
#include "udk_util.h"

struct malloc_bdev {
	uint8_t *data;
	size_t len;
	struct udk_mem *mem; /* the heap data came from, or NULL: mmap */
};

static int malloc_submit(struct udk_bdev_channel *ch, struct bdev_io *io)
{
	struct malloc_bdev *m = ch->bdev->priv;
	uint8_t *p = m->data + io->offset * ch->bdev->info.block_size;

	switch (io->type) {
	case UDK_BDEV_IO_READ:
		bdev_buf_to_iov(io->iov, io->iovcnt, p, bdev_io_bytes(io));
		break;
	case UDK_BDEV_IO_WRITE:
		bdev_iov_to_buf(p, io->iov, io->iovcnt, bdev_io_bytes(io));
		break;
	case UDK_BDEV_IO_WRITE_ZEROES:
	case UDK_BDEV_IO_DEALLOCATE: /* deallocated blocks read back as zeroes */
		memset(p, 0, bdev_io_bytes(io));
		break;
	default: /* flush: RAM is as durable as it gets */
		break;
	}
	bdev_io_done(io, 0);
	return 0;
}

static void malloc_destroy(struct udk_bdev *bdev)
{
	struct malloc_bdev *m = bdev->priv;

	if (m == NULL)
		return;
	if (m->mem != NULL)
		udk_mem_free(m->mem, m->data);
	else if (m->data != NULL)
		munmap(m->data, m->len);
	free(m);
}

static const struct bdev_ops malloc_ops = {
	.name = "malloc",
	.submit = malloc_submit,
	.destroy = malloc_destroy,
};

int udk_bdev_malloc_create(const char *name, uint64_t num_blocks, uint32_t block_size,
			   struct udk_bdev **out)
{
	struct udk_bdev *b;
	struct malloc_bdev *m;
	int rc = bdev_alloc(name, &malloc_ops, num_blocks, block_size, out, &b);

	if (rc != 0)
		return rc;
	if (num_blocks > SIZE_MAX / block_size) {
		BDEV_LOG(UDK_LOG_ERR, "malloc bdev %s: %" PRIu64 " blocks do not fit in memory",
			 name, num_blocks);
		rc = -EINVAL;
		goto err_free;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		goto err_nomem;
	b->priv = m;
	m->len = (size_t)num_blocks * block_size;
	m->mem = udk_mem_default();
	if (m->mem != NULL) {
		m->data = udk_mem_zmalloc(m->mem, m->len, 4096, UDK_SOCKET_ANY);
		if (m->data == NULL) {
			rc = -(errno != 0 ? errno : ENOMEM);
			BDEV_LOG(UDK_LOG_ERR, "malloc bdev %s: %zu bytes of udk memory: %s (lib/mem "
				 "said why; give the EAL more memory, -m)", name, m->len,
				 udk_strerror(rc));
			goto err_destroy;
		}
	} else {
		m->data = mmap(NULL, m->len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m->data == MAP_FAILED) {
			m->data = NULL;
			goto err_nomem;
		}
	}
	return bdev_register(b, out);

err_nomem:
	BDEV_LOG(UDK_LOG_ERR, "malloc bdev %s: out of memory for %" PRIu64 " blocks of %" PRIu32
		 " bytes", name, num_blocks, block_size);
	rc = -ENOMEM;
err_destroy:
	malloc_destroy(b);
err_free:
	bdev_free(b);
	return rc;
}

/* ---- null ---- */

static int null_submit(struct udk_bdev_channel *ch, struct bdev_io *io)
{
	(void)ch;
	bdev_io_done(io, 0);
	return 0;
}

static void null_destroy(struct udk_bdev *bdev)
{
	(void)bdev;
}

static const struct bdev_ops null_ops = {
	.name = "null",
	.submit = null_submit,
	.destroy = null_destroy,
};

int udk_bdev_null_create(const char *name, uint64_t num_blocks, uint32_t block_size,
			 struct udk_bdev **out)
{
	struct udk_bdev *b;
	int rc = bdev_alloc(name, &null_ops, num_blocks, block_size, out, &b);

	if (rc != 0)
		return rc;
	return bdev_register(b, out);
}
