/* SPDX-License-Identifier: BSD-3-Clause */
/* e1000e_hw.h - the Intel 82574 (e1000e) as the driver sees it: register
 * offsets and bits, the legacy descriptors, and the driver's private structs
 * shared by the control path (e1000e.c) and the queues (e1000e_rxtx.c).
 *
 * Section numbers are those of the Intel 82574 GbE Controller Family
 * Datasheet, revision 3.4 (June 2014): chapter 4.6 "Software Initialization
 * Sequence", chapter 7 "Inline Functions" (descriptors), chapter 10.2
 * "Register Descriptions".  Registers are little-endian 32-bit, in BAR0. */
#ifndef UDK_E1000E_HW_H
#define UDK_E1000E_HW_H

#include <stdint.h>

#include "udk_ethdev_driver.h"

/* ---- §10.2 general registers ---- */
#define E1K_CTRL 0x00000
#define E1K_CTRL_FD (1u << 0)           /* full duplex (when forced) */
#define E1K_CTRL_GIO_MASTER_DIS (1u << 2)
#define E1K_CTRL_ASDE (1u << 5)         /* auto-speed detection */
#define E1K_CTRL_SLU (1u << 6)          /* set link up */
#define E1K_CTRL_FRCSPD (1u << 11)
#define E1K_CTRL_FRCDPLX (1u << 12)
#define E1K_CTRL_RST (1u << 26)         /* device reset, self-clearing */
#define E1K_CTRL_VME (1u << 30)
#define E1K_CTRL_PHY_RST (1u << 31)
#define E1K_STATUS 0x00008
#define E1K_STATUS_FD (1u << 0)
#define E1K_STATUS_LU (1u << 1)
#define E1K_STATUS_SPEED_SHIFT 6        /* bits 7:6: 00 10, 01 100, 1x 1000 Mb/s */
#define E1K_STATUS_GIO_MASTER_EN (1u << 19)
#define E1K_EERD 0x00014                /* §10.2, EEPROM read */
#define E1K_EERD_START (1u << 0)
#define E1K_EERD_DONE (1u << 1)
#define E1K_EERD_ADDR_SHIFT 2
#define E1K_EERD_DATA_SHIFT 16

/* ---- §10.2 interrupt registers ---- */
#define E1K_CTRL_EXT 0x00018
#define E1K_CTRL_EXT_EIAME (1u << 24)   /* MSI-X firing masks IAM's causes */
#define E1K_CTRL_EXT_IAME (1u << 27)    /* ICR read masks IAM's causes */
#define E1K_CTRL_EXT_PBA_CLR (1u << 31) /* PBA support: MSI-X pending bits kept */
#define E1K_ICR 0x000c0                 /* clear on read; writing 1s clears those */
#define E1K_IMS 0x000d0                 /* writing 1s unmasks causes */
#define E1K_IMC 0x000d8                 /* writing 1s masks causes */
#define E1K_EIAC 0x000dc                /* causes cleared from ICR when their MSI-X fires */
#define E1K_IAM 0x000e0
#define E1K_IVAR 0x000e4                /* §10.2, IVAR: cause -> MSI-X vector */
#define E1K_EITR(n) (0x000e8 + 4u * (n)) /* §10.2, EITR: per-vector throttling */
/* §10.2, ICR: the per-queue causes, the same bit in IMS, IMC and EIAC. */
#define E1K_ICR_RXQ(q) (1u << (20 + (q)))
/* IVAR: 3-bit vector and a valid bit per cause, RxQ0 in bits 3:0, RxQ1 in
 * 7:4, TxQ0 11:8, TxQ1 15:12, Other 19:16. */
#define E1K_IVAR_RXQ_SHIFT(q) (4u * (q))
#define E1K_IVAR_VALID 0x8u
#define E1K_MSIX_VECTORS 5              /* the 82574's MSI-X table */
/* EITR interval in 256 ns units (bits 15:0): at most one interrupt per
 * vector every 195 x 256 ns = 50 us, 20,000 a second (the Linux e1000e
 * driver's default ceiling); a burst is one interrupt. */
#define E1K_EITR_INTERVAL 195u

