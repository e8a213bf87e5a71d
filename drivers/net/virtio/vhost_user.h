/* SPDX-License-Identifier: BSD-3-Clause */
/* vhost_user.h - the front-end half of the vhost-user protocol (QEMU
 * docs/interop/vhost-user.rst): one UNIX stream socket to a back-end (the
 * "device"), messages with a 12-byte header, file descriptors passed as
 * SCM_RIGHTS, and a reply timeout on every request so that a back-end that
 * hangs or vanishes is an error, never a hang.  Control path only; the
 * caller serialises the calls on one connection. */
#ifndef UDK_VHOST_USER_H
#define UDK_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* vhost-user.rst, "Front-end message types" (the ones udk sends). */
enum vhu_request {
	VHU_GET_FEATURES = 1,
	VHU_SET_FEATURES = 2,
	VHU_SET_OWNER = 3,
	VHU_SET_MEM_TABLE = 5,
	VHU_SET_VRING_NUM = 8,
	VHU_SET_VRING_ADDR = 9,
	VHU_SET_VRING_BASE = 10,
	VHU_GET_VRING_BASE = 11,
	VHU_SET_VRING_KICK = 12,
	VHU_SET_VRING_CALL = 13,
	VHU_GET_PROTOCOL_FEATURES = 15,
	VHU_SET_PROTOCOL_FEATURES = 16,
	VHU_SET_VRING_ENABLE = 18,
};

/* vhost-user.rst: the feature bit that says the back-end has protocol
 * features, and the protocol features udk uses. */
#define VHOST_USER_F_PROTOCOL_FEATURES 30
#define VHOST_USER_PROTOCOL_F_REPLY_ACK 3

/* "Memory regions description": the table has at most 8 regions unless
 * VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS (which DPDK 22.11 lacks). */
#define VHU_MAX_REGIONS 8
struct vhu_region {
	uint64_t guest_phys_addr; /* what descriptors carry: udk's IOVA */
	uint64_t memory_size;
	uint64_t userspace_addr;  /* the front-end's VA: ring addresses use it */
	uint64_t mmap_offset;     /* into the region's fd */
};
_Static_assert(sizeof(struct vhu_region) == 32, "vhost-user.rst: a region is 32 bytes");

struct vhu_conn {
	int fd;                   /* -1 when closed */
	char name[64];            /* the port, for messages */
	char path[108];           /* sun_path */
	int timeout_ms;           /* per reply */
	bool reply_ack;           /* VHOST_USER_PROTOCOL_F_REPLY_ACK negotiated */
	bool lost;                /* the back-end closed the socket or stopped answering */
};

/* Connect to the back-end listening at path.  0, or -ENOENT (no socket
 * there), -ECONNREFUSED (nobody listens), -EACCES, -ENAMETOOLONG, each with a
 * message saying what to start or check. */
int vhu_connect(struct vhu_conn *c, const char *name, const char *path, int timeout_ms);
void vhu_close(struct vhu_conn *c);
/* Connect c again to the path it had (after vhu_close or a loss): 0 or
 * -errno, not logged (the caller retries while the back-end restarts). */
int vhu_reconnect(struct vhu_conn *c);

/* server=1: udk listens at path (a socket file left there is replaced) and
 * the back-end connects as a client.  *lfd is non-blocking.  0 or -errno
 * (logged). */
int vhu_listen(const char *name, const char *path, int *lfd);
/* The first back-end to connect within timeout_ms becomes c: 0, or
 * -ETIMEDOUT with a message saying what to start. */
int vhu_accept_first(struct vhu_conn *c, const char *name, const char *path, int lfd,
		     int timeout_ms);
/* The next back-end, waiting at most wait_ms: 0, -EAGAIN (none), -errno;
 * not logged.  c's previous connection is closed. */
int vhu_accept(struct vhu_conn *c, int lfd, int wait_ms);

/* False once the back-end has closed its end (checked without blocking). */
bool vhu_alive(struct vhu_conn *c);

/* The name of a request, for messages ("VHOST_USER_SET_MEM_TABLE"). */
const char *vhu_request_name(enum vhu_request req);

/* Requests.  Each returns 0 or a negative errno after logging which request
 * failed and why: -ETIMEDOUT (no reply within timeout_ms), -ECONNRESET (the
 * back-end closed the connection), -EPROTO (a malformed reply), -EIO (the
 * back-end answered a REPLY_ACK request with an error). */
int vhu_get_u64(struct vhu_conn *c, enum vhu_request req, uint64_t *out);
int vhu_set_u64(struct vhu_conn *c, enum vhu_request req, uint64_t v);
int vhu_set_owner(struct vhu_conn *c);
int vhu_set_vring_state(struct vhu_conn *c, enum vhu_request req, uint32_t idx, uint32_t num);
int vhu_get_vring_base(struct vhu_conn *c, uint32_t idx, uint32_t *num);
int vhu_set_vring_addr(struct vhu_conn *c, uint32_t idx, uint64_t desc, uint64_t used,
		       uint64_t avail);
/* SET_VRING_KICK / SET_VRING_CALL with an eventfd. */
int vhu_set_vring_fd(struct vhu_conn *c, enum vhu_request req, uint32_t idx, int fd);
int vhu_set_mem_table(struct vhu_conn *c, const struct vhu_region *r, const int *fds,
		      unsigned int n);

#endif
