/* SPDX-License-Identifier: BSD-3-Clause */
/* vfio_dev.c - the VFIO view of one PCI function, on top of lib/dma's
 * struct udk_device: what each BAR is, BARs mmapped through the device fd,
 * config space through the config region, bus mastering, MSI-X routed to
 * eventfds and function-level reset.  What hangs on the device fd (BAR mappings,
 * eventfds, the request interrupt) is dropped by the release callback when
 * lib/dma detaches.  Surprise removal (hotplug.c) swaps the BAR mappings for
 * tombstones and closes the udk_device; every call here then answers
 * -UDK_EREMOVED. */
#include <errno.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <pthread.h>
#include <unistd.h>

#include "pci_internal.h"
#include "udk_util.h"

#define PCI_COMMAND 0x04             /* PCI Local Bus 3.0 §6.2.2, Command register */
#define PCI_COMMAND_MASTER 0x4       /* bit 2: Bus Master Enable */
#define PCI_BAR0 0x10                /* PCI Local Bus 3.0 §6.2.5.1, Base Addresses */
#define PCI_BAR_IO 0x1               /* bit 0 set: I/O space BAR */
#define PCI_BAR_MEM_TYPE 0x6         /* memory BAR bits 2:1, Type: 10b = 64-bit */
#define PCI_BAR_MEM_64 0x4
#define PCI_BAR_PREFETCH 0x8         /* memory BAR bit 3: Prefetchable */

/* Everything that depends on the device fd goes before lib/dma closes it:
 * an mmapped BAR would keep the fd (and the group) busy.  Tombstones (the
 * anonymous memory a removed device's BARs were swapped for) stay until
 * udk_pci_dev_close(): a late access must find memory there. */
static void drop_fd_state(struct udk_pci_dev *p)
{
	for (int i = 0; i < PCI_NUM_BARS; i++) {
		if (p->bars[i].va != NULL && !p->bars[i].tombstone) {
			munmap(p->bars[i].va, p->bars[i].len);
			p->bars[i].va = NULL;
			p->bars[i].len = 0;
		}
	}
	pci_req_irq_drop(p);
	for (unsigned int i = 0; i < p->nvec; i++)
		close(p->efds[i]);
	free(p->efds);
	p->efds = NULL;
	p->nvec = 0;
}

static void on_release(struct udk_device *dev, void *arg)
{
	(void)dev;
	drop_fd_state(arg);
}

/* Open through lib/dma (a group, or a handed-over fd when fd >= 0, which is
 * then owned here, also on failure), then attach to map if given. */
static int dev_open(const struct udk_pci_addr *addr, int fd, struct udk_dmamap *map,
		    struct udk_pci_dev **out)
{
	struct udk_pci_dev *p;
	int dfd, rc;

	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		rc = -ENOMEM;
		goto err_fd;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->req_efd = -1;
	p->req_fd = -1;
	rc = udk_pci_info_get(addr, &p->info);
	if (rc < 0)
		goto err_free;
	udk_pci_addr_format(addr, p->bdf, sizeof(p->bdf));
	rc = fd >= 0 ? udk_device_open_fd(p->bdf, fd, &p->dev) : udk_device_open(p->bdf, &p->dev);
	fd = -1; /* lib/dma owns it now */
	if (rc < 0)
		goto err_free;
	udk_device_set_release(p->dev, on_release, p);
	pci_hotplug_track(p);
	if (map != NULL) {
		rc = udk_device_attach(p->dev, map);
		if (rc < 0)
			goto err_close;
		/* The kernel's request interrupt from the start (hotplug.c). */
		pthread_mutex_lock(&p->lock);
		rc = pci_fd(p, &dfd);
		pthread_mutex_unlock(&p->lock);
		if (rc < 0)
			goto err_close;
	}
	*out = p;
	return 0;

err_close:
	pci_hotplug_untrack(p);
	udk_device_close(p->dev);
	drop_fd_state(p);
err_free:
	pthread_mutex_destroy(&p->lock);
	free(p);
err_fd:
	if (fd >= 0)
		close(fd);
	return rc;
}

