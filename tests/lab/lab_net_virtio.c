/* SPDX-License-Identifier: BSD-3-Clause */
/* lab_net_virtio: udk's net_virtio port on the lab's virtio-net (1af4:1041,
 * vfio-pci) against the kernel's own e1000e driver on the other end of hub 0,
 * seen through an AF_PACKET socket:
 *   1. udk -> kernel: N frames (60..1514 bytes, some chained in 3 segments,
 *      some shared with refcnt 2) arrive once each with their contents;
 *   2. kernel -> udk: N frames sent on the socket arrive through rx_burst;
 *   3. the port's statistics count exactly what moved;
 *   4. bad input: 2 queues, a non-power-of-two ring, a frame over the MTU
 *      (dropped, oerrors), promiscuous off, bursts on a stopped port; a
 *      stop/start cycle moves traffic again; a pool smaller than the ring
 *      (rx_nombuf counted, frames still all arrive); no mbuf leaks, no DMA
 *      fault in the kernel log.
 * Puts the virtio-net back on virtio-pci and the e1000e back unbound. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "labdev.h"
#include "labbackend.h"
#include "labutil.h"
#include "udk_eal.h"
#include "udk_ethdev.h"
#include "udk_mbuf.h"
#include "udk_util.h"

#define N 1000
#define ETHERTYPE 0x88b5 /* IEEE local experimental */
#define NB_MBUF 2048
#define BURST 32
#define DIR_TX 0x54 /* 'T': udk -> kernel */
#define DIR_RX 0x52 /* 'R': kernel -> udk */
#define SMALL_POOL 40

static uint8_t mac_virtio[6], mac_e1000e[6];

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int parse_mac(const char *s, uint8_t m[6])
{
	return s != NULL && sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3],
				   &m[4], &m[5]) == 6 ? 0 : -1;
}

/* Frame seq of direction dir: its length covers 60..1514, its payload is
 * "UDKV", dir, seq (big-endian) and a pattern of both. */
static uint32_t frame_len(uint32_t seq)
{
	return 60 + (seq * 37u) % (1514 - 60 + 1);
}

static void frame_fill(uint8_t *f, uint32_t len, uint8_t dir, uint32_t seq)
{
	const uint8_t *dst = dir == DIR_TX ? mac_e1000e : mac_virtio;
	const uint8_t *src = dir == DIR_TX ? mac_virtio : mac_e1000e;
	uint32_t be = htonl(seq);

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = ETHERTYPE >> 8;
	f[13] = ETHERTYPE & 0xff;
	memcpy(f + 14, "UDKV", 4);
	f[18] = dir;
	f[19] = 0;
	memcpy(f + 20, &be, 4);
	for (uint32_t i = 24; i < len; i++)
		f[i] = (uint8_t)(seq * 7 + i * 13 + dir);
}

/* Is f (len bytes) frame seq of dir exactly?  Returns seq, or -1 when it is
 * not one of ours (-2 when it is ours but wrong). */
static long frame_check(const uint8_t *f, uint32_t len, uint8_t dir)
{
	static uint8_t want[1514];
	uint32_t seq;

	if (len < 24 || f[12] != ETHERTYPE >> 8 || f[13] != (ETHERTYPE & 0xff) ||
	    memcmp(f + 14, "UDKV", 4) != 0 || f[18] != dir)
		return -1;
	memcpy(&seq, f + 20, 4);
	seq = ntohl(seq);
	if (len != frame_len(seq) || seq >= 2 * N) {
		fprintf(stderr, "frame seq %u: %u bytes, expected %u\n", seq, len, frame_len(seq));
		return -2;
	}
	frame_fill(want, len, dir, seq);
	if (memcmp(f, want, len) != 0) {
		for (uint32_t i = 0; i < len; i++)
			if (f[i] != want[i]) {
				fprintf(stderr, "frame seq %u: byte %u is 0x%02x, expected 0x%02x\n",
					seq, i, f[i], want[i]);
				break;
			}
		return -2;
	}
	return seq;
}

