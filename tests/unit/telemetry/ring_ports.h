/* SPDX-License-Identifier: BSD-3-Clause */
/* ring_ports.h - what the telemetry tests share: the two crossed net_ring
 * ports they move packets between, and their EAL teardown. */
#ifndef UDK_TEST_RING_PORTS_H
#define UDK_TEST_RING_PORTS_H

#include <unistd.h>

#include "../common/unit.h"
#include "udk_eal.h"
#include "udk_ethdev.h"
#include "udk_mbuf.h"

/* Configure one queue each way (256 descriptors) and start port. */
static inline void ring_port_up(uint16_t port, struct udk_mempool *mp)
{
	struct udk_eth_conf c;
	struct udk_eth_rxq_conf rc;
	struct udk_eth_txq_conf tc;

	udk_eth_conf_init(&c, sizeof(c));
	udk_eth_rxq_conf_init(&rc, sizeof(rc));
	udk_eth_txq_conf_init(&tc, sizeof(tc));
	rc.mp = mp;
	rc.nb_desc = 256;
	tc.nb_desc = 256;
	CU_ASSERT_EQUAL_FATAL(udk_eth_dev_configure(port, &c), 0);
	CU_ASSERT_EQUAL_FATAL(udk_eth_rx_queue_setup(port, 0, &rc), 0);
	CU_ASSERT_EQUAL_FATAL(udk_eth_tx_queue_setup(port, 0, &tc), 0);
	CU_ASSERT_EQUAL_FATAL(udk_eth_dev_start(port), 0);
}

/* Close the ports, the pool and the EAL, and the socket's directory. */
static inline int ring_ports_down(struct udk_mempool *mp, const char *dir)
{
	udk_eth_close_all();
	udk_mempool_free(mp);
	udk_eal_cleanup();
	rmdir(dir);
	return 0;
}

#endif
