/* SPDX-License-Identifier: BSD-3-Clause */
/* portbytes.c - udk-fwd's byte figures from the ports' own counters. */
#include "portbytes.h"
#include "udk_ethdev.h"

static uint64_t grown(uint64_t now, uint64_t *seen)
{
	uint64_t d = now >= *seen ? now - *seen : now;

	*seen = now;
	return d;
}

int fwd_bytes_read(struct fwd_bytes *b, uint16_t port)
{
	struct udk_eth_stats st;
	int rc = udk_eth_stats_get(port, &st);

	if (rc < 0)
		return rc;
	if (!b->based) {
		b->seen_rx = st.ibytes;
		b->seen_tx = st.obytes;
		b->based = true;
		return 0;
	}
	b->rx += grown(st.ibytes, &b->seen_rx);
	b->tx += grown(st.obytes, &b->seen_tx);
	return 0;
}
