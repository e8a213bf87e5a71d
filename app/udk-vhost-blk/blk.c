/* SPDX-License-Identifier: BSD-3-Clause */
/* blk.c - virtio-blk requests (virtio 1.x §5.2.6) onto a udk bdev: the
 * 16-byte header in the chain's readable part, the data, the status byte at
 * the very end of its writable part.  A request that cannot be carried out
 * (a descriptor outside guest memory, a range past the disk, a size that is
 * not whole blocks) ends with VIRTIO_BLK_S_IOERR and touches nothing else;
 * a type the device does not know ends with VIRTIO_BLK_S_UNSUPP. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "udk_bdev.h"
#include "udk_telemetry.h"
#include "udk_util.h"
#include "vhost_blk.h"

#define COMPONENT "vhost-blk"
#define SECTOR 512u
/* Largest discard or write-zeroes range one request may carry (sectors). */
#define MAX_RANGE_SECTORS 0x3fffffu

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_range { /* §5.2.6: discard and write zeroes segments */
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags; /* bit 0: unmap */
};

enum op { OP_NONE, OP_READ, OP_WRITE, OP_FLUSH, OP_ZEROES, OP_DISCARD };

static struct vb_op *op_of(struct vb_req *r)
{
	return &r->op;
}

/* Bytes copied out of the iovec src[0, n) from byte off into buf. */
static size_t copy_from(const struct iovec *src, uint32_t n, size_t off, void *buf, size_t len)
{
	size_t done = 0;

	for (uint32_t i = 0; i < n && done < len; i++) {
		if (off >= src[i].iov_len) {
			off -= src[i].iov_len;
			continue;
		}
		size_t k = src[i].iov_len - off;
		if (k > len - done)
			k = len - done;
		memcpy((uint8_t *)buf + done, (uint8_t *)src[i].iov_base + off, k);
		done += k;
		off = 0;
	}
	return done;
}

static size_t iov_total(const struct iovec *v, uint32_t n)
{
	size_t t = 0;

	for (uint32_t i = 0; i < n; i++)
		t += v[i].iov_len;
	return t;
}

/* dst: the bytes [off, off + len) of src; the piece count, or -1. */
static int slice(const struct iovec *src, uint32_t n, size_t off, size_t len, struct iovec *dst)
{
	int k = 0;

	for (uint32_t i = 0; i < n && len; i++) {
		if (off >= src[i].iov_len) {
			off -= src[i].iov_len;
			continue;
		}
		size_t take = src[i].iov_len - off;
		if (take > len)
			take = len;
		dst[k].iov_base = (uint8_t *)src[i].iov_base + off;
		dst[k].iov_len = take;
		k++;
		len -= take;
		off = 0;
	}
	return len ? -1 : k;
}

static void complete(struct vb_req *r, uint8_t st)
{
	struct vb_dev *dev = r->dev;

	if (r->status)
		*(volatile uint8_t *)r->status = st;
	if (st != VIRTIO_BLK_S_OK)
		udk_counter_add(&dev->stats.errors, 1);
	else if (r->op.op == OP_READ)
		udk_counter_add(&dev->stats.bytes_read, (uint64_t)r->op.nblk * dev->block_size);
	else if (r->op.op == OP_WRITE)
		udk_counter_add(&dev->stats.bytes_written, (uint64_t)r->op.nblk * dev->block_size);
	udk_counter_add(&dev->stats.in_flight, (uint64_t)-1);
	vb_vq_push(r->vq, &r->chain, r->status ? r->written : 0);
	r->vq->inflight--;
	r->next_free = dev->free_reqs;
	dev->free_reqs = r;
}

static void io_done(void *arg, int status)
{
	struct vb_req *r = arg;

	if (status == 0)
		complete(r, VIRTIO_BLK_S_OK);
	else
		complete(r, status == -ENOTSUP ? VIRTIO_BLK_S_UNSUPP : VIRTIO_BLK_S_IOERR);
}

/* 0 when queued, -EAGAIN when the channel is full, else the request ended. */
static int submit(struct vb_req *r)
{
	struct vb_op *o = op_of(r);
	struct udk_bdev_channel *ch = r->dev->ch;
	int rc;

	switch (o->op) {
	case OP_READ:
		rc = udk_bdev_readv(ch, r->data, o->iovcnt, o->off, o->nblk, io_done, r);
		break;
	case OP_WRITE:
		rc = udk_bdev_writev(ch, r->data, o->iovcnt, o->off, o->nblk, io_done, r);
		break;
	case OP_FLUSH:
		rc = udk_bdev_flush(ch, io_done, r);
		break;
	case OP_ZEROES:
		rc = udk_bdev_write_zeroes(ch, o->off, o->nblk, io_done, r);
		break;
	case OP_DISCARD:
		rc = udk_bdev_deallocate(ch, o->off, o->nblk, io_done, r);
		break;
	default:
		rc = -EINVAL;
	}
	if (rc == -EAGAIN)
		return rc;
	if (rc < 0)
		complete(r, rc == -ENOTSUP ? VIRTIO_BLK_S_UNSUPP : VIRTIO_BLK_S_IOERR);
	return 0;
}