int udk_pci_dev_open(const struct udk_pci_addr *addr, struct udk_dmamap *map,
		     struct udk_pci_dev **out)
{
	return dev_open(addr, -1, map, out);
}

int udk_pci_dev_open_fd(const struct udk_pci_addr *addr, int fd, struct udk_dmamap *map,
			struct udk_pci_dev **out)
{
	if (fd < 0)
		return -EINVAL;
	return dev_open(addr, fd, map, out);
}

void udk_pci_dev_close(struct udk_pci_dev *pdev)
{
	if (pdev == NULL)
		return;
	pci_hotplug_untrack(pdev); /* no removal can start on it any more */
	udk_device_close(pdev->dev); /* detaches: on_release drops BARs, eventfds */
	drop_fd_state(pdev);         /* in case it was never attached */
	for (int i = 0; i < PCI_NUM_BARS; i++)
		if (pdev->bars[i].va != NULL)
			munmap(pdev->bars[i].va, pdev->bars[i].len); /* tombstones */
	pthread_mutex_destroy(&pdev->lock);
	free(pdev);
}

struct udk_device *udk_pci_dev_device(struct udk_pci_dev *pdev)
{
	return pdev->dev;
}

/* The device fd (attaching to a private map on first use), with the request
 * interrupt registered on it; -UDK_EREMOVED after removal.  p->lock held. */
int pci_fd(struct udk_pci_dev *p, int *fd)
{
	int rc;

	if (p->dev == NULL || __atomic_load_n(&p->removed, __ATOMIC_ACQUIRE)) {
		udk_log(UDK_LOG_ERR, "pci", "%s: the device was removed (hot-unplug); close it "
			"with udk_pci_dev_close()", p->bdf);
		return -UDK_EREMOVED;
	}
	rc = udk_device_fd(p->dev, fd);
	if (rc < 0)
		return rc;
	if (p->req_efd < 0)
		pci_req_irq_enable(p, *fd); /* best effort: logged when it fails */
	return 0;
}

const struct udk_pci_info *udk_pci_dev_info(const struct udk_pci_dev *pdev)
{
	return &pdev->info;
}

static int region_info(struct udk_pci_dev *p, int fd, unsigned int index, const char *what,
		       struct vfio_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->argsz = sizeof(*ri);
	ri->index = index;
	if (ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, ri) < 0) {
		int err = errno;

		udk_log(UDK_LOG_ERR, "pci", "%s: VFIO_DEVICE_GET_REGION_INFO of %s: %s", p->bdf,
			what, strerror(err));
		return -err;
	}
	return 0;
}

static int cfg_access(struct udk_pci_dev *p, bool write, uint32_t off, void *buf, size_t len)
{
	struct vfio_region_info ri;
	ssize_t n;
	int fd, rc;

	rc = pci_fd(p, &fd);
	if (rc < 0)
		return rc;
	rc = region_info(p, fd, VFIO_PCI_CONFIG_REGION_INDEX, "the config region", &ri);
	if (rc < 0)
		return rc;
	if (len == 0 || (uint64_t)off + len > ri.size) {
		udk_log(UDK_LOG_ERR, "pci", "%s: config %s of %zu bytes at 0x%x is outside the "
			"%llu-byte config space", p->bdf, write ? "write" : "read", len, off,
			(unsigned long long)ri.size);
		return -EINVAL;
	}
	if (write)
		n = pwrite(fd, buf, len, (off_t)(ri.offset + off));
	else
		n = pread(fd, buf, len, (off_t)(ri.offset + off));
	if (n < 0 || (size_t)n != len) {
		rc = n < 0 ? -errno : -EIO;
		udk_log(UDK_LOG_ERR, "pci", "%s: config %s of %zu bytes at 0x%x: %s", p->bdf,
			write ? "write" : "read", len, off, n < 0 ? udk_strerror(rc) : "short");
		return rc;
	}
	return 0;
}

