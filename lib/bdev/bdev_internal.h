/* SPDX-License-Identifier: BSD-3-Clause */
/* bdev_internal.h - what lib/bdev's core (bdev.c) and its backends share: the
 * backend ops table, the bdev and channel structs, the I/O descriptor. */
#ifndef UDK_BDEV_INTERNAL_H
#define UDK_BDEV_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "udk_bdev.h"

#define BDEV_NAME_MAX 64
#define BDEV_MAX_EVENT_CBS 8
/* Largest read/write of the RAM and file backends. */
#define BDEV_MAX_IO_BYTES (1u << 20)

struct bdev_io;

/* One ops table per backend (STYLE 6). */
struct bdev_ops {
	const char *name;
	/* Set up ch->priv (queues, rings); control path (NULL: nothing to do). */
	int (*channel_create)(struct udk_bdev *bdev, struct udk_bdev_channel *ch);
	/* Called with nothing in flight on the device any more (may be NULL). */
	void (*channel_destroy)(struct udk_bdev_channel *ch);
	/* Start io: 0 (it ends later through bdev_io_done()), -EAGAIN (no room
	 * on the device's queue), or another negative code (nothing queued). */
	int (*submit)(struct udk_bdev_channel *ch, struct bdev_io *io);
	/* Push what was submitted to the device and reap what ended (NULL: I/O
	 * ends inside submit). */
	void (*poll)(struct udk_bdev_channel *ch);
	/* End everything still on the device: wait up to the backend's timeout,
	 * then fail the rest with -ECANCELED (NULL: nothing ever waits). */
	void (*drain)(struct udk_bdev_channel *ch);
	/* True when the data of iov can go to the device as it is (NULL: any
	 * buffer can); else the core copies it through a bounce buffer. */
	bool (*zero_copy)(const struct udk_bdev *bdev, const struct iovec *iov, int iovcnt);
	/* Bounce buffer memory the device reaches (NULL: aligned plain memory). */
	void *(*bounce_alloc)(struct udk_bdev *bdev, size_t len);
	void (*bounce_free)(struct udk_bdev *bdev, void *buf);
	/* The memory zero-copy buffers come from (NULL: none is special). */
	struct udk_mem *(*mem)(const struct udk_bdev *bdev);
	/* udk_bdev_mem_register() (reg true) or unregister (NULL: nothing to
	 * do, any buffer is used in place). */
	int (*mem_register)(struct udk_bdev *bdev, void *vaddr, size_t len, bool reg);
	/* Free priv; the bdev has no channel and is out of the registry. */
	void (*destroy)(struct udk_bdev *bdev);
};

struct bdev_event_cb {
	udk_bdev_event_fn fn;
	void *arg;
};

/* Per-channel counters: written by the channel's thread only
 * (udk_counter_add()), read by udk_bdev_stats() from any thread. */
struct bdev_counters {
	uint64_t ops[UDK_BDEV_IO_TYPE_COUNT];
	uint64_t bytes_read, bytes_written, errors, bounced;
};

struct udk_bdev {
	char name[BDEV_NAME_MAX];
	const struct bdev_ops *ops;
	void *priv;
	struct udk_bdev_info info; /* info.name points at name */
	uint32_t ch_depth;         /* I/O descriptors per channel */
	uint32_t nb_bounce;        /* bounce buffers per channel (0: never bounces) */
	bool removed;              /* atomic: REMOVE sent; no new channel or I/O */

	struct udk_bdev *next;     /* registry, creation order */
	pthread_mutex_t lock;      /* channels, events, totals */
	struct udk_bdev_channel *channels;
	uint32_t nb_channels;
	struct bdev_counters closed; /* counters of the channels already put */
	struct bdev_event_cb events[BDEV_MAX_EVENT_CBS];
};

struct bdev_io {
	struct udk_bdev_channel *ch;
	enum udk_bdev_io_type type;
	uint64_t offset;     /* blocks */
	uint32_t nblocks;
	const struct iovec *iov; /* the data as the device sees it */
	int iovcnt;
	const struct iovec *user_iov; /* the caller's, when bounced (copied back on read) */
	int user_iovcnt;
	struct iovec user_one; /* the caller's single buffer, when bounced */
	struct iovec one;    /* the single buffer of read/write, or the bounce buffer */
	void *bounce;        /* the bounce buffer held, or NULL */
	udk_bdev_cb cb;
	void *cb_arg;
	int status;
	struct bdev_io *next; /* free stack or done queue */
	void *priv;          /* the backend's */
	uint64_t cursor;     /* the backend's: progress of a request in steps */
};

struct udk_bdev_channel {
	struct udk_bdev *bdev;
	void *priv;                 /* the backend's */
	struct bdev_io *ios;        /* ch_depth descriptors */
	struct bdev_io *free_ios;
	uint32_t in_flight;
	struct bdev_io *done_head, *done_tail; /* ended, callback not yet run */
	void **bounce;              /* free bounce buffers (a stack) */
	uint32_t nb_bounce_free;
	void **bounce_all;
	size_t bounce_len;
	struct bdev_counters cnt;
	bool closing;               /* in udk_bdev_channel_put(): no new I/O */
	struct udk_bdev_channel *next; /* bdev's list */
};

/* The bdev's data length of io in bytes. */
static inline uint64_t bdev_io_bytes(const struct bdev_io *io)
{
	return (uint64_t)io->nblocks * io->ch->bdev->info.block_size;
}

/* io ended with status: its callback runs at the channel's next poll. */
void bdev_io_done(struct bdev_io *io, int status);

/* Allocate a bdev (*bdev) for backend ops, check name, geometry and the
 * caller's out (set to NULL), fill the info's common fields.  0 or a negative code after one line.  The backend sets the
 * rest (priv, max_io_blocks, io_supported, ...) then calls bdev_register(). */
int bdev_alloc(const char *name, const struct bdev_ops *ops, uint64_t num_blocks,
	       uint32_t block_size, struct udk_bdev **out, struct udk_bdev **bdev);
/* Put it in the registry and in *out: 0, or -EEXIST (then destroyed and
 * freed). */
int bdev_register(struct udk_bdev *bdev, struct udk_bdev **out);
/* Free a bdev that was never registered (its priv already freed). */
void bdev_free(struct udk_bdev *bdev);
/* Send REMOVE to the callbacks once and refuse new channels and I/O. */
void bdev_notify_remove(struct udk_bdev *bdev);

/* Copy between an iovec array and a flat buffer. */
void bdev_iov_to_buf(void *buf, const struct iovec *iov, int iovcnt, size_t len);
void bdev_buf_to_iov(const struct iovec *iov, int iovcnt, const void *buf, size_t len);

/* Register the "bdevs" telemetry command (bdev_telemetry.c).  Called from
 * bdev.c's constructor, so that a static link that keeps the core keeps it. */
void bdev_telemetry_init(void);

#define BDEV_LOG(level, ...) udk_log(level, "bdev", __VA_ARGS__)

#endif
