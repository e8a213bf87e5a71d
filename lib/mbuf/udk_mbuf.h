/* SPDX-License-Identifier: BSD-3-Clause */
/* udk_mbuf.h - packet buffers: a 128-byte header (its first cache line is
 * what rx/tx touch), headroom, data; chained segments; a reference count; the buffer's
 * IOVA computed once at pool creation so drivers never translate.
 *
 * Buffers come from a mempool made by udk_pktmbuf_pool_create().  Every call
 * below but pool creation is inline fast path: no lock, no system call, no
 * log.  A buffer belongs to one thread at a time, except that the reference
 * count may be shared (atomic).
 */
#ifndef UDK_MBUF_H
#define UDK_MBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "udk_cdefs.h"
#include "udk_mempool.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UDK_PKTMBUF_HEADROOM 128
#define UDK_MBUF_DEFAULT_DATAROOM 2048
#define UDK_MBUF_DEFAULT_BUF_SIZE (UDK_MBUF_DEFAULT_DATAROOM + UDK_PKTMBUF_HEADROOM)
#define UDK_MBUF_MAX_SEGS UINT16_MAX
#define UDK_PORT_NONE UINT16_MAX

/* ol_flags: the receiving port put the RSS hash it computed over the frame
 * (the Toeplitz hash of its key over the addresses, and ports where the hash
 * type has them) in hash_rss.  DPDK's RTE_MBUF_F_RX_RSS_HASH bit, so a frame
 * crossing the DPDK bridge keeps its meaning. */
#define UDK_MBUF_F_RSS_HASH (1ULL << 1)

/* The header is two cache lines laid out like DPDK's struct rte_mbuf (22.11
 * and later) for every field the two share, so that a buffer can be both: the
 * DPDK bridge (drivers/net/dpdk, doc/dpdk.md) hands DPDK's receive buffers to
 * udk and udk's back to DPDK without translating a header.  Fields marked
 * "reserved" are DPDK's; udk leaves them alone.  The first line holds what
 * receive and transmit touch; the second what chaining and freeing do. */
struct udk_mbuf {
	void *buf_addr;          /* start of the buffer (headroom first) */
	uint64_t buf_iova;       /* IOVA of buf_addr */
	uint16_t data_off;       /* data starts at buf_addr + data_off */
	UDK_ATOMIC(uint16_t) refcnt;
	uint16_t nb_segs;        /* segments in the chain (valid in the first) */
	uint16_t port;           /* input port, UDK_PORT_NONE if none */
	uint64_t ol_flags;       /* offload flags, UDK_MBUF_F_* (DPDK's on its buffers) */
	uint32_t packet_type_;   /* reserved */
	uint32_t pkt_len;        /* bytes in the whole chain (valid in the first) */
	uint16_t data_len;       /* bytes in this segment */
	uint16_t vlan_tci_;      /* reserved */
	uint32_t hash_rss;       /* RSS hash of a received frame, if UDK_MBUF_F_RSS_HASH */
	uint32_t hash_hi_;       /* reserved */
	uint16_t vlan_tci_outer_; /* reserved */
	uint16_t buf_len;        /* bytes of buffer, headroom included */
	/* An external pool for this buffer, for a bridge to another packet
	 * framework: udk never reads it.  With the DPDK bridge (drivers/net/dpdk)
	 * it sits where rte_mbuf has its pool: the rte_mempool of a DPDK receive
	 * buffer, or, for udk's own buffers, a DPDK pool that hands them back to
	 * their udk pool (udk_pktmbuf_set_ext_pool()).  NULL without a bridge. */
	void *ext_pool;
	/* second cache line */
	struct udk_mbuf *next;   /* next segment, or NULL */
	/* What a transmit offload needs to find the headers (valid in the
	 * first segment, with the UDK_MBUF_F_TX_* flag that asks for it):
	 * DPDK's tx_offload word, bit for bit. */
	union {
		uint64_t tx_offload;
		struct {
			uint64_t l2_len : 7;       /* Ethernet header (14, 18 with a VLAN) */
			uint64_t l3_len : 9;       /* IP header, options included */
			uint64_t l4_len : 8;       /* TCP header, options included (TSO) */
			uint64_t tso_segsz : 16;   /* TCP payload bytes per segment (TSO) */
			uint64_t outer_l3_len : 9; /* reserved */
			uint64_t outer_l2_len : 7; /* reserved */
		};
	};
	uint64_t reserved_[4];   /* DPDK's shinfo, priv_size, timesync... */
	uint64_t udata64;        /* for the application */
	struct udk_mempool *pool;
};
UDK_STATIC_ASSERT(sizeof(struct udk_mbuf) == 128, "the mbuf header is two cache lines");
UDK_STATIC_ASSERT(offsetof(struct udk_mbuf, pkt_len) == 36 &&
		       offsetof(struct udk_mbuf, hash_rss) == 44 &&
		       offsetof(struct udk_mbuf, tx_offload) == 72 &&
		       offsetof(struct udk_mbuf, buf_len) == 54 &&
		       offsetof(struct udk_mbuf, ext_pool) == 56 &&
		       offsetof(struct udk_mbuf, next) == 64 &&
		       offsetof(struct udk_mbuf, udata64) == 112 &&
		       offsetof(struct udk_mbuf, pool) == 120,
	       "udk_mbuf keeps rte_mbuf's offsets (drivers/net/dpdk relies on them)");

