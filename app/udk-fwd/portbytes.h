/* SPDX-License-Identifier: BSD-3-Clause */
/* portbytes.h - udk-fwd's byte figures, from the ports' own counters
 * (udk_eth_stats_get: ibytes, obytes) instead of a sum per packet on the
 * lcores.  The statistics side reads them; nothing here is fast path. */
#ifndef UDK_FWD_PORTBYTES_H
#define UDK_FWD_PORTBYTES_H

#include <stdbool.h>
#include <stdint.h>

struct fwd_bytes {
	uint64_t seen_rx, seen_tx; /* the port's counters at the last read */
	uint64_t rx, tx;           /* bytes counted since the baseline */
	bool based;                /* the baseline was read */
};

/* Read the port's byte counters and add what they grew since the last read.
 * The first successful read is the baseline (a port may have counted before
 * the run).  A counter found lower than at the last read was reset in
 * between (udk_eth_stats_reset by someone): what it holds now is new.  A
 * removed port (-UDK_EREMOVED, zeros) or any other error leaves the figures
 * as they were: they never go backwards.  Returns 0 or that error. */
int fwd_bytes_read(struct fwd_bytes *b, uint16_t port);

#endif
