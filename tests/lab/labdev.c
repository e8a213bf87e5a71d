/* SPDX-License-Identifier: BSD-3-Clause */
/* labdev.c - the lab's device instruments (see labdev.h): device lookup and
 * binding, the kernel log, a minimal NVMe admin queue and a minimal virtio-net
 * transmit queue, each doing real DMA through a udk map. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "labdev.h"
#include "labutil.h"
#include "udk_mem.h"
#include "udk_util.h"

void lab_fail(const char *file, int line, const char *expr)
{
	fprintf(stderr, "FAIL %s:%d: %s\n  last udk error: %s\n", file, line, expr,
		udk_last_error());
}

void lab_fail_rc(const char *file, int line, const char *expr, int rc, int want)
{
	fprintf(stderr, "FAIL %s:%d: %s returned %d (%s: %s), expected %d (%s)\n"
			"  last udk error: %s\n",
		file, line, expr, rc, udk_strerror_name(rc), udk_strerror(rc), want,
		udk_strerror_name(want), udk_last_error());
}

bool lab_last_error_has(const char *text)
{
	bool ok = strstr(udk_last_error(), text) != NULL;

	printf("  error message: \"%s\" %s \"%s\"\n", udk_last_error(),
	       ok ? "contains" : "DOES NOT contain", text);
	return ok;
}

struct find_ctx {
	uint16_t vendor, device;
	int nth;
	struct udk_pci_addr addr;
	bool found;
};

static int find_cb(const struct udk_pci_info *info, void *arg)
{
	struct find_ctx *c = arg;

	if (info->vendor_id == c->vendor && info->device_id == c->device && c->nth-- == 0) {
		c->addr = info->addr;
		c->found = true;
		return 1;
	}
	return 0;
}

int lab_find(uint16_t vendor, uint16_t device, int nth, struct udk_pci_addr *addr, char *bdf,
	     size_t len)
{
	struct find_ctx c = {.vendor = vendor, .device = device, .nth = nth};

	udk_pci_scan(find_cb, &c);
	if (!c.found) {
		fprintf(stderr, "no PCI device %04x:%04x #%d in this guest\n", vendor, device, nth);
		return -ENODEV;
	}
	*addr = c.addr;
	udk_pci_addr_format(addr, bdf, len);
	return 0;
}

int lab_find_bind(uint16_t vendor, uint16_t device, int nth, struct udk_pci_addr *addr,
		  char *bdf, size_t len)
{
	int rc = lab_find(vendor, device, nth, addr, bdf, len);

	if (rc < 0)
		return rc;
	rc = udk_pci_bind_vfio(addr);
	if (rc < 0)
		fprintf(stderr, "binding %s to vfio-pci failed: %s\n", bdf, udk_strerror(rc));
	return rc;
}

int lab_peer_up(uint16_t vendor, uint16_t device, int nth, const char *driver)
{
	char bdf[LAB_BDF_LEN], dir[128];
	struct ifreq ifr;
	struct dirent *de;
	DIR *d = NULL;
	int rc, fd;

	rc = lab_find_device(vendor, device, (unsigned int)nth, bdf);
	if (rc == 0)
		rc = lab_bind(bdf, driver);
	if (rc < 0) {
		fprintf(stderr, "peer %04x:%04x: cannot bind it to %s: %s\n", vendor, device, driver,
			strerror(-rc));
		return rc;
	}
	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s/net", bdf);
	for (int i = 0; i < 50 && (d = opendir(dir)) == NULL; i++)
		usleep(100000);
	if (d == NULL) {
		fprintf(stderr, "peer %s: no network interface under %s\n", bdf, dir);
		return -ENODEV;
	}
	memset(&ifr, 0, sizeof(ifr));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%.15s", de->d_name);
	closedir(d);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		rc = -errno;
		goto out;
	}
	ifr.ifr_flags |= IFF_UP;
	rc = ioctl(fd, SIOCSIFFLAGS, &ifr) < 0 ? -errno : 0;
	printf("  peer %s (%s) is up on %s\n", bdf, ifr.ifr_name, driver);
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline uint32_t rd32(volatile uint8_t *b, uint32_t off)
{
	return *(volatile uint32_t *)(b + off);
}

static inline void wr32(volatile uint8_t *b, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(b + off) = v;
}

static inline void wr64(volatile uint8_t *b, uint32_t off, uint64_t v)
{
	wr32(b, off, (uint32_t)v);
	wr32(b, off + 4, (uint32_t)(v >> 32));
}

/* ---- NVMe (NVMe 1.4 §3.1 registers, §7.6.1 initialisation) ---- */

