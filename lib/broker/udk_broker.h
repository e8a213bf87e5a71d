/* SPDX-License-Identifier: BSD-3-Clause */
/* udk_broker.h - the wire protocol between udk-broker (app/udk-broker), the
 * root daemon that owns VFIO maps and hugepage memory, and its unprivileged
 * clients (lib/eal's --broker).  doc/broker.md has the security model.
 *
 * Transport: a SOCK_SEQPACKET UNIX socket, so every message arrives whole or
 * not at all; file descriptors travel with a message as SCM_RIGHTS.  Every
 * message is a fixed header and a payload whose size the type fixes (or, for
 * GRANT, its counts fix); udk_broker_parse() accepts exactly that and nothing
 * else, and checks every field a peer could lie about.  Both sides use it:
 * the broker on requests (it trusts nothing a client sends), the client on
 * replies.
 *
 *   client                         broker
 *   HELLO {devices, mem}    ->
 *                           <-     GRANT {devices, segments} + fds (devices, then segments)
 *                                  or ERROR {code, text}
 *   MEM {len}               ->     (heap growth)
 *                           <-     SEGMENT {segment} + 1 fd, or ERROR
 *   close                   ->     the broker resets the devices (and keeps
 *                                  the memory for the same user's next start)
 *
 * All calls are thread-safe (no state); parse is pure.
 */
#ifndef UDK_BROKER_H
#define UDK_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UDK_BROKER_MAGIC 0x424b4455u /* "UDKB" little-endian */
#define UDK_BROKER_VERSION 1
#define UDK_BROKER_MAX_DEVS 16     /* devices per client */
#define UDK_BROKER_MAX_SEGS 64     /* segments per client */
#define UDK_BROKER_BDF_LEN 16      /* "0000:00:04.0" and its NUL, zero padded */
#define UDK_BROKER_TEXT_LEN 240    /* ERROR text, NUL terminated */
#define UDK_BROKER_MAX_MEM (1ull << 40) /* 1 TiB: larger sizes are rejected as nonsense */
/* The largest message, header included (a GRANT with every slot used). */
#define UDK_BROKER_MSG_MAX 4096
#define UDK_BROKER_MAX_FDS (UDK_BROKER_MAX_DEVS + UDK_BROKER_MAX_SEGS)

enum udk_broker_type {
	UDK_BROKER_HELLO = 1,   /* client: the devices and memory it wants */
	UDK_BROKER_GRANT = 2,   /* broker: what it got (fds attached) */
	UDK_BROKER_MEM = 3,     /* client: one more segment of at least len bytes */
	UDK_BROKER_SEGMENT = 4, /* broker: that segment (one fd attached) */
	UDK_BROKER_ERROR = 5,   /* broker: refused, with the reason */
};

struct udk_broker_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t len;  /* payload bytes after the header */
	uint32_t nfds; /* descriptors sent with the message */
};

struct udk_broker_hello {
	uint32_t nb_devs;
	uint32_t flags; /* none defined: must be 0 */
	uint64_t mem;   /* bytes wanted at start (0: none until the heap grows) */
	char devs[UDK_BROKER_MAX_DEVS][UDK_BROKER_BDF_LEN];
};

/* One segment: len bytes of fd from offset 0, mapped by the broker at iova. */
struct udk_broker_seg {
	uint64_t len;
	uint64_t iova;
	uint64_t page_size;
	int32_t node;
	uint32_t pad; /* 0 */
};

/* GRANT's payload: this, then nb_devs BDFs, then nb_segs segments.  The fds
 * come in the same order: one per device, then one per segment. */
struct udk_broker_grant {
	uint32_t nb_devs;
	uint32_t nb_segs;
	uint64_t mem_limit; /* the policy's limit for this client, bytes */
	uint32_t uid;       /* as the broker saw the client (SO_PEERCRED) */
	uint32_t flags;     /* UDK_BROKER_GRANT_KEPT */
};
#define UDK_BROKER_GRANT_KEPT 0x1u /* the segments were kept from the user's last session */

struct udk_broker_memreq {
	uint64_t len;
};

struct udk_broker_error {
	int32_t code; /* negative udk/errno code */
	uint32_t pad; /* 0 */
	char text[UDK_BROKER_TEXT_LEN];
};

/* A parsed message: the header's type and the payload, checked. */
struct udk_broker_msg {
	enum udk_broker_type type;
	unsigned int nfds;
	union {
		struct udk_broker_hello hello;
		struct {
			struct udk_broker_grant g;
			char devs[UDK_BROKER_MAX_DEVS][UDK_BROKER_BDF_LEN];
			struct udk_broker_seg segs[UDK_BROKER_MAX_SEGS];
		} grant;
		struct udk_broker_memreq mem;
		struct udk_broker_seg seg;
		struct udk_broker_error error;
	} u;
};

/* Who may send a message type: the broker parses client messages only, the
 * client broker messages only. */
enum udk_broker_side {
	UDK_BROKER_FROM_CLIENT,
	UDK_BROKER_FROM_BROKER,
};

/* Check buf[0..len) as one message from side, received with nfds
 * descriptors, and fill out.  0, or -EPROTO (any malformation: bad magic,
 * version, type, a type the other side may not send, sizes, counts, fds that
 * do not match, strings not NUL-terminated or not PCI addresses, sizes that
 * are zero, unaligned or past UDK_BROKER_MAX_MEM, non-zero reserved fields)
 * with the reason in why (may be NULL).  Never reads past len. */
int udk_broker_parse(const void *buf, size_t len, unsigned int nfds, enum udk_broker_side side,
		     struct udk_broker_msg *out, char *why, size_t whylen);

/* Build the wire form of msg (as parse would accept it) into buf (at least
 * UDK_BROKER_MSG_MAX bytes).  Returns the length, or -EINVAL for a message
 * parse would reject (then why says what). */
int udk_broker_build(const struct udk_broker_msg *msg, void *buf, size_t cap, char *why,
		     size_t whylen);

/* Send len bytes and nfds descriptors as one message.  0 or -errno. */
int udk_broker_send(int sock, const void *buf, size_t len, const int *fds, unsigned int nfds);

/* Receive one message into buf (cap bytes) and up to maxfds descriptors
 * (close-on-exec).  *len = 0 means the peer closed.  A message or descriptor
 * list that did not fit is an error (-EMSGSIZE), and whatever descriptors
 * came with it are closed.  0 or -errno. */
int udk_broker_recv(int sock, void *buf, size_t cap, size_t *len, int *fds, unsigned int maxfds,
		    unsigned int *nfds);

/* The most descriptors one message can carry (the kernel's SCM_MAX_FD). */
#define UDK_BROKER_RECV_ALL_FDS 253

/* udk_broker_recv for a side that must never close a peer's descriptor
 * itself (udk-broker: the last close of one can block for as long as its
 * sender likes).  Every descriptor that came is in fds (room for
 * UDK_BROKER_RECV_ALL_FDS) and counted in *nfds, also when it returns
 * -EMSGSIZE (truncated) or -EPROTO: the caller disposes of them. */
int udk_broker_recv_all(int sock, void *buf, size_t cap, size_t *len, int *fds,
			unsigned int *nfds);

/* Build msg and send it with fds.  0, -EINVAL, or -errno. */
int udk_broker_send_msg(int sock, const struct udk_broker_msg *msg, const int *fds);

/* True if s is a PCI address in the form udk-broker speaks: "DDDD:BB:DD.F",
 * lower-case hex, device <= 1f, function <= 7. */
bool udk_broker_bdf_valid(const char *s);

#ifdef __cplusplus
}
#endif
#endif
