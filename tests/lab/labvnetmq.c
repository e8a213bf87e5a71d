/* SPDX-License-Identifier: BSD-3-Clause */
/* labvnetmq.c - see labvnetmq.h. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "labvnetmq.h"
#include "udk_eal.h"
#include "udk_ethdev.h"
#include "udk_mbuf.h"

uint64_t lab_vnetmq_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int parse_mac(const char *s, uint8_t m[6])
{
	return s != NULL && sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3],
				   &m[4], &m[5]) == 6 ? 0 : -1;
}

void lab_vnetmq_open(struct lab_vnetmq *t, const char *prog, uint32_t nb_mbuf)
{
	static const char *env[2] = {"UDK_LAB_MAC_VNETMQ0", "UDK_LAB_MAC_VNETMQ1"};

	memset(t, 0, sizeof(*t));
	t->label[0] = "vnetmq0 (split)";
	t->label[1] = "vnetmq1 (packed)";
	t->nb_mbuf = nb_mbuf;
	lab_require_guest();
	if (lab_env(env[0]) == NULL || lab_env(env[1]) == NULL)
		lab_skip("the lab has no tap-backed virtio-net: lab.py could not make its taps "
			 "(it says why on the host; it needs CAP_NET_ADMIN)");
	/* vnet0 is the first 1af4:1041; these follow it (lab.py slots 0x18,
	 * 0x19); the MAC check below proves which is which. */
	for (int d = 0; d < 2; d++) {
		REQUIRE(parse_mac(lab_env(env[d]), t->mac[d]) == 0);
		REQUIRE(lab_find_device(0x1af4, 0x1041, (unsigned int)d + 1, t->bdf[d]) == 0);
		lab_device_driver(t->bdf[d], t->drv[d], sizeof(t->drv[d]));
		printf("%s: %s (driver '%s')\n", t->label[d], t->bdf[d], t->drv[d]);
		REQUIRE(lab_bind_vfio(t->bdf[d]) == 0);
	}
	t->kmsg = lab_kmsg_mark();
	char *argv[] = {(char *)prog, "--log-level", "info", "-m", "64", "-a", t->bdf[0], "-a",
			t->bdf[1], NULL};
	REQUIRE(udk_eal_init(9, argv) == 9);
	REQUIRE(udk_pktmbuf_pool_create(prog, nb_mbuf, 64, 0, UDK_SOCKET_ANY, &t->mp) == 0);
	REQUIRE(udk_eth_probe_eal() == 2);
	for (int d = 0; d < 2; d++) {
		struct udk_ether_addr a;

		REQUIRE(udk_eth_dev_find(t->bdf[d], &t->port[d]) == 0);
		CHECK(udk_eth_macaddr_get(t->port[d], &a) == 0);
		CHECK_MSG(memcmp(a.b, t->mac[d], 6) == 0, "%s: MAC %02x:%02x:%02x:%02x:%02x:%02x "
			  "is not the lab's for this device", t->label[d], a.b[0], a.b[1], a.b[2],
			  a.b[3], a.b[4], a.b[5]);
	}
}

void lab_vnetmq_close(struct lab_vnetmq *t)
{
	char line[256];

	CHECK_MSG(udk_mempool_avail_count(t->mp) == t->nb_mbuf, "%u of %u mbufs in the pool "
		  "after close", udk_mempool_avail_count(t->mp), t->nb_mbuf);
	udk_mempool_free(t->mp);
	CHECK_MSG(lab_kmsg_find(t->kmsg, "DMAR: \\[DMA", 0, line, sizeof(line)) == 0,
		  "DMA fault: %s", line);
	udk_eal_cleanup();
	for (int d = 0; d < 2; d++)
		CHECK(lab_bind(t->bdf[d], t->drv[d][0] ? t->drv[d] : NULL) == 0);
}

