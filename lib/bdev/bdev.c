/* SPDX-License-Identifier: BSD-3-Clause */
/* bdev.c - lib/bdev's core: the registry of bdevs by name, channels (a fixed
 * array of I/O descriptors and bounce buffers per thread, taken at
 * channel_get), the argument checks every I/O call shares, the queue of ended
 * I/O whose callbacks udk_bdev_channel_poll() runs, statistics and events.
 * The backends (bdev_malloc.c, bdev_file.c, bdev_nvme.c) only move data. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "bdev_internal.h"
#include "udk_telemetry.h"
#include "udk_util.h"

/* The registry: bdevs in creation order.  Recursive, so that a walk's
 * callback may look bdevs up. */
static pthread_mutex_t reg_lock;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;
static struct udk_bdev *reg_head;

static void reg_init(void)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&reg_lock, &a);
	pthread_mutexattr_destroy(&a);
}

static void reg_acquire(void)
{
	pthread_once(&reg_once, reg_init);
	pthread_mutex_lock(&reg_lock);
}

static struct udk_bdev *reg_find(const char *name)
{
	struct udk_bdev *b;

	for (b = reg_head; b != NULL; b = b->next)
		if (strcmp(b->name, name) == 0)
			return b;
	return NULL;
}

__attribute__((constructor)) static void bdev_init(void)
{
	bdev_telemetry_init();
}

const char *udk_bdev_io_type_name(enum udk_bdev_io_type t)
{
	static const char *const names[UDK_BDEV_IO_TYPE_COUNT] = {
		"read", "write", "flush", "write_zeroes", "deallocate",
	};

	return (unsigned)t < UDK_BDEV_IO_TYPE_COUNT ? names[t] : "?";
}

/* ---- creation, registry ---- */

static bool name_ok(const char *name)
{
	size_t n = strnlen(name, BDEV_NAME_MAX);

	if (n == 0 || n >= BDEV_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] <= ' ' || name[i] > '~')
			return false;
	return true;
}

int bdev_alloc(const char *name, const struct bdev_ops *ops, uint64_t num_blocks,
	       uint32_t block_size, struct udk_bdev **out, struct udk_bdev **bdev)
{
	struct udk_bdev *b;
	bool taken;

	if (out == NULL || name == NULL || !name_ok(name)) {
		BDEV_LOG(UDK_LOG_ERR, "%s bdev create: %s", ops->name,
			 out == NULL ? "out is NULL" :
			 "the name must be 1 to 63 printable characters without spaces");
		return -EINVAL;
	}
	if (!UDK_IS_POW2(block_size) || block_size < 512 || block_size > 65536) {
		BDEV_LOG(UDK_LOG_ERR, "%s bdev %s: block size %" PRIu32
			 " is not a power of two from 512 to 65536", ops->name, name, block_size);
		return -EINVAL;
	}
	if (num_blocks == 0 || num_blocks > UINT64_MAX / block_size) {
		BDEV_LOG(UDK_LOG_ERR, "%s bdev %s: %" PRIu64 " blocks of %" PRIu32
			 " bytes: give at least one block and at most 2^64 bytes", ops->name, name,
			 num_blocks, block_size);
		return -EINVAL;
	}
	reg_acquire();
	taken = reg_find(name) != NULL;
	pthread_mutex_unlock(&reg_lock);
	if (taken) {
		BDEV_LOG(UDK_LOG_ERR, "%s bdev create: the name %s is taken; destroy that bdev or "
			 "choose another name", ops->name, name);
		return -EEXIST;
	}
	b = calloc(1, sizeof(*b));
	if (b == NULL) {
		BDEV_LOG(UDK_LOG_ERR, "%s bdev %s: out of memory for the handle", ops->name, name);
		return -ENOMEM;
	}
	strcpy(b->name, name);
	b->ops = ops;
	pthread_mutex_init(&b->lock, NULL);
	b->info.name = b->name;
	b->info.backend = ops->name;
	b->info.block_size = block_size;
	b->info.num_blocks = num_blocks;
	b->info.max_io_blocks = BDEV_MAX_IO_BYTES / block_size;
	b->info.buf_align = 1;
	for (int t = 0; t < UDK_BDEV_IO_TYPE_COUNT; t++)
		b->info.io_supported[t] = true;
	b->ch_depth = 256;
	*out = NULL;
	/* A made-up identity (RFC 4122 version 4) unless the backend has one. */
	if (getrandom(b->info.uuid, sizeof(b->info.uuid), 0) != (ssize_t)sizeof(b->info.uuid)) {
		for (size_t i = 0; i < sizeof(b->info.uuid); i++)
			b->info.uuid[i] = (uint8_t)random();
	}
	b->info.uuid[6] = (uint8_t)((b->info.uuid[6] & 0x0f) | 0x40);
	b->info.uuid[8] = (uint8_t)((b->info.uuid[8] & 0x3f) | 0x80);
	*bdev = b;
	return 0;
}

