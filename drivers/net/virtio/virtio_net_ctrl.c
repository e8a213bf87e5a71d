/* SPDX-License-Identifier: BSD-3-Clause */
/* virtio_net_ctrl.c - the virtio-net control virtqueue (virtio 1.2
 * §5.1.6.5): one command at a time, polled, as a chain of three buffers
 * (class and command, data, ack), and the RSS configuration it carries. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "udk_eal.h"
#include "udk_mem.h"
#include "udk_util.h"
#include "virtio_net_priv.h"

#define CTRL_QSIZE 16            /* one command in flight needs 3 */
#define CTRL_BUF_LEN (2 + VNET_CTRL_DATA_MAX + 1)

const char *vnet_ctrl_cmd_name(uint8_t cls, uint8_t cmd)
{
	if (cls == VIRTIO_NET_CTRL_MQ && cmd == VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET)
		return "VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET";
	if (cls == VIRTIO_NET_CTRL_MQ && cmd == VIRTIO_NET_CTRL_MQ_RSS_CONFIG)
		return "VIRTIO_NET_CTRL_MQ_RSS_CONFIG";
	return "control command";
}

int vnet_ctrl_setup(struct vnet_ctrl *c, struct virtio_dev *vd, struct udk_mem *heap,
		    uint16_t idx, const char *dev)
{
	bool packed = (vd->features & VIRTIO_BIT(VIRTIO_F_RING_PACKED)) != 0;
	uint16_t max = vd->ops->queue_max(vd, idx), n = CTRL_QSIZE;
	uint64_t iova;
	int rc;

	if (c->vq != NULL) /* kept across stop/start: given to the device again */
		return vd->ops->queue_enable(vd, c->vq);
	if (max < 3) {
		udk_log(UDK_LOG_ERR, LOG, "%s: the control queue (virtqueue %u) has %u entries; a "
			"command needs 3 (virtio 1.2 §5.1.6.5)", dev, idx, max);
		return -ENODEV;
	}
	while (n > max)
		n /= 2;
	if (n < 4)
		n = packed ? max : 4;
	c->heap = heap;
	c->ring = udk_mem_zmalloc(heap, packed ? virtq_packed_mem_size(n) : virtq_mem_size(n),
				  4096, UDK_SOCKET_ANY);
	c->buf = udk_mem_zmalloc(heap, CTRL_BUF_LEN, 64, UDK_SOCKET_ANY);
	if (c->ring == NULL || c->buf == NULL) {
		rc = -ENOMEM; /* lib/mem said why */
		goto err_free;
	}
	iova = udk_mem_virt2iova(heap, c->ring);
	c->buf_iova = udk_mem_virt2iova(heap, c->buf);
	if (iova == UDK_IOVA_BAD || c->buf_iova == UDK_IOVA_BAD) {
		udk_log(UDK_LOG_ERR, LOG, "%s: the control queue's memory has no IOVA in the "
			"device's map", dev);
		rc = -UDK_ENOTMAPPED;
		goto err_free;
	}
	rc = packed ? virtq_create_packed(idx, n, c->ring, iova, &c->vq)
		    : virtq_create(idx, n, c->ring, iova, &c->vq);
	if (rc < 0)
		goto err_free;
	c->vq->event_idx = (vd->features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX)) != 0;
	rc = vd->ops->queue_enable(vd, c->vq);
	if (rc < 0)
		goto err_vq;
	return 0;

err_vq:
	virtq_free(c->vq, NULL, NULL);
	c->vq = NULL;
