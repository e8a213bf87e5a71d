/* SPDX-License-Identifier: BSD-3-Clause */
/* virtio_user.c - the vhost-user transport of drivers/net/virtio: udk is
 * the front-end ("virtio-user"), a vhost-user back-end such as DPDK's
 * net_vhost is the device.  The device status and the network device's
 * configuration (MAC, link) are kept here, as a PCI device would keep them;
 * features, rings and memory go to the back-end as vhost-user messages.
 *
 * Memory: the back-end maps udk's heap segments from their file descriptors
 * (VHOST_USER_SET_MEM_TABLE).  Each region's "guest physical address" is the
 * segment's IOVA in the default map, so descriptors carry the same IOVAs as
 * on PCI (mbuf->buf_iova) and the shared virtqueue code is unchanged; ring
 * addresses are the front-end's virtual addresses, as vhost-user asks.  The
 * transport follows the heap through lib/mem's events and sends the new
 * table when a segment comes or goes.
 *
 * Connection: udk connects to the back-end (the default, "client"), or with
 * server=1 listens and the back-end connects (OVS-DPDK's arrangement).  A
 * thread per port watches the socket.  When the back-end goes away the link
 * goes down; the thread reconnects every VU_RETRY_MS (client) or accepts
 * the next back-end (server) and gives it the device as it was: features,
 * memory table, rings.  Receive rings keep their buffers (the new back-end
 * starts at the used index); on transmit rings the frames the old back-end
 * never returned are completed here and counted as lost. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "udk_eal.h"
#include "udk_mem.h"
#include "udk_util.h"
#include "vhost_user.h"
#include "virtio_dev.h"

#define LOG "virtio_user"

#define VU_MAX_PAIRS 8           /* queues=: receiveqN and transmitqN (§5.1.2) */
#define VU_MAX_QUEUES (2 * VU_MAX_PAIRS)
#define VU_DEFAULT_QSIZE 256
#define VU_REPLY_TIMEOUT_MS 5000
#define VU_MAX_SEGS 64           /* tracked; only VHU_MAX_REGIONS can be sent */
#define VU_ACCEPT_TIMEOUT_MS 60000 /* server=1: the first back-end, at probe */
#define VU_WATCH_MS 100          /* the watch thread's poll; also its reaction to close */
#define VU_RETRY_MS 100          /* client: connect again this often while down */

/* §5.1.3 and §5.1.4: what the transport itself provides of virtio-net. */
#define VNET_F_MAC 5
#define VNET_F_STATUS 16
#define VNET_F_MQ 22
#define VNET_CFG_LEN 10          /* mac[6], status, max_virtqueue_pairs */
#define VNET_S_LINK_UP 1

struct vu_seg {
	uint64_t va, len, iova;
	int fd;
	uint64_t off;
};

struct virtio_user {
	struct virtio_dev vd;    /* first: the ops get a struct virtio_dev * */
	pthread_mutex_t lock;    /* the connection and the segment list */
	struct vhu_conn conn;
	uint64_t host_features;  /* what the back-end offered */
	uint16_t queue_size;
	uint8_t status;
	bool has_mac, protocol;
	bool server;             /* server=1: udk listens on lfd */
	bool packed;             /* packed_vq=1: VIRTIO_F_RING_PACKED offered */
	bool up;                 /* the watch thread's view: a back-end is there */
	bool refused;            /* a returning back-end was refused: said once per outage */
	int lfd;
	uint8_t mac[6];
	uint16_t nb_queues;      /* 2 * queues= */
	int kickfd[VU_MAX_QUEUES], callfd[VU_MAX_QUEUES];
	struct virtq *ring[VU_MAX_QUEUES]; /* given to the device: a new back-end gets them */
	bool given[VU_MAX_QUEUES]; /* the current back-end has the ring */
	pthread_t watch;
	bool watching;
	bool stop;               /* atomic: the watch thread ends */
	unsigned int reconnects;
	bool table_sent;          /* from the first queue on, changes go out at once */
	struct udk_mem *mem;
	struct vu_seg seg[VU_MAX_SEGS];
	unsigned int nb_segs;
};

