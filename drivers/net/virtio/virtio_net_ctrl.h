/* SPDX-License-Identifier: BSD-3-Clause */
/* virtio_net_ctrl.h - the virtio-net control virtqueue (virtio 1.2 §5.1.6.5)
 * and the commands net_virtio sends on it: the number of queue pairs
 * (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET) and receive-side scaling
 * (VIRTIO_NET_CTRL_MQ_RSS_CONFIG).  Control path only: one thread per port. */
#ifndef UDK_VIRTIO_NET_CTRL_H
#define UDK_VIRTIO_NET_CTRL_H

#include <stddef.h>
#include <stdint.h>

#include "virtio_dev.h"

/* §5.1.3: the feature bits of the control queue and of what it steers. */
#define VIRTIO_NET_F_CTRL_VQ 17
#define VIRTIO_NET_F_MQ 22
#define VIRTIO_NET_F_HASH_REPORT 57
#define VIRTIO_NET_F_RSS 60

/* §5.1.6.5.5 and §5.1.6.5.7: class and commands. */
#define VIRTIO_NET_CTRL_MQ 4
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0
#define VIRTIO_NET_CTRL_MQ_RSS_CONFIG 1
#define VIRTIO_NET_OK 0
#define VIRTIO_NET_ERR 1

/* §5.1.6.4.3.1: supported_hash_types / hash_types bits. */
#define VIRTIO_NET_RSS_HASH_TYPE_IPv4 (1u << 0)
#define VIRTIO_NET_RSS_HASH_TYPE_TCPv4 (1u << 1)
#define VIRTIO_NET_RSS_HASH_TYPE_UDPv4 (1u << 2)
#define VIRTIO_NET_RSS_HASH_TYPE_IPv6 (1u << 3)
#define VIRTIO_NET_RSS_HASH_TYPE_TCPv6 (1u << 4)
#define VIRTIO_NET_RSS_HASH_TYPE_UDPv6 (1u << 5)

/* §5.1.4: struct virtio_net_config fields past max_virtqueue_pairs. */
#define VNET_CFG_RSS_MAX_KEY 17
#define VNET_CFG_RSS_MAX_TABLE 18
#define VNET_CFG_HASH_TYPES 20

#define VNET_RSS_KEY_LEN 40
#define VNET_RSS_TABLE_MAX 128
/* The command buffer: class, command, the largest command's data (RSS_CONFIG
 * with a 128-entry table and a 40-byte key), the ack. */
#define VNET_CTRL_DATA_MAX (4 + 2 + 2 + 2 * VNET_RSS_TABLE_MAX + 2 + 1 + VNET_RSS_KEY_LEN)

struct udk_mem;

struct vnet_ctrl {
	struct virtq *vq;
	void *ring;              /* the queue's memory */
	uint8_t *buf;            /* header (2 bytes), data, ack */
	uint64_t buf_iova;
	struct udk_mem *heap;    /* where ring and buf come from */
};

/* Make the control queue, number idx (2 * max_virtqueue_pairs with MQ or
 * RSS, else 2, §5.1.2), of up to size entries, in heap's memory, and give it
 * to the device (before DRIVER_OK).  0 or -errno (logged, naming dev). */
int vnet_ctrl_setup(struct vnet_ctrl *c, struct virtio_dev *vd, struct udk_mem *heap,
		    uint16_t idx, const char *dev);
/* Send one command (after DRIVER_OK) and wait up to timeout_ms for the
 * device's ack.  0; -EIO when the ack is not VIRTIO_NET_OK; -ETIMEDOUT;
 * -EINVAL for data over VNET_CTRL_DATA_MAX.  Each failure is logged with the
 * command's name and the ack value. */
int vnet_ctrl_cmd(struct vnet_ctrl *c, const char *dev, uint8_t cls, uint8_t cmd,
		  const void *data, size_t len, unsigned int timeout_ms);
/* The device was reset: the queue is empty again (it is given to the device
 * again by vnet_ctrl_setup). */
void vnet_ctrl_reset(struct vnet_ctrl *c);
void vnet_ctrl_free(struct vnet_ctrl *c);

/* §5.1.6.5.7.1: struct virtio_net_rss_config, little-endian, into out (cap
 * bytes): hash_types, indirection_table_mask (table_len - 1; table_len a
 * power of two), unclassified_queue 0, the table, max_tx_vq, the key.
 * Returns its length, or 0 when it does not fit or table_len is not a power
 * of two from 1 to VNET_RSS_TABLE_MAX. */
size_t vnet_rss_config(uint8_t *out, size_t cap, uint32_t hash_types, const uint16_t *table,
		       uint16_t table_len, uint16_t max_tx_vq, const uint8_t *key,
		       uint8_t key_len);

/* The name of a command of class VIRTIO_NET_CTRL_MQ, for messages. */
const char *vnet_ctrl_cmd_name(uint8_t cls, uint8_t cmd);

#endif
