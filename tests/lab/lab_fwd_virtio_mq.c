/* SPDX-License-Identifier: BSD-3-Clause */
/* lab_fwd_virtio_mq: udk-fwd with one lcore per queue pair (--queues 2 on
 * -l 0-1, the main lcore forwarding queue 0 and printing the statistics) on
 * the lab's multi-queue virtio-net vnetmq0 (split rings, RSS), whose tap the
 * host loops back to it (lab.py, mq_taps).  The port, paired with itself,
 * sends txonly frames of 256 IPv4/UDP flows (--flows) from both transmit
 * queues; the device's RSS spreads them over both receive queues.  Each
 * lcore verifies every frame its queue receives: both queues must carry
 * frames, every one whole (valid == rx, invalid 0), and the port's figures
 * must be the sums of its queues'.  Runs udk-fwd as a user would, from PATH. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labjson.h"
#include "labrun.h"
#include "labutil.h"

#define JSON_FILE "/tmp/lab_fwd_virtio_mq.json"

static char out[1 << 16], err[1 << 16];

int main(void)
{
	char bdf[LAB_BDF_LEN], drv[64];
	const char *port, *queues;
	unsigned long long rx = 0, tx = 0, qrx[2], qvalid[2], qinvalid[2], qtx[2];
	int rc;

	lab_require_guest();
	if (lab_env("UDK_LAB_MAC_VNETMQ0") == NULL)
		lab_skip("the lab has no multi-queue virtio-net: lab.py could not make its taps "
			 "(it says why on the host; it needs CAP_NET_ADMIN)");
	/* vnet0 is the first 1af4:1041, vnetmq0 the second (lab.py slot 0x18). */
	REQUIRE(lab_find_device(0x1af4, 0x1041, 1, bdf) == 0);
	lab_device_driver(bdf, drv, sizeof(drv));
	REQUIRE(lab_bind_vfio(bdf) == 0);

	/* lab_run() keeps stdout and stderr together: the summary goes to a file. */
	rc = lab_run(err, sizeof(err), "(udk-fwd -l 0-1 -a %s -- --mode txonly --verify "
		     "--queues 2 --flows 256 --burst-gap 1 --duration 4 --interval 1 --json >"
		     JSON_FILE ")", bdf);
	lab_run(out, sizeof(out), "cat " JSON_FILE);
	CHECK_MSG(rc == 0, "udk-fwd --queues 2 exit status %d", rc);
	CHECK_MSG(strstr(err, "2 queue pairs each, 2 forwarding lcores") != NULL,
		  "udk-fwd says it runs 2 lcores on 2 queue pairs");
	REQUIRE(lab_json_valid(out));
	port = lab_json_index(lab_json_member(out, "ports"), 0);
	REQUIRE(port != NULL);
	queues = lab_json_member(port, "queues");
	REQUIRE(lab_json_length(queues) == 2);
	for (int q = 0; q < 2; q++) {
		const char *j = lab_json_index(queues, q);

		qrx[q] = lab_json_u64(j, "rx");
		qtx[q] = lab_json_u64(j, "tx");
		qvalid[q] = lab_json_u64(j, "valid");
		qinvalid[q] = lab_json_u64(j, "invalid");
		printf("queue %d: tx %llu, rx %llu, verified %llu, invalid %llu\n", q, qtx[q],
		       qrx[q], qvalid[q], qinvalid[q]);
		CHECK_MSG(qtx[q] > 1000, "queue %d sent frames", q);
		/* RSS over 256 flows: each queue takes a good share. */
		CHECK_MSG(qrx[q] > 500, "queue %d received frames (RSS spread the flows)", q);
		CHECK_MSG(qvalid[q] == qrx[q] && qinvalid[q] == 0,
			  "queue %d: every frame verified whole (%llu of %llu, %llu invalid)", q,
			  qvalid[q], qrx[q], qinvalid[q]);
		rx += qrx[q];
		tx += qtx[q];
	}
	CHECK_MSG(lab_json_u64(port, "rx") == rx && lab_json_u64(port, "tx") == tx &&
		  lab_json_u64(port, "valid") == rx,
		  "the port's rx, tx and valid are the sums of its queues'");
	CHECK_MSG(qrx[0] * 4 >= rx && qrx[1] * 4 >= rx,
		  "each queue received at least a quarter (%llu and %llu of %llu)", qrx[0], qrx[1],
		  rx);
	/* The frames go through QEMU and the host's tap, which drop what they
	 * cannot take while the guest's two vCPUs spin under TCG on a loaded
	 * host (seen: a quarter to all of them arrive).  What arrives is at
	 * most what was sent, and none is lost for want of a buffer in udk. */
	printf("received %llu of %llu sent (%.0f%%)\n", rx, tx,
	       tx ? 100.0 * (double)rx / (double)tx : 0);
	CHECK_MSG(rx <= tx, "received %llu of %llu sent", rx, tx);
	CHECK_MSG(lab_json_u64(port, "port_imissed") == 0, "no frame missed for want of a buffer");

	/* Bad input: more queue pairs than the device has. */
	rc = lab_run(out, sizeof(out), "udk-fwd -l 0-1 -a %s -- --queues 8 --duration 1 2>&1",
		     bdf);
	CHECK_MSG(rc != 0 && strstr(out, "8 rx and 8 tx queues asked; the device has 1..4 rx") != NULL,
		  "--queues 8 on a 4-pair device is refused with the device's limit");

	CHECK(lab_bind(bdf, drv[0] ? drv : NULL) == 0);
	return lab_result();
}