/* The byte range [sector * 512, + bytes) in whole blocks of the disk:
 * 0 with *off and *nblk, or -1. */
static int blocks(const struct vb_dev *dev, uint64_t sector, uint64_t bytes, uint64_t *off,
		  uint32_t *nblk)
{
	uint64_t bs = dev->block_size;

	if (bytes == 0 || bytes % bs || sector > UINT64_MAX / SECTOR || (sector * SECTOR) % bs)
		return -1;
	*off = sector * SECTOR / bs;
	uint64_t n = bytes / bs;
	if (*off > dev->num_blocks || n > dev->num_blocks - *off || n > UINT32_MAX)
		return -1;
	*nblk = (uint32_t)n;
	return 0;
}

static enum vb_type type_of(uint32_t t)
{
	switch (t) {
	case VIRTIO_BLK_T_IN: return VB_T_IN;
	case VIRTIO_BLK_T_OUT: return VB_T_OUT;
	case VIRTIO_BLK_T_FLUSH: return VB_T_FLUSH;
	case VIRTIO_BLK_T_GET_ID: return VB_T_GET_ID;
	case VIRTIO_BLK_T_DISCARD: return VB_T_DISCARD;
	case VIRTIO_BLK_T_WRITE_ZEROES: return VB_T_WRITE_ZEROES;
	default: return VB_T_OTHER;
	}
}

/* Parse the chain into r's op; the status it ends with now, or -1 when the
 * bdev has work to do. */
