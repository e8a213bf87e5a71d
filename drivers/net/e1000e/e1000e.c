/* SPDX-License-Identifier: BSD-3-Clause */
/* e1000e.c - net_e1000e: the Intel 82574L (8086:10d3, QEMU's "e1000e") as a
 * udk port, driven through VFIO by polling.  This file is the control path:
 * probe, the initialisation sequence of the datasheet's §4.6 (reset, general
 * configuration, receive and transmit initialisation), start and stop,
 * statistics and link.  The queues and bursts are in e1000e_rxtx.c.
 *
 * One or two rx queues (RSS spreads frames over them by the Toeplitz hash,
 * delivered in each mbuf) and one tx queue, extended receive descriptors,
 * 2048-byte receive buffers, no checksum offloads, no jumbo frames.  Receive interrupts, when asked for, through
 * MSI-X (one vector per rx queue); otherwise every cause stays masked. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "e1000e_hw.h"
#include "udk_eal.h"
#include "udk_util.h"

#define LOG "net_e1000e"

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Poll reg until (value & mask) == want, for up to timeout_us. */
static int wait_reg(const struct e1k_priv *p, uint32_t reg, uint32_t mask, uint32_t want,
		    uint64_t timeout_us)
{
	uint64_t end = now_us() + timeout_us;

	while ((e1k_rd(p, reg) & mask) != want) {
		if (now_us() > end)
			return -ETIMEDOUT;
		usleep(100);
	}
	return 0;
}

/* §10.2 statistics: add the clear-on-read counters to the totals.  Called before
 * every reset (a reset clears them) and by stats_get. */
static void hw_stats_update(struct e1k_priv *p)
{
	struct e1k_hw_stats *h = &p->hw;

	h->crcerrs += e1k_rd(p, E1K_CRCERRS);
	h->rxerrc += e1k_rd(p, E1K_RXERRC);
	h->mpc += e1k_rd(p, E1K_MPC);
	h->rnbc += e1k_rd(p, E1K_RNBC);
	h->roc += e1k_rd(p, E1K_ROC);
}

/* §4.6.1 and §4.6.2: mask interrupts, stop both units and the device's bus
 * mastering, global reset (CTRL.RST), wait for it, mask interrupts again.
 * Callers then program every register they rely on instead of trusting reset
 * defaults: QEMU's model resets little more than the receive address here. */
static int hw_reset(struct e1k_priv *p, const char *name)
{
	uint32_t ctrl;

	hw_stats_update(p);
	e1k_wr(p, E1K_IMC, 0xffffffffu);
	e1k_wr(p, E1K_RCTL, 0);
	e1k_wr(p, E1K_TCTL, 0);
	/* PCIe master disable (CTRL.GIO Master Disable, then STATUS.GIO Master
	 * Enable Status clears): let DMA in flight end before the reset.  If
	 * requests are still pending after 10 ms, the reset ends them. */
	ctrl = e1k_rd(p, E1K_CTRL);
	e1k_wr(p, E1K_CTRL, ctrl | E1K_CTRL_GIO_MASTER_DIS);
	wait_reg(p, E1K_STATUS, E1K_STATUS_GIO_MASTER_EN, 0, 10000);
	e1k_wr(p, E1K_CTRL, ctrl | E1K_CTRL_GIO_MASTER_DIS | E1K_CTRL_RST);
	/* §4.6.2: leave the registers alone for a moment after setting RST
	 * (1 ms is ample), then RST reads back 0 once the reset is over. */
	usleep(1000);
	if (wait_reg(p, E1K_CTRL, E1K_CTRL_RST, 0, 100000) < 0) {
		udk_log(UDK_LOG_ERR, LOG, "%s: CTRL.RST did not clear within 100 ms of a global "
			"reset (CTRL 0x%08x); the device is not responding", name,
			e1k_rd(p, E1K_CTRL));
		return -ETIMEDOUT;
	}
	e1k_wr(p, E1K_IMC, 0xffffffffu);
	(void)e1k_rd(p, E1K_ICR);
	return 0;
}

