/* SPDX-License-Identifier: BSD-3-Clause */
/* proto.c - udk-broker's wire protocol: the strict parser both sides run on
 * what they receive, the builder that produces only what the parser accepts,
 * and the SCM_RIGHTS send/receive.  The parser is what a hostile client
 * reaches first; it is fuzzed (tests/fuzz) and its bad cases are unit tests. */
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "udk_broker.h"

_Static_assert(sizeof(struct udk_broker_hdr) == 16, "header layout");
_Static_assert(sizeof(struct udk_broker_hello) == 16 + UDK_BROKER_MAX_DEVS * UDK_BROKER_BDF_LEN,
	       "hello layout");
_Static_assert(sizeof(struct udk_broker_seg) == 32, "segment layout");
_Static_assert(sizeof(struct udk_broker_grant) == 24, "grant layout");
_Static_assert(sizeof(struct udk_broker_error) == 8 + UDK_BROKER_TEXT_LEN, "error layout");
_Static_assert(sizeof(struct udk_broker_hdr) + sizeof(struct udk_broker_grant) +
		       UDK_BROKER_MAX_DEVS * UDK_BROKER_BDF_LEN +
		       UDK_BROKER_MAX_SEGS * sizeof(struct udk_broker_seg) <= UDK_BROKER_MSG_MAX,
	       "the largest GRANT fits UDK_BROKER_MSG_MAX");

#define PAGE_4K 4096ull

