/* SPDX-License-Identifier: BSD-3-Clause */
/* virtio_net_priv.h - what the files of net_virtio share: the port's state
 * (struct vnet), its queues, the header and configuration layout of the
 * network device (virtio 1.1 §5.1), and the functions one file gives the
 * others.  Not a public header. */
#ifndef UDK_VIRTIO_NET_PRIV_H
#define UDK_VIRTIO_NET_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "udk_ethdev_driver.h"
#include "udk_mbuf.h"
#include "virtio_dev.h"
#include "virtio_net_ctrl.h"

#define LOG "net_virtio"

/* §5.1.3: the device feature bits udk implements. */
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
/* §6: the ring features, taken whenever the device offers them (a
 * vhost-user port offers RING_PACKED only with packed_vq=1). */
#define VNET_FEATURES (VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) |         \
		       VIRTIO_BIT(VIRTIO_F_EVENT_IDX) | VIRTIO_BIT(VIRTIO_F_RING_PACKED))

/* §5.1.4: struct virtio_net_config. */
#define VNET_CFG_MAC 0
#define VNET_CFG_STATUS 6
#define VNET_CFG_MAX_PAIRS 8
#define VIRTIO_NET_S_LINK_UP 1

/* §5.1.6: struct virtio_net_hdr; with VERSION_1 it always has num_buffers,
 * so it is 12 bytes (§5.1.6.1). */
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};
#define VNET_HDR_LEN 12
_Static_assert(sizeof(struct virtio_net_hdr) == VNET_HDR_LEN, "virtio 1.1 §5.1.6: 12 bytes");

/* virtio 1.2 §5.1.6: with VIRTIO_NET_F_HASH_REPORT the header, in both
 * directions, goes on with the hash the device computed for a received
 * frame and its type (VIRTIO_NET_HASH_REPORT_*, 0: none). */
struct virtio_net_hdr_hash {
	struct virtio_net_hdr hdr;
	uint32_t hash_value;
	uint16_t hash_report;
	uint16_t padding_reserved;
};
#define VNET_HDR_HASH_LEN 20
_Static_assert(sizeof(struct virtio_net_hdr_hash) == VNET_HDR_HASH_LEN,
	       "virtio 1.2 §5.1.6: 20 bytes with hash_value and hash_report");

/* §5.1.6.3.1: without VIRTIO_NET_F_MRG_RXBUF or offloads, each receive
 * buffer holds a whole frame: 1514 bytes plus the header. */
#define VNET_MAX_FRAME (UDK_ETHER_MTU + UDK_ETHER_HDR_LEN)
#define VNET_MIN_MTU 68
/* §5.1.6.3.2: with mergeable buffers a frame spans as many buffers as it
 * needs; udk offers jumbo frames up to 9000 bytes of MTU then. */
#define VNET_MRG_MAX_MTU 9000
#define VNET_REFILL_BATCH 32
#define VNET_HDR_SLOT 32 /* bytes per header in a transmit queue's header area */
#define VNET_TX_PREFETCH 4 /* frames ahead whose header line tx_burst prefetches */

struct vnet_rxq {
	struct virtq *vq;
	struct udk_mempool *mp;
	uint16_t port;
	uint16_t refill_min;       /* refill once this many descriptors are free */
	uint16_t unfilled;         /* descriptors the last refill left empty */
	bool mrg;                  /* VIRTIO_NET_F_MRG_RXBUF: frames span buffers */
	uint8_t hdr_len;           /* VNET_HDR_LEN, or VNET_HDR_HASH_LEN with HASH_REPORT */
	bool hash;                 /* VIRTIO_NET_F_HASH_REPORT: the header has the hash */
	bool csum;                 /* VIRTIO_NET_F_GUEST_CSUM: flag L4 checksums */
	uint16_t pend_left;        /* mrg: buffers still to come of the frame in pend */
	struct udk_mbuf *pend, *pend_last; /* mrg: a frame whose buffers are not all used yet */
	uint64_t packets, bytes, errors, nombuf; /* udk_counter_add/read: stats read them */
	void *mem;
	int intr_fd;               /* the transport's fd for this queue, -1 until asked */
};

