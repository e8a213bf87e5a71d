/* SPDX-License-Identifier: BSD-3-Clause */
/* fwd.c - udk-fwd's forwarding loops: io (as is), mac (addresses swapped),
 * txonly (a generator whose frames carry a sequence number and a pattern)
 * and rxonly (a sink that can verify those frames and write them to a pcap
 * file).  One lcore serves a set of ports; no lock on the way. */
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fwd.h"

/* Frame layout after the Ethernet header (and, with --flows, an IPv4 and a
 * UDP header): magic, sender port, sequence, then bytes that depend on
 * (sequence, offset) so any corruption shows. */
struct fwd_hdr {
	uint32_t magic;
	uint16_t sender;
	uint16_t len;
	uint64_t seq;
} __attribute__((packed));

/* A counter only this lcore writes: a plain add the statistics thread may
 * read at any time, without a locked instruction on the fast path. */
static inline void count(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

static uint8_t pattern(uint64_t seq, unsigned int i)
{
	return (uint8_t)(seq * 31 + i * 7);
}

#define IP_OFF UDK_ETHER_HDR_LEN
#define FLOW_HDR_OFF (IP_OFF + 20 + 8) /* --flows: after IPv4 and UDP */

/* --flows: an IPv4/UDP header for flow `flow` of lane p: 10.<port>.<queue>.1
 * to 10.255.0.1, UDP from 1024 + flow to 4789, a valid IPv4 checksum (RFC
 * 791), no UDP checksum (0, RFC 768).  A NIC's RSS spreads the flows. */
static void put_ipv4_udp(uint8_t *d, const struct fwd_port *p, uint32_t flow, uint16_t len)
{
	uint8_t *ip = d + IP_OFF, *udp = ip + 20;
	uint16_t ilen = (uint16_t)(len - IP_OFF), sport = (uint16_t)(1024 + flow);
	uint32_t sum = 0;

	d[12] = 0x08;
	d[13] = 0x00;
	memset(ip, 0, 28);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ilen >> 8);
	ip[3] = (uint8_t)ilen;
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, (uint8_t[]){10, (uint8_t)p->port, (uint8_t)p->queue, 1, 10, 255, 0, 1}, 8);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = (uint8_t)(~sum >> 8);
	ip[11] = (uint8_t)~sum;
	udp[0] = (uint8_t)(sport >> 8);
	udp[1] = (uint8_t)sport;
	udp[2] = 4789 >> 8;
	udp[3] = 4789 & 0xff;
	udp[4] = (uint8_t)((ilen - 20) >> 8);
	udp[5] = (uint8_t)(ilen - 20);
}

int fwd_build(struct fwd *f, struct fwd_port *p, struct udk_mbuf *m)
{
	uint16_t len = f->o.pkt_size;
	uint8_t *d = (uint8_t *)udk_pktmbuf_append(m, len);
	struct fwd_hdr h = {FWD_MAGIC, p->port, len, p->tx_seq};
	unsigned int hoff = f->o.flows ? FLOW_HDR_OFF : UDK_ETHER_HDR_LEN;
	unsigned int off = hoff + sizeof(h);

	if (d == NULL)
		return -1;
	memset(d, 0xff, 6);                 /* broadcast: every peer takes it */
	memcpy(d + 6, p->mac.b, 6);
	d[12] = FWD_ETHERTYPE >> 8;
	d[13] = FWD_ETHERTYPE & 0xff;
	if (f->o.flows)
		put_ipv4_udp(d, p, (uint32_t)(p->tx_seq % f->o.flows), len);
	memcpy(d + hoff, &h, sizeof(h));
	for (unsigned int i = off; i < len; i++)
		d[i] = pattern(p->tx_seq, i);
	p->tx_seq++;
	return 0;
}

/* Check one received frame of ours; count valid, invalid and lost ones.
 * With several queue pairs a sender's frames reach several lanes, so a
 * lane cannot tell a gap in the sequence from a frame another lane took:
 * lost is not counted then (compare the ports' tx and rx). */