void bdev_free(struct udk_bdev *bdev)
{
	pthread_mutex_destroy(&bdev->lock);
	free(bdev);
}

int bdev_register(struct udk_bdev *bdev, struct udk_bdev **out)
{
	struct udk_bdev **p;

	reg_acquire();
	if (reg_find(bdev->name) != NULL) {
		pthread_mutex_unlock(&reg_lock);
		BDEV_LOG(UDK_LOG_ERR, "%s bdev create: the name %s is taken; destroy that bdev or "
			 "choose another name", bdev->ops->name, bdev->name);
		bdev->ops->destroy(bdev);
		bdev_free(bdev);
		return -EEXIST;
	}
	for (p = &reg_head; *p != NULL; p = &(*p)->next)
		;
	*p = bdev;
	pthread_mutex_unlock(&reg_lock);
	BDEV_LOG(UDK_LOG_INFO, "%s: %s bdev, %" PRIu64 " blocks of %" PRIu32 " bytes", bdev->name,
		 bdev->ops->name, bdev->info.num_blocks, bdev->info.block_size);
	*out = bdev;
	return 0;
}

struct udk_bdev *udk_bdev_get(const char *name)
{
	struct udk_bdev *b;

	if (name == NULL)
		return NULL;
	reg_acquire();
	b = reg_find(name);
	pthread_mutex_unlock(&reg_lock);
	return b;
}

int udk_bdev_walk(int (*fn)(struct udk_bdev *bdev, void *arg), void *arg)
{
	struct udk_bdev *b, *next;
	int rc = 0;

	if (fn == NULL)
		return -EINVAL;
	reg_acquire();
	/* next first: fn may destroy the bdev it is given. */
	for (b = reg_head; b != NULL && rc == 0; b = next) {
		next = b->next;
		rc = fn(b, arg);
	}
	pthread_mutex_unlock(&reg_lock);
	return rc;
}

int udk_bdev_info(const struct udk_bdev *bdev, struct udk_bdev_info *info)
{
	if (bdev == NULL || info == NULL)
		return -EINVAL;
	*info = bdev->info;
	return 0;
}

struct udk_mem *udk_bdev_mem(const struct udk_bdev *bdev)
{
	if (bdev == NULL || bdev->ops->mem == NULL)
		return NULL;
	return bdev->ops->mem(bdev);
}

static int mem_register(struct udk_bdev *bdev, void *vaddr, size_t len, bool reg)
{
	if (bdev == NULL || vaddr == NULL || len == 0) {
		BDEV_LOG(UDK_LOG_ERR, "mem %sregister: %s", reg ? "" : "un",
			 bdev == NULL ? "bdev is NULL" : vaddr == NULL ? "vaddr is NULL" : "len is 0");
		return -EINVAL;
	}
	if (bdev->ops->mem_register == NULL)
		return 0;
	return bdev->ops->mem_register(bdev, vaddr, len, reg);
}

