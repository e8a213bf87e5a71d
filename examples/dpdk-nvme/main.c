/* SPDX-License-Identifier: BSD-3-Clause */
/* dpdk-nvme - a DPDK application that uses udk's NVMe driver on DPDK's
 * memory: rte_eal_init(), one udk_dpdk_attach(), then writes, reads back and
 * verifies through rte_malloc() buffers.  Half way it makes DPDK's heap grow
 * (a large rte_malloc()) and does I/O from the new pages with no udk call,
 * then frees them and checks they left udk's map.
 *
 *   dpdk-nvme [DPDK EAL options] -- --nvme BDF [--mib N] [--grow-mib N]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_memory.h>

#include "udk_dpdk.h"
#include "udk_eal.h"
#include "udk_nvme.h"
#include "udk_pci.h"
#include "udk_util.h"

#define PROG "dpdk-nvme"

struct opts {
	const char *bdf;
	unsigned int mib, grow_mib;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: " PROG " [DPDK EAL options] -- --nvme BDF [--mib N] [--grow-mib N]\n"
		"Write N MiB (default 4) to namespace 1 of the NVMe controller at BDF (bound to\n"
		"vfio-pci) from rte_malloc() memory with udk's driver, read it back and verify;\n"
		"then grow DPDK's heap by --grow-mib (default 32) and do the same from the new\n"
		"pages.  Destroys data on the namespace.  Example:\n"
		"  " PROG " --no-pci --in-memory --iova-mode=va -l 0 -- --nvme 0000:00:04.0\n");
}

static int parse(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){NULL, 4, 32};
	for (int i = 0; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(argv[i], "--nvme") && v) {
			o->bdf = v, i++;
		} else if (!strcmp(argv[i], "--mib") && v && atoi(v) > 0 && atoi(v) <= 1024) {
			o->mib = (unsigned int)atoi(v), i++;
		} else if (!strcmp(argv[i], "--grow-mib") && v && atoi(v) >= 0 && atoi(v) <= 1024) {
			o->grow_mib = (unsigned int)atoi(v), i++;
		} else {
			fprintf(stderr, PROG ": bad option '%s' (see --help)\n", argv[i]);
			return -1;
		}
	}
	if (o->bdf == NULL) {
		fprintf(stderr, PROG ": --nvme BDF is required (see --help)\n");
		return -1;
	}
	return 0;
}

static uint8_t pattern(uint64_t lba, size_t i, unsigned int round)
{
	return (uint8_t)(lba * 131 + i * 7 + round * 29);
}

/* Write len bytes from wbuf at lba 0 in 128 KiB commands, read them into
 * rbuf, compare.  Both buffers are rte_malloc() memory. */
static int write_read_verify(struct udk_nvme_qpair *qp, struct udk_nvme_ns *ns, uint32_t bs,
			     uint8_t *wbuf, uint8_t *rbuf, size_t len, unsigned int round)
{
	const size_t chunk = 128 * 1024;
	int rc;

	for (size_t i = 0; i < len; i++)
		wbuf[i] = pattern(i / bs, i, round);
	memset(rbuf, 0, len);
	for (size_t off = 0; off < len; off += chunk) {
		uint32_t nlb = (uint32_t)((len - off < chunk ? len - off : chunk) / bs);

		rc = udk_nvme_ns_io_sync(qp, ns, UDK_NVME_IO_WRITE, wbuf + off, off / bs, nlb, NULL);
		if (rc == 0)
			rc = udk_nvme_ns_io_sync(qp, ns, UDK_NVME_IO_READ, rbuf + off, off / bs, nlb,
						 NULL);
		if (rc < 0) {
			fprintf(stderr, PROG ": I/O at byte %zu: %s (%s)\n", off, udk_strerror(rc),
				udk_last_error());
			return rc;
		}
	}
	for (size_t i = 0; i < len; i++) {
		if (rbuf[i] != wbuf[i]) {
			fprintf(stderr, PROG ": mismatch at byte %zu: wrote 0x%02x, read 0x%02x\n", i,
				wbuf[i], rbuf[i]);
			return -EIO;
		}
	}
	return 0;
}

/* udk's errors reach the user once, through this program's message with
 * udk_last_error(); other lines as they come. */
static void log_sink(int level, const char *comp, const char *msg, void *arg)
{
	(void)arg;
	if (level != UDK_LOG_ERR)
		fprintf(stderr, PROG ": %s: %s\n", comp, msg);
}

static int count_page(const struct rte_memseg_list *msl, const struct rte_memseg *ms, void *arg)
{
	(void)ms;
	if (!msl->external)
		(*(unsigned long long *)arg)++;
	return 0;
}

/* DPDK's own count of its pages next to what udk's map holds: they must
 * agree at every step. */
