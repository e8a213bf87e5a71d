/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_vhost_blk: libFuzzer target for udk-vhost-blk's side of the
 * vhost-user protocol (app/udk-vhost-blk: vhost_user.c, mem.c) and what it
 * does with the guest's rings and requests (vring.c, blk.c).  The input is a
 * script of steps, each starting with a byte:
 *   'M' req flags size(2, LE) nfds, then size payload bytes: one message
 *       sent over a socketpair with nfds (0-10) fds (the guest's memfd, or
 *       an eventfd), read by vu_recv() and handled by vu_handle();
 *   'W' off(2) len, then len bytes: written into guest memory at off * 4;
 *   'P' the driver kicks (the one eventfd every kick fd is) and the device
 *       polls its rings three times.
 * Guest memory is one 256 KiB memfd, so any table the fuzzer makes maps at
 * most that.  Beyond no crash, leak or UB: a refused message is -EPROTO
 * with a log line, never anything else; the device ends every request it
 * takes (no request left in flight after a poll of the malloc bdev).  The
 * seeds (tests/fuzz/seeds/fuzz_vhost_blk) set the device up as QEMU does and
 * make a write, and an indirect read, available; setup-inflight-memslots does
 * it with an inflight region (GET/SET_INFLIGHT_FD, in the guest's memfd at
 * 192 KiB) and ADD_MEM_REG instead of SET_MEM_TABLE; setup-inflight-packed
 * the same on a packed ring, which it stops and starts again (the region
 * read back) with a second request waiting. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "udk_bdev.h"
#include "vhost_blk.h"

#define GUEST (256u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vb_dev *dev;
static struct udk_bdev *bdev;
static int memfd, efd;
static uint8_t *guest;

static void init(void)
{
	udk_log_set_sink(fuzz_log_sink, NULL);
	memfd = memfd_create("guest", 0);
	if (memfd < 0 || ftruncate(memfd, GUEST) < 0)
		abort();
	guest = mmap(NULL, GUEST, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	efd = eventfd(0, EFD_NONBLOCK);
	if (guest == MAP_FAILED || efd < 0)
		abort();
	if (udk_bdev_malloc_create("fz", 1024, 512, &bdev) < 0)
		abort();
	dev = calloc(1, sizeof(*dev));
	if (!dev || vb_dev_init(dev, bdev) < 0)
		abort();
}

static void send_msg(int s, const uint8_t *m, size_t len, int nfds, uint8_t kinds)
{
	char ctrl[CMSG_SPACE(sizeof(int) * 10)];
	struct iovec iov = {(void *)m, len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	int fds[10];

	if (nfds) {
		for (int i = 0; i < nfds; i++)
			fds[i] = (kinds >> (i % 8)) & 1 ? efd : memfd;
		mh.msg_control = ctrl;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	if (sendmsg(s, &mh, MSG_DONTWAIT) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	int sv[2];
	size_t i = 0;

	if (!ready) {
		init();
		ready = true;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	memset(guest, 0, GUEST);
	while (i < size) {
		uint8_t op = data[i++];
		if (op == 'M' && size - i >= 5) {
			uint8_t hdr[12];
			uint32_t req = data[i], flags = data[i + 1];
			uint32_t len = data[i + 2] | (uint32_t)data[i + 3] << 8;
			int nfds = (data[i + 4] & 15) % 11;
			uint8_t kinds = data[i + 4] >> 4;
			i += 5;
			if (len > size - i)
				len = (uint32_t)(size - i);
			uint8_t *m = malloc(12 + len);
			memcpy(hdr, &req, 4);
			memcpy(hdr + 4, &flags, 4);
			memcpy(hdr + 8, &len, 4);
			memcpy(m, hdr, 12);
			memcpy(m + 12, data + i, len);
			i += len;
			send_msg(sv[1], m, 12 + len, nfds, kinds);
			free(m);

			struct vu_msg msg, reply;
			int fds[VU_MAX_REGIONS], n;
			bool send;
			fuzz_nb_logged = 0;
			int rc = vu_recv(sv[0], &msg, fds, &n);
			if (rc == 0)
				rc = vu_handle(dev, &msg, fds, n, &reply, &send);
			if (rc != 0 && rc != -EPROTO && rc != -ECONNRESET)
				abort();
			if (rc == -EPROTO && fuzz_nb_logged == 0)
				abort(); /* a refusal always says why */
			if (rc == 0 && send && reply.hdr.size > sizeof(reply.p))
				abort();
			if (rc == 0 && reply.fd >= 0)
				close(reply.fd); /* GET_INFLIGHT_FD's region */
			if (rc < 0) /* the connection would close: start again */
				vu_reset(dev);
			/* Anything left unread belongs to a message cut short. */
			uint8_t junk[512];
			while (recv(sv[0], junk, sizeof(junk), MSG_DONTWAIT) > 0)
				;
		} else if (op == 'W' && size - i >= 3) {
			uint32_t off = (data[i] | (uint32_t)data[i + 1] << 8) * 4u;
			uint32_t len = data[i + 2];
			i += 3;
			if (len > size - i)
				len = (uint32_t)(size - i);
			if (off < GUEST && len <= GUEST - off)
				memcpy(guest + off, data + i, len);
			i += len;
		} else if (op == 'P') {
			uint64_t one = 1;
			if (write(efd, &one, sizeof(one)) < 0) {
				/* the counter is full: a kick is waiting anyway */
			}
			for (int k = 0; k < 3; k++)
				vb_dev_poll(dev);
			if (vb_dev_inflight(dev) != 0 && dev->retry == NULL) {
				/* malloc completes at the next poll: nothing may stay */
				vb_dev_poll(dev);
				if (vb_dev_inflight(dev) != 0)
					abort();
			}
		}
	}
	vu_reset(dev);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
