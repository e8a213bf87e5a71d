/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit test for udk-fwd's byte figures (portbytes.c) over a real net_ring
 * port: the baseline ignores what the port counted before, each read adds
 * what the port's counters grew by (the frames' lengths), a stats reset in
 * between never makes the figures go backwards, and a failed read (a port
 * that is gone) leaves them as they were. */
#include <errno.h>
#include <string.h>

#include "../../tests/unit/common/unit.h"
#include "portbytes.h"
#include "udk_eal.h"
#include "udk_ethdev.h"
#include "udk_mbuf.h"

static struct udk_mempool *mp;
static uint16_t port;

static int setup(void)
{
	char *argv[] = {"test", "--no-huge", "-m", "64", "-l", "0", "--vdev", "net_ring0", NULL};
	struct udk_eth_conf c;
	struct udk_eth_rxq_conf rc;
	struct udk_eth_txq_conf tc;

	if (udk_eal_init(8, argv) != 8 ||
	    udk_pktmbuf_pool_create("pkts", 256, 0, 0, UDK_SOCKET_ANY, &mp) != 0 ||
	    udk_eth_dev_find("net_ring0", &port) != 0)
		return 1;
	udk_eth_conf_init(&c, sizeof(c));
	udk_eth_rxq_conf_init(&rc, sizeof(rc));
	udk_eth_txq_conf_init(&tc, sizeof(tc));
	rc.mp = mp;
	return udk_eth_dev_configure(port, &c) || udk_eth_rx_queue_setup(port, 0, &rc) ||
	       udk_eth_tx_queue_setup(port, 0, &tc) || udk_eth_dev_start(port);
}

static int teardown(void)
{
	udk_eth_close_all();
	udk_mempool_free(mp);
	udk_eal_cleanup();
	return 0;
}

/* Send n frames of len bytes through the loopback port and take them back. */
static void loop(unsigned int n, uint16_t len)
{
	struct udk_mbuf *m[16];

	CU_ASSERT_FATAL(n <= 16);
	CU_ASSERT_EQUAL_FATAL(udk_pktmbuf_alloc_bulk(mp, m, n), 0);
	for (unsigned int i = 0; i < n; i++) {
		void *d = udk_pktmbuf_append(m[i], len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		memset(d, 0xab, len);
	}
	CU_ASSERT_EQUAL(udk_eth_tx_burst(port, 0, m, (uint16_t)n), n);
	CU_ASSERT_EQUAL(udk_eth_rx_burst(port, 0, m, 16), n);
	udk_pktmbuf_free_bulk(m, n);
}

static void test_bytes(void)
{
	struct fwd_bytes b = {0};
	struct udk_eth_stats st;

	loop(3, 100); /* before the run: not udk-fwd's */
	CU_ASSERT_EQUAL(fwd_bytes_read(&b, port), 0);
	CU_ASSERT(b.based);
	CU_ASSERT_EQUAL(b.rx, 0);
	CU_ASSERT_EQUAL(b.tx, 0);

	loop(5, 60);
	loop(2, 1514);
	CU_ASSERT_EQUAL(fwd_bytes_read(&b, port), 0);
	CU_ASSERT_EQUAL(b.rx, 5 * 60 + 2 * 1514); /* the frames' lengths, nothing more */
	CU_ASSERT_EQUAL(b.tx, 5 * 60 + 2 * 1514);
	CU_ASSERT_EQUAL(udk_eth_stats_get(port, &st), 0);
	CU_ASSERT_EQUAL(st.ibytes, 300 + b.rx);

	/* Somebody resets the port's counters: what they hold after is new. */
	CU_ASSERT_EQUAL(udk_eth_stats_reset(port), 0);
	loop(4, 70);
	CU_ASSERT_EQUAL(fwd_bytes_read(&b, port), 0);
	CU_ASSERT_EQUAL(b.rx, 5 * 60 + 2 * 1514 + 4 * 70);
	CU_ASSERT_EQUAL(b.tx, 5 * 60 + 2 * 1514 + 4 * 70);

	/* A read that fails (here a port that is not there; a removed one
	 * answers -UDK_EREMOVED with zeros) keeps the figures. */
	struct fwd_bytes gone = b;
	CU_ASSERT_EQUAL(fwd_bytes_read(&gone, UDK_ETH_MAX_PORTS - 1), -ENODEV);
	CU_ASSERT_EQUAL(memcmp(&gone, &b, sizeof(b)), 0);
	CU_ASSERT_EQUAL(fwd_bytes_read(&b, port), 0); /* nothing moved: nothing added */
	CU_ASSERT_EQUAL(b.rx, 5 * 60 + 2 * 1514 + 4 * 70);
}

int main(void)
{
	static const struct unit_test t[] = {{"bytes from the port's counters", test_bytes}};

	unit_quiet_logs();
	if (unit_add("fwd-bytes", setup, teardown, t, 1))
		return 1;
	return unit_run_all();
}
