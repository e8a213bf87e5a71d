/* SPDX-License-Identifier: BSD-3-Clause */
/* nvme_internal.h - the insides of drivers/nvme's handles, shared by the
 * controller (nvme_ctrlr.c, nvme_admin.c, nvme_aer.c, nvme_recover.c), queue
 * pair (nvme_qpair.c, nvme_fastpath.c) and command (nvme_io.c) code and by
 * tests/unit/nvme and a few lab tests.  Not installed. */
#ifndef UDK_NVME_INTERNAL_H
#define UDK_NVME_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "nvme_spec.h"
#include "udk_mem.h"
#include "udk_nvme.h"
#include "udk_telemetry.h"

#define NVME_LOG "nvme"
#define NVME_PRP_ENTRIES (NVME_PAGE / 8)                     /* one PRP list page */
#define NVME_MAX_XFER_CAP (NVME_PRP_ENTRIES * NVME_PAGE)    /* 2 MiB */
#define NVME_MAX_NLB 65536u /* §6.9: NLB is a 16-bit 0's based field */
#define NVME_SGL_ENTRIES (NVME_PAGE / 16)                   /* descriptors in one page */
#define NVME_AER_MAX 4 /* Asynchronous Event Requests kept outstanding, at most */

enum req_state {
	REQ_FREE = 0,
	REQ_BUSY,     /* queued or in flight, callback pending */
	REQ_TIMED_OUT /* callback done with -ETIMEDOUT; slot kept until the device answers */
};

#define REQ_F_NO_TIMEOUT 0x1 /* an Asynchronous Event Request: completes when an event does */
#define REQ_F_ABORT_SENT 0x2 /* timed out, and recovery has sent Abort for it */

/* One request slot per command identifier; allocated with the qpair. */
struct nvme_req {
	udk_nvme_cb cb;
	void *arg;
	uint64_t deadline_ns;
	uint64_t *prp_list;     /* one page, preallocated: PRP list or SGL segment */
	uint64_t prp_list_iova;
	uint64_t submit_ns;     /* only with a latency histogram */
	uint8_t state;
	uint8_t flags;          /* REQ_F_* */
};

/* Per-qpair counters for telemetry (nvme_telemetry.c), written by the
 * qpair's thread only (udk_counter_add: no locked instruction). */
#define NVME_LAT_BUCKETS 40 /* bucket b: [2^b, 2^(b+1)) ns, b = 0 also 0 ns; the last open */
struct nvme_qpair_stats {
	uint64_t submitted;     /* commands queued */
	uint64_t completed;     /* completions delivered (errors included) */
	uint64_t errors;        /* completions with a device error status */
	uint64_t timeouts;      /* commands completed with -ETIMEDOUT */
	uint64_t cancelled;     /* commands completed with -ECANCELED */
	uint64_t interrupts;    /* eventfd counts read at arm (interrupt modes) */
	uint64_t lat_sum_ns, lat_max_ns; /* with a latency histogram */
};

/* How data pointers are built (qpair opts sgl, resolved against SGLS). */
enum nvme_dptr_mode {
	DPTR_PRP = 0,  /* always PRPs */
	DPTR_SGL_MULTI, /* SGLs for transfers of more than one page, PRPs for one */
	DPTR_SGL       /* always SGLs */
};

/* The mode of a qpair created with opts.sgl = sgl (enum udk_nvme_sgl_mode)
 * on c (ALWAYS without SGLS is refused at create). */
static inline uint8_t nvme_dptr_mode(const struct udk_nvme_ctrlr *c, uint8_t sgl);

/* The fast path's table: what submit and poll touch, in cache lines of
 * their own (STYLE.md 17); the control half follows on separate lines. */
