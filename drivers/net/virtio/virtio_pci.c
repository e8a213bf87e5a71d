/* SPDX-License-Identifier: BSD-3-Clause */
/* virtio_pci.c - the modern virtio PCI transport (virtio 1.1 §4.1) over
 * lib/pci and VFIO: the vendor capability walk that finds the common
 * configuration, notification, ISR and device configuration structures in the
 * BARs (§4.1.4), status and feature access, and queue registration. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "udk_eal.h"
#include "udk_pci.h"
#include "virtio_dev.h"

#define LOG "virtio"

/* §4.1.4: struct virtio_pci_cap, in PCI configuration space. */
#define PCI_STATUS 0x06
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_CAP_PTR 0x34
#define PCI_CAP_ID_VNDR 0x09
#define VCAP_CFG_TYPE 3
#define VCAP_BAR 4
#define VCAP_OFFSET 8
#define VCAP_LENGTH 12
#define VCAP_NOTIFY_MULT 16        /* §4.1.4.4: struct virtio_pci_notify_cap */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4

/* §4.1.4.3: struct virtio_pci_common_cfg. */
#define VC_DEVICE_FEATURE_SELECT 0
#define VC_DEVICE_FEATURE 4
#define VC_DRIVER_FEATURE_SELECT 8
#define VC_DRIVER_FEATURE 12
#define VC_MSIX_CONFIG 16
#define VC_NUM_QUEUES 18
#define VC_DEVICE_STATUS 20
#define VC_CONFIG_GENERATION 21
#define VC_QUEUE_SELECT 22
#define VC_QUEUE_SIZE 24
#define VC_QUEUE_MSIX_VECTOR 26
#define VC_QUEUE_ENABLE 28
#define VC_QUEUE_NOTIFY_OFF 30
#define VC_QUEUE_DESC 32
#define VC_QUEUE_DRIVER 40
#define VC_QUEUE_DEVICE 48
#define VC_COMMON_LEN 56

#define RESET_TIMEOUT_MS 5000

struct virtio_pci {
	struct virtio_dev vd;          /* first: the ops get a struct virtio_dev * */
	struct udk_pci_dev *pdev;
	volatile uint8_t *common;
	volatile uint8_t *notify;
	volatile uint8_t *isr;
	volatile uint8_t *devcfg;
	uint32_t notify_len, notify_mult, devcfg_len;
	/* MSI-X (§4.1.5.1.2): the queues of vd.intr_queues get vectors 0..
	 * msix_nvec-1 in queue order, each routed to msix_efds[v] (lib/pci's
	 * eventfds); no configuration-change vector.  Planned at the first
	 * queue_enable after each reset; msix_ok has the queues whose vector
	 * the device read back. */
	bool msix_planned;
	unsigned int msix_nvec;
	int *msix_efds;
	uint64_t msix_queues;  /* the intr_queues the vectors were made for */
	uint64_t msix_ok;
};

static struct virtio_pci *to_pci(struct virtio_dev *vd)
{
	return (struct virtio_pci *)vd;
}

/* §4.1.3.1: 8-, 16- and 32-bit fields are accessed at their width; a 64-bit
 * field as two 32-bit halves. */