int udk_bdev_mem_register(struct udk_bdev *bdev, void *vaddr, size_t len)
{
	return mem_register(bdev, vaddr, len, true);
}

int udk_bdev_mem_unregister(struct udk_bdev *bdev, void *vaddr, size_t len)
{
	return mem_register(bdev, vaddr, len, false);
}

/* ---- events ---- */

int udk_bdev_event_register(struct udk_bdev *bdev, udk_bdev_event_fn fn, void *arg)
{
	int rc = -ENOSPC;

	if (bdev == NULL || fn == NULL)
		return -EINVAL;
	pthread_mutex_lock(&bdev->lock);
	for (int i = 0; i < BDEV_MAX_EVENT_CBS; i++)
		if (bdev->events[i].fn == fn && bdev->events[i].arg == arg) {
			rc = -EEXIST;
			goto out;
		}
	for (int i = 0; i < BDEV_MAX_EVENT_CBS; i++)
		if (bdev->events[i].fn == NULL) {
			bdev->events[i].fn = fn;
			bdev->events[i].arg = arg;
			rc = 0;
			break;
		}
out:
	pthread_mutex_unlock(&bdev->lock);
	if (rc == -ENOSPC)
		BDEV_LOG(UDK_LOG_ERR, "%s: event register: all %d callback slots are taken",
			 bdev->name, BDEV_MAX_EVENT_CBS);
	return rc;
}

int udk_bdev_event_unregister(struct udk_bdev *bdev, udk_bdev_event_fn fn, void *arg)
{
	int rc = -ENOENT;

	if (bdev == NULL || fn == NULL)
		return -EINVAL;
	pthread_mutex_lock(&bdev->lock);
	for (int i = 0; i < BDEV_MAX_EVENT_CBS; i++)
		if (bdev->events[i].fn == fn && bdev->events[i].arg == arg) {
			bdev->events[i].fn = NULL;
			rc = 0;
		}
	pthread_mutex_unlock(&bdev->lock);
	return rc;
}

void bdev_notify_remove(struct udk_bdev *bdev)
{
	struct bdev_event_cb cbs[BDEV_MAX_EVENT_CBS];

	if (__atomic_exchange_n(&bdev->removed, true, __ATOMIC_ACQ_REL))
		return;
	pthread_mutex_lock(&bdev->lock);
	memcpy(cbs, bdev->events, sizeof(cbs));
	pthread_mutex_unlock(&bdev->lock);
	/* Without the lock: a callback may put channels or unregister. */
	for (int i = 0; i < BDEV_MAX_EVENT_CBS; i++)
		if (cbs[i].fn != NULL)
			cbs[i].fn(bdev, UDK_BDEV_EVENT_REMOVE, cbs[i].arg);
}

int udk_bdev_destroy(struct udk_bdev *bdev)
{
	struct udk_bdev **p;
	uint32_t open;

	if (bdev == NULL)
		return -EINVAL;
	bdev_notify_remove(bdev);
	reg_acquire();
	pthread_mutex_lock(&bdev->lock);
	open = bdev->nb_channels;
	if (open == 0)
		for (p = &reg_head; *p != NULL; p = &(*p)->next)
			if (*p == bdev) {
				*p = bdev->next;
				break;
			}
	pthread_mutex_unlock(&bdev->lock);
	pthread_mutex_unlock(&reg_lock);
	if (open != 0) {
		BDEV_LOG(UDK_LOG_ERR, "%s: destroy: %" PRIu32 " channel%s still open; their "
			 "owners got the REMOVE event: put them, then destroy again", bdev->name,
			 open, open == 1 ? " is" : "s are");
		return -EBUSY;
	}
	bdev->ops->destroy(bdev);
	bdev_free(bdev);
	return 0;
}

/* ---- statistics ---- */

