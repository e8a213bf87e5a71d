/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_hotplug_nvme: surprise removal and hot-add of an NVMe controller under
 * I/O, through QEMU's monitor (doc/hotplug.md).  Two controllers on the
 * EAL's one map keep 16 writes each in flight; QMP device_del takes the one
 * behind root port rp1 away.  The process must not die; the kernel's unplug
 * must complete (QEMU's DEVICE_DELETED: udk closed the device promptly);
 * every command of the removed controller completes exactly once, those
 * not done with UDK_EREMOVED, and new ones are refused with it; the event
 * callback names the address; the map keeps the survivor, whose every
 * acknowledged write is read back and verified.  Then hot-add: with the
 * monitor on (allow-list 1b36:0010, bind), device_add of a new controller
 * reaches the callback already bound, opened and attached to the map, and
 * is used at once.  Last, ten remove/re-add cycles of that device with no
 * leak: open fds, the map's mappings and bytes, its IOVA use, udk's heap
 * and malloc's are counted before and after.  Last, udk_pci_dev_remove():
 * the application gives the device back (the same steps, one event), and
 * it can be opened again.
 */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labutil.h"
#include "udk_eal.h"
#include "udk_nvme.h"
#include "udk_util.h"

#define QD 16
#define UNITS 4096u /* 4 KiB units: the first 16 MiB of each namespace */
#define CYCLES 10

static const char *bdf_a, *bdf_b, *host_dir;

/* ---- events ---- */

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static int nb_removed, nb_added;
static char last_removed[UDK_PCI_ADDR_STRLEN];
static struct udk_pci_dev *added; /* handed over by the last ADDED event */

static void on_event(const struct udk_pci_event *ev, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&ev_lock);
	if (ev->type == UDK_PCI_EVENT_REMOVED) {
		nb_removed++;
		snprintf(last_removed, sizeof(last_removed), "%s", ev->bdf);
	} else if (ev->type == UDK_PCI_EVENT_ADDED) {
		nb_added++;
		added = ev->pdev;
	}
	pthread_mutex_unlock(&ev_lock);
	printf("event: %s %s (%04x:%04x)\n", ev->type == UDK_PCI_EVENT_REMOVED ? "REMOVED" : "ADDED",
	       ev->bdf, ev->vendor_id, ev->device_id);
}

static int removed_count(void)
{
	pthread_mutex_lock(&ev_lock);
	int n = nb_removed;
	pthread_mutex_unlock(&ev_lock);
	return n;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait up to 30 s for an ADDED event; returns its device. */
static struct udk_pci_dev *wait_added(int before)
{
	struct udk_pci_dev *p = NULL;

	for (double t0 = now(); now() - t0 < 30; usleep(20000)) {
		pthread_mutex_lock(&ev_lock);
		if (nb_added > before)
			p = added;
		pthread_mutex_unlock(&ev_lock);
		if (p != NULL)
			return p;
	}
	return NULL;
}

/* ---- QMP ---- */

static int qmp_del(void)
{
	char out[4096];
	int rc = lab_qmp("{\"execute\": \"device_del\", \"arguments\": {\"id\": \"nvme1\"}}",
			 "DEVICE_DELETED", 30, out, sizeof(out));

	if (rc != 0)
		printf("device_del nvme1: %d %s\n", rc, out);
	return rc;
}

static int qmp_add(const char *node, bool new_node)
{
	char out[4096], cmd[1024];
	int rc;

	if (new_node) {
		snprintf(cmd, sizeof(cmd),
			 "{\"execute\": \"blockdev-add\", \"arguments\": {\"driver\": \"raw\", "
			 "\"node-name\": \"%s\", \"file\": {\"driver\": \"file\", "
			 "\"filename\": \"%s/%s.img\"}}}", node, host_dir, node);
		rc = lab_qmp(cmd, NULL, 10, out, sizeof(out));
		if (rc != 0) {
			printf("blockdev-add %s: %d %s\n", node, rc, out);
			return rc;
		}
	}
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\": \"device_add\", \"arguments\": {\"driver\": \"nvme\", \"id\": "
		 "\"nvme1\", \"serial\": \"udk-lab-nvme1\", \"drive\": \"%s\", \"bus\": \"rp1\"}}",
		 node);
	rc = lab_qmp(cmd, NULL, 10, out, sizeof(out));
	if (rc != 0)
		printf("device_add nvme1: %d %s\n", rc, out);
	return rc;
}