/* An mbuf (chain) holding frame seq: 3 segments when segs is 3. */
static struct udk_mbuf *frame_mbuf(struct udk_mempool *mp, uint32_t seq, int segs)
{
	static uint8_t f[1514];
	uint32_t len = frame_len(seq), off = 0;
	struct udk_mbuf *head = NULL;

	frame_fill(f, len, DIR_TX, seq);
	for (int s = 0; s < segs; s++) {
		uint32_t part = s == segs - 1 ? len - off : len / (uint32_t)segs;
		struct udk_mbuf *m = udk_pktmbuf_alloc(mp);
		char *p;

		if (m == NULL || (p = udk_pktmbuf_append(m, (uint16_t)part)) == NULL) {
			udk_pktmbuf_free(m);
			udk_pktmbuf_free(head);
			return NULL;
		}
		memcpy(p, f + off, part);
		off += part;
		if (head == NULL)
			head = m;
		else if (udk_pktmbuf_chain(head, m) != 0)
			return NULL;
	}
	return head;
}

static int if_name_of(const char *bdf, char *name, size_t len)
{
	char path[128];
	struct dirent *de;
	DIR *d;
	int rc = -1;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/net", bdf);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.') {
			snprintf(name, len, "%.15s", de->d_name);
			rc = 0;
		}
	closedir(d);
	return rc;
}

/* Read every frame of ours waiting on the socket; marks seen[], counts. */
static int sock_drain(int fd, uint8_t *seen, unsigned int *got, int *bad, int timeout_ms)
{
	static uint8_t buf[2048];
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int n = 0;

	while (poll(&pfd, 1, timeout_ms) > 0) {
		ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r < 0)
			break;
		long seq = frame_check(buf, (uint32_t)r, DIR_TX);
		if (seq == -2)
			(*bad)++;
		if (seq >= 0) {
			if (seen[seq]++)
				fprintf(stderr, "frame seq %ld arrived twice\n", seq);
			else
				(*got)++;
		}
		n++;
		timeout_ms = 0;
	}
	return n;
}

struct rx_tally {
	uint8_t seen[2 * N];
	unsigned int got, all, bad, dup;
	uint64_t bytes;
};

/* Take what the port received; every mbuf counts for the statistics. */
static void port_drain(uint16_t port, struct rx_tally *t)
{
	struct udk_mbuf *ms[BURST];
	static uint8_t buf[2048];
	uint16_t n = udk_eth_rx_burst(port, 0, ms, BURST);

	for (uint16_t i = 0; i < n; i++) {
		struct udk_mbuf *m = ms[i];
		uint32_t len = m->pkt_len < sizeof(buf) ? m->pkt_len : sizeof(buf);

		t->all++;
		t->bytes += m->pkt_len;
		CHECK(m->port == port && m->nb_segs == 1);
		udk_pktmbuf_read(m, 0, len, buf);
		long seq = frame_check(buf, len, DIR_RX);
		if (seq == -2)
			t->bad++;
		if (seq >= 0) {
			if (t->seen[seq]++)
				t->dup++;
			else
				t->got++;
		}
		udk_pktmbuf_free(m);
	}
}

/* Send frames first..first+count-1 through udk; the kernel's socket must
 * receive each once.  Returns the bytes sent. */