/* Offload flags (ol_flags), with DPDK's values so that a buffer means the
 * same to a DPDK PMD behind the bridge.  A driver sets the RX_ ones on
 * receive when the port was configured for the offload
 * (udk_eth_conf.rx_offloads); none of them set means nothing is known.
 * The application sets the TX_ ones, with l2_len and l3_len, to ask the
 * port for the work. */
/* The L4 (TCP/UDP) checksum was checked and is good. */
#define UDK_MBUF_F_RX_L4_CKSUM_GOOD (1ULL << 8)
/* It was checked and is bad. */
#define UDK_MBUF_F_RX_L4_CKSUM_BAD (1ULL << 3)
/* Both bits: the data is known intact but the checksum field is not filled
 * in (a virtio device's partial checksum, from a sender on the same host
 * that offloaded it): to send the frame on, ask for UDK_MBUF_F_TX_*_CKSUM. */
#define UDK_MBUF_F_RX_L4_CKSUM_NONE (UDK_MBUF_F_RX_L4_CKSUM_GOOD | UDK_MBUF_F_RX_L4_CKSUM_BAD)
#define UDK_MBUF_F_RX_L4_CKSUM_MASK UDK_MBUF_F_RX_L4_CKSUM_NONE
/* Fill in the TCP or UDP checksum: the field must hold the checksum of the
 * pseudo-header (RFC 793 / RFC 768: addresses, protocol, L4 length; not
 * inverted), the header starts at l2_len + l3_len.  One of the two values
 * of the 2-bit field UDK_MBUF_F_TX_L4_MASK. */
#define UDK_MBUF_F_TX_TCP_CKSUM (1ULL << 52)
#define UDK_MBUF_F_TX_UDP_CKSUM (3ULL << 52)
#define UDK_MBUF_F_TX_L4_MASK (3ULL << 52)
/* TCP segmentation (TSO): the port sends the frame as segments of at most
 * tso_segsz TCP payload bytes, each with its own IPv4 and TCP header and
 * checksums; needs l2_len, l3_len, l4_len, tso_segsz and UDK_MBUF_F_TX_IPV4,
 * implies the TCP checksum, whose field must then hold the pseudo-header
 * sum WITHOUT the length (DPDK's convention).  The frame may pass the MTU
 * (up to 64 KiB of IP). */
#define UDK_MBUF_F_TX_TCP_SEG (1ULL << 50)
#define UDK_MBUF_F_TX_IPV4 (1ULL << 55) /* the frame is IPv4 (with a TX_ checksum flag) */
#define UDK_MBUF_F_TX_IPV6 (1ULL << 56)

/* A pool of n buffers of data_room bytes each (headroom included; 0 means
 * UDK_MBUF_DEFAULT_BUF_SIZE), with per-lcore caches of cache_size.  Errors
 * as udk_mempool_create(), and -EINVAL for a data room over 65535. */
int udk_pktmbuf_pool_create(const char *name, uint32_t n, uint32_t cache_size,
			    uint32_t data_room, int socket, struct udk_mempool **out);

