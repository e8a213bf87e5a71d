/* SPDX-License-Identifier: BSD-3-Clause */
/* lab_dma_two_maps: one process, three maps, every driver on a map of its
 * own.  The lab NVMe is on map A, the virtio-net NIC on map B, the e1000e on
 * the EAL's default map (hub 0 joins the two NICs):
 *   1. the NVMe driver writes a pattern and reads it back, in memory of map
 *      A's heap (udk_nvme_ctrlr_mem()); a buffer of map B's heap is refused;
 *   2. frames go both ways between virtio-net (map B) and e1000e (default
 *      map), every byte checked; an rx pool on the wrong map is refused;
 *   3. the NVMe, told to write Identify data at an IOVA of map B's memory, is
 *      blocked by the IOMMU: a DMAR fault names that IOVA and the memory
 *      stays untouched (QEMU reports success either way: the kernel log and
 *      the memory are what count, as in lab_dma_isolation);
 *   4. the virtio-net moves to map A (port closed, detach, attach, probe):
 *      its rings and pool now come from map A's heap, shared with the NVMe,
 *      and frames and NVMe I/O are verified again; map B's heap is gone.
 * Leaves the NVMe on vfio-pci and the NICs unbound, as lab_fwd_nics does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "labbackend.h"
#include "labdev.h"
#include "labutil.h"
#include "udk_eal.h"
#include "udk_ethdev.h"
#include "udk_mbuf.h"
#include "udk_nvme.h"
#include "udk_util.h"

#define ETYPE 0x88b5 /* IEEE local experimental */
#define NB_FRAMES 256
#define BURST 16
#define NB_MBUF 1024
#define NB_DESC 256
#define LBA 300000
#define NLB 16

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- NVMe on its map ---- */

struct nvme {
	struct udk_nvme_ctrlr *c;
	struct udk_nvme_ns *ns;
	struct udk_nvme_qpair *qp;
	uint32_t bs;
};

static int nvme_up(struct nvme *n, struct udk_pci_dev *pdev)
{
	struct udk_nvme_ns_info info;

	LAB_CHECK_RC(udk_nvme_ctrlr_attach(pdev, NULL, &n->c), 0);
	LAB_CHECK_RC(udk_nvme_ctrlr_ns(n->c, 1, &n->ns), 0);
	LAB_CHECK_RC(udk_nvme_ns_info(n->ns, &info), 0);
	n->bs = info.block_size;
	LAB_CHECK_RC(udk_nvme_qpair_create(n->c, NULL, &n->qp), 0);
	return 0;
}

/* Write NLB blocks of a pattern from memory of the controller's map, read
 * them back into another buffer, compare. */
static int nvme_write_read(struct nvme *n, uint8_t seed)
{
	struct udk_mem *mem = udk_nvme_ctrlr_mem(n->c);
	size_t len = (size_t)NLB * n->bs;
	uint8_t *w = udk_mem_zmalloc(mem, len, 4096, UDK_SOCKET_ANY);
	uint8_t *r = udk_mem_zmalloc(mem, len, 4096, UDK_SOCKET_ANY);

	LAB_CHECK(w != NULL && r != NULL);
	for (size_t i = 0; i < len; i++)
		w[i] = (uint8_t)(seed + i * 31 + i / 4096);
	memset(r, 0xee, len);
	LAB_CHECK_RC(udk_nvme_ns_io_sync(n->qp, n->ns, UDK_NVME_IO_WRITE, w, LBA, NLB, NULL), 0);
	LAB_CHECK_RC(udk_nvme_ns_io_sync(n->qp, n->ns, UDK_NVME_IO_READ, r, LBA, NLB, NULL), 0);
	LAB_CHECK(memcmp(w, r, len) == 0);
	printf("  NVMe: wrote and read back %zu bytes at LBA %d (seed %u), buffers at IOVA "
	       "0x%llx/0x%llx of its map\n", len, LBA, seed,
	       (unsigned long long)udk_mem_virt2iova(mem, w),
	       (unsigned long long)udk_mem_virt2iova(mem, r));
	udk_mem_free(mem, w);
	udk_mem_free(mem, r);
	return 0;
}

static void nvme_down(struct nvme *n)
{
	udk_nvme_qpair_destroy(n->qp);
	udk_nvme_ctrlr_detach(n->c);
}

/* ---- NIC ports ---- */

struct port {
	uint16_t id;
	struct udk_mempool *mp;
	struct udk_ether_addr mac;
	uint64_t seen[NB_FRAMES / 64];
	unsigned int valid, invalid;
};

/* Probe pdev, make its pool on the port's memory, start it, wait for the
 * link.  wrong: a pool of another map, which the rx queue must refuse first
 * (NULL: no such check). */
