/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for lib/ring: creation errors, bulk and burst semantics, wrap
 * around, counts, and a multi-producer/multi-consumer stress whose shadow
 * bitmap proves every pointer comes out exactly once (and, with one
 * producer and one consumer, in order).  The stress also runs under
 * ThreadSanitizer (suite tsan). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "../common/unit.h"
#include "udk_ring.h"

static void test_create_errors(void)
{
	struct udk_ring *r;

	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_ring_create("r", 0, 0, &r), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("out of range");
	CU_ASSERT_EQUAL(udk_ring_create("r", UDK_RING_MAX_COUNT + 1, 0, &r), -EINVAL);
	CU_ASSERT_EQUAL(udk_ring_create("r", 8, 0x80, &r), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("unknown flags");
	CU_ASSERT_EQUAL_FATAL(udk_ring_create(NULL, 5, UDK_RING_SP | UDK_RING_SC, &r), 0);
	CU_ASSERT_EQUAL(udk_ring_capacity(r), 5); /* not rounded up to a power of two */
	CU_ASSERT_EQUAL(udk_ring_count(r), 0);
	CU_ASSERT_EQUAL(udk_ring_free_count(r), 5);
	udk_ring_free(r);
}

static void test_bulk_and_burst(void)
{
	void *in[8], *out[8];
	struct udk_ring *r;

	for (uintptr_t i = 0; i < 8; i++)
		in[i] = (void *)(i + 1);
	CU_ASSERT_EQUAL_FATAL(udk_ring_create("r", 6, 0, &r), 0);
	CU_ASSERT_EQUAL(udk_ring_enqueue_bulk(r, in, 7), 0);  /* all or nothing */
	CU_ASSERT_EQUAL(udk_ring_count(r), 0);
	CU_ASSERT_EQUAL(udk_ring_enqueue_bulk(r, in, 4), 4);
	CU_ASSERT_EQUAL(udk_ring_enqueue_bulk(r, in + 4, 3), 0);
	CU_ASSERT_EQUAL(udk_ring_enqueue_burst(r, in + 4, 3), 2); /* as many as fit */
	CU_ASSERT_EQUAL(udk_ring_count(r), 6);
	CU_ASSERT_EQUAL(udk_ring_free_count(r), 0);
	CU_ASSERT_EQUAL(udk_ring_enqueue_burst(r, in, 1), 0);
	CU_ASSERT_EQUAL(udk_ring_dequeue_bulk(r, out, 7), 0);
	CU_ASSERT_EQUAL(udk_ring_dequeue_bulk(r, out, 2), 2);
	CU_ASSERT_PTR_EQUAL(out[0], in[0]);
	CU_ASSERT_PTR_EQUAL(out[1], in[1]);
	CU_ASSERT_EQUAL(udk_ring_dequeue_burst(r, out, 8), 4);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_PTR_EQUAL(out[i], in[i + 2]);
	CU_ASSERT_EQUAL(udk_ring_dequeue_burst(r, out, 8), 0);
	CU_ASSERT_EQUAL(udk_ring_enqueue_bulk(r, in, 0), 0);
	udk_ring_free(r);
}

static void test_wrap_around(void)
{
	void *in[5], *out[5];
	struct udk_ring *r;
	uintptr_t next_in = 1, next_out = 1;

	/* Capacity 5 in 8 slots: batches of 3 cross the end of the array. */
	CU_ASSERT_EQUAL_FATAL(udk_ring_create("wrap", 5, UDK_RING_SP | UDK_RING_SC, &r), 0);
	for (int round = 0; round < 1000; round++) {
		for (int i = 0; i < 3; i++)
			in[i] = (void *)next_in++;
		CU_ASSERT_EQUAL_FATAL(udk_ring_enqueue_bulk(r, in, 3), 3);
		CU_ASSERT_EQUAL_FATAL(udk_ring_dequeue_bulk(r, out, 3), 3);
		for (int i = 0; i < 3; i++)
			CU_ASSERT_EQUAL_FATAL((uintptr_t)out[i], next_out++);
	}
	udk_ring_free(r);
}

#define PER_PRODUCER 200000u
#define MAX_THREADS 4

struct stress {
	struct udk_ring *r;
	unsigned int producers, consumers;
	_Atomic uint32_t taken;
	_Atomic uint8_t *seen; /* shadow: one byte per value */
	_Atomic unsigned int dup, order_bad;
	bool ordered;
};

struct worker {
	struct stress *s;
	unsigned int id;
};

static void *producer(void *arg)
{
	struct worker *w = arg;
	void *objs[32];
	uint32_t v = 0;

	while (v < PER_PRODUCER) {
		unsigned int n = 1 + (v % 32), k;
		if (n > PER_PRODUCER - v)
			n = PER_PRODUCER - v;
		for (k = 0; k < n; k++)
			objs[k] = (void *)(uintptr_t)(((uint64_t)w->id << 32 | (v + k)) + 1);
		k = (v & 1) ? udk_ring_enqueue_burst(w->s->r, objs, n)
			    : udk_ring_enqueue_bulk(w->s->r, objs, n);
		v += k;
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	uint32_t total = PER_PRODUCER * s->producers;
	uint64_t expect = 0, spins = 0;
	void *objs[32];

	while (atomic_load(&s->taken) < total) {
		unsigned int n = udk_ring_dequeue_burst(s->r, objs, 1 + (unsigned int)(spins++ % 32));
		for (unsigned int k = 0; k < n; k++) {
			uint64_t x = (uint64_t)(uintptr_t)objs[k] - 1;
			uint32_t p = (uint32_t)(x >> 32), v = (uint32_t)x;
			if (p >= s->producers || v >= PER_PRODUCER ||
			    atomic_fetch_add(&s->seen[(size_t)p * PER_PRODUCER + v], 1) != 0)
				atomic_fetch_add(&s->dup, 1);
			if (s->ordered && x != expect++)
				atomic_fetch_add(&s->order_bad, 1);
		}
		atomic_fetch_add(&s->taken, n);
	}
	return NULL;
}

static void run_stress(unsigned int producers, unsigned int consumers, unsigned int flags)
{
	pthread_t t[MAX_THREADS];
	struct worker w[MAX_THREADS];
	struct stress s = {.producers = producers, .consumers = consumers,
			   .ordered = producers == 1 && consumers == 1};
	size_t total = (size_t)PER_PRODUCER * producers;
	unsigned int nt = 0;

	s.seen = calloc(total, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s.seen);
	CU_ASSERT_EQUAL_FATAL(udk_ring_create("stress", 1000, flags, &s.r), 0);
	for (unsigned int i = 0; i < consumers; i++, nt++) {
		w[nt] = (struct worker){&s, i};
		pthread_create(&t[nt], NULL, consumer, &w[nt]);
	}
	for (unsigned int i = 0; i < producers; i++, nt++) {
		w[nt] = (struct worker){&s, i};
		pthread_create(&t[nt], NULL, producer, &w[nt]);
	}
	for (unsigned int i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
	size_t missing = 0;
	for (size_t i = 0; i < total; i++)
		missing += s.seen[i] != 1;
	CU_ASSERT_EQUAL(atomic_load(&s.dup), 0);
	CU_ASSERT_EQUAL(missing, 0);
	CU_ASSERT_EQUAL(atomic_load(&s.order_bad), 0);
	CU_ASSERT_EQUAL(atomic_load(&s.taken), total);
	CU_ASSERT_EQUAL(udk_ring_count(s.r), 0);
	udk_ring_free(s.r);
	free(s.seen);
}

static void test_stress_sp_sc_in_order(void)
{
	run_stress(1, 1, UDK_RING_SP | UDK_RING_SC);
}

static void test_stress_mp_mc(void)
{
	run_stress(2, 2, 0);
}

static void test_stress_mp_sc(void)
{
	run_stress(2, 1, UDK_RING_SC);
}

int main(void)
{
	static const struct unit_test t[] = {
		{"create errors", test_create_errors},
		{"bulk is all or nothing, burst takes what fits", test_bulk_and_burst},
		{"wrap around a non-power-of-two capacity", test_wrap_around},
		{"stress: 1 producer, 1 consumer, in order", test_stress_sp_sc_in_order},
		{"stress: 2 producers, 2 consumers, each pointer once", test_stress_mp_mc},
		{"stress: 2 producers, 1 consumer", test_stress_mp_sc},
	};

	unit_quiet_logs();
	return unit_run("ring", t, UDK_ARRAY_SIZE(t));
}