static void counters_add(struct udk_bdev_stats *st, const struct bdev_counters *c)
{
	for (int t = 0; t < UDK_BDEV_IO_TYPE_COUNT; t++)
		st->ops[t] += udk_counter_read(&c->ops[t]);
	st->bytes_read += udk_counter_read(&c->bytes_read);
	st->bytes_written += udk_counter_read(&c->bytes_written);
	st->errors += udk_counter_read(&c->errors);
	st->bounced += udk_counter_read(&c->bounced);
}

int udk_bdev_stats(const struct udk_bdev *bdev, struct udk_bdev_stats *st)
{
	struct udk_bdev *b = (struct udk_bdev *)(uintptr_t)bdev;

	if (bdev == NULL || st == NULL)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&b->lock);
	counters_add(st, &b->closed);
	for (struct udk_bdev_channel *ch = b->channels; ch != NULL; ch = ch->next)
		counters_add(st, &ch->cnt);
	st->channels = b->nb_channels;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

/* ---- channels ---- */

static void bounce_release_all(struct udk_bdev_channel *ch)
{
	struct udk_bdev *b = ch->bdev;

	for (uint32_t i = 0; ch->bounce_all != NULL && i < b->nb_bounce; i++) {
		if (ch->bounce_all[i] == NULL)
			continue;
		if (b->ops->bounce_free != NULL)
			b->ops->bounce_free(b, ch->bounce_all[i]);
		else
			free(ch->bounce_all[i]);
	}
	free(ch->bounce_all);
	free(ch->bounce);
}

static int bounce_setup(struct udk_bdev_channel *ch)
{
	struct udk_bdev *b = ch->bdev;

	if (b->nb_bounce == 0)
		return 0;
	ch->bounce_len = (size_t)b->info.max_io_blocks * b->info.block_size;
	ch->bounce_all = calloc(b->nb_bounce, sizeof(void *));
	ch->bounce = calloc(b->nb_bounce, sizeof(void *));
	if (ch->bounce_all == NULL || ch->bounce == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < b->nb_bounce; i++) {
		void *p = NULL;

		if (b->ops->bounce_alloc != NULL)
			p = b->ops->bounce_alloc(b, ch->bounce_len);
		else if (posix_memalign(&p, 4096, ch->bounce_len) != 0)
			p = NULL;
		if (p == NULL)
			return -ENOMEM;
		ch->bounce_all[i] = p;
		ch->bounce[ch->nb_bounce_free++] = p;
	}
	return 0;
}

int udk_bdev_channel_get(struct udk_bdev *bdev, struct udk_bdev_channel **out)
{
	struct udk_bdev_channel *ch;
	int rc;

	if (bdev == NULL || out == NULL) {
		BDEV_LOG(UDK_LOG_ERR, "channel get: %s is NULL", bdev == NULL ? "bdev" : "out");
		return -EINVAL;
	}
	if (__atomic_load_n(&bdev->removed, __ATOMIC_ACQUIRE)) {
		BDEV_LOG(UDK_LOG_ERR, "%s: channel get: the bdev is removed", bdev->name);
		return -UDK_EREMOVED;
	}
	ch = calloc(1, sizeof(*ch));
	if (ch == NULL)
		goto err_nomem;
	ch->bdev = bdev;
	ch->ios = calloc(bdev->ch_depth, sizeof(*ch->ios));
	if (ch->ios == NULL)
		goto err_free_ch;
	for (uint32_t i = bdev->ch_depth; i-- > 0;) {
		ch->ios[i].ch = ch;
		ch->ios[i].next = ch->free_ios;
		ch->free_ios = &ch->ios[i];
	}
	if (bounce_setup(ch) != 0)
		goto err_free_bounce;
	rc = bdev->ops->channel_create != NULL ? bdev->ops->channel_create(bdev, ch) : 0;
	if (rc != 0)
		goto err_free_bounce_rc;
	pthread_mutex_lock(&bdev->lock);
	ch->next = bdev->channels;
	bdev->channels = ch;
	bdev->nb_channels++;
	pthread_mutex_unlock(&bdev->lock);
	*out = ch;
	return 0;

err_free_bounce:
	BDEV_LOG(UDK_LOG_ERR, "%s: channel get: no memory for %" PRIu32 " bounce buffers of %zu "
		 "bytes", bdev->name, bdev->nb_bounce, ch->bounce_len);
	rc = -ENOMEM;
err_free_bounce_rc:
	bounce_release_all(ch);
	free(ch->ios);
	free(ch);
	return rc;
err_free_ch:
	free(ch);
err_nomem:
	BDEV_LOG(UDK_LOG_ERR, "%s: channel get: out of memory for %" PRIu32 " I/O descriptors",
		 bdev->name, bdev->ch_depth);
	return -ENOMEM;
}