void lab_vnetmq_port_up(uint16_t port, struct udk_mempool *mp, uint32_t mtu,
			uint64_t rx_offloads, uint64_t tx_offloads)
{
	struct udk_eth_conf conf;
	struct udk_eth_rxq_conf rxc;
	struct udk_eth_txq_conf txc;

	udk_eth_conf_init(&conf, sizeof(conf));
	conf.mtu = mtu;
	conf.rx_offloads = rx_offloads;
	conf.tx_offloads = tx_offloads;
	REQUIRE(udk_eth_dev_configure(port, &conf) == 0);
	udk_eth_rxq_conf_init(&rxc, sizeof(rxc));
	rxc.mp = mp;
	rxc.nb_desc = 256;
	udk_eth_txq_conf_init(&txc, sizeof(txc));
	txc.nb_desc = 256;
	REQUIRE(udk_eth_rx_queue_setup(port, 0, &rxc) == 0);
	REQUIRE(udk_eth_tx_queue_setup(port, 0, &txc) == 0);
	REQUIRE(udk_eth_dev_start(port) == 0);
	CHECK(udk_eth_stats_reset(port) == 0);
}

struct udk_mbuf *lab_vnetmq_chain(struct udk_mempool *mp, const uint8_t *f, uint32_t len,
				  uint16_t seg)
{
	struct udk_mbuf *head = NULL;

	for (uint32_t off = 0; off < len; off += seg) {
		uint16_t n = (uint16_t)(len - off < seg ? len - off : seg);
		struct udk_mbuf *m = udk_pktmbuf_alloc(mp);

		if (m == NULL || udk_pktmbuf_append(m, n) == NULL ||
		    (head != NULL && udk_pktmbuf_chain(head, m) != 0)) {
			udk_pktmbuf_free(m);
			udk_pktmbuf_free(head);
			return NULL;
		}
		memcpy(udk_pktmbuf_mtod(m, uint8_t *), f + off, n);
		if (head == NULL)
			head = m;
	}
	return head;
}

#define TRIP_BURST 8

void lab_vnetmq_round_trip(uint16_t port, uint32_t n, uint32_t in_flight, uint16_t *seen,
			   struct udk_mbuf *(*make)(uint32_t i, void *arg),
			   int (*check)(const struct udk_mbuf *m, void *arg), void *arg,
			   uint64_t timeout_ms, struct lab_trip *r)
{
	struct udk_mbuf *pkts[TRIP_BURST];
	uint64_t t0 = lab_vnetmq_ms(), t_last = t0;

	memset(r, 0, sizeof(*r));
	memset(seen, 0, n * sizeof(*seen));
	while ((r->sent < n || r->got < n) && lab_vnetmq_ms() < t0 + timeout_ms) {
		if (r->sent < n && r->sent - r->got < in_flight) {
			uint16_t k = 0, took;

			while (k < TRIP_BURST && r->sent + k < n && r->sent + k - r->got < in_flight) {
				pkts[k] = make(r->sent + k, arg);
				REQUIRE(pkts[k] != NULL);
				k++;
			}
			took = udk_eth_tx_burst(port, 0, pkts, k);
			udk_pktmbuf_free_bulk(pkts + took, (unsigned int)(k - took));
			r->sent += took;
		}
		uint16_t got = udk_eth_rx_burst(port, 0, pkts, TRIP_BURST);

		for (uint16_t j = 0; j < got; j++) {
			int i = check(pkts[j], arg);

			if (i >= 0 && (uint32_t)i < n) {
				if (seen[i]++ == 0)
					r->got++;
				else
					r->dup++;
			} else {
				r->bad += i == -2;
				r->other += i == -1;
			}
		}
		udk_pktmbuf_free_bulk(pkts, got);
		/* A lost frame stalls the window. */
		if (got != 0)
			t_last = lab_vnetmq_ms();
		else if (lab_vnetmq_ms() > t_last + 10000)
			break;
	}
	r->ms = lab_vnetmq_ms() - t0;
}
