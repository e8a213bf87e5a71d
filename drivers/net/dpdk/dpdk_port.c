/* SPDX-License-Identifier: BSD-3-Clause */
/* dpdk_port.c - net_dpdk: a udk port over any DPDK ethdev ("--vdev
 * dpdk0,dev=net_null0" or dev=<PCI address DPDK was given>).  The packets
 * stay in udk's memory: it is registered with DPDK (rte_extmem_register) and,
 * for PCI ports, mapped into their VFIO container at udk's IOVAs
 * (rte_dev_dma_map), so a udk mbuf is handed to the PMD as it is.
 * Control path here; queues and bursts in dpdk_rxtx.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_memory.h>

#include "dpdk_internal.h"
#include "dpdk_port.h"
#include "udk_dpdk.h"
#include "udk_eal.h"
#include "udk_util.h"

#define LOG "net_dpdk"
#define MAX_PCI 32

static struct udk_eth_driver dpdk_driver;

/* DPDK ports taken by udk ports, and the PCI devices among them, whose
 * containers every udk segment is mapped into. */
static bool claimed[RTE_MAX_ETHPORTS];
static struct rte_device *pci_devs[MAX_PCI];
static unsigned int nb_pci;
static bool mem_followed;

/* ---- udk's memory, known to DPDK ---- */

static int dma_map_dev(struct rte_device *dev, const struct udk_memseg *seg)
{
	if (rte_dev_dma_map(dev, seg->va, seg->iova, seg->len) < 0 && rte_errno != EEXIST) {
		udk_log(UDK_LOG_ERR, LOG, "rte_dev_dma_map(%s, %p+0x%zx at IOVA 0x%llx): %s; the "
			"IOVA may collide with DPDK's own memory (try DPDK's --iova-mode=va, or "
			"-m to give DPDK less)", rte_dev_name(dev), seg->va, seg->len,
			(unsigned long long)seg->iova, rte_strerror(rte_errno));
		return -(rte_errno ? rte_errno : EIO);
	}
	return 0;
}