/* Run the callback of one ended I/O and recycle its descriptor first, so the
 * callback can submit again. */
static void io_finish(struct udk_bdev_channel *ch, struct bdev_io *io)
{
	udk_bdev_cb cb = io->cb;
	void *arg = io->cb_arg;
	int status = io->status;

	if (io->bounce != NULL) {
		if (status == 0 && io->type == UDK_BDEV_IO_READ)
			bdev_buf_to_iov(io->user_iov, io->user_iovcnt, io->bounce, bdev_io_bytes(io));
		ch->bounce[ch->nb_bounce_free++] = io->bounce;
		io->bounce = NULL;
	}
	if (status == 0) {
		udk_counter_add(&ch->cnt.ops[io->type], 1);
		if (io->type == UDK_BDEV_IO_READ)
			udk_counter_add(&ch->cnt.bytes_read, bdev_io_bytes(io));
		else if (io->type == UDK_BDEV_IO_WRITE)
			udk_counter_add(&ch->cnt.bytes_written, bdev_io_bytes(io));
	} else {
		udk_counter_add(&ch->cnt.errors, 1);
	}
	io->next = ch->free_ios;
	ch->free_ios = io;
	ch->in_flight--;
	cb(arg, status);
}

void bdev_io_done(struct bdev_io *io, int status)
{
	struct udk_bdev_channel *ch = io->ch;

	io->status = status;
	io->next = NULL;
	if (ch->done_tail != NULL)
		ch->done_tail->next = io;
	else
		ch->done_head = io;
	ch->done_tail = io;
}

/* Run up to max (0: all) of the callbacks queued when called: those that
 * callbacks queue meanwhile wait for the next call. */
static int run_done(struct udk_bdev_channel *ch, uint32_t max)
{
	struct bdev_io *list = ch->done_head, *io;
	uint32_t n = 0;

	ch->done_head = ch->done_tail = NULL;
	while (list != NULL && (max == 0 || n < max)) {
		io = list;
		list = io->next;
		io_finish(ch, io);
		n++;
	}
	if (list != NULL) { /* max reached: the rest goes first next time */
		for (io = list; io->next != NULL; io = io->next)
			;
		io->next = ch->done_head;
		if (ch->done_head == NULL)
			ch->done_tail = io;
		ch->done_head = list;
	}
	return (int)n;
}

int udk_bdev_channel_poll(struct udk_bdev_channel *ch, uint32_t max)
{
	if (unlikely(ch == NULL))
		return -EINVAL;
	if (ch->bdev->ops->poll != NULL && ch->in_flight != 0)
		ch->bdev->ops->poll(ch);
	return run_done(ch, max);
}

uint32_t udk_bdev_channel_outstanding(const struct udk_bdev_channel *ch)
{
	return ch != NULL ? ch->in_flight : 0;
}

