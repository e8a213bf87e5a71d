/* SPDX-License-Identifier: BSD-3-Clause */
/* virtio_net_intr.c - net_virtio's receive interrupts (doc/interrupts.md):
 * the transport's per-queue fd for used-buffer notifications, and arming
 * them with the ring's own suppression (virtio 1.1 §2.6.7, §2.7.10). */
#include <errno.h>
#include <unistd.h>

#include "udk_eal.h"
#include "virtio_net_priv.h"

int vnet_rx_intr_fd(struct udk_eth_dev *dev, uint16_t q)
{
	struct virtio_dev *vd = ((struct vnet *)dev->priv)->vd;
	struct vnet_rxq *rxq = dev->rxq[q];
	int fd;

	if (vd->ops->queue_intr_fd == NULL) {
		udk_log(UDK_LOG_ERR, LOG, "rx interrupt of port %u (%s): its transport has no "
			"used-buffer notifications; poll it", dev->port, vd->name);
		return -ENOTSUP;
	}
	fd = vd->ops->queue_intr_fd(vd, rxq->vq->index);
	if (fd >= 0)
		rxq->intr_fd = fd;
	return fd;
}

/* Clear the fd's count first, then enable notifications and look again: a
 * buffer used before the look is seen by it, one used after it signals the
 * fd (virtq_intr_enable()).  A count cleared here that belonged to a buffer
 * the look then finds costs nothing; one left would only wake a sleep early. */
int vnet_rx_intr_arm(void *queue)
{
	struct vnet_rxq *rxq = queue;
	uint64_t n;

	if (rxq->intr_fd >= 0 && read(rxq->intr_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return -errno;
	return virtq_intr_enable(rxq->vq) ? 1 : 0;
}

void vnet_rx_intr_disarm(void *queue)
{
	virtq_intr_disable(((struct vnet_rxq *)queue)->vq);
}