static int seg_register(struct udk_memseg *seg)
{
	size_t n = seg->len / seg->page_size;
	rte_iova_t *iovas = calloc(n, sizeof(*iovas));
	int rc = 0;

	if (iovas == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		iovas[i] = seg->iova + i * seg->page_size;
	if (rte_extmem_register(seg->va, seg->len, iovas, (unsigned int)n, seg->page_size) < 0 &&
	    rte_errno != EEXIST) {
		udk_log(UDK_LOG_ERR, LOG, "rte_extmem_register(%p+0x%zx): %s", seg->va, seg->len,
			rte_strerror(rte_errno));
		rc = -(rte_errno ? rte_errno : EIO);
	}
	free(iovas);
	for (unsigned int i = 0; rc == 0 && i < nb_pci; i++)
		rc = dma_map_dev(pci_devs[i], seg);
	return rc;
}

/* lib/mem event on udk's heap: DPDK learns of each segment before any of it
 * is handed out, and forgets it before it goes. */
static int follow_udk_mem(enum udk_mem_event ev, struct udk_memseg *seg, void *arg)
{
	(void)arg;
	if (seg->iova == UDK_IOVA_BAD)
		return 0; /* not mapped for DMA: nothing a device could use */
	if (ev == UDK_MEM_EVENT_ALLOC)
		return seg_register(seg);
	for (unsigned int i = 0; i < nb_pci; i++)
		rte_dev_dma_unmap(pci_devs[i], seg->va, seg->iova, seg->len);
	rte_extmem_unregister(seg->va, seg->len);
	return 0;
}

static int map_for_dev(const struct udk_memseg *seg, void *arg)
{
	return seg->iova == UDK_IOVA_BAD ? 0 : dma_map_dev(arg, seg);
}

int dport_mem_register(struct dport *p)
{
	struct udk_mem *mem = udk_eal_mem();
	struct rte_eth_dev_info info;
	int rc;

	if (mem == NULL) {
		udk_log(UDK_LOG_ERR, LOG, "%s: udk has no memory yet; call udk_eal_init() first",
			p->dev->name);
		return -EINVAL;
	}
	if (p->pci) {
		if (nb_pci == MAX_PCI)
			return -ENOSPC;
		rte_eth_dev_info_get(p->pid, &info);
		rc = udk_mem_walk(mem, map_for_dev, info.device);
		if (rc < 0)
			return rc;
		pci_devs[nb_pci++] = info.device;
	}
	if (!mem_followed) {
		/* Registers every segment there is, then each new one. */
		rc = udk_mem_event_register(mem, follow_udk_mem, NULL);
		if (rc < 0)
			return rc;
		mem_followed = true;
	}
	return 0;
}

/* ---- control ops ---- */

static struct dport *P(struct udk_eth_dev *dev)
{
	return dev->priv;
}

static void dpdk_info(struct udk_eth_dev *dev, struct udk_eth_dev_info *info)
{
	struct rte_eth_dev_info di;

	if (rte_eth_dev_info_get(P(dev)->pid, &di) != 0)
		return;
	info->max_rx_queues = di.max_rx_queues < DPORT_MAX_QUEUES ? di.max_rx_queues
								  : DPORT_MAX_QUEUES;
	info->max_tx_queues = di.max_tx_queues < DPORT_MAX_QUEUES ? di.max_tx_queues
								  : DPORT_MAX_QUEUES;
	info->min_desc = di.rx_desc_lim.nb_min ? di.rx_desc_lim.nb_min : 1;
	info->max_desc = di.rx_desc_lim.nb_max < 65535 ? di.rx_desc_lim.nb_max : 65535;
	info->min_mtu = di.min_mtu;
	info->max_mtu = di.max_mtu;
}

static int dpdk_configure(struct udk_eth_dev *dev, const struct udk_eth_conf *conf)
{
	struct dport *p = P(dev);
	struct rte_eth_conf ec;
	struct rte_eth_dev_info di;
	int rc;

	memset(&ec, 0, sizeof(ec));
	rte_eth_dev_info_get(p->pid, &di);
	if (di.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
		ec.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	rc = rte_eth_dev_configure(p->pid, conf->nb_rx_queues, conf->nb_tx_queues, &ec);
	if (rc < 0) {
		udk_log(UDK_LOG_ERR, LOG, "%s: rte_eth_dev_configure(%s, %u rx, %u tx queues): %s",
			dev->name, p->dpdk_name, conf->nb_rx_queues, conf->nb_tx_queues,
			rte_strerror(-rc));
		return rc;
	}
	if (conf->mtu != UDK_ETHER_MTU && (rc = rte_eth_dev_set_mtu(p->pid, (uint16_t)conf->mtu)) < 0) {
		udk_log(UDK_LOG_ERR, LOG, "%s: MTU %u: %s", dev->name, conf->mtu, rte_strerror(-rc));
		return rc;
	}
	return 0;
}

static uint16_t ring_size(uint16_t pid, uint16_t asked, bool rx)
{
	struct rte_eth_dev_info di;

	if (asked != 0 || rte_eth_dev_info_get(pid, &di) != 0)
		return asked ? asked : 512;
	asked = rx ? di.default_rxportconf.ring_size : di.default_txportconf.ring_size;
	return asked ? asked : 512;
}

static int dpdk_rxq_setup(struct udk_eth_dev *dev, uint16_t q, const struct udk_eth_rxq_conf *c,
			  void **queue)
{
	return drxq_create(P(dev), q, ring_size(P(dev)->pid, c->nb_desc, true), c->mp,
			   (struct drxq **)queue);
}

static int dpdk_txq_setup(struct udk_eth_dev *dev, uint16_t q, const struct udk_eth_txq_conf *c,
			  void **queue)
{
	return dtxq_create(P(dev), q, ring_size(P(dev)->pid, c->nb_desc, false),
			   (struct dtxq **)queue);
}

/* DPDK may still hold mbufs of a released queue (until it sets the queue up
 * again or closes): the queue's pools go at close. */
static void dpdk_rxq_release(struct udk_eth_dev *dev, void *queue)
{
	struct dport *p = P(dev);

	if (p->nb_dead_rx < UDK_ARRAY_SIZE(p->dead_rx))
		p->dead_rx[p->nb_dead_rx++] = queue;
}

static void dpdk_txq_release(struct udk_eth_dev *dev, void *queue)
{
	struct dport *p = P(dev);

	if (p->nb_dead_tx < UDK_ARRAY_SIZE(p->dead_tx))
		p->dead_tx[p->nb_dead_tx++] = queue;
}

static int dpdk_start(struct udk_eth_dev *dev)
{
	struct dport *p = P(dev);
	int rc = rte_eth_dev_start(p->pid);

	if (rc < 0) {
		udk_log(UDK_LOG_ERR, LOG, "%s: rte_eth_dev_start(%s): %s", dev->name, p->dpdk_name,
			rte_strerror(-rc));
		return rc;
	}
	if (dev->conf.promiscuous)
		rte_eth_promiscuous_enable(p->pid); /* some PMDs cannot; not fatal */
	return 0;
}

static void dpdk_stop(struct udk_eth_dev *dev)
{
	rte_eth_dev_stop(P(dev)->pid);
}

static void dpdk_close(struct udk_eth_dev *dev)
{
	struct dport *p = P(dev);

	rte_eth_dev_stop(p->pid);
	rte_eth_dev_close(p->pid); /* DPDK lets go of every mbuf of its queues */
	while (p->nb_dead_rx > 0)
		drxq_free(p->dead_rx[--p->nb_dead_rx]);
	while (p->nb_dead_tx > 0)
		dtxq_free(p->dead_tx[--p->nb_dead_tx]);
	claimed[p->pid] = false;
	free(p);
	dev->priv = NULL;
}

/* What the bridge counts, from one pass over the queues. */
static void sum_queues(struct udk_eth_dev *dev, struct udk_eth_stats *st,
		       struct udk_dpdk_port_stats *ds)
{
	for (uint16_t q = 0; q < DPORT_MAX_QUEUES; q++) {
		struct drxq *rxq = dev->rxq[q];
		struct dtxq *txq = dev->txq[q];

		if (rxq != NULL) {
			st->rx_nombuf += rxq->nombuf;
			ds->rx_zero_copy += rxq->zero_copy;
			ds->rx_copies += rxq->copies;
		}
		if (txq != NULL) {
			st->oerrors += txq->errors;
			ds->tx_zero_copy += txq->zero_copy;
			ds->tx_copies += txq->copies;
		}
	}
	st->copies = ds->rx_copies + ds->tx_copies;
}

/* Packets and bytes are the PMD's own counts (as dpdk-testpmd shows them: a
 * PMD that counts no bytes, such as net_null, reports 0); the bridge adds
 * its copies and what it could not send or buffer. */
static void dpdk_stats_get(struct udk_eth_dev *dev, struct udk_eth_stats *st)
{
	struct udk_dpdk_port_stats ds = {0};
	struct rte_eth_stats es;

	sum_queues(dev, st, &ds);
	if (rte_eth_stats_get(P(dev)->pid, &es) == 0) {
		st->ipackets = es.ipackets;
		st->ibytes = es.ibytes;
		st->opackets = es.opackets;
		st->obytes = es.obytes;
		st->ierrors = es.ierrors;
		st->oerrors += es.oerrors;
		st->imissed = es.imissed;
		st->rx_nombuf += es.rx_nombuf;
	}
}

static void dpdk_stats_reset(struct udk_eth_dev *dev)
{
	for (uint16_t q = 0; q < DPORT_MAX_QUEUES; q++) {
		struct drxq *rxq = dev->rxq[q];
		struct dtxq *txq = dev->txq[q];

		if (rxq != NULL)
			rxq->zero_copy = rxq->copies = rxq->nombuf = 0;
		if (txq != NULL)
			txq->zero_copy = txq->copies = txq->errors = 0;
	}
	rte_eth_stats_reset(P(dev)->pid);
}

static void dpdk_link_get(struct udk_eth_dev *dev, struct udk_eth_link *link)
{
	struct rte_eth_link l;

	if (rte_eth_link_get_nowait(P(dev)->pid, &l) != 0)
		return;
	link->up = l.link_status == RTE_ETH_LINK_UP;
	link->full_duplex = l.link_duplex == RTE_ETH_LINK_FULL_DUPLEX;
	link->speed_mbps = l.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? 0 : l.link_speed;
}

static int dpdk_promiscuous_set(struct udk_eth_dev *dev, bool on)
{
	int rc = on ? rte_eth_promiscuous_enable(P(dev)->pid)
		    : rte_eth_promiscuous_disable(P(dev)->pid);

	return rc == -ENOTSUP ? 0 : rc;
}

/* ---- probe ---- */

static void list_ports(char *buf, size_t len)
{
	char name[RTE_ETH_NAME_MAX_LEN];
	size_t k = 0;
	uint16_t pid;

	buf[0] = '\0';
	RTE_ETH_FOREACH_DEV(pid)
		if (rte_eth_dev_get_name_by_port(pid, name) == 0 && k < len)
			k += (size_t)snprintf(buf + k, len - k, "%s%s", k ? ", " : "", name);
	if (k == 0)
		snprintf(buf, len, "none");
}

/* PMDs whose receive takes every buffer from the queue's pool, never an
 * external or indirect one: their buffers need no check per packet.  Any
 * other (net_ring passes on whatever was enqueued, net_vhost and mlx5 can
 * attach external buffers) is checked, as rx_check=1 asks for any. */
static const char *const rx_as_is[] = {
	"net_null", "net_e1000_em", "net_e1000_igb", "net_virtio", "net_ixgbe",
	"net_i40e", "net_ice", "net_iavf", "net_tap", "net_af_packet",
};

static bool pmd_rx_as_is(const char *driver)
{
	for (unsigned int i = 0; i < UDK_ARRAY_SIZE(rx_as_is); i++)
		if (strcmp(driver, rx_as_is[i]) == 0)
			return true;
	return false;
}

static int parse_args(const char *vdev, const char *args, char *devname, size_t len, bool *copy,
		      int *rx_check)
{
	char buf[256], *save, *tok;

	devname[0] = '\0';
	*copy = false;
	*rx_check = -1;
	if (strlen(args) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, args);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strncmp(tok, "dev=", 4) == 0 && strlen(tok + 4) < len) {
			strcpy(devname, tok + 4);
		} else if (strcmp(tok, "copy=1") == 0 || strcmp(tok, "copy=0") == 0) {
			*copy = tok[5] == '1';
		} else if (strcmp(tok, "rx_check=1") == 0 || strcmp(tok, "rx_check=0") == 0) {
			*rx_check = tok[9] == '1';
		} else {
			udk_log(UDK_LOG_ERR, LOG, "--vdev %s: unknown argument '%s' (known: dev=NAME, "
				"copy=0|1, rx_check=0|1)", vdev, tok);
			return -EINVAL;
		}
	}
	if (devname[0] == '\0') {
		udk_log(UDK_LOG_ERR, LOG, "--vdev %s: name the DPDK device, e.g. %s,dev=net_null0 "
			"(or dev=<PCI address> given to DPDK with -a in its arguments)", vdev, vdev);
		return -EINVAL;
	}
	return 0;
}

