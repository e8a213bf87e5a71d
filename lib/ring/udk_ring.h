/* SPDX-License-Identifier: BSD-3-Clause */
/* udk_ring.h - a bounded lock-free FIFO of pointers, for single or multiple
 * producers and consumers, with bulk (all or nothing) and burst (as many as
 * fit) calls.
 *
 * The ring is the hand-off between lcores: mempool caches refill from it,
 * software ports pass packets through it.  Enqueue and dequeue are static
 * inline, take no lock and make no system call.  Each side keeps a head (what
 * has been claimed) and a tail (what is published) on a cache line of its
 * own; a multi-producer claims slots with one compare-and-swap of the head,
 * copies, then publishes in claim order by waiting for the tail to reach its
 * claim.  A single producer (UDK_RING_SP) skips the compare-and-swap.
 *
 * Thread rules: with UDK_RING_SP (UDK_RING_SC), only one thread at a time may
 * enqueue (dequeue); otherwise any number may.  A multi-producer that is
 * preempted between claim and publish delays the producers behind it (as in
 * every ring of this design): pin lcores, as the EAL does.
 */
#ifndef UDK_RING_H
#define UDK_RING_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>

#include "udk_cdefs.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#endif
#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

enum {
	UDK_RING_SP = 1 << 0, /* one producer at a time */
	UDK_RING_SC = 1 << 1, /* one consumer at a time */
};

/* The fast path is always inlined: gcc's size heuristics otherwise leave
 * udk_ring_enqueue_()/udk_ring_dequeue_() as calls, which costs a bulk of 8
 * on an MP/MC ring about a fifth more (measured with tests/perf/ring_bench). */
#define UDK_RING_INLINE static inline __attribute__((always_inline))

#define UDK_RING_MAX_COUNT (1u << 30)
#define UDK_CACHE_LINE 64

/* Internal layout, public only so the fast path can be inline: use the
 * functions below, never the fields. */
struct udk_ring_side {
	alignas(UDK_CACHE_LINE) UDK_ATOMIC(uint32_t) head;
	UDK_ATOMIC(uint32_t) tail;
	uint32_t single;
};

struct udk_ring {
	char name[32];
	uint32_t size;     /* slots, a power of two */
	uint32_t mask;     /* size - 1 */
	uint32_t capacity; /* usable slots: size - 1, or the count asked for */
	struct udk_ring_side prod;
	struct udk_ring_side cons;
	alignas(UDK_CACHE_LINE) void *slot[];
};

/* A ring that holds up to count pointers (1 .. UDK_RING_MAX_COUNT; need not
 * be a power of two).  flags: UDK_RING_SP, UDK_RING_SC.  The ring lives in
 * ordinary memory; the caller owns it and frees it with udk_ring_free().
 * 0, -EINVAL (bad count or flags, with a message), -ENOMEM. */
int udk_ring_create(const char *name, unsigned int count, unsigned int flags,
		    struct udk_ring **out);
void udk_ring_free(struct udk_ring *r);