/* §4.6.2 general configuration and §4.6.3 link setup: the internal copper
 * PHY auto-negotiates; the MAC takes speed and duplex from it (ASDE) once
 * SLU is set.  No flow control: its registers are zero. */
static void hw_general_config(struct e1k_priv *p)
{
	e1k_wr(p, E1K_CTRL, E1K_CTRL_SLU | E1K_CTRL_ASDE);
	e1k_wr(p, 0x00028, 0); /* FCAL */
	e1k_wr(p, 0x0002c, 0); /* FCAH */
	e1k_wr(p, 0x00030, 0); /* FCT */
	e1k_wr(p, 0x00170, 0); /* FCTTV */
}

/* §10.2, EERD: one 16-bit word of the NVM. */
static int eeprom_read(const struct e1k_priv *p, uint16_t word, uint16_t *val)
{
	e1k_wr(p, E1K_EERD, (uint32_t)word << E1K_EERD_ADDR_SHIFT | E1K_EERD_START);
	if (wait_reg(p, E1K_EERD, E1K_EERD_DONE, E1K_EERD_DONE, 10000) < 0)
		return -ETIMEDOUT;
	*val = (uint16_t)(e1k_rd(p, E1K_EERD) >> E1K_EERD_DATA_SHIFT);
	return 0;
}

/* The station address: RAL0/RAH0, which the device loads from its NVM at
 * reset (AV set), else the Ethernet Address words 00h-02h of the NVM
 * (chapter 6, NVM map). */
static int read_mac(struct e1k_priv *p, const char *name, struct udk_ether_addr *mac)
{
	uint32_t ral = e1k_rd(p, E1K_RAL(0)), rah = e1k_rd(p, E1K_RAH(0));
	bool zero = true;

	if (rah & E1K_RAH_AV) {
		for (int i = 0; i < 4; i++)
			mac->b[i] = (uint8_t)(ral >> (8 * i));
		mac->b[4] = (uint8_t)rah;
		mac->b[5] = (uint8_t)(rah >> 8);
	} else {
		for (uint16_t w = 0; w < 3; w++) {
			uint16_t v;

			if (eeprom_read(p, w, &v) < 0) {
				udk_log(UDK_LOG_ERR, LOG, "%s: RAH0 has no valid address and the "
					"EEPROM read of word %u did not complete", name, w);
				return -EIO;
			}
			mac->b[2 * w] = (uint8_t)v;
			mac->b[2 * w + 1] = (uint8_t)(v >> 8);
		}
	}
	for (int i = 0; i < 6; i++)
		zero &= mac->b[i] == 0;
	if (zero || (mac->b[0] & 1)) {
		udk_log(UDK_LOG_ERR, LOG, "%s: the device's MAC address "
			"%02x:%02x:%02x:%02x:%02x:%02x is not a unicast address; its NVM is blank "
			"or broken", name, mac->b[0], mac->b[1], mac->b[2], mac->b[3], mac->b[4],
			mac->b[5]);
		return -EIO;
	}
	return 0;
}

static void e1k_info(struct udk_eth_dev *dev, struct udk_eth_dev_info *info)
{
	(void)dev;
	info->max_rx_queues = E1K_RXQ_MAX;
	info->max_tx_queues = 1;
	info->min_desc = E1K_MIN_DESC;
	info->max_desc = E1K_MAX_DESC;
	info->min_mtu = 68;
	info->max_mtu = E1K_MAX_MTU;
}

/* The RSS table udk uses: entry i to rx queue i % n (one queue: all to 0);
 * the application's, when it gives one, replaces it (e1k_rss_set, called
 * by lib/ethdev right after). */
static int e1k_configure(struct udk_eth_dev *dev, const struct udk_eth_conf *conf)
{
	struct e1k_priv *p = dev->priv;

	/* lib/ethdev has checked the queue counts and the MTU against info. */
	for (unsigned int i = 0; i < E1K_RETA_ENTRIES; i++)
		p->reta[i] = (uint8_t)(i % conf->nb_rx_queues);
	return 0;
}