#define NVME_CAP 0x00
#define NVME_VS 0x08
#define NVME_CC 0x14
#define NVME_CSTS 0x1c
#define NVME_AQA 0x24
#define NVME_ASQ 0x28
#define NVME_ACQ 0x30
#define NVME_QD 64

/* NVMe 1.4 §4.2 and §4.6: a submission and a completion queue entry. */
struct nvme_sqe {
	uint8_t opc, flags;
	uint16_t cid;
	uint32_t nsid, rsvd[2];
	uint64_t mptr, prp1, prp2;
	uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};
_Static_assert(sizeof(struct nvme_sqe) == 64, "NVMe SQE is 64 bytes");

struct nvme_cqe {
	uint32_t dw0, dw1;
	uint16_t sqhd, sqid, cid, status;
};
_Static_assert(sizeof(struct nvme_cqe) == 16, "NVMe CQE is 16 bytes");

static int nvme_wait_rdy(struct lab_nvme *n, uint32_t want)
{
	uint64_t end = now_ms() + n->timeout_ms;

	while ((rd32(n->bar, NVME_CSTS) & 1) != want) {
		if (rd32(n->bar, NVME_CSTS) & 2) {
			fprintf(stderr, "NVMe: controller fatal status (CSTS.CFS)\n");
			return -EIO;
		}
		if (now_ms() > end) {
			fprintf(stderr, "NVMe: CSTS.RDY did not become %u in %u ms\n", want,
				n->timeout_ms);
			return -ETIMEDOUT;
		}
		usleep(1000);
	}
	return 0;
}

int lab_nvme_init(struct lab_nvme *n, struct udk_pci_dev *pdev, struct udk_dmamap *map)
{
	uint64_t cap;
	size_t len;
	void *bar;
	int rc;

	memset(n, 0, sizeof(*n));
	n->pdev = pdev;
	n->map = map;
	rc = udk_pci_bar_map(pdev, 0, &bar, &len);
	if (rc < 0)
		return rc;
	n->bar = bar;
	rc = udk_pci_bus_master(pdev, true);
	if (rc < 0)
		return rc;
	cap = (uint64_t)rd32(n->bar, NVME_CAP) | (uint64_t)rd32(n->bar, NVME_CAP + 4) << 32;
	n->dstrd = (uint32_t)(cap >> 32) & 0xf;
	n->timeout_ms = (uint32_t)((cap >> 24) & 0xff) * 500 + 5000; /* TCG is slow */
	printf("  NVMe %s: CAP 0x%016llx VS 0x%08x\n", udk_device_name(udk_pci_dev_device(pdev)),
	       (unsigned long long)cap, rd32(n->bar, NVME_VS));

	wr32(n->bar, NVME_CC, 0);
	rc = nvme_wait_rdy(n, 0);
	if (rc < 0)
		return rc;
	n->sq = udk_mem_default_zmalloc(NVME_QD * sizeof(struct nvme_sqe), 4096, UDK_SOCKET_ANY);
	n->cq = udk_mem_default_zmalloc(NVME_QD * sizeof(struct nvme_cqe), 4096, UDK_SOCKET_ANY);
	if (n->sq == NULL || n->cq == NULL)
		goto err_free;
	if (udk_dmamap_virt2iova(map, n->sq, &n->sq_iova) < 0 ||
	    udk_dmamap_virt2iova(map, n->cq, &n->cq_iova) < 0) {
		fprintf(stderr, "NVMe: admin queue memory is not mapped in %s\n",
			udk_dmamap_name(map));
		goto err_free;
	}
	n->phase = 1;
	wr32(n->bar, NVME_AQA, (NVME_QD - 1) << 16 | (NVME_QD - 1));
	wr64(n->bar, NVME_ASQ, n->sq_iova);
	wr64(n->bar, NVME_ACQ, n->cq_iova);
	/* EN, NVM command set, 4 KiB pages, round robin, SQE 2^6, CQE 2^4. */
	wr32(n->bar, NVME_CC, 1 | 6 << 16 | 4 << 20);
	rc = nvme_wait_rdy(n, 1);
	if (rc < 0)
		goto err_free_rc;
	return 0;

err_free:
	rc = -ENOMEM;
err_free_rc:
	udk_mem_default_free(n->sq);
	udk_mem_default_free(n->cq);
	n->sq = n->cq = NULL;
	return rc;
}