err_free:
	udk_mem_free(heap, c->ring);
	udk_mem_free(heap, c->buf);
	c->ring = NULL;
	c->buf = NULL;
	return rc;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int vnet_ctrl_cmd(struct vnet_ctrl *c, const char *dev, uint8_t cls, uint8_t cmd,
		  const void *data, size_t len, unsigned int timeout_ms)
{
	const char *what = vnet_ctrl_cmd_name(cls, cmd);
	volatile uint8_t *ack = c->buf + 2 + len;
	struct virtq_chain ch;
	uint64_t t0 = now_ms();
	uint32_t wlen;

	if (len == 0 || len > VNET_CTRL_DATA_MAX || c->vq == NULL || c->vq->num_free < 3) {
		udk_log(UDK_LOG_ERR, LOG, "%s: %s (class %u, command %u): %zu bytes of data, or no "
			"control queue free", dev, what, cls, cmd, len);
		return -EINVAL;
	}
	/* §5.1.6.5: struct virtio_net_ctrl: class, command, data (all read by
	 * the device), then ack, which the device writes. */
	c->buf[0] = cls;
	c->buf[1] = cmd;
	memcpy(c->buf + 2, data, len);
	*ack = 0xff;
	virtq_chain_start(c->vq, &ch, 3, c->buf);
	virtq_chain_add(c->vq, &ch, c->buf_iova, 2, false);
	virtq_chain_add(c->vq, &ch, c->buf_iova + 2, (uint32_t)len, false);
	virtq_chain_add(c->vq, &ch, c->buf_iova + 2 + len, 1, true);
	virtq_chain_end(c->vq, &ch);
	virtq_publish(c->vq);
	virtq_kick(c->vq);
	while (virtq_used_count(c->vq) == 0) {
		if (now_ms() - t0 > timeout_ms) {
			udk_log(UDK_LOG_ERR, LOG, "%s: %s (class %u, command %u): no answer from the "
				"device in %u ms; stop and start the port to reset it", dev, what,
				cls, cmd, timeout_ms);
			return -ETIMEDOUT;
		}
		nanosleep(&(struct timespec){.tv_nsec = 100000}, NULL);
	}
	virtq_used_take(c->vq, &wlen);
	if (*ack != VIRTIO_NET_OK) {
		udk_log(UDK_LOG_ERR, LOG, "%s: %s (class %u, command %u) refused by the device: ack "
			"%u (%s)", dev, what, cls, cmd, *ack,
			*ack == VIRTIO_NET_ERR ? "VIRTIO_NET_ERR" :
			*ack == 0xff ? "not written" : "unknown value");
		return -EIO;
	}
	return 0;
}

void vnet_ctrl_reset(struct vnet_ctrl *c)
{
	if (c->vq != NULL)
		virtq_reset(c->vq, NULL, NULL);
}