/* Microsoft's RSS verification key (the one its specification's examples
 * use, as udk's other drivers do): the key unless the application gives one. */
static const uint8_t rss_key[E1K_RSS_KEY_LEN] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/* §7.1.10: the key (RSSRK, byte 0 in the low byte of RSSRK0) and the table
 * (RETA: the queue in bit 7 of each byte) in force, from p->key and p->reta. */
static void rss_write(struct e1k_priv *p)
{
	for (unsigned int r = 0; r < E1K_RSS_KEY_LEN / 4; r++)
		e1k_wr(p, E1K_RSSRK(r), (uint32_t)p->key[4 * r] |
						 (uint32_t)p->key[4 * r + 1] << 8 |
						 (uint32_t)p->key[4 * r + 2] << 16 |
						 (uint32_t)p->key[4 * r + 3] << 24);
	for (unsigned int r = 0; r < E1K_RETA_ENTRIES / 4; r++) {
		uint32_t v = 0;

		for (unsigned int b = 0; b < 4; b++)
			v |= (uint32_t)(p->reta[4 * r + b] & 1u) << 7 << (8 * b);
		e1k_wr(p, E1K_RETA(r), v);
	}
}

/* §7.1.10 receive-side scaling: key and table (rss_write), the hash types
 * (IPv4 and IPv6 addresses, with the TCP ports when there is a TCP header;
 * the 82574 hashes no UDP ports), and RSS on (MRQC).  Always on, with one
 * queue as with two, so every IP frame comes with its hash. */
static void rss_init(struct e1k_priv *p)
{
	rss_write(p);
	e1k_wr(p, E1K_MRQC, E1K_MRQC_RSS | E1K_MRQC_TCP_IPV4 | E1K_MRQC_IPV4 |
				    E1K_MRQC_TCP_IPV6 | E1K_MRQC_IPV6);
}

static void e1k_rss_limits(struct udk_eth_dev *dev, uint16_t *key_len, uint16_t *reta_len)
{
	(void)dev;
	*key_len = E1K_RSS_KEY_LEN;
	*reta_len = E1K_RETA_ENTRIES;
}

/* The application's key and/or table (lengths and entries checked by
 * lib/ethdev).  On a started port they go into RSSRK and RETA at once: the
 * device reads both for each frame it hashes and needs no pause of RSS or
 * of the receiver for the change; a frame already being hashed may still
 * get the old table. */
static int e1k_rss_set(struct udk_eth_dev *dev, const uint8_t *key, const uint16_t *reta,
		       bool reset)
{
	struct e1k_priv *p = dev->priv;

	if (reset)
		memcpy(p->key, rss_key, sizeof(p->key));
	if (key != NULL)
		memcpy(p->key, key, sizeof(p->key));
	for (unsigned int i = 0; reta != NULL && i < E1K_RETA_ENTRIES; i++)
		p->reta[i] = (uint8_t)reta[i];
	if (dev->started && (key != NULL || reta != NULL))
		rss_write(p);
	return 0;
}

static uint32_t rctl_value(bool promiscuous)
{
	/* §10.2, RCTL: one-buffer descriptors (DTYP 00), 2048-byte buffers (BSIZE
	 * 00, BSEX 0), broadcast accepted, CRC stripped, no long packets. */
	uint32_t rctl = E1K_RCTL_EN | E1K_RCTL_BAM | E1K_RCTL_SECRC;

	if (promiscuous)
		rctl |= E1K_RCTL_UPE | E1K_RCTL_MPE;
	return rctl;
}

/* §4.6.5 receive initialisation: the address filter, extended descriptors
 * with the RSS hash in them (RFCTL.EXSTEN, RXCSUM.PCSD), RSS, then each
 * queue's ring, then the receiver on. */