static int dpdk_probe_vdev(struct udk_eth_dev *dev, const char *name, const char *args)
{
	struct rte_ether_addr mac;
	struct rte_eth_dev_info di;
	char devname[RTE_ETH_NAME_MAX_LEN], ports[256];
	struct dport *p;
	bool copy;
	uint16_t pid;
	int rc, rx_check;

	rc = parse_args(name, args, devname, sizeof(devname), &copy, &rx_check);
	if (rc < 0)
		return rc;
	rc = dpdk_eal_ensure();
	if (rc < 0)
		return rc;
	if (rte_eth_dev_get_port_by_name(devname, &pid) != 0) {
		/* Not made by the EAL arguments: let DPDK probe it now (a vdev
		 * without arguments such as net_null0, or a PCI address). */
		if (rte_dev_probe(devname) < 0 || rte_eth_dev_get_port_by_name(devname, &pid) != 0) {
			list_ports(ports, sizeof(ports));
			udk_log(UDK_LOG_ERR, LOG, "--vdev %s: DPDK has no port %s and could not probe "
				"it (DPDK's ports: %s); give it to DPDK in its EAL arguments "
				"(--vdev or -a)", name, devname, ports);
			return -ENODEV;
		}
	}
	if (claimed[pid]) {
		udk_log(UDK_LOG_ERR, LOG, "--vdev %s: DPDK port %s is another udk port already",
			name, devname);
		return -EBUSY;
	}
	rc = rte_eth_dev_info_get(pid, &di);
	if (rc < 0)
		return rc;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->dev = dev;
	p->pid = pid;
	snprintf(p->dpdk_name, sizeof(p->dpdk_name), "%s", devname);
	p->pci = strcmp(rte_bus_name(rte_dev_bus(di.device)), "pci") == 0;
	/* virtio-user's peer reaches only the memory DPDK shares with it. */
	p->copy = copy || strcmp(di.driver_name, "net_virtio_user") == 0 ||
		  dport_mbuf_init() < 0;
	p->rx_check = rx_check >= 0 ? rx_check == 1 : !pmd_rx_as_is(di.driver_name);
	p->socket = rte_eth_dev_socket_id(pid) >= 0 ? rte_eth_dev_socket_id(pid) : SOCKET_ID_ANY;
	dev->priv = p;
	if (!p->copy) {
		rc = dport_mem_register(p);
		if (rc < 0) {
			free(p);
			dev->priv = NULL;
			return rc;
		}
	}
	if (rte_eth_macaddr_get(pid, &mac) == 0)
		memcpy(dev->mac.b, mac.addr_bytes, 6);
	claimed[pid] = true;
	udk_log(UDK_LOG_INFO, LOG, "%s: DPDK port %u (%s, driver %s), %s%s", name, pid, devname,
		di.driver_name, p->copy ? "copying" : "zero copy",
		p->copy ? "" : p->rx_check ? ", received buffers checked" : "");
	return 0;
}

