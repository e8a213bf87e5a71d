/* SPDX-License-Identifier: BSD-3-Clause */
/* udk_ethdev.h - network ports: probing, configuration, queues, statistics,
 * and the inline rx/tx burst calls.
 *
 * A port is a number (0 .. UDK_ETH_MAX_PORTS-1) given at probe time.  Control
 * calls (configure, queue setup, start, stop, stats, ...) are thread-safe
 * against each other and slow; the burst calls are the fast path: inline,
 * through a small per-port table of their own (so the cache lines a burst
 * touches hold nothing else), no lock, no system call, no log.  One queue is
 * used by one lcore at a time.
 *
 * This header is for applications.  Drivers include udk_ethdev_driver.h, which
 * holds the device, ops and driver structs and UDK_NET_DRIVER().
 */
#ifndef UDK_ETHDEV_H
#define UDK_ETHDEV_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "udk_mbuf.h"
#include "udk_pci.h"
#include "udk_util.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UDK_ETH_MAX_PORTS 32
#define UDK_ETH_MAX_QUEUES 16
#define UDK_ETHER_HDR_LEN 14
#define UDK_ETHER_MTU 1500

struct udk_ether_addr {
	uint8_t b[6];
};

struct udk_eth_dev_info {
	char driver[32];
	char name[64];           /* PCI address or vdev name */
	uint16_t max_rx_queues, max_tx_queues;
	uint16_t min_desc, max_desc;
	uint32_t min_mtu, max_mtu;
};

/* Receive-side scaling chosen by the application: the Toeplitz key and the
 * indirection table (a received frame goes to rx queue reta[hash % reta_len]).
 * Either may be NULL: the driver's default for it (Microsoft's verification
 * key; entry i is queue i % nb_rx_queues).  The lengths must be the device's
 * own (udk_eth_dev_rss_limits()) and each entry below nb_rx_queues; udk
 * copies both, so the caller's arrays may go once the call returns. */
struct udk_eth_rss_conf {
	const uint8_t *key;
	uint16_t key_len;
	const uint16_t *reta;
	uint16_t reta_len;
};

struct udk_eth_conf {
	size_t opts_size;        /* set by udk_eth_conf_init() */
	uint16_t nb_rx_queues;   /* default 1 */
	uint16_t nb_tx_queues;   /* default 1 */
	uint32_t mtu;            /* default UDK_ETHER_MTU */
	bool promiscuous;
	struct udk_eth_rss_conf rss; /* default: none given, the driver's */
	/* UDK_ETH_RX_OFFLOAD_*: checks the port does on receive, reported in
	 * each mbuf's ol_flags (udk_mbuf.h).  Default 0.  A driver that
	 * cannot do one asked for fails configure; drivers that know none of
	 * them ignore the field (ol_flags then say nothing). */
	uint64_t rx_offloads;
	/* UDK_ETH_TX_OFFLOAD_*: work the port may be asked for per frame
	 * (UDK_MBUF_F_TX_* in ol_flags).  Default 0.  A driver that cannot do
	 * one asked for fails configure.  A frame asking for a checksum on a
	 * port not configured for it may still get it done in software
	 * (net_virtio) or not at all (drivers that know none of them). */
	uint64_t tx_offloads;
};

/* DPDK's values (RTE_ETH_RX_OFFLOAD_*, RTE_ETH_TX_OFFLOAD_*). */
#define UDK_ETH_RX_OFFLOAD_UDP_CKSUM (1ULL << 2)
#define UDK_ETH_RX_OFFLOAD_TCP_CKSUM (1ULL << 3)
#define UDK_ETH_TX_OFFLOAD_UDP_CKSUM (1ULL << 2)
#define UDK_ETH_TX_OFFLOAD_TCP_CKSUM (1ULL << 3)
#define UDK_ETH_TX_OFFLOAD_TCP_TSO (1ULL << 5)

struct udk_eth_rxq_conf {
	size_t opts_size;
	uint16_t nb_desc;        /* 0: the driver's default */
	int socket;
	struct udk_mempool *mp;  /* where received packets are allocated; required */
};

struct udk_eth_txq_conf {
	size_t opts_size;
	uint16_t nb_desc;
	int socket;
};

void udk_eth_conf_init(struct udk_eth_conf *c, size_t size);
void udk_eth_rxq_conf_init(struct udk_eth_rxq_conf *c, size_t size);
void udk_eth_txq_conf_init(struct udk_eth_txq_conf *c, size_t size);