static void verify(struct fwd *f, struct fwd_port *p, struct udk_mbuf *m)
{
	uint8_t buf[FLOW_HDR_OFF + sizeof(struct fwd_hdr)];
	unsigned int hoff = f->o.flows ? FLOW_HDR_OFF : UDK_ETHER_HDR_LEN;
	unsigned int hend = hoff + sizeof(struct fwd_hdr);
	struct fwd_hdr h;
	bool ok = true;

	if (m->pkt_len < hend || udk_pktmbuf_read(m, 0, hend, buf) != 0)
		return; /* not ours: somebody else's traffic */
	if (f->o.flows ? buf[12] != 0x08 || buf[13] != 0 || buf[IP_OFF + 9] != 17
		       : buf[12] != (FWD_ETHERTYPE >> 8) || buf[13] != (FWD_ETHERTYPE & 0xff))
		return;
	memcpy(&h, buf + hoff, sizeof(h));
	if (h.magic != FWD_MAGIC || h.sender >= UDK_ETH_MAX_PORTS || h.len != m->pkt_len) {
		count(&p->invalid, 1);
		return;
	}
	/* Walk the payload segment by segment. */
	uint32_t i = 0;
	for (struct udk_mbuf *s = m; s != NULL && ok; s = s->next) {
		const uint8_t *d = udk_pktmbuf_mtod(s, const uint8_t *);
		for (uint16_t k = 0; k < s->data_len; k++, i++)
			if (i >= hend && d[k] != pattern(h.seq, i)) {
				ok = false;
				break;
			}
	}
	if (!ok) {
		count(&p->invalid, 1);
		return;
	}
	count(&p->valid, 1);
	if (f->o.queues > 1)
		return;
	uint64_t *next = &p->next_seq[h.sender % FWD_MAX_PORTS];
	if (h.seq > *next)
		count(&p->lost, h.seq - *next);
	if (h.seq >= *next)
		*next = h.seq + 1;
}

static void swap_mac(struct udk_mbuf *m)
{
	uint8_t *d = udk_pktmbuf_mtod(m, uint8_t *), t[6];

	if (m->data_len < 12)
		return;
	memcpy(t, d, 6);
	memcpy(d, d + 6, 6);
	memcpy(d + 6, t, 6);
}

static void dump(struct fwd *f, struct udk_mbuf *m)
{
	struct pcap_pkthdr h;
	uint8_t buf[16384];
	uint32_t len = m->pkt_len < sizeof(buf) ? m->pkt_len : sizeof(buf);

	gettimeofday(&h.ts, NULL);
	h.caplen = len;
	h.len = m->pkt_len;
	udk_pktmbuf_read(m, 0, len, buf);
	pcap_dump(f->pcap, &h, buf);
}

/* Send n packets on port; what the port does not take is dropped.  Returns
 * how many it took.  No byte sums here: bytes come from the port's own
 * counters, read by the statistics side (main.c). */
static uint16_t send_all(struct fwd_port *p, struct udk_mbuf **pkts, uint16_t n)
{
	uint16_t sent = udk_eth_tx_burst(p->port, p->queue, pkts, n);

	if (sent < n) {
		count(&p->dropped, n - sent);
		udk_pktmbuf_free_bulk(pkts + sent, n - sent);
	}
	count(&p->tx, sent);
	return sent;
}

/* --burst-gap: whether the next txonly burst may go now. */
static bool tx_due(struct fwd *f, struct fwd_port *p)
{
	struct timespec ts;
	double t;

	if (f->o.burst_gap <= 0)
		return true;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	if (t < p->next_tx)
		return false;
	p->next_tx = t + f->o.burst_gap;
	return true;
}

