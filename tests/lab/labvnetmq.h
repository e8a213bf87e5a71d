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
/* Configure port with one queue pair of 256 descriptors (receive into
 * mp), mtu, rx_offloads and tx_offloads, start it, zero its counters
 * (REQUIREs). */
void lab_vnetmq_port_up(uint16_t port, struct udk_mempool *mp, uint32_t mtu,
			uint64_t rx_offloads, uint64_t tx_offloads);

struct udk_mbuf;
/* The len bytes at f as a chain of mbufs of mp holding seg bytes each (the
 * last fewer); NULL when the pool runs out. */
struct udk_mbuf *lab_vnetmq_chain(struct udk_mempool *mp, const uint8_t *f, uint32_t len,
				  uint16_t seg);
struct lab_trip {
	uint32_t sent, got, dup, bad, other;
	uint64_t ms;
};
/* Frames 0..n-1 round the loop on queue pair 0 of port, at most in_flight
 * out at a time: make(i) gives frame i (NULL fails the test), check(m)
 * says which frame a received one is (>= 0), -1 for someone else's, -2
 * for one of ours that is wrong (check printed why).  seen[i] counts the
 * returns of frame i.  Gives up after 10 s with nothing back, or after
 * timeout_ms; the counts in *r. */
void lab_vnetmq_round_trip(uint16_t port, uint32_t n, uint32_t in_flight, uint16_t *seen,
			   struct udk_mbuf *(*make)(uint32_t i, void *arg),
			   int (*check)(const struct udk_mbuf *m, void *arg), void *arg,
			   uint64_t timeout_ms, struct lab_trip *r);
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t lab_vnetmq_ms(void);

#endif
