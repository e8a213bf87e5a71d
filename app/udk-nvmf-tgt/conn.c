/* SPDX-License-Identifier: BSD-3-Clause */
/* conn.c - NVMe/TCP connections: non-blocking sockets polled by their poll
 * group, the connection's state machine (ICReq, then capsules), in-capsule
 * data, R2T and H2CData for larger writes, C2HData for reads, and the
 * CapsuleResp that ends each command (NVMe/TCP 1.0 §3.3, §3.4). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "crc32c.h"
#include "nvmf.h"
#include "udk_telemetry.h"

#define RX_CAP (256 + NVMF_MAXH2CDATA + NVMF_DGST_LEN)
/* A host that sends commands but does not read the answers: stop reading its
 * commands while this much waits to be sent. */
#define TX_BACKLOG_MAX (4u << 20)

int nvmf_listen(struct nvmf_tgt *t, struct nvmf_listener *l)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *ai;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
	int one = 1, rc, fd;

	rc = getaddrinfo(l->addr, l->port, &hints, &ai);
	if (rc != 0) {
		nvmf_log("listen %s:%s: %s (give a numeric address and port)", l->addr, l->port,
			 gai_strerror(rc));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto err;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0)
		goto err_close;
	freeaddrinfo(ai);
	ev.data.ptr = l;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		rc = -errno;
		close(fd);
		nvmf_log("listen %s:%s: epoll: %s", l->addr, l->port, strerror(-rc));
		return rc;
	}
	l->fd = fd;
	nvmf_log("listening on %s:%s (NVMe/TCP)", l->addr, l->port);
	return 0;

err_close:
	rc = -errno;
	close(fd);
	freeaddrinfo(ai);
	nvmf_log("listen %s:%s: %s (is another target on that port? is the address on an interface "
		 "that is up?)", l->addr, l->port, strerror(-rc));
	return rc;
err:
	rc = -errno;
	freeaddrinfo(ai);
	nvmf_log("listen %s:%s: socket: %s", l->addr, l->port, strerror(-rc));
	return rc;
}

static void peer_name(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "?";

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
		getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv, sizeof(serv),
			    NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(buf, len, "%s:%s", host, serv);
}

/* Room for one more connection?  Past NVMF_MAX_CONNS open ones, the oldest
 * that has no queue yet (a half-open socket of a flood, most likely) is
 * closed for it, so that sockets which never send ICReq cannot keep real
 * hosts out.  A closed connection is freed only at the next nvmf_conns_reap()
 * (the poll loop may hold epoll events for it until then), so closed ones
 * count too, up to twice the limit: memory stays bounded however fast
 * connections come.  NULL, or why there is none. */
_Static_assert(NVMF_MAX_CONNS == 256, "make_room's messages say 256 and 512");

static const char *make_room(struct nvmf_tgt *t)
{
	struct nvmf_conn *old = NULL;
	unsigned int open = 0, all = atomic_load(&t->nconns);

	if (all < NVMF_MAX_CONNS)
		return NULL;
	if (all >= 2 * NVMF_MAX_CONNS)
		return "512 connections are open or closed and not yet freed (the next poll frees them)";
	/* nconns counts the closed ones not yet freed; each group counts its
	 * open ones (those still in its mailbox too). */
	for (unsigned int g = 0; g < t->ngroups; g++)
		open += atomic_load(&t->groups[g].nconns);
	if (open < NVMF_MAX_CONNS)
		return NULL;
	/* The listener's own group (this thread's) is the one whose list it may
	 * walk: the oldest there without a queue goes. */
	for (struct nvmf_conn *c = t->pgs[0].conns; c != NULL; c = c->next)
		if (c->state != CONN_CLOSING && !c->connected && !c->linking)
			old = c; /* the list is newest first */
	if (old == NULL)
		return "256 connections are open, the most this target takes, and those the listener's "
		       "group polls each have a queue";
	nvmf_conn_close(old, "evicted after %llu ms without %s: %u connections are open, the most this "
			"target takes, and a new one came",
			(unsigned long long)((nvmf_now_ns() - old->accepted_ns) / 1000000u),
			old->state == CONN_IC ? "ICReq" : "Connect", open);
	return NULL;
}

/* On c's group: poll it (a message from nvmf_accept()). */
static void adopt(struct nvmf_group *g, struct nvmf_msg *m)
{
	struct nvmf_conn *c = (struct nvmf_conn *)((char *)m - offsetof(struct nvmf_conn, adopt));
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

	c->next = c->pg->conns;
	c->pg->conns = c;
	if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		nvmf_conn_close(c, "poll group %u: epoll_ctl: %s", g->id, strerror(errno));
}

