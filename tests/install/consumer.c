/* SPDX-License-Identifier: BSD-3-Clause */
/* consumer.c - a program built outside udk's tree against an installed udk,
 * through pkg-config only (tests/install/consumer.sh builds it shared and
 * static, as C and as C++).  It uses both include forms, starts the EAL on
 * ordinary memory, and sends packets through a net_ring port (--vdev
 * net_ring0: a loopback), a ring and a mempool.  Exit 0 and "consumer: ok"
 * when all of it worked. */
#include <stdio.h>
#include <string.h>

#include <udk/udk_eal.h>
#include <udk/udk_ethdev.h>
#include <udk_mbuf.h>
#include <udk_ring.h>

#define NB 8
#ifdef __cplusplus
#define LANG_NAME "C++"
#else
#define LANG_NAME "C"
#endif

static int fail(const char *step)
{
	fprintf(stderr, "consumer: %s: %s\n", step, udk_last_error());
	return 1;
}

/* NB packets through the port's loopback: 0, or 1 with a message. */
static int loopback(uint16_t port, struct udk_mempool *mp)
{
	struct udk_eth_conf conf;
	struct udk_eth_rxq_conf rxc;
	struct udk_eth_txq_conf txc;
	struct udk_mbuf *pkts[NB];
	unsigned int got = 0;

	udk_eth_conf_init(&conf, sizeof(conf));
	udk_eth_rxq_conf_init(&rxc, sizeof(rxc));
	rxc.mp = mp;
	udk_eth_txq_conf_init(&txc, sizeof(txc));
	if (udk_eth_dev_configure(port, &conf) < 0 || udk_eth_rx_queue_setup(port, 0, &rxc) < 0 ||
	    udk_eth_tx_queue_setup(port, 0, &txc) < 0 || udk_eth_dev_start(port) < 0)
		return fail("net_ring0");
	if (udk_pktmbuf_alloc_bulk(mp, pkts, NB) != 0)
		return fail("udk_pktmbuf_alloc_bulk");
	for (unsigned int i = 0; i < NB; i++)
		memset(udk_pktmbuf_append(pkts[i], 64), (int)i, 64);
	if (udk_eth_tx_burst(port, 0, pkts, NB) != NB)
		return fail("udk_eth_tx_burst");
	for (int tries = 0; got < NB && tries < 1000; tries++)
		got += udk_eth_rx_burst(port, 0, pkts + got, (uint16_t)(NB - got));
	if (got != NB) {
		fprintf(stderr, "consumer: net_ring0 gave back %u of %u packets\n", got, NB);
		return 1;
	}
	for (unsigned int i = 0; i < NB; i++)
		if (pkts[i]->pkt_len != 64 || *udk_pktmbuf_mtod(pkts[i], unsigned char *) != i) {
			fprintf(stderr, "consumer: packet %u came back changed\n", i);
			return 1;
		}
	udk_pktmbuf_free_bulk(pkts, NB);
	udk_eth_dev_stop(port);
	udk_eth_dev_close(port);
	return 0;
}

int main(int argc, char **argv)
{
	char *eal[] = {argv[0], (char *)"--no-huge", (char *)"-m", (char *)"32", (char *)"-l",
		       (char *)"0", (char *)"--vdev", (char *)"net_ring0", NULL};
	struct udk_mempool *mp = NULL;
	struct udk_ring *r = NULL;
	void *in[4] = {&mp, &r, &argc, argv}, *out[4];
	int ret = 1;

	(void)argc;
	if (udk_eal_init(8, eal) < 0)
		return fail("udk_eal_init");
	if (udk_eth_probe_eal() != 1) {
		fail("udk_eth_probe_eal");
		goto err_eal;
	}
	if (udk_ring_create("consumer", 16, 0, &r) < 0) {
		fail("udk_ring_create");
		goto err_eal;
	}
	if (udk_ring_enqueue_bulk(r, in, 4) != 4 || udk_ring_dequeue_bulk(r, out, 4) != 4 ||
	    memcmp(in, out, sizeof(in)) != 0) {
		fprintf(stderr, "consumer: the ring did not give back what went in\n");
		goto err_ring;
	}
	if (udk_pktmbuf_pool_create("consumer", 255, 0, 0, UDK_SOCKET_ANY, &mp) < 0) {
		fail("udk_pktmbuf_pool_create");
		goto err_ring;
	}
	ret = loopback(0, mp);
	if (ret == 0)
		printf("consumer: ok (%s)\n", LANG_NAME);
	udk_mempool_free(mp);
err_ring:
	udk_ring_free(r);
err_eal:
	udk_eal_cleanup();
	return ret;
}
