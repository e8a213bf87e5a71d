/* SPDX-License-Identifier: BSD-3-Clause */
/* bdev_nvme.c - the nvme backend: one namespace of a controller that
 * drivers/nvme drives, one I/O qpair per channel.  Buffers the controller's
 * heap translates (udk_nvme_ctrlr_mem(): its own memory, and memory registered
 * with its map through udk_bdev_mem_register()) go to the device as they are;
 * a vector of such pieces as one command (udk_nvme_ns_iov(): PRPs or an SGL)
 * when the driver takes it so, else, each piece whole blocks, as one command
 * per piece sent one after the other; any other buffer goes through the channel's
 * bounce buffers, which come from that heap.  Write zeroes and deallocate longer
 * than one command's 65536 blocks are sent one command after the other.
 * A hot-unplugged controller (lib/pci's REMOVED event) sends REMOVE to the
 * bdevs of its namespaces. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bdev_internal.h"
#include "udk_dma.h"
#include "udk_eal.h"
#include "udk_mem.h"
#include "udk_nvme.h"
#include "udk_pci.h"
#include "udk_util.h"

#define NVME_BDEV_QSIZE 256        /* entries per channel's qpair (at most CAP.MQES + 1) */
#define NVME_BDEV_MAX_NLB 65536u   /* §6.9, §6.16: NLB is a 16-bit 0's based field */
#define NVME_BDEV_DRAIN_MS 5000    /* channel_put waits this long, then cancels */

struct nvme_bdev {
	struct udk_nvme_ctrlr *ctrlr;
	struct udk_nvme_ns *ns;
	struct udk_mem *mem;
	uint16_t qsize;            /* of each channel's qpair: qsize - 1 in flight */
	char bdf[UDK_PCI_ADDR_STRLEN];
};

/* True when a vector of several pieces goes as one command on a channel's
 * qpair (created with UDK_NVME_SGL_AUTO): PRPs when it has their shape, an
 * SGL when the controller has SGLs; else it goes as one command per piece. */
static bool one_command(const struct nvme_bdev *n, const struct iovec *iov, int iovcnt)
{
	return iovcnt > 1 && udk_nvme_ns_iov_fits(n->ns, UDK_NVME_SGL_AUTO, iov, iovcnt);
}

/* Every piece whole blocks: one command per piece works. */
static bool pieces_whole(const struct udk_bdev *bdev, const struct iovec *iov, int iovcnt)
{
	for (int i = 0; i < iovcnt; i++)
		if (iov[i].iov_len % bdev->info.block_size != 0)
			return false;
	return true;
}

static bool nvme_zero_copy(const struct udk_bdev *bdev, const struct iovec *iov, int iovcnt)
{
	const struct nvme_bdev *n = bdev->priv;

	/* Each piece dword aligned (§4.3), whose first and last bytes the
	 * controller's heap translates (one allocation or one registered
	 * range: the pages between do); a vector goes as one command when
	 * the driver takes it so, else as one command per piece, and then
	 * each piece must be whole blocks. */
	for (int i = 0; i < iovcnt; i++) {
		const uint8_t *p = iov[i].iov_base;

		if (((uintptr_t)p & 3) != 0 || iov[i].iov_len == 0 ||
		    udk_mem_virt2iova(n->mem, p) == UDK_IOVA_BAD ||
		    udk_mem_virt2iova(n->mem, p + iov[i].iov_len - 1) == UDK_IOVA_BAD)
			return false;
	}
	return iovcnt == 1 ||
	       (iovcnt > 1 && (one_command(n, iov, iovcnt) || pieces_whole(bdev, iov, iovcnt)));
}

/* udk_bdev_mem_register(): the range goes into the map of the controller's
 * device, whose heap then translates it (its fallback table). */