static void print_stats(const char *when, struct udk_dpdk *d)
{
	struct udk_dpdk_stats st;
	struct udk_dmamap_info mi;
	unsigned long long dpdk_pages = 0;

	rte_memseg_walk(count_page, &dpdk_pages);
	udk_dpdk_stats(d, &st);
	udk_dmamap_info(udk_eal_dmamap(), &mi);
	printf("%s: dpdk_pages %llu udk_pages %llu map_mappings %u (%llu MiB), mapped %llu, "
	       "unmapped %llu, windows %llu\n", when, dpdk_pages, (unsigned long long)st.pages,
	       mi.nb_mappings, (unsigned long long)(st.bytes >> 20),
	       (unsigned long long)st.pages_mapped, (unsigned long long)st.pages_unmapped,
	       (unsigned long long)st.windows);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct udk_dpdk_stats before, grown, after;
	struct udk_nvme_ns_info nsi;
	struct udk_nvme_ctrlr *ctrlr = NULL;
	struct udk_nvme_qpair *qp = NULL;
	struct udk_nvme_ns *ns;
	struct udk_pci_dev *pdev = NULL;
	struct udk_pci_addr addr;
	struct udk_dpdk *d = NULL;
	struct opts o;
	uint8_t *wbuf = NULL, *rbuf = NULL, *big = NULL;
	size_t len;
	int n, rc = 1;

	udk_log_set_sink(log_sink, NULL);
	n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, PROG ": rte_eal_init failed (see DPDK's message above)\n");
		return 1;
	}
	if (parse(argc - n - 1 > 0 ? argc - n - 1 : 0, argv + n + 1, &o) < 0)
		goto out_eal;

	/* The one call: udk's memory is DPDK's from here on. */
	if (udk_dpdk_attach(NULL, &d) < 0) {
		fprintf(stderr, PROG ": udk_dpdk_attach: %s\n", udk_last_error());
		goto out_eal;
	}
	print_stats("attached", d);
	if (udk_pci_addr_parse(o.bdf, &addr) < 0 ||
	    udk_pci_dev_open(&addr, udk_eal_dmamap(), &pdev) < 0) {
		fprintf(stderr, PROG ": open %s: %s\n", o.bdf, udk_last_error());
		goto out_detach;
	}
	if (udk_nvme_ctrlr_attach(pdev, NULL, &ctrlr) < 0 || udk_nvme_ctrlr_ns(ctrlr, 1, &ns) < 0 ||
	    udk_nvme_ns_info(ns, &nsi) < 0 || udk_nvme_qpair_create(ctrlr, NULL, &qp) < 0) {
		fprintf(stderr, PROG ": NVMe %s: %s\n", o.bdf, udk_last_error());
		goto out_ctrlr;
	}

	/* Round 1: rte_malloc() buffers from the heap DPDK has. */
	len = (size_t)o.mib << 20;
	wbuf = rte_malloc("wbuf", len, 4096);
	rbuf = rte_malloc("rbuf", len, 4096);
	if (wbuf == NULL || rbuf == NULL) {
		fprintf(stderr, PROG ": rte_malloc of 2 x %u MiB failed: give DPDK more memory\n",
			o.mib);
		goto out_bufs;
	}
	if (write_read_verify(qp, ns, nsi.block_size, wbuf, rbuf, len, 1) < 0)
		goto out_bufs;
	printf("round 1: wrote, read back and verified %u MiB from rte_malloc memory\n", o.mib);
	udk_dpdk_stats(d, &before);
	print_stats("before growth", d);

	/* Round 2: DPDK's heap grows; udk hears it through DPDK's memory events
	 * and maps the new pages before rte_malloc() returns. */
	if (o.grow_mib > 0) {
		big = rte_malloc("grow", (size_t)o.grow_mib << 20, 4096);
		if (big == NULL) {
			fprintf(stderr, PROG ": rte_malloc of %u MiB failed: DPDK's heap could not grow\n",
				o.grow_mib);
			goto out_bufs;
		}
		udk_dpdk_stats(d, &grown);
		print_stats("after growth", d);
		len = (size_t)(o.grow_mib / 2) << 20;
		if (write_read_verify(qp, ns, nsi.block_size, big, big + len, len, 2) < 0)
			goto out_bufs;
		printf("round 2: wrote, read back and verified %zu MiB from %llu new DPDK pages\n",
		       len >> 20, (unsigned long long)(grown.pages - before.pages));
		rte_free(big);
		big = NULL;
		udk_dpdk_stats(d, &after);
		print_stats("after free", d);
		printf("result: grown_pages %llu unmapped_on_free %llu\n",
		       (unsigned long long)(grown.pages - before.pages),
		       (unsigned long long)(after.pages_unmapped - grown.pages_unmapped));
	}
	rc = 0;

out_bufs:
	rte_free(big);
	rte_free(wbuf);
	rte_free(rbuf);
out_ctrlr:
	if (qp != NULL)
		udk_nvme_qpair_destroy(qp);
	if (ctrlr != NULL)
		udk_nvme_ctrlr_detach(ctrlr);
	if (pdev != NULL)
		udk_pci_dev_close(pdev);
out_detach:
	udk_dpdk_detach(d);
out_eal:
	rte_eal_cleanup();
	if (rc == 0)
		printf("PASS\n");
	return rc;
}