void nvmf_accept(struct nvmf_tgt *t, struct nvmf_listener *l)
{
	for (;;) {
		struct nvmf_conn *c;
		const char *full;
		int one = 1, rc;
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				nvmf_log("accept on %s:%s: %s", l->addr, l->port, strerror(errno));
			return;
		}
		full = make_room(t);
		if (full != NULL) {
			char peer[64];

			peer_name(fd, peer, sizeof(peer));
			nvmf_log("connection %s refused: %s", peer, full);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (c != NULL) {
			c->cmds = calloc(NVMF_QUEUE_DEPTH, sizeof(*c->cmds));
			c->rx = malloc(RX_CAP);
		}
		if (c == NULL || c->cmds == NULL || c->rx == NULL) {
			nvmf_log("accept: out of memory for a connection; refused");
			if (c != NULL) {
				free(c->cmds);
				free(c->rx);
			}
			free(c);
			close(fd);
			continue;
		}
		c->tgt = t;
		c->listener = l;
		c->fd = fd;
		c->rx_cap = RX_CAP;
		c->accepted_ns = nvmf_now_ns();
		c->rules.max_icd = NVMF_MAX_ICD;
		c->rules.maxh2cdata = NVMF_MAXH2CDATA;
		peer_name(fd, c->peer, sizeof(c->peer));
		for (unsigned int i = 0; i < NVMF_QUEUE_DEPTH; i++) {
			c->cmds[i].conn = c;
			c->cmds[i].ttag = (uint16_t)i;
		}
		/* The group polls it from its next turn (adopt()); counted here so
		 * that the limit above holds for connections still in a mailbox. */
		c->group = nvmf_group_pick(t->groups, t->ngroups, &t->group_rr);
		c->pg = c->group->ctx;
		c->adopt.fn = adopt;
		atomic_init(&c->refs, 0);
		atomic_fetch_add(&c->group->nconns, 1);
		if ((rc = nvmf_group_post(c->group, &c->adopt)) < 0) {
			nvmf_log("connection %s refused: handing it to poll group %u: %s", c->peer,
				 c->group->id, strerror(-rc));
			atomic_fetch_sub(&c->group->nconns, 1);
			free(c->cmds);
			free(c->rx);
			free(c);
			close(fd);
			continue;
		}
		atomic_fetch_add(&t->nconns, 1);
		udk_counter_add(&t->stats.conns_total, 1);
	}
}

/* ---- sending ---- */

static uint8_t *tx_reserve(struct nvmf_conn *c, size_t n)
{
	if (c->tx_off == c->tx_len)
		c->tx_off = c->tx_len = 0;
	if (c->tx_len + n > c->tx_cap) {
		size_t cap = c->tx_cap ? c->tx_cap : 65536;
		uint8_t *p;

		if (c->tx_off) {
			memmove(c->tx, c->tx + c->tx_off, c->tx_len - c->tx_off);
			c->tx_len -= c->tx_off;
			c->tx_off = 0;
		}
		while (c->tx_len + n > cap)
			cap *= 2;
		if (cap != c->tx_cap) {
			p = realloc(c->tx, cap);
			if (p == NULL)
				return NULL;
			c->tx = p;
			c->tx_cap = cap;
		}
	}
	c->tx_len += n;
	return c->tx + c->tx_len - n;
}

static bool tx_flush(struct nvmf_conn *c)
{
	bool moved = false;

	while (c->tx_off < c->tx_len && c->state != CONN_CLOSING) {
		ssize_t n = send(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			nvmf_conn_close(c, "send: %s", strerror(errno));
			break;
		}
		c->tx_off += (size_t)n;
		moved = true;
	}
	return moved;
}

/* Queue bytes; out of memory closes the connection (false). */
static bool tx_put(struct nvmf_conn *c, const void *p, size_t n)
{
	uint8_t *d = tx_reserve(c, n);

	if (d == NULL) {
		nvmf_conn_close(c, "out of memory for %zu bytes of send queue", n);
		return false;
	}
	memcpy(d, p, n);
	return true;
}

/* ---- closing ---- */

static void term(struct nvmf_conn *c, const struct nvmf_pdu_err *e, const uint8_t *hdr, size_t hlen)
{
	uint8_t buf[sizeof(struct nvmf_term_req) + NVMF_TERM_MAX_DATA];
	size_t n;

	if (e->fes != NVMF_FES_NONE && c->state != CONN_CLOSING) {
		n = nvmf_pdu_c2h_term(buf, e->fes, e->fei, hdr, hlen);
		if (tx_put(c, buf, n))
			tx_flush(c);
	}
	nvmf_conn_close(c, "%s", e->why);
}