/* The same on the heap mem (NULL: udk_mem_default()): the buffers get IOVAs
 * of the map that heap follows.  For a port on a map other than the default
 * one, mem is udk_eth_dev_mem(port); the caller keeps mem alive as long as
 * the pool. */
int udk_pktmbuf_pool_create_mem(struct udk_mem *mem, const char *name, uint32_t n,
				uint32_t cache_size, uint32_t data_room, int socket,
				struct udk_mempool **out);

/* Make every buffer of every udk packet pool, now and later, name pool as its
 * ext_pool: the hook of a bridge to another packet framework, whose pool
 * hands a buffer back to its udk pool.  The DPDK bridge (drivers/net/dpdk)
 * sets a DPDK mbuf pool here so that any udk buffer can go to a DPDK PMD as
 * it is.  Not on the fast path; fields of buffers in flight change too
 * (nothing but the bridge reads them).  NULL clears it. */
void udk_pktmbuf_set_ext_pool(void *pool);

/* Deprecated, to be removed in the release after 0.1: the DPDK-named hook. */
__attribute__((deprecated("udk_pktmbuf_set_dpdk_pool() is now udk_pktmbuf_set_ext_pool()")))
static inline void udk_pktmbuf_set_dpdk_pool(void *pool)
{
	udk_pktmbuf_set_ext_pool(pool);
}

static inline void udk_pktmbuf_reset(struct udk_mbuf *m)
{
	m->next = NULL;
	m->pkt_len = 0;
	m->data_len = 0;
	m->nb_segs = 1;
	m->port = UDK_PORT_NONE;
	m->ol_flags = 0;
	m->tx_offload = 0;
	m->data_off = m->buf_len < UDK_PKTMBUF_HEADROOM ? m->buf_len : UDK_PKTMBUF_HEADROOM;
}

/* A reset buffer with refcnt 1, or NULL when the pool is empty. */
static inline struct udk_mbuf *udk_pktmbuf_alloc(struct udk_mempool *mp)
{
	void *obj;

	if (udk_mempool_get(mp, &obj) != 0)
		return NULL;
	udk_pktmbuf_reset((struct udk_mbuf *)obj);
	return (struct udk_mbuf *)obj;
}

/* n reset buffers, all or none: 0 or -ENOBUFS. */
static inline int udk_pktmbuf_alloc_bulk(struct udk_mempool *mp, struct udk_mbuf **ms,
					 unsigned int n)
{
	if (udk_mempool_get_bulk(mp, (void **)ms, n) != 0)
		return -ENOBUFS;
	for (unsigned int i = 0; i < n; i++)
		udk_pktmbuf_reset(ms[i]);
	return 0;
}

static inline uint16_t udk_mbuf_refcnt_read(const struct udk_mbuf *m)
{
	return UDK_ATOMIC_LOAD(&((struct udk_mbuf *)m)->refcnt, RELAXED);
}

/* Add v (may be negative) to the reference count; returns the new count. */
static inline uint16_t udk_mbuf_refcnt_update(struct udk_mbuf *m, int16_t v)
{
	return (uint16_t)(UDK_ATOMIC_FETCH_ADD(&m->refcnt, (uint16_t)v, ACQ_REL) + (uint16_t)v);
}

/* Drop one reference to this segment only; the last one returns it to its
 * pool.  Returns the next segment. */
static inline struct udk_mbuf *udk_pktmbuf_free_seg(struct udk_mbuf *m)
{
	struct udk_mbuf *next = m->next;

	/* The common case (sole owner) skips the atomic read-modify-write. */
	if (udk_mbuf_refcnt_read(m) == 1 || udk_mbuf_refcnt_update(m, -1) == 0) {
		UDK_ATOMIC_STORE(&m->refcnt, 1, RELAXED);
		m->next = NULL;
		m->nb_segs = 1;
		udk_mempool_put(m->pool, m);
	}
	return next;
}

/* Free a whole chain (NULL is fine). */
static inline void udk_pktmbuf_free(struct udk_mbuf *m)
{
	while (m != NULL)
		m = udk_pktmbuf_free_seg(m);
}

static inline void udk_pktmbuf_free_bulk(struct udk_mbuf **ms, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		udk_pktmbuf_free(ms[i]);
}

