/* SPDX-License-Identifier: BSD-3-Clause */
/* vhost_blk.h - udk-vhost-blk's parts: the vhost-user back-end protocol and
 * the guest memory table (vhost_user.c, mem.c), split virtqueues (vring.c)
 * and virtio-blk requests onto a udk bdev (blk.c).  One device per process,
 * driven by one thread: control messages and I/O take turns on it, so a
 * message that changes the memory table or stops a ring first waits for the
 * I/O in flight (doc/vhost-blk.md). */
#ifndef UDK_VHOST_BLK_H
#define UDK_VHOST_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct udk_bdev;
struct udk_bdev_channel;

/* ---- vhost-user (QEMU docs/interop/vhost-user.rst) ---- */

enum vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_LOG_BASE = 6,
	VU_SET_LOG_FD = 7,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_GET_CONFIG = 24,
	VU_SET_CONFIG = 25,
	VU_GET_INFLIGHT_FD = 31,
	VU_SET_INFLIGHT_FD = 32,
	VU_GET_MAX_MEM_SLOTS = 36,
	VU_ADD_MEM_REG = 37,
	VU_REM_MEM_REG = 38,
};

/* "Message specification": flags bits 0-1 the version (1), bit 2 reply,
 * bit 3 need_reply (REPLY_ACK). */
#define VU_VERSION 1u
#define VU_FLAG_REPLY (1u << 2)
#define VU_FLAG_NEED_REPLY (1u << 3)

#define VHOST_USER_F_PROTOCOL_FEATURES 30
#define VU_PROTOCOL_F_MQ 0
#define VU_PROTOCOL_F_REPLY_ACK 3
#define VU_PROTOCOL_F_CONFIG 9
#define VU_PROTOCOL_F_INFLIGHT_SHMFD 12
#define VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS 15

/* The fixed table of SET_MEM_TABLE ("Memory regions description"). */
#define VU_MAX_REGIONS 8
/* Regions at once with CONFIGURE_MEM_SLOTS (GET_MAX_MEM_SLOTS's answer). */
#define VB_MAX_MEM_SLOTS 32
#define VU_MAX_CONFIG 256
/* Virtqueues (GET_QUEUE_NUM); QEMU's num-queues says how many the guest uses. */
#define VU_MAX_QUEUES 8

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));
_Static_assert(sizeof(struct vu_hdr) == 12, "vhost-user.rst: the header is 12 bytes");

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;  /* front-end virtual addresses */
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};
_Static_assert(sizeof(struct vu_vring_addr) == 40, "vhost-user.rst: vring address is 40 bytes");

struct vu_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
};

struct vu_memory {
	uint32_t nregions;
	uint32_t padding;
	struct vu_region regions[VU_MAX_REGIONS];
};
_Static_assert(sizeof(struct vu_memory) == 8 + 8 * 32, "vhost-user.rst: memory table");

/* "Single memory region description" (ADD_MEM_REG, REM_MEM_REG). */
struct vu_mem_reg {
	uint64_t padding;
	struct vu_region region;
};
_Static_assert(sizeof(struct vu_mem_reg) == 40, "vhost-user.rst: single memory region");

struct vu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t payload[VU_MAX_CONFIG];
};

/* "Inflight description": GET_INFLIGHT_FD asks with the last two, the
 * reply and SET_INFLIGHT_FD carry all four (QEMU sends 24 bytes). */
struct vu_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
};
_Static_assert(sizeof(struct vu_inflight) == 24, "vhost-user.rst: inflight description");

union vu_payload {
	uint64_t u64;
	struct vu_inflight inflight;
	struct vu_vring_state state;
	struct vu_vring_addr addr;
	struct vu_memory mem;
	struct vu_mem_reg mem_reg;
	struct vu_config config;
};

struct vu_msg {
	struct vu_hdr hdr;
	union vu_payload p;
	int fd;                  /* a reply's fd to pass (GET_INFLIGHT_FD), -1 none; not on the wire */
};

/* ---- guest memory (mem.c) ---- */

struct vb_region {
	uint64_t gpa;       /* guest physical: what descriptors carry */
	uint64_t size;
	uint64_t uva;       /* the front-end's virtual address: what ring addresses carry */
	uint8_t *host;      /* where it is mapped here */
	void *map_base;     /* the mmap, from offset 0 of the fd */
	size_t map_len;
	bool registered;    /* the mmap is registered with the bdev (zero copy) */
};