int udk_pci_cfg_read(struct udk_pci_dev *pdev, uint32_t off, void *buf, size_t len)
{
	int rc;

	pthread_mutex_lock(&pdev->lock);
	rc = cfg_access(pdev, false, off, buf, len);
	pthread_mutex_unlock(&pdev->lock);
	return rc;
}

int udk_pci_cfg_write(struct udk_pci_dev *pdev, uint32_t off, const void *buf, size_t len)
{
	int rc;

	pthread_mutex_lock(&pdev->lock);
	rc = cfg_access(pdev, true, off, (void *)buf, len);
	pthread_mutex_unlock(&pdev->lock);
	return rc;
}

int udk_pci_bus_master(struct udk_pci_dev *pdev, bool enable)
{
	uint16_t cmd, want;
	int rc;

	rc = udk_pci_cfg_read(pdev, PCI_COMMAND, &cmd, sizeof(cmd));
	if (rc < 0)
		return rc;
	want = enable ? (uint16_t)(cmd | PCI_COMMAND_MASTER) : (uint16_t)(cmd & ~PCI_COMMAND_MASTER);
	if (want == cmd)
		return 0;
	return udk_pci_cfg_write(pdev, PCI_COMMAND, &want, sizeof(want));
}

/* VFIO's region info of BAR bar (checked: 0..5); p->lock held. */
static int bar_region(struct udk_pci_dev *p, int bar, const char *step, int *fd,
		      struct vfio_region_info *ri)
{
	char what[16];
	int rc;

	if (bar < 0 || bar >= PCI_NUM_BARS) {
		udk_log(UDK_LOG_ERR, "pci", "%s: %s %d: there are BARs 0 to 5", p->bdf, step, bar);
		return -EINVAL;
	}
	rc = pci_fd(p, fd);
	if (rc < 0)
		return rc;
	snprintf(what, sizeof(what), "BAR %d", bar);
	return region_info(p, *fd, VFIO_PCI_BAR0_REGION_INDEX + (unsigned int)bar, what, ri);
}

/* What a BAR is: its size and mmap flag from VFIO, its type from the BAR
 * register (PCI Local Bus 3.0 §6.2.5.1); p->lock held. */
static int bar_info(struct udk_pci_dev *p, int bar, struct udk_pci_bar_info *info)
{
	struct vfio_region_info ri;
	uint32_t raw;
	int fd, rc;

	rc = bar_region(p, bar, "BAR info of BAR", &fd, &ri);
	if (rc < 0)
		return rc;
	memset(info, 0, sizeof(*info));
	if (ri.size == 0)
		return 0; /* absent, or the upper half of a 64-bit BAR */
	rc = cfg_access(p, false, PCI_BAR0 + 4u * (unsigned int)bar, &raw, sizeof(raw));
	if (rc < 0)
		return rc;
	info->size = ri.size;
	info->mmap = (ri.flags & VFIO_REGION_INFO_FLAG_MMAP) != 0;
	info->io = (raw & PCI_BAR_IO) != 0;
	if (!info->io) {
		info->mem64 = (raw & PCI_BAR_MEM_TYPE) == PCI_BAR_MEM_64;
		info->prefetch = (raw & PCI_BAR_PREFETCH) != 0;
	}
	return 0;
}

static int bar_map(struct udk_pci_dev *pdev, int bar, void **va, size_t *len)
{
	struct vfio_region_info ri;
	uint32_t raw;
	void *m;
	int fd, rc;

	if (bar >= 0 && bar < PCI_NUM_BARS && pdev->bars[bar].va != NULL && !pdev->removed)
		goto out;
	rc = bar_region(pdev, bar, "map BAR", &fd, &ri);
	if (rc < 0)
		return rc;
	if (ri.size == 0) {
		udk_log(UDK_LOG_ERR, "pci", "%s: map BAR %d: the device does not implement it",
			pdev->bdf, bar);
		return -ENOENT;
	}
	if (!(ri.flags & VFIO_REGION_INFO_FLAG_MMAP)) {
		bool io = cfg_access(pdev, false, PCI_BAR0 + 4u * (unsigned int)bar, &raw,
					   sizeof(raw)) == 0 && (raw & PCI_BAR_IO);

		udk_log(UDK_LOG_ERR, "pci", "%s: map BAR %d: %s", pdev->bdf, bar,
			io ? "it is an I/O-port BAR, which cannot be mmapped"
			   : "VFIO does not allow mmap of it (smaller than a page?)");
		return -ENOTSUP;
	}
	m = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)ri.offset);
	if (m == MAP_FAILED) {
		rc = -errno;
		udk_log(UDK_LOG_ERR, "pci", "%s: mmap of BAR %d (%llu bytes): %s", pdev->bdf, bar,
			(unsigned long long)ri.size, udk_strerror(rc));
		return rc;
	}
	pdev->bars[bar].va = m;
	pdev->bars[bar].len = ri.size;
