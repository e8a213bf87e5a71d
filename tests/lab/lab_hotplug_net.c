/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_hotplug_net: a NIC unplugged while udk sends and receives through it
 * (QMP device_del of the e1000e behind root port rp2; doc/hotplug.md).
 * Frames flow between virtio-net (port 0) and the e1000e (port 1); the
 * e1000e goes away.  The process lives; the kernel's unplug completes; the
 * REMOVED event names it; the port's bursts return 0 and its state says
 * removed (stats, link, start answer UDK_EREMOVED); the virtio port is
 * untouched; closing the removed port gives back every mbuf its rings held.
 * Then hot-add by address: device_add brings the e1000e back, the monitor
 * binds and opens it on the same map, ethdev probes it and frames flow both
 * ways again.  At the end every mbuf is back in the pool.  Puts both NICs
 * back on the drivers they had.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labutil.h"
#include "udk_eal.h"
#include "udk_ethdev.h"
#include "udk_mbuf.h"
#include "udk_util.h"

#define NB_MBUFS 4096
#define BURST 32

static const char *virtio, *e1000e;
static struct udk_mempool *mp;
static atomic_int nb_removed, nb_added;
static struct udk_pci_dev *_Atomic added;

static void on_event(const struct udk_pci_event *ev, void *arg)
{
	(void)arg;
	printf("event: %s %s\n", ev->type == UDK_PCI_EVENT_REMOVED ? "REMOVED" : "ADDED", ev->bdf);
	if (ev->type == UDK_PCI_EVENT_REMOVED && strcmp(ev->bdf, e1000e) == 0)
		atomic_fetch_add(&nb_removed, 1);
	if (ev->type == UDK_PCI_EVENT_ADDED && strcmp(ev->bdf, e1000e) == 0) {
		atomic_store(&added, ev->pdev);
		atomic_fetch_add(&nb_added, 1);
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void port_up(uint16_t port)
{
	struct udk_eth_conf c;
	struct udk_eth_rxq_conf rc;
	struct udk_eth_txq_conf tc;

	udk_eth_conf_init(&c, sizeof(c));
	c.promiscuous = true;
	udk_eth_rxq_conf_init(&rc, sizeof(rc));
	udk_eth_txq_conf_init(&tc, sizeof(tc));
	rc.mp = mp;
	REQUIRE(udk_eth_dev_configure(port, &c) == 0 && udk_eth_rx_queue_setup(port, 0, &rc) == 0 &&
		udk_eth_tx_queue_setup(port, 0, &tc) == 0 && udk_eth_dev_start(port) == 0);
}

/* One round: a burst of broadcast frames out of port, and whatever came in;
 * returns how many came in. */
static unsigned int round_trip(uint16_t port, uint64_t *sent)
{
	struct udk_mbuf *m[BURST];
	uint16_t n, k;

	if (udk_pktmbuf_alloc_bulk(mp, m, BURST) == 0) {
		uint8_t frame[60];

		memset(frame, 0xff, 6); /* broadcast, from a local address */
		memset(frame + 6, 0x02, 6);
		frame[12] = 0x88;
		frame[13] = 0xb5;
		memset(frame + 14, (int)port, sizeof(frame) - 14);
		for (k = 0; k < BURST; k++) {
			char *d = udk_pktmbuf_append(m[k], sizeof(frame));

			if (d != NULL)
				memcpy(d, frame, sizeof(frame));
		}
		n = udk_eth_tx_burst(port, 0, m, BURST);
		*sent += n;
		udk_pktmbuf_free_bulk(m + n, BURST - n);
	}
	n = udk_eth_rx_burst(port, 0, m, BURST);
	udk_pktmbuf_free_bulk(m, n);
	return n;
}

struct unplugger {
	atomic_int state; /* 0 wait, 1 go, 2 done */
	int rc;
	char out[4096];
};

static void *unplug_main(void *arg)
{
	struct unplugger *u = arg;

	while (atomic_load(&u->state) == 0)
		usleep(10000);
	u->rc = lab_qmp("{\"execute\": \"device_del\", \"arguments\": {\"id\": \"e1000e0\"}}",
			"DEVICE_DELETED", 30, u->out, sizeof(u->out));
	atomic_store(&u->state, 2);
	return NULL;
}

static int replug(const char *mac)
{
	char cmd[512], out[4096];
	int rc;

	snprintf(cmd, sizeof(cmd), "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
		 "\"e1000e\", \"id\": \"e1000e0\", \"netdev\": \"p1\", \"bus\": \"rp2\", "
		 "\"romfile\": \"\", \"mac\": \"%s\"}}", mac);
	rc = lab_qmp(cmd, NULL, 10, out, sizeof(out));
	if (rc != 0)
		printf("device_add e1000e0: %d %s\n", rc, out);
	return rc;
}

int main(void)
{
	char d_v[64] = "", d_e[64] = "";
	struct unplugger u = {0};
	struct udk_pci_hotadd_opts ho;
	struct udk_pci_addr ea;
	struct udk_eth_stats st;
	struct udk_eth_link link;
	struct udk_pci_dev *pe;
	uint64_t sent[2] = {0}, rx[2] = {0};
	uint16_t port;
	const char *mac;
	pthread_t thr;
	double t0;

	setvbuf(stdout, NULL, _IONBF, 0);
	lab_require_guest();
	virtio = lab_env_require("UDK_LAB_VIRTIO");
	e1000e = lab_env_require("UDK_LAB_E1000E");
	mac = lab_env_require("UDK_LAB_MAC_E1000E");
	lab_device_driver(virtio, d_v, sizeof(d_v));
	lab_device_driver(e1000e, d_e, sizeof(d_e));
	REQUIRE(lab_bind_vfio(virtio) == 0 && lab_bind_vfio(e1000e) == 0);

	char *argv[] = {"lab", "-l", "0", "-m", "64", "-a", (char *)virtio, "-a", (char *)e1000e,
			NULL};
	REQUIRE(udk_eal_init(9, argv) == 9);
	REQUIRE(udk_pci_event_register(on_event, NULL) == 0);
	REQUIRE(udk_pktmbuf_pool_create("hp", NB_MBUFS, 0, 0, UDK_SOCKET_ANY, &mp) == 0);
	REQUIRE(udk_eth_probe_eal() == 2);
	port_up(0);
	port_up(1);

	printf("== the e1000e is unplugged while frames flow\n");
	REQUIRE(pthread_create(&thr, NULL, unplug_main, &u) == 0);
	for (t0 = now(); now() - t0 < 60;) {
		rx[0] += round_trip(0, &sent[0]);
		rx[1] += round_trip(1, &sent[1]);
		if (atomic_load(&u.state) == 0 && rx[0] > 1000 && rx[1] > 1000)
			atomic_store(&u.state, 1);
		if (atomic_load(&u.state) == 2)
			break;
	}
	pthread_join(thr, NULL);
	printf("before: virtio sent %llu received %llu, e1000e sent %llu received %llu\n",
	       (unsigned long long)sent[0], (unsigned long long)rx[0],
	       (unsigned long long)sent[1], (unsigned long long)rx[1]);
	printf("device_del e1000e0: %d %s\n", u.rc, u.rc ? u.out : "DEVICE_DELETED");
	CHECK_MSG(u.rc == 0, "the kernel's unplug did not complete: udk kept the NIC open?");
	CHECK(atomic_load(&nb_removed) == 1);
	CHECK(udk_eth_dev_is_removed(1) && !udk_eth_dev_is_removed(0));
	uint64_t s1 = sent[1], r1 = rx[1];
	for (int i = 0; i < 1000; i++) {
		rx[0] += round_trip(0, &sent[0]);
		rx[1] += round_trip(1, &sent[1]);
	}
	CHECK_MSG(sent[1] == s1 && rx[1] == r1, "a removed port's bursts return 0");
	CHECK(udk_eth_stats_get(1, &st) == -UDK_EREMOVED && st.opackets == 0);
	CHECK(udk_eth_link_get(1, &link) == -UDK_EREMOVED && !link.up);
	CHECK(udk_eth_dev_start(1) == -UDK_EREMOVED);
	CHECK(strstr(udk_last_error(), "removed") != NULL);
	CHECK(udk_eth_stats_get(0, &st) == 0 && udk_eth_link_get(0, &link) == 0 && link.up);
	CHECK(udk_eth_dev_close(1) == 0);
	CHECK(!udk_eth_dev_is_valid(1));

	printf("== hot-add: the e1000e comes back, by address\n");
	REQUIRE(udk_pci_addr_parse(e1000e, &ea) == 0);
	udk_pci_hotadd_opts_init(&ho, sizeof(ho));
	ho.map = udk_eal_dmamap();
	ho.bind = true;
	ho.addrs = &ea;
	ho.nb_addrs = 1;
	REQUIRE(udk_pci_hotadd_start(&ho) == 0);
	REQUIRE(replug(mac) == 0);
	for (t0 = now(); atomic_load(&nb_added) == 0 && now() - t0 < 30;)
		usleep(20000);
	pe = atomic_load(&added);
	REQUIRE(pe != NULL);
	CHECK(udk_device_map(udk_pci_dev_device(pe)) == udk_eal_dmamap());
	REQUIRE(udk_eth_probe_pci(pe, &port) == 0);
	printf("the new e1000e is port %u\n", port);
	port_up(port);
	uint64_t r0 = rx[0], rn = 0, sn = 0;
	for (t0 = now(); now() - t0 < 30 && (rx[0] < r0 + 1000 || rn < 1000);) {
		rx[0] += round_trip(0, &sent[0]);
		rn += round_trip(port, &sn);
	}
	printf("after: virtio received %llu more, the new e1000e sent %llu received %llu\n",
	       (unsigned long long)(rx[0] - r0), (unsigned long long)sn, (unsigned long long)rn);
	CHECK(rx[0] >= r0 + 1000 && rn >= 1000);

	udk_pci_hotadd_stop();
	udk_eth_close_all();
	udk_mempool_cache_flush(mp);
	printf("mbufs in the pool: %u of %u\n", udk_mempool_avail_count(mp), NB_MBUFS);
	CHECK(udk_mempool_avail_count(mp) == NB_MBUFS);
	udk_mempool_free(mp);
	udk_pci_dev_close(pe);
	udk_pci_event_unregister(on_event, NULL);
	udk_eal_cleanup();
	lab_bind(virtio, d_v);
	lab_bind(e1000e, d_e);
	return lab_result();
}