struct udk_nvme_qpair {
	struct {
		struct nvme_sqe *sq;
		volatile struct nvme_cqe *cq;
		volatile uint32_t *sq_db, *cq_db;
		struct nvme_req *reqs;  /* [qsize - 1], indexed by CID */
		uint16_t *free_cids;    /* stack */
		struct udk_nvme_ctrlr *ctrlr;
		uint16_t nb_free;
		uint16_t qsize;
		uint16_t sq_tail, sq_db_tail, cq_head;
		uint8_t phase;
		uint8_t dptr;           /* enum nvme_dptr_mode */
		bool failed;            /* the controller failed or is gone */
		uint32_t in_flight;     /* REQ_BUSY slots */
		uint32_t timed_out;     /* REQ_TIMED_OUT slots */
		uint32_t max_xfer;      /* the controller's, copied here for the checks */
		struct udk_mem *mem;    /* translates buffers: the controller's heap */
		uint64_t timeout_ns;
		uint64_t next_check_ns;
		struct nvme_qpair_stats stats; /* telemetry's counters */
		uint64_t *lat_hist;     /* [NVME_LAT_BUCKETS]; NULL: latency not recorded */
	} __attribute__((aligned(64)));
	struct {
		uint16_t qid;
		uint8_t intr;           /* enum udk_nvme_intr_mode */
		int efd;                /* MSI-X vector qid's eventfd, -1 in POLL mode */
		uint64_t sq_iova, cq_iova;
		void *prp_pages;
		struct udk_nvme_qpair *next; /* the controller's list */
	} __attribute__((aligned(64)));
};

struct udk_nvme_ns {
	struct udk_nvme_ctrlr *ctrlr;
	uint32_t nsid;
	uint64_t nsze, ncap, nuse;
	uint32_t block_size;
	uint8_t block_shift;
	uint16_t ms;
	uint8_t nlbaf, flbas;
};

struct udk_nvme_ctrlr {
	pthread_mutex_t lock; /* control calls */
	struct udk_pci_dev *pdev;
	struct udk_mem *mem;    /* the heap of pdev's map (a reference): all DMA memory */
	volatile uint8_t *bar;
	size_t bar_len;
	struct udk_nvme_ctrlr_opts opts;
	struct udk_nvme_ctrlr_info info;
	uint32_t dstrd;         /* doorbell stride in bytes */
	struct udk_nvme_qpair admin;
	uint8_t *idc;           /* Identify Controller, 4 KiB of DMA memory */
	void *scratch;          /* 4 KiB DMA page for Identify Namespace and lists */
	struct udk_nvme_ns *ns; /* [info.nb_active_ns], by ascending nsid */
	struct udk_nvme_qpair *qpairs;
	uint8_t *qid_used;      /* [nb_io_queues + 1] */
	bool failed;
	bool removed;           /* atomic: hot-unplugged (remove.c); failed is set too */
	bool recovering;        /* inside timeout recovery or reset: no nested recovery */
	uint32_t sgls;          /* Identify SGLS */
	/* Asynchronous events (nvme_aer.c) */
	udk_nvme_aer_cb aer_cb;
	void *aer_arg;
	uint16_t aer_armed;     /* AERs outstanding on the admin queue */
	uint16_t aer_limit;     /* AERL + 1, at most NVME_AER_MAX */
	uint16_t nb_events;     /* completed, not yet handled */
	uint32_t events[NVME_AER_MAX];
	void *aer_log;          /* 4 KiB DMA page the event's log page is read into */
	uint64_t nb_aer_events; /* handled since attach */
	/* MSI-X (nvme_qpair.c): enabled at the first interrupt qpair; vector v
	 * goes to msix_efds[v] (owned by pdev's lib/pci), v = the queue's qid. */
	int *msix_efds;
	unsigned int msix_nvec;
};

/* nvme_qpair.c: a qpair's life outside the hot path. */
uint64_t nvme_now_ns(void);
int nvme_qpair_init(struct udk_nvme_qpair *qp, struct udk_nvme_ctrlr *ctrlr, uint16_t qid,
		    uint16_t qsize, uint32_t timeout_ms);
void nvme_qpair_reset_ring(struct udk_nvme_qpair *qp);
void nvme_qpair_cancel_all(struct udk_nvme_qpair *qp);
void nvme_qpair_fini(struct udk_nvme_qpair *qp);
/* Submit on qp and poll until done (control path and sync helper). */
int nvme_qpair_exec(struct udk_nvme_qpair *qp, struct nvme_sqe *sqe, void *buf, size_t len,
		    struct udk_nvme_cpl *cpl);
/* Create I/O CQ + SQ for qp (§5.4, §5.5) / delete them (§5.6, §5.7); c->lock held. */
int nvme_ctrlr_create_io_queues(struct udk_nvme_ctrlr *c, struct udk_nvme_qpair *qp);
int nvme_ctrlr_delete_io_queues(struct udk_nvme_ctrlr *c, struct udk_nvme_qpair *qp);
/* Turn off the MSI-X the interrupt qpairs enabled (detach). */
void nvme_ctrlr_msix_release(struct udk_nvme_ctrlr *c);

