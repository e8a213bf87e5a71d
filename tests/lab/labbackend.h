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

static inline const char *lab_backend_name(enum udk_dmamap_backend b)
{
	return b == UDK_DMAMAP_IOMMUFD ? "iommufd" : b == UDK_DMAMAP_VFIO_TYPE1 ? "type1" : "auto";
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
	       lab_backend_name(info.backend), want ? want : "not set");
	if (want != NULL && strcmp(want, lab_backend_name(info.backend)) != 0) {
		fprintf(stderr, "map %s is on %s, but this lab guest must give %s "
			"(lab.env UDK_LAB_IOMMU_BACKEND)\n", udk_dmamap_name(map),
			lab_backend_name(info.backend), want);
		return false;
	}
	return true;
}

#endif