struct vb_mem {
	struct vb_region r[VB_MAX_MEM_SLOTS];
	uint32_t n;
	/* Each region is registered with this bdev's device (NULL: none), so
	 * that the device reaches guest RAM without a copy.  Kept by set and
	 * clear. */
	struct udk_bdev *bdev;
	uint32_t unregistered;   /* regions of the table that are not (their I/O is bounced) */
};

/* Map the table's regions, one fd each, register them with m->bdev, then
 * unregister and unmap the old table's (the caller has made the rings quiet:
 * no request uses them).  0, or -EINVAL after one log line (overlap, zero
 * size, a region past its fd's end), -errno of mmap.  A region the bdev
 * refuses to register stays usable: its I/O is bounced (said in the log). */
int vb_mem_set(struct vb_mem *m, const struct vu_memory *t, const int *fds);
/* Unregister and unmap every region (the rings quiet). */
void vb_mem_clear(struct vb_mem *m);
/* One region: register r's mapping with bdev (NULL: nothing), and undo it
 * with unmap.  Whatever the number of regions. */
void vb_region_register(struct vb_region *r, struct udk_bdev *bdev, uint32_t i);
void vb_region_unmap(struct vb_region *r, struct udk_bdev *bdev);
/* ADD_MEM_REG: map one more region (the same checks).  0, -ENOSPC (every
 * slot used) or -EINVAL / -errno, after one log line. */
int vb_mem_add(struct vb_mem *m, const struct vu_region *r, int fd);
/* REM_MEM_REG: unmap the region with exactly r's guest address, size and
 * front-end address (its mmap offset is not compared).  0, or -ENOENT after
 * a log line.  The other regions' mappings stay where they are. */
int vb_mem_remove(struct vb_mem *m, const struct vu_region *r);
/* Where [gpa, gpa + len) is mapped, or NULL when any byte of it lies outside
 * one region (len 0 is refused too). */
void *vb_mem_gpa(const struct vb_mem *m, uint64_t gpa, uint64_t len);
/* The same for the front-end's virtual addresses (ring addresses). */
void *vb_mem_uva(const struct vb_mem *m, uint64_t uva, uint64_t len);

/* ---- split virtqueues (virtio 1.x §2.7), vring.c ---- */

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_DESC_F_INDIRECT 4
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY 1

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

#define VB_MAX_QUEUE_SIZE 1024
/* Segments a chain may have: the header, seg_max data pieces and the status,
 * with room for a driver that splits them further. */
#define VB_MAX_SEGS 260

/* One descriptor chain, translated. */
struct vb_chain {
	uint16_t head;           /* split: the head index; packed: the buffer id */
	uint16_t count;          /* packed: ring descriptors it took */
	uint16_t ifl_entry, ifl_last; /* packed with inflight tracking: its first and last
				       * entries in the region (inflight.c) */
	bool bad;                /* a descriptor outside guest memory, or a bad chain */
	uint32_t nseg;
	uint32_t nread;          /* segments [0, nread) are device-readable, the rest writable */
	struct iovec seg[VB_MAX_SEGS];
};

struct vb_vq {
	uint32_t num;            /* 0: not set up */
	uint64_t desc_uva, avail_uva, used_uva;
	struct vring_desc *desc;
	uint16_t *avail;         /* flags, idx, ring[num], used_event */
	uint16_t *used;          /* flags, idx, then used elements */
	uint16_t last_avail;
	uint16_t used_idx;       /* the next used index (published at flush) */
	uint16_t pending_used;   /* elements written since the last publish */
	int kick_fd, call_fd, err_fd;
	bool enabled;
	bool started;            /* the kick fd came: the ring runs */
	bool kicked;             /* the driver kicked (or had work waiting) since the start */
	bool broken;             /* the driver broke the ring's rules: stopped until reset */
	bool event_idx;          /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool packed;             /* VIRTIO_F_RING_PACKED negotiated: desc is a packed ring, */
	bool avail_wrap, used_wrap; /* avail the driver's and used the device's event areas */
	uint32_t inflight;
	/* Inflight tracking (inflight.c): NULL when the front-end gave no
	 * region; ifl for a split ring, ifl_packed for a packed one. */
	struct vb_inflight_split *ifl;
	struct vb_inflight_packed *ifl_packed;
	uint64_t ifl_counter;    /* the next head's order of fetching */
	uint16_t nresubmit, resubmit_pos; /* heads (packed: region entries) in flight at */
	uint16_t resubmit[VB_MAX_QUEUE_SIZE]; /* the last disconnect, taken before new ones,
					       * oldest first */
};

