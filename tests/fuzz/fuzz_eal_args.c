/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_eal_args: libFuzzer target for the EAL command line (udk_eal_parse()
 * in lib/eal/args.c) and the --vdev arguments of the vhost-user port
 * (virtio_user_parse_args() in drivers/net/virtio/virtio_user.c): what a
 * user, a script or a unit file passes to every udk program.  The input is
 * argv[1..], NUL-separated.  Beyond not crashing (ASan, UBSan), a refusal
 * must be -UDK_EARGS with a logged line (two for a bad -a: lib/pci's and
 * the EAL's), nothing logged otherwise, and what is accepted must be in
 * range: counts within their arrays, --vdev strings pointing into argv,
 * sockets that fit sun_path, queue sizes a split virtqueue can have. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "udk_eal.h"
#include "udk_util.h"
#include "virtio_dev.h"

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	unsetenv("UDK_LOG_LEVEL");
	fuzz_log_quiet();
	return 0;
}

static void check_vdev(const char *spec)
{
	const char *comma = strchr(spec, ',');
	char name[64];
	size_t len = comma ? (size_t)(comma - spec) : strlen(spec);
	struct vu_args a;
	int rc;

	/* udk_eth_probe_vdev()'s split: NAME, then the driver's ARGS. */
	if (len == 0 || len >= sizeof(name))
		return;
	memcpy(name, spec, len);
	name[len] = '\0';
	fuzz_nb_logged = 0;
	rc = virtio_user_parse_args(name, comma ? comma + 1 : "", &a);
	if (rc < 0) {
		if ((rc != -EINVAL && rc != -ENAMETOOLONG && rc != -ENOTSUP) || fuzz_nb_logged != 1)
			abort();
		return;
	}
	if (rc != 0 || fuzz_nb_logged != 0 || a.path[0] == '\0' ||
	    strnlen(a.path, sizeof(a.path)) == sizeof(a.path) || a.queues < 1 || a.queues > 8 ||
	    (!a.packed && !UDK_IS_POW2(a.queue_size)) || a.queue_size < 1 || a.queue_size > 32768)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct udk_eal_args args;
	char *argv[MAX_ARGS + 2], *copy;
	int argc = 1, rc;

	copy = fuzz_cstr(data, size);
	if (copy == NULL)
		return 0;
	argv[0] = "fuzz";
	for (size_t off = 0; off < size && argc <= MAX_ARGS; off += strlen(copy + off) + 1)
		argv[argc++] = copy + off;
	argv[argc] = NULL;
	fuzz_nb_logged = 0;
	rc = udk_eal_parse(argc, argv, &args);
	if (rc < 0) {
		if (rc != -UDK_EARGS || fuzz_nb_logged < 1 || fuzz_nb_logged > 2)
			abort();
	} else {
		if (rc < 1 || rc > argc || fuzz_nb_logged != 0 || args.nb_lcores > UDK_MAX_LCORES ||
		    args.nb_allow > UDK_MAX_ALLOW || args.nb_vdevs > UDK_MAX_VDEVS)
			abort();
		for (size_t i = 0; i < args.nb_vdevs; i++) {
			if (args.vdev[i] < copy || args.vdev[i] >= copy + size)
				abort();
			check_vdev(args.vdev[i]);
		}
	}
	free(copy);
	return 0;
}