static inline void udk_ring_pause_(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* Claim n slots on one side (limit: the capacity for the producer, 0 for
 * the consumer).  Returns how many (0: none), the first in *old, and in
 * *ready whether every claim before ours is already published, so that
 * udk_ring_publish_() need not wait.  Internal. */
UDK_RING_INLINE uint32_t udk_ring_claim_(struct udk_ring_side *me, struct udk_ring_side *other,
				       uint32_t limit, uint32_t n, bool exact, uint32_t *old,
				       bool *ready)
{
	uint32_t head, avail, want = n;

	if (me->single) {
		/* Relaxed: only this thread writes our head. */
		head = UDK_ATOMIC_LOAD(&me->head, RELAXED);
		/* Acquire: pairs with the other side's release of its tail, so
		 * the slots it published (producer: written; consumer: read out)
		 * are ours to read or overwrite. */
		avail = limit + UDK_ATOMIC_LOAD(&other->tail, ACQUIRE) - head;
		if (unlikely(n > avail)) {
			if (exact || avail == 0)
				return 0;
			n = avail;
		}
		/* Relaxed: the head only counts claims; what others may touch is
		 * said by the tail, stored with release in udk_ring_publish_(). */
		UDK_ATOMIC_STORE(&me->head, head + n, RELAXED);
		*old = head;
		*ready = true;
		return n;
	}
	head = UDK_ATOMIC_LOAD(&me->head, RELAXED);
	for (;;) {
		uint32_t claimed = head;
		/* Acquire: our own tail, read before the compare-and-swap on the
		 * same cache line.  If it equals the head, every earlier claim is
		 * published (the tail never passes the head) and, once the swap
		 * below succeeds from that head, nobody else can move the tail
		 * until we do: the publish step skips its wait, and this load is
		 * the acquire of the previous publisher that the wait would have
		 * done (see udk_ring_publish_()). */
		bool in_order = UDK_ATOMIC_LOAD(&me->tail, ACQUIRE) == head;

		/* Acquire: as above, the other side's published slots. */
		avail = limit + UDK_ATOMIC_LOAD(&other->tail, ACQUIRE) - head;
		n = want;
		if (unlikely(n > avail)) {
			if (exact || avail == 0)
				return 0;
			n = avail;
		}
		/* Relaxed, success and failure: the swap only claims [head,
		 * head+n) against the other threads of this side; the slots are
		 * ordered by the tails' acquire and release, not by the head.
		 * On success head is still the value we read, which lets the
		 * compiler compute the slot index without waiting for the swap. */
		if (likely(UDK_ATOMIC_CAS_WEAK(&me->head, &head, head + n, RELAXED,
							       RELAXED))) {
			*old = claimed;
			*ready = in_order;
			return n;
		}
	}
}

/* Publish slots [old, old+n) on one side, in claim order.  Internal.  Unless
 * the claim saw every earlier claim published (ready), wait for the tail to
 * reach ours: that wait acquires the tail of the thread before us, so our
 * release store carries its slot accesses too (a plain store does not
 * continue another thread's release sequence). */
UDK_RING_INLINE void udk_ring_publish_(struct udk_ring_side *me, uint32_t old, uint32_t n,
				     bool ready)
{
	if (unlikely(!ready)) {
		unsigned int spins = 0;
		while (UDK_ATOMIC_LOAD(&me->tail, ACQUIRE) != old) {
			udk_ring_pause_();
			/* The thread before us was preempted between claim and
			 * publish (an oversubscribed machine): let it run rather
			 * than spin its time slice away.  Never on a normal pass. */
			if (unlikely(++spins == 4096)) {
				sched_yield();
				spins = 0;
			}
		}
	}
	/* Release: the slots we wrote (producer) or read (consumer) are done
	 * before the other side can see them as its own. */
	UDK_ATOMIC_STORE(&me->tail, old + n, RELEASE);
}

/* Copy n pointers.  Internal (lib/mempool uses it too).  Four at a time
 * through a fixed-size memcpy, which compiles to two or four vector moves:
 * a loop of one pointer a step costs a bulk of 8 about twice as much, and a
 * variable-size memcpy() is a call into libc. */
UDK_RING_INLINE void udk_ring_copy_(void **dst, void *const *src, uint32_t n)
{
	uint32_t i = 0;

	for (; i + 4 <= n; i += 4)
		memcpy(&dst[i], &src[i], 4 * sizeof(void *));
	if (n & 2) {
		memcpy(&dst[i], &src[i], 2 * sizeof(void *));
		i += 2;
	}
	if (n & 1)
		dst[i] = src[i];
}

/* The copy of a bulk that wraps past the end of the slot array: two pieces.
 * Internal.  Out of line: it is rare (never for bulks that divide the ring
 * size), and the fast path stays short. */
static __attribute__((noinline, cold, unused)) void
udk_ring_copy2_(void **d1, void *const *s1, uint32_t n1, void **d2, void *const *s2, uint32_t n2)
{
	udk_ring_copy_(d1, s1, n1);
	udk_ring_copy_(d2, s2, n2);
}

/* The ring's geometry is read before the claim so that, after the claim's
 * compare-and-swap (which on x86 holds back later loads until it is done),
 * only the copy is left. */
UDK_RING_INLINE unsigned int udk_ring_enqueue_(struct udk_ring *r, void *const *objs,
					     unsigned int n, bool exact)
{
	const uint32_t size = r->size, mask = r->mask;
	uint32_t old, idx, first;
	bool ready;

	n = udk_ring_claim_(&r->prod, &r->cons, r->capacity, n, exact, &old, &ready);
	if (unlikely(n == 0))
		return 0;
	idx = old & mask;
	if (likely(idx + n <= size)) {
		udk_ring_copy_(&r->slot[idx], objs, n);
	} else {
		first = size - idx;
		udk_ring_copy2_(&r->slot[idx], objs, first, r->slot, objs + first, n - first);
	}
	udk_ring_publish_(&r->prod, old, n, ready);
	return n;
}

UDK_RING_INLINE unsigned int udk_ring_dequeue_(struct udk_ring *r, void **objs, unsigned int n,
					     bool exact)
{
	const uint32_t size = r->size, mask = r->mask;
	uint32_t old, idx, first;
	bool ready;

	n = udk_ring_claim_(&r->cons, &r->prod, 0, n, exact, &old, &ready);
	if (unlikely(n == 0))
		return 0;
	idx = old & mask;
	if (likely(idx + n <= size)) {
		udk_ring_copy_(objs, &r->slot[idx], n);
	} else {
		first = size - idx;
		udk_ring_copy2_(objs, &r->slot[idx], first, objs + first, r->slot, n - first);
	}
	udk_ring_publish_(&r->cons, old, n, ready);
	return n;
}

/* Enqueue all n pointers or none; returns n or 0. */
UDK_RING_INLINE unsigned int udk_ring_enqueue_bulk(struct udk_ring *r, void *const *objs,
						 unsigned int n)
{
	return udk_ring_enqueue_(r, objs, n, true);
}

/* Enqueue as many of the n pointers as fit; returns how many. */
UDK_RING_INLINE unsigned int udk_ring_enqueue_burst(struct udk_ring *r, void *const *objs,
						  unsigned int n)
{
	return udk_ring_enqueue_(r, objs, n, false);
}

/* Dequeue exactly n pointers or none; returns n or 0. */
UDK_RING_INLINE unsigned int udk_ring_dequeue_bulk(struct udk_ring *r, void **objs, unsigned int n)
{
	return udk_ring_dequeue_(r, objs, n, true);
}

/* Dequeue up to n pointers; returns how many. */
UDK_RING_INLINE unsigned int udk_ring_dequeue_burst(struct udk_ring *r, void **objs,
						  unsigned int n)
{
	return udk_ring_dequeue_(r, objs, n, false);
}

/* Entries in the ring now (a snapshot when others are active). */
static inline unsigned int udk_ring_count(const struct udk_ring *r)
{
	uint32_t p = UDK_ATOMIC_LOAD(&((struct udk_ring *)r)->prod.tail, ACQUIRE);
	uint32_t c = UDK_ATOMIC_LOAD(&((struct udk_ring *)r)->cons.tail, ACQUIRE);
	uint32_t n = p - c;

	return n > r->capacity ? r->capacity : n;
}

static inline unsigned int udk_ring_free_count(const struct udk_ring *r)
{
	return r->capacity - udk_ring_count(r);
}

static inline unsigned int udk_ring_capacity(const struct udk_ring *r)
{
	return r->capacity;
}

#ifdef __cplusplus
}
#endif
#endif