/* Translate the ring's three addresses (split: descriptors, available and
 * used rings; packed: the ring and the driver's and device's event areas)
 * through m (SET_VRING_ADDR, and again
 * after SET_MEM_TABLE).  0 or -EINVAL (an address outside the table). */
int vb_vq_map(struct vb_vq *vq, const struct vb_mem *m);
/* The next available chain: 1 with *c filled (c->bad when it cannot be used,
 * c->head still valid), 0 when there is none, -EPROTO when the ring itself is
 * corrupt (the queue is marked broken and logged once). */
int vb_vq_pop(struct vb_vq *vq, const struct vb_mem *m, struct vb_chain *c);
/* Give chain c back with len bytes written; published by flush (split) or
 * at once (packed). */
void vb_vq_push(struct vb_vq *vq, const struct vb_chain *c, uint32_t len);
/* Publish the used entries and signal the call eventfd unless the driver
 * asked for no interrupt (its flag, or its used_event with EVENT_IDX).
 * Returns how many were published. */
uint32_t vb_vq_flush(struct vb_vq *vq);
/* Closes the ring's fds and forgets it. */
void vb_vq_reset(struct vb_vq *vq);
/* Ask the driver for kicks (false while the device polls the ring). */
void vb_vq_want_kicks(struct vb_vq *vq, bool on);

/* vhost-user.rst "Ring states": a ring runs from the driver's first kick.
 * Until then its available ring is not read (firmware may leave a ring
 * started and give its memory to others).  At the start a ring already
 * holding work (a back-end restarted under a busy driver) counts as
 * kicked; later, a kick waiting on its fd does (read and consumed). */
void vb_vq_start(struct vb_vq *vq, bool polling);
bool vb_vq_kicked(struct vb_vq *vq);
bool vb_packed_pending(const struct vb_vq *vq);

/* Add a descriptor's buffer to c (len 0: nothing); -1 when c is full (c->bad). */
int vb_chain_add(struct vb_chain *c, const struct vb_mem *m, uint64_t addr, uint32_t len, bool w,
		 bool *seen_write);
/* Mark the ring broken with one log line; -EPROTO. */
int vb_vq_broken(struct vb_vq *vq, const char *why, unsigned int a, unsigned int b);

/* ---- packed virtqueues (virtio 1.x §2.8), vring_packed.c ---- */

struct vring_packed_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};
#define VRING_PACKED_DESC_F_AVAIL (1u << 7)
#define VRING_PACKED_DESC_F_USED (1u << 15)
#define VRING_PACKED_EVENT_FLAG_ENABLE 0
#define VRING_PACKED_EVENT_FLAG_DISABLE 1
#define VIRTIO_F_RING_PACKED 34

int vb_packed_pop(struct vb_vq *vq, const struct vb_mem *m, struct vb_chain *c);
void vb_packed_push(struct vb_vq *vq, const struct vb_chain *c, uint32_t len);
uint32_t vb_packed_notify(struct vb_vq *vq, uint32_t n);
void vb_packed_want_kicks(struct vb_vq *vq, bool on);

/* ---- inflight tracking (vhost-user.rst "Inflight I/O tracking"), inflight.c ----
 * A memfd the back-end makes (GET_INFLIGHT_FD) and the front-end keeps and
 * gives to each new back-end (SET_INFLIGHT_FD): per ring, which heads were
 * taken and not yet given back, so that a restarted back-end carries them
 * out again. */

struct vb_inflight_desc { /* DescStateSplit */
	uint8_t inflight;
	uint8_t padding[5];
	uint16_t next;           /* the last batch of used heads, a list */
	uint64_t counter;        /* the order the heads were taken in */
};
_Static_assert(sizeof(struct vb_inflight_desc) == 16, "vhost-user.rst: DescStateSplit");

struct vb_inflight_split { /* QueueRegionSplit */
	uint64_t features;
	uint16_t version;        /* 1; 0: a new region */
	uint16_t desc_num;
	uint16_t last_batch_head;
	uint16_t used_idx;       /* the used ring's index once the last batch was cleared */
	struct vb_inflight_desc desc[];
};
_Static_assert(sizeof(struct vb_inflight_split) == 16, "vhost-user.rst: QueueRegionSplit");

struct vb_inflight_pdesc { /* DescStatePacked */
	uint8_t inflight;        /* a chain's first entry: taken, not given back */
	uint8_t padding;
	uint16_t next;           /* the free list, and a chain's entries in order */
	uint16_t last;           /* a chain's first entry: its last entry */
	uint16_t num;            /* a chain's first entry: its ring descriptors */
	uint64_t counter;        /* a chain's first entry: the order of fetching */
	uint16_t id;             /* the ring descriptor, copied: its slot in the ring is */
	uint16_t flags;          /* overwritten by used elements while it is in flight */
	uint32_t len;
	uint64_t addr;
};
_Static_assert(sizeof(struct vb_inflight_pdesc) == 32, "vhost-user.rst: DescStatePacked");

