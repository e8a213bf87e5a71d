/* SPDX-License-Identifier: BSD-3-Clause */
/* backend.c - which backend a map gets, and the backends' names.  AUTO takes
 * iommufd when it is compiled in and the kernel offers it (/dev/iommu, device
 * cdevs; iommufd.c tells), VFIO type1 otherwise; asking for iommufd by name
 * fails with the reason when it cannot be had. */
#include <errno.h>
#include <stdio.h>

#include "dma_internal.h"
#include "udk_util.h"

const char *udk_dmamap_backend_name(enum udk_dmamap_backend b)
{
	switch (b) {
	case UDK_DMAMAP_AUTO:
		return "auto";
	case UDK_DMAMAP_VFIO_TYPE1:
		return "vfio-type1";
	case UDK_DMAMAP_IOMMUFD:
		return "iommufd";
	case UDK_DMAMAP_BROKERED:
		return "brokered";
	}
	return "unknown";
}

#ifdef UDK_HAVE_IOMMUFD
#define IOMMUFD_OPS (&udk_dmamap_iommufd_ops)
#else
#define IOMMUFD_OPS NULL /* never picked: udk_iommufd_state() says not built */

enum udk_iommufd_state udk_iommufd_state(char *why, size_t len)
{
	snprintf(why, len, "this udk was built without the iommufd backend (no <linux/iommufd.h> "
		 "at build time)");
	return UDK_IOMMUFD_NOT_BUILT;
}

int udk_iommufd_dev_usable(const char *bdf, char *why, size_t len)
{
	(void)bdf;
	udk_iommufd_state(why, len);
	return -ENOTSUP;
}

int udk_device_iommufd_ids(const struct udk_device *dev, uint32_t *devid, uint32_t *hwpt_id)
{
	(void)dev;
	(void)devid;
	(void)hwpt_id;
	return -ENOTSUP;
}
#endif

const struct udk_dmamap_ops *udk_dma_backend_auto(void)
{
	char why[160];

	return udk_iommufd_state(why, sizeof(why)) == UDK_IOMMUFD_USABLE ? IOMMUFD_OPS
									  : &udk_dmamap_type1_ops;
}

int udk_dma_backend_pick(enum udk_dmamap_backend requested, const char *mapname,
			 const struct udk_dmamap_ops **ops)
{
	char why[160];
	enum udk_iommufd_state st;

	switch (requested) {
	case UDK_DMAMAP_VFIO_TYPE1:
		*ops = &udk_dmamap_type1_ops;
		return 0;
	case UDK_DMAMAP_BROKERED:
		*ops = &udk_dmamap_broker_ops;
		return 0;
	case UDK_DMAMAP_AUTO:
		st = udk_iommufd_state(why, sizeof(why));
		*ops = st == UDK_IOMMUFD_USABLE ? IOMMUFD_OPS : &udk_dmamap_type1_ops;
		udk_log(UDK_LOG_DEBUG, UDK_DMA_LOG, "map create %s: backend %s (%s)", mapname,
			udk_dmamap_backend_name((*ops)->backend), why);
		return 0;
	case UDK_DMAMAP_IOMMUFD:
		st = udk_iommufd_state(why, sizeof(why));
		if (st == UDK_IOMMUFD_NOT_BUILT) {
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"map create %s: the iommufd backend is not built in this udk (no "
				"<linux/iommufd.h> at build time: install linux-source-6.12 and "
				"reconfigure); use --iommu-backend type1 (or auto)", mapname);
			return -ENOTSUP;
		}
		if (st == UDK_IOMMUFD_NO_DEV) {
			udk_log(UDK_LOG_ERR, UDK_DMA_LOG,
				"map create %s: iommufd asked for, but /dev/iommu is missing: this "
				"kernel lacks CONFIG_IOMMUFD (devices also need "
				"CONFIG_VFIO_DEVICE_CDEV); use --iommu-backend type1 (or auto)",
				mapname);
			return -UDK_ENOIOMMUFD;
		}
		/* Without cdevs the map still works; each attach says why it fails. */
		*ops = IOMMUFD_OPS;
		return 0;
	}
	udk_log(UDK_LOG_ERR, UDK_DMA_LOG, "map create %s: no such backend %d", mapname,
		(int)requested);
	return -EINVAL;
}

int udk_dmamap_auto_backend(const char *bdf, enum udk_dmamap_backend *out, char *why,
			    size_t len)
{
	bool usable = udk_iommufd_state(why, len) == UDK_IOMMUFD_USABLE;

	*out = usable ? UDK_DMAMAP_IOMMUFD : UDK_DMAMAP_VFIO_TYPE1;
	if (!usable || bdf == NULL)
		return 0;
	return udk_iommufd_dev_usable(bdf, why, len);
}