static int nvme_mem_register(struct udk_bdev *bdev, void *vaddr, size_t len, bool reg)
{
	struct nvme_bdev *n = bdev->priv;
	struct udk_dmamap *map = udk_eal_mem_map(n->mem);
	int rc;

	if (map == NULL) {
		BDEV_LOG(UDK_LOG_ERR, "%s: mem register: the memory of controller %s belongs to no "
			 "map; attach it through the EAL (udk_nvme_ctrlr_attach on an EAL device)",
			 bdev->name, n->bdf);
		return -ENOTSUP;
	}
	rc = reg ? udk_dma_register(map, vaddr, len) : udk_dma_unregister(map, vaddr, len);
	if (rc != 0)
		BDEV_LOG(UDK_LOG_ERR, "%s: mem %sregister of %p (%zu bytes) in the map of %s: %s",
			 bdev->name, reg ? "" : "un", vaddr, len, n->bdf, udk_strerror(rc));
	return rc;
}

static void *nvme_bounce_alloc(struct udk_bdev *bdev, size_t len)
{
	struct nvme_bdev *n = bdev->priv;

	return udk_mem_zmalloc(n->mem, len, 4096, UDK_SOCKET_ANY);
}

static void nvme_bounce_free(struct udk_bdev *bdev, void *buf)
{
	struct nvme_bdev *n = bdev->priv;

	udk_mem_free(n->mem, buf);
}

static struct udk_mem *nvme_mem(const struct udk_bdev *bdev)
{
	const struct nvme_bdev *n = bdev->priv;

	return n->mem;
}

static int nvme_channel_create(struct udk_bdev *bdev, struct udk_bdev_channel *ch)
{
	struct nvme_bdev *n = bdev->priv;
	struct udk_nvme_qpair_opts o;
	struct udk_nvme_qpair *qp;
	int rc;

	udk_nvme_qpair_opts_init(&o, sizeof(o));
	o.qsize = n->qsize;
	rc = udk_nvme_qpair_create(n->ctrlr, &o, &qp);
	if (rc != 0) /* drivers/nvme said why */
		return rc == -EBUSY ? -EAGAIN : rc;
	ch->priv = qp;
	return 0;
}

static void nvme_channel_destroy(struct udk_bdev_channel *ch)
{
	if (ch->priv != NULL)
		udk_nvme_qpair_destroy(ch->priv);
}

static int nvme_send(struct udk_bdev_channel *ch, struct bdev_io *io);

static void nvme_cpl(void *arg, const struct udk_nvme_cpl *cpl)
{
	struct bdev_io *io = arg;

	if (cpl->rc == 0 && io->cursor < io->nblocks) { /* a long zeroing goes on */
		int rc = nvme_send(io->ch, io);

		if (rc == 0)
			return;
		bdev_io_done(io, rc == -EAGAIN ? -EIO : rc);
		return;
	}
	/* -EIO, -ETIMEDOUT, -ECANCELED and -UDK_EREMOVED mean what they mean
	 * to lib/bdev's callers too. */
	bdev_io_done(io, cpl->rc);
}

/* Send io's next command: the whole read, write or flush, or the next piece
 * of a vector (io->priv: pieces sent); the next up to 65536 blocks of a
 * write zeroes or deallocate (io->cursor: blocks sent). */
static int nvme_send(struct udk_bdev_channel *ch, struct bdev_io *io)
{
	struct nvme_bdev *n = ch->bdev->priv;
	uint32_t nlb = io->nblocks - (uint32_t)io->cursor;
	enum udk_nvme_io_op op;
	void *buf = NULL;
	int rc;

	switch (io->type) {
	case UDK_BDEV_IO_READ:
	case UDK_BDEV_IO_WRITE: {
		size_t k = (uintptr_t)io->priv;

		op = io->type == UDK_BDEV_IO_READ ? UDK_NVME_IO_READ : UDK_NVME_IO_WRITE;
		buf = io->iov[k].iov_base;
		if (io->iovcnt > 1) /* not one command: each piece is whole blocks */
			nlb = (uint32_t)(io->iov[k].iov_len / ch->bdev->info.block_size);
		break;
	}
	case UDK_BDEV_IO_FLUSH:
		op = UDK_NVME_IO_FLUSH;
		break;
	case UDK_BDEV_IO_WRITE_ZEROES:
		op = UDK_NVME_IO_WRITE_ZEROES;
		break;
	default:
		op = UDK_NVME_IO_DEALLOCATE;
		break;
	}
	if (op == UDK_NVME_IO_WRITE_ZEROES || op == UDK_NVME_IO_DEALLOCATE) {
		if (nlb > NVME_BDEV_MAX_NLB)
			nlb = NVME_BDEV_MAX_NLB;
	}
	rc = udk_nvme_ns_io(ch->priv, n->ns, op, buf, io->offset + io->cursor, nlb, 0, nvme_cpl,
			    io);
	if (rc == 0) {
		io->cursor += op == UDK_NVME_IO_FLUSH ? io->nblocks : nlb;
		io->priv = (void *)((uintptr_t)io->priv + 1);
	}
	return rc;
}