#define udk_pktmbuf_mtod_offset(m, t, o) ((t)((char *)(m)->buf_addr + (m)->data_off + (o)))
#define udk_pktmbuf_mtod(m, t) udk_pktmbuf_mtod_offset(m, t, 0)

/* IOVA of the segment's data, what a descriptor points at. */
static inline uint64_t udk_pktmbuf_iova(const struct udk_mbuf *m)
{
	return m->buf_iova + m->data_off;
}

static inline uint16_t udk_pktmbuf_headroom(const struct udk_mbuf *m)
{
	return m->data_off;
}

static inline uint16_t udk_pktmbuf_tailroom(const struct udk_mbuf *m)
{
	return (uint16_t)(m->buf_len - m->data_off - m->data_len);
}

static inline struct udk_mbuf *udk_pktmbuf_lastseg(struct udk_mbuf *m)
{
	while (m->next != NULL)
		m = m->next;
	return m;
}

/* Grow the packet by len bytes at its end (in the last segment); returns
 * where they start, or NULL if the last segment has no room. */
static inline char *udk_pktmbuf_append(struct udk_mbuf *m, uint16_t len)
{
	struct udk_mbuf *last = udk_pktmbuf_lastseg(m);
	char *p;

	if (len > udk_pktmbuf_tailroom(last))
		return NULL;
	p = (char *)last->buf_addr + last->data_off + last->data_len;
	last->data_len = (uint16_t)(last->data_len + len);
	m->pkt_len += len;
	return p;
}

/* Grow the packet by len bytes at its front; NULL if the headroom is short. */
static inline char *udk_pktmbuf_prepend(struct udk_mbuf *m, uint16_t len)
{
	if (len > m->data_off)
		return NULL;
	m->data_off = (uint16_t)(m->data_off - len);
	m->data_len = (uint16_t)(m->data_len + len);
	m->pkt_len += len;
	return (char *)m->buf_addr + m->data_off;
}

/* Remove len bytes from the front of the first segment; returns the new
 * start, or NULL if the segment is shorter. */
static inline char *udk_pktmbuf_adj(struct udk_mbuf *m, uint16_t len)
{
	if (len > m->data_len)
		return NULL;
	m->data_off = (uint16_t)(m->data_off + len);
	m->data_len = (uint16_t)(m->data_len - len);
	m->pkt_len -= len;
	return (char *)m->buf_addr + m->data_off;
}

/* Remove len bytes from the end of the last segment: 0, or -EINVAL. */
static inline int udk_pktmbuf_trim(struct udk_mbuf *m, uint16_t len)
{
	struct udk_mbuf *last = udk_pktmbuf_lastseg(m);

	if (len > last->data_len)
		return -EINVAL;
	last->data_len = (uint16_t)(last->data_len - len);
	m->pkt_len -= len;
	return 0;
}

/* Append the chain tail to the chain head: 0, or -EOVERFLOW if the chain
 * would pass UDK_MBUF_MAX_SEGS segments (nothing changes then). */
static inline int udk_pktmbuf_chain(struct udk_mbuf *head, struct udk_mbuf *tail)
{
	if ((uint32_t)head->nb_segs + tail->nb_segs > UDK_MBUF_MAX_SEGS)
		return -EOVERFLOW;
	udk_pktmbuf_lastseg(head)->next = tail;
	head->nb_segs = (uint16_t)(head->nb_segs + tail->nb_segs);
	head->pkt_len += tail->pkt_len;
	tail->pkt_len = tail->data_len;
	tail->nb_segs = 1;
	return 0;
}

/* Copy len bytes at offset off of the packet (across segments) into buf:
 * 0, or -ERANGE if the packet is shorter. */
static inline int udk_pktmbuf_read(const struct udk_mbuf *m, uint32_t off, uint32_t len,
				   void *buf)
{
	char *out = (char *)buf;

	if ((uint64_t)off + len > m->pkt_len)
		return -ERANGE;
	for (; m != NULL && len > 0; m = m->next) {
		if (off >= m->data_len) {
			off -= m->data_len;
			continue;
		}
		uint32_t n = m->data_len - off < len ? m->data_len - off : len;
		memcpy(out, (const char *)m->buf_addr + m->data_off + off, n);
		out += n;
		len -= n;
		off = 0;
	}
	return 0;
}

#ifdef __cplusplus
}
#endif
#endif