static uint64_t udk_to_kernel(uint16_t port, struct udk_mempool *mp, int fd, uint32_t first,
			      uint32_t count, struct rx_tally *rxt)
{
	static uint8_t seen[2 * N];
	struct udk_mbuf *pend[BURST], *shared[N];
	unsigned int got = 0, nshared = 0;
	int bad = 0;
	uint64_t bytes = 0, end = now_ms() + 30000;
	uint32_t seq = first;

	memset(seen, 0, sizeof(seen));
	while (seq < first + count && now_ms() < end) {
		uint16_t n = 0, done = 0;

		for (; n < BURST && seq < first + count; n++, seq++) {
			/* Every 10th frame in 3 segments; every 10th another one
			 * shared (refcnt 2): its header needs a descriptor of its own. */
			pend[n] = frame_mbuf(mp, seq, seq % 10 == 3 ? 3 : 1);
			REQUIRE(pend[n] != NULL);
			if (seq % 10 == 7) {
				udk_mbuf_refcnt_update(pend[n], 1);
				shared[nshared++] = pend[n];
			}
			bytes += frame_len(seq);
		}
		while (done < n && now_ms() < end) {
			done = (uint16_t)(done + udk_eth_tx_burst(port, 0, pend + done,
								   (uint16_t)(n - done)));
			sock_drain(fd, seen, &got, &bad, 0);
			if (rxt != NULL)
				port_drain(port, rxt); /* the kernel's own frames */
		}
		CHECK_MSG(done == n, "only %u of a burst of %u frames taken", done, n);
	}
	while (got < count && now_ms() < end)
		if (sock_drain(fd, seen, &got, &bad, 200) == 0)
			break;
	for (uint32_t s = first; s < first + count; s++)
		CHECK_MSG(seen[s] == 1, "frame seq %u arrived %u times", s, seen[s]);
	CHECK(bad == 0);
	/* The driver drops its reference to a shared mbuf when the device
	 * returns it (the next burst cleans the ring). */
	for (unsigned int i = 0; i < nshared && now_ms() < end + 2000; i++)
		while (udk_mbuf_refcnt_read(shared[i]) != 1 && now_ms() < end + 2000)
			udk_eth_tx_burst(port, 0, NULL, 0);
	for (unsigned int i = 0; i < nshared; i++) {
		CHECK(udk_mbuf_refcnt_read(shared[i]) == 1);
		udk_pktmbuf_free(shared[i]);
	}
	printf("  udk -> kernel: %u of %u frames (seq %u..%u) arrived intact, %u shared mbufs "
	       "given back\n", got, count, first, first + count - 1, nshared);
	return bytes;
}

/* The kernel sends frames first..first+count-1 on its socket; udk must
 * receive each once. */
static void kernel_to_udk(uint16_t port, int fd, uint32_t first, uint32_t count,
			  struct rx_tally *t)
{
	static uint8_t f[1514];
	uint64_t end = now_ms() + 30000;
	uint32_t seq = first;

	while (seq < first + count && now_ms() < end) {
		uint32_t len = frame_len(seq);

		frame_fill(f, len, DIR_RX, seq);
		if (send(fd, f, len, MSG_DONTWAIT) == (ssize_t)len)
			seq++;
		else
			CHECK_MSG(errno == ENOBUFS || errno == EAGAIN, "send: %s", strerror(errno));
		port_drain(port, t);
	}
	while (t->got < count && now_ms() < end)
		port_drain(port, t);
	for (uint32_t s = first; s < first + count; s++)
		CHECK_MSG(t->seen[s] == 1, "frame seq %u arrived %u times at udk", s, t->seen[s]);
	CHECK(t->bad == 0 && t->dup == 0);
	printf("  kernel -> udk: %u of %u frames arrived intact (%u frames in all, with the "
	       "kernel's own)\n", t->got, count, t->all);
}

static int port_up(uint16_t port, struct udk_mempool *mp)
{
	struct udk_eth_conf c;
	struct udk_eth_rxq_conf rc;
	struct udk_eth_txq_conf tc;

	udk_eth_conf_init(&c, sizeof(c));
	udk_eth_rxq_conf_init(&rc, sizeof(rc));
	udk_eth_txq_conf_init(&tc, sizeof(tc));
	rc.mp = mp;
	c.promiscuous = true;
	if (udk_eth_dev_configure(port, &c) || udk_eth_rx_queue_setup(port, 0, &rc) ||
	    udk_eth_tx_queue_setup(port, 0, &tc) || udk_eth_dev_start(port))
		return -1;
	return 0;
}

