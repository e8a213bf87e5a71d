/* SPDX-License-Identifier: BSD-3-Clause */
/* lab_fwd_nics: udk-fwd with both lab NICs driven by udk's own drivers
 * (net_virtio and net_e1000e, joined by QEMU hub 0): each port generates
 * numbered frames and verifies every frame the other sends, both directions
 * at once (txonly --verify), then io forwarding between the two ports runs
 * without a crash or leak.  Runs udk-fwd as a user would, from PATH. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labjson.h"
#include "labutil.h"

static char out[1 << 16];

static int run(const char *cmd)
{
	FILE *f;
	size_t n;

	printf("$ %s\n", cmd);
	fflush(stdout);
	f = popen(cmd, "r");
	if (f == NULL)
		return -1;
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	printf("%s", out);
	return pclose(f);
}

static unsigned long long num(const char *port, const char *key)
{
	char buf[32];

	if (lab_json_text(lab_json_member(port, key), buf, sizeof(buf)) != 0)
		return ~0ULL;
	return strtoull(buf, NULL, 10);
}

int main(void)
{
	char cmd[512];
	const char *virtio, *e1000e;

	lab_require_guest();
	virtio = lab_env_require("UDK_LAB_VIRTIO");
	e1000e = lab_env_require("UDK_LAB_E1000E");
	REQUIRE(lab_bind_vfio(virtio) == 0);
	REQUIRE(lab_bind_vfio(e1000e) == 0);

	snprintf(cmd, sizeof(cmd), "udk-fwd -l 0,1 -a %s -a %s -- --mode txonly --verify "
		 "--duration 3 --interval 1 --json", virtio, e1000e);
	CHECK_MSG(run(cmd) == 0, "udk-fwd txonly exit status");
	CHECK_MSG(lab_json_valid(out), "one JSON object");
	for (int i = 0; i < 2; i++) {
		const char *p = lab_json_index(lab_json_member(out, "ports"), i);
		REQUIRE(p != NULL);
		printf("port %d: tx %llu, verified %llu, invalid %llu, lost %llu\n", i,
		       num(p, "tx"), num(p, "valid"), num(p, "invalid"), num(p, "lost"));
		CHECK_MSG(num(p, "tx") > 1000, "port %d sent frames", i);
		CHECK_MSG(num(p, "valid") > 1000, "port %d verified frames from the other driver", i);
		CHECK_MSG(num(p, "invalid") == 0, "no corrupted frame on port %d", i);
		/* QEMU's hub may drop under load (LAB.md); a small loss is the hub's. */
		CHECK_MSG(num(p, "lost") * 100 <= num(p, "valid"), "under 1%% lost on port %d", i);
	}

	/* io forwarding between the two: no generator, so nothing but the
	 * kernel-less silence should move; the point is a clean start and stop. */
	snprintf(cmd, sizeof(cmd), "udk-fwd -a %s -a %s -- --mode io --duration 1 --interval 0 "
		 "--json", virtio, e1000e);
	CHECK_MSG(run(cmd) == 0, "udk-fwd io exit status");
	CHECK_MSG(lab_json_is(out, "mode", "io"), "io summary");

	/* Bad input: a port the EAL did not give. */
	snprintf(cmd, sizeof(cmd), "udk-fwd -a %s -- --ports 0,3 2>&1", virtio);
	CHECK_MSG(run(cmd) != 0 && strstr(out, "port 3 does not exist") != NULL,
	      "an unknown port is refused by name");

	lab_bind(virtio, NULL);
	lab_bind(e1000e, NULL);
	return lab_result();
}