struct unplugger {
	pthread_t thr;
	atomic_int go, rc;
	double t_sent, t_done;
};

static void *unplug_main(void *arg)
{
	struct unplugger *u = arg;

	while (!atomic_load(&u->go))
		usleep(10000);
	u->t_sent = now();
	atomic_store(&u->rc, qmp_del());
	u->t_done = now();
	atomic_store(&u->go, 2);
	return NULL;
}

/* A thread that reads the doomed controller's CSTS register (BAR0 + 0x1c)
 * in a loop through the whole removal: the mapping is swapped under it, so
 * it must end up reading all ones, never die of SIGBUS or SIGSEGV. */
struct mmio_reader {
	pthread_t thr;
	volatile uint32_t *csts;
	atomic_bool stop;
	uint64_t reads, ones_after;
	uint32_t first;
};

static void *mmio_main(void *arg)
{
	struct mmio_reader *r = arg;

	r->first = *r->csts;
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		uint32_t v = *r->csts;

		r->reads++;
		if (v == UINT32_MAX)
			r->ones_after++;
	}
	return NULL;
}

/* ---- I/O ---- */

struct target {
	struct udk_nvme_qpair *qp;
	struct udk_nvme_ns *ns;
	uint32_t nlb, bs;
	uint64_t seed;
	uint32_t next_unit;
	uint32_t acked[UNITS];   /* generation of the last acknowledged write, 0: none */
	uint64_t submitted, ok, removed, refused, other; /* removed: completions */
	int first_other;
	bool stop;
};

struct slot {
	struct target *t;
	void *buf;
	uint32_t unit, gen;
};

static uint32_t gen_counter = 1;

static uint64_t word(uint64_t seed, uint32_t unit, uint32_t gen, uint32_t i)
{
	return seed << 56 ^ (uint64_t)gen << 24 ^ (uint64_t)unit << 12 ^ i;
}

static void fill(struct target *t, void *buf, uint32_t unit, uint32_t gen)
{
	uint64_t *w = buf;

	for (uint32_t i = 0; i < 4096 / 8; i++)
		w[i] = word(t->seed, unit, gen, i);
}

static void submit(struct slot *s);

static void write_done(void *arg, const struct udk_nvme_cpl *cpl)
{
	struct slot *s = arg;
	struct target *t = s->t;

	if (cpl->rc == 0) {
		t->ok++;
		t->acked[s->unit] = s->gen;
	} else if (cpl->rc == -UDK_EREMOVED) {
		t->removed++;
	} else {
		t->other++;
		if (t->first_other == 0)
			t->first_other = cpl->rc;
	}
	if (!t->stop && cpl->rc == 0)
		submit(s);
}

static void submit(struct slot *s)
{
	struct target *t = s->t;
	int rc;

	s->unit = t->next_unit++ % UNITS;
	s->gen = gen_counter++;
	fill(t, s->buf, s->unit, s->gen);
	rc = udk_nvme_ns_write(t->qp, t->ns, s->buf, (uint64_t)s->unit * t->nlb, t->nlb,
			       write_done, s);
	if (rc == 0)
		t->submitted++;
	else if (rc == -UDK_EREMOVED)
		t->refused++; /* refused at once: counted, not resubmitted */
	else if (t->first_other == 0)
		t->first_other = rc, t->other++;
}

static void target_init(struct target *t, struct udk_nvme_ctrlr *c, uint64_t seed)
{
	struct udk_nvme_ns_info ni;

	memset(t, 0, sizeof(*t));
	REQUIRE(udk_nvme_ctrlr_ns(c, 1, &t->ns) == 0);
	udk_nvme_ns_info(t->ns, &ni);
	t->bs = ni.block_size;
	t->nlb = 4096 / ni.block_size;
	t->seed = seed;
	REQUIRE(udk_nvme_qpair_create(c, NULL, &t->qp) == 0);
}

