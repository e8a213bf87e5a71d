/* SPDX-License-Identifier: BSD-3-Clause */
/* vhost_user.c - the back-end half of the vhost-user protocol (QEMU
 * docs/interop/vhost-user.rst) for one virtio-blk device: messages read from
 * the front-end's socket, each checked for its size and the file descriptors
 * it carries before anything is done with it, and the replies.  A message
 * that breaks the protocol returns -EPROTO after one line saying why, and the
 * caller closes the connection. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "udk_telemetry.h"
#include "udk_util.h"
#include "vhost_blk.h"

#define COMPONENT "vhost-blk"
#define VRING_NOFD (1ull << 8)  /* SET_VRING_KICK/CALL/ERR: no fd, "polling mode" */
#define VRING_IDX_MASK 0xffull

static const char *const names[] = {
	[VU_GET_FEATURES] = "GET_FEATURES",
	[VU_SET_FEATURES] = "SET_FEATURES",
	[VU_SET_OWNER] = "SET_OWNER",
	[VU_RESET_OWNER] = "RESET_OWNER",
	[VU_SET_MEM_TABLE] = "SET_MEM_TABLE",
	[VU_SET_LOG_BASE] = "SET_LOG_BASE",
	[VU_SET_LOG_FD] = "SET_LOG_FD",
	[VU_SET_VRING_NUM] = "SET_VRING_NUM",
	[VU_SET_VRING_ADDR] = "SET_VRING_ADDR",
	[VU_SET_VRING_BASE] = "SET_VRING_BASE",
	[VU_GET_VRING_BASE] = "GET_VRING_BASE",
	[VU_SET_VRING_KICK] = "SET_VRING_KICK",
	[VU_SET_VRING_CALL] = "SET_VRING_CALL",
	[VU_SET_VRING_ERR] = "SET_VRING_ERR",
	[VU_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
	[VU_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
	[VU_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
	[VU_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
	[VU_GET_CONFIG] = "GET_CONFIG",
	[VU_SET_CONFIG] = "SET_CONFIG",
	[VU_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
	[VU_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
	[VU_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
	[VU_ADD_MEM_REG] = "ADD_MEM_REG",
	[VU_REM_MEM_REG] = "REM_MEM_REG",
};

const char *vu_request_name(uint32_t req)
{
	if (req < UDK_ARRAY_SIZE(names) && names[req])
		return names[req];
	return "an unknown request";
}

/* What each request must carry: payload size range and fd count range. */
struct rule {
	uint32_t min, max;
	int fds_min, fds_max;
};

static const struct rule rules[] = {
	[VU_GET_FEATURES] = {0, 8, 0, 0},
	[VU_SET_FEATURES] = {8, 8, 0, 0},
	[VU_SET_OWNER] = {0, 8, 0, 0},
	[VU_RESET_OWNER] = {0, 8, 0, 0},
	[VU_SET_MEM_TABLE] = {8 + 32, sizeof(struct vu_memory), 1, VU_MAX_REGIONS},
	[VU_SET_VRING_NUM] = {8, 8, 0, 0},
	[VU_SET_VRING_ADDR] = {40, 40, 0, 0},
	[VU_SET_VRING_BASE] = {8, 8, 0, 0},
	[VU_GET_VRING_BASE] = {8, 8, 0, 0},
	[VU_SET_VRING_KICK] = {8, 8, 0, 1},
	[VU_SET_VRING_CALL] = {8, 8, 0, 1},
	[VU_SET_VRING_ERR] = {8, 8, 0, 1},
	[VU_GET_PROTOCOL_FEATURES] = {0, 8, 0, 0},
	[VU_SET_PROTOCOL_FEATURES] = {8, 8, 0, 0},
	[VU_GET_QUEUE_NUM] = {0, 8, 0, 0},
	[VU_SET_VRING_ENABLE] = {8, 8, 0, 0},
	[VU_GET_CONFIG] = {12, 12 + VU_MAX_CONFIG, 0, 0},
	[VU_SET_CONFIG] = {12, 12 + VU_MAX_CONFIG, 0, 0},
	[VU_GET_INFLIGHT_FD] = {sizeof(struct vu_inflight), sizeof(struct vu_inflight), 0, 0},
	[VU_SET_INFLIGHT_FD] = {sizeof(struct vu_inflight), sizeof(struct vu_inflight), 1, 1},
	[VU_GET_MAX_MEM_SLOTS] = {0, 8, 0, 0},
	[VU_ADD_MEM_REG] = {sizeof(struct vu_mem_reg), sizeof(struct vu_mem_reg), 1, 1},
	/* QEMU sends no fd; the specification allows one (closed). */
	[VU_REM_MEM_REG] = {sizeof(struct vu_mem_reg), sizeof(struct vu_mem_reg), 0, 1},
};

static void close_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

static int proto(const struct vu_msg *m, const char *fmt, unsigned long long a, unsigned long long b)
{
	char why[160];

	snprintf(why, sizeof(why), fmt, a, b);
	udk_log(UDK_LOG_ERR, COMPONENT, "%s (request %u): %s; closing the connection",
		vu_request_name(m->hdr.request), m->hdr.request, why);
	return -EPROTO;
}

int vu_recv(int fd, struct vu_msg *m, int *fds, int *nfds)
{
	char ctrl[CMSG_SPACE(sizeof(int) * VU_MAX_REGIONS)];
	struct iovec iov = {&m->hdr, sizeof(m->hdr)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl,
			    .msg_controllen = sizeof(ctrl)};
	ssize_t n;
	int rc = -EPROTO;

	*nfds = 0;
	n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	if (n == 0)
		return -ECONNRESET;
	if (n < 0) {
		rc = -errno;
		udk_log(UDK_LOG_ERR, COMPONENT, "reading a message: %s; closing the connection",
			strerror(errno));
		return rc == -ECONNRESET ? rc : -EPROTO;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < k; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < VU_MAX_REGIONS)
				fds[(*nfds)++] = f;
			else
				close(f);
		}
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		udk_log(UDK_LOG_ERR, COMPONENT, "a message came with more than %d fds; closing the "
			"connection", VU_MAX_REGIONS);
		goto err;
	}
	if (n < (ssize_t)sizeof(m->hdr)) {
		ssize_t k = recv(fd, (uint8_t *)&m->hdr + n, sizeof(m->hdr) - n, MSG_WAITALL);
		if (k != (ssize_t)sizeof(m->hdr) - n) {
			udk_log(UDK_LOG_ERR, COMPONENT, "a message header was cut short (%zd of %zu "
				"bytes); closing the connection", n + (k > 0 ? k : 0), sizeof(m->hdr));
			goto err;
		}
	}
	if ((m->hdr.flags & 3) != VU_VERSION) {
		rc = proto(m, "version %llu in the flags %#llx, not 1", m->hdr.flags & 3, m->hdr.flags);
		goto err;
	}
	if (m->hdr.size > sizeof(m->p)) {
		rc = proto(m, "payload of %llu bytes, more than any request's %llu", m->hdr.size,
			   sizeof(m->p));
		goto err;
	}
	if (m->hdr.size) {
		n = recv(fd, &m->p, m->hdr.size, MSG_WAITALL);
		if (n != (ssize_t)m->hdr.size) {
			rc = proto(m, "payload cut short (%lld of %llu bytes)", (long long)(n > 0 ? n : 0),
				   m->hdr.size);
			goto err;
		}
	}
	return 0;
err:
	close_fds(fds, *nfds);
	*nfds = 0;
	return -EPROTO;
}

static struct vb_vq *ring(struct vb_dev *dev, const struct vu_msg *m, uint64_t idx)
{
	if (idx >= VU_MAX_QUEUES) {
		proto(m, "ring %llu, but the device has %llu", idx, VU_MAX_QUEUES);
		return NULL;
	}
	return &dev->vq[idx];
}

static void set_fd(int *slot, int fd)
{
	if (*slot >= 0)
		close(*slot);
	*slot = fd;
}

void vu_reset(struct vb_dev *dev)
{
	vb_dev_drain(dev);
	for (uint32_t q = 0; q < VU_MAX_QUEUES; q++) {
		vb_vq_reset(&dev->vq[q]);
		vb_stats_started(dev, q, false);
	}
	vb_mem_clear(&dev->mem);
	vb_inflight_clear(&dev->inflight);
	dev->features = dev->protocol = 0;
	dev->owner = false;
}

static uint64_t protocol_offered(void)
{
	return 1ull << VU_PROTOCOL_F_MQ | 1ull << VU_PROTOCOL_F_REPLY_ACK |
	       1ull << VU_PROTOCOL_F_CONFIG | 1ull << VU_PROTOCOL_F_INFLIGHT_SHMFD |
	       1ull << VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS;
}

/* After the table changed: each ring's addresses translated again; a ring
 * whose memory is not (or no longer) there waits, without a pointer into
 * it, until a region holding it is added. */
static void remap_rings(struct vb_dev *dev)
{
	for (uint32_t q = 0; q < VU_MAX_QUEUES; q++) {
		struct vb_vq *vq = &dev->vq[q];
		bool had = vq->desc != NULL;
		if (vq->desc_uva && vb_vq_map(vq, &dev->mem) < 0 && had)
			udk_log(UDK_LOG_NOTICE, COMPONENT, "ring %u waits: its memory was removed", q);
	}
}

/* The request proper, its size and fds already checked; *kept tells which
 * fds it took.  0, 1 (refused: a REPLY_ACK reply says so, the connection
 * stays), or -EPROTO. */
static int act(struct vb_dev *dev, struct vu_msg *m, int *fds, int nfds, struct vu_msg *r,
	       bool *kept)
{
	union vu_payload *p = &m->p;
	struct vb_vq *vq;

	switch (m->hdr.request) {
	case VU_GET_FEATURES:
		r->p.u64 = vb_dev_features(dev);
		r->hdr.size = 8;
		return 0;
	case VU_SET_FEATURES:
		if (p->u64 & ~vb_dev_features(dev))
			return proto(m, "features %#llx not offered (offered %#llx)",
				     p->u64 & ~vb_dev_features(dev), vb_dev_features(dev));
		dev->features = p->u64;
		return 0;
	case VU_GET_PROTOCOL_FEATURES:
		r->p.u64 = protocol_offered();
		r->hdr.size = 8;
		return 0;
	case VU_SET_PROTOCOL_FEATURES:
		if (p->u64 & ~protocol_offered())
			return proto(m, "protocol features %#llx not offered (offered %#llx)",
				     p->u64 & ~protocol_offered(), protocol_offered());
		dev->protocol = p->u64;
		return 0;
	case VU_SET_OWNER:
		dev->owner = true;
		return 0;
	case VU_RESET_OWNER:
		vu_reset(dev);
		return 0;
	case VU_GET_QUEUE_NUM:
		r->p.u64 = VU_MAX_QUEUES;
		r->hdr.size = 8;
		return 0;
	case VU_SET_MEM_TABLE: {
		uint32_t n = p->mem.nregions;
		if (n == 0 || n > VU_MAX_REGIONS || m->hdr.size != 8 + 32 * n || nfds != (int)n)
			return proto(m, "%llu regions in the table (1-8), with one fd each; %llu fds came",
				     n, nfds);
		/* The rings read guest memory until the last request ends. */
		vb_dev_drain(dev);
		if (vb_mem_set(&dev->mem, &p->mem, fds) < 0)
			return -EPROTO;
		for (uint32_t q = 0; q < VU_MAX_QUEUES; q++) {
			vq = &dev->vq[q];
			if (vq->desc_uva && vb_vq_map(vq, &dev->mem) < 0)
				return proto(m, "ring %llu is not inside the new table (%llu regions)", q, n);
		}
		return 0; /* the fds are closed: the mappings stay */
	}
	case VU_SET_VRING_NUM:
		if (!(vq = ring(dev, m, p->state.index)))
			return -EPROTO;
		if (p->state.num == 0 || p->state.num > VB_MAX_QUEUE_SIZE ||
		    (p->state.num & (p->state.num - 1)))
			return proto(m, "ring size %llu: a power of two up to %llu", p->state.num,
				     VB_MAX_QUEUE_SIZE);
		if (vq->started)
			return proto(m, "ring %llu is running (%llu)", p->state.index, vq->num);
		vq->num = p->state.num;
		return 0;
	case VU_SET_VRING_ADDR:
		if (!(vq = ring(dev, m, p->addr.index)))
			return -EPROTO;
		if (vq->num == 0 || vq->started)
			return proto(m, vq->started ? "ring %llu is running (size %llu)"
						    : "ring %llu has no size yet (%llu)",
				     p->addr.index, vq->num);
		vq->packed = dev->features & (1ull << VIRTIO_F_RING_PACKED);
		vq->desc_uva = p->addr.desc;
		vq->avail_uva = p->addr.avail;
		vq->used_uva = p->addr.used;
		if (vb_vq_map(vq, &dev->mem) < 0)
			return proto(m, "ring %llu's addresses are not inside guest memory (%llu regions) "
				     "or not aligned", p->addr.index, dev->mem.n);
		return 0;
	case VU_SET_VRING_BASE:
		if (!(vq = ring(dev, m, p->state.index)))
			return -EPROTO;
		if (vq->started)
			return proto(m, "ring %llu: base %llu while it runs", p->state.index,
				     p->state.num);
		if (dev->features & (1ull << VIRTIO_F_RING_PACKED)) {
			/* Packed (as QEMU sends it): bits 0-14 the available
			 * index, 15 its wrap counter; 16-30 the used index, 31
			 * its wrap counter. */
			uint32_t a = p->state.num & 0x7fff, u = (p->state.num >> 16) & 0x7fff;
			if (a >= vq->num || u >= vq->num)
				return proto(m, "packed ring base %#llx past the ring size %llu",
					     p->state.num, vq->num);
			vq->last_avail = (uint16_t)a;
			vq->avail_wrap = p->state.num >> 15 & 1;
			vq->used_idx = (uint16_t)u;
			vq->used_wrap = p->state.num >> 31;
			return 0;
		}
		if (p->state.num > UINT16_MAX)
			return proto(m, "ring %llu: base %llu past 65535", p->state.index,
				     p->state.num);
		vq->last_avail = vq->used_idx = (uint16_t)p->state.num;
		return 0;
	case VU_GET_VRING_BASE:
		if (!(vq = ring(dev, m, p->state.index)))
			return -EPROTO;
		/* Stop the ring: its requests end first. */
		vb_dev_drain(dev);
		vb_vq_want_kicks(vq, true);
		vq->started = false;
		vb_stats_started(dev, p->state.index, false);
		set_fd(&vq->kick_fd, -1);
		r->p.state.index = p->state.index;
		r->p.state.num = vq->last_avail;
		if (vq->packed) /* the same layout as SET_VRING_BASE's */
			r->p.state.num |= (vq->avail_wrap ? 0x8000u : 0) |
					  (uint32_t)vq->used_idx << 16 | (vq->used_wrap ? 1u << 31 : 0);
		r->hdr.size = 8;
		return 0;
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR: {
		uint64_t v = p->u64;
		bool nofd = v & VRING_NOFD;
		if (v & ~(VRING_NOFD | VRING_IDX_MASK) || nfds != (nofd ? 0 : 1))
			return proto(m, "value %#llx with %llu fds (one fd unless bit 8 is set)", v, nfds);
		if (!(vq = ring(dev, m, v & VRING_IDX_MASK)))
			return -EPROTO;
		int fd = nofd ? -1 : fds[0];
		*kept = !nofd;
		if (m->hdr.request == VU_SET_VRING_CALL) {
			set_fd(&vq->call_fd, fd);
		} else if (m->hdr.request == VU_SET_VRING_ERR) {
			set_fd(&vq->err_fd, fd);
		} else {
			set_fd(&vq->kick_fd, fd);
			if (!vq->desc)
				return proto(m, "ring %llu started before its addresses were set (size %llu)",
					     v & VRING_IDX_MASK, vq->num);
			/* Without protocol features a ring runs once kicked
			 * (vhost-user.rst "Ring states"). */
			if (!(dev->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)))
				vq->enabled = true;
			vq->started = true;
			vq->broken = false;
			vq->event_idx = dev->features & (1ull << VIRTIO_RING_F_EVENT_IDX);
			int n = vb_inflight_start(vq, &dev->inflight, (uint32_t)(v & VRING_IDX_MASK));
			if (n > 0)
				udk_counter_add(&dev->stats.resubmitted, (uint64_t)n);
			vb_stats_started(dev, (uint32_t)(v & VRING_IDX_MASK), true);
			vb_vq_start(vq, nofd);
		}
		return 0;
	}
	case VU_SET_VRING_ENABLE:
		if (!(vq = ring(dev, m, p->state.index)))
			return -EPROTO;
		vq->enabled = p->state.num != 0;
		return 0;
	case VU_GET_CONFIG: {
		uint8_t cfg[VU_MAX_CONFIG];
		struct vu_config *c = &p->config;
		if (c->size != m->hdr.size - 12 || c->offset > VU_MAX_CONFIG ||
		    c->size > VU_MAX_CONFIG - c->offset)
			return proto(m, "%llu bytes at offset %llu, past the 256 of the config space",
				     c->size, c->offset);
		vb_dev_config(dev, cfg);
		r->p.config.offset = c->offset;
		r->p.config.size = c->size;
		r->p.config.flags = c->flags;
		memcpy(r->p.config.payload, cfg + c->offset, c->size);
		r->hdr.size = m->hdr.size;
		return 0;
	}
	case VU_GET_MAX_MEM_SLOTS:
		r->p.u64 = VB_MAX_MEM_SLOTS;
		r->hdr.size = 8;
		return 0;
	case VU_ADD_MEM_REG: {
		const struct vu_region *g = &p->mem_reg.region;
		if (vb_mem_add(&dev->mem, g, fds[0]) < 0)
			return -EPROTO;
		udk_log(UDK_LOG_NOTICE, COMPONENT, "ADD_MEM_REG: guest %#llx-%#llx (%llu MiB), %u "
			"regions", (unsigned long long)g->guest_phys_addr,
			(unsigned long long)(g->guest_phys_addr + g->memory_size - 1),
			(unsigned long long)(g->memory_size >> 20), dev->mem.n);
		remap_rings(dev);
		return 0; /* the fd is closed: the mapping stays */
	}
	case VU_REM_MEM_REG: {
		const struct vu_region *g = &p->mem_reg.region;
		/* Requests in flight may point into it. */
		vb_dev_drain(dev);
		if (vb_mem_remove(&dev->mem, g) < 0)
			return 1; /* not an exact match: refused, nothing removed */
		udk_log(UDK_LOG_NOTICE, COMPONENT, "REM_MEM_REG: guest %#llx-%#llx (%llu MiB) unmapped, "
			"%u regions", (unsigned long long)g->guest_phys_addr,
			(unsigned long long)(g->guest_phys_addr + g->memory_size - 1),
			(unsigned long long)(g->memory_size >> 20), dev->mem.n);
		remap_rings(dev);
		return 0;
	}
	case VU_GET_INFLIGHT_FD:
		if (vb_inflight_new(&p->inflight, &r->p.inflight, &r->fd) < 0)
			return -EPROTO;
		r->hdr.size = sizeof(r->p.inflight);
		return 0;
	case VU_SET_INFLIGHT_FD:
		/* The front-end keeps the fd for the next back-end: the
		 * mapping is all this one needs.  A ring already running
		 * stops tracking (it had the old region) until it restarts. */
		vb_dev_drain(dev);
		for (uint32_t q = 0; q < VU_MAX_QUEUES; q++)
			dev->vq[q].ifl = NULL;
		if (vb_inflight_set(&dev->inflight, &p->inflight, fds[0]) < 0)
			return -EPROTO;
		return 0;
	case VU_SET_CONFIG:
		/* Nothing in virtio-blk's config space is writable here (no
		 * CONFIG_WCE): refused, the connection stays. */
		return 1;
	default:
		return proto(m, "not supported by this back-end (flags %#llx, %llu bytes)",
			     m->hdr.flags, m->hdr.size);
	}
}

int vu_handle(struct vb_dev *dev, struct vu_msg *m, int *fds, int nfds, struct vu_msg *reply,
	      bool *send_reply)
{
	uint32_t req = m->hdr.request;
	bool kept = false;
	int rc;

	*send_reply = false;
	memset(&reply->hdr, 0, sizeof(reply->hdr));
	reply->fd = -1;
	if (req >= UDK_ARRAY_SIZE(rules) || rules[req].max == 0) {
		rc = proto(m, "not supported by this back-end (flags %#llx, %llu bytes)", m->hdr.flags,
			   m->hdr.size);
		goto out;
	}
	const struct rule *ru = &rules[req];
	if (m->hdr.size < ru->min || m->hdr.size > ru->max) {
		rc = proto(m, "payload of %llu bytes, expected %llu", m->hdr.size, ru->min);
		goto out;
	}
	if (nfds < ru->fds_min || nfds > ru->fds_max) {
		rc = proto(m, "%llu fds came with it, expected at most %llu", nfds, ru->fds_max);
		goto out;
	}
	rc = act(dev, m, fds, nfds, reply, &kept);
	if (rc < 0)
		goto out;
	reply->hdr.request = req;
	reply->hdr.flags = VU_VERSION | VU_FLAG_REPLY;
	if (reply->hdr.size) {
		*send_reply = true;
	} else if ((dev->protocol & (1ull << VU_PROTOCOL_F_REPLY_ACK)) &&
		   (m->hdr.flags & VU_FLAG_NEED_REPLY)) {
		/* REPLY_ACK: 0 done, non-zero failed. */
		reply->p.u64 = rc ? 1 : 0;
		reply->hdr.size = 8;
		*send_reply = true;
	} else if (rc) {
		udk_log(UDK_LOG_NOTICE, COMPONENT, "%s refused", vu_request_name(req));
	}
	rc = 0;
out:
	if (!kept)
		close_fds(fds, nfds);
	return rc;
}

int vu_send(int fd, const struct vu_msg *m)
{
	/* The payload follows the 12-byte header at once on the wire (in
	 * struct vu_msg it is 8-byte aligned). */
	struct iovec iov[2] = {{(void *)&m->hdr, sizeof(m->hdr)}, {(void *)&m->p, m->hdr.size}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	char ctrl[CMSG_SPACE(sizeof(int))];
	size_t len = sizeof(m->hdr) + m->hdr.size;
	ssize_t n;

	if (m->fd >= 0) {
		mh.msg_control = ctrl;
		mh.msg_controllen = sizeof(ctrl);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &m->fd, sizeof(int));
	}
	n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	if (n != (ssize_t)len) {
		udk_log(UDK_LOG_ERR, COMPONENT, "replying to %s: %s; closing the connection",
			vu_request_name(m->hdr.request), n < 0 ? strerror(errno) : "short write");
		return -EPROTO;
	}
	return 0;
}