/* nvme_fastpath.c (and nvme_dptr.h): submission and completion. */
/* Queue a prepared SQE (cid set here) with buf's data pointer (PRPs, or an
 * SGL when the qpair's mode says so); no doorbell.  req_flags: REQ_F_*. */
int nvme_qpair_submit(struct udk_nvme_qpair *qp, struct nvme_sqe *sqe, void *buf, size_t len,
		      udk_nvme_cb cb, void *arg, uint8_t req_flags);

/* nvme_io.c: checks of an I/O request against its namespace, with the
 * error line; the fast path calls it.  0 or the error code. */
int nvme_io_check(const struct udk_nvme_qpair *qp, const struct udk_nvme_ns *ns,
		  enum udk_nvme_io_op op, const void *buf, uint64_t lba, uint32_t nlb);
void nvme_io_build(struct nvme_sqe *sqe, const struct udk_nvme_ns *ns, enum udk_nvme_io_op op,
		   uint64_t lba, uint32_t nlb, uint32_t flags);

/* remove.c: surprise removal.  hook: set (on) or clear lib/pci's remove
 * handler; removed: the flag, one acquire load; qpair_removed: on the
 * qpair's thread, complete everything it holds with -UDK_EREMOVED. */
void nvme_remove_hook(struct udk_nvme_ctrlr *c, bool on);
bool nvme_ctrlr_removed(const struct udk_nvme_ctrlr *c);
void nvme_qpair_removed(struct udk_nvme_qpair *qp);

/* nvme_telemetry.c: the "nvme" command's list of controllers. */
void nvme_telemetry_add(struct udk_nvme_ctrlr *c);
void nvme_telemetry_remove(struct udk_nvme_ctrlr *c);

/* One command's latency into qp's histogram (the histogram is there). */
static inline void nvme_lat_record(struct udk_nvme_qpair *qp, uint64_t submit_ns, uint64_t now)
{
	uint64_t d = now > submit_ns ? now - submit_ns : 0;
	unsigned int b = d > 1 ? 63u - (unsigned int)__builtin_clzll(d) : 0;

	if (b >= NVME_LAT_BUCKETS)
		b = NVME_LAT_BUCKETS - 1;
	udk_counter_add(&qp->lat_hist[b], 1);
	udk_counter_add(&qp->stats.lat_sum_ns, d);
	if (d > qp->stats.lat_max_ns)
		__atomic_store_n(&qp->stats.lat_max_ns, d, __ATOMIC_RELAXED);
}

/* nvme_ctrlr.c: bring-up. */
/* udk_nvme_ctrlr_reset() with c->lock held. */
int nvme_ctrlr_reset_locked(struct udk_nvme_ctrlr *c);

/* nvme_admin.c: admin commands. */
/* An admin command, waited for, with c->lock held; logs a failure naming what. */
int nvme_admin(struct udk_nvme_ctrlr *c, struct nvme_sqe *sqe, void *buf, size_t len,
	       struct udk_nvme_cpl *cpl, const char *what);

/* nvme_aer.c: Asynchronous Event Requests (§5.2). */
/* Enable the events (Set Features 0Bh) and submit AERs up to AERL + 1 (or
 * re-submit after a reset); c->lock held. */
int nvme_aer_arm(struct udk_nvme_ctrlr *c);
/* Handle the events the admin queue has delivered: read each one's log page
 * (which clears it), tell the user, re-arm; c->lock held. */
void nvme_aer_handle(struct udk_nvme_ctrlr *c);

/* nvme_recover.c: a command of qp timed out (its callback has run): Abort
 * it (§5.1), and when that fails reset the controller (opts.timeout_action).
 * Runs on qp's thread from its poll; takes c->lock unless qp is the admin
 * queue (whose users hold it).  Returns true when the controller was reset
 * (the caller's ring state is new: stop polling this round). */
bool nvme_recover_timeouts(struct udk_nvme_qpair *qp, bool fatal);

static inline uint32_t nvme_rd32(const struct udk_nvme_ctrlr *c, uint32_t off)
{
	return *(const volatile uint32_t *)(c->bar + off);
}

static inline void nvme_wr32(struct udk_nvme_ctrlr *c, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(c->bar + off) = v;
}

static inline uint8_t nvme_dptr_mode(const struct udk_nvme_ctrlr *c, uint8_t sgl)
{
	if (sgl == UDK_NVME_SGL_NEVER || !(c->info.sgls & 3))
		return DPTR_PRP;
	return sgl == UDK_NVME_SGL_ALWAYS ? DPTR_SGL : DPTR_SGL_MULTI;
}

#endif
