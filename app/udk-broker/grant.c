/* SPDX-License-Identifier: BSD-3-Clause */
/* grant.c - the broker's answers: HELLO checked against the policy and turned
 * into a GRANT (device fds, segment fds, the segment-to-IOVA table), MEM into
 * one more segment within the policy's limit.  Every grant and every refusal
 * is logged with the peer's credentials as the kernel reported them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "udk_util.h"

static int vrefuse(struct conn *c, int code, bool quiet, const char *fmt, va_list ap)
{
	struct udk_broker_msg m = {.type = UDK_BROKER_ERROR};

	vsnprintf(m.u.error.text, sizeof(m.u.error.text), fmt, ap);
	for (char *p = m.u.error.text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	m.u.error.code = code < 0 ? code : -EPERM;
	if (!quiet)
		blog("REFUSED uid %u gid %u pid %d: %s", (unsigned int)c->uid,
		     (unsigned int)c->gid, (int)c->pid, m.u.error.text);
	udk_broker_send_msg(c->sock, &m, NULL);
	return m.u.error.code;
}

int grant_refuse(struct conn *c, int code, bool quiet, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vrefuse(c, code, quiet, fmt, ap);
	va_end(ap);
	return rc;
}

/* Tell the client why (ERROR) and log the refusal. */
static int refuse(struct conn *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(struct conn *c, int code, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vrefuse(c, code, false, fmt, ap);
	va_end(ap);
	return rc;
}

static const char *rule_name(const struct rule *r, char *buf, size_t len)
{
	snprintf(buf, len, "'%s %u' on line %u", r->is_group ? "group" : "user", r->id, r->line);
	return buf;
}

/* Every device asked for is in the rule, and none is in use by another
 * user's connected client; parked sessions of other users that hold one are
 * evicted (their devices and memory scrubbed) before the caller takes it. */
static int check_devices(struct broker *b, struct conn *c, const struct rule *r,
			 const struct udk_broker_hello *h)
{
	char rn[64];

	for (unsigned int i = 0; i < h->nb_devs; i++) {
		struct session *o;

		if (!rule_has_dev(r, h->devs[i]))
			return refuse(c, -EACCES, "device %s is not granted to uid %u by policy %s "
				      "(rule %s)", h->devs[i], (unsigned int)c->uid, b->policy.path,
				      rule_name(r, rn, sizeof(rn)));
		o = session_blocking(b, c->uid, h->devs[i], true);
		if (o != NULL)
			return refuse(c, -EBUSY, "device %s (or a device of its IOMMU group) is in "
				      "use by another client (uid %u, pid %d); try again when it "
				      "exits", h->devs[i], (unsigned int)o->uid, (int)o->pid);
	}
	for (unsigned int i = 0; i < h->nb_devs; i++) {
		struct session *o;

		while ((o = session_blocking(b, c->uid, h->devs[i], false)) != NULL) {
			char why[64];

			snprintf(why, sizeof(why), "uid %u wants %s", (unsigned int)c->uid,
				 h->devs[i]);
			session_evict(b, o, why);
		}
	}
	return 0;
}

/* Allocate a segment; when hugepages run out, parked sessions of other
 * users give theirs back first. */
static int add_seg(struct broker *b, struct session *s, uint64_t len, char *why, size_t wlen)
{
	int rc = session_add_seg(b, s, len, why, wlen);

	if (rc != -ENOMEM)
		return rc;
	for (struct session *o = b->sessions, *next; o != NULL; o = next) {
		next = o->next;
		if (o != s && o->sock < 0)
			session_evict(b, o, "hugepages needed by another user");
	}
	return session_add_seg(b, s, len, why, wlen);
}

static int send_grant(struct conn *c, struct session *s, const struct udk_broker_hello *h,
		      bool kept)
{
	static struct udk_broker_msg m;
	int fds[UDK_BROKER_MAX_FDS];
	unsigned int n = 0;

	memset(&m, 0, sizeof(m));
	m.type = UDK_BROKER_GRANT;
	m.u.grant.g = (struct udk_broker_grant){.nb_devs = h->nb_devs, .nb_segs = s->nb_segs,
						.mem_limit = s->rule->mem,
						.uid = (uint32_t)c->uid,
						.flags = kept ? UDK_BROKER_GRANT_KEPT : 0};
	for (unsigned int i = 0; i < h->nb_devs; i++) {
		for (unsigned int k = 0; k < s->nb_devs; k++) {
			if (strcmp(s->devs[k].bdf, h->devs[i]) == 0) {
				memcpy(m.u.grant.devs[i], h->devs[i], UDK_BROKER_BDF_LEN);
				fds[n++] = s->devs[k].fd;
			}
		}
	}
	for (unsigned int i = 0; i < s->nb_segs; i++) {
		m.u.grant.segs[i] = (struct udk_broker_seg){.len = s->segs[i].len,
							    .iova = s->segs[i].iova,
							    .page_size = s->segs[i].page_size};
		fds[n++] = s->segs[i].fd;
	}
	m.nfds = n;
	return udk_broker_send_msg(c->sock, &m, fds);
}

static int hello(struct broker *b, struct conn *c, const struct udk_broker_hello *h)
{
	const struct rule *r = policy_match(&b->policy, c->uid, c->gid);
	uint64_t t0 = now_us();
	struct session *s;
	char why[400], rn[64], list[UDK_BROKER_MAX_DEVS * UDK_BROKER_BDF_LEN + 8] = "";
	char backend[UDK_BROKER_MAX_DEVS * 80 + 96];
	bool kept, fresh = false;
	int rc;

	if (r == NULL)
		return refuse(c, -EACCES, "uid %u (gid %u) has no grant in policy %s; the "
			      "administrator adds a line 'user %u devices BDF,... mem SIZE'",
			      (unsigned int)c->uid, (unsigned int)c->gid, b->policy.path,
			      (unsigned int)c->uid);
	if (session_banned(b, c->uid))
		return refuse(c, -EPERM, "uid %u was evicted for punching a hole in its memory "
			      "(a policy violation) and is refused until the broker restarts",
			      (unsigned int)c->uid);
	if (h->mem > r->mem)
		return refuse(c, -UDK_EMEMLIMIT, "%llu MiB asked for, policy %s (rule %s) allows "
			      "uid %u %llu MiB", (unsigned long long)(h->mem >> 20),
			      b->policy.path, rule_name(r, rn, sizeof(rn)), (unsigned int)c->uid,
			      (unsigned long long)(r->mem >> 20));
	s = session_find_uid(b, c->uid);
	if (s != NULL && s->sock >= 0)
		return refuse(c, -EBUSY, "uid %u already has a client connected (pid %d); one "
			      "client per user", (unsigned int)c->uid, (int)s->pid);
	rc = check_devices(b, c, r, h);
	if (rc < 0)
		return rc;
	kept = s != NULL && s->nb_segs > 0;
	if (s == NULL) {
		rc = session_create(b, c->uid, c->gid, &s);
		if (rc < 0)
			return refuse(c, rc, "the broker cannot create a map: %s", udk_strerror(rc));
		fresh = true;
	}
	s->rule = r;
	for (unsigned int i = 0; i < h->nb_devs; i++) {
		if (session_holding(b, h->devs[i]) == s)
			continue;
		rc = session_add_dev(s, h->devs[i], why, sizeof(why));
		if (rc < 0)
			goto err;
	}
	if (h->mem > s->mem) {
		if (UDK_ALIGN_UP(h->mem - s->mem, b->huge_page) + s->mem > r->mem) {
			rc = -UDK_EMEMLIMIT;
			snprintf(why, sizeof(why), "%llu MiB in hugepages of %llu kB exceeds the "
				 "limit of %llu MiB", (unsigned long long)(h->mem >> 20),
				 (unsigned long long)(b->huge_page >> 10),
				 (unsigned long long)(r->mem >> 20));
			goto err;
		}
		rc = add_seg(b, s, h->mem - s->mem, why, sizeof(why));
		if (rc < 0)
			goto err;
	}
	rc = send_grant(c, s, h, kept);
	if (rc < 0) {
		snprintf(why, sizeof(why), "sending the grant: %s", udk_strerror(rc));
		goto err;
	}
	s->sock = c->sock;
	s->pid = c->pid;
	s->gid = c->gid;
	c->s = s;
	for (unsigned int i = 0; i < h->nb_devs; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? "," : "",
			 h->devs[i]);
	session_backend(s, backend, sizeof(backend));
	blog("GRANTED uid %u gid %u pid %d (rule %s): devices %s, %llu MiB in %u segments "
	     "(%s) in %.1f ms", (unsigned int)c->uid, (unsigned int)c->gid, (int)c->pid,
	     rule_name(r, rn, sizeof(rn)), list[0] ? list : "none",
	     (unsigned long long)(s->mem >> 20), s->nb_segs,
	     kept ? "kept from the last session: not zeroed or pinned again" : "zeroed and pinned now",
	     (double)(now_us() - t0) / 1000.0);
	blog("uid %u: %s", (unsigned int)c->uid, backend);
	return 0;

err:
	rc = refuse(c, rc, "%s", why);
	if (fresh)
		session_evict(b, s, "its first grant failed");
	else
		session_park(s);
	return rc;
}

static int more_mem(struct broker *b, struct conn *c, uint64_t len)
{
	struct session *s = c->s;
	uint64_t want = UDK_ALIGN_UP(len, b->huge_page);
	struct udk_broker_msg m = {.type = UDK_BROKER_SEGMENT, .nfds = 1};
	char why[400], rn[64];
	struct bseg *g;
	int rc;

	/* A refused MEM keeps the connection: the client lives on with the
	 * memory it has (its allocation fails, nothing else). */
	if (s->mem + want > s->rule->mem) {
		refuse(c, -UDK_EMEMLIMIT, "memory limit of uid %u is %llu MiB (policy %s, "
			      "rule %s): %llu MiB granted, %llu MiB more asked; raise 'mem' in the "
			      "policy", (unsigned int)c->uid,
			      (unsigned long long)(s->rule->mem >> 20), b->policy.path,
			      rule_name(s->rule, rn, sizeof(rn)),
			      (unsigned long long)(s->mem >> 20), (unsigned long long)(want >> 20));
		return 0;
	}
	rc = add_seg(b, s, want, why, sizeof(why));
	if (rc < 0) {
		refuse(c, rc, "%s", why);
		return 0;
	}
	g = &s->segs[s->nb_segs - 1];
	m.u.seg = (struct udk_broker_seg){.len = g->len, .iova = g->iova,
					  .page_size = g->page_size};
	rc = udk_broker_send_msg(c->sock, &m, &g->fd);
	if (rc < 0)
		return rc;
	blog("GRANTED uid %u pid %d: one more segment of %llu MiB at IOVA 0x%llx (%llu of %llu "
	     "MiB)", (unsigned int)c->uid, (int)c->pid, (unsigned long long)(g->len >> 20),
	     (unsigned long long)g->iova, (unsigned long long)(s->mem >> 20),
	     (unsigned long long)(s->rule->mem >> 20));
	return 0;
}

int grant_message(struct broker *b, struct conn *c, const void *buf, size_t len,
		  unsigned int nfds)
{
	static struct udk_broker_msg m;
	char why[200];
	int rc;

	rc = udk_broker_parse(buf, len, nfds, UDK_BROKER_FROM_CLIENT, &m, why, sizeof(why));
	if (rc < 0)
		return refuse(c, rc, "malformed request: %s", why);
	if (m.type == UDK_BROKER_HELLO) {
		if (c->s != NULL)
			return refuse(c, -EPROTO, "a second HELLO on one connection");
		return hello(b, c, &m.u.hello);
	}
	if (c->s == NULL)
		return refuse(c, -EPROTO, "MEM before HELLO");
	return more_mem(b, c, m.u.mem.len);
}