/* ---- §10.2 receive registers ---- */
#define E1K_RCTL 0x00100
#define E1K_RCTL_EN (1u << 1)
#define E1K_RCTL_UPE (1u << 3)          /* unicast promiscuous */
#define E1K_RCTL_MPE (1u << 4)          /* multicast promiscuous */
#define E1K_RCTL_LPE (1u << 5)          /* long packets (jumbo) */
#define E1K_RCTL_DTYP_MASK (3u << 10)   /* 00: legacy (or extended, RFCTL) */
#define E1K_RCTL_BAM (1u << 15)         /* accept broadcast */
#define E1K_RCTL_BSIZE_MASK (3u << 16)  /* 00 with BSEX 0: 2048 bytes */
#define E1K_RCTL_BSEX (1u << 25)
#define E1K_RCTL_SECRC (1u << 26)       /* strip the Ethernet CRC */
#define E1K_RDTR 0x02820                /* receive interrupt delay timer */
/* Receive queue q (0 or 1): its registers 0x100 apart. */
#define E1K_RDBAL(q) (0x02800 + 0x100u * (q))
#define E1K_RDBAH(q) (0x02804 + 0x100u * (q))
#define E1K_RDLEN(q) (0x02808 + 0x100u * (q))
#define E1K_RDH(q) (0x02810 + 0x100u * (q))
#define E1K_RDT(q) (0x02818 + 0x100u * (q))
#define E1K_RXQ_MAX 2
#define E1K_RADV 0x0282c
#define E1K_RFCTL 0x05008
#define E1K_RFCTL_EXSTEN (1u << 15)     /* extended rx descriptors; 0: legacy */
#define E1K_RXCSUM 0x05000
#define E1K_RXCSUM_PCSD (1u << 13)      /* descriptor carries the RSS hash, not a checksum */
/* §10.2, MRQC: bits 1:0 01 = RSS; hash types from bit 16 on. */
#define E1K_MRQC 0x05818
#define E1K_MRQC_RSS 0x1u
#define E1K_MRQC_TCP_IPV4 (1u << 16)
#define E1K_MRQC_IPV4 (1u << 17)
#define E1K_MRQC_TCP_IPV6 (1u << 18)
#define E1K_MRQC_IPV6 (1u << 20)
/* RETA: 128 one-byte entries, four to a register; the hash's low 7 bits pick
 * one, and its bit 7 is the queue. */
#define E1K_RETA(n) (0x05c00 + 4u * (n))
#define E1K_RETA_ENTRIES 128
#define E1K_RSSRK(n) (0x05c80 + 4u * (n)) /* the 40-byte key, 10 registers */
#define E1K_RSS_KEY_LEN 40
#define E1K_MTA 0x05200                 /* 128 multicast table entries */
#define E1K_MTA_N 128
#define E1K_RAL(n) (0x05400 + 8u * (n))
#define E1K_RAH(n) (0x05404 + 8u * (n))
#define E1K_RAH_AV (1u << 31)           /* address valid */
#define E1K_RAR_N 16

/* ---- §10.2 transmit registers ---- */
#define E1K_TCTL 0x00400
#define E1K_TCTL_EN (1u << 1)
#define E1K_TCTL_PSP (1u << 3)          /* pad short packets to 64 bytes */
#define E1K_TCTL_CT_SHIFT 4             /* collision threshold, 0x0f */
#define E1K_TCTL_COLD_SHIFT 12          /* collision distance, 0x3f full duplex */
#define E1K_TIPG 0x00410
#define E1K_TDBAL 0x03800
#define E1K_TDBAH 0x03804
#define E1K_TDLEN 0x03808
#define E1K_TDH 0x03810
#define E1K_TDT 0x03818
#define E1K_TIDV 0x03820
#define E1K_TADV 0x0382c

/* ---- §10.2 statistics: clear on read ---- */
#define E1K_CRCERRS 0x04000
#define E1K_RXERRC 0x0400c
#define E1K_MPC 0x04010                 /* missed: dropped for lack of FIFO space */
#define E1K_RNBC 0x040a0                /* receive no buffers (not a drop by itself) */
#define E1K_ROC 0x040ac                 /* receive oversize */

/* §7.1.5: extended receive descriptor (RFCTL.EXSTEN).  The driver writes the
 * buffer address and zeroes the rest; the device writes back, over the
 * address, the RSS type (mrq bits 3:0) and, with RXCSUM.PCSD, the RSS hash;
 * then the status and errors, the length and the VLAN tag, with DD set. */
struct e1k_rx_desc {
	union {
		uint64_t addr;         /* read: the buffer */
		struct {
			uint32_t mrq;  /* write-back: RSS type in bits 3:0 */
			uint32_t rss;  /* write-back: the RSS hash */
		} wb;
	};
	uint32_t status_error; /* status in bits 19:0, errors in 31:20 */
	uint16_t length;       /* bytes stored, CRC excluded with RCTL.SECRC */
	uint16_t vlan;
};
_Static_assert(sizeof(struct e1k_rx_desc) == 16, "82574 extended rx descriptor is 16 bytes");
#define E1K_RXD_STAT_DD (1u << 0)
#define E1K_RXD_STAT_EOP (1u << 1)
#define E1K_RXD_MRQ_RSS_TYPE 0xfu
/* CE, SE, SEQ, CXE, RXE: frame errors (TCPE/IPE are checksum offload only). */
#define E1K_RXD_ERR_FRAME (0x97u << 24)

