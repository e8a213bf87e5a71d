/* SPDX-License-Identifier: BSD-3-Clause */
/* map_mem.c - memory that belongs to a map: the heap whose segments are
 * mapped into a given map, one per map, made on first use and freed with its
 * last reference.  lib/mem and lib/dma know nothing of each other; this is
 * where the two meet (as the default map and the EAL's memory meet in
 * eal.c), so a driver asks here for the memory its device can reach.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "eal_internal.h"
#include "udk_util.h"

/* One map's heap.  The heap holds a reference on its map: the map outlives
 * every mapping the heap made in it. */
struct map_heap {
	struct udk_dmamap *map;
	struct udk_mem *mem;
	unsigned int refs;
	struct map_heap *next;
};

static pthread_mutex_t heaps_lock = PTHREAD_MUTEX_INITIALIZER;
static struct map_heap *heaps;

/* A new heap that follows map, with the EAL's memory options. */
static int heap_create(struct udk_dmamap *map, struct map_heap **out)
{
	struct udk_mem_opts mo;
	struct map_heap *h;
	int ret;

	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	eal_mem_opts(&mo);
	ret = udk_mem_create(&mo, &h->mem);
	if (ret < 0)
		goto err_free; /* lib/mem said why */
	ret = udk_mem_event_register(h->mem, eal_map_follows_heap, map);
	if (ret < 0)
		goto err_mem;
	/* Buffers registered with the map (udk_dma_register()) translate too. */
	udk_mem_set_xlate_fallback(h->mem, udk_dmamap_xlate(map));
	h->map = udk_dmamap_get(map);
	*out = h;
	return 0;

err_mem:
	udk_mem_destroy(h->mem);
err_free:
	free(h);
	return ret;
}

int udk_eal_map_mem_get(struct udk_dmamap *map, struct udk_mem **out)
{
	struct udk_mem *def = udk_eal_mem();
	struct map_heap *h;
	int ret = 0;

	if (map == NULL || out == NULL)
		return -EINVAL;
	if (def == NULL) {
		udk_log(UDK_LOG_ERR, "eal", "memory for map %s: the EAL is not initialised; call "
			"udk_eal_init() first", udk_dmamap_name(map));
		return -EINVAL;
	}
	if (map == udk_eal_dmamap()) {
		*out = def; /* the EAL owns it: not counted */
		return 0;
	}
	if (eal_brokered()) {
		udk_log(UDK_LOG_ERR, "eal", "memory for map %s: under --broker only the broker's "
			"map (udk_eal_dmamap()) holds memory; attach the device to it",
			udk_dmamap_name(map));
		return -ENOTSUP;
	}
	pthread_mutex_lock(&heaps_lock);
	for (h = heaps; h != NULL && h->map != map; h = h->next)
		;
	if (h == NULL) {
		ret = heap_create(map, &h);
		if (ret < 0)
			goto out;
		h->next = heaps;
		heaps = h;
	}
	h->refs++;
	*out = h->mem;
out:
	pthread_mutex_unlock(&heaps_lock);
	return ret;
}

void udk_eal_map_mem_put(struct udk_mem *mem)
{
	struct map_heap **pp, *h;

	if (mem == NULL || mem == udk_eal_mem())
		return;
	pthread_mutex_lock(&heaps_lock);
	for (pp = &heaps; *pp != NULL && (*pp)->mem != mem; pp = &(*pp)->next)
		;
	h = *pp;
	if (h == NULL || --h->refs > 0) {
		pthread_mutex_unlock(&heaps_lock);
		if (h == NULL)
			udk_log(UDK_LOG_WARN, "eal", "udk_eal_map_mem_put: %p is not a map's heap; "
				"nothing done", (void *)mem);
		return;
	}
	*pp = h->next;
	pthread_mutex_unlock(&heaps_lock);
	/* Every segment is unmapped (FREE events) before it is released. */
	udk_mem_destroy(h->mem);
	udk_dmamap_put(h->map);
	free(h);
}

bool udk_eal_mem_hold(struct udk_mem *mem)
{
	struct map_heap *h;

	if (mem == NULL || mem == udk_eal_mem())
		return false;
	pthread_mutex_lock(&heaps_lock);
	for (h = heaps; h != NULL && h->mem != mem; h = h->next)
		;
	if (h != NULL)
		h->refs++;
	pthread_mutex_unlock(&heaps_lock);
	return h != NULL;
}

int udk_eal_device_mem_get(struct udk_device *dev, struct udk_mem **out)
{
	struct udk_dmamap *map;

	if (dev == NULL || out == NULL)
		return -EINVAL;
	map = udk_device_map(dev);
	if (map == NULL) {
		udk_log(UDK_LOG_ERR, "eal", "%s: the device is attached to no map, so no memory "
			"reaches it; open it with -a or attach it (udk_device_attach())",
			udk_device_name(dev));
		return -UDK_EDETACHED;
	}
	return udk_eal_map_mem_get(map, out);
}

struct udk_dmamap *udk_eal_mem_map(const struct udk_mem *mem)
{
	struct udk_dmamap *map = NULL;
	struct map_heap *h;

	if (mem == NULL)
		return NULL;
	if (mem == udk_eal_mem())
		return udk_eal_dmamap();
	pthread_mutex_lock(&heaps_lock);
	for (h = heaps; h != NULL; h = h->next)
		if (h->mem == mem)
			map = h->map;
	pthread_mutex_unlock(&heaps_lock);
	return map;
}