static int reject(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int reject(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -EPROTO;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static unsigned int hexval(char c)
{
	return c <= '9' ? (unsigned int)(c - '0') : (unsigned int)(c - 'a' + 10);
}

bool udk_broker_bdf_valid(const char *s)
{
	/* DDDD:BB:DD.F */
	static const char shape[] = "hhhh:hh:hh.h";

	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		if (shape[i] == 'h' ? !is_hex(s[i]) : s[i] != shape[i])
			return false;
	}
	if (s[sizeof(shape) - 1] != '\0')
		return false;
	return hexval(s[8]) * 16 + hexval(s[9]) <= 0x1f && hexval(s[11]) <= 7;
}

/* A fixed BDF slot: a valid address, then only NULs to the end of the slot
 * (so no hidden bytes ride along). */
static int check_bdf_slot(const char slot[UDK_BROKER_BDF_LEN], const char *what, unsigned int i,
			  char *why, size_t whylen)
{
	size_t n = strnlen(slot, UDK_BROKER_BDF_LEN);

	if (n == UDK_BROKER_BDF_LEN)
		return reject(why, whylen, "%s %u: not NUL-terminated", what, i);
	if (!udk_broker_bdf_valid(slot))
		return reject(why, whylen, "%s %u: '%.*s' is not a PCI address DDDD:BB:DD.F", what,
			      i, (int)n, slot);
	for (size_t k = n; k < UDK_BROKER_BDF_LEN; k++)
		if (slot[k] != '\0')
			return reject(why, whylen, "%s %u: bytes after the address", what, i);
	return 0;
}

static int check_size(uint64_t v, bool zero_ok, const char *what, char *why, size_t whylen)
{
	if (v == 0 && zero_ok)
		return 0;
	if (v == 0 || v > UDK_BROKER_MAX_MEM || v % PAGE_4K != 0)
		return reject(why, whylen, "%s 0x%llx is not a size of 4 KiB pages up to 1 TiB",
			      what, (unsigned long long)v);
	return 0;
}

static int check_seg(const struct udk_broker_seg *s, unsigned int i, char *why, size_t whylen)
{
	int rc = check_size(s->len, false, "segment length", why, whylen);

	if (rc < 0)
		return rc;
	if (s->page_size < PAGE_4K || s->page_size > (1ull << 30) ||
	    (s->page_size & (s->page_size - 1)) != 0 || s->len % s->page_size != 0)
		return reject(why, whylen, "segment %u: page size 0x%llx is not a power of two "
			      "from 4 KiB to 1 GiB dividing its length", i,
			      (unsigned long long)s->page_size);
	if (s->iova % PAGE_4K != 0 || s->iova + s->len < s->iova)
		return reject(why, whylen, "segment %u: IOVA 0x%llx is unaligned or wraps", i,
			      (unsigned long long)s->iova);
	if (s->node < 0 || s->node >= 64 || s->pad != 0)
		return reject(why, whylen, "segment %u: node %d or reserved field bad", i,
			      (int)s->node);
	return 0;
}

static int parse_hello(const uint8_t *p, size_t n, struct udk_broker_msg *out, char *why,
		       size_t whylen)
{
	struct udk_broker_hello *h = &out->u.hello;
	int rc;

	if (n != sizeof(*h))
		return reject(why, whylen, "HELLO payload is %zu bytes, not %zu", n, sizeof(*h));
	memcpy(h, p, sizeof(*h));
	if (h->nb_devs > UDK_BROKER_MAX_DEVS)
		return reject(why, whylen, "HELLO asks for %u devices (at most %d)", h->nb_devs,
			      UDK_BROKER_MAX_DEVS);
	if (h->flags != 0)
		return reject(why, whylen, "HELLO flags 0x%x: none are defined", h->flags);
	rc = check_size(h->mem, true, "HELLO memory", why, whylen);
	if (rc < 0)
		return rc;
	for (unsigned int i = 0; i < UDK_BROKER_MAX_DEVS; i++) {
		if (i < h->nb_devs) {
			rc = check_bdf_slot(h->devs[i], "HELLO device", i, why, whylen);
			if (rc < 0)
				return rc;
			for (unsigned int k = 0; k < i; k++)
				if (strcmp(h->devs[k], h->devs[i]) == 0)
					return reject(why, whylen, "HELLO names %s twice", h->devs[i]);
		} else {
			for (size_t k = 0; k < UDK_BROKER_BDF_LEN; k++)
				if (h->devs[i][k] != '\0')
					return reject(why, whylen, "HELLO: unused device slot %u "
						      "is not zero", i);
		}
	}
	return 0;
}

static int parse_grant(const uint8_t *p, size_t n, unsigned int nfds, struct udk_broker_msg *out,
		       char *why, size_t whylen)
{
	struct udk_broker_grant *g = &out->u.grant.g;
	size_t want;
	int rc;

	if (n < sizeof(*g))
		return reject(why, whylen, "GRANT payload is %zu bytes, shorter than its head", n);
	memcpy(g, p, sizeof(*g));
	if (g->nb_devs > UDK_BROKER_MAX_DEVS || g->nb_segs > UDK_BROKER_MAX_SEGS)
		return reject(why, whylen, "GRANT counts %u devices, %u segments (at most %d, %d)",
			      g->nb_devs, g->nb_segs, UDK_BROKER_MAX_DEVS, UDK_BROKER_MAX_SEGS);
	want = sizeof(*g) + (size_t)g->nb_devs * UDK_BROKER_BDF_LEN +
	       (size_t)g->nb_segs * sizeof(struct udk_broker_seg);
	if (n != want)
		return reject(why, whylen, "GRANT payload is %zu bytes, its counts say %zu", n, want);
	if (nfds != g->nb_devs + g->nb_segs)
		return reject(why, whylen, "GRANT came with %u descriptors, its counts say %u", nfds,
			      g->nb_devs + g->nb_segs);
	if ((g->flags & ~UDK_BROKER_GRANT_KEPT) != 0)
		return reject(why, whylen, "GRANT flags 0x%x unknown", g->flags);
	rc = check_size(g->mem_limit, true, "GRANT memory limit", why, whylen);
	if (rc < 0)
		return rc;
	p += sizeof(*g);
	memcpy(out->u.grant.devs, p, (size_t)g->nb_devs * UDK_BROKER_BDF_LEN);
	p += (size_t)g->nb_devs * UDK_BROKER_BDF_LEN;
	memcpy(out->u.grant.segs, p, (size_t)g->nb_segs * sizeof(struct udk_broker_seg));
	for (unsigned int i = 0; i < g->nb_devs; i++) {
		rc = check_bdf_slot(out->u.grant.devs[i], "GRANT device", i, why, whylen);
		if (rc < 0)
			return rc;
	}
	for (unsigned int i = 0; i < g->nb_segs; i++) {
		rc = check_seg(&out->u.grant.segs[i], i, why, whylen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int parse_error(const uint8_t *p, size_t n, struct udk_broker_msg *out, char *why,
		       size_t whylen)
{
	struct udk_broker_error *e = &out->u.error;

	if (n != sizeof(*e))
		return reject(why, whylen, "ERROR payload is %zu bytes, not %zu", n, sizeof(*e));
	memcpy(e, p, sizeof(*e));
	if (e->code >= 0 || e->code < -100000 || e->pad != 0)
		return reject(why, whylen, "ERROR code %d is not a negative error code", e->code);
	if (strnlen(e->text, sizeof(e->text)) == sizeof(e->text))
		return reject(why, whylen, "ERROR text is not NUL-terminated");
	for (size_t i = 0; e->text[i] != '\0'; i++)
		if ((unsigned char)e->text[i] < 0x20 || e->text[i] == 0x7f)
			return reject(why, whylen, "ERROR text has a control character");
	return 0;
}

/* What each type's payload must be, and who may send it. */
static const struct {
	enum udk_broker_side from;
	const char *name;
} types[] = {
	[UDK_BROKER_HELLO] = {UDK_BROKER_FROM_CLIENT, "HELLO"},
	[UDK_BROKER_GRANT] = {UDK_BROKER_FROM_BROKER, "GRANT"},
	[UDK_BROKER_MEM] = {UDK_BROKER_FROM_CLIENT, "MEM"},
	[UDK_BROKER_SEGMENT] = {UDK_BROKER_FROM_BROKER, "SEGMENT"},
	[UDK_BROKER_ERROR] = {UDK_BROKER_FROM_BROKER, "ERROR"},
};

int udk_broker_parse(const void *buf, size_t len, unsigned int nfds, enum udk_broker_side side,
		     struct udk_broker_msg *out, char *why, size_t whylen)
{
	const uint8_t *p = buf;
	struct udk_broker_hdr h;
	size_t n;
	int rc;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	memset(out, 0, sizeof(*out));
	if (buf == NULL || len < sizeof(h))
		return reject(why, whylen, "message of %zu bytes is shorter than a header", len);
	memcpy(&h, p, sizeof(h));
	if (h.magic != UDK_BROKER_MAGIC)
		return reject(why, whylen, "bad magic 0x%08x (not a udk-broker peer?)", h.magic);
	if (h.version != UDK_BROKER_VERSION)
		return reject(why, whylen, "protocol version %u, this side speaks %d", h.version,
			      UDK_BROKER_VERSION);
	if (h.type == 0 || h.type >= sizeof(types) / sizeof(types[0]) || types[h.type].name == NULL)
		return reject(why, whylen, "unknown message type %u", h.type);
	if (types[h.type].from != side)
		return reject(why, whylen, "%s may not come from the %s", types[h.type].name,
			      side == UDK_BROKER_FROM_CLIENT ? "client" : "broker");
	n = len - sizeof(h);
	if (h.len != n)
		return reject(why, whylen, "header says %u payload bytes, %zu came", h.len, n);
	if (h.nfds != nfds)
		return reject(why, whylen, "header says %u descriptors, %u came", h.nfds, nfds);
	p += sizeof(h);
	out->type = (enum udk_broker_type)h.type;
	out->nfds = nfds;
	switch (out->type) {
	case UDK_BROKER_HELLO:
		rc = nfds != 0 ? reject(why, whylen, "HELLO carries no descriptors")
			       : parse_hello(p, n, out, why, whylen);
		break;
	case UDK_BROKER_GRANT:
		rc = parse_grant(p, n, nfds, out, why, whylen);
		break;
	case UDK_BROKER_MEM:
		if (n != sizeof(out->u.mem) || nfds != 0)
			return reject(why, whylen, "MEM is %zu bytes with %u descriptors, not %zu "
				      "with none", n, nfds, sizeof(out->u.mem));
		memcpy(&out->u.mem, p, sizeof(out->u.mem));
		rc = check_size(out->u.mem.len, false, "MEM length", why, whylen);
		break;
	case UDK_BROKER_SEGMENT:
		if (n != sizeof(out->u.seg) || nfds != 1)
			return reject(why, whylen, "SEGMENT is %zu bytes with %u descriptors, not "
				      "%zu with one", n, nfds, sizeof(out->u.seg));
		memcpy(&out->u.seg, p, sizeof(out->u.seg));
		rc = check_seg(&out->u.seg, 0, why, whylen);
		break;
	case UDK_BROKER_ERROR:
		rc = nfds != 0 ? reject(why, whylen, "ERROR carries no descriptors")
			       : parse_error(p, n, out, why, whylen);
		break;
	default:
		rc = reject(why, whylen, "unknown message type %u", h.type);
		break;
	}
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

int udk_broker_build(const struct udk_broker_msg *msg, void *buf, size_t cap, char *why,
		     size_t whylen)
{
	struct udk_broker_hdr h = {.magic = UDK_BROKER_MAGIC, .version = UDK_BROKER_VERSION,
				   .type = (uint16_t)msg->type, .nfds = msg->nfds};
	uint8_t *p = buf;
	size_t n = 0;
	struct udk_broker_msg check;

	if (cap < UDK_BROKER_MSG_MAX)
		return -EINVAL;
	p += sizeof(h);
	switch (msg->type) {
	case UDK_BROKER_HELLO:
		n = sizeof(msg->u.hello);
		memcpy(p, &msg->u.hello, n);
		break;
	case UDK_BROKER_GRANT: {
		const struct udk_broker_grant *g = &msg->u.grant.g;

		if (g->nb_devs > UDK_BROKER_MAX_DEVS || g->nb_segs > UDK_BROKER_MAX_SEGS) {
			reject(why, whylen, "GRANT counts out of range");
			return -EINVAL;
		}
		memcpy(p, g, sizeof(*g));
		n = sizeof(*g);
		memcpy(p + n, msg->u.grant.devs, (size_t)g->nb_devs * UDK_BROKER_BDF_LEN);
		n += (size_t)g->nb_devs * UDK_BROKER_BDF_LEN;
		memcpy(p + n, msg->u.grant.segs, (size_t)g->nb_segs * sizeof(struct udk_broker_seg));
		n += (size_t)g->nb_segs * sizeof(struct udk_broker_seg);
		break;
	}
	case UDK_BROKER_MEM:
		n = sizeof(msg->u.mem);
		memcpy(p, &msg->u.mem, n);
		break;
	case UDK_BROKER_SEGMENT:
		n = sizeof(msg->u.seg);
		memcpy(p, &msg->u.seg, n);
		break;
	case UDK_BROKER_ERROR:
		n = sizeof(msg->u.error);
		memcpy(p, &msg->u.error, n);
		break;
	default:
		reject(why, whylen, "unknown message type %d", (int)msg->type);
		return -EINVAL;
	}
	h.len = (uint32_t)n;
	memcpy(buf, &h, sizeof(h));
	n += sizeof(h);
	/* Never send what the other side's parser would refuse. */
	if (udk_broker_parse(buf, n, msg->nfds,
			     msg->type == UDK_BROKER_HELLO || msg->type == UDK_BROKER_MEM
				     ? UDK_BROKER_FROM_CLIENT : UDK_BROKER_FROM_BROKER,
			     &check, why, whylen) < 0)
		return -EINVAL;
	return (int)n;
}

int udk_broker_send(int sock, const void *buf, size_t len, const int *fds, unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * UDK_BROKER_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;
	ssize_t n;

	if (nfds > UDK_BROKER_MAX_FDS)
		return -EINVAL;
	if (nfds > 0) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* One recvmsg with room for every descriptor a message can carry, so the
 * kernel drops none.  All that arrived land in fds (at most maxfds kept:
 * the rest closed, unless keep) and *nfds; the return says whether the
 * message came whole. */
static int recv_msg(int sock, void *buf, size_t cap, size_t *len, int *fds, unsigned int maxfds,
		    unsigned int *nfds, bool keep)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * UDK_BROKER_RECV_ALL_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *c;
	unsigned int got = 0;
	int rc = 0;
	ssize_t n;

	*len = 0;
	*nfds = 0;
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* Take every descriptor that came, so none leaks whatever happens. */
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			rc = -EPROTO;
			continue;
		}
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (got < maxfds)
				fds[got++] = fd;
			else {
				close(fd);
				rc = -EMSGSIZE;
			}
		}
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		rc = -EMSGSIZE;
	*nfds = got;
	if (rc < 0) {
		if (!keep)
			while (*nfds > 0)
				close(fds[--*nfds]);
		return rc;
	}
	*len = (size_t)n;
	return 0;
}

int udk_broker_recv(int sock, void *buf, size_t cap, size_t *len, int *fds, unsigned int maxfds,
		    unsigned int *nfds)
{
	return recv_msg(sock, buf, cap, len, fds, maxfds, nfds, false);
}

int udk_broker_recv_all(int sock, void *buf, size_t cap, size_t *len, int *fds,
			unsigned int *nfds)
{
	return recv_msg(sock, buf, cap, len, fds, UDK_BROKER_RECV_ALL_FDS, nfds, true);
}

int udk_broker_send_msg(int sock, const struct udk_broker_msg *msg, const int *fds)
{
	char buf[UDK_BROKER_MSG_MAX];
	int n = udk_broker_build(msg, buf, sizeof(buf), NULL, 0);

	if (n < 0)
		return n;
	return udk_broker_send(sock, buf, (size_t)n, fds, msg->nfds);
}
