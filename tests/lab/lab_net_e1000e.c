/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_net_e1000e: udk's e1000e driver moves real frames through QEMU's 82574
 * to a peer udk did not write: the kernel's virtio_net on the virtio-net NIC,
 * wired to the e1000e by hub 0, read and written through an AF_PACKET socket
 * (EtherType 0x88b5).  1000 numbered frames of 60..1514 bytes each way, every
 * byte checked, none missing; the port's statistics against what was counted
 * here (and the kernel's); the errors a user meets: more queues than the
 * device has, an MTU past its limit, a ring size it cannot take; a frame over
 * the MTU dropped and counted; a chained mbuf sent as one frame; a stopped
 * port sending nothing; the link up at 1000 Mb/s full duplex; an empty
 * mempool (frames dropped, counted as imissed and rx_nombuf, the ring intact);
 * the address filter with and without promiscuous mode; stop and start
 * again; no DMA fault in the kernel log.  Puts the e1000e, the virtio NIC and
 * virtio_net back as found.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <glob.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "labbackend.h"
#include "labnet.h"
#include "labutil.h"
#include "udk_eal.h"
#include "udk_ethdev.h"
#include "udk_mbuf.h"
#include "udk_util.h"

#define ETYPE 0x88b5
#define N 1000
#define BURST 32
#define MIN_LEN 60
#define MAX_LEN 1514
#define HDR 24 /* Ethernet header, "udk", direction, sequence (4), length (2), spare */

static uint8_t mac_e[6], mac_v[6];
static uint16_t port;
static struct udk_mempool *mp;
static struct labnet_peer peer; /* the kernel on the virtio NIC */

static bool error_has(const char *text)
{
	bool ok = strstr(udk_last_error(), text) != NULL;

	printf("  error: \"%s\"%s\n", udk_last_error(), ok ? "" : "  <- expected to contain it");
	return ok;
}

/* The frame of sequence number seq in direction dir (0: udk -> kernel). */
static uint32_t frame_len(uint32_t seq)
{
	return MIN_LEN + (seq * 37u) % (MAX_LEN - MIN_LEN + 1);
}

static uint8_t pattern(uint8_t dir, uint32_t seq, uint32_t i)
{
	return (uint8_t)(seq * 7u + i * 13u + dir * 101u);
}

static void frame_fill(uint8_t *f, uint32_t len, uint8_t dir, uint32_t seq)
{
	memcpy(f, dir ? mac_e : mac_v, 6);
	memcpy(f + 6, dir ? mac_v : mac_e, 6);
	f[12] = ETYPE >> 8;
	f[13] = ETYPE & 0xff;
	memcpy(f + 14, "udk", 3);
	f[17] = dir;
	f[18] = (uint8_t)(seq >> 24);
	f[19] = (uint8_t)(seq >> 16);
	f[20] = (uint8_t)(seq >> 8);
	f[21] = (uint8_t)seq;
	f[22] = (uint8_t)(len >> 8);
	f[23] = (uint8_t)len;
	for (uint32_t i = HDR; i < len; i++)
		f[i] = pattern(dir, seq, i);
}

/* Check a received frame: 0 and its sequence number, or -1 with a reason. */
static int frame_check(const uint8_t *f, uint32_t len, uint8_t dir, uint32_t *seq,
		       const char **why)
{
	uint32_t want;

	*why = NULL;
	if (len < HDR || memcmp(f, dir ? mac_e : mac_v, 6) != 0 ||
	    memcmp(f + 6, dir ? mac_v : mac_e, 6) != 0)
		*why = "addresses";
	else if (f[12] != ETYPE >> 8 || f[13] != (ETYPE & 0xff) || memcmp(f + 14, "udk", 3) ||
		 f[17] != dir)
		*why = "header";
	if (*why != NULL)
		return -1;
	*seq = (uint32_t)f[18] << 24 | (uint32_t)f[19] << 16 | (uint32_t)f[20] << 8 | f[21];
	want = (uint32_t)f[22] << 8 | f[23];
	if (len != want || ((*seq < N || *seq >= 2 * N) && want != frame_len(*seq))) {
		*why = "length";
		return -1;
	}
	for (uint32_t i = HDR; i < len; i++) {
		if (f[i] != pattern(dir, *seq, i)) {
			*why = "payload";
			return -1;
		}
	}
	return 0;
}

static struct udk_mbuf *mbuf_frame(uint8_t dir, uint32_t seq, uint32_t len)
{
	struct udk_mbuf *m = udk_pktmbuf_alloc(mp);
	uint8_t *p;

	if (m == NULL)
		return NULL;
	p = (uint8_t *)udk_pktmbuf_append(m, (uint16_t)len);
	if (p == NULL) {
		udk_pktmbuf_free(m);
		return NULL;
	}
	frame_fill(p, len, dir, seq);
	return m;
}

/* Receive every waiting frame on the socket; count the good ones in seen. */
static unsigned int sock_drain(uint8_t *seen, unsigned int *bad)
{
	static uint8_t buf[2048];
	struct sockaddr_ll from;
	unsigned int got = 0;

	for (;;) {
		socklen_t flen = sizeof(from);
		ssize_t r = recvfrom(peer.sock, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
				     &flen);
		const char *why;
		uint32_t seq;

		if (r < 0)
			return got;
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (frame_check(buf, (uint32_t)r, 0, &seq, &why) < 0 || seq >= N + 8) {
			if (++*bad <= 5)
				printf("  kernel got a bad frame (%zd bytes): %s\n", r,
				       why ? why : "sequence");
			continue;
		}
		if (seen[seq]++ == 0)
			got++;
		else if (++*bad <= 5)
			printf("  kernel got frame %u twice\n", seq);
	}
}

static uint64_t if_stat(const char *what)
{
	char path[128], buf[32] = "0";

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", peer.ifname, what);
	lab_read_file(path, buf, sizeof(buf));
	return strtoull(buf, NULL, 10);
}

/* (1) 1000 frames udk -> kernel. */
static uint64_t udk_to_kernel(uint64_t *obytes)
{
	static uint8_t seen[N + 8];
	unsigned int sent = 0, got = 0, bad = 0;
	uint64_t end = labnet_ms() + 60000, t0 = labnet_ms();

	*obytes = 0;
	while ((sent < N || got < N) && labnet_ms() < end) {
		if (sent < N) {
			struct udk_mbuf *ms[BURST];
			unsigned int k = N - sent < BURST ? N - sent : BURST;
			uint16_t nb;

			for (unsigned int j = 0; j < k; j++) {
				ms[j] = mbuf_frame(0, sent + j, frame_len(sent + j));
				REQUIRE(ms[j] != NULL);
			}
			nb = udk_eth_tx_burst(port, 0, ms, (uint16_t)k);
			for (unsigned int j = 0; j < nb; j++)
				*obytes += frame_len(sent + j);
			udk_pktmbuf_free_bulk(ms + nb, k - nb);
			sent += nb;
		}
		got += sock_drain(seen, &bad);
	}
	printf("(1) udk -> kernel: %u sent, %u received intact on %s, %u bad, %llu ms\n", sent,
	       got, peer.ifname, bad, (unsigned long long)(labnet_ms() - t0));
	CHECK(sent == N);
	CHECK_MSG(got == N, "%u of %u frames missing", N - got, N);
	CHECK(bad == 0);
	for (unsigned int i = 0; i < N && got != N; i++)
		if (!seen[i]) {
			printf("  first missing: %u\n", i);
			break;
		}
	return sent;
}

/* Send frame seq (direction 1) from the kernel: false if its socket is full. */
static bool kernel_send_one(uint32_t seq)
{
	static uint8_t f[MAX_LEN];
	uint32_t len = frame_len(seq);

	frame_fill(f, len, 1, seq);
	if (send(peer.sock, f, len, MSG_DONTWAIT) == (ssize_t)len)
		return true;
	if (errno != EAGAIN && errno != ENOBUFS)
		lab_fatal("send on %s: %s", peer.ifname, strerror(errno));
	return false;
}

/* (2) 1000 frames kernel -> udk.  AF_PACKET's send() succeeding does not
 * mean the kernel sent the frame (virtio_net or the qdisc may drop it on a
 * loaded host, counting no tx), and virtio_net counts tx only when the
 * device hands the buffer back: so once the kernel's tx counter and udk's
 * receptions have settled, what the kernel did not send is sent again
 * (counted), and udk must have received exactly as many of our frames as
 * the kernel's tx counter says it sent. */
static void kernel_to_udk(uint64_t *ibytes, uint64_t *ipackets)
{
	static uint8_t seen[N], again[N];
	unsigned int sent = 0, got = 0, rcvd = 0, bad = 0, other = 0, resent = 0, rounds = 0;
	uint64_t t0 = labnet_ms(), end = t0 + 60000, settled = t0;
	uint64_t ktx0 = if_stat("tx_packets"), ktx = 0, last_ktx = 0;
	unsigned int last_rcvd = 0;

	while (labnet_ms() < end) {
		struct udk_mbuf *rx[BURST];
		uint16_t nb;

		for (int j = 0; j < 8 && sent < N && kernel_send_one(sent); j++)
			sent++;
		nb = udk_eth_rx_burst(port, 0, rx, BURST);
		for (uint16_t i = 0; i < nb; i++) {
			struct udk_mbuf *m = rx[i];
			const uint8_t *p = udk_pktmbuf_mtod(m, const uint8_t *);
			const char *why = NULL;
			uint32_t seq;

			(*ipackets)++;
			*ibytes += m->pkt_len;
			if (m->pkt_len < 14 || p[12] != ETYPE >> 8 || p[13] != (ETYPE & 0xff)) {
				other++;
			} else if (m->nb_segs != 1 || m->port != port ||
				   m->data_len != m->pkt_len ||
				   frame_check(p, m->pkt_len, 1, &seq, &why) < 0 || seq >= N) {
				if (++bad <= 5)
					printf("  udk got a bad frame (%u bytes, %u segs): %s\n",
					       m->pkt_len, m->nb_segs, why ? why : "mbuf fields");
			} else if (seen[seq]++ == 0) {
				got++, rcvd++;
			} else if (again[seq]) {
				rcvd++; /* the first copy was late, not lost: both count */
			} else if (++bad <= 5) {
				printf("  udk got frame %u twice\n", seq);
			}
		}
		udk_pktmbuf_free_bulk(rx, nb);
		if (sent < N)
			continue;
		/* All handed to the kernel: wait for its counter and udk to settle. */
		ktx = if_stat("tx_packets") - ktx0;
		if (ktx != last_ktx || rcvd != last_rcvd) {
			last_ktx = ktx, last_rcvd = rcvd;
			settled = labnet_ms();
			continue;
		}
		if (got == N && ktx == rcvd)
			break;
		if (labnet_ms() - settled < (got == N ? 5000 : 1000))
			continue;
		if (got == N || ktx >= (uint64_t)N + resent || ++rounds > 5)
			break; /* the kernel sent all it was given: nothing to resend */
		for (uint32_t seq = 0; seq < N; seq++)
			if (!seen[seq] && kernel_send_one(seq))
				again[seq] = 1, resent++;
		settled = labnet_ms();
	}
	printf("(2) kernel -> udk: %u sent from %s (+%u again that the kernel did not send), "
	       "kernel tx +%llu, %u received intact by udk (%u distinct), %u bad, %u other "
	       "frames, %llu ms\n", sent, peer.ifname, resent, (unsigned long long)ktx, rcvd, got,
	       bad, other, (unsigned long long)(labnet_ms() - t0));
	CHECK(sent == N);
	CHECK_MSG(got == N, "%u of %u frames missing", N - got, N);
	CHECK_MSG(rcvd == ktx, "udk received %u of our frames, the kernel's tx counter says it "
		  "sent %llu", rcvd, (unsigned long long)ktx);
	CHECK(bad == 0);
}

/* Wait for frame seq (direction 0) on the socket: true if it came intact. */
static bool sock_wait_one(uint32_t seq)
{
	static uint8_t seen[N + 8];
	unsigned int bad = 0;
	uint64_t end = labnet_ms() + 5000;

	seen[seq] = 0;
	while (labnet_ms() < end) {
		sock_drain(seen, &bad);
		if (seen[seq])
			return bad == 0;
		usleep(1000);
	}
	return false;
}

/* (4) a frame over the MTU, and a chained mbuf. */
static void mtu_and_chain(uint64_t *opackets, uint64_t *obytes)
{
	struct udk_eth_stats st0, st;
	struct udk_mbuf *ms[2], *head, *tail;
	uint8_t f[700];

	CHECK(udk_eth_stats_get(port, &st0) == 0);
	ms[0] = mbuf_frame(0, N + 1, 1600); /* 1600 > 1500 + 14 */
	ms[1] = mbuf_frame(0, N + 2, 100);
	REQUIRE(ms[0] != NULL && ms[1] != NULL);
	CHECK_MSG(udk_eth_tx_burst(port, 0, ms, 2) == 2, "the oversized frame counts as taken");
	CHECK_MSG(sock_wait_one(N + 2), "the frame after the oversized one arrived");
	CHECK(udk_eth_stats_get(port, &st) == 0);
	printf("(4) oversized frame: oerrors %llu -> %llu, opackets %llu -> %llu\n",
	       (unsigned long long)st0.oerrors, (unsigned long long)st.oerrors,
	       (unsigned long long)st0.opackets, (unsigned long long)st.opackets);
	CHECK(st.oerrors == st0.oerrors + 1);
	CHECK(st.opackets == st0.opackets + 1);

	/* Two segments (100 + 600 bytes), one frame on the wire. */
	frame_fill(f, sizeof(f), 0, N + 3);
	head = udk_pktmbuf_alloc(mp);
	tail = udk_pktmbuf_alloc(mp);
	REQUIRE(head != NULL && tail != NULL);
	memcpy(udk_pktmbuf_append(head, 100), f, 100);
	memcpy(udk_pktmbuf_append(tail, 600), f + 100, 600);
	REQUIRE(udk_pktmbuf_chain(head, tail) == 0);
	CHECK(head->nb_segs == 2 && head->pkt_len == 700);
	CHECK(udk_eth_tx_burst(port, 0, &head, 1) == 1);
	CHECK_MSG(sock_wait_one(N + 3), "a two-segment mbuf arrives as one intact frame");
	*opackets += 2;
	*obytes += 100 + 700;
}

/* Send n frames (direction 1, from seq) from the kernel. */
static void kernel_send(uint32_t seq, unsigned int n)
{
	static uint8_t f[MAX_LEN];

	for (unsigned int i = 0; i < n; i++) {
		uint32_t len = frame_len(seq + i);

		frame_fill(f, len, 1, seq + i);
		if (send(peer.sock, f, len, 0) != (ssize_t)len)
			lab_fatal("send on %s: %s", peer.ifname, strerror(errno));
	}
}

/* (5) The pool runs dry: frames are dropped and counted, each buffer goes
 * back to the device, and once mbufs are free again frames flow. */
static void empty_pool(uint64_t *ipackets)
{
	static struct udk_mbuf *hoard[4096];
	struct udk_eth_stats st0, st;
	struct udk_mbuf *rx[BURST];
	unsigned int held = 0, got = 0;
	uint64_t end;

	CHECK(udk_eth_stats_get(port, &st0) == 0);
	while (held < UDK_ARRAY_SIZE(hoard) && (hoard[held] = udk_pktmbuf_alloc(mp)) != NULL)
		held++;
	kernel_send(2 * N, 10);
	end = labnet_ms() + 5000;
	do {
		CHECK(udk_eth_rx_burst(port, 0, rx, BURST) == 0);
		CHECK(udk_eth_stats_get(port, &st) == 0);
	} while (st.imissed < st0.imissed + 10 && labnet_ms() < end);
	printf("(5) pool empty (%u mbufs held): imissed %llu -> %llu, rx_nombuf %llu -> %llu\n",
	       held, (unsigned long long)st0.imissed, (unsigned long long)st.imissed,
	       (unsigned long long)st0.rx_nombuf, (unsigned long long)st.rx_nombuf);
	CHECK(st.imissed == st0.imissed + 10 && st.rx_nombuf == st0.rx_nombuf + 10);
	CHECK(st.ipackets == st0.ipackets);
	udk_pktmbuf_free_bulk(hoard, held);

	kernel_send(2 * N + 10, 10);
	end = labnet_ms() + 5000;
	while (got < 10 && labnet_ms() < end) {
		uint16_t nb = udk_eth_rx_burst(port, 0, rx, BURST);

		for (uint16_t i = 0; i < nb; i++) {
			const uint8_t *p = udk_pktmbuf_mtod(rx[i], const uint8_t *);
			const char *why;
			uint32_t seq;

			CHECK(frame_check(p, rx[i]->pkt_len, 1, &seq, &why) == 0 &&
			      seq == 2 * N + 10 + got);
			got++;
		}
		udk_pktmbuf_free_bulk(rx, nb);
	}
	printf("    pool refilled: %u of 10 later frames received in order\n", got);
	CHECK(got == 10);
	*ipackets += got;
}

/* (6) The address filter: the device drops a frame for another station
 * unless the port is promiscuous (RCTL.UPE).  A frame for us follows each as
 * a marker: the hub keeps order, so once it is here the other was judged. */
static void promiscuous(uint64_t *ipackets)
{
	static const uint8_t other[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x99};
	unsigned int foreign[2] = {0, 0};
	uint8_t f[100];

	for (int on = 0; on < 2; on++) {
		bool marker = false;
		uint64_t end = labnet_ms() + 5000;

		CHECK(udk_eth_promiscuous_set(port, on) == 0);
		frame_fill(f, sizeof(f), 1, N + 10 + (uint32_t)on);
		memcpy(f, other, 6);
		CHECK(send(peer.sock, f, sizeof(f), 0) == sizeof(f));
		frame_fill(f, sizeof(f), 1, N + 20 + (uint32_t)on);
		CHECK(send(peer.sock, f, sizeof(f), 0) == sizeof(f));
		while (!marker && labnet_ms() < end) {
			struct udk_mbuf *rx[BURST];
			uint16_t nb = udk_eth_rx_burst(port, 0, rx, BURST);

			for (uint16_t i = 0; i < nb; i++) {
				const uint8_t *p = udk_pktmbuf_mtod(rx[i], const uint8_t *);
				uint32_t seq = (uint32_t)p[20] << 8 | p[21];

				(*ipackets)++;
				if (memcmp(p, other, 6) == 0 && seq == N + 10 + (uint32_t)on)
					foreign[on]++;
				marker |= memcmp(p, mac_e, 6) == 0 && seq == N + 20 + (uint32_t)on;
			}
			udk_pktmbuf_free_bulk(rx, nb);
		}
		CHECK_MSG(marker, "marker frame %d arrived", on);
	}
	printf("(6) frame for another station: received %u times not promiscuous, %u times "
	       "promiscuous\n", foreign[0], foreign[1]);
	CHECK(foreign[0] == 0 && foreign[1] == 1);
	CHECK(udk_eth_promiscuous_set(port, false) == 0);
}

/* Bad input at configure and queue setup, then the port set up for traffic. */
static void setup_port(void)
{
	struct udk_eth_dev_info info;
	struct udk_ether_addr mac;
	struct udk_eth_conf c;
	struct udk_eth_rxq_conf rc;
	struct udk_eth_txq_conf tc;

	REQUIRE(udk_eth_dev_info_get(port, &info) == 0);
	printf("port %u: %s, %u rx / %u tx queues, %u..%u descriptors, MTU %u..%u\n", port,
	       info.driver, info.max_rx_queues, info.max_tx_queues, info.min_desc, info.max_desc,
	       info.min_mtu, info.max_mtu);
	CHECK(strcmp(info.driver, "net_e1000e") == 0);
	CHECK(info.max_rx_queues == 2 && info.max_tx_queues == 1);
	CHECK(udk_eth_macaddr_get(port, &mac) == 0 && memcmp(mac.b, mac_e, 6) == 0);

	udk_eth_conf_init(&c, sizeof(c));
	c.nb_rx_queues = 3;
	CHECK(udk_eth_dev_configure(port, &c) == -EINVAL);
	CHECK(error_has("3 rx and 1 tx queues asked; the device has 1..2 rx and 1..1 tx queues"));
	c.nb_rx_queues = 1;
	c.nb_tx_queues = 2;
	CHECK(udk_eth_dev_configure(port, &c) == -EINVAL);
	CHECK(error_has("1 rx and 2 tx queues asked; the device has 1..2 rx and 1..1 tx queues"));
	c.nb_tx_queues = 1;
	c.mtu = 9000;
	CHECK(udk_eth_dev_configure(port, &c) == -EINVAL);
	CHECK(error_has("MTU 9000 is outside 68..1500"));
	c.mtu = UDK_ETHER_MTU;
	REQUIRE(udk_eth_dev_configure(port, &c) == 0);

	udk_eth_rxq_conf_init(&rc, sizeof(rc));
	udk_eth_txq_conf_init(&tc, sizeof(tc));
	rc.mp = mp;
	rc.nb_desc = 100;
	CHECK(udk_eth_rx_queue_setup(port, 0, &rc) == -EINVAL);
	CHECK(error_has("100 descriptors is not a multiple of 8"));
	rc.nb_desc = 256;
	tc.nb_desc = 256;
	REQUIRE(udk_eth_rx_queue_setup(port, 0, &rc) == 0);
	REQUIRE(udk_eth_tx_queue_setup(port, 0, &tc) == 0);
}

/* The link comes up at 1000 Mb/s full duplex (QEMU's PHY). */
static void check_link(void)
{
	struct udk_eth_link link = {0};
	uint64_t end = labnet_ms() + 5000;

	while (labnet_ms() < end) {
		CHECK(udk_eth_link_get(port, &link) == 0);
		if (link.up)
			break;
		usleep(10000);
	}
	printf("link: %s, %u Mb/s, %s duplex\n", link.up ? "up" : "down", link.speed_mbps,
	       link.full_duplex ? "full" : "half");
	CHECK(link.up && link.speed_mbps == 1000 && link.full_duplex);
}

/* A send on a port that is not started takes nothing; the caller keeps it. */
static void check_tx_stopped(const char *when)
{
	struct udk_mbuf *m = mbuf_frame(0, N + 4, 64);

	REQUIRE(m != NULL);
	CHECK_MSG(udk_eth_tx_burst(port, 0, &m, 1) == 0, "tx %s returns 0", when);
	udk_pktmbuf_free(m);
}

int main(void)
{
	const char *e1000e, *virtio;
	char drv_e[64] = "";
	uint64_t opackets, obytes, ipackets = 0, ibytes = 0, k_rx0, k_tx0, mark;
	char fault[256] = "";
	struct udk_eth_stats st;
	unsigned int pool_n = 2048;

	setvbuf(stdout, NULL, _IOLBF, 0);
	lab_require_guest();
	e1000e = lab_env_require("UDK_LAB_E1000E");
	virtio = lab_env_require("UDK_LAB_VIRTIO");
	REQUIRE(labnet_parse_mac(lab_env_require("UDK_LAB_MAC_E1000E"), mac_e) == 0);
	REQUIRE(labnet_parse_mac(lab_env_require("UDK_LAB_MAC_VIRTIO"), mac_v) == 0);
	lab_device_driver(e1000e, drv_e, sizeof(drv_e));

	/* The peer first: the hub holds the e1000e's frames while nobody
	 * receives them (LAB.md).  IPv6 off, so the kernel sends nothing of its own. */
	REQUIRE(labnet_peer_open(&peer, virtio, ETYPE) == 0);
	printf("peer: %s on %s (virtio_net), MAC %s\n", peer.ifname, virtio,
	       lab_env("UDK_LAB_MAC_VIRTIO"));

	mark = lab_kmsg_mark();
	REQUIRE(lab_bind_vfio(e1000e) == 0);
	char *argv[] = {"lab", "-l", "0", "-m", "64", "-a", (char *)e1000e, NULL};
	REQUIRE(udk_eal_init(7, argv) == 7);
	REQUIRE(lab_backend_ok(udk_eal_dmamap()));
	REQUIRE(udk_pktmbuf_pool_create("lab_e1000e", pool_n, 64, 0, UDK_SOCKET_ANY, &mp) == 0);
	REQUIRE(udk_eth_probe_eal() == 1);
	REQUIRE(udk_eth_dev_find(e1000e, &port) == 0);
	setup_port();
	check_tx_stopped("before start");
	REQUIRE(udk_eth_dev_start(port) == 0);
	check_link();

	k_rx0 = if_stat("rx_packets");
	k_tx0 = if_stat("tx_packets");
	opackets = udk_to_kernel(&obytes);
	kernel_to_udk(&ibytes, &ipackets);

	/* (3) The port's counters against ours, and the kernel's. */
	CHECK(udk_eth_stats_get(port, &st) == 0);
	printf("(3) stats: ipackets %llu ibytes %llu opackets %llu obytes %llu ierrors %llu "
	       "oerrors %llu imissed %llu rx_nombuf %llu; kernel %s rx +%llu tx +%llu\n",
	       (unsigned long long)st.ipackets, (unsigned long long)st.ibytes,
	       (unsigned long long)st.opackets, (unsigned long long)st.obytes,
	       (unsigned long long)st.ierrors, (unsigned long long)st.oerrors,
	       (unsigned long long)st.imissed, (unsigned long long)st.rx_nombuf, peer.ifname,
	       (unsigned long long)(if_stat("rx_packets") - k_rx0),
	       (unsigned long long)(if_stat("tx_packets") - k_tx0));
	CHECK(st.opackets == opackets && st.obytes == obytes);
	CHECK(st.ipackets == ipackets && st.ibytes == ibytes);
	CHECK(st.ierrors == 0 && st.oerrors == 0 && st.imissed == 0 && st.rx_nombuf == 0);
	CHECK(if_stat("rx_packets") - k_rx0 == N);

	mtu_and_chain(&opackets, &obytes);
	CHECK(udk_eth_stats_get(port, &st) == 0);
	CHECK(st.opackets == opackets && st.obytes == obytes && st.oerrors == 1);

	empty_pool(&ipackets);
	promiscuous(&ipackets);
	CHECK(udk_eth_stats_get(port, &st) == 0);
	CHECK(st.ipackets == ipackets && st.ierrors == 0);

	/* Stopped: nothing sent; started again: traffic flows again. */
	CHECK(udk_eth_dev_stop(port) == 0);
	check_tx_stopped("on a stopped port");
	CHECK(udk_eth_dev_start(port) == 0);
	struct udk_mbuf *m = mbuf_frame(0, N + 5, 200);
	REQUIRE(m != NULL);
	CHECK(udk_eth_tx_burst(port, 0, &m, 1) == 1);
	CHECK_MSG(sock_wait_one(N + 5), "a frame sent after stop and start arrived");

	CHECK(udk_eth_dev_close(port) == 0);
	/* Every descriptor and buffer address the device used was in the map. */
	CHECK_MSG(lab_kmsg_find(mark, "DMAR: \\[DMA", 200, fault, sizeof(fault)) == 0,
		  "DMA fault: %s", fault);
	CHECK_MSG(udk_mempool_avail_count(mp) == pool_n,
		  "every mbuf is back in the pool (%u of %u)", udk_mempool_avail_count(mp), pool_n);
	udk_mempool_free(mp);
	udk_eal_cleanup();

	/* Put back what was changed. */
	CHECK(lab_bind(e1000e, drv_e) == 0);
	CHECK(labnet_peer_close(&peer) == 0);
	return lab_result();
}