static struct virtio_user *to_user(struct virtio_dev *vd)
{
	return (struct virtio_user *)vd;
}

/* A back-end is connected and answered its last request.  Lock held. */
static bool connected(const struct virtio_user *u)
{
	return u->up && u->conn.fd >= 0 && !u->conn.lost;
}

/* ---- memory table ---- */

/* Send the table of every heap segment.  Lock held. */
static int send_table(struct virtio_user *u)
{
	struct vhu_region r[VHU_MAX_REGIONS];
	int fds[VHU_MAX_REGIONS];

	if (u->nb_segs > VHU_MAX_REGIONS) {
		udk_log(UDK_LOG_ERR, LOG, "%s: udk's heap has %u segments; a vhost-user back-end "
			"takes at most %d memory regions (VHOST_USER_SET_MEM_TABLE): allocate "
			"fewer, larger blocks (each allocation over the segment size is a segment "
			"of its own)", u->vd.name, u->nb_segs, VHU_MAX_REGIONS);
		return -E2BIG;
	}
	for (unsigned int i = 0; i < u->nb_segs; i++) {
		r[i] = (struct vhu_region){.guest_phys_addr = u->seg[i].iova,
					   .memory_size = u->seg[i].len,
					   .userspace_addr = u->seg[i].va,
					   .mmap_offset = u->seg[i].off};
		fds[i] = u->seg[i].fd;
	}
	return vhu_set_mem_table(&u->conn, r, fds, u->nb_segs);
}

/* lib/mem: a segment joined or is leaving the heap.  Called with the heap's
 * lock held, on whatever thread grows it. */
static int mem_event(enum udk_mem_event ev, struct udk_memseg *s, void *arg)
{
	struct virtio_user *u = arg;
	int rc = 0;

	pthread_mutex_lock(&u->lock);
	if (ev == UDK_MEM_EVENT_ALLOC) {
		if (s->iova == UDK_IOVA_BAD || s->fd < 0) {
			udk_log(UDK_LOG_ERR, LOG, "%s: heap segment at %p has no %s; the vhost-user "
				"back-end could not reach it", u->vd.name, s->va,
				s->fd < 0 ? "file descriptor" : "IOVA in the default map");
			rc = -UDK_ENOTMAPPED;
			goto out;
		}
		if (u->nb_segs == VU_MAX_SEGS) {
			udk_log(UDK_LOG_ERR, LOG, "%s: more than %d heap segments", u->vd.name,
				VU_MAX_SEGS);
			rc = -E2BIG;
			goto out;
		}
		u->seg[u->nb_segs++] = (struct vu_seg){(uintptr_t)s->va, s->len, s->iova, s->fd,
						       (uint64_t)s->fd_offset};
	} else {
		for (unsigned int i = 0; i < u->nb_segs; i++) {
			if (u->seg[i].va == (uintptr_t)s->va) {
				u->seg[i] = u->seg[--u->nb_segs];
				break;
			}
		}
	}
	/* A port that is down sends the table when a back-end comes back. */
	if (u->table_sent && connected(u)) {
		rc = send_table(u);
		if (rc == 0)
			udk_log(UDK_LOG_INFO, LOG, "%s: heap segment %p (%zu bytes) %s; the back-end "
				"has the new memory table (%u regions)", u->vd.name, s->va, s->len,
				ev == UDK_MEM_EVENT_ALLOC ? "added" : "removed", u->nb_segs);
		else if (ev == UDK_MEM_EVENT_ALLOC && !u->conn.lost)
			u->nb_segs--; /* the growth fails: the segment goes */
		if (u->conn.lost || ev == UDK_MEM_EVENT_FREE)
			rc = 0; /* a port that is down does not stop the heap */
	}
out:
	pthread_mutex_unlock(&u->lock);
	return rc;
}

