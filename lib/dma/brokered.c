/* SPDX-License-Identifier: BSD-3-Clause */
/* brokered.c - a map owned by udk-broker (doc/broker.md).  The process holds
 * no container or IOAS: the broker mapped its segments and handed over device
 * fds that reach that map.  This backend keeps the record honest: it accepts
 * exactly the ranges the broker said it mapped (so translation works) and
 * refuses every other mapping, naming the broker's policy, because nothing
 * this process does can add to the IOMMU. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dma_internal.h"
#include "udk_util.h"

struct grant {
	uint64_t iova, len;
};

struct dma_broker {
	char who[256];
	struct grant *g;
	size_t ng, capg;
};

static int broker_init(struct udk_dmamap *map)
{
	map->broker = calloc(1, sizeof(*map->broker));
	if (map->broker == NULL)
		return -ENOMEM;
	snprintf(map->broker->who, sizeof(map->broker->who), "udk-broker");
	/* The broker's map holds the memory already: every record entry is
	 * "in the kernel" the moment the broker says so. */
	map->live = true;
	return 0;
}

static void broker_fini(struct udk_dmamap *map)
{
	if (map->broker != NULL)
		free(map->broker->g);
	free(map->broker);
	map->broker = NULL;
}

static int broker_map(struct udk_dmamap *map, const struct udk_mapping *m)
{
	struct dma_broker *b = map->broker;

	for (size_t i = 0; i < b->ng; i++)
		if (b->g[i].iova == m->iova && b->g[i].len == m->len)
			return 0;
	udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
		"map on %s: %p+0x%llx cannot be mapped: this map belongs to %s, and only the "
		"memory its policy grants is mapped (this process cannot map anything itself); "
		"allocate DMA memory with udk_dma_zmalloc(), or raise the 'mem' limit of the "
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

static int broker_attach_dev(struct udk_dmamap *map, struct udk_device *dev)
{
	if (!dev->given_fd) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
			"attach %s to %s: the map belongs to %s; only devices the broker handed "
			"over can join it", dev->bdf, map->name, map->broker->who);
		return -UDK_EINCOMPATIBLE;
	}
	return dev->fd >= 0 ? 0 : -UDK_EDEVSTATE;
}

/* The fd stays open (it is the only way back to the device) until
 * udk_device_close(). */
static void broker_detach_dev(struct udk_dmamap *map, struct udk_device *dev)
{
	(void)map;
	(void)dev;
}

const struct udk_dmamap_ops udk_dmamap_broker_ops = {
	.name = "udk-broker",
	.init = broker_init,
	.attach_dev = broker_attach_dev,
	.detach_dev = broker_detach_dev,
	.map = broker_map,
	.unmap = broker_unmap,
	.fini = broker_fini,
};

int udk_dmamap_broker_grant(struct udk_dmamap *map, uint64_t iova, uint64_t len,
			    const char *who)
{
	struct dma_broker *b;
	int rc = 0;

	if (map == NULL || map->backend != UDK_DMAMAP_BROKERED) {
		udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "broker grant on %s: not a brokered map",
			map != NULL ? map->name : "(null)");
		return -EINVAL;
	}
	pthread_mutex_lock(&map->lock);
	b = map->broker;
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
