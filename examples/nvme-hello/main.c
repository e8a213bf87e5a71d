/* SPDX-License-Identifier: BSD-3-Clause */
/* nvme-hello - the smallest complete program on udk's NVMe driver (the
 * example of doc/nvme.md): attach the controller given with -a, show what
 * Identify says, write a block pattern, read it back through a callback and
 * poll, verify it, and clean up.
 *
 *   nvme-hello [EAL options] -- [--ns NSID] [--lba LBA] [--blocks N]
 *   nvme-hello -m 64 -a 0000:00:04.0 -- --lba 1000
 *
 * Exit 0 when the data read back equals the data written, 1 otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "udk_eal.h"
#include "udk_nvme.h"

static void usage(void)
{
	printf("usage: nvme-hello [EAL options] -- [--ns NSID] [--lba LBA] [--blocks N]\n"
	       "Writes N blocks (default 8) at LBA (default 0) of namespace NSID (default 1)\n"
	       "of the -a NVMe controller, reads them back and compares.  THE DATA THERE IS\n"
	       "OVERWRITTEN.\n\n");
	udk_eal_usage(stdout);
}

/* The completion callback: runs inside udk_nvme_qpair_poll(). */
static void read_done(void *arg, const struct udk_nvme_cpl *cpl)
{
	struct udk_nvme_cpl *out = arg;

	*out = *cpl;
}

int main(int argc, char **argv)
{
	struct udk_nvme_cpl cpl = {.rc = 1}; /* 1: not completed yet */
	struct udk_nvme_ctrlr_info ci;
	struct udk_nvme_ns_info ni;
	struct udk_nvme_ctrlr *ctrlr;
	struct udk_nvme_qpair *qp;
	struct udk_nvme_ns *ns;
	unsigned long long lba = 0;
	unsigned long nsid = 1, blocks = 8;
	uint8_t *wbuf = NULL, *rbuf = NULL;
	int n, rc = 1;
	size_t len;

	n = udk_eal_init(argc, argv); /* opens the -a device, attached to the default map */
	if (n < 0)
		return 1;
	if (udk_eal_help_requested()) {
		usage();
		return 0;
	}
	for (int i = n; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			continue;
		if (i + 1 < argc && strcmp(argv[i], "--ns") == 0)
			nsid = strtoul(argv[++i], NULL, 0);
		else if (i + 1 < argc && strcmp(argv[i], "--lba") == 0)
			lba = strtoull(argv[++i], NULL, 0);
		else if (i + 1 < argc && strcmp(argv[i], "--blocks") == 0)
			blocks = strtoul(argv[++i], NULL, 0);
		else {
			fprintf(stderr, "nvme-hello: unknown argument '%s' (see --help)\n", argv[i]);
			goto out_eal;
		}
	}
	if (udk_eal_nb_devices() != 1) {
		fprintf(stderr, "nvme-hello: give one NVMe controller with -a BDF\n");
		goto out_eal;
	}

	/* 1. The controller: NVMe 1.4 §7.6.1 bring-up, Identify, namespaces. */
	if (udk_nvme_ctrlr_attach(udk_eal_device(0), NULL, &ctrlr) < 0)
		goto out_eal; /* the driver logged which step failed */
	udk_nvme_ctrlr_info(ctrlr, &ci);
	printf("controller %s: %s, serial %s, firmware %s, NVMe %u.%u\n", ci.bdf, ci.model,
	       ci.serial, ci.firmware, ci.vs >> 16, (ci.vs >> 8) & 0xff);
	if (udk_nvme_ctrlr_ns(ctrlr, (uint32_t)nsid, &ns) < 0)
		goto out_ctrlr;
	udk_nvme_ns_info(ns, &ni);
	printf("namespace %u: %llu blocks of %u bytes\n", ni.nsid, (unsigned long long)ni.nsze,
	       ni.block_size);

	/* 2. A queue pair, and buffers the device can reach (udk DMA memory). */
	if (udk_nvme_qpair_create(ctrlr, NULL, &qp) < 0)
		goto out_ctrlr;
	len = blocks * ni.block_size;
	wbuf = udk_mem_default_zmalloc(len, 4096, UDK_SOCKET_ANY);
	rbuf = udk_mem_default_zmalloc(len, 4096, UDK_SOCKET_ANY);
	if (wbuf == NULL || rbuf == NULL) {
		fprintf(stderr, "nvme-hello: no DMA memory for %zu bytes\n", len);
		goto out_qp;
	}
	for (size_t i = 0; i < len; i++)
		wbuf[i] = (uint8_t)(i * 31 + lba);
	snprintf((char *)wbuf, len, "hello from udk, LBA %llu", lba);

	/* 3. Write with the blocking helper (submit, then poll until done). */
	if (udk_nvme_ns_io_sync(qp, ns, UDK_NVME_IO_WRITE, wbuf, lba, (uint32_t)blocks, NULL) < 0)
		goto out_qp;
	printf("wrote %zu bytes at LBA %llu\n", len, lba);

	/* 4. Read with a callback: the command waits in the SQ until the poll
	 * rings the doorbell; the same poll reaps the completion later. */
	if (udk_nvme_ns_read(qp, ns, rbuf, lba, (uint32_t)blocks, read_done, &cpl) < 0)
		goto out_qp;
	while (cpl.rc == 1)
		udk_nvme_qpair_poll(qp, 0);
	if (cpl.rc != 0) {
		fprintf(stderr, "nvme-hello: read failed: %d %s\n", cpl.rc,
			udk_nvme_status_str(cpl.status));
		goto out_qp;
	}

	/* 5. Verify. */
	if (memcmp(wbuf, rbuf, len) != 0) {
		fprintf(stderr, "nvme-hello: the data read back differs from the data written\n");
		goto out_qp;
	}
	printf("read back and verified %zu bytes: \"%s\"\n", len, (char *)rbuf);
	rc = 0;

	/* 6. Clean up in reverse order. */
out_qp:
	udk_mem_default_free(wbuf);
	udk_mem_default_free(rbuf);
	udk_nvme_qpair_destroy(qp);
out_ctrlr:
	udk_nvme_ctrlr_detach(ctrlr);
out_eal:
	udk_eal_cleanup();
	return rc;
}
