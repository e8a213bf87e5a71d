/* SPDX-License-Identifier: BSD-3-Clause */
/* nvmf_seeds DIR: a seed corpus for fuzz_nvmf_pdu, one valid connection per
 * file: rules byte, ICReq, capsules with and without in-capsule data and
 * digests, H2CData, H2CTermReq (the PDUs from pdu_host.c, as the unit test
 * builds them). */
#include <stdio.h>
#include <string.h>

#include "pdu.h"
#include "pdu_host.h"

static uint8_t buf[20000];

static int save(const char *dir, const char *name, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, n, f) != n) {
		perror(path);
		return 1;
	}
	return fclose(f) != 0;
}

int main(int argc, char **argv)
{
	size_t n;
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: nvmf_seeds DIR\n");
		return 2;
	}
	buf[0] = 0;
	n = 1 + nvmf_host_icreq(buf + 1, 0);
	n += nvmf_host_capsule(buf + n, 0, false, false, 0x5a);
	n += nvmf_host_capsule(buf + n, 512, false, false, 0x5a);
	rc |= save(argv[1], "plain", n);
	buf[0] = 1 | 2 | 4;
	n = 1 + nvmf_host_capsule(buf + 1, 1024, true, true, 0x5a);
	n += nvmf_host_capsule(buf + n, 0, true, false, 0x5a);
	rc |= save(argv[1], "digests", n);
	buf[0] = 1;
	n = 1 + nvmf_host_h2c(buf + 1, 0, 4096, 1024, false, 0xa5);
	n += nvmf_host_h2c(buf + n, 0, 5120, 512, true, 0xa5);
	rc |= save(argv[1], "h2c", n);
	buf[0] = 1;
	memset(buf + 1, 0, 24);
	buf[1] = NVMF_PDU_H2C_TERM, buf[3] = 24, buf[5] = 24;
	rc |= save(argv[1], "term", 25);
	return rc;
}