int lab_nvme_identify(struct lab_nvme *n, uint64_t prp1)
{
	struct nvme_sqe *sqe = (struct nvme_sqe *)n->sq + n->sq_tail;
	volatile struct nvme_cqe *cqe;
	uint32_t db = 4u << n->dstrd;
	uint64_t end = now_ms() + n->timeout_ms;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opc = 0x06; /* Identify */
	sqe->cid = ++n->cid;
	sqe->prp1 = prp1;
	sqe->cdw10 = 1;  /* CNS 01h: Identify Controller */
	n->sq_tail = (uint16_t)((n->sq_tail + 1) % NVME_QD);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	wr32(n->bar, 0x1000, n->sq_tail); /* SQ 0 tail doorbell */
	for (;;) {
		cqe = (volatile struct nvme_cqe *)n->cq + n->cq_head;
		if ((cqe->status & 1) == n->phase)
			break;
		if (now_ms() > end) {
			fprintf(stderr, "NVMe: no completion for Identify in %u ms (CSTS 0x%x)\n",
				n->timeout_ms, rd32(n->bar, NVME_CSTS));
			return -ETIMEDOUT;
		}
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	uint16_t status = cqe->status >> 1;
	if (++n->cq_head == NVME_QD) {
		n->cq_head = 0;
		n->phase ^= 1;
	}
	wr32(n->bar, 0x1000 + db, n->cq_head); /* CQ 0 head doorbell */
	return status;
}

bool lab_nvme_identify_ok(const void *data, const char *serial)
{
	const char *d = data;
	char mn[41], sn[21];

	memcpy(sn, d + 4, 20); /* SN: bytes 23:04 */
	sn[20] = '\0';
	memcpy(mn, d + 24, 40); /* MN: bytes 63:24 */
	mn[40] = '\0';
	printf("  Identify: model \"%.40s\" serial \"%.20s\"\n", mn, sn);
	return strncmp(mn, "QEMU NVMe Ctrl", 14) == 0 &&
	       (serial == NULL || strncmp(sn, serial, strlen(serial)) == 0);
}

void lab_nvme_fini(struct lab_nvme *n, bool touch)
{
	if (touch && n->bar != NULL) {
		wr32(n->bar, NVME_CC, 0);
		nvme_wait_rdy(n, 0);
	}
	udk_mem_default_free(n->sq);
	udk_mem_default_free(n->cq);
	memset(n, 0, sizeof(*n));
}

/* ---- virtio-net over PCI (virtio 1.1 §4.1.4: capabilities, §4.1.4.3
 * common configuration; §2.6 split virtqueues) ---- */

#define VIRTIO_PCI_CAP_COMMON 1
#define VIRTIO_PCI_CAP_NOTIFY 2
#define VIRTIO_PCI_CAP_ISR 3
#define VC_DFSELECT 0
#define VC_DF 4
#define VC_GFSELECT 8
#define VC_GF 12
#define VC_STATUS 20
#define VC_QSELECT 22
#define VC_QSIZE 24
#define VC_QENABLE 28
#define VC_QNOTIFYOFF 30
#define VC_QDESC 32
#define VC_QDRIVER 40
#define VC_QDEVICE 48
#define VS_ACK 1
#define VS_DRIVER 2
#define VS_DRIVER_OK 4
#define VS_FEATURES_OK 8
#define VIRTIO_F_VERSION_1 (1ULL << 32)
#define VIRTIO_F_ACCESS_PLATFORM (1ULL << 33)
#define LAB_VQ_MAX 256

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};
_Static_assert(sizeof(struct vq_desc) == 16, "virtq descriptor is 16 bytes");

