/* SPDX-License-Identifier: BSD-3-Clause */
/* labnvme.h - the prologue the NVMe lab tests share: the lab NVMe
 * (UDK_LAB_NVME) taken from its kernel driver (whose name goes to drv, so the
 * test can give it back), bound to vfio-pci, and the EAL started on it alone
 * with -m MB.  Header-only, because labutil stays free of libudk. */
#ifndef UDK_LABNVME_H
#define UDK_LABNVME_H

#include <stddef.h>
#include <stdio.h>

#include "labutil.h"
#include "udk_eal.h"

/* Returns the NVMe's address; a failed step ends the test (REQUIRE). */
static inline const char *lab_nvme_eal_init(const char *mb, char *drv, size_t drv_len)
{
	const char *bdf;

	setvbuf(stdout, NULL, _IONBF, 0);
	lab_require_guest();
	bdf = lab_env_require("UDK_LAB_NVME");
	lab_device_driver(bdf, drv, drv_len);
	REQUIRE(lab_bind_vfio(bdf) == 0);
	char *argv[] = {"lab", "-m", (char *)mb, "-a", (char *)bdf, NULL};
	REQUIRE(udk_eal_init(5, argv) == 5);
	return bdf;
}

#endif
