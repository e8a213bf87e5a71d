/* SPDX-License-Identifier: BSD-3-Clause */
/* mbuf_layout.c - compiled by meson before the DPDK bridge is built (and
 * into it): struct udk_mbuf must keep struct rte_mbuf's layout for every
 * field the two share, since the bridge hands each side the other's buffers
 * as they are (dpdk_mbuf.c). */
#include <stddef.h>

#include <rte_mbuf.h>

#include "udk_mbuf.h"

#define SAME(f, g)                                                                  \
	_Static_assert(offsetof(struct udk_mbuf, f) == offsetof(struct rte_mbuf, g) &&  \
			       sizeof(((struct udk_mbuf *)0)->f) ==                   \
				       sizeof(((struct rte_mbuf *)0)->g),              \
		       "udk_mbuf." #f " is not where rte_mbuf." #g " is")

SAME(buf_addr, buf_addr);
SAME(buf_iova, buf_iova);
SAME(data_off, data_off);
SAME(refcnt, refcnt);
SAME(nb_segs, nb_segs);
SAME(port, port);
SAME(ol_flags, ol_flags);
SAME(pkt_len, pkt_len);
SAME(data_len, data_len);
SAME(hash_rss, hash.rss);
SAME(buf_len, buf_len);
SAME(ext_pool, pool);
SAME(next, next);
SAME(tx_offload, tx_offload);
/* The offload flags mean the same on both sides. */
_Static_assert(UDK_MBUF_F_RX_L4_CKSUM_GOOD == RTE_MBUF_F_RX_L4_CKSUM_GOOD &&
		       UDK_MBUF_F_RX_L4_CKSUM_BAD == RTE_MBUF_F_RX_L4_CKSUM_BAD &&
		       UDK_MBUF_F_RX_L4_CKSUM_NONE == RTE_MBUF_F_RX_L4_CKSUM_NONE &&
		       UDK_MBUF_F_TX_TCP_CKSUM == RTE_MBUF_F_TX_TCP_CKSUM &&
		       UDK_MBUF_F_TX_UDP_CKSUM == RTE_MBUF_F_TX_UDP_CKSUM &&
		       UDK_MBUF_F_TX_L4_MASK == RTE_MBUF_F_TX_L4_MASK &&
		       UDK_MBUF_F_TX_TCP_SEG == RTE_MBUF_F_TX_TCP_SEG &&
		       UDK_MBUF_F_TX_IPV4 == RTE_MBUF_F_TX_IPV4 &&
		       UDK_MBUF_F_TX_IPV6 == RTE_MBUF_F_TX_IPV6,
	       "udk's offload flags are not DPDK's");
_Static_assert(UDK_MBUF_F_RSS_HASH == RTE_MBUF_F_RX_RSS_HASH, "the RSS hash flag is not DPDK's");
_Static_assert(sizeof(struct udk_mbuf) == sizeof(struct rte_mbuf), "the headers differ in size");
/* udk's own fields lie in DPDK's dynamic-field area. */
_Static_assert(offsetof(struct udk_mbuf, udata64) >= offsetof(struct rte_mbuf, dynfield1) &&
		       offsetof(struct udk_mbuf, pool) >= offsetof(struct rte_mbuf, dynfield1),
	       "udk's fields are outside DPDK's dynamic-field area");