static int rx_init(struct udk_eth_dev *dev, struct e1k_priv *p)
{
	const uint8_t *a = dev->mac.b;
	uint16_t q;
	int rc;

	e1k_wr(p, E1K_RAL(0), (uint32_t)a[0] | (uint32_t)a[1] << 8 | (uint32_t)a[2] << 16 |
				      (uint32_t)a[3] << 24);
	e1k_wr(p, E1K_RAH(0), (uint32_t)a[4] | (uint32_t)a[5] << 8 | E1K_RAH_AV);
	for (uint32_t i = 1; i < E1K_RAR_N; i++) {
		e1k_wr(p, E1K_RAL(i), 0);
		e1k_wr(p, E1K_RAH(i), 0);
	}
	for (uint32_t i = 0; i < E1K_MTA_N; i++)
		e1k_wr(p, E1K_MTA + 4 * i, 0);
	e1k_wr(p, E1K_RFCTL, e1k_rd(p, E1K_RFCTL) | E1K_RFCTL_EXSTEN);
	e1k_wr(p, E1K_RXCSUM, E1K_RXCSUM_PCSD);
	e1k_wr(p, E1K_RDTR, 0);
	e1k_wr(p, E1K_RADV, 0);
	rss_init(p);

	for (q = 0; q < dev->conf.nb_rx_queues; q++) {
		struct e1k_rxq *rxq = dev->rxq[q];

		rc = e1k_rxq_fill(rxq);
		if (rc < 0) {
			udk_log(UDK_LOG_ERR, LOG, "start %s: mempool %s has fewer than %u free "
				"mbufs for rx ring %u; make the pool bigger", dev->name,
				rxq->mp->name, rxq->nb_desc, q);
			goto err_drain;
		}
		e1k_wr(p, E1K_RDBAL(q), (uint32_t)rxq->ring_iova);
		e1k_wr(p, E1K_RDBAH(q), (uint32_t)(rxq->ring_iova >> 32));
		e1k_wr(p, E1K_RDLEN(q), (uint32_t)rxq->nb_desc * sizeof(struct e1k_rx_desc));
		e1k_wr(p, E1K_RDH(q), 0);
		/* Every descriptor but the one before head belongs to the device. */
		e1k_wr(p, E1K_RDT(q), (uint32_t)rxq->nb_desc - 1);
	}
	/* A queue not configured has no ring: RSS sends it nothing (the
	 * table names only configured queues). */
	for (; q < E1K_RXQ_MAX; q++)
		e1k_wr(p, E1K_RDLEN(q), 0);
	e1k_wr(p, E1K_RCTL, rctl_value(dev->conf.promiscuous));
	return 0;

err_drain:
	while (q-- > 0)
		e1k_rxq_drain(dev->rxq[q]);
	return rc;
}

/* §4.6.6 transmit initialisation. */
static void tx_init(struct udk_eth_dev *dev, struct e1k_priv *p, struct e1k_txq *txq)
{
	e1k_txq_drain(txq);
	txq->max_len = dev->conf.mtu + UDK_ETHER_HDR_LEN;
	e1k_wr(p, E1K_TDBAL, (uint32_t)txq->ring_iova);
	e1k_wr(p, E1K_TDBAH, (uint32_t)(txq->ring_iova >> 32));
	e1k_wr(p, E1K_TDLEN, (uint32_t)txq->nb_desc * sizeof(struct e1k_tx_desc));
	e1k_wr(p, E1K_TDH, 0);
	e1k_wr(p, E1K_TDT, 0);
	e1k_wr(p, E1K_TIDV, 0);
	e1k_wr(p, E1K_TADV, 0);
	/* §10.2, TIPG: IPGT 8, IPGR1 8, IPGR2 6 (IEEE 802.3 spacing). */
	e1k_wr(p, E1K_TIPG, 8u | 8u << 10 | 6u << 20);
	/* §10.2, TCTL: collision threshold 0x0f, distance 0x3f (full duplex);
	 * short frames padded to 64 bytes. */
	e1k_wr(p, E1K_TCTL, E1K_TCTL_EN | E1K_TCTL_PSP | 0x0fu << E1K_TCTL_CT_SHIFT |
				    0x3fu << E1K_TCTL_COLD_SHIFT);
}

static int e1k_start(struct udk_eth_dev *dev)
{
	struct e1k_priv *p = dev->priv;
	int rc;

	rc = hw_reset(p, dev->name);
	if (rc < 0)
		return rc;
	hw_general_config(p);
	rc = rx_init(dev, p);
	if (rc < 0)
		return rc;
	tx_init(dev, p, dev->txq[0]);
	return 0;
}