struct vb_inflight_packed { /* QueueRegionPacked */
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t free_head;
	uint16_t old_free_head;  /* the old_* fields: the state as of the last */
	uint16_t used_idx;       /* used element the driver may have seen */
	uint16_t old_used_idx;
	uint8_t used_wrap_counter;
	uint8_t old_used_wrap_counter;
	uint8_t padding[7];
	struct vb_inflight_pdesc desc[];
};
_Static_assert(sizeof(struct vb_inflight_packed) == 32, "vhost-user.rst: QueueRegionPacked");

struct vb_inflight {
	void *base;              /* the region, mapped; NULL: none */
	size_t len;
	uint16_t num_queues, queue_size;
};

/* Bytes of one ring's part of the region (packed rings' states are twice
 * as large as split ones; the same size is kept for both). */
size_t vb_inflight_queue_bytes(uint16_t queue_size);
/* GET_INFLIGHT_FD: a new zeroed region for in->num_queues rings of
 * in->queue_size; *out and *fd (the caller sends and closes it).  0, or
 * -EINVAL / -errno after one log line. */
int vb_inflight_new(const struct vu_inflight *in, struct vu_inflight *out, int *fd);
/* SET_INFLIGHT_FD: map the region (fd stays the caller's).  0 or -EINVAL
 * after one log line. */
int vb_inflight_set(struct vb_inflight *ifl, const struct vu_inflight *in, int fd);
void vb_inflight_clear(struct vb_inflight *ifl);
/* A ring starts (SET_VRING_KICK) with a region: a new region is
 * initialised; otherwise the last batch a previous back-end published is
 * cleared, the heads still in flight are queued for vb_vq_pop (oldest
 * first) and the ring's last available index set past them.  A packed
 * ring's used and available positions are taken from the region (QEMU
 * cannot know them after a crash).  Returns how many are resubmitted, or
 * -EPROTO (ring broken) when the region disagrees with the ring. */
int vb_inflight_start(struct vb_vq *vq, struct vb_inflight *ifl, uint32_t q);
/* The fast-path bookkeeping: a head taken, given back, a batch published. */
void vb_inflight_take(struct vb_vq *vq, uint16_t head);
void vb_inflight_give(struct vb_vq *vq, uint16_t head);
void vb_inflight_published(struct vb_vq *vq, uint32_t n, uint16_t used_idx);
/* The same for packed rings: each ring descriptor of a chain as it is
 * taken (first and last say where the chain starts and ends; 0, or -1 when
 * the free list is exhausted or corrupt: the caller breaks the ring), and
 * a chain given back, around the store of its used element's flags. */
int vb_inflight_packed_take(struct vb_vq *vq, struct vb_chain *c,
			    const struct vring_packed_desc *d, bool first, bool last);
void vb_inflight_packed_give(struct vb_vq *vq, const struct vb_chain *c);
void vb_inflight_packed_given(struct vb_vq *vq, const struct vb_chain *c);

/* ---- virtio-blk (virtio 1.x §5.2), blk.c ---- */

#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_ID_BYTES 20

struct vb_dev;

/* A request's bdev call, kept for a retry when the channel is full. */
struct vb_op {
	int op;
	uint64_t off;
	uint32_t nblk;
	int iovcnt;
};

struct vb_req {
	struct vb_dev *dev;
	struct vb_vq *vq;
	struct vb_chain chain;
	uint8_t *status;         /* NULL: no place to say it */
	uint32_t written;        /* bytes the device wrote, status byte included */
	struct vb_op op;
	struct iovec data[VB_MAX_SEGS];
	struct vb_req *next_free;  /* the free list, or the retry list */
};

/* Request types counted apart (telemetry "vhost_blk"). */
enum vb_type { VB_T_IN, VB_T_OUT, VB_T_FLUSH, VB_T_GET_ID, VB_T_DISCARD, VB_T_WRITE_ZEROES,
	       VB_T_OTHER, VB_T_COUNT };
extern const char *const vb_type_names[VB_T_COUNT];

/* Written by the I/O thread with udk_counter_add() (gauges too: in_flight
 * and the 0/1 flags), read by the telemetry thread with udk_counter_read(). */
