/* SPDX-License-Identifier: BSD-3-Clause */
/* vhost_user.c - vhost-user messages over a UNIX socket, front-end side
 * (QEMU docs/interop/vhost-user.rst, "Message Specification").  Every
 * request that expects an answer waits at most timeout_ms; a back-end that
 * closed the socket is reported as such, once. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "udk_util.h"
#include "vhost_user.h"

#define LOG "virtio_user"

/* vhost-user.rst, "Header": request, flags, size; then size bytes. */
#define VHU_VERSION 0x1
#define VHU_FLAG_REPLY (1u << 2)
#define VHU_FLAG_NEED_REPLY (1u << 3)
#define VHU_NO_FD 0x100u /* "Invalid FD flag" of a vring fd message */
#define VHU_MAX_FDS VHU_MAX_REGIONS

struct vhu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
};

struct vhu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vhu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;   /* front-end VAs ("Vring address description") */
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};

struct vhu_mem {
	uint32_t nregions;
	uint32_t padding;
	struct vhu_region regions[VHU_MAX_REGIONS];
};

const char *vhu_request_name(enum vhu_request req)
{
	switch (req) {
	case VHU_GET_FEATURES: return "VHOST_USER_GET_FEATURES";
	case VHU_SET_FEATURES: return "VHOST_USER_SET_FEATURES";
	case VHU_SET_OWNER: return "VHOST_USER_SET_OWNER";
	case VHU_SET_MEM_TABLE: return "VHOST_USER_SET_MEM_TABLE";
	case VHU_SET_VRING_NUM: return "VHOST_USER_SET_VRING_NUM";
	case VHU_SET_VRING_ADDR: return "VHOST_USER_SET_VRING_ADDR";
	case VHU_SET_VRING_BASE: return "VHOST_USER_SET_VRING_BASE";
	case VHU_GET_VRING_BASE: return "VHOST_USER_GET_VRING_BASE";
	case VHU_SET_VRING_KICK: return "VHOST_USER_SET_VRING_KICK";
	case VHU_SET_VRING_CALL: return "VHOST_USER_SET_VRING_CALL";
	case VHU_GET_PROTOCOL_FEATURES: return "VHOST_USER_GET_PROTOCOL_FEATURES";
	case VHU_SET_PROTOCOL_FEATURES: return "VHOST_USER_SET_PROTOCOL_FEATURES";
	case VHU_SET_VRING_ENABLE: return "VHOST_USER_SET_VRING_ENABLE";
	}
	return "(unknown vhost-user request)";
}

/* The socket address of path, or -ENAMETOOLONG (logged). */
static int sock_addr(const char *name, const char *path, struct sockaddr_un *sa)
{
	*sa = (struct sockaddr_un){.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa->sun_path)) {
		udk_log(UDK_LOG_ERR, LOG, "%s: path=%s is longer than a UNIX socket path can be "
			"(%zu bytes)", name, path, sizeof(sa->sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

static void conn_init(struct vhu_conn *c, const char *name, const char *path, int timeout_ms)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->timeout_ms = timeout_ms;
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->path, sizeof(c->path), "%s", path);
}

/* One connect() to c->path: 0 or -errno, not logged. */
static int try_connect(struct vhu_conn *c)
{
	struct sockaddr_un sa;
	int fd, err;

	if (sock_addr(c->name, c->path, &sa) < 0)
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	c->fd = fd;
	c->lost = false;
	c->reply_ack = false;
	return 0;
}

int vhu_connect(struct vhu_conn *c, const char *name, const char *path, int timeout_ms)
{
	struct sockaddr_un sa;
	int rc;

	conn_init(c, name, path, timeout_ms);
	if (sock_addr(name, path, &sa) < 0)
		return -ENAMETOOLONG;
	rc = try_connect(c);
	if (rc == -ENOENT)
		udk_log(UDK_LOG_ERR, LOG, "%s: connect to vhost-user socket %s: no such socket; "
			"start the back-end first (e.g. dpdk-testpmd --vdev net_vhost0,iface=%s) "
			"or fix path=", name, path, path);
	else if (rc == -ECONNREFUSED)
		udk_log(UDK_LOG_ERR, LOG, "%s: connect to vhost-user socket %s: refused; no "
			"back-end listens there (a stale socket file?), or it already has a "
			"front-end", name, path);
	else if (rc < 0)
		udk_log(UDK_LOG_ERR, LOG, "%s: connect to vhost-user socket %s: %s", name, path,
			strerror(-rc));
	return rc;
}

int vhu_reconnect(struct vhu_conn *c)
{
	vhu_close(c);
	return try_connect(c);
}

int vhu_listen(const char *name, const char *path, int *lfd)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, err;

	if (sock_addr(name, path, &sa) < 0)
		return -ENAMETOOLONG;
	/* A socket file left by an earlier run is replaced; anything else at
	 * that path is not ours to remove. */
	if (stat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			udk_log(UDK_LOG_ERR, LOG, "%s: server=1: %s exists and is not a socket; "
				"remove it or choose another path=", name, path);
			return -EEXIST;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
		err = errno;
		udk_log(UDK_LOG_ERR, LOG, "%s: server=1: listen on %s: %s", name, path,
			strerror(err));
		if (fd >= 0)
			close(fd);
		return -err;
	}
	*lfd = fd;
	return 0;
}