int main(void)
{
	char virtio[LAB_BDF_LEN], e1000e[LAB_BDF_LEN], drv_virtio[64], drv_e1000e[64];
	char ifname[IFNAMSIZ] = "";
	struct udk_mempool *mp = NULL, *small = NULL;
	struct udk_eth_dev_info info;
	struct udk_eth_stats st;
	struct udk_eth_link link;
	struct udk_ether_addr mac;
	struct udk_eth_conf conf;
	struct udk_eth_rxq_conf rxc;
	struct udk_mbuf *m;
	static struct rx_tally rxt;
	struct stat sb;
	uint16_t port;
	uint64_t obytes;
	bool e1000e_loaded;
	int fd, rcvbuf = 8 << 20;

	lab_require_guest();
	if (lab_find_device(0x1af4, 0x1041, 0, virtio) < 0 ||
	    lab_find_device(0x8086, 0x10d3, 0, e1000e) < 0)
		lab_skip("no virtio-net 1af4:1041 or e1000e 8086:10d3 in this guest");
	REQUIRE(parse_mac(lab_env_require("UDK_LAB_MAC_VIRTIO"), mac_virtio) == 0);
	REQUIRE(parse_mac(lab_env_require("UDK_LAB_MAC_E1000E"), mac_e1000e) == 0);
	lab_device_driver(virtio, drv_virtio, sizeof(drv_virtio));
	lab_device_driver(e1000e, drv_e1000e, sizeof(drv_e1000e));
	e1000e_loaded = stat("/sys/module/e1000e", &sb) == 0;
	printf("virtio-net %s (driver '%s'), e1000e %s (driver '%s')\n", virtio, drv_virtio,
	       e1000e, drv_e1000e);

	/* The receiver first: hub 0 holds a sender's frames while its peer
	 * cannot take them (LAB.md, hubport back-pressure). */
	REQUIRE(lab_peer_up(0x8086, 0x10d3, 0, "e1000e") == 0);
	REQUIRE(if_name_of(e1000e, ifname, sizeof(ifname)) == 0);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETHERTYPE));
	REQUIRE(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETHERTYPE),
				  .sll_ifindex = (int)if_nametoindex(ifname)};
	REQUIRE(sll.sll_ifindex > 0 && bind(fd, (struct sockaddr *)&sll, sizeof(sll)) == 0);
	printf("AF_PACKET socket on %s (EtherType 0x%04x)\n", ifname, ETHERTYPE);
	/* Until the kernel sees the link (about 3 s after "up"), it drops
	 * what the socket sends without an error: wait for the carrier. */
	char path[64], carrier[8] = "";
	uint64_t t_up = now_ms();
	snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", ifname);
	while ((lab_read_file(path, carrier, sizeof(carrier)) < 0 || strcmp(carrier, "1") != 0) &&
	       now_ms() < t_up + 15000)
		usleep(50000);
	REQUIRE(strcmp(carrier, "1") == 0);
	printf("%s has its carrier after %llu ms\n", ifname, (unsigned long long)(now_ms() - t_up));

	uint64_t kmsg = lab_kmsg_mark();
	REQUIRE(lab_bind_vfio(virtio) == 0);
	char *argv[] = {"lab_net_virtio", "-m", "64", "-a", virtio, NULL};
	REQUIRE(udk_eal_init(5, argv) == 5);
	REQUIRE(lab_backend_ok(udk_eal_dmamap()));
	REQUIRE(udk_pktmbuf_pool_create("vnet", NB_MBUF, 64, 0, UDK_SOCKET_ANY, &mp) == 0);
	CHECK(udk_eth_probe_eal() == 1);
	REQUIRE(udk_eth_dev_find(virtio, &port) == 0);
	CHECK(udk_eth_dev_info_get(port, &info) == 0);
	printf("port %u: %s, %u rx / %u tx queues, %u..%u descriptors, MTU %u..%u\n", port,
	       info.driver, info.max_rx_queues, info.max_tx_queues, info.min_desc, info.max_desc,
	       info.min_mtu, info.max_mtu);
	CHECK(strcmp(info.driver, "net_virtio") == 0);
	CHECK(info.max_rx_queues == 1 && info.max_tx_queues == 1 && info.max_desc >= 256);
	CHECK(udk_eth_macaddr_get(port, &mac) == 0);
	CHECK_MSG(memcmp(mac.b, mac_virtio, 6) == 0, "MAC %02x:%02x:%02x:%02x:%02x:%02x from the "
		  "device configuration", mac.b[0], mac.b[1], mac.b[2], mac.b[3], mac.b[4], mac.b[5]);

	/* 4. Bad configurations are refused with the reason. */
	udk_eth_conf_init(&conf, sizeof(conf));
	conf.nb_rx_queues = conf.nb_tx_queues = 2;
	CHECK(udk_eth_dev_configure(port, &conf) == -EINVAL);
	CHECK(lab_last_error_has("the device has 1..1 rx and 1..1 tx queues"));
	conf.nb_rx_queues = conf.nb_tx_queues = 1;
	CHECK(udk_eth_dev_configure(port, &conf) == 0);
	udk_eth_rxq_conf_init(&rxc, sizeof(rxc));
	rxc.mp = mp;
	rxc.nb_desc = 100;
	CHECK(udk_eth_rx_queue_setup(port, 0, &rxc) == -EINVAL);
	CHECK(lab_last_error_has("power of two"));

	REQUIRE(port_up(port, mp) == 0);
	CHECK(udk_eth_link_get(port, &link) == 0 && link.up);
	CHECK(udk_eth_promiscuous_set(port, true) == 0);
	CHECK(udk_eth_promiscuous_set(port, false) == -ENOTSUP);
	CHECK(lab_last_error_has("VIRTIO_NET_F_CTRL_RX"));
	CHECK(udk_eth_stats_reset(port) == 0);

	/* 1. udk -> kernel. */
	uint64_t t0 = now_ms();
	obytes = udk_to_kernel(port, mp, fd, 0, N, &rxt);
	printf("  (%llu ms)\n", (unsigned long long)(now_ms() - t0));
	/* 2. kernel -> udk. */
	t0 = now_ms();
	kernel_to_udk(port, fd, 0, N, &rxt);
	printf("  (%llu ms)\n", (unsigned long long)(now_ms() - t0));

	/* 3. The statistics count what moved, exactly. */
	CHECK(udk_eth_stats_get(port, &st) == 0);
	printf("stats: ipackets %llu ibytes %llu opackets %llu obytes %llu ierrors %llu oerrors "
	       "%llu imissed %llu rx_nombuf %llu\n", (unsigned long long)st.ipackets,
	       (unsigned long long)st.ibytes, (unsigned long long)st.opackets,
	       (unsigned long long)st.obytes, (unsigned long long)st.ierrors,
	       (unsigned long long)st.oerrors, (unsigned long long)st.imissed,
	       (unsigned long long)st.rx_nombuf);
	CHECK(st.opackets == N && st.obytes == obytes && st.oerrors == 0);
	CHECK(st.ipackets == rxt.all && st.ibytes == rxt.bytes && st.ierrors == 0);
	CHECK(st.rx_nombuf == 0);

	/* 4. A frame over the MTU is taken, dropped and counted. */
	m = udk_pktmbuf_alloc(mp);
	REQUIRE(m != NULL && udk_pktmbuf_append(m, UDK_ETHER_MTU + UDK_ETHER_HDR_LEN + 1) != NULL);
	memset(udk_pktmbuf_mtod(m, char *), 0xee, m->pkt_len);
	CHECK(udk_eth_tx_burst(port, 0, &m, 1) == 1);
	CHECK(udk_eth_stats_get(port, &st) == 0 && st.oerrors == 1 && st.opackets == N);

	/* A stopped port moves nothing; started again, it does. */
	CHECK(udk_eth_dev_stop(port) == 0);
	m = frame_mbuf(mp, 0, 1);
	REQUIRE(m != NULL);
	CHECK(udk_eth_tx_burst(port, 0, &m, 1) == 0);
	udk_pktmbuf_free(m);
	CHECK(udk_eth_rx_burst(port, 0, &m, 1) == 0);
	/* Stopped, every mbuf is back in the pool: none leaked in the rings. */
	CHECK_MSG(udk_mempool_avail_count(mp) == NB_MBUF, "%u of %u mbufs in the pool",
		  udk_mempool_avail_count(mp), NB_MBUF);
	CHECK(udk_eth_dev_start(port) == 0);
	memset(&rxt, 0, sizeof(rxt));
	udk_to_kernel(port, mp, fd, N, 100, &rxt);
	kernel_to_udk(port, fd, N, 100, &rxt);

	/* A pool smaller than the ring: start fills what it can (in smaller
	 * batches), counts the rest as rx_nombuf, and frames still all arrive
	 * as the buffers come back (the hub holds them meanwhile). */
	CHECK(udk_eth_dev_stop(port) == 0);
	REQUIRE(udk_pktmbuf_pool_create("vnet-small", SMALL_POOL, 0, 0, UDK_SOCKET_ANY, &small) == 0);
	udk_eth_rxq_conf_init(&rxc, sizeof(rxc));
	rxc.mp = small;
	CHECK(udk_eth_rx_queue_setup(port, 0, &rxc) == 0);
	CHECK(udk_eth_dev_start(port) == 0);
	CHECK(udk_eth_stats_get(port, &st) == 0);
	CHECK_MSG(st.rx_nombuf == 256 - SMALL_POOL && st.imissed == st.rx_nombuf,
		  "rx_nombuf %llu imissed %llu after filling 256 descriptors from %u mbufs",
		  (unsigned long long)st.rx_nombuf, (unsigned long long)st.imissed, SMALL_POOL);
	CHECK(udk_mempool_avail_count(small) == 0);
	memset(&rxt, 0, sizeof(rxt));
	kernel_to_udk(port, fd, N + 100, 100, &rxt);
	/* Each buffer the device returned counts at most once, however many
	 * refills found the pool empty. */
	CHECK(udk_eth_stats_get(port, &st) == 0 && st.ipackets == rxt.all && st.ierrors == 0);
	CHECK(st.rx_nombuf >= 256 - SMALL_POOL && st.rx_nombuf <= 256 - SMALL_POOL + rxt.all);
	printf("  with %u mbufs for 256 descriptors: rx_nombuf %llu\n", SMALL_POOL,
	       (unsigned long long)st.rx_nombuf);

	CHECK(udk_eth_dev_close(port) == 0);
	CHECK_MSG(udk_mempool_avail_count(mp) == NB_MBUF, "%u of %u mbufs in the pool after close",
		  udk_mempool_avail_count(mp), NB_MBUF);
	CHECK(udk_mempool_avail_count(small) == SMALL_POOL);
	udk_mempool_free(small);
	udk_mempool_free(mp);
	/* The device's DMA stayed inside the map all along. */
	char line[256];
	CHECK_MSG(lab_kmsg_find(kmsg, "DMAR: \\[DMA", 0, line, sizeof(line)) == 0,
		  "DMA fault: %s", line);
	udk_eal_cleanup();
	close(fd);

	/* Put the lab back as we found it. */
	CHECK(lab_bind(virtio, drv_virtio) == 0);
	CHECK(lab_bind(e1000e, drv_e1000e[0] ? drv_e1000e : NULL) == 0);
	if (!e1000e_loaded)
		lab_sh("modprobe -r e1000e");
	return lab_result();
}
