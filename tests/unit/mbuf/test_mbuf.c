/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for lib/mbuf on --no-huge memory: pool creation, a reset
 * buffer's layout and IOVA, headroom and tailroom limits, chains, reading
 * across segments, reference counts, exhaustion. */
#include <errno.h>
#include <stdalign.h>

#include "../common/unit.h"
#include "udk_eal.h"
#include "udk_mbuf.h"

static struct udk_mempool *mp;

static int setup(void)
{
	char *argv[] = {"test", "--no-huge", "-m", "64", "-l", "0", NULL};

	if (udk_eal_init(6, argv) != 6)
		return 1;
	return udk_pktmbuf_pool_create("mbufs", 64, 8, 0, UDK_SOCKET_ANY, &mp) != 0;
}

static int teardown(void)
{
	udk_mempool_free(mp);
	udk_eal_cleanup();
	return 0;
}

static void test_pool_errors(void)
{
	struct udk_mempool *bad;

	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_pktmbuf_pool_create("big", 8, 0, 70000, UDK_SOCKET_ANY, &bad), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("chain segments instead");
	CU_ASSERT_EQUAL(udk_pktmbuf_pool_create("none", 0, 0, 0, UDK_SOCKET_ANY, &bad), -EINVAL);
}

static void test_alloc_layout(void)
{
	struct udk_mbuf *m = udk_pktmbuf_alloc(mp);

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->buf_len, UDK_MBUF_DEFAULT_BUF_SIZE);
	CU_ASSERT_EQUAL(udk_pktmbuf_headroom(m), UDK_PKTMBUF_HEADROOM);
	CU_ASSERT_EQUAL(udk_pktmbuf_tailroom(m), UDK_MBUF_DEFAULT_DATAROOM);
	CU_ASSERT_EQUAL(m->pkt_len, 0);
	CU_ASSERT_EQUAL(m->nb_segs, 1);
	CU_ASSERT_EQUAL(m->port, UDK_PORT_NONE);
	CU_ASSERT_EQUAL(udk_mbuf_refcnt_read(m), 1);
	CU_ASSERT_PTR_EQUAL(m->pool, mp);
	/* The precomputed IOVA is the heap's translation of the data. */
	CU_ASSERT_EQUAL(udk_pktmbuf_iova(m), udk_virt2iova(udk_pktmbuf_mtod(m, void *)));
	CU_ASSERT_NOT_EQUAL(udk_pktmbuf_iova(m), UDK_IOVA_BAD);
	udk_pktmbuf_free(m);
}

static void test_room_limits(void)
{
	struct udk_mbuf *m = udk_pktmbuf_alloc(mp);
	char *p;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_PTR_NULL(udk_pktmbuf_append(m, UDK_MBUF_DEFAULT_DATAROOM + 1));
	CU_ASSERT_EQUAL(m->pkt_len, 0);
	p = udk_pktmbuf_append(m, 100);
	CU_ASSERT_PTR_EQUAL(p, udk_pktmbuf_mtod(m, char *));
	memset(p, 0xab, 100);
	CU_ASSERT_EQUAL(m->data_len, 100);
	CU_ASSERT_PTR_NULL(udk_pktmbuf_prepend(m, UDK_PKTMBUF_HEADROOM + 1));
	p = udk_pktmbuf_prepend(m, 14);
	CU_ASSERT_PTR_NOT_NULL(p);
	CU_ASSERT_EQUAL(m->pkt_len, 114);
	CU_ASSERT_EQUAL(udk_pktmbuf_headroom(m), UDK_PKTMBUF_HEADROOM - 14);
	CU_ASSERT_PTR_NULL(udk_pktmbuf_adj(m, 115));
	CU_ASSERT_PTR_EQUAL(udk_pktmbuf_adj(m, 14), p + 14);
	CU_ASSERT_EQUAL(udk_pktmbuf_trim(m, 101), -EINVAL);
	CU_ASSERT_EQUAL(udk_pktmbuf_trim(m, 50), 0);
	CU_ASSERT_EQUAL(m->pkt_len, 50);
	CU_ASSERT_EQUAL(m->data_len, 50);
	CU_ASSERT_EQUAL((uint8_t)*udk_pktmbuf_mtod_offset(m, char *, 49), 0xab);
	udk_pktmbuf_free(m);
}