static int port_up(struct port *p, struct udk_pci_dev *pdev, const char *pool,
		   struct udk_mempool *wrong)
{
	struct udk_eth_conf conf;
	struct udk_eth_rxq_conf rc;
	struct udk_eth_txq_conf tc;
	struct udk_eth_link link = {0};
	uint64_t end;

	LAB_CHECK_RC(udk_eth_probe_pci(pdev, &p->id), 0);
	LAB_CHECK_RC(udk_pktmbuf_pool_create_mem(udk_eth_dev_mem(p->id), pool, NB_MBUF, 32, 0,
						 UDK_SOCKET_ANY, &p->mp), 0);
	udk_eth_conf_init(&conf, sizeof(conf));
	LAB_CHECK_RC(udk_eth_dev_configure(p->id, &conf), 0);
	udk_eth_rxq_conf_init(&rc, sizeof(rc));
	rc.nb_desc = NB_DESC;
	if (wrong != NULL) {
		rc.mp = wrong;
		LAB_CHECK_RC(udk_eth_rx_queue_setup(p->id, 0, &rc), -EINVAL);
		LAB_CHECK(lab_last_error_has("but the port's device is on map"));
	}
	rc.mp = p->mp;
	LAB_CHECK_RC(udk_eth_rx_queue_setup(p->id, 0, &rc), 0);
	udk_eth_txq_conf_init(&tc, sizeof(tc));
	tc.nb_desc = NB_DESC;
	LAB_CHECK_RC(udk_eth_tx_queue_setup(p->id, 0, &tc), 0);
	LAB_CHECK_RC(udk_eth_promiscuous_set(p->id, true), 0);
	LAB_CHECK_RC(udk_eth_dev_start(p->id), 0);
	LAB_CHECK_RC(udk_eth_macaddr_get(p->id, &p->mac), 0);
	for (end = now_ms() + 10000; now_ms() < end; ) {
		LAB_CHECK_RC(udk_eth_link_get(p->id, &link), 0);
		if (link.up)
			break;
	}
	LAB_CHECK(link.up);
	return 0;
}

static void port_down(struct port *p)
{
	udk_eth_dev_close(p->id); /* the rings' mbufs go back to the pool */
	udk_mempool_free(p->mp);
	p->mp = NULL;
}

static uint32_t frame_len(uint32_t seq)
{
	return 60 + (seq * 37u) % (1514 - 60 + 1);
}

static void frame_fill(uint8_t *f, uint32_t len, const struct port *from, const struct port *to,
		       uint32_t seq)
{
	memcpy(f, to->mac.b, 6);
	memcpy(f + 6, from->mac.b, 6);
	f[12] = ETYPE >> 8;
	f[13] = ETYPE & 0xff;
	memcpy(f + 14, "UDK2", 4);
	memcpy(f + 18, &seq, 4);
	for (uint32_t i = 22; i < len; i++)
		f[i] = (uint8_t)(seq * 7 + i * 13 + from->mac.b[5]);
}

/* Take what rx received: frames of ours from `from` are checked byte for byte. */
static void drain(struct port *rx, const struct port *from)
{
	static uint8_t want[1514];
	struct udk_mbuf *pkts[BURST];
	uint16_t n = udk_eth_rx_burst(rx->id, 0, pkts, BURST);

	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *f = udk_pktmbuf_mtod(pkts[i], const uint8_t *);
		uint32_t len = pkts[i]->pkt_len, seq;

		if (pkts[i]->nb_segs != 1 || len < 22 || f[12] != ETYPE >> 8 ||
		    memcmp(f + 14, "UDK2", 4) != 0 || memcmp(f + 6, from->mac.b, 6) != 0) {
			udk_pktmbuf_free(pkts[i]);
			continue; /* not ours (or a chain: not expected at these sizes) */
		}
		memcpy(&seq, f + 18, 4);
		if (seq >= NB_FRAMES || len != frame_len(seq) ||
		    (rx->seen[seq / 64] >> (seq % 64) & 1)) {
			fprintf(stderr, "frame seq %u: %u bytes%s\n", seq, len,
				seq < NB_FRAMES && len == frame_len(seq) ? ", twice" : "");
			rx->invalid++;
		} else {
			frame_fill(want, len, from, rx, seq);
			if (memcmp(f, want, len) != 0) {
				fprintf(stderr, "frame seq %u: contents differ\n", seq);
				rx->invalid++;
			} else {
				rx->seen[seq / 64] |= 1ull << (seq % 64);
				rx->valid++;
			}
		}
		udk_pktmbuf_free(pkts[i]);
	}
}