void vnet_ctrl_free(struct vnet_ctrl *c)
{
	if (c->vq == NULL)
		return;
	virtq_free(c->vq, NULL, NULL);
	udk_mem_free(c->heap, c->ring);
	udk_mem_free(c->heap, c->buf);
	memset(c, 0, sizeof(*c));
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

size_t vnet_rss_config(uint8_t *out, size_t cap, uint32_t hash_types, const uint16_t *table,
		       uint16_t table_len, uint16_t max_tx_vq, const uint8_t *key,
		       uint8_t key_len)
{
	size_t need = 4 + 2 + 2 + 2u * table_len + 2 + 1 + key_len;
	uint8_t *p = out;

	if (table_len == 0 || table_len > VNET_RSS_TABLE_MAX || !UDK_IS_POW2(table_len) ||
	    need > cap)
		return 0;
	p = put16(p, (uint16_t)hash_types);
	p = put16(p, (uint16_t)(hash_types >> 16));
	p = put16(p, (uint16_t)(table_len - 1)); /* indirection_table_mask */
	p = put16(p, 0);                         /* unclassified_queue */
	for (uint16_t i = 0; i < table_len; i++)
		p = put16(p, table[i]);
	p = put16(p, max_tx_vq);
	*p++ = key_len;
	memcpy(p, key, key_len);
	return need;
}

/* §5.1.4: the key size, indirection table length and hash types the
 * device takes; a device that gives none of them is steered by
 * VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET instead (rss_table_len 0). */
void vnet_rss_limits(struct vnet *vn)
{
	struct virtio_dev *vd = vn->vd;
	uint8_t key = 0;
	uint16_t tab = 0;
	uint32_t types = 0;

	if (vd->ops->read_config(vd, VNET_CFG_RSS_MAX_KEY, &key, 1) < 0 ||
	    vd->ops->read_config(vd, VNET_CFG_RSS_MAX_TABLE, &tab, 2) < 0 ||
	    vd->ops->read_config(vd, VNET_CFG_HASH_TYPES, &types, 4) < 0)
		return;
	tab = le16toh(tab);
	types = le32toh(types) & (VIRTIO_NET_RSS_HASH_TYPE_IPv4 | VIRTIO_NET_RSS_HASH_TYPE_TCPv4 |
				  VIRTIO_NET_RSS_HASH_TYPE_UDPv4 | VIRTIO_NET_RSS_HASH_TYPE_IPv6 |
				  VIRTIO_NET_RSS_HASH_TYPE_TCPv6 | VIRTIO_NET_RSS_HASH_TYPE_UDPv6);
	if (key == 0 || tab == 0 || types == 0) {
		udk_log(UDK_LOG_WARN, LOG, "%s: VIRTIO_NET_F_RSS with key size %u, table length %u, "
			"hash types 0x%x: RSS not used", vd->name, key, tab, types);
		return;
	}
	vn->rss_key_len = key < VNET_RSS_KEY_LEN ? key : VNET_RSS_KEY_LEN;
	if (tab > VNET_RSS_TABLE_MAX)
		tab = VNET_RSS_TABLE_MAX;
	while (!UDK_IS_POW2(tab))
		tab &= (uint16_t)(tab - 1);
	vn->rss_table_len = tab;
	vn->rss_types = types;
}

/* The Toeplitz key udk gives the device: the one Microsoft's RSS
 * verification suite uses (and DPDK's drivers by default), so a hash is
 * checked against published values. */
static const uint8_t vnet_rss_key[VNET_RSS_KEY_LEN] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

#define VNET_CTRL_TIMEOUT_MS 5000

/* Spread the received frames over nq queue pairs.  With VIRTIO_NET_F_RSS
 * (§5.1.6.5.7.1): the application's key and table, or the key above and an
 * indirection table whose entry i is queue i % nq, and the IPv4/IPv6 (TCP,
 * UDP) hash types the device has; it also sets the queue pairs.  With
 * VIRTIO_NET_F_MQ alone, the device steers as it likes among the nq pairs
 * (§5.1.6.5.5). */
int vnet_steer(struct udk_eth_dev *dev, uint16_t nq)
{
	struct vnet *vn = dev->priv;
	uint8_t data[VNET_CTRL_DATA_MAX];
	uint16_t table[VNET_RSS_TABLE_MAX], le;
	size_t len;

	if (vn->rss_table_len == 0) {
		le = htole16(nq);
		return vnet_ctrl_cmd(&vn->ctrl, dev->name, VIRTIO_NET_CTRL_MQ,
				     VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &le, sizeof(le),
				     VNET_CTRL_TIMEOUT_MS);
	}
	for (uint16_t i = 0; i < vn->rss_table_len; i++)
		table[i] = vn->user_reta ? vn->rss_reta[i] : (uint16_t)(i % nq);
	len = vnet_rss_config(data, sizeof(data), vn->rss_types, table, vn->rss_table_len, nq,
			      vn->user_key ? vn->rss_key : vnet_rss_key, vn->rss_key_len);
	return vnet_ctrl_cmd(&vn->ctrl, dev->name, VIRTIO_NET_CTRL_MQ,
			     VIRTIO_NET_CTRL_MQ_RSS_CONFIG, data, len, VNET_CTRL_TIMEOUT_MS);
}

void vnet_rss_limits_get(struct udk_eth_dev *dev, uint16_t *key_len, uint16_t *reta_len)
{
	struct vnet *vn = dev->priv;

	/* Without the control queue (vhost-user) or usable limits there is
	 * nothing the device would take. */
	if (vn->rss_table_len != 0 && (vn->vd->features & VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ))) {
		*key_len = vn->rss_key_len;
		*reta_len = vn->rss_table_len;
	}
}

/* lib/ethdev checked the lengths and entries; a started port takes the
 * configuration at once, with the queue pairs it has. */
int vnet_rss_set(struct udk_eth_dev *dev, const uint8_t *key, const uint16_t *reta, bool reset)
{
	struct vnet *vn = dev->priv;

	if (reset)
		vn->user_key = vn->user_reta = false;
	if (key != NULL) {
		memcpy(vn->rss_key, key, vn->rss_key_len);
		vn->user_key = true;
	}
	if (reta != NULL) {
		memcpy(vn->rss_reta, reta, sizeof(*reta) * vn->rss_table_len);
		vn->user_reta = true;
	}
	if (dev->started && (key != NULL || reta != NULL))
		return vnet_steer(dev, dev->conf.nb_rx_queues);
	return 0;
}
