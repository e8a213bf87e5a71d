/* SPDX-License-Identifier: BSD-3-Clause */
/* udk_bdev.h - block devices: one handle per device, per-thread I/O channels,
 * asynchronous read/write/flush/write-zeroes/deallocate with completion
 * callbacks, over backends (nvme: a namespace through udk's NVMe driver;
 * malloc: RAM; null: keeps nothing, completes at the next poll; file: a file
 * or kernel block device through io_uring).  The targets (udk-nvmf-tgt,
 * udk-vhost-blk) serve bdevs.  Guide: doc/bdev.md.
 *
 * Threads: the control calls (create, destroy, lookup, channel get/put, event
 * registration) are thread-safe against each other.  A channel belongs to the
 * thread that got it: its I/O calls and udk_bdev_channel_poll() take no lock,
 * make no system call (the file backend's io_uring submit excepted: one per
 * poll), allocate nothing and log only when they refuse bad input.
 *
 * Completions never run inside the submitting call: each I/O's callback runs
 * exactly once, from udk_bdev_channel_poll() on the channel's thread (or from
 * udk_bdev_channel_put(), with -ECANCELED, for I/O still in flight).
 *
 * Memory: buffers are plain memory.  A buffer in udk DMA memory that the
 * bdev's device reaches (udk_bdev_mem(): for the nvme backend, the heap of
 * the controller's map) goes to the device as it is (zero copy); any other
 * buffer is copied through the channel's bounce buffers.  Memory registered
 * with udk_bdev_mem_register() counts as DMA memory the device reaches; a
 * vector of such pieces goes without a copy too (nvme: one command per piece
 * when there are several, each piece then whole blocks).
 */
#ifndef UDK_BDEV_H
#define UDK_BDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "udk_cdefs.h"