static volatile uint8_t *common8(struct lab_virtio *v, uint32_t off)
{
	return v->common + off;
}
#define C8(o) (*(volatile uint8_t *)common8(v, (o)))
#define C16(o) (*(volatile uint16_t *)common8(v, (o)))
#define C32(o) (*(volatile uint32_t *)common8(v, (o)))

static int virtio_find_caps(struct lab_virtio *v)
{
	uint8_t pos = 0, cap[16];
	int guard = 48, rc;

	rc = udk_pci_cfg_read(v->pdev, 0x34, &pos, 1);
	if (rc < 0)
		return rc;
	while (pos >= 0x40 && guard-- > 0) {
		rc = udk_pci_cfg_read(v->pdev, pos, cap, sizeof(cap));
		if (rc < 0)
			return rc;
		if (cap[0] == 0x09) { /* vendor specific: struct virtio_pci_cap */
			uint8_t type = cap[3], bar = cap[4];
			uint32_t off, mult = 0;
			void *va;
			size_t len;

			memcpy(&off, cap + 8, 4);
			if (type == VIRTIO_PCI_CAP_NOTIFY)
				udk_pci_cfg_read(v->pdev, pos + 16u, &mult, 4);
			if (type == VIRTIO_PCI_CAP_COMMON || type == VIRTIO_PCI_CAP_NOTIFY ||
			    type == VIRTIO_PCI_CAP_ISR) {
				rc = udk_pci_bar_map(v->pdev, bar, &va, &len);
				if (rc < 0)
					return rc;
				if (type == VIRTIO_PCI_CAP_COMMON)
					v->common = (volatile uint8_t *)va + off;
				else if (type == VIRTIO_PCI_CAP_ISR)
					v->isr = (volatile uint8_t *)va + off;
				else {
					v->notify = (volatile uint8_t *)va + off;
					v->notify_mult = mult;
				}
			}
		}
		pos = cap[1];
	}
	if (v->common == NULL || v->notify == NULL) {
		fprintf(stderr, "virtio: common or notify capability missing\n");
		return -ENODEV;
	}
	return 0;
}