struct vnet_txq {
	struct virtq *vq;
	uint32_t max_len;          /* MTU plus Ethernet header */
	uint8_t hdr_len;           /* as vnet_rxq's */
	bool csum;                 /* VIRTIO_NET_F_CSUM: the device fills checksums */
	bool tso;                  /* VIRTIO_NET_F_HOST_TSO4: and segments TCP/IPv4 */
	uint64_t hdrs_iova;        /* one zeroed header per descriptor, for mbufs
				    * whose headroom cannot take one */
	uint64_t packets, bytes, errors; /* udk_counter_add/read */
	void *mem, *hdrs;
};

struct vnet {
	struct virtio_dev *vd;
	uint16_t port;
	uint16_t max_pairs;        /* receiveqN/transmitqN pairs (VIRTIO_NET_F_MQ) */
	bool mrg;                  /* VIRTIO_NET_F_MRG_RXBUF negotiated */
	uint8_t hdr_len;           /* the header's size both ways (§5.1.6) */
	uint64_t wanted;           /* the features asked at probe, asked again at stop */
	uint16_t qmax;             /* entries of the smaller of queues 0 and 1 */
	uint16_t dev_pairs;        /* the device's max_virtqueue_pairs: the control
				    * queue is the one after them (§5.1.2) */
	struct vnet_ctrl ctrl;     /* with VIRTIO_NET_F_CTRL_VQ, from the first start */
	uint8_t rss_key_len;       /* VIRTIO_NET_F_RSS: what the device takes */
	uint16_t rss_table_len;
	uint32_t rss_types;
	bool user_key, user_reta;  /* the application's key / table (udk_eth_rss_conf) */
	uint8_t rss_key[VNET_RSS_KEY_LEN];
	uint16_t rss_reta[VNET_RSS_TABLE_MAX];
	bool stuck;                /* a reset timed out: the rings may still be in use */
};


/* §5.1.6.3.1: does a buffer whose device-written length (a header of
 * hdr_len included) is len hold a frame that fits m after the header?  Both
 * receive paths check a frame's first buffer this way. */
static inline bool vnet_rx_len_ok(const struct udk_mbuf *m, uint32_t len, uint32_t hdr_len)
{
	return len > hdr_len && len - hdr_len <= (uint32_t)(m->buf_len - m->data_off);
}

/* virtio 1.2 §5.1.6.4.3.4: the hash the device reports in the header h of
 * the frame m, into the mbuf (hash_report 0: the device computed none). */
static inline void vnet_rx_hash(struct udk_mbuf *m, const void *h)
{
	const struct virtio_net_hdr_hash *hh = h;

	if (hh->hash_report != 0) {
		m->hash_rss = le32toh(hh->hash_value);
		m->ol_flags |= UDK_MBUF_F_RSS_HASH;
	}
}

/* virtio_net_ctrl.c: the RSS limits the device reports (§5.1.4), read at
 * probe into vn; a device without usable ones keeps rss_table_len 0. */
void vnet_rss_limits(struct vnet *vn);
/* virtio_net_ctrl.c: spread received frames over nq queue pairs through the
 * control queue (after DRIVER_OK).  0 or -errno (logged). */
int vnet_steer(struct udk_eth_dev *dev, uint16_t nq);
/* virtio_net_ctrl.c: the ethdev RSS ops (udk_ethdev_driver.h). */
void vnet_rss_limits_get(struct udk_eth_dev *dev, uint16_t *key_len, uint16_t *reta_len);
int vnet_rss_set(struct udk_eth_dev *dev, const uint8_t *key, const uint16_t *reta, bool reset);

/* virtio_net_intr.c: the receive-interrupt ops (doc/interrupts.md). */
int vnet_rx_intr_fd(struct udk_eth_dev *dev, uint16_t q);
int vnet_rx_intr_arm(void *queue);
void vnet_rx_intr_disarm(void *queue);

#endif