void udk_bdev_channel_put(struct udk_bdev_channel *ch)
{
	struct udk_bdev *b;

	if (ch == NULL)
		return;
	b = ch->bdev;
	/* Refuse new I/O from the callbacks run below. */
	ch->closing = true;
	if (b->ops->drain != NULL)
		b->ops->drain(ch);
	run_done(ch, 0);
	if (ch->in_flight != 0)
		BDEV_LOG(UDK_LOG_ERR, "%s: channel put: %" PRIu32 " I/O never ended (a backend bug)",
			 b->name, ch->in_flight);
	if (b->ops->channel_destroy != NULL)
		b->ops->channel_destroy(ch);
	pthread_mutex_lock(&b->lock);
	for (struct udk_bdev_channel **p = &b->channels; *p != NULL; p = &(*p)->next)
		if (*p == ch) {
			*p = ch->next;
			break;
		}
	b->nb_channels--;
	for (int t = 0; t < UDK_BDEV_IO_TYPE_COUNT; t++)
		b->closed.ops[t] += ch->cnt.ops[t];
	b->closed.bytes_read += ch->cnt.bytes_read;
	b->closed.bytes_written += ch->cnt.bytes_written;
	b->closed.errors += ch->cnt.errors;
	b->closed.bounced += ch->cnt.bounced;
	pthread_mutex_unlock(&b->lock);
	bounce_release_all(ch);
	free(ch->ios);
	free(ch);
}

/* ---- I/O ---- */

void bdev_iov_to_buf(void *buf, const struct iovec *iov, int iovcnt, size_t len)
{
	uint8_t *d = buf;

	for (int i = 0; i < iovcnt && len != 0; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		memcpy(d, iov[i].iov_base, n);
		d += n;
		len -= n;
	}
}

void bdev_buf_to_iov(const struct iovec *iov, int iovcnt, const void *buf, size_t len)
{
	const uint8_t *s = buf;

	for (int i = 0; i < iovcnt && len != 0; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		memcpy(iov[i].iov_base, s, n);
		s += n;
		len -= n;
	}
}

/* The checks every I/O call shares; 0 or the code, after one line. */
static int io_check(struct udk_bdev_channel *ch, enum udk_bdev_io_type type, uint64_t offset,
		    uint32_t nblocks, udk_bdev_cb cb)
{
	const struct udk_bdev *b;
	const char *op = udk_bdev_io_type_name(type);

	if (unlikely(ch == NULL || cb == NULL)) {
		BDEV_LOG(UDK_LOG_ERR, "%s: %s is NULL", op, ch == NULL ? "the channel" : "cb");
		return -EINVAL;
	}
	b = ch->bdev;
	if (unlikely(ch->closing)) {
		BDEV_LOG(UDK_LOG_ERR, "%s: %s: the channel is being put", b->name, op);
		return -ECANCELED;
	}
	if (unlikely(__atomic_load_n(&b->removed, __ATOMIC_RELAXED)))
		return -UDK_EREMOVED;
	if (unlikely(!b->info.io_supported[type])) {
		BDEV_LOG(UDK_LOG_ERR, "%s: %s: the %s backend does not do it here", b->name, op,
			 b->ops->name);
		return -ENOTSUP;
	}
	if (unlikely(b->info.read_only && type != UDK_BDEV_IO_READ && type != UDK_BDEV_IO_FLUSH)) {
		BDEV_LOG(UDK_LOG_ERR, "%s: %s: the bdev is read-only", b->name, op);
		return -EROFS;
	}
	if (type == UDK_BDEV_IO_FLUSH)
		return 0;
	if (unlikely(nblocks == 0 || offset >= b->info.num_blocks ||
		     nblocks > b->info.num_blocks - offset)) {
		BDEV_LOG(UDK_LOG_ERR, "%s: %s of %" PRIu32 " blocks at block %" PRIu64 ": outside "
			 "the bdev's %" PRIu64 " blocks (or no block)", b->name, op, nblocks, offset,
			 b->info.num_blocks);
		return -ERANGE;
	}
	if (unlikely((type == UDK_BDEV_IO_READ || type == UDK_BDEV_IO_WRITE) &&
		     nblocks > b->info.max_io_blocks)) {
		BDEV_LOG(UDK_LOG_ERR, "%s: %s of %" PRIu32 " blocks: more than the %" PRIu32
			 " blocks one I/O takes; split it", b->name, op, nblocks,
			 b->info.max_io_blocks);
		return -E2BIG;
	}
	return 0;
}

