/* SPDX-License-Identifier: BSD-3-Clause */
/* mem.c - the guest memory table of SET_MEM_TABLE (or of ADD_MEM_REG and
 * REM_MEM_REG, one region at a time): each region's fd mapped
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

/* Check region r (what the front-end sent, with its fd) against the
 * regions in m and map it into *out.  0, or a negative code after one log
 * line naming step (the request) and the region's number i. */
static int map_region(const struct vb_mem *m, const struct vu_region *r, int fd, const char *step,
		      uint32_t i, struct vb_region *out)
{
	struct stat st;
	int rc;

	if (r->memory_size == 0 || r->guest_phys_addr + r->memory_size < r->guest_phys_addr ||
	    r->userspace_addr + r->memory_size < r->userspace_addr ||
	    r->mmap_offset + r->memory_size < r->mmap_offset) {
		udk_log(UDK_LOG_ERR, COMPONENT, "%s: region %u is empty or wraps around", step, i);
		return -EINVAL;
	}
	for (uint32_t j = 0; j < m->n; j++) {
		if (overlap(r->guest_phys_addr, r->memory_size, m->r[j].gpa, m->r[j].size)) {
			udk_log(UDK_LOG_ERR, COMPONENT, "%s: regions %u and %u overlap in guest memory",
				step, j, i);
			return -EINVAL;
		}
	}
	/* A mapping past the end of the fd would fault (SIGBUS) on the
	 * first access: refuse it here. */
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < r->mmap_offset + r->memory_size) {
		udk_log(UDK_LOG_ERR, COMPONENT,
			"%s: region %u (offset %#llx, %#llx bytes) goes past the end of its fd: give the "
			"guest shared file memory (memory-backend-memfd,share=on)", step, i,
			(unsigned long long)r->mmap_offset, (unsigned long long)r->memory_size);
		return -EINVAL;
	}
	size_t len = r->mmap_offset + r->memory_size;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		rc = -errno;
		udk_log(UDK_LOG_ERR, COMPONENT, "%s: mmap of region %u (%zu bytes): %s", step, i, len,
			strerror(-rc));
		return rc;
	}
	*out = (struct vb_region){
		.gpa = r->guest_phys_addr, .size = r->memory_size, .uva = r->userspace_addr,
		.host = (uint8_t *)p + r->mmap_offset, .map_base = p, .map_len = len,
	};
	return 0;
}

int vb_mem_set(struct vb_mem *m, const struct vu_memory *t, const int *fds)
{
	struct vb_mem nm;
	int rc;

	memset(&nm, 0, sizeof(nm));
	for (uint32_t i = 0; i < t->nregions; i++) {
		rc = map_region(&nm, &t->regions[i], fds[i], "SET_MEM_TABLE", i, &nm.r[i]);
		if (rc < 0)
			goto err;
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

int vb_mem_add(struct vb_mem *m, const struct vu_region *r, int fd)
{
	int rc;

	if (m->n == VB_MAX_MEM_SLOTS) {
		udk_log(UDK_LOG_ERR, COMPONENT, "ADD_MEM_REG: all %u memory slots are in use "
			"(GET_MAX_MEM_SLOTS said so)", VB_MAX_MEM_SLOTS);
		return -ENOSPC;
	}
	rc = map_region(m, r, fd, "ADD_MEM_REG", m->n, &m->r[m->n]);
	if (rc < 0)
		return rc;
	/* As for a whole table: the bdev's device reaches the region itself
	 * (zero copy) or its I/O is bounced. */
	vb_region_register(&m->r[m->n], m->bdev, m->n);
	m->unregistered += m->bdev != NULL && !m->r[m->n].registered;
	m->n++;
	return 0;
}

int vb_mem_remove(struct vb_mem *m, const struct vu_region *r)
{
	for (uint32_t i = 0; i < m->n; i++) {
		struct vb_region *x = &m->r[i];
		if (x->gpa != r->guest_phys_addr || x->size != r->memory_size ||
		    x->uva != r->userspace_addr)
			continue;
		m->unregistered -= m->bdev != NULL && !x->registered;
		vb_region_unmap(x, m->bdev); /* out of the device's map first */
		memmove(x, x + 1, (m->n - i - 1) * sizeof(*x));
		m->n--;
		memset(&m->r[m->n], 0, sizeof(m->r[m->n]));
		return 0;
	}
	udk_log(UDK_LOG_ERR, COMPONENT, "REM_MEM_REG: no region at guest %#llx of %#llx bytes "
		"(front-end address %#llx): only a region added can be removed, whole",
		(unsigned long long)r->guest_phys_addr, (unsigned long long)r->memory_size,
		(unsigned long long)r->userspace_addr);
	return -ENOENT;
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