/* ---- transport ops ---- */

/* Stop the rings the back-end has: GET_VRING_BASE is how a front-end stops a
 * ring (vhost-user.rst, "Ring states").  A back-end that closed the socket
 * has stopped; one that does not answer may still use them: -ETIMEDOUT. */
static int vu_reset(struct virtio_dev *vd)
{
	struct virtio_user *u = to_user(vd);
	int rc = 0;

	pthread_mutex_lock(&u->lock);
	for (uint32_t q = 0; q < u->nb_queues; q++) {
		uint32_t base;

		if (!u->given[q])
			continue;
		if (connected(u) && vhu_get_vring_base(&u->conn, q, &base) == -ETIMEDOUT)
			rc = -ETIMEDOUT;
		u->given[q] = false;
	}
	memset(u->ring, 0, sizeof(u->ring));
	u->status = 0;
	pthread_mutex_unlock(&u->lock);
	return rc;
}

static uint8_t vu_get_status(struct virtio_dev *vd)
{
	return to_user(vd)->status;
}

/* The negotiated features the back-end implements (the transport's own,
 * MAC and STATUS, are not its).  Lock held. */
static int send_features(struct virtio_user *u)
{
	uint64_t f = u->vd.features & u->host_features;

	if (u->protocol)
		f |= VIRTIO_BIT(VHOST_USER_F_PROTOCOL_FEATURES);
	return vhu_set_u64(&u->conn, VHU_SET_FEATURES, f);
}

/* With protocol features rings start disabled (vhost-user.rst, "Ring
 * states").  Lock held. */
static int enable_rings(struct virtio_user *u)
{
	if (!u->protocol)
		return 0;
	for (uint32_t q = 0; q < u->nb_queues; q++)
		if (u->given[q] && vhu_set_vring_state(&u->conn, VHU_SET_VRING_ENABLE, q, 1) < 0)
			return -EIO;
	return 0;
}

/* Status changes the back-end must hear of: FEATURES_OK sends the features,
 * DRIVER_OK enables the rings.  A refused step leaves FEATURES_OK clear or
 * sets DEVICE_NEEDS_RESET, which the generic code reports. */
static void vu_set_status(struct virtio_dev *vd, uint8_t st)
{
	struct virtio_user *u = to_user(vd);
	uint8_t old = u->status;

	pthread_mutex_lock(&u->lock);
	if ((st & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) &&
	    send_features(u) < 0)
		st &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	if ((st & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK) &&
	    enable_rings(u) < 0)
		st |= VIRTIO_STATUS_NEEDS_RESET;
	u->status = st;
	pthread_mutex_unlock(&u->lock);
}

static uint64_t vu_get_features(struct virtio_dev *vd)
{
	struct virtio_user *u = to_user(vd);
	uint64_t f = u->host_features & ~VIRTIO_BIT(VHOST_USER_F_PROTOCOL_FEATURES);

	if (!u->packed)
		f &= ~VIRTIO_BIT(VIRTIO_F_RING_PACKED);
	/* queues=N > 1: the pairs are the rings given and enabled (no control
	 * queue over vhost-user), if the back-end serves several. */
	if (u->nb_queues <= 2)
		f &= ~VIRTIO_BIT(VNET_F_MQ);
	f |= VIRTIO_BIT(VNET_F_STATUS);
	if (u->has_mac)
		f |= VIRTIO_BIT(VNET_F_MAC);
	return f;
}

static void vu_set_features(struct virtio_dev *vd, uint64_t features)
{
	vd->features = features; /* sent at FEATURES_OK */
}

/* struct virtio_net_config (§5.1.4) as this transport provides it: the MAC
 * from mac=, the link up while the back-end holds the connection. */
