/* SPDX-License-Identifier: BSD-3-Clause */
/* virtio_dev.c - what every transport shares: the device initialisation
 * sequence up to FEATURES_OK (virtio 1.1 §3.1.1) and feature names for
 * messages. */
#include <errno.h>
#include <stdio.h>

#include "virtio_dev.h"

#define LOG "virtio"

const char *virtio_feature_name(unsigned int f)
{
	switch (f) {
	case 0: return "VIRTIO_NET_F_CSUM";
	case 1: return "VIRTIO_NET_F_GUEST_CSUM";
	case 3: return "VIRTIO_NET_F_MTU";
	case 5: return "VIRTIO_NET_F_MAC";
	case 15: return "VIRTIO_NET_F_MRG_RXBUF";
	case 16: return "VIRTIO_NET_F_STATUS";
	case 17: return "VIRTIO_NET_F_CTRL_VQ";
	case 22: return "VIRTIO_NET_F_MQ";
	case 57: return "VIRTIO_NET_F_HASH_REPORT";
	case 60: return "VIRTIO_NET_F_RSS";
	case 28: return "VIRTIO_F_INDIRECT_DESC";
	case 29: return "VIRTIO_F_EVENT_IDX";
	case VIRTIO_F_VERSION_1: return "VIRTIO_F_VERSION_1";
	case VIRTIO_F_ACCESS_PLATFORM: return "VIRTIO_F_ACCESS_PLATFORM";
	case 34: return "VIRTIO_F_RING_PACKED";
	default: return "(unnamed feature)";
	}
}

/* Why each required feature matters, for the refusal message. */
static const char *why_required(unsigned int f)
{
	switch (f) {
	case VIRTIO_F_VERSION_1:
		return "udk drives only modern (virtio 1.x) devices; a legacy or transitional "
		       "device without it is not supported";
	case VIRTIO_F_ACCESS_PLATFORM:
		return "without it the device ignores the IOMMU and would use udk's IOVAs as "
		       "physical addresses (QEMU: -device virtio-net-pci,iommu_platform=on)";
	default:
		return "the transport needs it";
	}
}

int virtio_dev_negotiate(struct virtio_dev *vd, uint64_t wanted)
{
	const struct virtio_transport_ops *ops = vd->ops;
	uint64_t missing;
	int rc;

	/* Steps 1-3: reset, then say we noticed the device and can drive it. */
	rc = ops->reset(vd);
	if (rc < 0)
		return rc;
	ops->set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE);
	ops->set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	/* Step 4: read the device's features, write the subset we understand. */
	vd->device_features = ops->get_features(vd);
	missing = vd->required_features & ~vd->device_features;
	if (missing != 0) {
		unsigned int f = (unsigned int)__builtin_ctzll(missing);

		udk_log(UDK_LOG_ERR, LOG, "%s: the device does not offer %s (features 0x%llx): %s; "
			"refused", vd->name, virtio_feature_name(f),
			(unsigned long long)vd->device_features, why_required(f));
		ops->set_status(vd, ops->get_status(vd) | VIRTIO_STATUS_FAILED);
		return -ENOTSUP;
	}
	vd->features = vd->device_features & (wanted | vd->required_features);
	ops->set_features(vd, vd->features);
	/* Steps 5-6: FEATURES_OK, then read it back: a device that does not
	 * support this subset leaves the bit clear. */
	ops->set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			    VIRTIO_STATUS_FEATURES_OK);
	if (!(ops->get_status(vd) & VIRTIO_STATUS_FEATURES_OK)) {
		udk_log(UDK_LOG_ERR, LOG, "%s: the device did not accept features 0x%llx "
			"(FEATURES_OK stayed clear, virtio 1.1 §3.1.1 step 6)", vd->name,
			(unsigned long long)vd->features);
		ops->set_status(vd, ops->get_status(vd) | VIRTIO_STATUS_FAILED);
		return -ENOTSUP;
	}
	return 0;
}
