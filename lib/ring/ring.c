/* SPDX-License-Identifier: BSD-3-Clause */
/* ring.c - creating and freeing rings; the enqueue and dequeue paths are
 * inline in udk_ring.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "udk_ring.h"
#include "udk_util.h"

int udk_ring_create(const char *name, unsigned int count, unsigned int flags,
		    struct udk_ring **out)
{
	struct udk_ring *r;
	uint32_t size = 1;
	size_t bytes;

	if (count == 0 || count > UDK_RING_MAX_COUNT) {
		udk_log(UDK_LOG_ERR, "ring", "create %s: count %u is out of range (1..%u)",
			name ? name : "(unnamed)", count, UDK_RING_MAX_COUNT);
		return -EINVAL;
	}
	if (flags & ~(unsigned int)(UDK_RING_SP | UDK_RING_SC)) {
		udk_log(UDK_LOG_ERR, "ring", "create %s: unknown flags 0x%x",
			name ? name : "(unnamed)", flags);
		return -EINVAL;
	}
	while (size < count)
		size <<= 1;
	bytes = sizeof(*r) + (size_t)size * sizeof(void *);
	r = aligned_alloc(UDK_CACHE_LINE, UDK_ALIGN_UP(bytes, (size_t)UDK_CACHE_LINE));
	if (r == NULL)
		return -ENOMEM;
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name ? name : "ring");
	r->size = size;
	r->mask = size - 1;
	r->capacity = count;
	r->prod.single = (flags & UDK_RING_SP) != 0;
	r->cons.single = (flags & UDK_RING_SC) != 0;
	*out = r;
	return 0;
}

void udk_ring_free(struct udk_ring *r)
{
	free(r);
}
