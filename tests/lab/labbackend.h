/* SPDX-License-Identifier: BSD-3-Clause */
/* labbackend.h - the VFIO backend a lab test's map must be on: VFIO type1 in
 * the Debian guest, iommufd in the iommufd guest (lab.py --guest; lab.env
 * UDK_LAB_IOMMU_BACKEND).  A test that takes what AUTO gives calls this, so
 * that it cannot pass in the iommufd guest by falling back to type1.  Header
 * only, for the map-object tests and the driver tests alike. */
#ifndef UDK_LABBACKEND_H
#define UDK_LABBACKEND_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "labutil.h"
#include "udk_dma.h"

/* lab.env spells the backend as --iommu-backend does ("type1", "iommufd"):
 * the end of lib/dma's name for it ("vfio-type1", "iommufd"). */
static inline bool lab_backend_is(enum udk_dmamap_backend b, const char *want)
{
	const char *name = udk_dmamap_backend_name(b);
	size_t n = strlen(name), w = strlen(want);

	return n >= w && strcmp(name + n - w, want) == 0;
}

/* Prints map's backend; false, saying why, if it is not the guest's. */
static inline bool lab_backend_ok(struct udk_dmamap *map)
{
	const char *want = lab_env("UDK_LAB_IOMMU_BACKEND");
	struct udk_dmamap_info info;

	if (map == NULL || udk_dmamap_info(map, &info) != 0) {
		fprintf(stderr, "lab_backend_ok: no map to check\n");
		return false;
	}
	printf("map %s is on %s (this guest's backend: %s)\n", udk_dmamap_name(map),
	       udk_dmamap_backend_name(info.backend), want ? want : "not set");
	if (want != NULL && !lab_backend_is(info.backend, want)) {
		fprintf(stderr, "map %s is on %s, but this lab guest must give %s "
			"(lab.env UDK_LAB_IOMMU_BACKEND)\n", udk_dmamap_name(map),
			udk_dmamap_backend_name(info.backend), want);
		return false;
	}
	return true;
}

#endif