/* MSI-X off and the eventfds gone (lib/pci closes them): after a reset,
 * which masked every cause. */
static void msix_release(struct udk_eth_dev *dev, struct e1k_priv *p)
{
	if (p->msix_nvec == 0)
		return;
	udk_pci_msix_disable(p->pdev);
	free(p->msix_efds);
	p->msix_efds = NULL;
	p->msix_nvec = 0;
	for (uint16_t q = 0; q < dev->conf.nb_rx_queues; q++)
		if (dev->rxq[q] != NULL)
			((struct e1k_rxq *)dev->rxq[q])->efd = -1;
}

static void e1k_stop(struct udk_eth_dev *dev)
{
	struct e1k_priv *p = dev->priv;

	/* The reset stops both units and their DMA before the buffers go. */
	hw_reset(p, dev->name);
	msix_release(dev, p);
	for (uint16_t q = 0; q < dev->conf.nb_rx_queues; q++)
		e1k_rxq_drain(dev->rxq[q]);
	e1k_txq_drain(dev->txq[0]);
}

/* Route MSI-X vectors 0..n-1 to eventfds at the first rx_intr_fd, one per rx
 * queue, within the table (the 82574 has 5; VFIO says how many). */
static int msix_setup(struct udk_eth_dev *dev, struct e1k_priv *p)
{
	unsigned int want = dev->conf.nb_rx_queues;
	int n, rc, *efds;

	if (p->msix_nvec > 0)
		return 0;
	n = udk_pci_msix_count(p->pdev);
	if (n < 0) {
		udk_log(UDK_LOG_ERR, LOG, "%s: receive interrupts need MSI-X, which the device "
			"does not offer (%s); poll the port (udk-fwd --intr-mode poll)", dev->name,
			udk_strerror(n));
		return -ENOTSUP;
	}
	if ((unsigned int)n < want)
		want = (unsigned int)n;
	efds = calloc(want, sizeof(*efds));
	if (efds == NULL)
		return -ENOMEM;
	rc = udk_pci_msix_enable(p->pdev, want, efds);
	if (rc < 0) {
		udk_log(UDK_LOG_ERR, LOG, "%s: enabling %u MSI-X vectors failed (%s); poll the "
			"port", dev->name, want, udk_strerror(rc));
		free(efds);
		return rc == -ENOTSUP ? rc : -ENOTSUP;
	}
	p->msix_efds = efds;
	p->msix_nvec = want;
	return 0;
}

/* §10.2, IVAR/EITR/EIAC/CTRL_EXT: rx queue q's cause (ICR.RxQq) signals MSI-X
 * vector q, at most once per E1K_EITR_INTERVAL, and firing clears the cause
 * from ICR (EIAC) so the next frame after an arm signals again.  The cause
 * stays masked (IMS) until the queue is armed. */
static int e1k_rx_intr_fd(struct udk_eth_dev *dev, uint16_t q)
{
	struct e1k_priv *p = dev->priv;
	struct e1k_rxq *rxq = dev->rxq[q];
	uint32_t ivar;
	int rc;

	if (rxq->efd >= 0)
		return rxq->efd;
	rc = msix_setup(dev, p);
	if (rc < 0)
		return rc;
	if (q >= p->msix_nvec) {
		udk_log(UDK_LOG_ERR, LOG, "%s: rx queue %u needs MSI-X vector %u, the table has "
			"%u; poll this queue", dev->name, q, q, p->msix_nvec);
		return -ENOTSUP;
	}
	ivar = e1k_rd(p, E1K_IVAR) & ~(0xfu << E1K_IVAR_RXQ_SHIFT(q));
	e1k_wr(p, E1K_IVAR, ivar | ((uint32_t)q | E1K_IVAR_VALID) << E1K_IVAR_RXQ_SHIFT(q));
	e1k_wr(p, E1K_EITR(q), E1K_EITR_INTERVAL);
	e1k_wr(p, E1K_EIAC, e1k_rd(p, E1K_EIAC) | rxq->cause);
	/* PBA support, as MSI-X mode asks; no auto-mask (IAME, EIAME). */
	e1k_wr(p, E1K_CTRL_EXT, (e1k_rd(p, E1K_CTRL_EXT) | E1K_CTRL_EXT_PBA_CLR) &
					~(E1K_CTRL_EXT_IAME | E1K_CTRL_EXT_EIAME));
	rxq->efd = p->msix_efds[q];
	return rxq->efd;
}