static int nvme_submit(struct udk_bdev_channel *ch, struct bdev_io *io)
{
	struct nvme_bdev *n = ch->bdev->priv;
	int rc;

	io->cursor = 0;
	io->priv = NULL;
	if ((io->type == UDK_BDEV_IO_READ || io->type == UDK_BDEV_IO_WRITE) &&
	    one_command(n, io->iov, io->iovcnt)) {
		rc = udk_nvme_ns_iov(ch->priv, n->ns, io->type == UDK_BDEV_IO_READ ?
				     UDK_NVME_IO_READ : UDK_NVME_IO_WRITE, io->iov, io->iovcnt,
				     io->offset, 0, nvme_cpl, io);
		if (rc == 0)
			io->cursor = io->nblocks;
		/* -E2BIG: more IOVA pieces than one SGL segment holds (the
		 * driver said so); one command per piece still works when each
		 * is whole blocks. */
		if (rc != -E2BIG || !pieces_whole(ch->bdev, io->iov, io->iovcnt))
			return rc;
	}
	return nvme_send(ch, io);
}

static void nvme_poll(struct udk_bdev_channel *ch)
{
	udk_nvme_qpair_poll(ch->priv, 0);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* channel_put: poll until the device answered everything or
 * NVME_BDEV_DRAIN_MS passed; destroying the qpair then ends the rest with
 * -ECANCELED (and deletes its queues on the controller). */
static void nvme_drain(struct udk_bdev_channel *ch)
{
	uint64_t end = now_ms() + NVME_BDEV_DRAIN_MS;

	while (ch->in_flight != 0 && udk_nvme_qpair_outstanding(ch->priv) != 0 && now_ms() < end)
		udk_nvme_qpair_poll(ch->priv, 0);
	udk_nvme_qpair_destroy(ch->priv);
	ch->priv = NULL;
}

static void nvme_destroy(struct udk_bdev *bdev)
{
	free(bdev->priv);
}

static const struct bdev_ops nvme_ops = {
	.name = "nvme",
	.channel_create = nvme_channel_create,
	.channel_destroy = nvme_channel_destroy,
	.submit = nvme_submit,
	.poll = nvme_poll,
	.drain = nvme_drain,
	.zero_copy = nvme_zero_copy,
	.bounce_alloc = nvme_bounce_alloc,
	.bounce_free = nvme_bounce_free,
	.mem = nvme_mem,
	.mem_register = nvme_mem_register,
	.destroy = nvme_destroy,
};

/* ---- hot-unplug: lib/pci's REMOVED event names the controller's BDF ---- */

static int remove_if_on(struct udk_bdev *b, void *arg)
{
	const char *bdf = arg;

	if (b->ops == &nvme_ops && strcmp(((struct nvme_bdev *)b->priv)->bdf, bdf) == 0) {
		BDEV_LOG(UDK_LOG_NOTICE, "%s: its controller %s was removed", b->name, bdf);
		bdev_notify_remove(b);
	}
	return 0;
}

static void on_pci_event(const struct udk_pci_event *ev, void *arg)
{
	(void)arg;
	if (ev->type == UDK_PCI_EVENT_REMOVED)
		udk_bdev_walk(remove_if_on, (void *)(uintptr_t)ev->bdf);
}

static pthread_once_t pci_once = PTHREAD_ONCE_INIT;

static void watch_pci(void)
{
	int rc = udk_pci_event_register(on_pci_event, NULL);

	if (rc != 0)
		BDEV_LOG(UDK_LOG_WARN, "nvme bdevs: no hot-unplug events (lib/pci: %s); a removed "
			 "controller shows as -UDK_EREMOVED I/O only", udk_strerror(rc));
}

/* ---- create ---- */

/* The namespace's NGUID, else its EUI-64, from Identify Namespace (CNS 00h,
 * §5.15.2.1: NGUID at bytes 104..119, EUI64 at 120..127); false when it has
 * neither (then the bdev keeps the UUID made at create). */
static bool ns_identity(struct nvme_bdev *n, uint32_t nsid, uint8_t uuid[16])
{
	static const uint8_t zero[16];
	struct udk_nvme_cmd cmd = {.opc = 0x06, .nsid = nsid, .cdw10 = 0};
	uint8_t *id = udk_mem_zmalloc(n->mem, 4096, 4096, UDK_SOCKET_ANY);
	bool found = false;

	if (id == NULL)
		return false;
	if (udk_nvme_ctrlr_admin(n->ctrlr, &cmd, id, 4096, NULL) == 0) {
		if (memcmp(id + 104, zero, 16) != 0) {
			memcpy(uuid, id + 104, 16);
			found = true;
		} else if (memcmp(id + 120, zero, 8) != 0) {
			memset(uuid, 0, 16);
			memcpy(uuid, id + 120, 8);
			found = true;
		}
	}
	udk_mem_free(n->mem, id);
	return found;
}

int udk_bdev_nvme_create(const char *name, struct udk_nvme_ctrlr *ctrlr, uint32_t nsid,
			 struct udk_bdev **out)
{
	struct udk_nvme_ctrlr_info ci;
	struct udk_nvme_ns_info ni;
	struct nvme_bdev *n;
	struct udk_bdev *b;
	int rc;

	if (ctrlr == NULL || out == NULL) {
		BDEV_LOG(UDK_LOG_ERR, "nvme bdev create: %s is NULL", ctrlr == NULL ? "ctrlr" : "out");
		return -EINVAL;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL) {
		BDEV_LOG(UDK_LOG_ERR, "nvme bdev %s: out of memory", name != NULL ? name : "?");
		return -ENOMEM;
	}
	n->ctrlr = ctrlr;
	n->mem = udk_nvme_ctrlr_mem(ctrlr);
	udk_nvme_ctrlr_info(ctrlr, &ci);
	snprintf(n->bdf, sizeof(n->bdf), "%s", ci.bdf);
	rc = udk_nvme_ctrlr_ns(ctrlr, nsid, &n->ns); /* says which are active */
	if (rc != 0)
		goto err_free;
	udk_nvme_ns_info(n->ns, &ni);
	if (ni.ms != 0) {
		BDEV_LOG(UDK_LOG_ERR, "nvme bdev %s: namespace %" PRIu32 " of %s has %u metadata "
			 "bytes per block, which lib/bdev does not carry; format it without "
			 "(udk-nvme format)", name != NULL ? name : "?", nsid, ci.bdf, ni.ms);
		rc = -ENOTSUP;
		goto err_free;
	}
	rc = bdev_alloc(name, &nvme_ops, ni.nsze, ni.block_size, out, &b);
	if (rc != 0)
		goto err_free;
	b->priv = n;
	b->info.max_io_blocks = ci.max_xfer / ni.block_size;
	b->info.buf_align = 4;
	b->info.io_supported[UDK_BDEV_IO_DEALLOCATE] = (ci.oncs & (1u << 2)) != 0;
	b->info.io_supported[UDK_BDEV_IO_WRITE_ZEROES] = (ci.oncs & (1u << 3)) != 0;
	n->qsize = (uint16_t)(ci.max_qsize < NVME_BDEV_QSIZE ? ci.max_qsize : NVME_BDEV_QSIZE);
	b->ch_depth = n->qsize - 1u;
	b->nb_bounce = 8;
	ns_identity(n, nsid, b->info.uuid);
	pthread_once(&pci_once, watch_pci);
	return bdev_register(b, out);

err_free:
	free(n);
	return rc;
}