int vhu_accept(struct vhu_conn *c, int lfd, int wait_ms)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	int fd;

	vhu_close(c);
	if (poll(&p, 1, wait_ms) <= 0)
		return -EAGAIN;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EINTR || errno == EWOULDBLOCK ? -EAGAIN : -errno;
	c->fd = fd;
	c->lost = false;
	c->reply_ack = false;
	return 0;
}

int vhu_accept_first(struct vhu_conn *c, const char *name, const char *path, int lfd,
		     int timeout_ms)
{
	int rc;

	conn_init(c, name, path, timeout_ms);
	rc = vhu_accept(c, lfd, timeout_ms);
	if (rc == -EAGAIN) {
		udk_log(UDK_LOG_ERR, LOG, "%s: server=1: no vhost-user back-end connected to %s "
			"within %d ms; start one as a client (e.g. dpdk-testpmd --vdev "
			"net_vhost0,iface=%s,client=1)", name, path, timeout_ms, path);
		return -ETIMEDOUT;
	}
	if (rc < 0)
		udk_log(UDK_LOG_ERR, LOG, "%s: server=1: accept on %s: %s", name, path,
			strerror(-rc));
	return rc;
}

void vhu_close(struct vhu_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

bool vhu_alive(struct vhu_conn *c)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN | POLLRDHUP};
	char b;

	if (c->fd < 0 || c->lost)
		return false;
	if (poll(&p, 1, 0) <= 0)
		return true;
	/* Readable: either an (unexpected) message or the end of the stream. */
	if ((p.revents & (POLLHUP | POLLRDHUP | POLLERR)) ||
	    recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
		c->lost = true;
	return !c->lost;
}

static int lost(struct vhu_conn *c, enum vhu_request req, const char *what)
{
	if (!c->lost)
		udk_log(UDK_LOG_ERR, LOG, "%s: %s: the vhost-user back-end at %s %s; the port's "
			"link is down until a back-end is there again",
			c->name, vhu_request_name(req), c->path, what);
	c->lost = true;
	return -ECONNRESET;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read exactly len bytes before the deadline. */
static int read_full(struct vhu_conn *c, enum vhu_request req, void *buf, size_t len,
		     int64_t deadline)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			udk_log(UDK_LOG_ERR, LOG, "%s: %s: no reply from the vhost-user back-end at "
				"%s within %d ms; it is stuck or not a vhost-user back-end",
				c->name, vhu_request_name(req), c->path, c->timeout_ms);
			c->lost = true;
			return -ETIMEDOUT;
		}
		n = recv(c->fd, (char *)buf + got, len - got, MSG_DONTWAIT);
		if (n == 0)
			return lost(c, req, "closed the connection");
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return lost(c, req, strerror(errno));
		}
		got += (size_t)n;
	}
	return 0;
}

static int send_msg(struct vhu_conn *c, enum vhu_request req, uint32_t flags, const void *payload,
		    uint32_t len, const int *fds, unsigned int nfds)
{
	struct vhu_hdr h = {(uint32_t)req, VHU_VERSION | flags, len};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)payload, len}};
	char ctl[CMSG_SPACE(sizeof(int) * VHU_MAX_FDS)];
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
	ssize_t n;

	if (c->fd < 0 || c->lost)
		return lost(c, req, "is gone");
	if (nfds > 0) {
		struct cmsghdr *cm;

		memset(ctl, 0, sizeof(ctl));
		m.msg_control = ctl;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return lost(c, req, errno == EPIPE || errno == ECONNRESET ? "closed the connection"
									   : strerror(errno));
	if ((size_t)n != sizeof(h) + len)
		return lost(c, req, "took only part of a message");
	return 0;
}

