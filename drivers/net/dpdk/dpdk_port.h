/* SPDX-License-Identifier: BSD-3-Clause */
/* dpdk_port.h - what the two files of drivers/net/dpdk share: the port, its
 * queues, and the receive/transmit paths (dpdk_rxtx.c). */
#ifndef UDK_DPDK_PORT_H
#define UDK_DPDK_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "udk_ethdev_driver.h"

#define DPORT_MAX_QUEUES UDK_ETH_MAX_QUEUES

struct dport;

/* A DPDK mbuf pool over udk memory at udk's IOVAs whose buffers are udk
 * mbufs too (dpdk_mbuf.c): their udk pool is proxy, which frees through
 * DPDK. */
struct dport_pool {
	struct rte_mempool *mp;
	void *mem;
	struct udk_mempool *proxy;
	int socket;
	unsigned int capacity, committed, users; /* shared by receive queues */
};

/* A receive queue commits its ring, bursts and caches to a pool; a pool is
 * made for DPORT_POOL_SHARE such queues plus what the application holds. */
#define DPORT_POOL_HELD 4096
#define DPORT_POOL_SHARE 4

/* Receive: the DPDK PMD fills buffers of the queue's dport_pool, udk mbufs
 * as they are (zero copy); when the PMD needs DPDK's own memory (copy), an
 * ordinary DPDK pool, copied into buffers of the application's pool mp. */
struct drxq {
	struct dport *p;
	uint16_t pid, q;
	bool copy;
	bool as_is;                 /* nothing to check or set per packet */
	struct dport_pool *pool;    /* zero copy: shared with other queues */
	unsigned int need;          /* what this queue committed to it */
	struct rte_mempool *rxp;    /* what the PMD fills: pool.mp, or a copy pool */
	struct udk_mempool *mp;     /* the application's pool, for copies */
	uint16_t port;              /* udk port number, for mbuf->port */
	uint64_t zero_copy, copies, nombuf;
};

/* Transmit: any udk mbuf is a DPDK mbuf (dpdk_mbuf.c) and goes as it is;
 * copy mode copies into mbufs of a DPDK pool (for PMDs whose peer can only
 * reach DPDK's memory).  Packets and bytes are DPDK's statistics. */
struct dtxq {
	struct dport *p;
	uint16_t pid, q;
	bool copy;
	struct rte_mempool *pool;   /* copy: buffers */
	uint64_t zero_copy, copies, errors;
};

struct dport {
	struct udk_eth_dev *dev;
	uint16_t pid;
	bool pci;                   /* its DMA needs udk memory in DPDK's container */
	bool copy;                  /* copy both ways (copy=1, or the PMD requires it) */
	bool rx_check;              /* the PMD may hand over buffers of other pools */
	int socket;
	char dpdk_name[64];
	/* Released queues, freed at close, after DPDK let go of their mbufs. */
	struct drxq *dead_rx[DPORT_MAX_QUEUES * 4];
	struct dtxq *dead_tx[DPORT_MAX_QUEUES * 4];
	unsigned int nb_dead_rx, nb_dead_tx;
};

int drxq_create(struct dport *p, uint16_t q, uint16_t nb_desc, struct udk_mempool *mp,
		struct drxq **out);
void drxq_free(struct drxq *rxq);
int dtxq_create(struct dport *p, uint16_t q, uint16_t nb_desc, struct dtxq **out);
void dtxq_free(struct dtxq *txq);
uint16_t dport_rx_burst(void *queue, struct udk_mbuf **pkts, uint16_t n);
uint16_t dport_tx_burst(void *queue, struct udk_mbuf **pkts, uint16_t n);

/* dpdk_port.c: udk's memory registered with DPDK (rte_extmem_register) and,
 * for PCI ports, mapped into their VFIO container (rte_dev_dma_map). */
int dport_mem_register(struct dport *p);
/* dpdk_mbuf.c.  Once per process: udk's fields in DPDK's mbufs, and a DPDK
 * pool for udk's buffers; 0, or <0 (logged: ports then copy). */
int dport_mbuf_init(void);
/* Is mp a pool whose buffers are udk mbufs? */
bool dport_pool_bridged(const struct rte_mempool *mp);
/* A receive pool on socket with room for need more buffers (shared), or
 * NULL with rte_errno set (logged). */
struct dport_pool *dport_pool_get(int socket, unsigned int need);
void dport_pool_put(struct dport_pool *pool, unsigned int need);

#endif