#ifdef __cplusplus
extern "C" {
#endif

struct udk_mem;
struct udk_nvme_ctrlr;

struct udk_bdev;
struct udk_bdev_channel;

enum udk_bdev_io_type {
	UDK_BDEV_IO_READ,
	UDK_BDEV_IO_WRITE,
	UDK_BDEV_IO_FLUSH,
	UDK_BDEV_IO_WRITE_ZEROES,
	UDK_BDEV_IO_DEALLOCATE, /* discard / trim / NVMe Dataset Management */
	UDK_BDEV_IO_TYPE_COUNT,
};

/* An I/O ended: status 0, or a negative code: -EIO (the device failed it),
 * -ECANCELED (the channel was put with it in flight), -UDK_EREMOVED (the
 * bdev's device is gone), -ETIMEDOUT, -ENOTSUP (the bdev does not do that
 * type).  Runs on the channel's thread; it may submit new I/O on the same
 * channel. */
typedef void (*udk_bdev_cb)(void *arg, int status);

/* ---- the handle ---- */

struct udk_bdev_info {
	const char *name;        /* unique, as given at create */
	const char *backend;     /* "nvme", "malloc", "null", "file" */
	uint32_t block_size;     /* bytes, a power of two >= 512 */
	uint64_t num_blocks;
	uint32_t max_io_blocks;  /* largest single read/write the bdev takes */
	uint32_t buf_align;      /* alignment a zero-copy buffer needs (bytes) */
	bool io_supported[UDK_BDEV_IO_TYPE_COUNT];
	bool read_only;
	uint8_t uuid[16];        /* stable identity (NVMe NGUID/UUID, or made at create) */
};
int udk_bdev_info(const struct udk_bdev *bdev, struct udk_bdev_info *info);

/* The bdev named name, or NULL.  Thread-safe. */
struct udk_bdev *udk_bdev_get(const char *name);
/* Calls fn for each bdev, in creation order, until it returns non-zero;
 * returns that value (0 when every call returned 0, -EINVAL when fn is NULL).
 * fn runs with the registry's lock held: it may look bdevs up and destroy the
 * bdev it was given, not others. */
int udk_bdev_walk(int (*fn)(struct udk_bdev *bdev, void *arg), void *arg);

/* The memory that goes to the device without a copy (NULL: none is special,
 * e.g. malloc/null/file, where any buffer is used in place). */
struct udk_mem *udk_bdev_mem(const struct udk_bdev *bdev);

/* Make memory the caller owns (guest RAM a vhost-user front-end shared,
 * say) reachable by the bdev's device, so that I/O on buffers inside it goes
 * without a copy: for the nvme backend, [vaddr, vaddr + len), widened to
 * whole 4 KiB pages, is mapped into the map of the controller's device
 * (udk_dma_register()) and translates like the controller's heap; any
 * alignment and size is fine, and there is no limit on how many ranges
 * besides the IOMMU's.  Backends that use any buffer in place (malloc, null,
 * file) have nothing to do and return 0.  Two registrations may not share a
 * page.  0, or after one log line: -EINVAL (NULL bdev or vaddr, len 0),
 * -ENOTSUP (the controller's memory belongs to no map), -EPERM (a brokered
 * map: only the broker maps memory, so such buffers are bounced), or
 * udk_dma_register()'s code.  Control path, thread-safe.
 * Unregister undoes exactly one registration (same vaddr and len); the
 * caller first makes sure no I/O on the range is in flight (the device can
 * no longer reach it once this returns).  0 or udk_dma_unregister()'s code
 * (-UDK_ENOTMAPPED: no such registration). */
int udk_bdev_mem_register(struct udk_bdev *bdev, void *vaddr, size_t len);
int udk_bdev_mem_unregister(struct udk_bdev *bdev, void *vaddr, size_t len);

/* Destroy: first sends UDK_BDEV_EVENT_REMOVE to the registered callbacks
 * (once per bdev), after which channel_get and new I/O get -UDK_EREMOVED;
 * then -EBUSY (with a line naming how many channels are open) while a channel
 * is open: their owners put them (I/O already queued still completes) and the
 * caller destroys again.  0 when the bdev is freed. */
int udk_bdev_destroy(struct udk_bdev *bdev);

enum udk_bdev_event {
	UDK_BDEV_EVENT_REMOVE, /* the device went away (hot-unplug) or is being destroyed */
	UDK_BDEV_EVENT_RESIZE,
};
/* Called on the thread that noticed the event (control path): the caller of
 * udk_bdev_destroy(), or lib/pci's hot-plug thread when an nvme bdev's
 * controller is removed (then with the registry's lock held: hand the work
 * to the channels' threads, destroy no other bdev).  REMOVE comes once. */
typedef void (*udk_bdev_event_fn)(struct udk_bdev *bdev, enum udk_bdev_event ev, void *arg);
/* Up to 8 callbacks per bdev: 0, -EINVAL, -EEXIST (fn and arg already
 * there), -ENOSPC.  Unregister: 0 or -ENOENT.  Thread-safe. */
int udk_bdev_event_register(struct udk_bdev *bdev, udk_bdev_event_fn fn, void *arg);
int udk_bdev_event_unregister(struct udk_bdev *bdev, udk_bdev_event_fn fn, void *arg);

/* ---- backends: create ----
 * Each returns 0 and the new bdev in *out, or a negative code after one log
 * line saying which step failed and what to do: -EEXIST (name taken),
 * -EINVAL (bad geometry), -ENOMEM, or the backend's own. */
int udk_bdev_malloc_create(const char *name, uint64_t num_blocks, uint32_t block_size,
			   struct udk_bdev **out);
int udk_bdev_null_create(const char *name, uint64_t num_blocks, uint32_t block_size,
			 struct udk_bdev **out);
/* path: a regular file (its size, rounded down to block_size, is the bdev's;
 * block_size 0: 512) or a kernel block device (its logical block size);
 * opened O_DIRECT when it allows it, else buffered (said in the log). */
int udk_bdev_file_create(const char *name, const char *path, uint32_t block_size, bool read_only,
			 struct udk_bdev **out);
/* Namespace nsid of ctrlr (attached by the caller, who keeps it attached
 * until the bdev is destroyed).  Each channel gets a qpair of its own. */
int udk_bdev_nvme_create(const char *name, struct udk_nvme_ctrlr *ctrlr, uint32_t nsid,
			 struct udk_bdev **out);

/* ---- channels ---- */

/* A channel for the calling thread: 0, -EINVAL, -ENOMEM, -EAGAIN (the device
 * has no more queues), -UDK_EREMOVED, or the backend's code.  A thread may
 * hold one channel per bdev. */
int udk_bdev_channel_get(struct udk_bdev *bdev, struct udk_bdev_channel **out);
/* Completes what is in flight (polling up to the backend's timeout), calls
 * the callbacks of what cannot complete with -ECANCELED, and frees it.  The
 * callbacks it runs cannot submit on ch (-ECANCELED).  ch's thread. */
void udk_bdev_channel_put(struct udk_bdev_channel *ch);

/* Submit to the device what was queued, then run up to max completions' callbacks
 * (0: all there are).  Returns how many completed. */
int udk_bdev_channel_poll(struct udk_bdev_channel *ch, uint32_t max);

/* I/O in flight on ch. */
uint32_t udk_bdev_channel_outstanding(const struct udk_bdev_channel *ch);

/* ---- I/O ----
 * Offsets and lengths in blocks.  Each returns 0 when the I/O was queued (cb
 * then runs exactly once, from a later poll), -EAGAIN when the channel is full
 * (poll, then retry), or, with nothing queued and cb never called: -ERANGE
 * (past the end, or 0 blocks where a length is needed), -E2BIG (a read or
 * write of more than max_io_blocks; write_zeroes and deallocate take any
 * length), -EINVAL (NULL channel, callback or buffer, iov lengths that do not
 * add up to num_blocks * block_size), -ENOTSUP (type not supported), -EROFS
 * (write to a read-only bdev), -ECANCELED (ch is being put), -UDK_EREMOVED.
 * The buffers, and the iov array of readv/writev, stay the caller's and must
 * stay valid until cb runs. */
int udk_bdev_read(struct udk_bdev_channel *ch, void *buf, uint64_t offset_blocks,
		  uint32_t num_blocks, udk_bdev_cb cb, void *arg);
int udk_bdev_write(struct udk_bdev_channel *ch, const void *buf, uint64_t offset_blocks,
		   uint32_t num_blocks, udk_bdev_cb cb, void *arg);
int udk_bdev_readv(struct udk_bdev_channel *ch, const struct iovec *iov, int iovcnt,
		   uint64_t offset_blocks, uint32_t num_blocks, udk_bdev_cb cb, void *arg);
int udk_bdev_writev(struct udk_bdev_channel *ch, const struct iovec *iov, int iovcnt,
		    uint64_t offset_blocks, uint32_t num_blocks, udk_bdev_cb cb, void *arg);
int udk_bdev_flush(struct udk_bdev_channel *ch, udk_bdev_cb cb, void *arg);
int udk_bdev_write_zeroes(struct udk_bdev_channel *ch, uint64_t offset_blocks,
			  uint32_t num_blocks, udk_bdev_cb cb, void *arg);
int udk_bdev_deallocate(struct udk_bdev_channel *ch, uint64_t offset_blocks,
			uint32_t num_blocks, udk_bdev_cb cb, void *arg);

/* ---- statistics (any thread; counters summed over channels) ---- */
struct udk_bdev_stats {
	uint64_t ops[UDK_BDEV_IO_TYPE_COUNT]; /* completed with status 0, per type */
	uint64_t bytes_read;
	uint64_t bytes_written;
	uint64_t errors;     /* completed with a negative status */
	uint64_t bounced;    /* I/O copied through a bounce buffer */
	uint32_t channels;   /* open now */
};
/* 0 or -EINVAL.  Channels already put still count. */
int udk_bdev_stats(const struct udk_bdev *bdev, struct udk_bdev_stats *st);

const char *udk_bdev_io_type_name(enum udk_bdev_io_type t);

#ifdef __cplusplus
}
#endif
#endif