/* One round on port p; true if it moved any packet (for udk_lcore_poll()). */
static bool serve(struct fwd *f, struct fwd_port *p, struct udk_mbuf **pkts)
{
	uint16_t burst = f->o.burst, n, sent = 0;

	if ((f->o.mode == MODE_TXONLY && tx_due(f, p)) || unlikely(p->tx_first > 0)) {
		uint16_t k = 0;
		if (udk_pktmbuf_alloc_bulk(f->mp, pkts, burst) == 0) {
			for (k = 0; k < burst; k++)
				if (fwd_build(f, p, pkts[k]) != 0)
					break;
			sent = send_all(p, pkts, k);
			/* Frames the port did not take were never on the wire: their
			 * sequence numbers go to the next burst, so --verify's "lost"
			 * counts only frames a port accepted and the peer never saw. */
			p->tx_seq -= k - sent;
			udk_pktmbuf_free_bulk(pkts + k, burst - k);
			if (p->tx_first > 0)
				p->tx_first--;
		}
	}
	if (f->o.count) {
		/* --count: this port takes exactly count packets, then no more
		 * (only this lcore writes p->rx). */
		uint64_t got = atomic_load_explicit(&p->rx, memory_order_relaxed);

		if (got >= f->o.count)
			return sent > 0;
		if (f->o.count - got < burst)
			burst = (uint16_t)(f->o.count - got);
	}
	n = udk_eth_rx_burst(p->port, p->queue, pkts, burst);
	if (n == 0)
		return sent > 0;
	count(&p->rx, n); /* per burst; bytes are the port's (main.c) */
	if (f->o.verify)
		for (uint16_t i = 0; i < n; i++)
			verify(f, p, pkts[i]);
	if (f->pcap != NULL && p == &f->port[0])
		for (uint16_t i = 0; i < n; i++)
			dump(f, pkts[i]);
	switch (f->o.mode) {
	case MODE_MAC:
		for (uint16_t i = 0; i < n; i++)
			swap_mac(pkts[i]);
		/* fall through */
	case MODE_IO:
		send_all(&f->port[p->peer], pkts, n);
		break;
	default:
		udk_pktmbuf_free_bulk(pkts, n);
	}
	return true;
}

int fwd_poll(struct fwd_lcore *lc)
{
	struct udk_mbuf *pkts[512];
	bool busy = false;

	for (unsigned int i = lc->first; i < lc->first + lc->n; i++)
		busy |= serve(lc->f, &lc->f->port[i], pkts);
	udk_lcore_poll(busy); /* telemetry's busy/idle poll counts */
	/* Sleeps once idle long enough (--intr-mode). */
	return lc->ws != NULL ? udk_lcore_waitset_idle(lc->ws, busy) : 0;
}

/* A wait source per port: its rx queue's interrupt (udk_ethdev.h). */
static int arm_port(void *arg)
{
	struct fwd_port *p = arg;

	return udk_eth_rx_intr_arm(p->port, p->queue);
}

static void disarm_port(void *arg)
{
	struct fwd_port *p = arg;

	udk_eth_rx_intr_disarm(p->port, p->queue);
}

int fwd_lcore_intr_setup(struct fwd_lcore *lc)
{
	struct fwd *f = lc->f;
	struct udk_lcore_wait_opts wo;
	int rc;

	udk_lcore_wait_opts_init(&wo, sizeof(wo));
	wo.spin_polls = f->o.intr == INTR_INTERRUPT ? 0 : f->o.spin;
	wo.spin_us = f->o.intr == INTR_ADAPTIVE ? f->o.spin_us : 0;
	/* A paced generator must wake for its next burst: no sleep past it. */
	if (f->o.burst_gap > 0 && f->o.burst_gap * 1e3 < wo.max_sleep_ms)
		wo.max_sleep_ms = f->o.burst_gap * 1e3 < 1 ? 1 : (int)(f->o.burst_gap * 1e3);
	rc = udk_lcore_waitset_create(&wo, &lc->ws);
	if (rc < 0) {
		fprintf(stderr, "udk-fwd: --intr-mode: wait set: %s\n", udk_last_error());
		return 1;
	}
	for (unsigned int i = lc->first; i < lc->first + lc->n; i++) {
		struct fwd_port *p = &f->port[i];
		struct udk_lcore_wait_source src = {.arm = arm_port, .disarm = disarm_port,
						    .arg = p};

		rc = udk_eth_rx_intr_fd(p->port, p->queue, &src.fd);
		if (rc == 0)
			rc = udk_lcore_waitset_add(lc->ws, &src);
		if (rc < 0) {
			fprintf(stderr, "udk-fwd: --intr-mode: port %u: %s\n",
				p->port, udk_last_error());
			return 1;
		}
	}
	return 0;
}

int fwd_lcore_main(void *arg)
{
	struct fwd_lcore *lc = arg;

	while (!atomic_load_explicit(&lc->f->stop, memory_order_relaxed))
		fwd_poll(lc);
	udk_mempool_cache_flush(lc->f->mp);
	return 0;
}