struct udk_eth_stats {
	uint64_t ipackets, ibytes;
	uint64_t opackets, obytes;
	uint64_t ierrors, oerrors;
	uint64_t imissed;        /* dropped by the port: no descriptor or buffer */
	uint64_t rx_nombuf;      /* receive buffers the mempool could not give */
	uint64_t copies;         /* packets the driver had to copy (drivers/net/dpdk) */
};

struct udk_eth_link {
	bool up;
	bool full_duplex;
	uint32_t speed_mbps;     /* 0 when unknown */
};

/* Probe every device of the EAL (-a and --vdev) that a registered driver
 * claims; returns the number of ports made, or a negative error (the failing
 * device is named in the message; ports made before it stay). */
int udk_eth_probe_eal(void);
/* Probe one software device ("net_ring0,peer=net_ring1"). */
int udk_eth_probe_vdev(const char *spec, uint16_t *port);
/* Probe one opened PCI device. */
int udk_eth_probe_pci(struct udk_pci_dev *pdev, uint16_t *port);

unsigned int udk_eth_dev_count(void);
/* Port of a name ("net_ring0", "0000:00:04.0"): 0 or -ENODEV. */
int udk_eth_dev_find(const char *name, uint16_t *port);
bool udk_eth_dev_is_valid(uint16_t port);

/* Every call below returns 0 or a negative error: -ENODEV for a port that
 * does not exist (with a message), -EINVAL for a value out of the device's
 * limits (naming the limit), -EBUSY for a call the port's state forbids. */
int udk_eth_dev_info_get(uint16_t port, struct udk_eth_dev_info *info);
int udk_eth_dev_configure(uint16_t port, const struct udk_eth_conf *conf);
int udk_eth_rx_queue_setup(uint16_t port, uint16_t q, const struct udk_eth_rxq_conf *conf);
int udk_eth_tx_queue_setup(uint16_t port, uint16_t q, const struct udk_eth_txq_conf *conf);
int udk_eth_dev_start(uint16_t port);
int udk_eth_dev_stop(uint16_t port);
/* The RSS key length and indirection table length the port takes: 0 and 0
 * for a port whose driver or device has no RSS to configure (then a conf.rss
 * with a key or a table fails configure with -ENOTSUP).  Any thread. */
int udk_eth_dev_rss_limits(uint16_t port, uint16_t *key_len, uint16_t *reta_len);
/* Change the RSS key and/or table of a configured port (as conf.rss; NULL
 * keeps what is in force).  On a started port the device takes it at once
 * (virtio: one control-queue command); else at the next start.  -EINVAL for
 * lengths or entries out of the limits, -ENOTSUP for a port without RSS,
 * -EBUSY before configure, -EIO when the device refuses (each logged).
 * Control thread; frames in flight may still land by the old table. */
int udk_eth_dev_rss_update(uint16_t port, const struct udk_eth_rss_conf *rss);
/* The memory the port's device reaches: the heap of its map (udk_eal_mem()
 * for the default map and for software ports), or NULL for a port that does
 * not exist.  Create the port's packet pools on it
 * (udk_pktmbuf_pool_create_mem()): an rx queue refuses a pool on another
 * map's heap.  Valid until the port is closed.  Any thread. */
struct udk_mem *udk_eth_dev_mem(uint16_t port);
/* Stop if started, release queues and the device; the port number is free. */
int udk_eth_dev_close(uint16_t port);
int udk_eth_stats_get(uint16_t port, struct udk_eth_stats *st);
int udk_eth_stats_reset(uint16_t port);
int udk_eth_link_get(uint16_t port, struct udk_eth_link *link);
/* Link events: fn(port, link, arg) when a port's link goes down or comes back
 * by itself (a vhost-user back-end that went away and returned).  It runs on
 * the driver's thread: it must return quickly and call no udk_eth_* function
 * (record the state, act on it from your own thread).  Up to 8 callbacks; the
 * same fn and arg twice is -EEXIST, a full table -ENOSPC (logged).  Any
 * thread. */
typedef void (*udk_eth_link_event_fn)(uint16_t port, const struct udk_eth_link *link, void *arg);
int udk_eth_link_event_register(udk_eth_link_event_fn fn, void *arg);
/* 0, or -ENOENT if fn and arg were not registered.  When it returns, fn is
 * not running and will not be called. */