static int vu_read_config(struct virtio_dev *vd, uint32_t off, void *buf, size_t len)
{
	struct virtio_user *u = to_user(vd);
	uint8_t cfg[VNET_CFG_LEN];
	bool up;

	if (off + len > sizeof(cfg))
		return -EINVAL;
	pthread_mutex_lock(&u->lock);
	up = connected(u);
	pthread_mutex_unlock(&u->lock);
	memcpy(cfg, u->mac, 6);
	cfg[6] = up ? VNET_S_LINK_UP : 0;
	cfg[7] = 0;
	cfg[8] = (uint8_t)(u->nb_queues / 2);
	cfg[9] = 0;
	memcpy(buf, cfg + off, len);
	return 0;
}

static uint16_t vu_queue_max(struct virtio_dev *vd, uint16_t idx)
{
	return idx < to_user(vd)->nb_queues ? to_user(vd)->queue_size : 0;
}

/* The doorbell: a write to the ring's kick eventfd, which the back-end
 * polls only when it asked for notifications (it clears
 * VIRTQ_USED_F_NO_NOTIFY; a polling back-end never does). */
static void vu_notify(struct virtq *vq)
{
	uint64_t one = 1;
	ssize_t n = write(*(const int *)(uintptr_t)vq->notify_addr, &one, sizeof(one));

	(void)n; /* a full counter (2^64-1 kicks) still wakes the reader */
}

/* Give a ring to the back-end, which starts reading the available ring at
 * base, in the order QEMU uses: call fd, size, base, addresses, kick fd.
 * Lock held. */
static int give_ring(struct virtio_user *u, struct virtq *vq, uint32_t base)
{
	uint32_t q = vq->index;
	int rc;

	rc = vhu_set_vring_fd(&u->conn, VHU_SET_VRING_CALL, q, u->callfd[q]);
	if (rc == 0)
		rc = vhu_set_vring_state(&u->conn, VHU_SET_VRING_NUM, q, vq->size);
	if (rc == 0)
		rc = vhu_set_vring_state(&u->conn, VHU_SET_VRING_BASE, q, base);
	if (rc == 0)
		rc = vhu_set_vring_addr(&u->conn, q, (uintptr_t)vq->desc,
					(uintptr_t)vq->device_area, (uintptr_t)vq->driver_area);
	if (rc == 0)
		rc = vhu_set_vring_fd(&u->conn, VHU_SET_VRING_KICK, q, u->kickfd[q]);
	if (rc == 0)
		u->given[q] = true;
	return rc;
}

/* The memory table first, once; then the ring. */
static int vu_queue_enable(struct virtio_dev *vd, struct virtq *vq)
{
	struct virtio_user *u = to_user(vd);
	uint32_t q = vq->index;
	int rc;

	if (q >= u->nb_queues)
		return -EINVAL;
	pthread_mutex_lock(&u->lock);
	if (!u->table_sent) {
		rc = send_table(u);
		if (rc < 0)
			goto out;
		u->table_sent = true;
	}
	vq->notify = vu_notify;
	vq->notify_addr = &u->kickfd[q];
	u->ring[q] = vq;
	rc = give_ring(u, vq, virtq_base(vq));
out:
	pthread_mutex_unlock(&u->lock);
	return rc;
}

/* The back-end writes the call fd when it used a buffer and the driver asked
 * for a notification (vhost-user.rst, "VHOST_USER_SET_VRING_CALL"); it is
 * the same fd across reconnections (give_ring() hands it to each back-end). */
static int vu_queue_intr_fd(struct virtio_dev *vd, uint16_t idx)
{
	struct virtio_user *u = to_user(vd);

	return idx < u->nb_queues ? u->callfd[idx] : -EINVAL;
}