static void test_chain_read_free(void)
{
	struct udk_mbuf *a = udk_pktmbuf_alloc(mp), *b = udk_pktmbuf_alloc(mp),
			*c = udk_pktmbuf_alloc(mp);
	unsigned int before;
	char out[30];

	CU_ASSERT_FATAL(a && b && c);
	before = udk_mempool_avail_count(mp);
	memcpy(udk_pktmbuf_append(a, 10), "0123456789", 10);
	memcpy(udk_pktmbuf_append(b, 10), "abcdefghij", 10);
	memcpy(udk_pktmbuf_append(c, 5), "KLMNO", 5);
	CU_ASSERT_EQUAL(udk_pktmbuf_chain(b, c), 0);
	CU_ASSERT_EQUAL(udk_pktmbuf_chain(a, b), 0);
	CU_ASSERT_EQUAL(a->nb_segs, 3);
	CU_ASSERT_EQUAL(a->pkt_len, 25);
	CU_ASSERT_PTR_EQUAL(udk_pktmbuf_lastseg(a), c);
	CU_ASSERT_EQUAL(udk_pktmbuf_read(a, 8, 10, out), 0);
	CU_ASSERT_NSTRING_EQUAL(out, "89abcdefgh", 10);
	CU_ASSERT_EQUAL(udk_pktmbuf_read(a, 0, 25, out), 0);
	CU_ASSERT_NSTRING_EQUAL(out + 20, "KLMNO", 5);
	CU_ASSERT_EQUAL(udk_pktmbuf_read(a, 20, 6, out), -ERANGE);
	/* Appending goes to the last segment; the total follows. */
	CU_ASSERT_PTR_NOT_NULL(udk_pktmbuf_append(a, 3));
	CU_ASSERT_EQUAL(c->data_len, 8);
	CU_ASSERT_EQUAL(a->pkt_len, 28);
	CU_ASSERT_EQUAL(udk_pktmbuf_trim(a, 3), 0);
	a->nb_segs = UDK_MBUF_MAX_SEGS;
	struct udk_mbuf *d = udk_pktmbuf_alloc(mp);
	CU_ASSERT_EQUAL(udk_pktmbuf_chain(a, d), -EOVERFLOW);
	a->nb_segs = 3;
	udk_pktmbuf_free(d);
	udk_pktmbuf_free(a); /* the whole chain goes back */
	CU_ASSERT_EQUAL(udk_mempool_avail_count(mp), before + 3);
}

static void test_refcnt(void)
{
	struct udk_mbuf *m = udk_pktmbuf_alloc(mp);
	unsigned int before;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	if (m == NULL) /* for the compiler: FATAL does not return */
		return;
	before = udk_mempool_avail_count(mp);
	CU_ASSERT_EQUAL(udk_mbuf_refcnt_update(m, 1), 2);
	udk_pktmbuf_free(m); /* one reference left */
	CU_ASSERT_EQUAL(udk_mempool_avail_count(mp), before);
	CU_ASSERT_EQUAL(udk_mbuf_refcnt_read(m), 1);
	udk_pktmbuf_free(m);
	CU_ASSERT_EQUAL(udk_mempool_avail_count(mp), before + 1);
}

static void test_exhaustion(void)
{
	struct udk_mbuf *ms[64], *one;

	CU_ASSERT_EQUAL(udk_pktmbuf_alloc_bulk(mp, ms, 64), 0);
	CU_ASSERT_PTR_NULL(udk_pktmbuf_alloc(mp));
	CU_ASSERT_EQUAL(udk_pktmbuf_alloc_bulk(mp, &one, 1), -ENOBUFS);
	udk_pktmbuf_free_bulk(ms, 64);
	CU_ASSERT_EQUAL(udk_mempool_avail_count(mp), 64);
}

/* A pool whose objects live elsewhere (how drivers/net/dpdk shows DPDK's
 * buffers to udk): free and alloc go through its ops, with udk's reset. */
#define FOREIGN 4
static struct {
	alignas(64) uint8_t mem[FOREIGN][512];
	void *free[FOREIGN];
	unsigned int nb_free, puts, gets;
} foreign;

static int foreign_get(struct udk_mempool *p, void **objs, unsigned int n)
{
	CU_ASSERT_PTR_EQUAL(udk_mempool_ops_arg(p), &foreign);
	if (n > foreign.nb_free)
		return -ENOBUFS;
	for (unsigned int i = 0; i < n; i++)
		objs[i] = foreign.free[--foreign.nb_free];
	foreign.gets += n;
	return 0;
}

static void foreign_put(struct udk_mempool *p, void *const *objs, unsigned int n)
{
	(void)p;
	for (unsigned int i = 0; i < n; i++)
		foreign.free[foreign.nb_free++] = objs[i];
	foreign.puts += n;
}

static unsigned int foreign_avail(const struct udk_mempool *p)
{
	(void)p;
	return foreign.nb_free;
}