/* NB_FRAMES numbered frames from tx to rx, a burst at a time, each burst
 * waited for (QEMU's hub drops what a busy receiver cannot take). */
static int send_frames(struct port *tx, struct port *rx)
{
	struct udk_mbuf *pkts[BURST];

	memset(rx->seen, 0, sizeof(rx->seen));
	rx->valid = rx->invalid = 0;
	for (uint32_t seq = 0; seq < NB_FRAMES; seq += BURST) {
		uint16_t n = 0, sent = 0;
		uint64_t end;

		for (; n < BURST; n++) {
			uint32_t len = frame_len(seq + n);

			pkts[n] = udk_pktmbuf_alloc(tx->mp);
			LAB_CHECK(pkts[n] != NULL);
			char *d = udk_pktmbuf_append(pkts[n], (uint16_t)len);
			LAB_CHECK(d != NULL);
			frame_fill((uint8_t *)d, len, tx, rx, seq + n);
		}
		for (end = now_ms() + 2000; sent < n && now_ms() < end; )
			sent += udk_eth_tx_burst(tx->id, 0, pkts + sent, (uint16_t)(n - sent));
		LAB_CHECK(sent == n);
		for (end = now_ms() + 1000; rx->valid + rx->invalid < seq + n && now_ms() < end; ) {
			drain(rx, tx);
			drain(tx, rx); /* keep the other side's ring moving */
		}
	}
	for (uint64_t end = now_ms() + 200; now_ms() < end; )
		drain(rx, tx);
	printf("  %u -> %u: %u of %d frames arrived intact, %u bad\n", tx->id, rx->id, rx->valid,
	       NB_FRAMES, rx->invalid);
	LAB_CHECK(rx->invalid == 0);
	/* The hub may drop a few under load (LAB.md); the drivers must not. */
	LAB_CHECK(rx->valid * 100 >= NB_FRAMES * 95u);
	return 0;
}

static int both_ways(struct port *a, struct port *b)
{
	if (send_frames(a, b) != 0 || send_frames(b, a) != 0)
		return LAB_FAIL;
	return 0;
}

static struct udk_dmamap *make_map(const char *name, const struct udk_iova_range *r)
{
	struct udk_dmamap_opts o;
	struct udk_dmamap *m = NULL;

	udk_dmamap_opts_init(&o, sizeof(o));
	o.name = name;
	o.iova_ranges = r;
	o.nb_iova_ranges = r != NULL ? 1 : 0;
	if (udk_dmamap_create(&o, &m) != 0 || !lab_backend_ok(m))
		return NULL;
	return m;
}

