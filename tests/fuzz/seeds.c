/* SPDX-License-Identifier: BSD-3-Clause */
/* seeds: write one valid message of each type into DIR, prefixed with the
 * fuzz target's side/descriptor byte, as libFuzzer's starting corpus. */
#include <stdio.h>
#include <string.h>

#include "udk_broker.h"

static int put(const char *dir, const char *name, const struct udk_broker_msg *m, int side)
{
	char buf[UDK_BROKER_MSG_MAX + 1], path[512];
	int n = udk_broker_build(m, buf + 1, sizeof(buf) - 1, NULL, 0);
	FILE *f;

	if (n < 0)
		return 1;
	buf[0] = (char)((m->nfds << 1) | (unsigned int)side);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, (size_t)n + 1, f) != (size_t)n + 1)
		return 1;
	return fclose(f) != 0;
}

int main(int argc, char **argv)
{
	struct udk_broker_msg m;
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: seeds DIR\n");
		return 2;
	}
	memset(&m, 0, sizeof(m));
	m.type = UDK_BROKER_HELLO;
	m.u.hello.nb_devs = 2;
	m.u.hello.mem = 64 << 20;
	strcpy(m.u.hello.devs[0], "0000:00:04.0");
	strcpy(m.u.hello.devs[1], "0000:02:00.0");
	rc |= put(argv[1], "hello", &m, 0);
	memset(&m, 0, sizeof(m));
	m.type = UDK_BROKER_MEM;
	m.u.mem.len = 2 << 20;
	rc |= put(argv[1], "mem", &m, 0);
	memset(&m, 0, sizeof(m));
	m.type = UDK_BROKER_GRANT;
	m.nfds = 3;
	m.u.grant.g = (struct udk_broker_grant){.nb_devs = 1, .nb_segs = 2, .mem_limit = 1 << 30,
						.uid = 1000};
	strcpy(m.u.grant.devs[0], "0000:00:04.0");
	m.u.grant.segs[0] = (struct udk_broker_seg){.len = 2 << 20, .iova = 0x200000,
						    .page_size = 2 << 20};
	m.u.grant.segs[1] = (struct udk_broker_seg){.len = 4 << 20, .iova = 0x800000,
						    .page_size = 2 << 20};
	rc |= put(argv[1], "grant", &m, 1);
	memset(&m, 0, sizeof(m));
	m.type = UDK_BROKER_SEGMENT;
	m.nfds = 1;
	m.u.seg = (struct udk_broker_seg){.len = 2 << 20, .iova = 0x200000, .page_size = 2 << 20};
	rc |= put(argv[1], "segment", &m, 1);
	memset(&m, 0, sizeof(m));
	m.type = UDK_BROKER_ERROR;
	m.u.error.code = -13;
	strcpy(m.u.error.text, "uid 1001 has no grant in policy");
	rc |= put(argv[1], "error", &m, 1);
	return rc;
}
