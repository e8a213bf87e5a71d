/* SPDX-License-Identifier: BSD-3-Clause */
/* hist.h - a log-linear latency histogram: exact below 64 ns, then 32
 * buckets per power of two (at most ~3% wide), fixed size, so that adding a
 * sample is a few instructions with no allocation and no lock.  One
 * histogram per queue pair; they are merged after the run. */
#ifndef UDK_NVME_PERF_HIST_H
#define UDK_NVME_PERF_HIST_H

#include <stdint.h>
#include <string.h>

#define HIST_SUB_BITS 5
#define HIST_SUB (1u << HIST_SUB_BITS)       /* 32 buckets per power of two */
#define HIST_LINEAR (2 * HIST_SUB)           /* values 0..63 have a bucket each */
#define HIST_MAX_MSB 47                      /* ~39 hours in ns */
#define HIST_BUCKETS (HIST_LINEAR + (HIST_MAX_MSB - HIST_SUB_BITS) * HIST_SUB)

struct hist {
	uint64_t count, sum, min, max;
	uint64_t bucket[HIST_BUCKETS];
};

static inline void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

static inline unsigned int hist_index(uint64_t v)
{
	unsigned int msb, shift;

	if (v < HIST_LINEAR)
		return (unsigned int)v;
	msb = 63u - (unsigned int)__builtin_clzll(v);
	if (msb > HIST_MAX_MSB)
		return HIST_BUCKETS - 1;
	shift = msb - HIST_SUB_BITS;
	/* v >> shift is in [HIST_SUB, 2 * HIST_SUB) */
	return HIST_LINEAR + (msb - HIST_SUB_BITS - 1) * HIST_SUB +
	       (unsigned int)((v >> shift) - HIST_SUB);
}

/* The smallest value bucket i holds; its width is hist_low(i + 1) - hist_low(i). */
static inline uint64_t hist_low(unsigned int i)
{
	unsigned int k, shift;

	if (i < HIST_LINEAR)
		return i;
	k = (i - HIST_LINEAR) / HIST_SUB;  /* power of two above 2^(SUB_BITS+1) */
	shift = k + 1;
	return (uint64_t)(HIST_SUB + (i - HIST_LINEAR) % HIST_SUB) << shift;
}

static inline void hist_add(struct hist *h, uint64_t v)
{
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->bucket[hist_index(v)]++;
}

static inline void hist_merge(struct hist *into, const struct hist *h)
{
	into->count += h->count;
	into->sum += h->sum;
	if (h->min < into->min)
		into->min = h->min;
	if (h->max > into->max)
		into->max = h->max;
	for (unsigned int i = 0; i < HIST_BUCKETS; i++)
		into->bucket[i] += h->bucket[i];
}

/* The value below which a fraction p of the samples lie: the middle of the
 * bucket that holds the ceil(p * count)-th sample, kept within [min, max]. */
static inline uint64_t hist_percentile(const struct hist *h, double p)
{
	uint64_t rank, seen = 0, v;

	if (h->count == 0)
		return 0;
	rank = (uint64_t)(p * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	for (unsigned int i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {
			uint64_t lo = hist_low(i);
			uint64_t hi = i + 1 < HIST_BUCKETS ? hist_low(i + 1) : lo + 1;
			v = lo + (hi - lo - 1) / 2;
			if (v < h->min)
				v = h->min;
			if (v > h->max)
				v = h->max;
			return v;
		}
	}
	return h->max;
}

#endif