/* Read back every unit with an acknowledged write: the number that differ. */
static int verify_acked(struct target *t, uint32_t *checked)
{
	uint64_t *buf = udk_mem_default_zmalloc(4096, 4096, UDK_SOCKET_ANY);
	int bad = 0;

	*checked = 0;
	REQUIRE(buf != NULL);
	for (uint32_t u = 0; u < UNITS; u++) {
		if (t->acked[u] == 0)
			continue;
		(*checked)++;
		if (udk_nvme_ns_io_sync(t->qp, t->ns, UDK_NVME_IO_READ, buf, (uint64_t)u * t->nlb,
					t->nlb, NULL) != 0) {
			bad++;
			continue;
		}
		for (uint32_t i = 0; i < 4096 / 8; i++)
			if (buf[i] != word(t->seed, u, t->acked[u], i)) {
				if (bad < 3)
					printf("  unit %u: word %u is %#llx, want generation %u\n", u,
					       i, (unsigned long long)buf[i], t->acked[u]);
				bad++;
				break;
			}
	}
	udk_mem_default_free(buf);
	return bad;
}

/* Write n units through a batch of QD commands and verify them all. */
static int use_controller(struct udk_nvme_ctrlr *c, uint64_t seed, uint32_t n)
{
	static struct target t;
	struct slot slots[QD];
	uint32_t checked;
	int bad;

	target_init(&t, c, seed);
	for (int k = 0; k < QD; k++) {
		slots[k].t = &t;
		slots[k].buf = udk_mem_default_zmalloc(4096, 4096, UDK_SOCKET_ANY);
		REQUIRE(slots[k].buf != NULL);
		submit(&slots[k]);
	}
	while (t.ok < n && t.other == 0)
		udk_nvme_qpair_poll(t.qp, 0);
	t.stop = true;
	while (udk_nvme_qpair_outstanding(t.qp) > 0)
		udk_nvme_qpair_poll(t.qp, 0);
	bad = verify_acked(&t, &checked);
	for (int k = 0; k < QD; k++)
		udk_mem_default_free(slots[k].buf);
	udk_nvme_qpair_destroy(t.qp);
	if (bad || t.other)
		printf("  %u units checked, %d bad, %llu other errors (first %s)\n", checked, bad,
		       (unsigned long long)t.other, udk_strerror(t.first_other));
	return bad || t.other ? -1 : (int)checked;
}

/* ---- counting ---- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own fd */
}

struct counts {
	int fds;
	unsigned int mappings, devices;
	uint64_t bytes_mapped, iova_used, heap_in_use;
	size_t malloc_in_use;
};

static void count(struct counts *c)
{
	struct udk_dmamap_info mi;
	struct udk_mem_stats ms;
	struct mallinfo2 m = mallinfo2();

	udk_dmamap_info(udk_eal_dmamap(), &mi);
	udk_mem_stats(udk_eal_mem(), &ms);
	c->fds = count_fds();
	c->mappings = mi.nb_mappings;
	c->devices = mi.nb_devices;
	c->bytes_mapped = mi.bytes_mapped;
	c->iova_used = udk_iova_space_used(udk_dmamap_iova_space(udk_eal_dmamap()));
	c->heap_in_use = ms.bytes_in_use;
	c->malloc_in_use = m.uordblks;
	printf("  fds %d, map: %u devices, %u mappings, %llu bytes, IOVA used %llu; udk heap in "
	       "use %llu, malloc in use %zu\n", c->fds, c->devices, c->mappings,
	       (unsigned long long)c->bytes_mapped, (unsigned long long)c->iova_used,
	       (unsigned long long)c->heap_in_use, c->malloc_in_use);
}

static bool on_bus(const char *bdf)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	return access(path, F_OK) == 0;
}

/* ---- the phases ---- */

static struct target ta, tb;
static struct slot sa[QD], sb[QD];

