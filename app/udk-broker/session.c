/* SPDX-License-Identifier: BSD-3-Clause */
/* session.c - what one user holds: a map of its own (an iommufd context with
 * one IOAS where the kernel has iommufd, else a VFIO type1 container, made
 * through lib/dma), the devices attached to it and the hugepage segments
 * mapped into it.  A session outlives its client (parked) so the same user's
 * next start finds its memory zeroed, pinned and mapped already; it is evicted
 * (devices reset, memory freed to the pool, map destroyed) before anything of
 * it goes to another user. */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "broker.h"
#include "udk_util.h"

struct session *session_find_uid(struct broker *b, uid_t uid)
{
	for (struct session *s = b->sessions; s != NULL; s = s->next)
		if (s->uid == uid)
			return s;
	return NULL;
}

struct session *session_holding(struct broker *b, const char *bdf)
{
	for (struct session *s = b->sessions; s != NULL; s = s->next)
		for (unsigned int i = 0; i < s->nb_devs; i++)
			if (strcmp(s->devs[i].bdf, bdf) == 0)
				return s;
	return NULL;
}

int session_dev_group(const char *bdf)
{
	char path[300], name[32], *end;
	long g;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/iommu_group", udk_sysfs_root(), bdf);
	if (udk_sysfs_link_name(path, name, sizeof(name)) < 0)
		return -1;
	g = strtol(name, &end, 10);
	return *name != '\0' && *end == '\0' && g >= 0 && g < 1 << 30 ? (int)g : -1;
}

struct session *session_blocking(struct broker *b, uid_t uid, const char *bdf, bool connected)
{
	int group = session_dev_group(bdf);

	for (struct session *s = b->sessions; s != NULL; s = s->next) {
		if (s->uid == uid || (connected && s->sock < 0))
			continue;
		for (unsigned int i = 0; i < s->nb_devs; i++)
			if (strcmp(s->devs[i].bdf, bdf) == 0 ||
			    (group >= 0 && s->devs[i].group == group))
				return s;
	}
	return NULL;
}

int session_create(struct broker *b, uid_t uid, gid_t gid, struct session **out)
{
	struct udk_dmamap_opts o;
	struct session *s = calloc(1, sizeof(*s));
	char name[48];
	int rc;

	if (s == NULL)
		return -ENOMEM;
	s->uid = uid;
	s->gid = gid;
	s->sock = -1;
	udk_dmamap_opts_init(&o, sizeof(o));
	/* AUTO: iommufd where the kernel offers it, else VFIO type1.  Either
	 * way the client gets only device fds.  On iommufd every map is a
	 * /dev/iommu context of its own (lib/dma opens one per map), so each
	 * user's devices are bound to a context no other user's device is
	 * bound to: a bound cdev may re-attach itself to any IOAS of its own
	 * context by id, and here that holds only its user's memory. */
	o.backend = b->map_backend;
	snprintf(name, sizeof(name), "uid%u", (unsigned int)uid);
	o.name = name;
	rc = udk_dmamap_create(&o, &s->map);
	if (rc < 0) {
		free(s);
		return rc;
	}
	s->next = b->sessions;
	b->sessions = s;
	*out = s;
	return 0;
}

int session_add_dev(struct session *s, const char *bdf, char *why, size_t len)
{
	struct bdev *d = &s->devs[s->nb_devs];
	int rc;

	if (s->nb_devs == UDK_BROKER_MAX_DEVS) {
		snprintf(why, len, "more than %d devices", UDK_BROKER_MAX_DEVS);
		return -E2BIG;
	}
	udk_last_error_clear();
	rc = udk_device_open(bdf, &d->dev);
	if (rc == 0) {
		rc = udk_device_attach(d->dev, s->map);
		if (rc < 0)
			udk_device_close(d->dev);
	}
	if (rc == 0)
		rc = udk_device_fd(d->dev, &d->fd);
	if (rc < 0) {
		snprintf(why, len, "device %s cannot be opened by the broker: %s", bdf,
			 udk_last_error()[0] ? udk_last_error() : udk_strerror(rc));
		return rc;
	}
	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);
	d->group = session_dev_group(bdf);
	s->nb_devs++;
	return 0;
}

void session_backend(const struct session *s, char *buf, size_t len)
{
	struct udk_dmamap_info info;
	size_t n;
	int rc;

	rc = udk_dmamap_info(s->map, &info);
	if (rc < 0) {
		snprintf(buf, len, "backend unknown: the map's info cannot be read: %s",
			 udk_strerror(rc));
		return;
	}
	/* lib/dma names the backend; only iommufd has ids to show (a map's
	 * IOAS is never 0, and udk_device_iommufd_ids() answers for a cdev). */
	n = (size_t)snprintf(buf, len, "backend %s: a map of its own (%s)",
			     udk_dmamap_backend_name(info.backend), udk_dmamap_name(s->map));
	if (info.ioas_id != 0 && n < len)
		n += (size_t)snprintf(buf + n, len - n, ", IOAS %u", info.ioas_id);
	for (unsigned int i = 0; i < s->nb_devs && n < len; i++) {
		uint32_t devid = 0, hwpt = 0;

		if (udk_device_iommufd_ids(s->devs[i].dev, &devid, &hwpt) == 0)
			n += (size_t)snprintf(buf + n, len - n, "; %s cdev bound (device %u) and "
					      "attached (page table %u)", s->devs[i].bdf, devid,
					      hwpt);
		else
			n += (size_t)snprintf(buf + n, len - n, "; %s attached", s->devs[i].bdf);
	}
}

