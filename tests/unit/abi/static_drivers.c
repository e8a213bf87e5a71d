/* SPDX-License-Identifier: BSD-3-Clause */
/* Linked with libudk.a as a plain archive (no --whole-archive): the
 * built-in drivers must still register.  Opens net_ring0 from --vdev;
 * exit 0 when the port exists, 1 otherwise (check_static_drivers.py also
 * compares the drivers linked in with those libudk.a holds). */
#include <stdio.h>

#include "udk_eal.h"
#include "udk_ethdev.h"

int main(void)
{
	char *argv[] = {"static_drivers", "--no-huge", "-m", "16", "-l", "0", "--vdev", "net_ring0",
			NULL};
	int ret = udk_eal_init(8, argv);

	if (ret < 0) {
		fprintf(stderr, "static_drivers: udk_eal_init: %s\n", udk_last_error());
		return 1;
	}
	ret = udk_eth_probe_eal();
	if (ret < 1) {
		fprintf(stderr, "static_drivers: udk_eth_probe_eal: %d: %s\n", ret, udk_last_error());
		udk_eal_cleanup();
		return 1;
	}
	printf("static_drivers: %u port(s)\n", udk_eth_dev_count());
	udk_eal_cleanup();
	return 0;
}
