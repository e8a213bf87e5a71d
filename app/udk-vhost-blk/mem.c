/* SPDX-License-Identifier: BSD-3-Clause */
/* mem.c - the guest memory table of SET_MEM_TABLE: each region's fd mapped
 * shared, and the two translations the device needs (guest physical
 * addresses in descriptors, the front-end's virtual addresses for rings).
 * A range is good only when it lies inside one region.
 *
 * Zero copy: each region's guest memory (not the part of its mapping before
 * mmap_offset, which may be another region's: pinned once, not twice) is
 * registered with the bdev (udk_bdev_mem_register()), which for an NVMe
 * namespace maps it, widened to whole pages, into the IOMMU map of the
 * controller: the controller then reads and writes guest RAM itself.  The
 * IOMMU works in 4 KiB pages, so a region need not be 2 MiB aligned or sized
 * (QEMU's regions around the VGA and PCI holes are not); the map picks the
 * largest IOMMU page the length allows.  A new table is registered before the old one is
 * unregistered, and the old one only after the rings are quiet. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "udk_bdev.h"
#include "udk_util.h"
#include "vhost_blk.h"

#define COMPONENT "vhost-blk"

void vb_region_register(struct vb_region *r, struct udk_bdev *bdev, uint32_t i)
{
	int rc;

	if (bdev == NULL || r->registered)
		return;
	rc = udk_bdev_mem_register(bdev, r->host, r->size);
	if (rc == 0) {
		r->registered = true;
		return;
	}
	udk_log(UDK_LOG_WARN, COMPONENT, "guest memory region %u (%#llx bytes at guest %#llx): the "
		"bdev's device cannot reach it (%s); its I/O goes through bounce buffers", i,
		(unsigned long long)r->size, (unsigned long long)r->gpa, udk_strerror(rc));
}

void vb_region_unmap(struct vb_region *r, struct udk_bdev *bdev)
{
	if (r->registered) {
		int rc = udk_bdev_mem_unregister(bdev, r->host, r->size);
		if (rc != 0) /* still mapped for the device: keep the pages too */
			udk_log(UDK_LOG_ERR, COMPONENT, "guest memory at guest %#llx: unregister "
				"failed (%s); its mapping is kept", (unsigned long long)r->gpa,
				udk_strerror(rc));
		else
			munmap(r->map_base, r->map_len);
	} else if (r->map_base != NULL) {
		munmap(r->map_base, r->map_len);
	}
	memset(r, 0, sizeof(*r));
}

static void regions_clear(struct vb_region *r, uint32_t n, struct udk_bdev *bdev)
{
	for (uint32_t i = 0; i < n; i++)
		vb_region_unmap(&r[i], bdev);
}

void vb_mem_clear(struct vb_mem *m)
{
	struct udk_bdev *bdev = m->bdev;

	regions_clear(m->r, m->n, bdev);
	memset(m, 0, sizeof(*m));
	m->bdev = bdev;
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int vb_mem_set(struct vb_mem *m, const struct vu_memory *t, const int *fds)
{
	struct vb_mem nm;
	int rc;

	memset(&nm, 0, sizeof(nm));
	for (uint32_t i = 0; i < t->nregions; i++) {
		const struct vu_region *r = &t->regions[i];
		struct stat st;

		if (r->memory_size == 0 || r->guest_phys_addr + r->memory_size < r->guest_phys_addr ||
		    r->userspace_addr + r->memory_size < r->userspace_addr ||
		    r->mmap_offset + r->memory_size < r->mmap_offset) {
			udk_log(UDK_LOG_ERR, COMPONENT,
				"SET_MEM_TABLE: region %u is empty or wraps around", i);
			rc = -EINVAL;
			goto err;
		}
		for (uint32_t j = 0; j < i; j++) {
			if (overlap(r->guest_phys_addr, r->memory_size, nm.r[j].gpa, nm.r[j].size)) {
				udk_log(UDK_LOG_ERR, COMPONENT,
					"SET_MEM_TABLE: regions %u and %u overlap in guest memory", j, i);
				rc = -EINVAL;
				goto err;
			}
		}
		/* A mapping past the end of the fd would fault (SIGBUS) on the
		 * first access: refuse it here. */
		if (fstat(fds[i], &st) < 0 || (uint64_t)st.st_size < r->mmap_offset + r->memory_size) {
			udk_log(UDK_LOG_ERR, COMPONENT,
				"SET_MEM_TABLE: region %u (offset %#llx, %#llx bytes) goes past the end of "
				"its fd: give the guest shared file memory (memory-backend-memfd,share=on)", i,
				(unsigned long long)r->mmap_offset, (unsigned long long)r->memory_size);
			rc = -EINVAL;
			goto err;
		}
		size_t len = r->mmap_offset + r->memory_size;
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);
		if (p == MAP_FAILED) {
			rc = -errno;
			udk_log(UDK_LOG_ERR, COMPONENT, "SET_MEM_TABLE: mmap of region %u (%zu bytes): %s",
				i, len, strerror(-rc));
			goto err;
		}
		nm.r[i] = (struct vb_region){
			.gpa = r->guest_phys_addr, .size = r->memory_size, .uva = r->userspace_addr,
			.host = (uint8_t *)p + r->mmap_offset, .map_base = p, .map_len = len,
		};
		nm.n = i + 1;
	}
	for (uint32_t i = 0; i < nm.n; i++) {
		vb_region_register(&nm.r[i], m->bdev, i);
		nm.unregistered += m->bdev != NULL && !nm.r[i].registered;
	}
	nm.bdev = m->bdev;
	vb_mem_clear(m);
	*m = nm;
	return 0;
err:
	regions_clear(nm.r, nm.n, NULL);
	return rc;
}

static void *lookup(const struct vb_mem *m, uint64_t a, uint64_t len, bool uva)
{
	if (len == 0)
		return NULL;
	for (uint32_t i = 0; i < m->n; i++) {
		const struct vb_region *r = &m->r[i];
		uint64_t base = uva ? r->uva : r->gpa;

		if (a >= base && a - base < r->size && len <= r->size - (a - base))
			return r->host + (a - base);
	}
	return NULL;
}

void *vb_mem_gpa(const struct vb_mem *m, uint64_t gpa, uint64_t len)
{
	return lookup(m, gpa, len, false);
}

void *vb_mem_uva(const struct vb_mem *m, uint64_t uva, uint64_t len)
{
	return lookup(m, uva, len, true);
}