static uint8_t rd8(struct virtio_pci *p, uint32_t off)
{
	return *(volatile uint8_t *)(p->common + off);
}
static uint16_t rd16(struct virtio_pci *p, uint32_t off)
{
	return le16toh(*(volatile uint16_t *)(p->common + off));
}
static uint32_t rd32(struct virtio_pci *p, uint32_t off)
{
	return le32toh(*(volatile uint32_t *)(p->common + off));
}
static void wr8(struct virtio_pci *p, uint32_t off, uint8_t v)
{
	*(volatile uint8_t *)(p->common + off) = v;
}
static void wr16(struct virtio_pci *p, uint32_t off, uint16_t v)
{
	*(volatile uint16_t *)(p->common + off) = htole16(v);
}
static void wr32(struct virtio_pci *p, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(p->common + off) = htole32(v);
}
static void wr64(struct virtio_pci *p, uint32_t off, uint64_t v)
{
	wr32(p, off, (uint32_t)v);
	wr32(p, off + 4, (uint32_t)(v >> 32));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* §4.1.4.3.2: after writing 0 the driver waits until device_status reads 0
 * before reinitialising the device. */
static int pci_reset(struct virtio_dev *vd)
{
	struct virtio_pci *p = to_pci(vd);
	uint64_t end = now_ms() + RESET_TIMEOUT_MS;

	/* A reset unmaps every vector (§4.1.5.1.2.1): the next queue_enable
	 * maps them again. */
	p->msix_planned = false;
	p->msix_ok = 0;
	wr8(p, VC_DEVICE_STATUS, 0);
	while (rd8(p, VC_DEVICE_STATUS) != 0) {
		if (now_ms() > end) {
			udk_log(UDK_LOG_ERR, LOG, "%s: device_status did not read back 0 within %d ms "
				"of a reset (virtio 1.1 §4.1.4.3.2); the device is stuck", vd->name,
				RESET_TIMEOUT_MS);
			return -ETIMEDOUT;
		}
		usleep(100);
	}
	return 0;
}

static uint8_t pci_get_status(struct virtio_dev *vd)
{
	return rd8(to_pci(vd), VC_DEVICE_STATUS);
}

static void pci_set_status(struct virtio_dev *vd, uint8_t status)
{
	wr8(to_pci(vd), VC_DEVICE_STATUS, status);
}

static uint64_t pci_get_features(struct virtio_dev *vd)
{
	struct virtio_pci *p = to_pci(vd);
	uint64_t f;

	wr32(p, VC_DEVICE_FEATURE_SELECT, 0);
	f = rd32(p, VC_DEVICE_FEATURE);
	wr32(p, VC_DEVICE_FEATURE_SELECT, 1);
	return f | (uint64_t)rd32(p, VC_DEVICE_FEATURE) << 32;
}

static void pci_set_features(struct virtio_dev *vd, uint64_t features)
{
	struct virtio_pci *p = to_pci(vd);

	wr32(p, VC_DRIVER_FEATURE_SELECT, 0);
	wr32(p, VC_DRIVER_FEATURE, (uint32_t)features);
	wr32(p, VC_DRIVER_FEATURE_SELECT, 1);
	wr32(p, VC_DRIVER_FEATURE, (uint32_t)(features >> 32));
}

/* §4.1.4.3.1: config_generation changes when the device changes its
 * configuration; a read that straddles a change is retried.  Fields are read
 * at their natural width (§4.1.3.1): callers ask for one field at a time. */
static int pci_read_config(struct virtio_dev *vd, uint32_t off, void *buf, size_t len)
{
	struct virtio_pci *p = to_pci(vd);
	volatile uint8_t *src = p->devcfg + off;
	uint8_t gen;
	int tries = 0;

	if (p->devcfg == NULL || (uint64_t)off + len > p->devcfg_len) {
		udk_log(UDK_LOG_ERR, LOG, "%s: device configuration bytes %u..%zu are outside the "
			"%u the device exposes", vd->name, off, off + len, p->devcfg_len);
		return -EINVAL;
	}
	do {
		gen = rd8(p, VC_CONFIG_GENERATION);
		if (len == 2 && off % 2 == 0) {
			uint16_t v = *(volatile uint16_t *)src;
			memcpy(buf, &v, 2);
		} else if (len == 4 && off % 4 == 0) {
			uint32_t v = *(volatile uint32_t *)src;
			memcpy(buf, &v, 4);
		} else {
			for (size_t i = 0; i < len; i++)
				((uint8_t *)buf)[i] = src[i];
		}
	} while (gen != rd8(p, VC_CONFIG_GENERATION) && ++tries < 100);
	return 0;
}

static uint16_t pci_queue_max(struct virtio_dev *vd, uint16_t idx)
{
	struct virtio_pci *p = to_pci(vd);

	/* num_queues is read each time: QEMU's virtio-net has one queue pair
	 * until VIRTIO_NET_F_MQ or _RSS is accepted, then all of them. */
	if (idx >= rd16(p, VC_NUM_QUEUES))
		return 0;
	wr16(p, VC_QUEUE_SELECT, idx);
	return rd16(p, VC_QUEUE_SIZE);
}

/* §4.1.5.2: without VIRTIO_F_NOTIFICATION_DATA the driver writes the queue's
 * index to its notification address. */
static void pci_notify(struct virtq *vq)
{
	*(volatile uint16_t *)vq->notify_addr = htole16(vq->index);
}

int virtio_pci_notify_offset(const char *name, uint16_t idx, uint16_t queue_notify_off,
			     uint32_t mult, uint32_t notify_len, uint32_t *off)
{
	/* §4.1.4.4: the address is cap.offset + queue_notify_off * multiplier;
	 * a hostile device picks both factors. */
	uint64_t noff = (uint64_t)queue_notify_off * mult;

	if (noff + sizeof(uint16_t) > notify_len) {
		udk_log(UDK_LOG_ERR, LOG, "%s: queue %u's notification address (offset 0x%llx = "
			"queue_notify_off %u * multiplier %u) is outside the notification "
			"structure (%u bytes); the device is broken or hostile", name, idx,
			(unsigned long long)noff, queue_notify_off, mult, notify_len);
		return -EINVAL;
	}
	*off = (uint32_t)noff;
	return 0;
}

uint16_t virtio_pci_queue_vector(uint64_t intr_queues, uint16_t idx, unsigned int nvec)
{
	unsigned int rank;

	if (idx >= 64 || !(intr_queues & (1ULL << idx)))
		return VIRTIO_MSI_NO_VECTOR;
	rank = (unsigned int)__builtin_popcountll(intr_queues & ((1ULL << idx) - 1));
	return rank < nvec ? (uint16_t)rank : VIRTIO_MSI_NO_VECTOR;
}

static void msix_release(struct virtio_pci *p)
{
	if (p->msix_nvec > 0 && !udk_pci_dev_removed(p->pdev))
		udk_pci_msix_disable(p->pdev);
	free(p->msix_efds);
	p->msix_efds = NULL;
	p->msix_nvec = 0;
	p->msix_queues = 0;
}

/* Route one MSI-X vector per queue of vd.intr_queues to an eventfd, as many
 * as the table has (then one line says which queues are left to polling);
 * the vectors of the last plan are kept when the queues are the same.  The
 * configuration-change vector stays unmapped: net_virtio reads the link
 * when asked.  A device without MSI-X is still driven, polled. */
static void msix_plan(struct virtio_pci *p)
{
	uint64_t want_q = p->vd.intr_queues;
	unsigned int want = (unsigned int)__builtin_popcountll(want_q), nvec;
	int table, rc, *efds;

	p->msix_planned = true;
	wr16(p, VC_MSIX_CONFIG, VIRTIO_MSI_NO_VECTOR);
	if (want_q == p->msix_queues)
		return;
	msix_release(p);
	if (want == 0)
		return;
	table = udk_pci_msix_count(p->pdev); /* without MSI-X: a line from lib/pci */
	if (table <= 0) {
		udk_log(UDK_LOG_WARN, LOG, "%s: no MSI-X vectors: its %u receive queue%s can only "
			"be polled (no interrupt mode)", p->vd.name, want, want == 1 ? "" : "s");
		p->msix_queues = want_q;
		return;
	}
	nvec = (unsigned int)table < want ? (unsigned int)table : want;
	if (nvec < want)
		udk_log(UDK_LOG_WARN, LOG, "%s: %d MSI-X vectors for %u queues that want one each: "
			"only the first %u have interrupts, the others can only be polled (give the "
			"device more vectors, e.g. QEMU's vectors=%u)", p->vd.name, table, want,
			nvec, want + 1);
	efds = calloc(nvec, sizeof(*efds));
	if (efds == NULL)
		return;
	rc = udk_pci_msix_enable(p->pdev, nvec, efds);
	if (rc < 0) {
		udk_log(UDK_LOG_WARN, LOG, "%s: MSI-X not enabled (%s): its queues can only be "
			"polled (no interrupt mode)", p->vd.name, udk_strerror(rc));
		free(efds);
		p->msix_queues = want_q;
		return;
	}
	p->msix_efds = efds;
	p->msix_nvec = nvec;
	p->msix_queues = want_q;
}

/* §4.1.5.1.2: the selected queue's vector, read back: a device that could
 * not map it answers VIRTIO_MSI_NO_VECTOR, and the queue stays polled.
 * Notifications stay suppressed in the rings until the driver arms a queue
 * (virtqueue.c), so a polled queue with a vector costs nothing. */
static void queue_vector(struct virtio_pci *p, uint16_t idx)
{
	uint16_t vec = virtio_pci_queue_vector(p->msix_queues, idx, p->msix_nvec), got;

	wr16(p, VC_QUEUE_MSIX_VECTOR, vec);
	if (vec == VIRTIO_MSI_NO_VECTOR)
		return;
	got = rd16(p, VC_QUEUE_MSIX_VECTOR);
	if (got == vec)
		p->msix_ok |= 1ULL << idx;
	else
		udk_log(UDK_LOG_WARN, LOG, "%s: queue %u: the device did not take MSI-X vector %u "
			"(read back 0x%x): the queue can only be polled", p->vd.name, idx, vec, got);
}

static int pci_queue_intr_fd(struct virtio_dev *vd, uint16_t idx)
{
	struct virtio_pci *p = to_pci(vd);
	uint16_t vec = virtio_pci_queue_vector(p->msix_queues, idx, p->msix_nvec);

	if (vec != VIRTIO_MSI_NO_VECTOR && idx < 64 && (p->msix_ok & (1ULL << idx)))
		return p->msix_efds[vec];
	udk_log(UDK_LOG_ERR, LOG, "%s: queue %u has no MSI-X vector (%u routed, for %u "
		"queues; see the lines above): poll it", vd->name, idx, p->msix_nvec,
		(unsigned int)__builtin_popcountll(p->msix_queues));
	return -ENOTSUP;
}

/* §4.1.5.1.3: select the queue, set its size (a smaller power of two is
 * allowed for split queues), its three areas, read its notification offset,
 * enable it. */
static int pci_queue_enable(struct virtio_dev *vd, struct virtq *vq)
{
	struct virtio_pci *p = to_pci(vd);
	uint16_t max = pci_queue_max(vd, vq->index);
	uint32_t noff;
	int rc;

	if (max == 0 || vq->size > max) {
		udk_log(UDK_LOG_ERR, LOG, "%s: queue %u: %u entries asked, the device has %u",
			vd->name, vq->index, vq->size, max);
		return -EINVAL;
	}
	if (!p->msix_planned)
		msix_plan(p);
	wr16(p, VC_QUEUE_SELECT, vq->index);
	wr16(p, VC_QUEUE_SIZE, vq->size);
	queue_vector(p, vq->index);
	wr64(p, VC_QUEUE_DESC, vq->desc_iova);
	wr64(p, VC_QUEUE_DRIVER, vq->avail_iova);
	wr64(p, VC_QUEUE_DEVICE, vq->used_iova);
	rc = virtio_pci_notify_offset(vd->name, vq->index, rd16(p, VC_QUEUE_NOTIFY_OFF),
				      p->notify_mult, p->notify_len, &noff);
	if (rc < 0)
		return rc;
	vq->notify_addr = p->notify + noff;
	vq->notify = pci_notify;
	wr16(p, VC_QUEUE_ENABLE, 1);
	return 0;
}

static void pci_close(struct virtio_dev *vd)
{
	struct virtio_pci *p = to_pci(vd);

	/* Leave the device reset: it no longer touches memory we free (a
	 * hot-unplugged one is gone, and has no registers left). */
	if (p->common != NULL && !udk_pci_dev_removed(p->pdev))
		pci_reset(vd);
	msix_release(p);
	free(p);
}

static const struct virtio_transport_ops pci_ops = {
	.reset = pci_reset,
	.get_status = pci_get_status,
	.set_status = pci_set_status,
	.get_features = pci_get_features,
	.set_features = pci_set_features,
	.read_config = pci_read_config,
	.queue_max = pci_queue_max,
	.queue_enable = pci_queue_enable,
	.queue_intr_fd = pci_queue_intr_fd,
	.close = pci_close,
};

/* Map the window a capability describes; checks it lies inside its BAR. */
static int cap_window(struct virtio_pci *p, const struct virtio_pci_window *w,
		      volatile uint8_t **va)
{
	size_t blen;
	void *bar;
	int rc;

	rc = udk_pci_bar_map(p->pdev, w->bar, &bar, &blen);
	if (rc < 0) {
		udk_log(UDK_LOG_ERR, LOG, "%s: cannot map BAR %u that the virtio capability at "
			"0x%02x points into: %s", p->vd.name, w->bar, w->pos, udk_strerror(rc));
		return rc;
	}
	if ((uint64_t)w->off + w->len > blen) {
		udk_log(UDK_LOG_ERR, LOG, "%s: virtio capability at 0x%02x: window 0x%x+0x%x is "
			"outside BAR %u (%zu bytes)", p->vd.name, w->pos, w->off, w->len, w->bar,
			blen);
		return -EINVAL;
	}
	*va = (volatile uint8_t *)bar + w->off;
	return 0;
}

static void cap_read(const uint8_t *cap, struct virtio_pci_window *w, uint8_t pos)
{
	uint32_t v;

	w->found = true;
	w->pos = pos;
	w->bar = cap[VCAP_BAR];
	memcpy(&v, cap + VCAP_OFFSET, 4);
	w->off = le32toh(v);
	memcpy(&v, cap + VCAP_LENGTH, 4);
	w->len = le32toh(v);
}

/* §4.1.4: walk the capability list; the first capability of each type is
 * the one to use (§4.1.4.1), and one naming a reserved BAR is skipped. */
int virtio_pci_caps_parse(const uint8_t *cfg, size_t len, struct virtio_pci_caps *caps)
{
	uint16_t status;
	uint8_t pos;
	int guard = 48;

	memset(caps, 0, sizeof(*caps));
	if (len < PCI_CAP_PTR + 1)
		return -EINVAL;
	memcpy(&status, cfg + PCI_STATUS, 2);
	if (!(le16toh(status) & PCI_STATUS_CAP_LIST))
		return -ENOTSUP;
	pos = cfg[PCI_CAP_PTR];
	while ((pos & ~3u) >= 0x40 && guard-- > 0) {
		const uint8_t *cap;

		pos &= (uint8_t)~3u;
		if ((size_t)pos + 16 > len)
			return -EINVAL;
		cap = cfg + pos;
		if (cap[0] == PCI_CAP_ID_VNDR && cap[VCAP_BAR] <= 5) {
			switch (cap[VCAP_CFG_TYPE]) {
			case VIRTIO_PCI_CAP_COMMON_CFG:
				if (!caps->common.found)
					cap_read(cap, &caps->common, pos);
				break;
			case VIRTIO_PCI_CAP_NOTIFY_CFG:
				if (!caps->notify.found) {
					uint32_t mult;

					if ((size_t)pos + VCAP_NOTIFY_MULT + 4 > len)
						return -EINVAL;
					cap_read(cap, &caps->notify, pos);
					memcpy(&mult, cap + VCAP_NOTIFY_MULT, 4);
					caps->notify_mult = le32toh(mult);
				}
				break;
			case VIRTIO_PCI_CAP_ISR_CFG:
				if (!caps->isr.found)
					cap_read(cap, &caps->isr, pos);
				break;
			case VIRTIO_PCI_CAP_DEVICE_CFG:
				if (!caps->devcfg.found)
					cap_read(cap, &caps->devcfg, pos);
				break;
			}
		}
		pos = cap[1];
	}
	return 0;
}

/* Read the capability list's part of config space (the first 256 bytes,
 * and the 16 after them where the device has them: a capability at 0xfc
 * runs past 0x100) and map the windows it names. */
static int find_caps(struct virtio_pci *p)
{
	uint8_t cfg[VIRTIO_PCI_CAPS_CFG_LEN];
	struct virtio_pci_caps caps;
	size_t len = 256;
	int rc;

	rc = udk_pci_cfg_read(p->pdev, 0, cfg, 256);
	if (rc < 0)
		return rc;
	if (udk_pci_cfg_read(p->pdev, 256, cfg + 256, sizeof(cfg) - 256) == 0)
		len = sizeof(cfg);
	rc = virtio_pci_caps_parse(cfg, len, &caps);
	if (rc == -EINVAL) {
		udk_log(UDK_LOG_ERR, LOG, "%s: a virtio capability runs past the %zu bytes of "
			"config space", p->vd.name, len);
		return rc;
	}
	if (rc == 0 && caps.common.found)
		rc = cap_window(p, &caps.common, &p->common);
	if (rc == 0 && caps.notify.found) {
		rc = cap_window(p, &caps.notify, &p->notify);
		p->notify_len = caps.notify.len;
		p->notify_mult = caps.notify_mult;
	}
	if (rc == 0 && caps.isr.found)
		rc = cap_window(p, &caps.isr, &p->isr);
	if (rc == 0 && caps.devcfg.found) {
		rc = cap_window(p, &caps.devcfg, &p->devcfg);
		p->devcfg_len = caps.devcfg.len;
	}
	if (rc < 0 && rc != -ENOTSUP)
		return rc;
	if (p->common == NULL || caps.common.len < VC_COMMON_LEN || p->notify == NULL) {
		udk_log(UDK_LOG_ERR, LOG, "%s: no virtio common configuration or notification "
			"capability (virtio 1.1 §4.1.4): not a modern virtio PCI device", p->vd.name);
		p->common = NULL;
		return -ENOTSUP;
	}
	return 0;
}

int virtio_pci_open(struct udk_pci_dev *pdev, struct virtio_dev **out)
{
	struct udk_device *dev = udk_pci_dev_device(pdev);
	struct virtio_pci *p = calloc(1, sizeof(*p));
	int rc;

	if (p == NULL)
		return -ENOMEM;
	p->pdev = pdev;
	p->vd.ops = &pci_ops;
	snprintf(p->vd.name, sizeof(p->vd.name), "%s", udk_device_name(dev));
	/* The device does DMA through the IOMMU with IOVAs of its map (rings
	 * from the map's heap, mbufs from pools on it: virtio_net.c), not
	 * guest-physical addresses. */
	p->vd.required_features = VIRTIO_BIT(VIRTIO_F_VERSION_1) |
				  VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM);
	rc = find_caps(p);
	if (rc < 0)
		goto err_free;
	rc = udk_pci_bus_master(pdev, true);
	if (rc < 0) {
		udk_log(UDK_LOG_ERR, LOG, "%s: cannot enable bus mastering: %s", p->vd.name,
			udk_strerror(rc));
		goto err_free;
	}
	*out = &p->vd;
	return 0;

err_free:
	free(p);
	return rc;
}