out:
	*va = pdev->bars[bar].va;
	*len = pdev->bars[bar].len;
	return 0;
}

/* VFIO_DEVICE_SET_IRQS on the MSI-X index: nvec eventfds, or none to
 * disable (count 0, DATA_NONE). */
static int msix_set(struct udk_pci_dev *p, int fd, const int *efds, unsigned int nvec)
{
	struct vfio_irq_set *set;
	size_t sz = sizeof(*set) + nvec * sizeof(int32_t);
	int rc = 0;

	set = calloc(1, sz);
	if (set == NULL)
		return -ENOMEM;
	set->argsz = (uint32_t)sz;
	set->flags = (nvec ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE) |
		     VFIO_IRQ_SET_ACTION_TRIGGER;
	set->index = VFIO_PCI_MSIX_IRQ_INDEX;
	set->start = 0;
	set->count = nvec;
	if (nvec)
		memcpy(set->data, efds, nvec * sizeof(int32_t));
	if (ioctl(fd, VFIO_DEVICE_SET_IRQS, set) < 0) {
		rc = -errno;
		udk_log(UDK_LOG_ERR, "pci", "%s: VFIO_DEVICE_SET_IRQS (MSI-X, %u vectors): %s",
			p->bdf, nvec, udk_strerror(rc));
	}
	free(set);
	return rc;
}

static int msix_disable(struct udk_pci_dev *pdev)
{
	int fd, rc;

	if (pdev->nvec == 0)
		return 0;
	rc = pci_fd(pdev, &fd);
	if (rc < 0)
		return rc;
	rc = msix_set(pdev, fd, NULL, 0);
	if (rc < 0)
		return rc;
	for (unsigned int i = 0; i < pdev->nvec; i++)
		close(pdev->efds[i]);
	free(pdev->efds);
	pdev->efds = NULL;
	pdev->nvec = 0;
	return 0;
}

/* The MSI-X table size through VFIO_DEVICE_GET_IRQ_INFO. */
static int msix_count(struct udk_pci_dev *pdev, int fd)
{
	struct vfio_irq_info ii = {.argsz = sizeof(ii), .index = VFIO_PCI_MSIX_IRQ_INDEX};
	int rc;

	if (ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, &ii) < 0) {
		rc = -errno;
		udk_log(UDK_LOG_ERR, "pci", "%s: VFIO_DEVICE_GET_IRQ_INFO (MSI-X): %s", pdev->bdf,
			udk_strerror(rc));
		return rc;
	}
	if (ii.count == 0 || !(ii.flags & VFIO_IRQ_INFO_EVENTFD)) {
		udk_log(UDK_LOG_ERR, "pci", "%s: the device has no MSI-X capability", pdev->bdf);
		return -ENOTSUP;
	}
	return (int)ii.count;
}