static void vu_close(struct virtio_dev *vd)
{
	struct virtio_user *u = to_user(vd);

	if (u->watching) {
		__atomic_store_n(&u->stop, true, __ATOMIC_RELAXED);
		pthread_join(u->watch, NULL);
	}
	if (u->mem != NULL)
		udk_mem_event_unregister(u->mem, mem_event, u);
	vu_reset(vd);
	vhu_close(&u->conn);
	if (u->lfd >= 0) {
		close(u->lfd);
		unlink(u->conn.path);
	}
	for (int q = 0; q < u->nb_queues; q++) {
		if (u->kickfd[q] >= 0)
			close(u->kickfd[q]);
		if (u->callfd[q] >= 0)
			close(u->callfd[q]);
	}
	pthread_mutex_destroy(&u->lock);
	free(u);
}

static const struct virtio_transport_ops vu_ops = {
	.reset = vu_reset,
	.get_status = vu_get_status,
	.set_status = vu_set_status,
	.get_features = vu_get_features,
	.set_features = vu_set_features,
	.read_config = vu_read_config,
	.queue_max = vu_queue_max,
	.queue_enable = vu_queue_enable,
	.queue_intr_fd = vu_queue_intr_fd,
	.close = vu_close,
};

/* ---- probe ---- */

static int parse_num(const char *name, const char *key, const char *v, unsigned long lo,
		     unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 0);
	if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi) {
		udk_log(UDK_LOG_ERR, LOG, "--vdev %s: %s=%s is not a number in %lu..%lu", name, key,
			v, lo, hi);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

/* DPDK virtio_user's 0|1 switches: *on, or -EINVAL (logged). */
static int parse_bool(const char *name, const char *key, const char *v, bool *on)
{
	unsigned long n;

	if (parse_num(name, key, v, 0, 1, &n) < 0)
		return -EINVAL;
	*on = n != 0;
	return 0;
}

/* A DPDK virtio_user switch whose "on" udk does not implement (yet). */
static int only_off(const char *name, const char *key, const char *v, const char *why)
{
	bool on;

	if (parse_bool(name, key, v, &on) < 0)
		return -EINVAL;
	if (!on)
		return 0;
	udk_log(UDK_LOG_ERR, LOG, "--vdev %s: %s=1: %s; use %s=0 (or leave it out)", name, key,
		why, key);
	return -ENOTSUP;
}

/* DPDK virtio_user's spellings, where udk's meaning is the same:
 * "path=SOCK[,server=0|1][,queues=1..8][,queue_size=N][,mac=XX:XX:XX:XX:XX:XX]
 * [,packed_vq=0|1][,mrg_rxbuf=0|1][,in_order=0]". */
int virtio_user_parse_args(const char *name, const char *args, struct vu_args *a)
{
	char buf[512], *save, *kv;
	int rc = 0;

	*a = (struct vu_args){.queues = 1, .queue_size = VU_DEFAULT_QSIZE};
	if (strlen(args) >= sizeof(buf)) {
		udk_log(UDK_LOG_ERR, LOG, "--vdev %s: arguments too long", name);
		return -EINVAL;
	}
	strcpy(buf, args);
	for (kv = strtok_r(buf, ",", &save); kv != NULL && rc == 0;
	     kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');

		if (v == NULL)
			goto bad;
		*v++ = '\0';
		if (strcmp(kv, "path") == 0 && *v != '\0') {
			if (strlen(v) >= sizeof(a->path)) {
				udk_log(UDK_LOG_ERR, LOG, "--vdev %s: path=%s is longer than a UNIX "
					"socket path can be (%zu bytes)", name, v, sizeof(a->path) - 1);
				return -ENAMETOOLONG;
			}
			strcpy(a->path, v);
		} else if (strcmp(kv, "server") == 0) {
			rc = parse_bool(name, kv, v, &a->server);
		} else if (strcmp(kv, "queues") == 0) {
			if (parse_num(name, kv, v, 1, 128, &a->queues) < 0)
				return -EINVAL;
			if (a->queues > VU_MAX_PAIRS) {
				udk_log(UDK_LOG_ERR, LOG, "--vdev %s: queues=%lu: udk's virtio_user "
					"takes 1..%d queue pairs", name, a->queues, VU_MAX_PAIRS);
				return -ENOTSUP;
			}
		} else if (strcmp(kv, "queue_size") == 0) {
			if (parse_num(name, kv, v, 1, VIRTQ_MAX_SIZE, &a->queue_size) < 0)
				return -EINVAL;
		} else if (strcmp(kv, "mac") == 0) {
			unsigned int m[6];
			char end;

			if (sscanf(v, "%x:%x:%x:%x:%x:%x%c", &m[0], &m[1], &m[2], &m[3], &m[4],
				   &m[5], &end) != 6) {
				udk_log(UDK_LOG_ERR, LOG, "--vdev %s: mac=%s is not an address like "
					"02:00:00:00:00:01", name, v);
				return -EINVAL;
			}
			for (int i = 0; i < 6; i++)
				a->mac[i] = (uint8_t)m[i];
			a->has_mac = true;
		} else if (strcmp(kv, "packed_vq") == 0) {
			rc = parse_bool(name, kv, v, &a->packed);
		} else if (strcmp(kv, "mrg_rxbuf") == 0) {
			rc = parse_bool(name, kv, v, &a->mrg);
		} else if (strcmp(kv, "in_order") == 0) {
			rc = only_off(name, kv, v, "net_virtio does not negotiate VIRTIO_F_IN_ORDER "
				      "(DPDK's default is 1, udk's is 0)");
		} else {
			goto bad;
		}
	}
	if (rc < 0)
		return rc;
	if (!a->packed && !UDK_IS_POW2(a->queue_size)) {
		udk_log(UDK_LOG_ERR, LOG, "--vdev %s: queue_size=%lu: a split virtqueue has a power "
			"of two of entries (virtio 1.1 §2.6; a packed one, packed_vq=1, any number)",
			name, a->queue_size);
		return -EINVAL;
	}
	if (a->path[0] == '\0') {
		udk_log(UDK_LOG_ERR, LOG, "--vdev %s: path=SOCKET is required (the vhost-user "
			"back-end's UNIX socket)", name);
		return -EINVAL;
	}
	return 0;

bad:
	udk_log(UDK_LOG_ERR, LOG, "--vdev %s: unknown argument '%s' (udk's virtio_user takes "
		"path=, server=, queues=, queue_size=, mac=, packed_vq=, mrg_rxbuf=, in_order=)",
		name, kv);
	return -EINVAL;
}

/* Connect, take ownership, learn the back-end's features and agree on
 * protocol features (REPLY_ACK, so every change is confirmed). */
static int handshake(struct virtio_user *u)
{
	uint64_t pf;
	int rc;

	rc = vhu_set_owner(&u->conn);
	if (rc == 0)
		rc = vhu_get_u64(&u->conn, VHU_GET_FEATURES, &u->host_features);
	if (rc < 0)
		return rc;
	u->protocol = (u->host_features & VIRTIO_BIT(VHOST_USER_F_PROTOCOL_FEATURES)) != 0;
	if (!u->protocol)
		return 0;
	rc = vhu_get_u64(&u->conn, VHU_GET_PROTOCOL_FEATURES, &pf);
	if (rc < 0)
		return rc;
	pf &= VIRTIO_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK);
	rc = vhu_set_u64(&u->conn, VHU_SET_PROTOCOL_FEATURES, pf);
	if (rc == 0)
		u->conn.reply_ack = pf != 0;
	return rc;
}

