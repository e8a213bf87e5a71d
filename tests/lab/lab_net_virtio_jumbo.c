/* SPDX-License-Identifier: BSD-3-Clause */
/* lab_net_virtio_jumbo: mergeable receive buffers (VIRTIO_NET_F_MRG_RXBUF)
 * and jumbo frames over PCI, on the lab's two virtio-nets whose taps the host
 * loops back to them (lab.py, mq_taps: MTU 9000 on the host side; vnetmq0
 * split, vnetmq1 packed), one queue pair each.  The port offers MTU 9000 and
 * takes it; frames of 64..9014 bytes (MTU 9000 plus the Ethernet header),
 * sent as chains of 2 KiB mbufs, come back each once and intact, and the
 * ones longer than a receive buffer arrive as chains (nb_segs > 1).  Puts
 * both devices back on their drivers. */
#include <stdio.h>
#include <string.h>

#include "labutil.h"
#include "labvnetmq.h"
#include "udk_ethdev.h"
#include "udk_mbuf.h"
#include "udk_util.h"

#define MTU 9000
#define MAX_FRAME (MTU + 14)
#define NB_MBUF 4096
#define IN_FLIGHT 16      /* frames sent and not yet back: the rx ring holds them */
#define TIMEOUT_MS 120000
#define ETHERTYPE 0x88b5  /* IEEE local experimental */

/* 64 to MAX_FRAME in even steps, and the lengths around a receive buffer's
 * edge (2048 bytes of data room, the 12-byte header in the headroom). */
static uint32_t lens[256];
static uint32_t nlens;
static uint16_t seen[256];

static void make_lens(void)
{
	static const uint32_t edges[] = {2047, 2048, 2049, 4096, 4097, 6144, 8191, 8192, MAX_FRAME - 1};

	nlens = 0;
	for (uint32_t i = 0; i < 200; i++)
		lens[nlens++] = 64 + i * (MAX_FRAME - 64) / 199;
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		lens[nlens++] = edges[i];
}

/* Frame i: to mac, EtherType ETHERTYPE, "UDKJ", i, its length, a pattern of i. */
static void frame_fill(uint8_t *f, const uint8_t mac[6], uint32_t i)
{
	uint32_t len = lens[i];

	memcpy(f, mac, 6);
	memcpy(f + 6, (uint8_t[]){0x02, 0, 0, 0x4a, 0x4d, 0x42}, 6);
	f[12] = ETHERTYPE >> 8;
	f[13] = ETHERTYPE & 0xff;
	memcpy(f + 14, "UDKJ", 4);
	memcpy(f + 18, &i, 4);
	memcpy(f + 22, &len, 4);
	for (uint32_t k = 26; k < len; k++)
		f[k] = (uint8_t)(i * 13 + k * 7 + (k >> 8));
}

/* What the round trip needs of this port. */
struct ctx {
	struct udk_mempool *mp;
	const uint8_t *mac;
	uint32_t chained, max_segs;
};

static struct udk_mbuf *make(uint32_t i, void *arg)
{
	static uint8_t f[MAX_FRAME];
	struct ctx *c = arg;

	frame_fill(f, c->mac, i);
	return lab_vnetmq_chain(c->mp, f, lens[i], 2000);
}

/* Which frame of ours m is (-1 another frame, -2 one of ours damaged);
 * counts the chains. */
static int check(const struct udk_mbuf *m, void *arg)
{
	static uint8_t got[MAX_FRAME], want[MAX_FRAME];
	struct ctx *c = arg;
	uint32_t i;

	if (m->pkt_len < 26 || m->pkt_len > MAX_FRAME || udk_pktmbuf_read(m, 0, m->pkt_len, got) != 0)
		return -1;
	if (got[12] != (ETHERTYPE >> 8) || got[13] != (ETHERTYPE & 0xff) ||
	    memcmp(got + 14, "UDKJ", 4) != 0)
		return -1;
	memcpy(&i, got + 18, 4);
	if (i < nlens && m->pkt_len == lens[i]) {
		frame_fill(want, c->mac, i);
		if (memcmp(got, want, lens[i]) == 0) {
			c->chained += m->nb_segs > 1;
			if (m->nb_segs > c->max_segs)
				c->max_segs = m->nb_segs;
			return (int)i;
		}
	}
	printf("  damaged frame of %u bytes, %u segments\n", m->pkt_len, m->nb_segs);
	return -2;
}

static void jumbo_port(uint16_t port, const char *label, struct udk_mempool *mp,
		       const uint8_t mac[6])
{
	struct ctx c = {.mp = mp, .mac = mac};
	struct udk_eth_dev_info info;
	struct udk_eth_stats st;
	struct lab_trip r;

	CHECK(udk_eth_dev_info_get(port, &info) == 0);
	printf("%s: port %u, %s, MTU %u..%u\n", label, port, info.driver, info.min_mtu,
	       info.max_mtu);
	CHECK_MSG(info.max_mtu == MTU, "%s: max MTU %u; with mergeable receive buffers the port "
		  "takes %u", label, info.max_mtu, MTU);
	lab_vnetmq_port_up(port, mp, MTU, 0, 0);
	lab_vnetmq_round_trip(port, nlens, IN_FLIGHT, seen, make, check, &c, TIMEOUT_MS, &r);
	printf("%s: %u of %u frames (64..%u bytes) back in %llu ms, %u as chains (up to %u "
	       "segments); duplicates %u, damaged %u, others %u\n", label, r.got, nlens, MAX_FRAME,
	       (unsigned long long)r.ms, c.chained, c.max_segs, r.dup, r.bad, r.other);
	for (uint32_t i = 0, shown = 0; i < nlens && shown < 5; i++)
		if (!seen[i] && ++shown)
			printf("  frame %u (%u bytes) did not come back\n", i, lens[i]);
	CHECK_MSG(r.sent == nlens, "%s: %u of %u frames sent", label, r.sent, nlens);
	CHECK_MSG(r.got == nlens, "%s: %u of %u frames came back", label, r.got, nlens);
	CHECK(r.dup == 0 && r.bad == 0);
	CHECK_MSG(c.chained > 0 && c.max_segs >= 5, "%s: %u frames as chains, up to %u segments; "
		  "a 9014-byte frame needs 5 receive buffers", label, c.chained, c.max_segs);
	CHECK(udk_eth_stats_get(port, &st) == 0);
	printf("%s: ipackets %llu ierrors %llu opackets %llu oerrors %llu\n", label,
	       (unsigned long long)st.ipackets, (unsigned long long)st.ierrors,
	       (unsigned long long)st.opackets, (unsigned long long)st.oerrors);
	CHECK(st.opackets == nlens && st.oerrors == 0 && st.ierrors == 0);
	CHECK(udk_eth_dev_stop(port) == 0);
	CHECK(udk_eth_dev_close(port) == 0);
}

int main(void)
{
	struct lab_vnetmq t;

	lab_vnetmq_open(&t, "lab_net_virtio_jumbo", NB_MBUF);
	make_lens();
	for (int d = 0; d < 2; d++)
		jumbo_port(t.port[d], t.label[d], t.mp, t.mac[d]);
	lab_vnetmq_close(&t);
	return lab_result();
}