int lab_virtio_init(struct lab_virtio *v, struct udk_pci_dev *pdev, struct udk_dmamap *map)
{
	uint64_t end;
	size_t ring_bytes;
	int rc;

	memset(v, 0, sizeof(*v));
	v->pdev = pdev;
	v->map = map;
	rc = virtio_find_caps(v);
	if (rc < 0)
		return rc;
	rc = udk_pci_bus_master(pdev, true);
	if (rc < 0)
		return rc;
	C8(VC_STATUS) = 0; /* reset; §4.1.4.3.2: wait until it reads back 0 */
	end = now_ms() + 5000;
	while (C8(VC_STATUS) != 0)
		if (now_ms() > end)
			return -ETIMEDOUT;
	C8(VC_STATUS) = VS_ACK;
	C8(VC_STATUS) = VS_ACK | VS_DRIVER;
	C32(VC_DFSELECT) = 0;
	v->features = C32(VC_DF);
	C32(VC_DFSELECT) = 1;
	v->features |= (uint64_t)C32(VC_DF) << 32;
	if (!(v->features & VIRTIO_F_ACCESS_PLATFORM) || !(v->features & VIRTIO_F_VERSION_1)) {
		fprintf(stderr, "virtio: device lacks VERSION_1 or ACCESS_PLATFORM (features "
				"0x%llx): it would bypass the IOMMU; refused\n",
			(unsigned long long)v->features);
		return -ENOTSUP;
	}
	C32(VC_GFSELECT) = 0;
	C32(VC_GF) = 0;
	C32(VC_GFSELECT) = 1;
	C32(VC_GF) = (uint32_t)((VIRTIO_F_VERSION_1 | VIRTIO_F_ACCESS_PLATFORM) >> 32);
	C8(VC_STATUS) = VS_ACK | VS_DRIVER | VS_FEATURES_OK;
	if (!(C8(VC_STATUS) & VS_FEATURES_OK)) {
		fprintf(stderr, "virtio: device refused the features\n");
		return -EIO;
	}

	C16(VC_QSELECT) = 1; /* virtio-net: queue 1 is transmitq0 */
	v->qsize = C16(VC_QSIZE);
	if (v->qsize == 0)
		return -ENODEV;
	if (v->qsize > LAB_VQ_MAX)
		v->qsize = LAB_VQ_MAX;
	C16(VC_QSIZE) = v->qsize;
	v->notify_off = C16(VC_QNOTIFYOFF);
	/* Descriptors, then the available ring, then (4 KiB aligned) the used ring. */
	ring_bytes = 16u * v->qsize + 4096 + 4096 + 8u * v->qsize;
	v->ring = udk_mem_default_zmalloc(ring_bytes, 4096, UDK_SOCKET_ANY);
	v->bufs = udk_mem_default_zmalloc(2048u * v->qsize, 4096, UDK_SOCKET_ANY);
	if (v->ring == NULL || v->bufs == NULL) {
		rc = -ENOMEM;
		goto err_free;
	}
	if (udk_dmamap_virt2iova(map, v->ring, &v->ring_iova) < 0 ||
	    udk_dmamap_virt2iova(map, v->bufs, &v->bufs_iova) < 0) {
		fprintf(stderr, "virtio: ring memory is not mapped in %s\n", udk_dmamap_name(map));
		rc = -UDK_ENOTMAPPED;
		goto err_free;
	}
	uint64_t avail = v->ring_iova + 16u * v->qsize;
	uint64_t used = UDK_ALIGN_UP(avail + 6 + 2u * v->qsize, 4096);
	*(volatile uint64_t *)common8(v, VC_QDESC) = v->ring_iova;
	*(volatile uint64_t *)common8(v, VC_QDRIVER) = avail;
	*(volatile uint64_t *)common8(v, VC_QDEVICE) = used;
	C16(VC_QENABLE) = 1;
	C8(VC_STATUS) = VS_ACK | VS_DRIVER | VS_FEATURES_OK | VS_DRIVER_OK;
	return 0;

err_free:
	udk_mem_default_free(v->ring);
	udk_mem_default_free(v->bufs);
	v->ring = v->bufs = NULL;
	return rc;
}

int lab_virtio_tx(struct lab_virtio *v, const void *frame, size_t len)
{
	struct vq_desc *desc = v->ring;
	volatile uint16_t *avail = (uint16_t *)((char *)v->ring + 16u * v->qsize);
	uintptr_t used_va = UDK_ALIGN_UP((uintptr_t)avail + 6 + 2u * v->qsize, 4096);
	volatile uint16_t *used_idx = (uint16_t *)(used_va + 2);
	uint16_t slot = v->avail_idx % v->qsize;
	char *buf = (char *)v->bufs + 2048u * slot;
	uint64_t end = now_ms() + 5000;

	if (len + 12 > 2048)
		return -EMSGSIZE;
	memset(buf, 0, 12); /* struct virtio_net_hdr (§5.1.6), no offloads */
	memcpy(buf + 12, frame, len);
	desc[slot] = (struct vq_desc){.addr = v->bufs_iova + 2048u * slot,
				      .len = (uint32_t)(len + 12)};
	avail[2 + slot] = slot;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	avail[1] = ++v->avail_idx;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*(volatile uint16_t *)(v->notify + (uint32_t)v->notify_off * v->notify_mult) = 1;
	while (*used_idx != v->avail_idx) {
		if (now_ms() > end) {
			fprintf(stderr, "virtio: transmit not consumed in 5 s (used %u, avail %u)\n",
				*used_idx, v->avail_idx);
			return -ETIMEDOUT;
		}
		usleep(100);
	}
	return 0;
}

void lab_virtio_fini(struct lab_virtio *v, bool touch)
{
	if (touch && v->common != NULL)
		C8(VC_STATUS) = 0;
	udk_mem_default_free(v->ring);
	udk_mem_default_free(v->bufs);
	memset(v, 0, sizeof(*v));
}
