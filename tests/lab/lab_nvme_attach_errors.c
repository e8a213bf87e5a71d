/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_nvme_attach_errors: an attach of the NVMe controller that fails leaves
 * the device as it found it, bus mastering off included.  The default heap is
 * filled to its limit (-m), then given back a page at a time, with an attach
 * tried after each page: the attempts fail at each allocation of the attach
 * in turn, the last of which (the event log page, in bring-up) comes after
 * bus mastering was turned on.  After every failed attempt the PCI command
 * register's Bus Master Enable bit must be clear; the run must have met the
 * failure after bus mastering, and must end with an attach that works.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labnvme.h"
#include "labutil.h"
#include "udk_eal.h"
#include "udk_nvme.h"
#include "udk_pci.h"
#include "udk_util.h"

#define PCI_COMMAND 0x04
#define PCI_COMMAND_MASTER 0x4
#define MAX_BLOCKS 4096

static uint16_t command(struct udk_pci_dev *p)
{
	uint16_t cmd = 0xffff;

	REQUIRE(udk_pci_cfg_read(p, PCI_COMMAND, &cmd, sizeof(cmd)) == 0);
	return cmd;
}

int main(void)
{
	static void *blk[MAX_BLOCKS];
	struct udk_nvme_ctrlr *c = NULL;
	struct udk_pci_dev *pdev;
	int n = 0, tries = 0, late = 0, rc = -1;
	char drv[64] = "";
	const char *bdf;

	bdf = lab_nvme_eal_init("4", drv, sizeof(drv));
	pdev = udk_eal_device(0);
	REQUIRE(pdev != NULL);

	while (n < MAX_BLOCKS && (blk[n] = udk_mem_default_zmalloc(4096, 4096,
								   UDK_SOCKET_ANY)) != NULL)
		n++;
	printf("the default heap holds %d more pages before its -m limit\n", n);
	REQUIRE(n > 0 && n < MAX_BLOCKS);

	while (n > 0) {
		udk_mem_default_free(blk[--n]);
		REQUIRE(udk_pci_bus_master(pdev, false) == 0);
		udk_last_error_clear();
		tries++;
		rc = udk_nvme_ctrlr_attach(pdev, NULL, &c);
		if (rc == 0)
			break;
		if (strstr(udk_last_error(), "event log page") != NULL) {
			late++;
			printf("attempt %d (%d pages free): failed after bus mastering was on: %s\n",
			       tries, tries, udk_last_error());
		}
		CHECK_MSG(!(command(pdev) & PCI_COMMAND_MASTER),
			  "attempt %d (%s): bus mastering left on after a failed attach", tries,
			  udk_last_error());
	}
	printf("%d attempts; %d failed after bus mastering was turned on; the last %s\n", tries,
	       late, rc == 0 ? "attached" : "failed too");
	CHECK_MSG(late > 0, "no attempt failed after bus mastering was turned on (the event "
		  "log page was never the allocation that failed)");
	CHECK(rc == 0);
	if (rc == 0) {
		CHECK(command(pdev) & PCI_COMMAND_MASTER);
		udk_nvme_ctrlr_detach(c);
	}
	while (n > 0)
		udk_mem_default_free(blk[--n]);
	udk_eal_cleanup();
	lab_bind(bdf, drv);
	return lab_result();
}