int udk_eth_link_event_unregister(udk_eth_link_event_fn fn, void *arg);
int udk_eth_macaddr_get(uint16_t port, struct udk_ether_addr *mac);
int udk_eth_promiscuous_set(uint16_t port, bool on);
int udk_eth_mtu_get(uint16_t port, uint32_t *mtu);
/* True once the port's PCI device was hot-unplugged (doc/hotplug.md): its
 * bursts return 0 from then on; configure, queue setup, start and
 * promiscuous answer -UDK_EREMOVED, stats and link -UDK_EREMOVED with zeros
 * (link down); stop and close work, and close returns every mbuf the rings
 * held to its pool. */
bool udk_eth_dev_is_removed(uint16_t port);
/* Close every port (before udk_eal_cleanup()). */
void udk_eth_close_all(void);

/* ---- receive interrupts (doc/interrupts.md) ----
 *
 * A port whose driver has them lets the lcore of an rx queue sleep until a
 * frame arrives: the queue's fd (an eventfd: the device's MSI-X vector, or
 * a vhost-user back-end's call fd) becomes readable once the queue is armed
 * and the device used a receive buffer.  Meant for udk_lcore_waitset
 * (udk_eal.h): the fd is the source's fd, udk_eth_rx_intr_arm() its arm()
 * and udk_eth_rx_intr_disarm() its disarm().  While disarmed (the default)
 * the device is asked not to signal, so a polling lcore pays nothing. */

/* The fd of rx queue q of a started port, in *fd; it stays open (owned by
 * the port) until the port stops.  0; -ENOTSUP when the driver or its
 * device has no receive interrupts (logged, naming which); -EBUSY when the
 * port is not started; -EINVAL for a queue the port does not have.  Any
 * thread (control path). */
int udk_eth_rx_intr_fd(uint16_t port, uint16_t q, int *fd);
/* Arm rx queue q: ask the device to signal its fd for the next frame, then
 * look once more.  Returns 1 when frames are already there (do not sleep:
 * poll), 0 when armed (nothing is lost: a frame that arrives from now on
 * makes the fd readable), -ENOTSUP, or -ENODEV for a port that is not
 * started.  It clears the fd's count (one read(2)).  The queue's lcore,
 * between bursts. */
int udk_eth_rx_intr_arm(uint16_t port, uint16_t q);
/* Back to polling: the device is asked not to signal again.  The queue's
 * lcore; a port that is not started is ignored. */
void udk_eth_rx_intr_disarm(uint16_t port, uint16_t q);

/* ---- fast path ---- */

typedef uint16_t (*udk_eth_burst_fn)(void *queue, struct udk_mbuf **pkts, uint16_t n);

/* Internal: the per-port fast-path table, filled at start, emptied at stop. */
struct udk_eth_fp {
	alignas(64) udk_eth_burst_fn rx_burst;
	udk_eth_burst_fn tx_burst;
	uint16_t nb_rxq, nb_txq;
	void *rxq[UDK_ETH_MAX_QUEUES];
	void *txq[UDK_ETH_MAX_QUEUES];
	/* Receive interrupts (udk_eth_rx_intr_arm()); NULL: the driver has none. */
	int (*rx_intr_arm)(void *queue);
	void (*rx_intr_disarm)(void *queue);
};
extern struct udk_eth_fp udk_eth_fp_[UDK_ETH_MAX_PORTS];

/* Receive up to n packets from queue q of port; returns how many.  A port
 * that is not started, or a queue it does not have, receives nothing. */
static inline uint16_t udk_eth_rx_burst(uint16_t port, uint16_t q, struct udk_mbuf **pkts,
					uint16_t n)
{
	struct udk_eth_fp *fp;

	if (unlikely(port >= UDK_ETH_MAX_PORTS))
		return 0;
	fp = &udk_eth_fp_[port];
	if (unlikely(q >= fp->nb_rxq))
		return 0;
	return fp->rx_burst(fp->rxq[q], pkts, n);
}

/* Send up to n packets on queue q of port; returns how many the port took
 * (it frees them once sent).  The caller still owns pkts[ret..n-1]. */
static inline uint16_t udk_eth_tx_burst(uint16_t port, uint16_t q, struct udk_mbuf **pkts,
					uint16_t n)
{
	struct udk_eth_fp *fp;

	if (unlikely(port >= UDK_ETH_MAX_PORTS))
		return 0;
	fp = &udk_eth_fp_[port];
	if (unlikely(q >= fp->nb_txq))
		return 0;
	return fp->tx_burst(fp->txq[q], pkts, n);
}

#ifdef __cplusplus
}
#endif
#endif