/* A new back-end after the old one went away: the device as it was.  The
 * features negotiated must all be there again; the rings go to it with the
 * receive buffers still posted and the transmit frames the old back-end
 * never returned completed as lost.  Lock held. */
static int resume(struct virtio_user *u)
{
	uint64_t had = u->host_features & u->vd.features, missing;
	int rc;

	memset(u->given, 0, sizeof(u->given));
	rc = handshake(u);
	if (rc < 0)
		return rc;
	missing = had & ~u->host_features;
	if (missing != 0) {
		if (!u->refused)
			udk_log(UDK_LOG_WARN, LOG, "%s: the vhost-user back-end at %s came back "
				"without %s, which the port negotiated; the link stays down (restart "
				"the port, or the back-end as it was)", u->vd.name, u->conn.path,
				virtio_feature_name((unsigned int)__builtin_ctzll(missing)));
		return -ENOTSUP;
	}
	if (u->vd.features & VIRTIO_BIT(VIRTIO_F_RING_PACKED) && u->ring[0] != NULL) {
		/* Which descriptors the old back-end had taken is in no shared
		 * index of a packed ring (vhost-user's inflight tracking would
		 * say; udk does not implement it). */
		if (!u->refused)
			udk_log(UDK_LOG_WARN, LOG, "%s: a vhost-user back-end is at %s again, but "
				"running packed virtqueues cannot be handed over; the link stays down: "
				"stop and start the port (or use split rings, packed_vq=0)", u->vd.name,
				u->conn.path);
		return -ENOTSUP;
	}
	if ((u->status & VIRTIO_STATUS_FEATURES_OK) && (rc = send_features(u)) < 0)
		return rc;
	if (u->table_sent && (rc = send_table(u)) < 0)
		return rc;
	for (uint16_t q = 0; q < u->nb_queues && rc == 0; q++) {
		struct virtq *vq = u->ring[q];
		uint16_t base;

		if (vq == NULL)
			continue;
		if (q & 1) { /* transmitqN (§5.1.2) */
			uint16_t lost = virtq_complete_pending(vq, &base);

			if (lost != 0)
				udk_log(UDK_LOG_WARN, LOG, "%s: %u frames of queue %u were in flight "
					"when the back-end went away: counted as lost", u->vd.name,
					lost, q);
		} else {
			base = virtq_used_idx(vq);
		}
		rc = give_ring(u, vq, base);
	}
	if (rc == 0 && (u->status & VIRTIO_STATUS_DRIVER_OK))
		rc = enable_rings(u);
	return rc;
}

