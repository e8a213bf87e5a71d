/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_vhost_user: libFuzzer target for the replies of a vhost-user
 * back-end as the front-end reads them (drivers/net/virtio/vhost_user.c)
 * and takes them (the handshake of virtio_user.c, included here for its
 * static functions): the back-end is another program, possibly another
 * user's.  The input's
 * first byte gives the number of requests (1-8), the next bytes which ones
 * (and whether REPLY_ACK was negotiated), the rest is everything the
 * back-end sends, written ahead into the other end of a socketpair that is
 * then shut for writing: a reply cut short must end in an error at once,
 * never a wait.  Beyond not crashing (ASan, UBSan), every request returns 0
 * or one of the errors vhost_user.h promises, once the connection is
 * declared lost every later request fails without touching the socket, and
 * a handshake never agrees to REPLY_ACK without protocol features nor
 * passes the vhost-user-only feature bit on to the driver. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../drivers/net/virtio/virtio_user.c"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* virtio_user_open()'s handshake on the connection c. */
static int handshake_on(struct vhu_conn *c)
{
	static struct virtio_user u;
	int rc;

	memset(&u, 0, sizeof(u));
	u.conn = *c;
	rc = handshake(&u);
	*c = u.conn;
	if (rc == 0 && ((u.conn.reply_ack && !u.protocol) ||
			(vu_get_features(&u.vd) & VIRTIO_BIT(VHOST_USER_F_PROTOCOL_FEATURES))))
		abort();
	return rc;
}

/* One request, chosen by op; its result. */
static int request(struct vhu_conn *c, uint8_t op, int efd)
{
	static const enum vhu_request get[] = {VHU_GET_FEATURES, VHU_GET_PROTOCOL_FEATURES};
	struct vhu_region r[VHU_MAX_REGIONS + 1];
	int fds[VHU_MAX_REGIONS + 1];
	uint64_t v;
	uint32_t num;

	switch (op % 10) {
	case 0:
		return vhu_get_u64(c, get[(op >> 4) & 1], &v);
	case 1:
		return vhu_set_u64(c, VHU_SET_FEATURES, op);
	case 2:
		return vhu_set_owner(c);
	case 3:
		return vhu_set_vring_state(c, VHU_SET_VRING_NUM, op >> 4, 256);
	case 4:
		return vhu_get_vring_base(c, op >> 4, &num);
	case 5:
		return vhu_set_vring_addr(c, op >> 4, 0x1000, 0x2000, 0x3000);
	case 6:
		return vhu_set_vring_fd(c, VHU_SET_VRING_KICK, op >> 4, (op & 0x40) ? -1 : efd);
	case 7:
		memset(r, 0, sizeof(r));
		for (int i = 0; i <= VHU_MAX_REGIONS; i++)
			fds[i] = efd;
		return vhu_set_mem_table(c, r, fds, (op >> 4) % (VHU_MAX_REGIONS + 2));
	case 8:
		return vhu_alive(c) ? 0 : -ECONNRESET;
	default:
		return handshake_on(c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vhu_conn c = {.timeout_ms = 1000, .name = "fuzz", .path = "/fuzz.sock"};
	size_t nops, off;
	int sv[2], efd, rc;
	bool lost = false;

	fuzz_log_quiet(); /* cheap; no LLVMFuzzerInitialize to repeat */
	if (size < 1)
		return 0;
	nops = (data[0] & 7) + 1;
	if (size < 1 + nops)
		return 0;
	c.reply_ack = data[0] & 8;
	off = 1 + nops;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0 || write(sv[1], data + off, size - off) != (ssize_t)(size - off) ||
	    shutdown(sv[1], SHUT_WR) < 0)
		abort();
	c.fd = sv[0];
	for (size_t i = 0; i < nops; i++) {
		rc = request(&c, data[1 + i], efd);
		switch (rc) {
		case -E2BIG: /* too many regions: refused before any I/O */
			break;
		case 0:
		case -EIO:
			if (lost)
				abort(); /* a lost back-end cannot answer */
			break;
		case -ECONNRESET:
		case -EPROTO:
			if (!c.lost)
				abort();
			lost = true;
			break;
		default:
			abort(); /* -ETIMEDOUT: it waited on a closed stream */
		}
	}
	vhu_close(&c);
	close(sv[1]);
	close(efd);
	return 0;
}