int session_add_seg(struct broker *b, struct session *s, uint64_t want, char *why, size_t wlen)
{
	struct bseg *g = &s->segs[s->nb_segs];
	uint64_t len = UDK_ALIGN_UP(want, b->huge_page);
	int rc;

	if (s->nb_segs == UDK_BROKER_MAX_SEGS) {
		snprintf(why, wlen, "the client already has %d segments, the most one may have",
			 UDK_BROKER_MAX_SEGS);
		return -E2BIG;
	}
	rc = bseg_create(g, b->huge_dir, b->huge_page, len, s->uid, why, wlen);
	if (rc < 0)
		return rc;
	udk_last_error_clear();
	rc = udk_dmamap_map(s->map, g->va, len, &g->iova);
	if (rc < 0) {
		snprintf(why, wlen, "cannot map a %llu MiB segment: %s",
			 (unsigned long long)(len >> 20),
			 udk_last_error()[0] ? udk_last_error() : udk_strerror(rc));
		bseg_release(g, s->uid);
		return rc;
	}
	s->mem += len;
	s->nb_segs++;
	return 0;
}

int session_hole(const struct session *s, unsigned int *seg, uint64_t *off)
{
	for (unsigned int i = 0; i < s->nb_segs; i++) {
		if (bseg_hole(&s->segs[i], off) != 0) { /* unknown counts as a hole */
			*seg = i;
			return 1;
		}
	}
	return 0;
}

bool session_banned(const struct broker *b, uid_t uid)
{
	size_t n = b->nb_banned < BROKER_MAX_BANNED ? b->nb_banned : BROKER_MAX_BANNED;

	for (size_t i = 0; i < n; i++)
		if (b->banned[i] == uid)
			return true;
	return false;
}

static void quiesce_dev(struct bdev *d, uid_t uid)
{
	struct vfio_irq_set off = {.argsz = sizeof(off),
				   .flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER};
	struct vfio_device_info di = {.argsz = sizeof(di)};
	struct vfio_region_info ri = {.argsz = sizeof(ri), .index = VFIO_PCI_CONFIG_REGION_INDEX};
	uint16_t cmd;
	const char *reset = "reset";

	/* Interrupts off (the client's eventfds go with it). */
	for (unsigned int idx = VFIO_PCI_INTX_IRQ_INDEX; idx <= VFIO_PCI_MSIX_IRQ_INDEX; idx++) {
		off.index = idx;
		ioctl(d->fd, VFIO_DEVICE_SET_IRQS, &off);
	}
	/* Bus mastering off first: no DMA from here on, even if the device has
	 * no reset (PCI Local Bus 3.0 6.2.2, Command register bit 2). */
	if (ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &ri) == 0 &&
	    pread(d->fd, &cmd, 2, (off_t)(ri.offset + 4)) == 2) {
		cmd &= (uint16_t)~0x4u;
		if (pwrite(d->fd, &cmd, 2, (off_t)(ri.offset + 4)) != 2)
			blog("uid %u: %s: cannot clear bus mastering: %s", (unsigned int)uid, d->bdf,
			     strerror(errno));
	}
	if (ioctl(d->fd, VFIO_DEVICE_GET_INFO, &di) < 0 || !(di.flags & VFIO_DEVICE_FLAGS_RESET))
		reset = "no reset offered (bus mastering cleared)";
	else if (ioctl(d->fd, VFIO_DEVICE_RESET) < 0)
		reset = "VFIO_DEVICE_RESET failed (bus mastering cleared)";
	blog("uid %u: %s: interrupts off, %s", (unsigned int)uid, d->bdf, reset);
}

void session_park(struct session *s)
{
	for (unsigned int i = 0; i < s->nb_devs; i++)
		quiesce_dev(&s->devs[i], s->uid);
	s->sock = -1;
	s->pid = 0;
	blog("uid %u: parked: %u devices reset, %llu MiB in %u segments kept mapped for the "
	     "same user's next start", (unsigned int)s->uid, s->nb_devs,
	     (unsigned long long)(s->mem >> 20), s->nb_segs);
}

void session_evict(struct broker *b, struct session *s, const char *why)
{
	uint64_t t0 = now_us();
	struct session **p;

	/* Devices quiet first: nothing may DMA into memory while it is scrubbed. */
	for (unsigned int i = 0; i < s->nb_devs; i++)
		quiesce_dev(&s->devs[i], s->uid);
	/* Memory out of the IOMMU while the devices are still in the map (the
	 * kernel drops a type1 map's mappings only with its last group): if a
	 * copy of a device fd survives elsewhere, it reaches nothing. */
	for (unsigned int i = 0; i < s->nb_segs; i++) {
		struct bseg *g = &s->segs[i];

		if (udk_dmamap_unmap(s->map, g->va, g->len) < 0)
			blog("uid %u: a segment at IOVA 0x%llx could not be unmapped (see above)",
			     (unsigned int)s->uid, (unsigned long long)g->iova);
		bseg_release(g, s->uid);
	}
	/* Detach: closes the broker's device fd and takes the group out of the
	 * container (the kernel refuses while another copy of a device fd is
	 * open; lib/dma logs it, and the group then stays out of reach of
	 * other users' maps until that copy is closed). */
	for (unsigned int i = 0; i < s->nb_devs; i++)
		udk_device_close(s->devs[i].dev);
	udk_dmamap_put(s->map);
	blog("uid %u: evicted (%s): %u devices reset and returned, %llu MiB returned to the "
	     "hugepage pool (zeroed before anyone maps them again) in %.1f ms",
	     (unsigned int)s->uid, why, s->nb_devs,
	     (unsigned long long)(s->mem >> 20), (double)(now_us() - t0) / 1000.0);
	for (p = &b->sessions; *p != NULL; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			break;
		}
	}
	free(s);
}
