/* SPDX-License-Identifier: BSD-3-Clause */
/* labvnetmq.h - the lab's two tap-backed virtio-nets (lab.py mq_taps: vnetmq0
 * with split rings, vnetmq1 with packed, each looped back to itself on the
 * host) as udk ports: what the tests that drive them (lab_net_virtio_rss,
 * _jumbo, _csum) do before and after their own work. */
#ifndef UDK_LABVNETMQ_H
#define UDK_LABVNETMQ_H

#include <stdint.h>

#include "labutil.h"
#include "udk_mempool.h"

struct lab_vnetmq {
	const char *label[2];          /* "vnetmq0 (split)", "vnetmq1 (packed)" */
	char bdf[2][LAB_BDF_LEN];
	char drv[2][64];               /* their kernel drivers before, to give them back */
	uint8_t mac[2][6];             /* the lab's (lab.env), checked against the port's */
	uint16_t port[2];
	struct udk_mempool *mp;        /* nb_mbuf default-sized mbufs */
	uint32_t nb_mbuf;
	uint64_t kmsg;
};

/* Skip without the NICs; bind both to vfio-pci, udk_eal_init() as prog
 * (log level info), a pool of nb_mbuf, probe both, check their MACs.
 * Failures are REQUIREs. */
void lab_vnetmq_open(struct lab_vnetmq *t, const char *prog, uint32_t nb_mbuf);
/* After the test closed both ports: every mbuf back in the pool, no DMA
 * fault in the kernel log, EAL cleanup, both NICs back on their drivers. */
void lab_vnetmq_close(struct lab_vnetmq *t);
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t lab_vnetmq_ms(void);

#endif
