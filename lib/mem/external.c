/* SPDX-License-Identifier: BSD-3-Clause */
/* external.c - a memory object over another allocator's memory (lib/dpdk:
 * DPDK's heap): allocations go to the provider, and segments are added and
 * removed as the provider reports them, with the same events and lock-free
 * translation as udk's own heap.  The heaps of mem_internal.h stay unused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mem_internal.h"
#include "udk_util.h"

int udk_mem_create_external(const struct udk_mem_provider *p, struct udk_mem **out)
{
	struct udk_mem *mem;
	int ret;

	if (p == NULL || p->zmalloc == NULL || p->free == NULL || out == NULL) {
		udk_log(UDK_LOG_ERR, "mem", "external memory: the provider needs zmalloc and free");
		return -EINVAL;
	}
	mem = calloc(1, sizeof(*mem));
	if (mem == NULL)
		return -ENOMEM;
	udk_mem_opts_init(&mem->opts, sizeof(mem->opts));
	mem->provider_copy = *p;
	mem->provider = &mem->provider_copy;
	ret = udk_iova_xlate_create(&mem->xlate);
	if (ret < 0) {
		free(mem);
		return ret;
	}
	mem_init_common(mem);
	*out = mem;
	return 0;
}

void *ext_zmalloc(struct udk_mem *mem, size_t size, size_t align, int socket)
{
	void *p;

	if (size == 0 || (align != 0 && !UDK_IS_POW2(align))) {
		udk_log(UDK_LOG_ERR, "mem", "zmalloc of %zu bytes aligned to %zu: bad size or "
			"alignment", size, align);
		errno = EINVAL;
		return NULL;
	}
	p = mem->provider->zmalloc(mem->provider->arg, size, align ? align : 64, socket);
	if (p == NULL && errno == 0)
		errno = ENOMEM;
	return p;
}

int udk_mem_seg_add(struct udk_mem *mem, void *va, size_t len, size_t page_size, int fd,
		    off_t fd_offset, int socket)
{
	struct seg *seg;
	size_t i;
	int ret;

	if (mem == NULL || mem->provider == NULL || va == NULL || len == 0)
		return -EINVAL;
	seg = calloc(1, sizeof(*seg));
	if (seg == NULL)
		return -ENOMEM;
	seg->pub = (struct udk_memseg){.va = va, .len = len, .page_size = page_size, .fd = fd,
				       .fd_offset = fd_offset, .socket = socket,
				       .iova = UDK_IOVA_BAD};
	/* Segments are reported by their node; the heap only names it in logs. */
	seg->heap = &mem->heaps[socket >= 0 && socket < UDK_MAX_NUMA_NODES ? socket : 0];

	pthread_mutex_lock(&mem->lock);
	for (i = 0; i < mem->nb_segs; i++) {
		const struct udk_memseg *o = &mem->table[i]->pub;

		if ((uintptr_t)va < (uintptr_t)o->va + o->len &&
		    (uintptr_t)o->va < (uintptr_t)va + len) {
			udk_log(UDK_LOG_ERR, "mem", "external segment %p+0x%zx overlaps the "
				"segment %p+0x%zx", va, len, o->va, o->len);
			ret = -UDK_EOVERLAP;
			goto err_unlock;
		}
	}
	ret = mem_seg_announce(mem, seg);
	if (ret < 0)
		goto err_unlock;
	pthread_mutex_unlock(&mem->lock);
	return 0;

err_unlock:
	pthread_mutex_unlock(&mem->lock);
	free(seg);
	return ret;
}

static void forget(struct udk_mem *mem, size_t i)
{
	struct seg *seg = mem->table[i];

	mem_send_free(mem, seg, mem->nb_cbs);
	memmove(&mem->table[i], &mem->table[i + 1], (mem->nb_segs - i - 1) * sizeof(*mem->table));
	mem->nb_segs--;
	mem->total_reserved -= seg->pub.len;
	free(seg);
}

int udk_mem_seg_remove(struct udk_mem *mem, void *va, size_t len)
{
	int ret = -ENOENT;

	if (mem == NULL || mem->provider == NULL)
		return -EINVAL;
	pthread_mutex_lock(&mem->lock);
	for (size_t i = 0; i < mem->nb_segs; i++) {
		if (mem->table[i]->pub.va == va && mem->table[i]->pub.len == len) {
			forget(mem, i);
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&mem->lock);
	if (ret < 0)
		udk_log(UDK_LOG_ERR, "mem", "remove of external segment %p+0x%zx: no such segment",
			va, len);
	return ret;
}

/* udk_mem_destroy() of an external object, with the memory's lock held: the
 * segments go (FREE is sent for each), the memory stays the provider's. */
void ext_destroy_segs(struct udk_mem *mem)
{
	while (mem->nb_segs > 0)
		forget(mem, mem->nb_segs - 1);
}
