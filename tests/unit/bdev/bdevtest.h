/* SPDX-License-Identifier: BSD-3-Clause */
/* bdevtest.h - what the lib/bdev suites share: a completion recorder, a
 * poll-until helper and a data pattern. */
#ifndef UDK_TEST_BDEVTEST_H
#define UDK_TEST_BDEVTEST_H

#include <stddef.h>
#include <stdint.h>

#include "udk_bdev.h"

struct done {
	int n;      /* callbacks run */
	int status; /* the last one's */
};

static inline void on_done(void *arg, int status)
{
	struct done *d = arg;

	d->n++;
	d->status = status;
}

/* Poll ch until d has seen n callbacks (or give up after many polls). */
static inline void wait_for(struct udk_bdev_channel *ch, struct done *d, int n)
{
	for (long i = 0; i < 20000000 && d->n < n; i++)
		udk_bdev_channel_poll(ch, 0);
}

/* Bytes that differ with the seed and along the buffer. */
static inline void fill(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

#endif
