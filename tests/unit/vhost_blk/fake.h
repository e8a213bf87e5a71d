/* SPDX-License-Identifier: BSD-3-Clause */
/* fake.h - the fake driver side the vhost_blk unit tests share (fake.c):
 * guest memory as a memfd, a split ring laid out in it, and the messages
 * QEMU sends to set the device up. */
#ifndef VHOST_BLK_FAKE_H
#define VHOST_BLK_FAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "udk_bdev.h"
#include "vhost_blk.h"

#define MEM_SIZE (1u << 20)
#define GPA 0x100000ull     /* guest physical address of the region */
#define UVA 0x7f0000000000ull /* the front-end's address of it */
#define QSZ 16
#define DESC_OFF 0x0
#define AVAIL_OFF 0x400
#define USED_OFF 0x800
#define BUF_OFF 0x10000

extern struct vb_dev *dev;
extern struct udk_bdev *bdev;
extern uint8_t *g;          /* the driver's view of guest memory */
extern int memfd, kickfd, callfd;
extern uint16_t avail_idx, used_seen, next_desc;

struct hdr {
	uint32_t type, reserved;
	uint64_t sector;
};

int msg(uint32_t req, const void *payload, uint32_t size, int *fds, int nfds,
	struct vu_msg *reply);
int set_state(uint32_t req, uint32_t idx, uint32_t num);
int set_fd_q(uint32_t req, uint64_t q, int fd);
int set_fd(uint32_t req, int fd);
void open_guest(void);
void start_ring(uint16_t base);
void setup_without(uint64_t without);
void setup(void);
void teardown(void);
struct vring_desc *desc_table(void);
void kick(int fd);
uint16_t post(const struct vring_desc *d, int n);
int used_next(uint32_t *id, uint32_t *len);
uint64_t gpa(uint32_t off);
int request(uint32_t type, uint64_t sector, uint64_t data_addr, uint32_t len,
	    uint32_t *used_len);

/* The driver side of a packed ring at DESC_OFF (fake.c). */
extern uint16_t pk_avail, pk_used, pk_size;
extern bool pk_wrap, pk_used_wrap;
void pk_post(const struct vring_packed_desc *d, int n, uint16_t id);
/* The next used element's id (polling the device meanwhile), or -1. */
int pk_used_next(uint32_t *len, int nslots);

/* test_vhost_blk_restart.c */
void test_inflight(void);
void test_inflight_packed(void);
void test_mem_slots(void);
void test_stats(void);

#endif
