/* SPDX-License-Identifier: BSD-3-Clause */
/* udk_cdefs.h - what C and C++ spell differently, for udk's public headers.
 *
 * Every public header compiles as C11 and as C++17.  C++ (before C++23) has
 * no _Atomic, _Thread_local or _Static_assert, and std::atomic<T> is not
 * layout-compatible with _Atomic T in general.  So the few atomic fields of
 * the inline fast path (ring heads and tails, the mbuf reference count) are
 * declared with UDK_ATOMIC(): _Atomic T in C, plain T in C++ (the same size
 * and alignment for the 16- and 32-bit integers used), and the inline
 * functions reach them only through the UDK_ATOMIC_* operations: C11's
 * <stdatomic.h> calls in C, so the C code compiled is unchanged, and GCC's
 * __atomic builtins in C++, which <stdatomic.h> expands to anyway.  Orders
 * are named by their last word: UDK_ATOMIC_LOAD(p, ACQUIRE).
 */
#ifndef UDK_CDEFS_H
#define UDK_CDEFS_H

#ifdef __cplusplus
#define UDK_ATOMIC(t) t
#define UDK_ATOMIC_LOAD(p, o) __atomic_load_n(p, __ATOMIC_##o)
#define UDK_ATOMIC_STORE(p, v, o) __atomic_store_n(p, v, __ATOMIC_##o)
#define UDK_ATOMIC_FETCH_ADD(p, v, o) __atomic_fetch_add(p, v, __ATOMIC_##o)
#define UDK_ATOMIC_CAS_WEAK(p, expected, desired, success, failure)                              \
	__atomic_compare_exchange_n(p, expected, desired, true, __ATOMIC_##success,               \
				    __ATOMIC_##failure)
/* __thread, not thread_local: C++ reads an extern thread_local through a
 * wrapper call (it may have a dynamic initializer); __thread is one load. */
#define UDK_THREAD_LOCAL __thread
#define UDK_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#include <stdatomic.h>
#define UDK_ATOMIC(t) _Atomic t
#define UDK_ATOMIC_LOAD(p, o) atomic_load_explicit(p, __ATOMIC_##o)
#define UDK_ATOMIC_STORE(p, v, o) atomic_store_explicit(p, v, __ATOMIC_##o)
#define UDK_ATOMIC_FETCH_ADD(p, v, o) atomic_fetch_add_explicit(p, v, __ATOMIC_##o)
#define UDK_ATOMIC_CAS_WEAK(p, expected, desired, success, failure)                              \
	atomic_compare_exchange_weak_explicit(p, expected, desired, __ATOMIC_##success,           \
					      __ATOMIC_##failure)
#define UDK_THREAD_LOCAL _Thread_local
#define UDK_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#endif