static void link_changed(struct virtio_user *u, bool up)
{
	void (*fn)(void *, bool) = __atomic_load_n(&u->vd.link_changed, __ATOMIC_ACQUIRE);

	if (fn != NULL)
		fn(u->vd.link_arg, up);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* The watch thread: while a back-end is there, wait for it to hang up (or a
 * request to find it gone); then take the next one. */
static void *watch(void *arg)
{
	struct virtio_user *u = arg;

	while (!__atomic_load_n(&u->stop, __ATOMIC_RELAXED)) {
		bool was_up = u->up, up;
		int rc;

		if (was_up) {
			struct pollfd p = {.fd = u->conn.fd, .events = POLLRDHUP};

			poll(&p, 1, VU_WATCH_MS);
			pthread_mutex_lock(&u->lock);
			up = vhu_alive(&u->conn);
			if (!up) {
				udk_log(UDK_LOG_WARN, LOG, "%s: the vhost-user back-end at %s closed "
					"the connection: link down; %s", u->vd.name, u->conn.path,
					u->server ? "waiting for the next one to connect"
						  : "connecting again until it is back");
				u->conn.lost = true;
				u->up = false;
				vhu_close(&u->conn);
				memset(u->given, 0, sizeof(u->given));
			}
			pthread_mutex_unlock(&u->lock);
		} else {
			if (u->server) {
				rc = vhu_accept(&u->conn, u->lfd, VU_WATCH_MS);
			} else {
				sleep_ms(VU_RETRY_MS);
				rc = vhu_reconnect(&u->conn);
			}
			if (rc < 0)
				continue;
			pthread_mutex_lock(&u->lock);
			rc = resume(u);
			u->refused = rc == -ENOTSUP;
			if (rc == 0) {
				u->up = true;
				u->reconnects++;
				udk_log(UDK_LOG_INFO, LOG, "%s: a vhost-user back-end is at %s again "
					"(reconnection %u): link up", u->vd.name, u->conn.path,
					u->reconnects);
			} else {
				u->conn.lost = true;
				vhu_close(&u->conn);
				/* A back-end that refuses us is not asked again at once. */
				if (!u->server)
					sleep_ms(1000 - VU_RETRY_MS);
			}
			up = u->up;
			pthread_mutex_unlock(&u->lock);
		}
		if (up != was_up)
			link_changed(u, up);
	}
	return NULL;
}

int virtio_user_open(const char *name, const char *args, struct virtio_dev **out)
{
	struct virtio_user *u;
	struct vu_args a;
	int rc;

	rc = virtio_user_parse_args(name, args, &a);
	if (rc < 0)
		return rc;
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return -ENOMEM;
	pthread_mutex_init(&u->lock, NULL);
	u->vd.ops = &vu_ops;
	snprintf(u->vd.name, sizeof(u->vd.name), "%s", name);
	u->vd.required_features = VIRTIO_BIT(VIRTIO_F_VERSION_1);
	u->queue_size = (uint16_t)a.queue_size;
	u->has_mac = a.has_mac;
	u->server = a.server;
	u->packed = a.packed;
	u->nb_queues = (uint16_t)(2 * a.queues);
	u->vd.pairs_by_rings = true;
	u->vd.mrg_ok = a.mrg;
	u->lfd = -1;
	memcpy(u->mac, a.mac, 6);
	for (int q = 0; q < VU_MAX_QUEUES; q++)
		u->kickfd[q] = u->callfd[q] = -1;
	u->conn.fd = -1;
	for (int q = 0; q < u->nb_queues; q++) {
		u->kickfd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		u->callfd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (u->kickfd[q] < 0 || u->callfd[q] < 0) {
			rc = -errno;
			udk_log(UDK_LOG_ERR, LOG, "%s: eventfd for queue %d: %s", name, q,
				strerror(errno));
			goto err;
		}
	}
	if (a.server) {
		rc = vhu_listen(name, a.path, &u->lfd);
		if (rc == 0)
			rc = vhu_accept_first(&u->conn, name, a.path, u->lfd, VU_ACCEPT_TIMEOUT_MS);
	} else {
		rc = vhu_connect(&u->conn, name, a.path, VU_REPLY_TIMEOUT_MS);
	}
	if (rc < 0)
		goto err;
	u->conn.timeout_ms = VU_REPLY_TIMEOUT_MS;
	u->up = true;
	rc = handshake(u);
	if (rc < 0)
		goto err;
	u->mem = udk_mem_default();
	if (u->mem == NULL) {
		udk_log(UDK_LOG_ERR, LOG, "%s: no udk memory: call udk_eal_init() first", name);
		rc = -ENODEV;
		goto err;
	}
	/* Replays every existing segment, then follows the heap. */
	rc = udk_mem_event_register(u->mem, mem_event, u);
	if (rc < 0) {
		u->mem = NULL;
		goto err;
	}
	rc = -pthread_create(&u->watch, NULL, watch, u);
	if (rc < 0) {
		udk_log(UDK_LOG_ERR, LOG, "%s: cannot start the thread that watches the vhost-user "
			"connection: %s", name, strerror(-rc));
		goto err;
	}
	u->watching = true;
	udk_log(UDK_LOG_INFO, LOG, "%s: %s %s; back-end features 0x%llx, protocol "
		"features %s, %u heap segments", name,
		a.server ? "a back-end connected to udk's socket" : "connected to", a.path,
		(unsigned long long)u->host_features,
		u->conn.reply_ack ? "REPLY_ACK" : "none", u->nb_segs);
	*out = &u->vd;
	return 0;

err:
	vu_close(&u->vd);
	return rc;
}
