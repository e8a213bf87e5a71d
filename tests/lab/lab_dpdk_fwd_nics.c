/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_dpdk_fwd_nics: a DPDK port inside udk-fwd.  DPDK's own e1000e PMD
 * (net_e1000_em, through DPDK's VFIO container) drives the lab's e1000e as a
 * udk port (--vdev dpdk0,dev=BDF), while udk's virtio driver drives the
 * virtio-net; QEMU's hub joins the two.  Each port generates numbered frames
 * and verifies every frame the other sends (txonly --verify), so DPDK's
 * driver checks udk's and udk's checks DPDK's.  The frames stay in udk's
 * memory (mapped into DPDK's container at udk's IOVAs): no copy is counted.
 * Then the bad case: a PCI device DPDK was not given.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labjson.h"
#include "labutil.h"

static char out[1 << 16];

static int run(const char *cmd)
{
	return lab_run_output(cmd, out, sizeof(out));
}

static unsigned long long num(const char *port, const char *key)
{
	return lab_json_u64(port, key);
}

int main(void)
{
	char cmd[1024], line[256] = "";
	const char *virtio, *e1000e;
	uint64_t mark;

	lab_require_guest();
	virtio = lab_env_require("UDK_LAB_VIRTIO");
	e1000e = lab_env_require("UDK_LAB_E1000E");
	if (lab_hugepages_free() < 64)
		lab_skip("needs 64 free 2 MiB hugepages, %ld free", lab_hugepages_free());
	REQUIRE(lab_bind_vfio(virtio) == 0);
	REQUIRE(lab_bind_vfio(e1000e) == 0);
	mark = lab_kmsg_mark();

	snprintf(cmd, sizeof(cmd), "udk-fwd -l 0,1 -a %s --vdev dpdk0,dev=%s -- --dpdk-args "
		 "'-a %s --in-memory --iova-mode=va -l 0 --no-telemetry "
		 "--log-level=lib.eal:warning' --mode txonly --verify --duration 4 --interval 1 "
		 "--json", virtio, e1000e, e1000e);
	CHECK_MSG(run(cmd) == 0, "udk-fwd exit status");
	CHECK_MSG(lab_json_valid(out), "one JSON object");
	for (int i = 0; i < 2; i++) {
		const char *p = lab_json_index(lab_json_member(out, "ports"), i);
		const char *who = i == 0 ? "udk's virtio" : "DPDK's e1000e";

		REQUIRE(p != NULL);
		printf("port %d (%s): tx %llu, verified %llu, invalid %llu, lost %llu, copies %llu\n",
		       i, who, num(p, "tx"), num(p, "valid"), num(p, "invalid"), num(p, "lost"),
		       num(p, "port_copies"));
		CHECK_MSG(num(p, "tx") > 500, "%s sent frames", who);
		CHECK_MSG(num(p, "valid") > 500, "%s verified frames from the other driver", who);
		CHECK_MSG(num(p, "invalid") == 0, "no corrupted frame on %s", who);
		/* QEMU's hub may drop under load (LAB.md); a small loss is the hub's. */
		CHECK_MSG(num(p, "lost") * 100 <= num(p, "valid"), "under 1%% lost on %s", who);
		CHECK_MSG(num(p, "port_copies") == 0, "%s copied nothing", who);
	}
	CHECK_MSG(lab_kmsg_find(mark, "DMAR: \\[DMA (Read|Write)", 200, line, sizeof(line)) == 0,
		  "no IOMMU fault: %s", line);

	/* Bad input: DPDK was not given the device (no -a, PCI bus off). */
	snprintf(cmd, sizeof(cmd), "udk-fwd --vdev dpdk0,dev=%s -- --dpdk-args '--no-pci "
		 "--in-memory -l 0 --no-telemetry' --duration 1 2>&1", e1000e);
	CHECK_MSG(run(cmd) != 0 && strstr(out, "give it to DPDK in its EAL arguments") != NULL,
		  "a device DPDK was not given is refused with the remedy");

	lab_bind(virtio, NULL);
	lab_bind(e1000e, NULL);
	return lab_result();
}