int udk_dpdk_port_stats(uint16_t port, struct udk_dpdk_port_stats *st)
{
	struct udk_eth_dev *dev = udk_eth_dev_get(port);
	struct udk_eth_stats es = {0};

	memset(st, 0, sizeof(*st));
	if (dev == NULL || dev->drv != &dpdk_driver || dev->priv == NULL)
		return -ENODEV;
	st->dpdk_port = P(dev)->pid;
	sum_queues(dev, &es, st);
	return 0;
}

static const struct udk_eth_ops dpdk_ops = {
	.info = dpdk_info,
	.configure = dpdk_configure,
	.rxq_setup = dpdk_rxq_setup,
	.txq_setup = dpdk_txq_setup,
	.rxq_release = dpdk_rxq_release,
	.txq_release = dpdk_txq_release,
	.start = dpdk_start,
	.stop = dpdk_stop,
	.close = dpdk_close,
	.stats_get = dpdk_stats_get,
	.stats_reset = dpdk_stats_reset,
	.link_get = dpdk_link_get,
	.promiscuous_set = dpdk_promiscuous_set,
	.rx_burst = dport_rx_burst,
	.tx_burst = dport_tx_burst,
};

static struct udk_eth_driver dpdk_driver = {
	.name = "net_dpdk",
	.ops = &dpdk_ops,
	.vdev_prefix = "dpdk",
	.probe_vdev = dpdk_probe_vdev,
};

UDK_NET_DRIVER(net_dpdk, dpdk_driver);
