/* SPDX-License-Identifier: BSD-3-Clause */
/* fwd.h - udk-fwd's shared state: options, per-port counters and the
 * forwarding loops (fwd.c) that the main program (main.c) runs on lcores. */
#ifndef UDK_FWD_H
#define UDK_FWD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "udk_eal.h"
#include "udk_ethdev.h"

#define FWD_MAX_PORTS 8
#define FWD_MAX_QUEUES 8       /* --queues: queue pairs per port, one lcore each */
#define FWD_MAGIC 0x46574455u /* "UDWF" on the wire, little endian */
#define FWD_ETHERTYPE 0x88b5   /* IEEE local experimental */

enum fwd_mode { MODE_IO, MODE_MAC, MODE_TXONLY, MODE_RXONLY };
/* --intr-mode: what a forwarding lcore does with nothing to receive. */
enum fwd_intr { INTR_POLL, INTR_INTERRUPT, INTR_ADAPTIVE };

struct fwd_opts {
	enum fwd_mode mode;
	uint16_t ports[FWD_MAX_PORTS];
	unsigned int nb_ports;
	uint16_t pkt_size;         /* txonly frame length, FCS excluded */
	uint16_t burst;
	double duration;           /* seconds, 0 = until signalled */
	uint64_t count;            /* packets each port receives before the run ends, 0 = no limit */
	double interval;           /* statistics period in seconds */
	bool json;
	bool verify;               /* check txonly frames that arrive */
	const char *pcap;
	uint32_t nb_mbufs;
	uint16_t nb_desc;
	unsigned int tx_first;     /* bursts each port generates before forwarding */
	double link_wait;          /* seconds a link may stay down, 0 = none */
	enum fwd_intr intr;        /* --intr-mode / --idle-sleep */
	uint32_t spin;             /* adaptive: empty rounds before sleeping */
	uint32_t spin_us;          /* adaptive: µs of empty rounds instead (0: --spin) */
	double burst_gap;          /* txonly: seconds between bursts, 0 = none */
	uint16_t queues;           /* queue pairs per port, each served by its own lcore */
	uint32_t flows;            /* txonly frames as IPv4/UDP over this many flows, 0 = raw */
};

/* One lane: queue pair `queue` of a port, and its counters, written by the
 * one lcore that serves it: packets per burst, never anything per packet.
 * Bytes are the port's own counters (udk_eth_stats_get), read by the
 * statistics side (main.c).  Lane q * FWD_MAX_PORTS + i is queue q of the
 * i-th port; with one queue pair the lanes are the ports. */
struct fwd_port {
	uint16_t port;
	uint16_t queue;
	uint16_t peer;             /* the lane received packets go to (io, mac) */
	struct udk_ether_addr mac;
	_Atomic uint64_t rx, tx, dropped;
	_Atomic uint64_t valid, invalid, lost; /* --verify */
	atomic_bool removed;       /* hot-unplugged: its bursts return 0 */
	uint64_t tx_seq;           /* txonly sequence number */
	unsigned int tx_first;     /* io/mac: generated bursts still to send (--tx-first) */
	uint64_t next_seq[FWD_MAX_PORTS]; /* --verify: expected from each sender */
	double next_tx;            /* --burst-gap: when the next burst may go */
};

struct fwd {
	struct fwd_opts o;
	struct fwd_port port[FWD_MAX_QUEUES * FWD_MAX_PORTS]; /* lanes */
	struct udk_mempool *mp;
	void *pcap;                /* pcap_dumper_t *, written by the lcore of port 0 */
	atomic_bool stop;
};

/* The loop one lcore runs for lanes [first, first + n). */
struct fwd_lcore {
	struct fwd *f;
	unsigned int first, n;
	struct udk_lcore_waitset *ws; /* --intr-mode interrupt/adaptive; NULL: polls */
};
/* The lcore's wait set over its ports' rx interrupts (--intr-mode): 0, or
 * 1 after a message naming the port and the step. */
int fwd_lcore_intr_setup(struct fwd_lcore *lc);
int fwd_lcore_main(void *arg);
/* One round over the lcore's ports; 1 when it then slept (--intr-mode). */
int fwd_poll(struct fwd_lcore *lc);

/* Write a txonly frame into m (pkt_size bytes) from port p. */
int fwd_build(struct fwd *f, struct fwd_port *p, struct udk_mbuf *m);

#endif
