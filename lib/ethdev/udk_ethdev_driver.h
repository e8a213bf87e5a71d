/* SPDX-License-Identifier: BSD-3-Clause */
/* udk_ethdev_driver.h - the driver side of lib/ethdev: the device a driver
 * fills and reads, its ops table, and registration (UDK_NET_DRIVER()).
 * Applications use udk_ethdev.h only; a driver includes this header, which
 * includes that one.  As DPDK keeps ethdev_driver.h apart from rte_ethdev.h,
 * the driver API can change without touching the application's.
 */
#ifndef UDK_ETHDEV_DRIVER_H
#define UDK_ETHDEV_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "udk_ethdev.h"
#include "udk_mem.h"
#include "udk_pci.h"

#ifdef __cplusplus
extern "C" {
#endif

struct udk_eth_dev;

struct udk_eth_ops {
	void (*info)(struct udk_eth_dev *dev, struct udk_eth_dev_info *info);
	int (*configure)(struct udk_eth_dev *dev, const struct udk_eth_conf *conf);
	int (*rxq_setup)(struct udk_eth_dev *dev, uint16_t q, const struct udk_eth_rxq_conf *c,
			 void **queue);
	int (*txq_setup)(struct udk_eth_dev *dev, uint16_t q, const struct udk_eth_txq_conf *c,
			 void **queue);
	void (*rxq_release)(struct udk_eth_dev *dev, void *queue);
	void (*txq_release)(struct udk_eth_dev *dev, void *queue);
	int (*start)(struct udk_eth_dev *dev);
	void (*stop)(struct udk_eth_dev *dev);
	void (*close)(struct udk_eth_dev *dev);
	void (*stats_get)(struct udk_eth_dev *dev, struct udk_eth_stats *st);
	void (*stats_reset)(struct udk_eth_dev *dev);
	void (*link_get)(struct udk_eth_dev *dev, struct udk_eth_link *link);
	int (*promiscuous_set)(struct udk_eth_dev *dev, bool on);
	udk_eth_burst_fn rx_burst;
	udk_eth_burst_fn tx_burst;
	/* Receive interrupts, optional (all three or none; udk_ethdev.h says
	 * what each promises).  rx_intr_fd: the fd of started queue q, >= 0, or
	 * -ENOTSUP after a line saying why (the device has no vector for it).
	 * rx_intr_arm: 1 if work is pending, 0 armed; the queue's lcore. */
	int (*rx_intr_fd)(struct udk_eth_dev *dev, uint16_t q);
	int (*rx_intr_arm)(void *queue);
	void (*rx_intr_disarm)(void *queue);
	/* RSS, optional (both or none).  rss_limits: the key and table lengths
	 * the device takes (0, 0: none).  rss_set: lengths and entries already
	 * checked by lib/ethdev; key or reta NULL keeps the one in force, both
	 * NULL with reset true goes back to the driver's defaults (configure);
	 * copy them; a started port applies them at once, else at start. */
	void (*rss_limits)(struct udk_eth_dev *dev, uint16_t *key_len, uint16_t *reta_len);
	int (*rss_set)(struct udk_eth_dev *dev, const uint8_t *key, const uint16_t *reta,
		       bool reset);
};

struct udk_eth_driver {
	const char *name;
	const struct udk_eth_ops *ops;
	/* PCI devices the driver takes: {vendor, device} pairs ending in {0, 0}. */
	const uint16_t (*pci_ids)[2];
	int (*probe_pci)(struct udk_eth_dev *dev, struct udk_pci_dev *pdev);
	/* Software devices whose name starts with vdev_prefix ("net_ring"). */
	const char *vdev_prefix;
	int (*probe_vdev)(struct udk_eth_dev *dev, const char *name, const char *args);
	struct udk_eth_driver *next;
};

/* What a driver may read and set on its device. */
struct udk_eth_dev {
	uint16_t port;
	char name[64];
	const struct udk_eth_driver *drv;
	void *priv;                   /* the driver's */
	struct udk_ether_addr mac;    /* set at probe */
	struct udk_eth_conf conf;     /* valid after configure */
	void *rxq[UDK_ETH_MAX_QUEUES];
	void *txq[UDK_ETH_MAX_QUEUES];
	bool configured, started;
	struct udk_pci_dev *pdev;     /* PCI ports; NULL for software ones */
	/* Where the driver takes rings and buffers the device reaches, and
	 * translates them: the heap of the device's map (ethdev holds a
	 * reference from probe to close); udk_mem_default() for software ports. */
	struct udk_mem *mem;
	bool removed;                 /* atomic: hot-unplugged; ethdev skips stop */
};

void udk_eth_driver_register(struct udk_eth_driver *drv);
/* Register a driver from a constructor: a new driver is a new folder and a
 * line in meson, never an edit to a central list.  The macro also defines
 * udk_net_driver_<nm>, a hidden symbol that libudk's table of built-in
 * drivers refers to (the meson list udk_net_drivers): a static link keeps
 * only the files something refers to, and so keeps each driver (and its
 * constructor) through that table. */
#define UDK_NET_DRIVER(nm, drv)                                                            \
	extern const char udk_net_driver_##nm;                                              \
	__attribute__((visibility("hidden"))) const char udk_net_driver_##nm = 0;           \
	__attribute__((constructor)) static void udk_net_driver_register_##nm(void)         \
	{                                                                                  \
		udk_eth_driver_register(&(drv));                                           \
	}

/* A driver's link changed by itself: tell the link event callbacks
 * (udk_eth_link_event_register()).  Call it from the driver's own thread with
 * none of ethdev's calls in progress on it. */
void udk_eth_link_event(uint16_t port, const struct udk_eth_link *link);

/* The device behind a port (drivers use it to find a peer); NULL if none. */
struct udk_eth_dev *udk_eth_dev_get(uint16_t port);

#ifdef __cplusplus
}
#endif
#endif