int main(void)
{
	/* Map B's IOVAs lie above any of map A's, so an IOVA of B is surely
	 * no IOVA of A (both would otherwise start at the same low address). */
	static const struct udk_iova_range high = {1ULL << 36, (1ULL << 38) - 1};
	char nvme_bdf[16], virtio_bdf[16], e1000e_bdf[16], needle[80], line[512];
	struct udk_pci_addr an, av, ae;
	struct udk_dmamap_info info;
	struct udk_pci_dev *pn, *pv;
	struct port pe = {0}, pvio = {0};
	struct nvme nv = {0};
	struct udk_mem *mem_a, *mem_b;

	lab_require_guest();
	if (lab_find_bind(0x1b36, 0x0010, 0, &an, nvme_bdf, sizeof(nvme_bdf)) < 0 ||
	    lab_find_bind(0x1af4, 0x1041, 0, &av, virtio_bdf, sizeof(virtio_bdf)) < 0 ||
	    lab_find_bind(0x8086, 0x10d3, 0, &ae, e1000e_bdf, sizeof(e1000e_bdf)) < 0)
		return LAB_FAIL;
	char *argv[] = {"lab", "-m", "64", "-a", e1000e_bdf, NULL};
	LAB_CHECK(udk_eal_init(5, argv) == 5);
	LAB_CHECK(lab_backend_ok(udk_eal_dmamap()));
	struct udk_dmamap *map_a = make_map("A", NULL), *map_b = make_map("B", &high);
	LAB_CHECK(map_a != NULL && map_b != NULL);
	LAB_CHECK_RC(udk_pci_dev_open(&an, map_a, &pn), 0);
	LAB_CHECK_RC(udk_pci_dev_open(&av, map_b, &pv), 0);
	struct udk_device *dv = udk_pci_dev_device(pv);

	printf("1. NVMe %s on map A\n", nvme_bdf);
	if (nvme_up(&nv, pn) != 0)
		return LAB_FAIL;
	mem_a = udk_nvme_ctrlr_mem(nv.c);
	LAB_CHECK(mem_a != NULL && mem_a != udk_eal_mem() && udk_eal_mem_map(mem_a) == map_a);
	if (nvme_write_read(&nv, 1) != 0)
		return LAB_FAIL;

	printf("2. virtio-net %s on map B, e1000e %s on the default map\n", virtio_bdf, e1000e_bdf);
	/* A pool on the default map cannot serve the port on map B. */
	if (port_up(&pe, udk_eal_device(0), "pool-default", NULL) != 0 ||
	    port_up(&pvio, pv, "pool-B", pe.mp) != 0)
		return LAB_FAIL;
	mem_b = udk_eth_dev_mem(pvio.id);
	LAB_CHECK(udk_eth_dev_mem(pe.id) == udk_eal_mem());
	LAB_CHECK(mem_b != udk_eal_mem() && mem_b != mem_a && udk_eal_mem_map(mem_b) == map_b);
	if (both_ways(&pvio, &pe) != 0)
		return LAB_FAIL;

	printf("3. the NVMe (map A) aimed at memory of map B\n");
	uint8_t *target = udk_mem_zmalloc(mem_b, 4096, 4096, UDK_SOCKET_ANY);
	LAB_CHECK(target != NULL);
	uint64_t iova_b = udk_mem_virt2iova(mem_b, target), in_a;
	LAB_CHECK(iova_b != UDK_IOVA_BAD && iova_b >= high.start);
	LAB_CHECK_RC(udk_dmamap_virt2iova(map_a, target, &in_a), -UDK_ENOTMAPPED);
	/* The driver itself refuses the buffer: it is no memory of its map. */
	LAB_CHECK_RC(udk_nvme_ns_io_sync(nv.qp, nv.ns, UDK_NVME_IO_READ, target, LBA, 1, NULL),
		     -UDK_ENOTMAPPED);
	LAB_CHECK(lab_last_error_has("not DMA memory of the controller's map"));
	/* So take the driver's checks out of the way: a raw Identify whose PRP1
	 * is map B's IOVA.  Only the IOMMU stands between it and the memory. */
	struct udk_nvme_cmd cmd = {.opc = 0x06 /* Identify */, .cdw10 = 1 /* controller */,
				   .prp1 = iova_b};
	uint64_t mark = lab_kmsg_mark();
	int st = udk_nvme_ctrlr_admin(nv.c, &cmd, NULL, 0, NULL);
	printf("  Identify to IOVA 0x%llx (map B) returned %d (QEMU does not report the fault)\n",
	       (unsigned long long)iova_b, st);
	int zero = 1;
	for (int i = 0; i < 4096; i++)
		zero &= target[i] == 0;
	LAB_CHECK(zero);
	snprintf(needle, sizeof(needle), "DMAR.*fault addr 0x%llx ", (unsigned long long)iova_b);
	LAB_CHECK(lab_kmsg_find(mark, needle, 10000, line, sizeof(line)) == 1);
	printf("  kernel log: %s\n  the IOMMU blocked it; map B's page is untouched\n", line);
	/* Both devices go on working. */
	if (nvme_write_read(&nv, 2) != 0 || send_frames(&pvio, &pe) != 0)
		return LAB_FAIL;
	udk_mem_free(mem_b, target);

	printf("4. virtio-net moves to map A\n");
	port_down(&pvio); /* drops the port's reference on map B's heap: the heap goes */
	LAB_CHECK_RC(udk_dmamap_info(map_b, &info), 0);
	LAB_CHECK(info.nb_mappings == 0);
	LAB_CHECK_RC(udk_device_detach(dv), 0);
	LAB_CHECK_RC(udk_device_attach(dv, map_a), 0);
	udk_dmamap_put(map_b); /* nobody holds B now: it is destroyed */
	if (port_up(&pvio, pv, "pool-A", NULL) != 0)
		return LAB_FAIL;
	LAB_CHECK(udk_eth_dev_mem(pvio.id) == mem_a); /* one heap per map, shared with the NVMe */
	LAB_CHECK_RC(udk_dmamap_info(map_a, &info), 0);
	LAB_CHECK(info.nb_devices == 2);
	if (both_ways(&pvio, &pe) != 0 || nvme_write_read(&nv, 3) != 0)
		return LAB_FAIL;

	port_down(&pvio);
	port_down(&pe);
	nvme_down(&nv);
	udk_pci_dev_close(pv);
	udk_pci_dev_close(pn);
	udk_dmamap_put(map_a);
	udk_eal_cleanup();
	lab_bind(virtio_bdf, NULL);
	lab_bind(e1000e_bdf, NULL);
	printf("PASS\n");
	return LAB_PASS;
}
