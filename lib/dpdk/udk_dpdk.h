/* SPDX-License-Identifier: BSD-3-Clause */
/* udk_dpdk.h - udk beside DPDK (doc/dpdk.md), in libudk_dpdk, the one
 * library that links DPDK; libudk itself never does.
 *
 * Two directions:
 *  - udk inside a DPDK application: after rte_eal_init(), udk_dpdk_attach()
 *    makes udk run on DPDK's memory.  udk_mem_default_zmalloc() allocates from
 *    DPDK's heap (rte_zmalloc_socket()); every hugepage DPDK has, and every
 *    one it gets or frees later, is mapped into (or unmapped from) a udk map,
 *    so udk's drivers (NVMe, NICs) DMA to rte_malloc() memory with no further
 *    call.  IOVAs are the udk map's, whatever DPDK's IOVA mode.
 *  - DPDK ports inside a udk application: drivers/net/dpdk makes a udk port
 *    of any DPDK ethdev ("--vdev dpdk0,dev=net_null0"); udk_dpdk_eal_args()
 *    gives the DPDK EAL its arguments before the first such port is probed.
 */
#ifndef UDK_DPDK_H
#define UDK_DPDK_H

#include <stdint.h>

#include "udk_dma.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- udk inside a DPDK application ---- */

struct udk_dpdk;

/* Call after rte_eal_init() (primary process, dynamic or legacy memory), on
 * a control thread, before any other udk call.  map: the udk map DPDK's
 * memory goes into (a reference is taken), or NULL to create one with the
 * default backend (named "dpdk").  The map becomes the process's default map
 * (udk_eal_dmamap()): open devices on it, e.g. udk_pci_dev_open(addr,
 * udk_eal_dmamap(), ...).  Each DPDK memseg list gets an IOVA window in the
 * map the size of the list, so memory contiguous in VA is contiguous in IOVA;
 * each hugepage is one mapping, so DPDK may free any page at any time.
 * 0, or -EINVAL (DPDK not initialised, or a secondary process), -EBUSY
 * (already attached, or udk_eal_init() ran), -UDK_ENOIOVA (no room for a
 * window), or the map's error, each with a line naming the step. */
int udk_dpdk_attach(struct udk_dmamap *map, struct udk_dpdk **out);

/* Undo attach: stop following DPDK's memory, unmap every page from the map,
 * drop the map reference.  Close udk's devices first: memory they may still
 * reach leaves the map here.  DPDK's memory itself is untouched. */
void udk_dpdk_detach(struct udk_dpdk *d);

struct udk_dpdk_stats {
	uint64_t pages;          /* DPDK pages in the map now */
	uint64_t bytes;          /* their bytes */
	uint64_t pages_mapped;   /* pages mapped since attach (walk and events) */
	uint64_t pages_unmapped; /* pages unmapped because DPDK freed them */
	uint64_t windows;        /* memseg lists that have an IOVA window */
	uint64_t failures;       /* pages DPDK gave that could not be mapped (logged) */
};
void udk_dpdk_stats(struct udk_dpdk *d, struct udk_dpdk_stats *st);

/* ---- DPDK ports inside udk ---- */

/* The DPDK EAL arguments ("--no-pci --in-memory -l 0 --vdev net_null0"),
 * split at blanks (copied); used when the first dpdk port is probed, which
 * calls rte_eal_init() if the process has not.  Default: "--no-pci
 * --no-huge -m 256 --no-shconf --no-telemetry".  -EBUSY once DPDK runs. */
int udk_dpdk_eal_args(const char *args);

/* What a dpdk port (drivers/net/dpdk) did with packets beyond the common
 * statistics: how many it sent and received without a copy, and how many it
 * had to copy (udk_eth_stats.copies counts those too). */
struct udk_dpdk_port_stats {
	uint64_t tx_zero_copy, tx_copies;
	uint64_t rx_zero_copy, rx_copies;
	uint16_t dpdk_port;      /* DPDK's port id */
};
/* 0, or -ENODEV if port is not a dpdk port. */
int udk_dpdk_port_stats(uint16_t port, struct udk_dpdk_port_stats *st);

#ifdef __cplusplus
}
#endif
#endif