void nvmf_conn_close(struct nvmf_conn *c, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (c->state == CONN_CLOSING)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	nvmf_log("connection %s (queue %u%s%s): closed: %s", c->peer, c->qid,
		 c->ss ? " of " : "", c->ss ? c->ss->nqn : "", why);
	c->state = CONN_CLOSING;
	epoll_ctl(c->group->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	udk_counter_add(&c->pg->stats.conns_closed, 1);
	atomic_fetch_sub(&c->group->nconns, 1);
	/* Commands not at a bdev end here; those at a bdev end in their callback. */
	for (unsigned int i = 0; i < NVMF_QUEUE_DEPTH; i++)
		if (c->cmds[i].state == CMD_WAIT_H2C || c->cmds[i].state == CMD_RETRY) {
			c->cmds[i].state = CMD_FREE;
			c->ncmds--;
		}
	c->retry = NULL;
	if (c->qid == 0 && c->ctrlr != NULL)
		nvmf_ctrlr_destroy(c->ctrlr, "its admin queue closed"); /* ours: this group owns it */
	else if (c->linked)
		nvmf_conn_unlink(c);
}

void nvmf_conns_reap(struct nvmf_pg *pg)
{
	struct nvmf_conn **pp = &pg->conns;
	uint64_t now = nvmf_now_ns();

	for (struct nvmf_conn *c = pg->conns; c != NULL; c = c->next)
		if (c->state != CONN_CLOSING && !c->connected && !c->linking &&
		    now - c->accepted_ns > NVMF_HANDSHAKE_MS * 1000000ull)
			nvmf_conn_close(c, "no %s within %u ms of accept", c->state == CONN_IC ? "ICReq" : "Connect",
					NVMF_HANDSHAKE_MS);

	while (*pp != NULL) {
		struct nvmf_conn *c = *pp;
		bool busy = false;

		if (c->state != CONN_CLOSING) {
			pp = &c->next;
			continue;
		}
		for (unsigned int i = 0; i < NVMF_QUEUE_DEPTH; i++)
			if (c->cmds[i].state == CMD_EXEC && c->cmds[i].pending)
				busy = true;
		/* Messages that name it (to or from its controller's group) hold it. */
		if (busy || atomic_load_explicit(&c->refs, memory_order_acquire) != 0) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		atomic_fetch_sub(&c->tgt->nconns, 1);
		for (unsigned int i = 0; i < NVMF_QUEUE_DEPTH; i++)
			free(c->cmds[i].buf);
		free(c->cmds);
		free(c->rx);
		free(c->tx);
		free(c);
	}
}

/* ---- commands ---- */

static void cmd_free(struct nvmf_cmd *cmd)
{
	cmd->state = CMD_FREE;
	cmd->conn->ncmds--;
}

void nvmf_cmd_complete(struct nvmf_cmd *cmd, uint16_t status)
{
	struct nvmf_conn *c = cmd->conn;
	uint8_t hdr[sizeof(struct nvmf_data_pdu) + NVMF_DGST_LEN + 128];

	if (c->state == CONN_CLOSING) {
		cmd_free(cmd);
		return;
	}
	if (status == NVMF_SC_SUCCESS && cmd->data_out) {
		uint32_t off = 0, len = cmd->data_out;

		while (off < len) {
			uint32_t n = len - off > NVMF_MAX_XFER ? NVMF_MAX_XFER : len - off;
			bool ddgst = c->rules.ddgst;
			size_t hl = nvmf_pdu_c2h_data(hdr, cmd->sqe.cid, off, n, off + n == len, c->rules.hdgst,
						      ddgst, c->hpda);

			if (!tx_put(c, hdr, hl) || !tx_put(c, cmd->buf + off, n))
				return;
			if (ddgst) {
				uint32_t d = nvmf_crc32c(0, cmd->buf + off, n);

				if (!tx_put(c, &d, sizeof(d)))
					return;
			}
			off += n;
		}
	}
	if (c->ss != NULL) {
		struct nvmf_subsys_stats *st = nvmf_ss_stats(c->pg, c->tgt, c->ss);

		udk_counter_add(&st->commands, 1);
		if (status != NVMF_SC_SUCCESS)
			udk_counter_add(&st->errors, 1);
	}
	cmd->cqe.status = (uint16_t)(status << 1);
	if (status != NVMF_SC_SUCCESS && status != NVMF_SC_NS_NOT_READY)
		cmd->cqe.status |= NVMF_STATUS_DNR;
	{
		uint8_t buf[sizeof(struct nvmf_capsule_resp) + NVMF_DGST_LEN];
		size_t n = nvmf_pdu_capsule_resp(buf, &cmd->cqe, c->rules.hdgst);

		if (!tx_put(c, buf, n))
			return;
	}
	cmd_free(cmd);
}

static void send_r2t(struct nvmf_cmd *cmd)
{
	struct nvmf_conn *c = cmd->conn;
	uint8_t buf[sizeof(struct nvmf_r2t) + NVMF_DGST_LEN];
	uint32_t left = cmd->xfer.len - cmd->r2to;

	cmd->r2tl = left > NVMF_MAXH2CDATA ? NVMF_MAXH2CDATA : left;
	cmd->h2c_got = 0;
	cmd->state = CMD_WAIT_H2C;
	tx_put(c, buf, nvmf_pdu_r2t(buf, cmd->sqe.cid, cmd->ttag, cmd->r2to, cmd->r2tl, c->rules.hdgst));
}

static void cmd_exec(struct nvmf_cmd *cmd)
{
	struct nvmf_conn *c = cmd->conn;

	cmd->state = CMD_EXEC;
	if (cmd->sqe.opc == 0x7f)
		nvmf_fabrics_exec(cmd);
	else if (!c->connected)
		nvmf_cmd_complete(cmd, NVMF_SC_COMMAND_SEQUENCE); /* Connect first (fabrics §3.3) */
	else if (c->qid == 0)
		nvmf_admin_exec(cmd);
	else
		nvmf_io_exec(cmd);
}

void nvmf_conn_retry(struct nvmf_conn *c)
{
	struct nvmf_cmd *list = c->retry;

	c->retry = NULL;
	while (list != NULL) {
		struct nvmf_cmd *cmd = list;

		list = cmd->next_retry;
		if (cmd->state == CMD_RETRY)
			cmd_exec(cmd);
	}
}

static void on_capsule(struct nvmf_conn *c, const struct nvmf_pdu *p)
{
	const struct nvmf_capsule_cmd *cc = (const void *)p->hdr;
	struct nvmf_cmd *cmd = NULL;
	uint16_t st;
	unsigned int dir;

	for (unsigned int i = 0; i < NVMF_QUEUE_DEPTH; i++)
		if (c->cmds[i].state == CMD_FREE) {
			cmd = &c->cmds[i];
			break;
		}
	if (cmd == NULL || (c->connected && c->ncmds >= c->sqsize)) {
		nvmf_conn_close(c, "command %u while all %u queue entries are busy (the host ignores SQSIZE)",
				cc->sqe.cid, c->connected ? c->sqsize : NVMF_QUEUE_DEPTH);
		return;
	}
	c->ncmds++;
	memcpy(&cmd->sqe, &cc->sqe, sizeof(cmd->sqe));
	memset(&cmd->cqe, 0, sizeof(cmd->cqe));
	if (c->connected)
		c->sqhd = (uint16_t)((c->sqhd + 1) % c->sqsize);
	cmd->cqe.cid = cmd->sqe.cid;
	cmd->cqe.sqid = c->qid;
	cmd->cqe.sqhd = c->sqhd;
	cmd->data_out = 0;
	cmd->pending = 0;
	cmd->status = 0;
	cmd->state = CMD_EXEC;
	st = nvmf_capsule_xfer(&cmd->sqe, p->data_len, &cmd->xfer);
	if (st == NVMF_SC_SUCCESS && cmd->xfer.len > NVMF_MAX_XFER)
		st = NVMF_SC_SGL_DATA_LEN;
	dir = nvmf_cmd_dir(&cmd->sqe);
	if (st == NVMF_SC_SUCCESS && cmd->xfer.in_capsule && cmd->xfer.len && dir != 1)
		st = NVMF_SC_SGL_TYPE; /* data in the capsule for a command that reads */
	if (st != NVMF_SC_SUCCESS) {
		nvmf_cmd_complete(cmd, st);
		return;
	}
	if (cmd->xfer.len && cmd->buf == NULL) {
		cmd->buf = malloc(NVMF_MAX_XFER);
		if (cmd->buf == NULL) {
			nvmf_cmd_complete(cmd, NVMF_SC_INTERNAL);
			return;
		}
	}
	if (cmd->xfer.len && dir == 1) {
		if (cmd->xfer.in_capsule) {
			memcpy(cmd->buf, p->data + cmd->xfer.offset, cmd->xfer.len);
		} else {
			cmd->r2to = 0;
			send_r2t(cmd);
			return;
		}
	}
	cmd_exec(cmd);
}

static void on_h2c_data(struct nvmf_conn *c, const struct nvmf_pdu *p)
{
	const struct nvmf_data_pdu *h = (const void *)p->hdr;
	struct nvmf_cmd *cmd = h->ttag < NVMF_QUEUE_DEPTH ? &c->cmds[h->ttag] : NULL;
	struct nvmf_pdu_err e;

	if (cmd == NULL || cmd->state != CMD_WAIT_H2C || cmd->sqe.cid != h->cccid) {
		e = (struct nvmf_pdu_err){.fes = NVMF_FES_HDR_FIELD, .fei = 10};
		snprintf(e.why, sizeof(e.why), "H2CData for TTAG %u, command %u, that no R2T asked for",
			 h->ttag, h->cccid);
		term(c, &e, p->hdr, sizeof(*h));
		return;
	}
	if (nvmf_h2c_check(h, cmd->r2to, cmd->r2tl, cmd->h2c_got, &e) < 0) {
		term(c, &e, p->hdr, sizeof(*h));
		return;
	}
	memcpy(cmd->buf + h->datao, p->data, h->datal);
	cmd->h2c_got += h->datal;
	if (cmd->h2c_got < cmd->r2tl)
		return;
	cmd->r2to += cmd->r2tl;
	if (cmd->r2to < cmd->xfer.len)
		send_r2t(cmd);
	else
		cmd_exec(cmd);
}

static void on_icreq(struct nvmf_conn *c, const struct nvmf_pdu *p)
{
	const struct nvmf_icreq *ic = (const void *)p->hdr;
	uint8_t buf[sizeof(struct nvmf_icresp)];

	c->rules.ic_done = true;
	c->rules.hdgst = ic->dgst & NVMF_ICREQ_DGST_HDR;
	c->rules.ddgst = ic->dgst & NVMF_ICREQ_DGST_DATA;
	c->hpda = ic->hpda;
	c->state = CONN_READY;
	tx_put(c, buf, nvmf_pdu_icresp(buf, ic->dgst, NVMF_MAXH2CDATA));
}

static void on_pdu(struct nvmf_conn *c, const struct nvmf_pdu *p)
{
	switch (p->type) {
	case NVMF_PDU_ICREQ:
		on_icreq(c, p);
		break;
	case NVMF_PDU_CAPSULE_CMD:
		on_capsule(c, p);
		break;
	case NVMF_PDU_H2C_DATA:
		on_h2c_data(c, p);
		break;
	case NVMF_PDU_H2C_TERM: {
		const struct nvmf_term_req *t = (const void *)p->hdr;

		nvmf_conn_close(c, "the host ended it (H2CTermReq FES %u, FEI %u)", t->fes, t->fei);
		break;
	}
	}
}

bool nvmf_conn_poll(struct nvmf_conn *c)
{
	bool moved = false, drained = false;

	if (c->state == CONN_CLOSING)
		return false;
	while (c->state != CONN_CLOSING && c->tx_len - c->tx_off < TX_BACKLOG_MAX) {
		size_t off = 0;
		ssize_t n = recv(c->fd, c->rx + c->rx_len, c->rx_cap - c->rx_len, MSG_DONTWAIT);

		if (n == 0) {
			nvmf_conn_close(c, "the host closed the connection");
			break;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				nvmf_conn_close(c, "recv: %s", strerror(errno));
			break;
		}
		moved = true;
		/* A short read emptied the socket: no recv only to hear EAGAIN
		 * (epoll, level-triggered, reports what comes next). */
		drained = (size_t)n < c->rx_cap - c->rx_len;
		c->rx_len += (size_t)n;
		while (c->state != CONN_CLOSING) {
			struct nvmf_pdu p;
			struct nvmf_pdu_err e;
			ssize_t r = nvmf_pdu_parse(c->rx + off, c->rx_len - off, &c->rules, &p, NULL, &e);

			if (r == 0)
				break;
			if (r < 0) {
				size_t have = c->rx_len - off;

				term(c, &e, c->rx + off, have < 128 ? have : 128);
				break;
			}
			on_pdu(c, &p);
			off += (size_t)r;
		}
		if (c->state == CONN_CLOSING)
			break;
		memmove(c->rx, c->rx + off, c->rx_len - off);
		c->rx_len -= off;
		if (drained)
			break;
	}
	return nvmf_conn_flush(c) || moved;
}

bool nvmf_conn_flush(struct nvmf_conn *c)
{
	return c->state != CONN_CLOSING && c->tx_off < c->tx_len && tx_flush(c);
}

bool nvmf_conn_tx_pending(const struct nvmf_conn *c)
{
	return c->state != CONN_CLOSING && c->tx_off < c->tx_len;
}