/* Wait for the reply to req: a header with the reply flag and len bytes. */
static int recv_reply(struct vhu_conn *c, enum vhu_request req, void *payload, uint32_t len)
{
	int64_t deadline = now_ms() + c->timeout_ms;
	struct vhu_hdr h;
	int rc;

	rc = read_full(c, req, &h, sizeof(h), deadline);
	if (rc < 0)
		return rc;
	if (h.request != (uint32_t)req || !(h.flags & VHU_FLAG_REPLY) || h.size != len) {
		udk_log(UDK_LOG_ERR, LOG, "%s: %s: the back-end at %s answered request %u with "
			"flags 0x%x and %u bytes (expected the reply to %u with %u bytes)",
			c->name, vhu_request_name(req), c->path, h.request, h.flags, h.size,
			(unsigned int)req, len);
		c->lost = true;
		return -EPROTO;
	}
	return read_full(c, req, payload, len, deadline);
}

/* Send a request that changes the back-end's state; with REPLY_ACK wait for
 * its verdict (vhost-user.rst, "REPLY_ACK": 0 is success). */
static int set_request(struct vhu_conn *c, enum vhu_request req, const void *payload,
		       uint32_t len, const int *fds, unsigned int nfds)
{
	uint64_t ack;
	int rc;

	rc = send_msg(c, req, c->reply_ack ? VHU_FLAG_NEED_REPLY : 0, payload, len, fds, nfds);
	if (rc < 0 || !c->reply_ack)
		return rc;
	rc = recv_reply(c, req, &ack, sizeof(ack));
	if (rc < 0)
		return rc;
	if (ack != 0) {
		udk_log(UDK_LOG_ERR, LOG, "%s: %s: the vhost-user back-end at %s refused it "
			"(status %llu; its log says why)", c->name, vhu_request_name(req), c->path,
			(unsigned long long)ack);
		return -EIO;
	}
	return 0;
}

int vhu_get_u64(struct vhu_conn *c, enum vhu_request req, uint64_t *out)
{
	int rc = send_msg(c, req, 0, NULL, 0, NULL, 0);

	return rc < 0 ? rc : recv_reply(c, req, out, sizeof(*out));
}

int vhu_set_u64(struct vhu_conn *c, enum vhu_request req, uint64_t v)
{
	return set_request(c, req, &v, sizeof(v), NULL, 0);
}

int vhu_set_owner(struct vhu_conn *c)
{
	return set_request(c, VHU_SET_OWNER, NULL, 0, NULL, 0);
}

int vhu_set_vring_state(struct vhu_conn *c, enum vhu_request req, uint32_t idx, uint32_t num)
{
	struct vhu_vring_state s = {idx, num};

	return set_request(c, req, &s, sizeof(s), NULL, 0);
}

int vhu_get_vring_base(struct vhu_conn *c, uint32_t idx, uint32_t *num)
{
	struct vhu_vring_state s = {idx, 0};
	int rc = send_msg(c, VHU_GET_VRING_BASE, 0, &s, sizeof(s), NULL, 0);

	if (rc == 0)
		rc = recv_reply(c, VHU_GET_VRING_BASE, &s, sizeof(s));
	if (rc == 0)
		*num = s.num;
	return rc;
}

int vhu_set_vring_addr(struct vhu_conn *c, uint32_t idx, uint64_t desc, uint64_t used,
		       uint64_t avail)
{
	struct vhu_vring_addr a = {.index = idx, .desc = desc, .used = used, .avail = avail};

	return set_request(c, VHU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
}

int vhu_set_vring_fd(struct vhu_conn *c, enum vhu_request req, uint32_t idx, int fd)
{
	uint64_t v = idx | (fd < 0 ? VHU_NO_FD : 0);

	return set_request(c, req, &v, sizeof(v), &fd, fd < 0 ? 0 : 1);
}

int vhu_set_mem_table(struct vhu_conn *c, const struct vhu_region *r, const int *fds,
		      unsigned int n)
{
	struct vhu_mem m = {.nregions = n};

	if (n > VHU_MAX_REGIONS)
		return -E2BIG; /* the caller checks and explains */
	memcpy(m.regions, r, n * sizeof(*r));
	/* The payload carries only the regions in use (vhost-user.rst). */
	return set_request(c, VHU_SET_MEM_TABLE, &m, (uint32_t)(8 + n * sizeof(*r)), fds, n);
}
