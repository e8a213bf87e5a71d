/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for lib/ethdev with the net_ring driver: probing from --vdev,
 * every control call's checks (unknown port, queue counts and descriptor
 * numbers over the limits, missing mempool, wrong state), packets both ways
 * between two crossed ports with contents and statistics verified, frames
 * over the MTU dropped and counted, a stopped port moving nothing, link
 * events delivered to callbacks. */
#include <errno.h>

#include "../common/unit.h"
#include "udk_eal.h"
#include "udk_ethdev.h"
#include "udk_ethdev_driver.h"
#include "udk_mbuf.h"

static struct udk_mempool *mp;
static uint16_t p0, p1;

static int setup(void)
{
	char *argv[] = {"test", "--no-huge", "-m", "64", "-l", "0", "--vdev", "net_ring0",
			"--vdev", "net_ring1,peer=net_ring0", NULL};

	if (udk_eal_init(10, argv) != 10)
		return 1;
	if (udk_pktmbuf_pool_create("pkts", 512, 32, 0, UDK_SOCKET_ANY, &mp) != 0)
		return 1;
	return 0;
}

static int teardown(void)
{
	udk_eth_close_all();
	udk_mempool_free(mp);
	udk_eal_cleanup();
	return 0;
}

static void test_probe(void)
{
	struct udk_eth_dev_info info;
	struct udk_ether_addr mac;

	CU_ASSERT_EQUAL(udk_eth_probe_eal(), 2);
	CU_ASSERT_EQUAL(udk_eth_dev_count(), 2);
	CU_ASSERT_EQUAL(udk_eth_dev_find("net_ring0", &p0), 0);
	CU_ASSERT_EQUAL(udk_eth_dev_find("net_ring1", &p1), 0);
	CU_ASSERT_EQUAL(udk_eth_dev_find("net_ring9", &p1), -ENODEV);
	CU_ASSERT_EQUAL(udk_eth_dev_find("net_ring1", &p1), 0);
	CU_ASSERT_EQUAL(udk_eth_dev_info_get(p1, &info), 0);
	CU_ASSERT_STRING_EQUAL(info.driver, "net_ring");
	CU_ASSERT_STRING_EQUAL(info.name, "net_ring1");
	CU_ASSERT_EQUAL(udk_eth_macaddr_get(p1, &mac), 0);
	CU_ASSERT_EQUAL(mac.b[0] & 2, 2); /* locally administered */
	/* Bad software devices. */
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_eth_probe_vdev("net_tap0", NULL), -ENODEV);
	CU_ASSERT_LAST_ERROR_HAS("no driver takes this name (known: ");
	CU_ASSERT_LAST_ERROR_HAS("net_ring*"); /* among other drivers' prefixes */
	CU_ASSERT_EQUAL(udk_eth_probe_vdev("net_ring0", NULL), -EEXIST);
	CU_ASSERT_EQUAL(udk_eth_probe_vdev("net_ring5,speed=9", NULL), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("takes only peer=NAME");
	CU_ASSERT_EQUAL(udk_eth_probe_vdev("net_ring5,peer=net_ring0", NULL), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("without a peer of its own");
	CU_ASSERT_EQUAL(udk_eth_probe_vdev(",x", NULL), -EINVAL);
	CU_ASSERT_EQUAL(udk_eth_dev_count(), 2);
}

static void test_control_checks(void)
{
	struct udk_eth_conf c;
	struct udk_eth_rxq_conf rc;
	struct udk_eth_txq_conf tc;
	struct udk_eth_stats st;

	udk_eth_conf_init(&c, sizeof(c));
	udk_eth_rxq_conf_init(&rc, sizeof(rc));
	udk_eth_txq_conf_init(&tc, sizeof(tc));
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_eth_dev_configure(99, &c), -ENODEV);
	CU_ASSERT_LAST_ERROR_HAS("port 99 does not exist");
	CU_ASSERT_EQUAL(udk_eth_stats_get(UDK_ETH_MAX_PORTS + 3, &st), -ENODEV);
	CU_ASSERT_EQUAL(udk_eth_dev_start(p0), -EBUSY); /* not configured */
	CU_ASSERT_LAST_ERROR_HAS("configure the port first");
	CU_ASSERT_EQUAL(udk_eth_rx_queue_setup(p0, 0, &rc), -EBUSY);
	c.nb_rx_queues = UDK_ETH_MAX_QUEUES + 1;
	CU_ASSERT_EQUAL(udk_eth_dev_configure(p0, &c), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("the device has 1..16 rx");
	c.nb_rx_queues = 1;
	c.mtu = 20000;
	CU_ASSERT_EQUAL(udk_eth_dev_configure(p0, &c), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("MTU 20000 is outside");
	c.mtu = UDK_ETHER_MTU;
	{
		/* net_ring has no RSS: its limits are 0, and a key or table is
		 * refused by name, at configure and after it. */
		static const uint8_t key[40] = {1};
		static const uint16_t reta[128];
		struct udk_eth_rss_conf rss = {.reta = reta, .reta_len = 128};
		uint16_t kl = 9, rl = 9;

		CU_ASSERT_EQUAL(udk_eth_dev_rss_limits(p0, &kl, &rl), 0);
		CU_ASSERT_EQUAL(kl, 0);
		CU_ASSERT_EQUAL(rl, 0);
		CU_ASSERT_EQUAL(udk_eth_dev_rss_limits(99, &kl, &rl), -ENODEV);
		CU_ASSERT_EQUAL(udk_eth_dev_rss_update(p0, &rss), -EBUSY);
		CU_ASSERT_LAST_ERROR_HAS("RSS update of port 0: configure the port first");
		c.rss.key = key;
		c.rss.key_len = 40;
		CU_ASSERT_EQUAL(udk_eth_dev_configure(p0, &c), -ENOTSUP);
		CU_ASSERT_LAST_ERROR_HAS("an RSS key was given, but the device (driver net_ring) "
					 "has no RSS configuration to set");
		c.rss = (struct udk_eth_rss_conf){0};
		CU_ASSERT_EQUAL(udk_eth_dev_configure(p0, &c), 0);
		CU_ASSERT_EQUAL(udk_eth_dev_rss_update(p0, &rss), -ENOTSUP);
		CU_ASSERT_LAST_ERROR_HAS("an RSS table was given");
	}
	CU_ASSERT_EQUAL(udk_eth_dev_configure(p0, &c), 0);
	CU_ASSERT_EQUAL(udk_eth_rx_queue_setup(p0, 0, &rc), -EINVAL); /* no mempool */
	CU_ASSERT_LAST_ERROR_HAS("no mempool");
	{
		/* A pool on another map's memory: the device could not reach it. */
		struct udk_dmamap_opts mo;
		struct udk_dmamap *b;
		struct udk_mem *mb;
		struct udk_mempool *mpb;

		CU_ASSERT_PTR_EQUAL(udk_eth_dev_mem(p0), udk_eal_mem());
		CU_ASSERT_PTR_NULL(udk_eth_dev_mem(99));
		udk_dmamap_opts_init(&mo, sizeof(mo));
		mo.backend = UDK_DMAMAP_VFIO_TYPE1;
		mo.name = "B";
		CU_ASSERT_EQUAL_FATAL(udk_dmamap_create(&mo, &b), 0);
		CU_ASSERT_EQUAL_FATAL(udk_eal_map_mem_get(b, &mb), 0);
		CU_ASSERT_EQUAL_FATAL(udk_pktmbuf_pool_create_mem(mb, "pkts-b", 64, 0, 0,
								  UDK_SOCKET_ANY, &mpb), 0);
		rc.mp = mpb;
		CU_ASSERT_EQUAL(udk_eth_rx_queue_setup(p0, 0, &rc), -EINVAL);
		CU_ASSERT_LAST_ERROR_HAS("mempool pkts-b is memory of map B, but the port's "
					 "device is on map default; create the pool on "
					 "udk_eth_dev_mem(");
		udk_mempool_free(mpb);
		udk_eal_map_mem_put(mb);
		udk_dmamap_put(b);
	}
	rc.mp = mp;
	rc.nb_desc = 5000;
	CU_ASSERT_EQUAL(udk_eth_rx_queue_setup(p0, 0, &rc), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("5000 descriptors is outside the device's 1..4096");
	CU_ASSERT_EQUAL(udk_eth_rx_queue_setup(p0, 1, &rc), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("configured with 1 rx queues");
	CU_ASSERT_EQUAL(udk_eth_dev_start(p0), -EINVAL); /* queues missing */
	CU_ASSERT_LAST_ERROR_HAS("set up every configured");
}

static int up(uint16_t port)
{
	struct udk_eth_conf c;
	struct udk_eth_rxq_conf rc;
	struct udk_eth_txq_conf tc;

	udk_eth_conf_init(&c, sizeof(c));
	udk_eth_rxq_conf_init(&rc, sizeof(rc));
	udk_eth_txq_conf_init(&tc, sizeof(tc));
	rc.mp = mp;
	if (udk_eth_dev_configure(port, &c) || udk_eth_rx_queue_setup(port, 0, &rc) ||
	    udk_eth_tx_queue_setup(port, 0, &tc))
		return -1;
	return 0;
}

/* n frames of len bytes whose payload says (tag, i). */
static int make(struct udk_mbuf **ms, unsigned int n, uint16_t len, uint8_t tag)
{
	if (udk_pktmbuf_alloc_bulk(mp, ms, n) != 0)
		return -1;
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *p = (uint8_t *)udk_pktmbuf_append(ms[i], len);
		if (p == NULL || len < 16)
			return -1;
		memset(p, 0xff, 6);
		memset(p + 6, 0x02, 6);
		p[12] = 0x88;
		p[13] = 0xb5;
		p[14] = tag;
		p[15] = (uint8_t)i;
	}
	return 0;
}

static void test_traffic_both_ways(void)
{
	struct udk_mbuf *tx[32], *rx[64];
	struct udk_eth_stats st0, st1;
	struct udk_eth_link link;

	CU_ASSERT_EQUAL_FATAL(up(p0), 0);
	CU_ASSERT_EQUAL_FATAL(up(p1), 0);
	/* Not started yet: nothing moves, nothing crashes. */
	CU_ASSERT_EQUAL(udk_eth_rx_burst(p0, 0, rx, 32), 0);
	CU_ASSERT_EQUAL(udk_eth_dev_start(p0), 0);
	CU_ASSERT_EQUAL(udk_eth_dev_start(p1), 0);
	CU_ASSERT_EQUAL(udk_eth_link_get(p1, &link), 0);
	CU_ASSERT_TRUE(link.up);
	CU_ASSERT_EQUAL(udk_eth_rx_burst(p0, 7, rx, 32), 0); /* a queue it does not have */
	CU_ASSERT_EQUAL(udk_eth_tx_burst(UDK_ETH_MAX_PORTS + 1, 0, tx, 1), 0);

	for (uint8_t dir = 0; dir < 2; dir++) {
		uint16_t from = dir ? p0 : p1, to = dir ? p1 : p0;
		CU_ASSERT_EQUAL_FATAL(make(tx, 32, 64, dir), 0);
		CU_ASSERT_EQUAL(udk_eth_tx_burst(from, 0, tx, 32), 32);
		CU_ASSERT_EQUAL(udk_eth_rx_burst(from, 0, rx, 64), 0); /* crossed, not looped */
		uint16_t n = udk_eth_rx_burst(to, 0, rx, 64);
		CU_ASSERT_EQUAL(n, 32);
		for (uint16_t i = 0; i < n; i++) {
			uint8_t *p = udk_pktmbuf_mtod(rx[i], uint8_t *);
			CU_ASSERT_EQUAL(rx[i]->pkt_len, 64);
			CU_ASSERT_EQUAL(p[14], dir);
			CU_ASSERT_EQUAL(p[15], i); /* in order */
		}
		udk_pktmbuf_free_bulk(rx, n);
	}
	CU_ASSERT_EQUAL(udk_eth_stats_get(p0, &st0), 0);
	CU_ASSERT_EQUAL(udk_eth_stats_get(p1, &st1), 0);
	CU_ASSERT_EQUAL(st0.opackets, 32);
	CU_ASSERT_EQUAL(st0.ipackets, 32);
	CU_ASSERT_EQUAL(st1.obytes, 32 * 64);
	CU_ASSERT_EQUAL(st1.ibytes, 32 * 64);
	CU_ASSERT_EQUAL(udk_mempool_avail_count(mp), 512); /* nothing leaked */
}

static void test_mtu_and_stop(void)
{
	struct udk_mbuf *tx[4], *rx[8];
	struct udk_eth_stats st;

	CU_ASSERT_EQUAL(udk_eth_stats_reset(p1), 0);
	CU_ASSERT_EQUAL_FATAL(make(tx, 2, 60, 7), 0);
	CU_ASSERT_EQUAL_FATAL(make(tx + 2, 1, 1600, 8), 0); /* over 1500 + 14 */
	CU_ASSERT_EQUAL_FATAL(make(tx + 3, 1, 60, 9), 0);
	CU_ASSERT_EQUAL(udk_eth_tx_burst(p1, 0, tx, 4), 4);
	CU_ASSERT_EQUAL(udk_eth_stats_get(p1, &st), 0);
	CU_ASSERT_EQUAL(st.oerrors, 1);
	CU_ASSERT_EQUAL(st.opackets, 3);
	uint16_t n = udk_eth_rx_burst(p0, 0, rx, 8);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(udk_pktmbuf_mtod(rx[2], uint8_t *)[14], 9);
	udk_pktmbuf_free_bulk(rx, n);

	CU_ASSERT_EQUAL(udk_eth_dev_stop(p0), 0);
	CU_ASSERT_EQUAL_FATAL(make(tx, 1, 60, 1), 0);
	CU_ASSERT_EQUAL(udk_eth_tx_burst(p0, 0, tx, 1), 0); /* stopped: the caller keeps it */
	udk_pktmbuf_free(tx[0]);
	CU_ASSERT_EQUAL(udk_eth_dev_configure(p1, &(struct udk_eth_conf){.opts_size = sizeof(size_t)}),
			-EBUSY); /* p1 still started */
	CU_ASSERT_LAST_ERROR_HAS("stop the port first");
	/* Closing p0 unhooks p1's transmit queue from p0's receive ring. */
	CU_ASSERT_EQUAL(udk_eth_dev_close(p0), 0);
	CU_ASSERT_FALSE(udk_eth_dev_is_valid(p0));
	CU_ASSERT_EQUAL_FATAL(make(tx, 1, 60, 1), 0);
	CU_ASSERT_EQUAL(udk_eth_tx_burst(p1, 0, tx, 1), 0);
	udk_pktmbuf_free(tx[0]);
	CU_ASSERT_EQUAL(udk_mempool_avail_count(mp), 512);
}

/* Link events: what a driver reports reaches every registered callback with
 * its port and state; registration is checked; after unregister nothing. */
static struct {
	int calls;
	uint16_t port;
	bool up;
} seen[2];

static void on_link(uint16_t port, const struct udk_eth_link *l, void *arg)
{
	int i = (int)(intptr_t)arg;

	seen[i].calls++;
	seen[i].port = port;
	seen[i].up = l->up;
}

static void test_link_events(void)
{
	struct udk_eth_link down = {.up = false}, up = {.up = true, .full_duplex = true};

	memset(seen, 0, sizeof(seen));
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_eth_link_event_register(NULL, NULL), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("no callback given");
	CU_ASSERT_EQUAL(udk_eth_link_event_register(on_link, (void *)0), 0);
	CU_ASSERT_EQUAL(udk_eth_link_event_register(on_link, (void *)0), -EEXIST);
	CU_ASSERT_EQUAL(udk_eth_link_event_register(on_link, (void *)1), 0);
	udk_eth_link_event(p1, &down);
	CU_ASSERT_EQUAL(seen[0].calls, 1);
	CU_ASSERT_EQUAL(seen[1].calls, 1);
	CU_ASSERT_EQUAL(seen[0].port, p1);
	CU_ASSERT_FALSE(seen[1].up);
	CU_ASSERT_EQUAL(udk_eth_link_event_unregister(on_link, (void *)0), 0);
	CU_ASSERT_EQUAL(udk_eth_link_event_unregister(on_link, (void *)0), -ENOENT);
	udk_eth_link_event(p1, &up);
	CU_ASSERT_EQUAL(seen[0].calls, 1);
	CU_ASSERT_EQUAL(seen[1].calls, 2);
	CU_ASSERT_TRUE(seen[1].up);
	CU_ASSERT_EQUAL(udk_eth_link_event_unregister(on_link, (void *)1), 0);
	/* Eight slots, and a clear message when they are taken. */
	for (intptr_t i = 0; i < 8; i++)
		CU_ASSERT_EQUAL(udk_eth_link_event_register(on_link, (void *)(i + 10)), 0);
	CU_ASSERT_EQUAL(udk_eth_link_event_register(on_link, (void *)99), -ENOSPC);
	CU_ASSERT_LAST_ERROR_HAS("all 8 callback slots are taken");
	for (intptr_t i = 0; i < 8; i++)
		CU_ASSERT_EQUAL(udk_eth_link_event_unregister(on_link, (void *)(i + 10)), 0);
}

int main(void)
{
	static const struct unit_test t[] = {
		{"probe from --vdev, and bad devices", test_probe},
		{"control calls check ports, queues and state", test_control_checks},
		{"traffic both ways between crossed ports", test_traffic_both_ways},
		{"link events reach the callbacks", test_link_events},
		{"frames over the MTU, stop and close", test_mtu_and_stop},
	};

	unit_quiet_logs();
	if (unit_add("ethdev", setup, teardown, t, UDK_ARRAY_SIZE(t)))
		return 1;
	return unit_run_all();
}