static int parse(struct vb_dev *dev, struct vb_req *r)
{
	struct vb_chain *c = &r->chain;
	struct vb_op *o = op_of(r);
	struct blk_hdr h;
	size_t rlen = iov_total(c->seg, c->nread);
	size_t wlen = iov_total(c->seg + c->nread, c->nseg - c->nread) - 1; /* the status byte */
	int k;

	o->op = OP_NONE;
	if (copy_from(c->seg, c->nread, 0, &h, sizeof(h)) != sizeof(h))
		return VIRTIO_BLK_S_IOERR;
	udk_counter_add(&dev->stats.by_type[type_of(h.type)], 1);
	switch (h.type) {
	case VIRTIO_BLK_T_IN:
		if (blocks(dev, h.sector, wlen, &o->off, &o->nblk) || o->nblk > dev->max_io_blocks)
			return VIRTIO_BLK_S_IOERR;
		k = slice(c->seg + c->nread, c->nseg - c->nread, 0, wlen, r->data);
		if (k <= 0)
			return VIRTIO_BLK_S_IOERR;
		o->op = OP_READ;
		o->iovcnt = k;
		r->written = (uint32_t)wlen + 1;
		return -1;
	case VIRTIO_BLK_T_OUT:
		if (dev->read_only || blocks(dev, h.sector, rlen - sizeof(h), &o->off, &o->nblk) ||
		    o->nblk > dev->max_io_blocks)
			return VIRTIO_BLK_S_IOERR;
		k = slice(c->seg, c->nread, sizeof(h), rlen - sizeof(h), r->data);
		if (k <= 0)
			return VIRTIO_BLK_S_IOERR;
		o->op = OP_WRITE;
		o->iovcnt = k;
		return -1;
	case VIRTIO_BLK_T_FLUSH:
		o->op = OP_FLUSH;
		return -1;
	case VIRTIO_BLK_T_GET_ID: {
		size_t n = wlen < VIRTIO_BLK_ID_BYTES ? wlen : VIRTIO_BLK_ID_BYTES;
		size_t done = 0;
		k = slice(c->seg + c->nread, c->nseg - c->nread, 0, n, r->data);
		for (int i = 0; i < k; i++) {
			memcpy(r->data[i].iov_base, dev->id + done, r->data[i].iov_len);
			done += r->data[i].iov_len;
		}
		r->written = (uint32_t)n + 1;
		return VIRTIO_BLK_S_OK;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		bool discard = h.type == VIRTIO_BLK_T_DISCARD;
		struct blk_range rg;
		if (discard ? !dev->can_discard : !dev->can_write_zeroes)
			return VIRTIO_BLK_S_UNSUPP;
		/* max_discard_seg and max_write_zeroes_seg are 1. */
		if (rlen - sizeof(h) != sizeof(rg) ||
		    copy_from(c->seg, c->nread, sizeof(h), &rg, sizeof(rg)) != sizeof(rg))
			return VIRTIO_BLK_S_IOERR;
		/* §5.2.6.2: unmap is for write zeroes only; other flag bits are reserved. */
		if (rg.flags & ~1u || (discard && rg.flags))
			return VIRTIO_BLK_S_UNSUPP;
		if (dev->read_only || rg.num_sectors > MAX_RANGE_SECTORS ||
		    blocks(dev, rg.sector, (uint64_t)rg.num_sectors * SECTOR, &o->off, &o->nblk))
			return VIRTIO_BLK_S_IOERR;
		o->op = discard ? OP_DISCARD : OP_ZEROES;
		return -1;
	}
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

static void start(struct vb_dev *dev, struct vb_req *r)
{
	struct vb_chain *c = &r->chain;
	int st;

	r->status = NULL;
	r->written = 1;
	if (c->nseg > c->nread && c->seg[c->nseg - 1].iov_base)
		r->status = (uint8_t *)c->seg[c->nseg - 1].iov_base + c->seg[c->nseg - 1].iov_len - 1;
	r->op.op = OP_NONE;
	if (c->bad || !r->status) {
		udk_counter_add(&dev->stats.bad_chains, 1);
		complete(r, VIRTIO_BLK_S_IOERR);
		return;
	}
	st = parse(dev, r);
	if (st >= 0) {
		if (st != VIRTIO_BLK_S_OK)
			r->written = 1;
		complete(r, (uint8_t)st);
		return;
	}
	if (submit(r) == -EAGAIN) {
		/* Retried first at the next poll, in order. */
		r->next_free = NULL;
		*dev->retry_tail = r;
		dev->retry_tail = &r->next_free;
	}
}

static uint32_t retry(struct vb_dev *dev)
{
	uint32_t n = 0;

	while (dev->retry) {
		struct vb_req *r = dev->retry;
		struct vb_req *next = r->next_free;
		if (submit(r) == -EAGAIN)
			break;
		dev->retry = next;
		if (!next)
			dev->retry_tail = &dev->retry;
		n++;
	}
	return n;
}

static uint32_t poll_io(struct vb_dev *dev, bool take_new)
{
	uint32_t work = retry(dev);

	for (uint32_t q = 0; take_new && !dev->retry && q < VU_MAX_QUEUES; q++) {
		struct vb_vq *vq = &dev->vq[q];
		/* A budget per queue and poll, so that one busy queue cannot
		 * take every free request from the others. */
		for (uint32_t k = 0; k < 64 && dev->free_reqs; k++) {
			struct vb_req *r = dev->free_reqs;
			if (vb_vq_pop(vq, &dev->mem, &r->chain) <= 0)
				break;
			dev->free_reqs = r->next_free;
			r->vq = vq;
			vq->inflight++;
			udk_counter_add(&dev->stats.requests, 1);
			udk_counter_add(&dev->stats.queue_requests[q], 1);
			udk_counter_add(&dev->stats.in_flight, 1);
			start(dev, r);
			work++;
		}
	}
	work += (uint32_t)udk_bdev_channel_poll(dev->ch, 0);
	for (uint32_t q = 0; q < VU_MAX_QUEUES; q++)
		if (dev->vq[q].used)
			vb_vq_flush(&dev->vq[q]);
	return work;
}

uint32_t vb_dev_idle(struct vb_dev *dev)
{
	uint32_t n;

	for (uint32_t q = 0; q < VU_MAX_QUEUES; q++)
		vb_vq_want_kicks(&dev->vq[q], true);
	n = vb_dev_poll(dev);
	if (n == 0)
		for (uint32_t q = 0; q < VU_MAX_QUEUES; q++)
			dev->vq[q].kicked = false;
	return n;
}

uint32_t vb_dev_poll(struct vb_dev *dev)
{
	return poll_io(dev, true);
}

uint32_t vb_dev_inflight(const struct vb_dev *dev)
{
	uint32_t n = 0;

	for (uint32_t q = 0; q < VU_MAX_QUEUES; q++)
		n += dev->vq[q].inflight;
	return n;
}

void vb_dev_drain(struct vb_dev *dev)
{
	while (vb_dev_inflight(dev))
		poll_io(dev, false);
}

uint64_t vb_dev_features(const struct vb_dev *dev)
{
	uint64_t f = 1ull << VIRTIO_F_VERSION_1 | 1ull << VHOST_USER_F_PROTOCOL_FEATURES |
		     1ull << VIRTIO_RING_F_INDIRECT_DESC | 1ull << VIRTIO_RING_F_EVENT_IDX |
		     1ull << VIRTIO_F_RING_PACKED |
		     1ull << VIRTIO_BLK_F_SIZE_MAX |
		     1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
		     1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_MQ;

	if (dev->read_only)
		f |= 1ull << VIRTIO_BLK_F_RO;
	if (dev->can_discard)
		f |= 1ull << VIRTIO_BLK_F_DISCARD;
	if (dev->can_write_zeroes)
		f |= 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	return f;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4); /* virtio 1.x is little-endian, as is x86 */
}

void vb_dev_config(const struct vb_dev *dev, uint8_t *cfg)
{
	uint64_t capacity = dev->num_blocks * dev->block_size / SECTOR;
	uint16_t nq = VU_MAX_QUEUES; /* QEMU puts its num-queues here */

	/* §5.2.4 struct virtio_blk_config, by offset. */
	memset(cfg, 0, VU_MAX_CONFIG);
	memcpy(cfg + 0, &capacity, 8);
	put32(cfg + 8, dev->size_max);
	put32(cfg + 12, dev->seg_max);
	put32(cfg + 20, dev->block_size);
	memcpy(cfg + 34, &nq, 2);
	put32(cfg + 36, MAX_RANGE_SECTORS);
	put32(cfg + 40, 1);
	put32(cfg + 44, dev->block_size / SECTOR);
	put32(cfg + 48, MAX_RANGE_SECTORS);
	put32(cfg + 52, 1);
}

int vb_dev_init(struct vb_dev *dev, struct udk_bdev *bdev)
{
	struct udk_bdev_info info;
	int rc;

	memset(dev, 0, sizeof(*dev));
	rc = udk_bdev_info(bdev, &info);
	if (rc < 0)
		return rc;
	dev->bdev = bdev;
	dev->mem.bdev = bdev; /* guest memory is registered with it (zero copy) */
	dev->block_size = info.block_size;
	dev->num_blocks = info.num_blocks;
	dev->max_io_blocks = info.max_io_blocks;
	dev->read_only = info.read_only;
	dev->can_discard = info.io_supported[UDK_BDEV_IO_DEALLOCATE];
	dev->can_write_zeroes = info.io_supported[UDK_BDEV_IO_WRITE_ZEROES];
	/* A request is at most seg_max pieces of size_max bytes: no more
	 * than the bdev takes in one I/O. */
	dev->size_max = info.block_size > 4096 ? info.block_size : 4096;
	uint64_t max_bytes = (uint64_t)info.max_io_blocks * info.block_size;
	dev->seg_max = (uint32_t)(max_bytes / dev->size_max);
	if (dev->seg_max > VB_MAX_SEGS - 4)
		dev->seg_max = VB_MAX_SEGS - 4;
	if (dev->seg_max == 0) {
		udk_log(UDK_LOG_ERR, COMPONENT, "bdev %s: its largest I/O (%u blocks) is under %u bytes",
			info.name, info.max_io_blocks, dev->size_max);
		return -EINVAL;
	}
	/* §5.2.6: the ID is 20 bytes, not NUL-terminated when it fills them. */
	memcpy(dev->id, info.name, strnlen(info.name, sizeof(dev->id)));
	dev->nreqs = VB_MAX_QUEUE_SIZE;
	dev->reqs = calloc(dev->nreqs, sizeof(*dev->reqs));
	if (!dev->reqs) {
		udk_log(UDK_LOG_ERR, COMPONENT, "no memory for %u requests", dev->nreqs);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < dev->nreqs; i++) {
		dev->reqs[i].dev = dev;
		dev->reqs[i].next_free = i + 1 < dev->nreqs ? &dev->reqs[i + 1] : NULL;
	}
	dev->free_reqs = &dev->reqs[0];
	dev->retry = NULL;
	dev->retry_tail = &dev->retry;
	for (uint32_t q = 0; q < VU_MAX_QUEUES; q++) {
		dev->vq[q].kick_fd = dev->vq[q].call_fd = dev->vq[q].err_fd = -1;
		vb_vq_reset(&dev->vq[q]);
	}
	rc = udk_bdev_channel_get(bdev, &dev->ch);
	if (rc < 0) {
		free(dev->reqs);
		dev->reqs = NULL;
		return rc;
	}
	return 0;
}

void vb_dev_fini(struct vb_dev *dev)
{
	vb_dev_drain(dev);
	vu_reset(dev);
	udk_bdev_channel_put(dev->ch);
	free(dev->reqs);
	memset(dev, 0, sizeof(*dev));
}