struct vb_stats {
	uint64_t requests;
	uint64_t errors;         /* completed with IOERR or UNSUPP */
	uint64_t bad_chains;     /* descriptors outside guest memory, malformed chains */
	uint64_t by_type[VB_T_COUNT];
	uint64_t bytes_read, bytes_written;  /* by reads and writes that succeeded */
	uint64_t in_flight;      /* taken from a ring, not yet given back */
	uint64_t resubmitted;    /* carried out again after a reconnect (inflight tracking) */
	uint64_t connected;      /* a front-end is connected */
	uint64_t connections;
	uint64_t queue_requests[VU_MAX_QUEUES];
	uint64_t queue_started[VU_MAX_QUEUES];
};

struct vb_dev {
	/* what serves */
	struct udk_bdev *bdev;
	struct udk_bdev_channel *ch;
	uint32_t block_size;
	uint64_t num_blocks;
	uint32_t max_io_blocks;
	uint32_t size_max, seg_max;
	bool read_only;
	bool can_discard, can_write_zeroes;
	char id[VIRTIO_BLK_ID_BYTES];
	/* vhost-user state */
	uint64_t features;       /* acked by SET_FEATURES */
	uint64_t protocol;       /* acked by SET_PROTOCOL_FEATURES */
	bool owner;
	struct vb_mem mem;
	struct vb_vq vq[VU_MAX_QUEUES];
	struct vb_inflight inflight;
	/* requests */
	struct vb_req *reqs;
	struct vb_req *free_reqs;
	struct vb_req *retry, **retry_tail; /* refused with -EAGAIN: submitted again first */
	uint32_t nreqs;
	struct vb_stats stats;
};

/* Make dev serve bdev on the calling thread (takes a channel).  0 or a
 * negative code after one log line. */
int vb_dev_init(struct vb_dev *dev, struct udk_bdev *bdev);
/* Waits for the I/O in flight, unmaps guest memory, puts the channel. */
void vb_dev_fini(struct vb_dev *dev);
/* The features offered in GET_FEATURES. */
uint64_t vb_dev_features(const struct vb_dev *dev);
/* The virtio-blk configuration space (virtio 1.x §5.2.4), VU_MAX_CONFIG bytes. */
void vb_dev_config(const struct vb_dev *dev, uint8_t *cfg);
/* Take what the guest made available on every started ring, complete what
 * the bdev finished, publish the used rings.  Returns the work done (0: idle). */
uint32_t vb_dev_poll(struct vb_dev *dev);

/* Before the I/O thread sleeps: every ring asks for kicks, then one more
 * look (a chain made available before the driver saw the request gets no
 * kick).  When that finds nothing, the rings wait for a kick before they
 * are read again: a driver that left a ring running (firmware handing
 * over to the kernel) and gave its memory away never kicks it. */
uint32_t vb_dev_idle(struct vb_dev *dev);
/* Poll until no request is in flight (before the memory table changes or a
 * ring stops). */
void vb_dev_drain(struct vb_dev *dev);
uint32_t vb_dev_inflight(const struct vb_dev *dev);
/* The telemetry provider "vhost_blk" (stats.c): dev's counters as a JSON
 * array of one device, read from the telemetry thread.  arg is the vb_dev. */
struct udk_json;
int vb_stats_json(struct udk_json *j, void *arg);
/* A ring's running flag for telemetry (I/O thread). */
void vb_stats_started(struct vb_dev *dev, uint32_t q, bool on);

/* ---- the connection (vhost_user.c) ---- */

/* Read one message from fd: 0 with *m and its fds (*nfds, up to
 * VU_MAX_REGIONS), -ECONNRESET when the peer closed, -EPROTO after a log line
 * (bad header, size or fds; the caller closes the connection). */
int vu_recv(int fd, struct vu_msg *m, int *fds, int *nfds);
/* Check the message's size and fd count against its type, act on it, and
 * fill *reply (reply_len bytes of payload, 0 when none is due).  Takes
 * ownership of fds (closed or kept); reply->fd, when >= 0, is the caller's
 * to send and close.  0, or -EPROTO after a log line saying
 * why the connection must close. */
int vu_handle(struct vb_dev *dev, struct vu_msg *m, int *fds, int nfds, struct vu_msg *reply,
	      bool *send_reply);
/* Forget the connection's state: rings, memory, features (on disconnect). */
void vu_reset(struct vb_dev *dev);
const char *vu_request_name(uint32_t req);
/* Send a reply, with m->fd when it is >= 0 (it stays the caller's to
 * close): 0 or -EPROTO after a log line. */
int vu_send(int fd, const struct vu_msg *m);

#endif