static int iov_check(const struct udk_bdev_channel *ch, enum udk_bdev_io_type type,
		     const struct iovec *iov, int iovcnt, uint32_t nblocks)
{
	const struct udk_bdev *b = ch->bdev;
	uint64_t want = (uint64_t)nblocks * b->info.block_size, sum = 0;
	const char *op = udk_bdev_io_type_name(type);

	if (unlikely(iov == NULL || iovcnt <= 0 || iovcnt > IOV_MAX)) {
		BDEV_LOG(UDK_LOG_ERR, "%s: %sv: %s", b->name, op,
			 iov == NULL ? "iov is NULL" : "iovcnt must be 1 to IOV_MAX");
		return -EINVAL;
	}
	for (int i = 0; i < iovcnt; i++) {
		if (unlikely(iov[i].iov_base == NULL && iov[i].iov_len != 0)) {
			BDEV_LOG(UDK_LOG_ERR, "%s: %sv: iov[%d] has a NULL base", b->name, op, i);
			return -EINVAL;
		}
		sum += iov[i].iov_len;
	}
	if (unlikely(sum != want)) {
		BDEV_LOG(UDK_LOG_ERR, "%s: %sv: the iov holds %" PRIu64 " bytes, %" PRIu32
			 " blocks need %" PRIu64, b->name, op, sum, nblocks, want);
		return -EINVAL;
	}
	return 0;
}

/* Take a descriptor, bounce the data if the device cannot reach it, hand it
 * to the backend. */
static int io_submit(struct udk_bdev_channel *ch, enum udk_bdev_io_type type,
		     const struct iovec *iov, int iovcnt, uint64_t offset, uint32_t nblocks,
		     udk_bdev_cb cb, void *arg)
{
	struct udk_bdev *b = ch->bdev;
	struct bdev_io *io = ch->free_ios;
	int rc;

	if (unlikely(io == NULL))
		return -EAGAIN;
	io->type = type;
	io->offset = offset;
	io->nblocks = nblocks;
	io->cb = cb;
	io->cb_arg = arg;
	io->status = 0;
	io->bounce = NULL;
	io->iov = iov; /* read/write: &io->one, filled by io_buf() */
	io->iovcnt = iovcnt;
	if (iov != NULL && b->ops->zero_copy != NULL && !b->ops->zero_copy(b, iov, iovcnt)) {
		if (unlikely(ch->nb_bounce_free == 0))
			return -EAGAIN;
		io->bounce = ch->bounce[--ch->nb_bounce_free];
		/* io->one is about to hold the bounce buffer: keep the caller's. */
		io->user_one = io->one;
		io->user_iov = iov == &io->one ? &io->user_one : iov;
		io->user_iovcnt = iovcnt;
		if (type == UDK_BDEV_IO_WRITE)
			bdev_iov_to_buf(io->bounce, iov, iovcnt, bdev_io_bytes(io));
		io->one.iov_base = io->bounce;
		io->one.iov_len = bdev_io_bytes(io);
		io->iov = &io->one;
		io->iovcnt = 1;
		udk_counter_add(&ch->cnt.bounced, 1);
	}
	/* Off the free stack first: the backend may end it (bdev_io_done()) at once. */
	ch->free_ios = io->next;
	rc = b->ops->submit(ch, io);
	if (unlikely(rc != 0)) {
		if (io->bounce != NULL) {
			ch->bounce[ch->nb_bounce_free++] = io->bounce;
			io->bounce = NULL;
		}
		io->next = ch->free_ios;
		ch->free_ios = io;
		return rc;
	}
	ch->in_flight++;
	return 0;
}

/* read and write of one buffer: an iovec of one, kept in the descriptor
 * (the caller's stack frame is gone when the backend uses it). */