static int msix_enable(struct udk_pci_dev *pdev, unsigned int nvec, int *efds)
{
	unsigned int made = 0;
	int fd, rc, *fds;

	if (nvec == 0) {
		udk_log(UDK_LOG_ERR, "pci", "%s: MSI-X enable: asked for 0 vectors", pdev->bdf);
		return -EINVAL;
	}
	rc = pci_fd(pdev, &fd);
	if (rc < 0)
		return rc;
	rc = msix_count(pdev, fd);
	if (rc < 0)
		return rc;
	if (nvec > (unsigned int)rc) {
		udk_log(UDK_LOG_ERR, "pci", "%s: MSI-X enable: %u vectors asked, the table has %d",
			pdev->bdf, nvec, rc);
		return -E2BIG;
	}
	/* A new vector count needs MSI-X off first (vfio-pci only grows a
	 * live configuration within the count it was enabled with). */
	rc = msix_disable(pdev);
	if (rc < 0)
		return rc;

	fds = calloc(nvec, sizeof(*fds));
	if (fds == NULL)
		return -ENOMEM;
	for (made = 0; made < nvec; made++) {
		fds[made] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fds[made] < 0) {
			rc = -errno;
			udk_log(UDK_LOG_ERR, "pci", "%s: MSI-X enable: eventfd %u of %u: %s",
				pdev->bdf, made, nvec, udk_strerror(rc));
			goto err_close;
		}
	}
	rc = msix_set(pdev, fd, fds, nvec);
	if (rc < 0)
		goto err_close;
	pdev->efds = fds;
	pdev->nvec = nvec;
	memcpy(efds, fds, nvec * sizeof(*fds));
	return 0;

err_close:
	while (made > 0)
		close(fds[--made]);
	free(fds);
	return rc;
}

static int reset(struct udk_pci_dev *pdev)
{
	struct vfio_device_info di = {.argsz = sizeof(di)};
	int fd, rc;

	rc = pci_fd(pdev, &fd);
	if (rc < 0)
		return rc;
	if (ioctl(fd, VFIO_DEVICE_GET_INFO, &di) < 0) {
		rc = -errno;
		udk_log(UDK_LOG_ERR, "pci", "%s: VFIO_DEVICE_GET_INFO: %s", pdev->bdf,
			udk_strerror(rc));
		return rc;
	}
	if (!(di.flags & VFIO_DEVICE_FLAGS_RESET)) {
		udk_log(UDK_LOG_ERR, "pci", "%s: reset: the device offers no function-level reset "
			"through VFIO (no FLR, PM or bus reset possible)", pdev->bdf);
		return -ENOTSUP;
	}
	if (ioctl(fd, VFIO_DEVICE_RESET) < 0) {
		rc = -errno;
		udk_log(UDK_LOG_ERR, "pci", "%s: VFIO_DEVICE_RESET: %s", pdev->bdf,
			udk_strerror(rc));
		return rc;
	}
	return 0;
}

/* The public calls, one at a time per device and never during a removal. */
#define LOCKED(call)                                                                       \
	do {                                                                               \
		int rc_;                                                                   \
		pthread_mutex_lock(&pdev->lock);                                           \
		rc_ = (call);                                                              \
		pthread_mutex_unlock(&pdev->lock);                                         \
		return rc_;                                                                \
	} while (0)

int udk_pci_bar_map(struct udk_pci_dev *pdev, int bar, void **va, size_t *len)
{
	LOCKED(bar_map(pdev, bar, va, len));
}

int udk_pci_bar_info(struct udk_pci_dev *pdev, int bar, struct udk_pci_bar_info *info)
{
	if (info == NULL) {
		udk_log(UDK_LOG_ERR, "pci", "%s: BAR info of BAR %d: no struct udk_pci_bar_info to "
			"fill", pdev->bdf, bar);
		return -EINVAL;
	}
	LOCKED(bar_info(pdev, bar, info));
}

int udk_pci_msix_enable(struct udk_pci_dev *pdev, unsigned int nvec, int *efds)
{
	LOCKED(msix_enable(pdev, nvec, efds));
}

int udk_pci_msix_disable(struct udk_pci_dev *pdev)
{
	LOCKED(msix_disable(pdev));
}

static int msix_count_locked(struct udk_pci_dev *pdev)
{
	int fd, rc = pci_fd(pdev, &fd);

	return rc < 0 ? rc : msix_count(pdev, fd);
}

int udk_pci_msix_count(struct udk_pci_dev *pdev)
{
	LOCKED(msix_count_locked(pdev));
}

int udk_pci_reset(struct udk_pci_dev *pdev)
{
	LOCKED(reset(pdev));
}
