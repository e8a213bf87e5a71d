/* SPDX-License-Identifier: BSD-3-Clause */
/* fakedev.h - an NVMe controller in memory for tests/unit/nvme: a thread that
 * plays the device behind a struct udk_nvme_ctrlr built by the test.  It
 * follows CC.EN with CSTS.RDY, serves the admin commands the driver's
 * bring-up sends (Identify, Set Features, Create/Delete I/O queues), keeps
 * Asynchronous Event Requests until the test posts an event, answers Abort
 * as the test says, and completes reads and writes at once or holds them.
 * Queues and data are udk DMA memory of fakemem.h, found from their IOVAs. */
#ifndef UDK_TEST_NVME_FAKEDEV_H
#define UDK_TEST_NVME_FAKEDEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "nvme_internal.h"

enum fake_abort {
	FAKE_ABORT_OK,     /* complete the command with Command Abort Requested, DW0 0 */
	FAKE_ABORT_NOT,    /* DW0 bit 0 set: not aborted */
	FAKE_ABORT_SILENT, /* never answer the Abort */
};

#define FAKE_QUEUES 4
#define FAKE_HELD 64

struct fakedev {
	uint8_t bar[0x4000] __attribute__((aligned(64)));
	pthread_t thread;
	bool stop;
	struct {
		uint64_t base;
		uint16_t size, head, cqid;
		bool live;
	} sq[FAKE_QUEUES];
	struct {
		uint64_t base;
		uint16_t size, tail;
		uint8_t phase;
		bool live;
		uint32_t cdw11;   /* of its Create I/O CQ */
	} cq[FAKE_QUEUES];
	/* MSI-X as the test routes it: a CQ created with IEN signals
	 * vec_efd[IV] after each entry it posts (none when IV >= nvec); the
	 * admin CQ always signals vector 0. */
	int vec_efd[FAKE_QUEUES];
	int nvec;
	uint32_t feat_cdw10, feat_cdw11; /* of the last Set Features */
	/* Behaviour, set by the test (atomically while the thread runs). */
	int abort_mode;
	bool hold_io;
	uint32_t post_event; /* non-zero: complete an AER with this DW0 */
	/* What happened, read by the test. */
	struct {
		uint16_t sqid, cid;
	} held[FAKE_HELD];
	int nheld;
	uint16_t aer[8];
	int naer;
	int nabort, nenable, ndisable, nlog;
	int nrw; /* read and write commands served */
};

/* A controller on a new fake device, brought up by udk_nvme_ctrlr_reset()
 * (the driver's own sequence) with opts; NULL on failure. */
struct udk_nvme_ctrlr *fakedev_ctrlr(struct fakedev **dev, const struct udk_nvme_ctrlr_opts *opts);
/* Destroy the qpairs, stop the device, free everything. */
void fakedev_free(struct udk_nvme_ctrlr *c, struct fakedev *dev);

static inline int fakedev_get(int *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

#endif