static int io_buf(struct udk_bdev_channel *ch, enum udk_bdev_io_type type, const void *buf,
		  uint64_t offset, uint32_t nblocks, udk_bdev_cb cb, void *arg)
{
	struct bdev_io *io;
	int rc = io_check(ch, type, offset, nblocks, cb);

	if (unlikely(rc != 0))
		return rc;
	if (unlikely(buf == NULL)) {
		BDEV_LOG(UDK_LOG_ERR, "%s: %s: the buffer is NULL", ch->bdev->name,
			 udk_bdev_io_type_name(type));
		return -EINVAL;
	}
	io = ch->free_ios;
	if (unlikely(io == NULL))
		return -EAGAIN;
	io->one.iov_base = (void *)(uintptr_t)buf;
	io->one.iov_len = (size_t)nblocks * ch->bdev->info.block_size;
	return io_submit(ch, type, &io->one, 1, offset, nblocks, cb, arg);
}

static int io_vec(struct udk_bdev_channel *ch, enum udk_bdev_io_type type,
		  const struct iovec *iov, int iovcnt, uint64_t offset, uint32_t nblocks,
		  udk_bdev_cb cb, void *arg)
{
	int rc = io_check(ch, type, offset, nblocks, cb);

	if (unlikely(rc != 0))
		return rc;
	rc = iov_check(ch, type, iov, iovcnt, nblocks);
	if (unlikely(rc != 0))
		return rc;
	return io_submit(ch, type, iov, iovcnt, offset, nblocks, cb, arg);
}

int udk_bdev_read(struct udk_bdev_channel *ch, void *buf, uint64_t offset_blocks,
		  uint32_t num_blocks, udk_bdev_cb cb, void *arg)
{
	return io_buf(ch, UDK_BDEV_IO_READ, buf, offset_blocks, num_blocks, cb, arg);
}

int udk_bdev_write(struct udk_bdev_channel *ch, const void *buf, uint64_t offset_blocks,
		   uint32_t num_blocks, udk_bdev_cb cb, void *arg)
{
	return io_buf(ch, UDK_BDEV_IO_WRITE, buf, offset_blocks, num_blocks, cb, arg);
}

int udk_bdev_readv(struct udk_bdev_channel *ch, const struct iovec *iov, int iovcnt,
		   uint64_t offset_blocks, uint32_t num_blocks, udk_bdev_cb cb, void *arg)
{
	return io_vec(ch, UDK_BDEV_IO_READ, iov, iovcnt, offset_blocks, num_blocks, cb, arg);
}

int udk_bdev_writev(struct udk_bdev_channel *ch, const struct iovec *iov, int iovcnt,
		    uint64_t offset_blocks, uint32_t num_blocks, udk_bdev_cb cb, void *arg)
{
	return io_vec(ch, UDK_BDEV_IO_WRITE, iov, iovcnt, offset_blocks, num_blocks, cb, arg);
}

static int io_nodata(struct udk_bdev_channel *ch, enum udk_bdev_io_type type, uint64_t offset,
		     uint32_t nblocks, udk_bdev_cb cb, void *arg)
{
	int rc = io_check(ch, type, offset, nblocks, cb);

	if (unlikely(rc != 0))
		return rc;
	return io_submit(ch, type, NULL, 0, offset, nblocks, cb, arg);
}

int udk_bdev_flush(struct udk_bdev_channel *ch, udk_bdev_cb cb, void *arg)
{
	return io_nodata(ch, UDK_BDEV_IO_FLUSH, 0, 0, cb, arg);
}

int udk_bdev_write_zeroes(struct udk_bdev_channel *ch, uint64_t offset_blocks,
			  uint32_t num_blocks, udk_bdev_cb cb, void *arg)
{
	return io_nodata(ch, UDK_BDEV_IO_WRITE_ZEROES, offset_blocks, num_blocks, cb, arg);
}

int udk_bdev_deallocate(struct udk_bdev_channel *ch, uint64_t offset_blocks,
			uint32_t num_blocks, udk_bdev_cb cb, void *arg)
{
	return io_nodata(ch, UDK_BDEV_IO_DEALLOCATE, offset_blocks, num_blocks, cb, arg);
}