static void phase_removal(struct udk_nvme_ctrlr *ca, struct udk_nvme_ctrlr *cb)
{
	struct unplugger u = {0};
	struct mmio_reader mr = {0};
	struct udk_dmamap_info mi;
	size_t bar_len;
	void *bar;
	struct udk_nvme_ns *nsb;
	uint64_t ok_at_removal = 0;
	uint32_t checked;
	double t0;
	int bad;

	printf("== surprise removal of %s under I/O, %s keeps going\n", bdf_b, bdf_a);
	target_init(&ta, ca, 0xa);
	target_init(&tb, cb, 0xb);
	nsb = tb.ns;
	for (int k = 0; k < QD; k++) {
		sa[k] = (struct slot){.t = &ta, .buf = udk_mem_default_zmalloc(4096, 4096, UDK_SOCKET_ANY)};
		sb[k] = (struct slot){.t = &tb, .buf = udk_mem_default_zmalloc(4096, 4096, UDK_SOCKET_ANY)};
		REQUIRE(sa[k].buf != NULL && sb[k].buf != NULL);
		submit(&sa[k]);
		submit(&sb[k]);
	}
	REQUIRE(udk_pci_bar_map(udk_eal_device(1), 0, &bar, &bar_len) == 0);
	mr.csts = (volatile uint32_t *)((uint8_t *)bar + 0x1c);
	REQUIRE(pthread_create(&mr.thr, NULL, mmio_main, &mr) == 0);
	REQUIRE(pthread_create(&u.thr, NULL, unplug_main, &u) == 0);
	t0 = now();
	while (now() - t0 < 90) {
		udk_nvme_qpair_poll(ta.qp, 0);
		udk_nvme_qpair_poll(tb.qp, 0);
		if (atomic_load(&u.go) == 0 && ta.ok > 500 && tb.ok > 500)
			atomic_store(&u.go, 1); /* both are busy: pull the plug */
		if (ok_at_removal == 0 && removed_count() > 0)
			ok_at_removal = ta.ok;
		if (ok_at_removal && atomic_load(&u.go) == 2 && ta.ok > ok_at_removal + 1000 &&
		    udk_nvme_qpair_outstanding(tb.qp) == 0)
			break;
	}
	pthread_join(u.thr, NULL);
	atomic_store(&mr.stop, true);
	pthread_join(mr.thr, NULL);
	printf("CSTS read %llu times across the removal: first 0x%x, all ones %llu times\n",
	       (unsigned long long)mr.reads, mr.first, (unsigned long long)mr.ones_after);
	CHECK(mr.first == 1);          /* RDY, the device itself */
	CHECK(mr.ones_after > 0);      /* then the tombstone, and the process lives */
	CHECK(udk_pci_bar_map(udk_eal_device(1), 0, &bar, &bar_len) == -UDK_EREMOVED);
	ta.stop = true;
	while (udk_nvme_qpair_outstanding(ta.qp) > 0)
		udk_nvme_qpair_poll(ta.qp, 0);

	printf("QMP device_del: rc %d, DEVICE_DELETED after %.2f s\n", u.rc, u.t_done - u.t_sent);
	CHECK_MSG(u.rc == 0, "the kernel's unplug did not complete: udk kept the device open?");
	CHECK(!on_bus(bdf_b));
	pthread_mutex_lock(&ev_lock);
	CHECK(nb_removed == 1 && strcmp(last_removed, bdf_b) == 0);
	pthread_mutex_unlock(&ev_lock);
	CHECK(udk_pci_dev_removed(udk_eal_device(1)) && !udk_pci_dev_removed(udk_eal_device(0)));
	printf("%s: %llu writes submitted, %llu acknowledged, %llu completed with UDK_EREMOVED, "
	       "%llu refused with it, %llu other\n", bdf_b, (unsigned long long)tb.submitted,
	       (unsigned long long)tb.ok, (unsigned long long)tb.removed,
	       (unsigned long long)tb.refused, (unsigned long long)tb.other);
	CHECK_MSG(tb.other == 0, "first other error: %s", udk_strerror(tb.first_other));
	/* Every command completed exactly once, acknowledged or removed. */
	CHECK(tb.submitted == tb.ok + tb.removed);
	CHECK(tb.removed + tb.refused == QD); /* each slot ended on the removal once */
	CHECK(udk_nvme_qpair_outstanding(tb.qp) == 0);
	CHECK(udk_nvme_ns_write(tb.qp, nsb, sb[0].buf, 0, tb.nlb, write_done, &sb[0]) ==
	      -UDK_EREMOVED);
	CHECK(udk_nvme_ctrlr_health(cb) == -UDK_EREMOVED);
	CHECK(strstr(udk_strerror(-UDK_EREMOVED), "hot-unplug") != NULL);
	printf("%s: %llu writes acknowledged, %llu of them after the removal\n", bdf_a,
	       (unsigned long long)ta.ok, (unsigned long long)(ta.ok - ok_at_removal));
	CHECK(ta.other == 0 && ta.removed == 0 && ta.refused == 0);
	CHECK(ta.ok > ok_at_removal + 1000);
	udk_dmamap_info(udk_eal_dmamap(), &mi);
	printf("map: %u device(s) attached\n", mi.nb_devices);
	CHECK(mi.nb_devices == 1);
	bad = verify_acked(&ta, &checked);
	printf("%s: %u units with an acknowledged write read back: %d differ\n", bdf_a, checked, bad);
	CHECK(bad == 0 && checked > 0);
	CHECK(udk_nvme_qpair_destroy(tb.qp) == 0);
	CHECK(udk_nvme_qpair_destroy(ta.qp) == 0);
	for (int k = 0; k < QD; k++) {
		udk_mem_default_free(sa[k].buf);
		udk_mem_default_free(sb[k].buf);
	}
}

