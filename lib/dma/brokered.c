/* SPDX-License-Identifier: BSD-3-Clause */
/* brokered.c - a map owned by udk-broker (doc/broker.md).  The process holds
 * no container or IOAS: the broker mapped its segments and handed over device
 * fds that reach that map.  This backend keeps the record honest: it accepts
 * exactly the ranges the broker said it mapped (so translation works) and
 * refuses every other mapping, naming the broker's policy, because nothing
 * this process does can add to the IOMMU. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dma_internal.h"
#include "udk_util.h"

struct grant {
	uint64_t iova, len;
};

/* A brokered map: the generic map and the ranges the broker granted. */
struct broker_map {
	struct udk_dmamap map; /* first: the generic code allocates map_size */
	char who[256];
	struct grant *g;
	size_t ng, capg;
};

static struct broker_map *bm(struct udk_dmamap *map)
{
	return dma_container_of(map, struct broker_map, map);
}

static int broker_init(struct udk_dmamap *map)
{
	snprintf(bm(map)->who, sizeof(bm(map)->who), "udk-broker");
	/* The broker's map holds the memory already: every record entry is
	 * "in the kernel" the moment the broker says so. */
	map->live = true;
	return 0;
}

static void broker_fini(struct udk_dmamap *map)
{
	free(bm(map)->g);
	bm(map)->g = NULL;
}

static int broker_map(struct udk_dmamap *map, const struct udk_mapping *m)
{
	struct broker_map *b = bm(map);

	for (size_t i = 0; i < b->ng; i++)
		if (b->g[i].iova == m->iova && b->g[i].len == m->len)
			return 0;
	udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
		"map on %s: %p+0x%llx cannot be mapped: this map belongs to %s, and only the "
		"memory its policy grants is mapped (this process cannot map anything itself); "
		"allocate DMA memory with udk_mem_default_zmalloc(), or raise the 'mem' limit of the "
		"policy", map->name, (void *)m->vaddr, (unsigned long long)m->len, b->who);
	return -EPERM;
}

/* The broker keeps its mapping; leaving our record is all there is to do. */
static int broker_unmap(struct udk_dmamap *map, const struct udk_mapping *m)
{
	(void)map;
	(void)m;
	return 0;
}

/* The fd the broker handed over is bound and attached already. */
static int broker_attach(struct udk_dmamap *map, struct udk_device *dev)
{
	if (dev->owner != &udk_dmamap_broker_ops) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"attach %s to %s: the map belongs to %s; only devices the broker handed "
			"over can join it", dev->bdf, map->name, bm(map)->who);
		return -UDK_EINCOMPATIBLE;
	}
	return dev->fd >= 0 ? 0 : -UDK_EDEVSTATE;
}

/* The fd stays open (it is the only way back to the device) until
 * udk_device_close(). */
static void broker_detach(struct udk_dmamap *map, struct udk_device *dev)
{
	(void)map;
	(void)dev;
}

/* A handed-over device can go nowhere but the broker's map. */
static int broker_release_dev(struct udk_device *dev, const struct udk_dmamap *to)
{
	if (to != NULL) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"attach %s to %s: the device came from udk-broker and can only be in the "
			"broker's map", dev->bdf, to->name);
		return -UDK_EINCOMPATIBLE;
	}
	if (dev->fd >= 0)
		close(dev->fd);
	dev->fd = -1;
	return 0;
}

/* Never the default backend: a brokered map's devices come from
 * udk_device_open_fd(). */
static int broker_open_dev(struct udk_device *dev)
{
	udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
		"open %s: devices of a brokered map come from udk-broker (udk_device_open_fd)",
		dev->bdf);
	return -UDK_EINCOMPATIBLE;
}

/* The broker's map has no page sizes or IOAS to tell of. */
static void broker_info(struct udk_dmamap *map, struct udk_dmamap_info *info)
{
	(void)map;
	(void)info;
}

const struct udk_dmamap_ops udk_dmamap_broker_ops = {
	.backend = UDK_DMAMAP_BROKERED,
	.map_size = sizeof(struct broker_map),
	.init = broker_init,
	.open_dev = broker_open_dev,
	.attach = broker_attach,
	.detach = broker_detach,
	.release_dev = broker_release_dev,
	.map = broker_map,
	.unmap = broker_unmap,
	.info = broker_info,
	.fini = broker_fini,
};

int udk_device_open_fd(const char *bdf, int fd, struct udk_device **out)
{
	struct udk_device *dev;
	char path[PATH_MAX], name[64];
	int num = -1, rc;

	if (bdf == NULL || strlen(bdf) >= sizeof(dev->bdf) || fd < 0) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "open %s from a handed-over fd %d: bad address "
			"or fd", bdf ? bdf : "(null)", fd);
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	/* The group number only names the device in messages; its file stays
	 * closed (the broker holds it). */
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/iommu_group", udk_sysfs_root(), bdf);
	if (udk_sysfs_link_name(path, name, sizeof(name)) == 0)
		num = atoi(name);
	rc = udk_device_new(bdf, num, &dev);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	dev->fd = fd;
	dev->owner = &udk_dmamap_broker_ops;
	*out = dev;
	return 0;
}

int udk_dmamap_broker_grant(struct udk_dmamap *map, uint64_t iova, uint64_t len,
			    const char *who)
{
	struct broker_map *b;
	int rc = 0;

	if (map == NULL || map->ops != &udk_dmamap_broker_ops) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "broker grant on %s: not a brokered map",
			map != NULL ? map->name : "(null)");
		return -EINVAL;
	}
	pthread_mutex_lock(&map->lock);
	b = bm(map);
	if (who != NULL)
		snprintf(b->who, sizeof(b->who), "%s", who);
	if (len == 0)
		goto out; /* only the name */
	if (b->ng == b->capg) {
		size_t cap = b->capg ? 2 * b->capg : 16;
		struct grant *n = realloc(b->g, cap * sizeof(*n));

		if (n == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		b->g = n;
		b->capg = cap;
	}
	b->g[b->ng++] = (struct grant){iova, len};
out:
	pthread_mutex_unlock(&map->lock);
	return rc;
}