/* §7.2 (legacy transmit descriptor, DEXT = 0). */
struct e1k_tx_desc {
	uint64_t addr;
	uint16_t length;
	uint8_t cso;
	uint8_t cmd;
	uint8_t status;
	uint8_t css;
	uint16_t special;
};
_Static_assert(sizeof(struct e1k_tx_desc) == 16, "82574 legacy tx descriptor is 16 bytes");
#define E1K_TXD_CMD_EOP (1u << 0)       /* last descriptor of the frame */
#define E1K_TXD_CMD_IFCS (1u << 1)      /* insert the CRC */
#define E1K_TXD_CMD_RS (1u << 3)        /* report status: write DD back */
#define E1K_TXD_STAT_DD (1u << 0)

/* §10.2, RDLEN/TDLEN: rings are a multiple of 128 bytes (8 descriptors)
 * and their base is 128-byte aligned (RDBAL bits 6:0 read as 0). */
#define E1K_RING_ALIGN 128
#define E1K_DESC_MULT 8
#define E1K_MIN_DESC 32
#define E1K_MAX_DESC 4096
#define E1K_RX_BUF 2048                 /* RCTL.BSIZE 00, BSEX 0 */
#define E1K_MAX_MTU UDK_ETHER_MTU       /* no jumbo frames (RCTL.LPE off) */

struct e1k_rxq {
	volatile struct e1k_rx_desc *ring;
	struct udk_mbuf **bufs;     /* the mbuf behind each descriptor */
	volatile uint32_t *rdt;     /* the tail doorbell in BAR0 */
	struct udk_mempool *mp;
	uint16_t nb_desc;
	uint16_t next;              /* the next descriptor the device fills */
	uint16_t port;
	uint64_t ring_iova;
	/* Receive interrupts (e1000e.c): the device's BAR0, the queue's cause
	 * bit in IMS/IMC/ICR, and its MSI-X eventfd (-1 until asked for). */
	volatile uint8_t *bar;
	uint32_t cause;
	int efd;
	/* Written by the receiving lcore only. */
	uint64_t packets, bytes, errors, missed, nombuf; /* udk_counter_add/read */
	uint64_t interrupts;        /* eventfd counts cleared by arm() */
};

struct e1k_txq {
	volatile struct e1k_tx_desc *ring;
	struct udk_mbuf **bufs;     /* the segment behind each descriptor */
	volatile uint32_t *tdt;
	uint16_t nb_desc;
	uint16_t tail;              /* the next descriptor to fill */
	uint16_t clean;             /* the oldest descriptor not yet reclaimed */
	uint16_t nb_free;
	uint32_t max_len;           /* MTU plus the Ethernet header */
	uint64_t ring_iova;
	/* Written by the transmitting lcore only. */
	uint64_t packets, bytes, errors; /* udk_counter_add/read */
};

/* Hardware counters, accumulated from the clear-on-read registers. */
struct e1k_hw_stats {
	uint64_t crcerrs, rxerrc, mpc, rnbc, roc;
};

struct e1k_priv {
	struct udk_pci_dev *pdev;
	volatile uint8_t *bar;
	size_t bar_len;
	struct e1k_hw_stats hw;
	uint8_t reta[E1K_RETA_ENTRIES]; /* RSS table: the rx queue of each entry */
	uint8_t key[E1K_RSS_KEY_LEN];   /* RSS key, written at start and by rss_set */
	int *msix_efds;             /* owned by pdev; NULL while MSI-X is off */
	unsigned int msix_nvec;
};

static inline uint32_t e1k_rd(const struct e1k_priv *p, uint32_t reg)
{
	return *(volatile uint32_t *)(p->bar + reg);
}

static inline void e1k_wr(const struct e1k_priv *p, uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(p->bar + reg) = v;
}

/* e1000e_rxtx.c */
int e1k_rxq_setup(struct udk_eth_dev *dev, uint16_t q, const struct udk_eth_rxq_conf *c,
		  void **queue);
int e1k_txq_setup(struct udk_eth_dev *dev, uint16_t q, const struct udk_eth_txq_conf *c,
		  void **queue);
void e1k_rxq_release(struct udk_eth_dev *dev, void *queue);
void e1k_txq_release(struct udk_eth_dev *dev, void *queue);
/* Give every rx descriptor a buffer (start): 0 or -ENOBUFS. */
int e1k_rxq_fill(struct e1k_rxq *rxq);
/* Take back every buffer the rings hold (stop, after the units are off). */
void e1k_rxq_drain(struct e1k_rxq *rxq);
void e1k_txq_drain(struct e1k_txq *txq);
uint16_t e1k_rx_burst(void *queue, struct udk_mbuf **pkts, uint16_t n);
uint16_t e1k_tx_burst(void *queue, struct udk_mbuf **pkts, uint16_t n);
/* Receive interrupts (udk_ethdev_driver.h): arm 1 if frames wait, 0 armed. */
int e1k_rx_intr_arm(void *queue);
void e1k_rx_intr_disarm(void *queue);

#endif