static void e1k_close(struct udk_eth_dev *dev)
{
	struct e1k_priv *p = dev->priv;
	bool gone = udk_pci_dev_removed(p->pdev); /* hot-unplugged: no registers */

	if (!gone)
		hw_reset(p, dev->name);
	if (p->msix_nvec > 0) {
		udk_pci_msix_disable(p->pdev);
		free(p->msix_efds);
	}
	if (p->hw.rnbc != 0 || p->hw.mpc != 0)
		udk_log(UDK_LOG_INFO, LOG, "%s: the device found no rx buffer %llu times and "
			"missed %llu frames", dev->name, (unsigned long long)p->hw.rnbc,
			(unsigned long long)p->hw.mpc);
	if (!gone)
		udk_pci_bus_master(p->pdev, false);
	free(p);
	dev->priv = NULL;
}

static void e1k_stats_get(struct udk_eth_dev *dev, struct udk_eth_stats *st)
{
	struct e1k_priv *p = dev->priv;
	struct e1k_txq *txq = dev->txq[0];

	hw_stats_update(p);
	for (uint16_t q = 0; q < dev->conf.nb_rx_queues; q++) {
		struct e1k_rxq *rxq = dev->rxq[q];

		if (rxq == NULL)
			continue;
		st->ipackets += udk_counter_read(&rxq->packets);
		st->ibytes += udk_counter_read(&rxq->bytes);
		st->ierrors += udk_counter_read(&rxq->errors);
		st->imissed += udk_counter_read(&rxq->missed);
		st->rx_nombuf += udk_counter_read(&rxq->nombuf);
	}
	if (txq != NULL) {
		st->opackets = udk_counter_read(&txq->packets);
		st->obytes = udk_counter_read(&txq->bytes);
		st->oerrors = udk_counter_read(&txq->errors);
	}
	/* Frames the device dropped itself: no room in its FIFO (MPC), bad CRC,
	 * PHY errors, over the maximum length.  RNBC (no descriptor free) is no
	 * drop by itself; a frame it delays and then loses is counted in MPC. */
	st->imissed += p->hw.mpc;
	st->ierrors += p->hw.crcerrs + p->hw.rxerrc + p->hw.roc;
}

static void e1k_stats_reset(struct udk_eth_dev *dev)
{
	struct e1k_priv *p = dev->priv;
	struct e1k_txq *txq = dev->txq[0];

	hw_stats_update(p);
	memset(&p->hw, 0, sizeof(p->hw));
	for (uint16_t q = 0; q < dev->conf.nb_rx_queues; q++) {
		struct e1k_rxq *rxq = dev->rxq[q];

		if (rxq == NULL)
			continue;
		__atomic_store_n(&rxq->packets, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&rxq->bytes, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&rxq->errors, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&rxq->missed, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&rxq->nombuf, 0, __ATOMIC_RELAXED);
	}
	if (txq != NULL) {
		__atomic_store_n(&txq->packets, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&txq->bytes, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&txq->errors, 0, __ATOMIC_RELAXED);
	}
}

/* §10.2, STATUS: link up, speed and duplex as resolved with the PHY. */
static void e1k_link_get(struct udk_eth_dev *dev, struct udk_eth_link *link)
{
	static const uint32_t speeds[4] = {10, 100, 1000, 1000};
	uint32_t status = e1k_rd(dev->priv, E1K_STATUS);

	link->up = (status & E1K_STATUS_LU) != 0;
	link->full_duplex = (status & E1K_STATUS_FD) != 0;
	link->speed_mbps = link->up ? speeds[(status >> E1K_STATUS_SPEED_SHIFT) & 3] : 0;
}