static void test_ops_pool(void)
{
	static const struct udk_mempool_ops ops = {foreign_get, foreign_put, foreign_avail};
	static const struct udk_mempool_ops no_put = {.get = foreign_get, .avail = foreign_avail};
	struct udk_mempool *fp, *bad;
	struct udk_mbuf *m, *own = udk_pktmbuf_alloc(mp);

	/* udk's own buffers are no DPDK mbufs. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(own);
	CU_ASSERT_PTR_NULL(own->ext_pool);
	udk_last_error_clear();
	CU_ASSERT_EQUAL(udk_mempool_create_ops("bad", &no_put, NULL, 1, 256, &bad), -EINVAL);
	CU_ASSERT_LAST_ERROR_HAS("get, put and avail");
	CU_ASSERT_EQUAL_FATAL(udk_mempool_create_ops("foreign", &ops, &foreign, FOREIGN, 512, &fp),
			      0);
	for (unsigned int i = 0; i < FOREIGN; i++) {
		m = (struct udk_mbuf *)foreign.mem[i];
		m->buf_addr = m + 1;
		m->buf_len = 512 - sizeof(*m);
		m->pool = fp;
		atomic_init(&m->refcnt, 1);
		foreign.free[foreign.nb_free++] = m;
	}
	CU_ASSERT_EQUAL(udk_mempool_avail_count(fp), FOREIGN);
	m = udk_pktmbuf_alloc(fp);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(foreign.gets, 1);
	CU_ASSERT_EQUAL(udk_pktmbuf_headroom(m), 128);
	CU_ASSERT_PTR_NOT_NULL(udk_pktmbuf_append(m, 16));
	/* A chain of a foreign buffer and one of udk's: each goes home. */
	CU_ASSERT_PTR_NOT_NULL(udk_pktmbuf_append(own, 8));
	CU_ASSERT_EQUAL(udk_pktmbuf_chain(m, own), 0);
	udk_mbuf_refcnt_update(m, 1);
	udk_pktmbuf_free(m); /* one reference left: nothing moves */
	CU_ASSERT_EQUAL(foreign.puts, 0);
	udk_pktmbuf_free(m);
	CU_ASSERT_EQUAL(foreign.puts, 1);
	CU_ASSERT_EQUAL(udk_mempool_avail_count(fp), FOREIGN);
	CU_ASSERT_PTR_NULL(m->next);
	CU_ASSERT_EQUAL(m->nb_segs, 1);
	CU_ASSERT_EQUAL(udk_mempool_avail_count(mp), 64);
	/* All or none. */
	struct udk_mbuf *ms[FOREIGN + 1];
	CU_ASSERT_EQUAL(udk_pktmbuf_alloc_bulk(fp, ms, FOREIGN + 1), -ENOBUFS);
	CU_ASSERT_EQUAL(udk_pktmbuf_alloc_bulk(fp, ms, FOREIGN), 0);
	udk_pktmbuf_free_bulk(ms, FOREIGN);
	CU_ASSERT_EQUAL(udk_mempool_avail_count(fp), FOREIGN);
	udk_mempool_free(fp);
}

/* The bridge's hook: every buffer of every packet pool, existing or made
 * later, names the given pool; other pools' objects are left alone. */
static void test_set_ext_pool(void)
{
	static int fake_ext_pool;
	struct udk_mempool_opts o;
	struct udk_mempool *later, *plain;
	struct udk_mbuf *held = udk_pktmbuf_alloc(mp), *m;
	uint8_t *obj;

	udk_mempool_opts_init(&o, sizeof(o));
	o.name = "plain";
	o.count = 4;
	o.elt_size = sizeof(struct udk_mbuf);
	CU_ASSERT_EQUAL_FATAL(udk_mempool_create(&o, &plain), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(held);
	udk_pktmbuf_set_ext_pool(&fake_ext_pool);
	CU_ASSERT_PTR_EQUAL(held->ext_pool, &fake_ext_pool); /* one in flight too */
	m = udk_pktmbuf_alloc(mp);
	CU_ASSERT_PTR_EQUAL(m->ext_pool, &fake_ext_pool);
	udk_pktmbuf_free(m);
	CU_ASSERT_EQUAL_FATAL(udk_pktmbuf_pool_create("later", 8, 0, 0, UDK_SOCKET_ANY, &later), 0);
	m = udk_pktmbuf_alloc(later);
	CU_ASSERT_PTR_EQUAL(m->ext_pool, &fake_ext_pool);
	udk_pktmbuf_free(m);
	obj = plain->base;
	for (uint32_t i = 0; i < plain->count; i++)
		CU_ASSERT_PTR_NULL(((struct udk_mbuf *)(obj + (size_t)i * plain->elt_size))->ext_pool);
	udk_pktmbuf_set_ext_pool(NULL);
	CU_ASSERT_PTR_NULL(held->ext_pool);
	udk_pktmbuf_free(held);
	udk_mempool_free(later);
	udk_mempool_free(plain);
}

int main(void)
{
	static const struct unit_test t[] = {
		{"pool errors", test_pool_errors},
		{"a new buffer's layout and IOVA", test_alloc_layout},
		{"headroom and tailroom limits", test_room_limits},
		{"chains: read across segments, free all", test_chain_read_free},
		{"reference counts", test_refcnt},
		{"exhaustion", test_exhaustion},
		{"a pool with ops: buffers that live elsewhere", test_ops_pool},
		{"udk_pktmbuf_set_ext_pool reaches every packet buffer", test_set_ext_pool},
	};

	unit_quiet_logs();
	if (unit_add("mbuf", setup, teardown, t, UDK_ARRAY_SIZE(t)))
		return 1;
	return unit_run_all();
}