int main(int argc, char **argv0)
{
	char drv_a[64] = "", drv_b[64] = "", drv[64];
	struct udk_nvme_ctrlr *ca, *cb, *cc;
	struct udk_pci_hotadd_opts ho;
	struct udk_pci_id id = {0x1b36, 0x0010};
	struct udk_pci_dev *pc;
	struct counts before, after;
	int n;

	/* malloc's per-thread caches keep freed chunks counted as in use, and
	 * the hot-plug thread allocates what the main thread frees: without
	 * them, malloc's in-use count is exact (a leak check, not a cache
	 * warming up). */
	if (getenv("GLIBC_TUNABLES") == NULL) {
		setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0", 1);
		execv("/proc/self/exe", argv0);
		lab_fatal("re-exec without malloc's thread caches: %s", strerror(errno));
	}
	(void)argc;
	setvbuf(stdout, NULL, _IONBF, 0);
	lab_require_guest();
	bdf_a = lab_env_require("UDK_LAB_NVME");
	bdf_b = lab_env_require("UDK_LAB_NVME2");
	host_dir = lab_env_require("UDK_LAB_HOST_DIR");
	/* Images of its own for the re-added controller, in the share. */
	REQUIRE(lab_sh("truncate -s 256M /mnt/hpnvme.img") == 0);
	lab_device_driver(bdf_a, drv_a, sizeof(drv_a));
	lab_device_driver(bdf_b, drv_b, sizeof(drv_b));
	REQUIRE(lab_bind_vfio(bdf_a) == 0 && lab_bind_vfio(bdf_b) == 0);

	char *argv[] = {"lab", "-l", "0", "-m", "160", "-a", (char *)bdf_a, "-a", (char *)bdf_b,
			NULL};
	REQUIRE(udk_eal_init(9, argv) == 9);
	REQUIRE(udk_pci_event_register(on_event, NULL) == 0);
	CHECK(udk_pci_event_register(on_event, NULL) == -EEXIST);
	REQUIRE(udk_nvme_ctrlr_attach(udk_eal_device(0), NULL, &ca) == 0);
	REQUIRE(udk_nvme_ctrlr_attach(udk_eal_device(1), NULL, &cb) == 0);

	phase_removal(ca, cb);
	udk_nvme_ctrlr_detach(cb); /* the EAL closes its removed device at cleanup */

	printf("== hot-add: a new controller while the program runs\n");
	udk_pci_hotadd_opts_init(&ho, sizeof(ho));
	CHECK(udk_pci_hotadd_start(&ho) == -EINVAL); /* no map, no allow-list */
	ho.map = udk_eal_dmamap();
	ho.bind = true;
	ho.ids = &id;
	ho.nb_ids = 1;
	REQUIRE(udk_pci_hotadd_start(&ho) == 0);
	CHECK(udk_pci_hotadd_start(&ho) == -EBUSY);
	REQUIRE(qmp_add("hpnvme", true) == 0);
	pc = wait_added(0);
	REQUIRE(pc != NULL);
	CHECK(lab_device_driver(bdf_b, drv, sizeof(drv)) == 0 && strcmp(drv, "vfio-pci") == 0);
	CHECK(udk_device_map(udk_pci_dev_device(pc)) == udk_eal_dmamap());
	REQUIRE(udk_nvme_ctrlr_attach(pc, NULL, &cc) == 0);
	n = use_controller(cc, 0xc, 2000);
	printf("hot-added controller: %d units written and verified\n", n);
	CHECK(n > 0);
	n = use_controller(ca, 0xd, 500);
	printf("%s still works: %d units verified\n", bdf_a, n);
	CHECK(n > 0);

	printf("== %d remove/re-add cycles of the same device: nothing leaks\n", CYCLES);
	udk_iova_cache_flush(udk_dmamap_iova_space(udk_eal_dmamap()), 0);
	count(&before);
	for (int i = 0; i < CYCLES; i++) {
		int r0 = removed_count(), a0;

		pthread_mutex_lock(&ev_lock);
		a0 = nb_added;
		pthread_mutex_unlock(&ev_lock);

		REQUIRE(qmp_del() == 0);
		for (double t0 = now(); removed_count() == r0 && now() - t0 < 10;)
			usleep(10000);
		CHECK(removed_count() == r0 + 1);
		udk_nvme_ctrlr_detach(cc);
		udk_pci_dev_close(pc);
		REQUIRE(qmp_add("hpnvme", false) == 0);
		pc = wait_added(a0);
		REQUIRE(pc != NULL);
		REQUIRE(udk_nvme_ctrlr_attach(pc, NULL, &cc) == 0);
		n = use_controller(cc, 0x10 + (uint64_t)i, 64);
		CHECK(n > 0);
		printf("cycle %d: removed, re-added, %d units verified; malloc in use %zu\n", i + 1,
		       n, mallinfo2().uordblks);
	}
	udk_iova_cache_flush(udk_dmamap_iova_space(udk_eal_dmamap()), 0);
	count(&after);
	CHECK(after.fds == before.fds);
	CHECK(after.devices == before.devices && after.mappings == before.mappings);
	CHECK(after.bytes_mapped == before.bytes_mapped);
	CHECK(after.iova_used == before.iova_used);
	CHECK(after.heap_in_use == before.heap_in_use);
	CHECK_MSG(after.malloc_in_use <= before.malloc_in_use,
		  "malloc grew by %zd bytes over %d cycles",
		  (ssize_t)(after.malloc_in_use - before.malloc_in_use), CYCLES);

	printf("== udk_pci_dev_remove: the application gives a device back\n");
	int r0 = removed_count();
	struct udk_pci_addr addr_b;

	CHECK(udk_pci_dev_remove(pc) == 0);
	CHECK(removed_count() == r0 + 1 && udk_pci_dev_removed(pc));
	CHECK(udk_nvme_ctrlr_health(cc) == -UDK_EREMOVED);
	CHECK(udk_pci_dev_remove(pc) == 0 && removed_count() == r0 + 1); /* only once */
	/* The device stays in the system, on vfio-pci, and can be opened again. */
	CHECK(on_bus(bdf_b));
	CHECK(lab_device_driver(bdf_b, drv, sizeof(drv)) == 0 && strcmp(drv, "vfio-pci") == 0);
	udk_nvme_ctrlr_detach(cc);
	udk_pci_dev_close(pc);
	REQUIRE(udk_pci_addr_parse(bdf_b, &addr_b) == 0);
	REQUIRE(udk_pci_dev_open(&addr_b, udk_eal_dmamap(), &pc) == 0);
	REQUIRE(udk_nvme_ctrlr_attach(pc, NULL, &cc) == 0);
	n = use_controller(cc, 0x30, 200);
	printf("reopened after giving it back: %d units verified\n", n);
	CHECK(n > 0);

	udk_pci_hotadd_stop();
	udk_nvme_ctrlr_detach(cc);
	udk_pci_dev_close(pc);
	udk_nvme_ctrlr_detach(ca);
	udk_pci_event_unregister(on_event, NULL);
	udk_eal_cleanup();
	/* Leave the lab as it was: nvme1 present (it is), both on their drivers. */
	CHECK(on_bus(bdf_b));
	lab_bind(bdf_a, drv_a);
	lab_bind(bdf_b, drv_b);
	return lab_result();
}