static int e1k_promiscuous_set(struct udk_eth_dev *dev, bool on)
{
	struct e1k_priv *p = dev->priv;
	uint32_t rctl = e1k_rd(p, E1K_RCTL) & ~(E1K_RCTL_UPE | E1K_RCTL_MPE);

	e1k_wr(p, E1K_RCTL, rctl | (on ? E1K_RCTL_UPE | E1K_RCTL_MPE : 0));
	return 0;
}

static const struct udk_eth_ops e1k_ops = {
	.info = e1k_info,
	.configure = e1k_configure,
	.rxq_setup = e1k_rxq_setup,
	.txq_setup = e1k_txq_setup,
	.rxq_release = e1k_rxq_release,
	.txq_release = e1k_txq_release,
	.start = e1k_start,
	.stop = e1k_stop,
	.close = e1k_close,
	.stats_get = e1k_stats_get,
	.stats_reset = e1k_stats_reset,
	.link_get = e1k_link_get,
	.promiscuous_set = e1k_promiscuous_set,
	.rx_burst = e1k_rx_burst,
	.tx_burst = e1k_tx_burst,
	.rx_intr_fd = e1k_rx_intr_fd,
	.rx_intr_arm = e1k_rx_intr_arm,
	.rx_intr_disarm = e1k_rx_intr_disarm,
	.rss_limits = e1k_rss_limits,
	.rss_set = e1k_rss_set,
};

static int e1k_probe_pci(struct udk_eth_dev *dev, struct udk_pci_dev *pdev)
{
	struct e1k_priv *p;
	void *va;
	int rc;

	/* Rings come from dev->mem, the heap of the device's map (ethdev got
	 * it), and mbufs from pools on it: any map will do. */
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->pdev = pdev;
	rc = udk_pci_bar_map(pdev, 0, &va, &p->bar_len);
	if (rc < 0)
		goto err_free;
	p->bar = va;
	if (p->bar_len < E1K_RAH(E1K_RAR_N - 1) + 4) {
		udk_log(UDK_LOG_ERR, LOG, "%s: BAR0 is %zu bytes, too small for an 82574's "
			"registers", dev->name, p->bar_len);
		rc = -ENODEV;
		goto err_free;
	}
	if (e1k_rd(p, E1K_STATUS) == 0xffffffffu) {
		udk_log(UDK_LOG_ERR, LOG, "%s: BAR0 reads all ones: the device does not answer",
			dev->name);
		rc = -ENODEV;
		goto err_free;
	}
	rc = udk_pci_bus_master(pdev, true);
	if (rc < 0)
		goto err_free;
	rc = hw_reset(p, dev->name);
	if (rc < 0)
		goto err_bus_master;
	hw_general_config(p);
	rc = read_mac(p, dev->name, &dev->mac);
	if (rc < 0)
		goto err_bus_master;
	/* §4.6.4: counts from before we owned the device are not ours. */
	hw_stats_update(p);
	memset(&p->hw, 0, sizeof(p->hw));
	dev->priv = p;
	udk_log(UDK_LOG_INFO, LOG, "%s: 82574, MAC %02x:%02x:%02x:%02x:%02x:%02x", dev->name,
		dev->mac.b[0], dev->mac.b[1], dev->mac.b[2], dev->mac.b[3], dev->mac.b[4],
		dev->mac.b[5]);
	return 0;

err_bus_master:
	udk_pci_bus_master(pdev, false);
err_free:
	free(p);
	return rc;
}

static const uint16_t e1k_pci_ids[][2] = {
	{0x8086, 0x10d3}, /* 82574L, what QEMU's -device e1000e emulates */
	{0, 0},
};

static struct udk_eth_driver net_e1000e = {
	.name = "net_e1000e",
	.ops = &e1k_ops,
	.pci_ids = e1k_pci_ids,
	.probe_pci = e1k_probe_pci,
};

UDK_NET_DRIVER(net_e1000e, net_e1000e)
