/* nvme_internal.h - the insides of drivers/nvme's handles, shared by the
 * controller (nvme_ctrlr.c), queue pair (nvme_qpair.c) and command
 * (nvme_cmd.c) code and by tests/unit/nvme.  Not installed. */
#ifndef UDK_NVME_INTERNAL_H
#define UDK_NVME_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "nvme_spec.h"
#include "udk_nvme.h"
#include "udk_telemetry.h"

#define NVME_LOG "nvme"
#define NVME_PRP_ENTRIES (NVME_PAGE / 8)                     /* one PRP list page */
#define NVME_MAX_XFER_CAP (NVME_PRP_ENTRIES * NVME_PAGE)    /* 2 MiB */

enum req_state {
	REQ_FREE = 0,
	REQ_BUSY,     /* queued or in flight, callback pending */
	REQ_TIMED_OUT /* callback done with -ETIMEDOUT; slot kept until the device answers */
};

/* One request slot per command identifier; allocated with the qpair. */
struct nvme_req {
	udk_nvme_cb cb;
	void *arg;
	uint64_t deadline_ns;
	uint64_t *prp_list;     /* one page, preallocated */
	uint64_t prp_list_iova;
	uint64_t submit_ns;     /* only with a latency histogram */
	uint8_t state;
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
	uint64_t lat_sum_ns, lat_max_ns; /* with a latency histogram */
};

/* A segment of udk memory this qpair has translated: lib/mem's lookup
 * takes a lock, so the fast path asks it once per segment and qpair. */
struct nvme_xlate {
	uintptr_t va, end;
	uint64_t iova;
};
#define NVME_XLATE_SLOTS 8

struct udk_nvme_qpair {
	/* fast path */
	struct nvme_sqe *sq;
	volatile struct nvme_cqe *cq;
	volatile uint32_t *sq_db, *cq_db;
	struct nvme_req *reqs;  /* [qsize - 1], indexed by CID */
	uint16_t *free_cids;    /* stack */
	uint16_t nb_free;
	uint16_t qsize;
	uint16_t sq_tail, sq_db_tail, cq_head;
	uint8_t phase;
	bool failed;            /* the controller failed or is gone */
	uint32_t in_flight;     /* REQ_BUSY slots */
	uint32_t timed_out;     /* REQ_TIMED_OUT slots */
	uint64_t timeout_ns;
	uint64_t next_check_ns;
	struct nvme_xlate xlate[NVME_XLATE_SLOTS];
	unsigned int xlate_next;
	struct nvme_qpair_stats stats;
	uint64_t *lat_hist;     /* [NVME_LAT_BUCKETS]; NULL: latency not recorded */
	/* control */
	struct udk_nvme_ctrlr *ctrlr;
	uint16_t qid;
	uint64_t sq_iova, cq_iova;
	void *prp_pages;
	struct udk_nvme_qpair *next; /* the controller's list */
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
};

/* nvme_qpair.c */
uint64_t nvme_now_ns(void);
int nvme_qpair_init(struct udk_nvme_qpair *qp, struct udk_nvme_ctrlr *ctrlr, uint16_t qid,
		    uint16_t qsize, uint32_t timeout_ms);
void nvme_qpair_reset_ring(struct udk_nvme_qpair *qp);
void nvme_qpair_cancel_all(struct udk_nvme_qpair *qp);
void nvme_qpair_fini(struct udk_nvme_qpair *qp);
/* Queue a prepared SQE (cid set here) with buf's PRPs; no doorbell. */
int nvme_qpair_submit(struct udk_nvme_qpair *qp, struct nvme_sqe *sqe, void *buf, size_t len,
		      udk_nvme_cb cb, void *arg);
/* Fill sqe's PRP1/PRP2 for [buf, buf+len), using list (one page) if needed.
 * 0, -EINVAL (unaligned) or -UDK_ENOTMAPPED (logged by the caller). */
typedef uint64_t (*nvme_v2i_fn)(void *ctx, const void *va);
int nvme_build_prps(struct nvme_sqe *sqe, void *buf, size_t len, uint64_t *list,
		    uint64_t list_iova, nvme_v2i_fn v2i, void *ctx);
/* The IOVA of va through qp's segment cache, or UDK_BAD_IOVA. */
uint64_t nvme_qpair_v2i(void *qp, const void *va);
/* Submit on qp and poll until done (control path and sync helper). */
int nvme_qpair_exec(struct udk_nvme_qpair *qp, struct nvme_sqe *sqe, void *buf, size_t len,
		    struct udk_nvme_cpl *cpl);

/* nvme_cmd.c: checks of an I/O request against its namespace, with the
 * error line; the fast path calls it.  0 or the error code. */
int nvme_io_check(const struct udk_nvme_qpair *qp, const struct udk_nvme_ns *ns,
		  enum udk_nvme_io_op op, const void *buf, uint64_t lba, uint32_t nlb);
void nvme_io_build(struct nvme_sqe *sqe, const struct udk_nvme_ns *ns, enum udk_nvme_io_op op,
		   uint64_t lba, uint32_t nlb, uint32_t flags);

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

/* nvme_ctrlr.c */
int nvme_ctrlr_create_io_queues(struct udk_nvme_ctrlr *c, struct udk_nvme_qpair *qp);
int nvme_ctrlr_delete_io_queues(struct udk_nvme_ctrlr *c, struct udk_nvme_qpair *qp);

static inline uint32_t nvme_rd32(const struct udk_nvme_ctrlr *c, uint32_t off)
{
	return *(const volatile uint32_t *)(c->bar + off);
}

static inline void nvme_wr32(struct udk_nvme_ctrlr *c, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(c->bar + off) = v;
}

#endif
