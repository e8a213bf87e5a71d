/* SPDX-License-Identifier: BSD-3-Clause */
/* udk_nvme.h - NVMe over PCIe through VFIO: controllers, namespaces and I/O
 * queue pairs.
 *
 * A struct udk_nvme_ctrlr drives one NVMe controller (a struct udk_pci_dev of
 * lib/pci, attached to any map); its namespaces are struct udk_nvme_ns
 * handles it owns; struct udk_nvme_qpair is one I/O submission / completion
 * queue pair, owned by one lcore.
 *
 * Memory: the controller takes its queues and PRP list pages from the heap of
 * its device's map (udk_eal_device_mem_get()), and every buffer given to an
 * I/O or admin call must be DMA memory of that map: allocated from
 * udk_nvme_ctrlr_mem() (on the default map that is udk_mem_default_zmalloc()'s heap)
 * or registered with udk_dma_register() on the map.  A buffer the controller's
 * heap cannot translate is refused with -UDK_ENOTMAPPED before anything
 * reaches the device.
 *
 * Threads: control calls (attach, detach, reset, admin commands, qpair create
 * and destroy) are thread-safe against each other (the controller has a lock).
 * The I/O calls (udk_nvme_ns_io() and its wrappers, udk_nvme_qpair_poll()) take
 * no lock, make no system call, allocate nothing and log only when they refuse
 * bad input: each qpair must be used by one thread at a time (its lcore), and
 * never while a control call destroys it or resets its controller.
 */
#ifndef UDK_NVME_H
#define UDK_NVME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "udk_cdefs.h"
#include "udk_pci.h"

#ifdef __cplusplus
extern "C" {
#endif

struct udk_mem;

struct udk_nvme_ctrlr;
struct udk_nvme_ns;
struct udk_nvme_qpair;

/* How a command ended.  rc: 0 success; -EIO the device returned an error
 * status (status holds SCT << 8 | SC, NVMe 1.4 §4.6.1); -ETIMEDOUT no
 * completion within the qpair's timeout; -ECANCELED failed by a controller
 * reset (udk_nvme_ctrlr_reset()) or by qpair destruction; -UDK_EREMOVED the
 * controller was hot-unplugged (doc/hotplug.md): every command it had not
 * completed ends so, on the qpair's thread, at its next poll. */
struct udk_nvme_cpl {
	int rc;
	uint16_t status; /* SCT 10:8, SC 7:0; 0 on success */
	uint32_t dw0;    /* command specific */
};

/* Called from udk_nvme_qpair_poll() on the qpair's thread (or from
 * udk_nvme_ctrlr_reset()/udk_nvme_qpair_destroy() for cancelled commands),
 * once per command.  It may submit new commands on the same qpair. */
typedef void (*udk_nvme_cb)(void *arg, const struct udk_nvme_cpl *cpl);

/* A status as words: "Invalid Field in Command (SCT 0, SC 0x2)".  Never NULL. */
const char *udk_nvme_status_str(uint16_t status);

/* ---- controllers ---- */

/* What a command timeout leads to (NVMe 1.4 §5.1, §7.3.2).  The timed-out
 * command's callback always runs first, with -ETIMEDOUT; then: */
enum udk_nvme_timeout_action {
	/* Abort the command (admin Abort, SQID and CID); if the controller
	 * cannot abort it (error, "not aborted", or no answer within the admin
	 * timeout) or reports a fatal status, reset the controller right there,
	 * on the polling thread: every other command in flight completes with
	 * -ECANCELED.  Safe when the controller's qpairs are all polled by the
	 * thread that sees the timeout (tools, one-lcore programs). */
	UDK_NVME_TIMEOUT_ABORT_RESET = 0,
	/* Abort; if that fails, mark the controller failed (new I/O gets
	 * -UDK_EDEVSTATE) and leave the reset to the application, which stops
	 * its lcores and calls udk_nvme_ctrlr_reset().  For several lcores. */
	UDK_NVME_TIMEOUT_ABORT,
	/* Nothing beyond the -ETIMEDOUT callback (the slot stays reserved
	 * until the device answers or the controller is reset). */
	UDK_NVME_TIMEOUT_NONE,
};

struct udk_nvme_ctrlr_opts {
	size_t opts_size;       /* set by udk_nvme_ctrlr_opts_init() */
	uint16_t admin_qsize;   /* admin queue entries, 2..4096 (default 32) */
	uint16_t nb_io_queues;  /* I/O queue pairs to ask for (default 16) */
	uint32_t admin_timeout_ms; /* per admin command (default 10000) */
	uint8_t timeout_action; /* enum udk_nvme_timeout_action (default ABORT_RESET) */
	bool no_aer;            /* submit no Asynchronous Event Requests (default false) */
};
void udk_nvme_ctrlr_opts_init(struct udk_nvme_ctrlr_opts *opts, size_t size);

/* Initialise the controller of pdev (NVMe 1.4 §7.6.1): check CAP and VS,
 * disable it (waiting up to CAP.TO), set up the admin queue pair, enable it,
 * Identify the controller, ask for the I/O queues (Set Features, Number of
 * Queues), Identify the active namespaces.  pdev must be attached to a map
 * (udk_eal_init() with -a attaches it to the default one; any other map
 * works the same way) and stays owned by the caller; it must outlive the
 * controller, and stay attached to the same map until it is detached.  The
 * controller holds a reference on its map's heap until then.  0 or a
 * negative error, with a line naming the step: -ENODEV (not an NVMe
 * controller, or gone), -ENOTSUP (no NVM command set, or pages above 4 KiB),
 * -UDK_EDETACHED (pdev on no map), -ENOMEM (no memory in its map's heap:
 * lib/mem said why), -ETIMEDOUT (RDY did not follow CC.EN within CAP.TO),
 * -UDK_EDEVSTATE (fatal status, CSTS.CFS). */
int udk_nvme_ctrlr_attach(struct udk_pci_dev *pdev, const struct udk_nvme_ctrlr_opts *opts,
			  struct udk_nvme_ctrlr **out);

/* Destroy every qpair left (their commands complete with -ECANCELED), shut
 * the controller down (CC.SHN, then CC.EN = 0) and free it.  Its namespaces
 * and qpairs become invalid.  pdev is left open.  A removed controller is
 * only freed (its commands end with -UDK_EREMOVED). */
void udk_nvme_ctrlr_detach(struct udk_nvme_ctrlr *ctrlr);

/* Values read at attach (and refreshed by reset).  Strings are trimmed. */
struct udk_nvme_ctrlr_info {
	char bdf[UDK_PCI_ADDR_STRLEN];
	char serial[21], model[41], firmware[9];
	uint16_t vid, ssvid, cntlid;
	uint32_t vs;            /* §3.1.2: major 31:16, minor 15:8, tertiary 7:0 */
	uint64_t cap;           /* §3.1.1 */
	uint32_t timeout_ms;    /* CAP.TO */
	uint32_t max_qsize;     /* CAP.MQES + 1 */
	uint32_t max_xfer;      /* bytes per I/O: MDTS, at most 2 MiB (one PRP list page) */
	uint32_t nn;            /* number of namespaces (Identify NN) */
	uint32_t nb_active_ns;
	uint16_t oncs;          /* optional NVM commands (DSM bit 2, Write Zeroes bit 3) */
	uint16_t nb_io_queues;  /* granted by the controller */
	uint8_t elpe;           /* error log entries - 1 */
	bool vwc;               /* a volatile write cache is present */
	uint32_t sgls;          /* Identify SGLS (§5.15.2): bits 1:0 != 0 if SGLs work for I/O */
	uint8_t aerl;           /* Identify AERL: outstanding AERs supported - 1 */
	uint16_t nb_aer;        /* AERs udk keeps outstanding (0 with no_aer) */
};
int udk_nvme_ctrlr_info(const struct udk_nvme_ctrlr *ctrlr, struct udk_nvme_ctrlr_info *info);

/* The heap of ctrlr's map: where the application allocates the buffers it
 * gives to ctrlr's I/O and admin calls (udk_mem_zmalloc()/udk_mem_free()).
 * On the default map it is udk_mem_default().  Valid until the controller is
 * detached; an application that keeps buffers longer takes its own
 * reference (udk_eal_device_mem_get()).  Any thread. */
struct udk_mem *udk_nvme_ctrlr_mem(const struct udk_nvme_ctrlr *ctrlr);

/* The 4096-byte Identify Controller data (§5.15.2), owned by ctrlr. */
const void *udk_nvme_ctrlr_identify_data(const struct udk_nvme_ctrlr *ctrlr);

/* Reset the controller (CC.EN = 0, then the §7.6.1 sequence again) and
 * rebuild the admin queue and every I/O qpair at its size; qpair and namespace
 * handles stay valid.  Every command in flight is completed first, on the
 * calling thread, with rc -ECANCELED.  No thread may use the controller's
 * qpairs during the call.  This is also the way out of a fatal status. */
int udk_nvme_ctrlr_reset(struct udk_nvme_ctrlr *ctrlr);

/* ---- asynchronous events (§5.2) ---- */

/* One Asynchronous Event, as completed by the controller (§5.2.1, Figure
 * 146) and with the log page udk read to clear it. */
#define UDK_NVME_AER_ERROR 0   /* type: error status */
#define UDK_NVME_AER_SMART 1   /* type: SMART / health status */
#define UDK_NVME_AER_NOTICE 2  /* type: notice */
#define UDK_NVME_AER_IO 6      /* type: I/O command set specific */
#define UDK_NVME_AER_VENDOR 7  /* type: vendor specific */
struct udk_nvme_aer {
	uint8_t type;          /* UDK_NVME_AER_* */
	uint8_t info;          /* Asynchronous Event Information, e.g. SMART 01h temperature threshold */
	uint8_t log_page;      /* the log page that holds the details (read by udk) */
	uint32_t dw0;          /* the completion's DW0 as is */
	int log_rc;            /* 0, or the error of reading the log page */
	const void *log;       /* the first 512 bytes of that log page (valid during the callback) */
};

/* Called on the thread that runs udk_nvme_ctrlr_process_admin() (or any
 * control call that polls the admin queue), with the controller's lock held:
 * it must not make control calls on ctrlr. */
typedef void (*udk_nvme_aer_cb)(void *arg, struct udk_nvme_ctrlr *ctrlr,
				const struct udk_nvme_aer *ev);

/* Register (cb != NULL) or remove the event callback.  Each event is also
 * logged (notice level) whether or not a callback is registered. */
void udk_nvme_ctrlr_register_aer_cb(struct udk_nvme_ctrlr *ctrlr, udk_nvme_aer_cb cb, void *arg);

/* Poll the admin queue: handle the asynchronous events that completed (read
 * the log page each names, which clears it on the controller, call the
 * callback, submit a new AER).  Call it now and then from a control thread
 * (once a second is plenty).  Returns the number of events handled, or
 * -UDK_EDEVSTATE when the controller has failed.  Takes the lock. */
int udk_nvme_ctrlr_process_admin(struct udk_nvme_ctrlr *ctrlr);

/* "SMART/health: temperature threshold (type 1, info 0x01, log 0x02)". */
const char *udk_nvme_aer_str(const struct udk_nvme_aer *ev);

/* Read CSTS: 0 when ready; -UDK_EDEVSTATE with a line when the controller
 * reports a fatal status (CSTS.CFS: reset it) or is not ready; -ENODEV when
 * it reads all ones (removed).  Control path (one MMIO read). */
int udk_nvme_ctrlr_health(struct udk_nvme_ctrlr *ctrlr);

/* A raw admin command (§5), waited for.  cmd is the 64-byte submission queue
 * entry; the driver sets CID, and the PRPs from buf when buf is not NULL
 * (memory of the controller's map, udk_nvme_ctrlr_mem(), up to 2 MiB); with
 * buf NULL the command's own PRPs go to the device as they are.  0 on success; -EIO with the status in cpl (if
 * not NULL) and a line on a device error; -ETIMEDOUT after admin_timeout_ms. */
struct udk_nvme_cmd {
	uint8_t opc, flags;
	uint16_t cid;
	uint32_t nsid, cdw2, cdw3;
	uint64_t mptr, prp1, prp2;
	uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};
int udk_nvme_ctrlr_admin(struct udk_nvme_ctrlr *ctrlr, const struct udk_nvme_cmd *cmd, void *buf,
			 size_t len, struct udk_nvme_cpl *cpl);

/* Get Log Page (§5.14) lid for nsid (0xffffffff: the controller) into buf
 * (memory of the controller's map, len a multiple of 4). */
#define UDK_NVME_LOG_ERROR 0x01
#define UDK_NVME_LOG_SMART 0x02
int udk_nvme_ctrlr_get_log_page(struct udk_nvme_ctrlr *ctrlr, uint8_t lid, uint32_t nsid,
				void *buf, size_t len);

/* Set / Get Features (§5.21, §5.9); dw0 (may be NULL) gets completion DW0. */
int udk_nvme_ctrlr_set_features(struct udk_nvme_ctrlr *ctrlr, uint8_t fid, uint32_t cdw11,
				uint32_t *dw0);
int udk_nvme_ctrlr_get_features(struct udk_nvme_ctrlr *ctrlr, uint8_t fid, uint32_t cdw11,
				uint32_t *dw0);

/* Format NVM (§5.23) namespace nsid (0xffffffff: all) with LBA format lbaf
 * and secure erase setting ses (0 none, 1 user data, 2 crypto), then read the
 * namespaces again.  No I/O may be in flight on nsid. */
int udk_nvme_ctrlr_format(struct udk_nvme_ctrlr *ctrlr, uint32_t nsid, uint8_t lbaf, uint8_t ses);

/* §5.14.1.2, Figure 196: SMART / Health Information (log 02h). */
struct udk_nvme_smart_log {
	uint8_t critical_warning;
	uint16_t temperature;        /* Kelvin */
	uint8_t avail_spare, spare_thresh, percent_used, endurance_group_warning;
	uint8_t rsvd7[25];
	uint8_t data_units_read[16]; /* 128-bit little-endian counters, 1000 * 512 bytes */
	uint8_t data_units_written[16];
	uint8_t host_read_cmds[16];
	uint8_t host_write_cmds[16];
	uint8_t ctrl_busy_time[16];
	uint8_t power_cycles[16];
	uint8_t power_on_hours[16];
	uint8_t unsafe_shutdowns[16];
	uint8_t media_errors[16];
	uint8_t num_err_log_entries[16];
	uint32_t warning_temp_time, critical_temp_time;
	uint16_t temp_sensor[8];
	uint8_t rsvd216[296];
} __attribute__((packed));
UDK_STATIC_ASSERT(sizeof(struct udk_nvme_smart_log) == 512, "NVMe 1.4 §5.14.1.2: 512 bytes");

/* §5.14.1.1, Figure 194: one Error Information log entry (log 01h). */
struct udk_nvme_error_log {
	uint64_t error_count;        /* 0: the entry is empty */
	uint16_t sqid, cid, status;  /* status: bit 0 phase, 15:1 as in a CQE */
	uint16_t param_error_location;
	uint64_t lba;
	uint32_t nsid;
	uint8_t vs, trtype, rsvd30[2];
	uint64_t cmd_specific;
	uint16_t trtype_specific;
	uint8_t rsvd42[22];
} __attribute__((packed));
UDK_STATIC_ASSERT(sizeof(struct udk_nvme_error_log) == 64, "NVMe 1.4 §5.14.1.1: 64 bytes");

/* ---- namespaces (owned by their controller) ---- */

/* The active namespace IDs (Identify CNS 02h at attach), up to max; returns
 * how many there are. */
uint32_t udk_nvme_ctrlr_active_ns(const struct udk_nvme_ctrlr *ctrlr, uint32_t *nsids,
				  uint32_t max);

/* The namespace nsid, or -ENOENT with a line ("namespace 5 is not active on
 * 0000:00:04.0; active: 1") when it is not an active namespace. */
int udk_nvme_ctrlr_ns(struct udk_nvme_ctrlr *ctrlr, uint32_t nsid, struct udk_nvme_ns **ns);

struct udk_nvme_ns_info {
	uint32_t nsid;
	uint64_t nsze, ncap, nuse; /* in blocks */
	uint32_t block_size;       /* bytes per LBA of the format in use */
	uint16_t ms;               /* metadata bytes per LBA */
	uint8_t nlbaf, flbas;
};
int udk_nvme_ns_info(const struct udk_nvme_ns *ns, struct udk_nvme_ns_info *info);

/* ---- I/O queue pairs ---- */

/* Data pointers of read and write commands (§4.3 PRPs, §4.4 SGLs). */
enum udk_nvme_sgl_mode {
	UDK_NVME_SGL_AUTO = 0, /* SGLs for transfers over one page if the controller has them */
	UDK_NVME_SGL_NEVER,    /* PRPs only */
	UDK_NVME_SGL_ALWAYS,   /* SGLs for every transfer; -ENOTSUP at create without SGLS */
};

/* How a qpair's user learns of completions (doc/interrupts.md). */
enum udk_nvme_intr_mode {
	UDK_NVME_INTR_POLL = 0,  /* poll only: the CQ has no interrupt (IEN 0) */
	/* The CQ is created with interrupts (IEN 1) on MSI-X vector qid, which
	 * signals udk_nvme_qpair_eventfd().  The two modes differ only in how
	 * the lcore waits (udk_lcore_wait_opts spin_polls 0, or N empty polls
	 * first); the driver treats them alike. */
	UDK_NVME_INTR_INTERRUPT,
	UDK_NVME_INTR_ADAPTIVE,
};

struct udk_nvme_qpair_opts {
	size_t opts_size;     /* set by udk_nvme_qpair_opts_init() */
	uint16_t qsize;       /* entries, 2..CAP.MQES+1 (default 256); qsize-1 in flight */
	uint32_t timeout_ms;  /* per command, 0: none (default 30000) */
	uint8_t sgl;          /* enum udk_nvme_sgl_mode (default AUTO) */
	/* Record each command's latency (submit to completion) in a log2
	 * histogram that telemetry reports ("nvme" command, doc/telemetry.md).
	 * Costs a clock read (vDSO, no system call) per submit and per poll that
	 * completes something.  Default off.  The counters of submitted,
	 * completed, failed, timed-out and cancelled commands are always kept. */
	bool latency_hist;
	/* enum udk_nvme_intr_mode (default POLL).  Any other mode enables the
	 * controller's MSI-X (one vector per I/O queue plus the admin queue's,
	 * at most the table's size) at the first such qpair; create fails with
	 * -ENOTSUP and a line when the device has no MSI-X or no vector qid. */
	uint8_t intr;
};
void udk_nvme_qpair_opts_init(struct udk_nvme_qpair_opts *opts, size_t size);

/* Create an I/O queue pair (Create I/O CQ, then SQ, §5.4/§5.5) with its
 * request slots and one PRP list / SGL segment page per slot preallocated.
 * Control path.  -EBUSY with a line when every queue the controller granted
 * is in use; -ENOTSUP when opts ask for SGLs the controller lacks. */
int udk_nvme_qpair_create(struct udk_nvme_ctrlr *ctrlr, const struct udk_nvme_qpair_opts *opts,
			  struct udk_nvme_qpair **out);

/* Delete the queues on the controller and free the qpair; commands still in
 * flight complete with -ECANCELED first.  Control path; the qpair's lcore
 * must not be using it. */
int udk_nvme_qpair_destroy(struct udk_nvme_qpair *qp);

enum udk_nvme_io_op {
	UDK_NVME_IO_READ,
	UDK_NVME_IO_WRITE,
	UDK_NVME_IO_FLUSH,        /* lba, nlb and buf are ignored */
	UDK_NVME_IO_WRITE_ZEROES, /* buf ignored */
	UDK_NVME_IO_DEALLOCATE,   /* Dataset Management, one range; buf ignored */
};
#define UDK_NVME_IO_FUA (1u << 30) /* flags: force unit access (read, write) */

/* Queue one command on qp: nlb blocks of ns from lba, buf (udk DMA memory,
 * 4-byte aligned, nlb * block size bytes, up to max_xfer).  The command goes
 * to the device at the next udk_nvme_qpair_poll() (one doorbell write per
 * batch); cb runs there when it completes.  Returns 0, -EAGAIN when the qpair
 * is full (poll, then retry), or, without touching the device and with one
 * line saying why: -ERANGE (LBA range past the end of the namespace, or
 * nlb 0), -E2BIG (more than max_xfer), -EINVAL (NULL or unaligned buffer, a
 * namespace of another controller, an operation the controller does not
 * support), -UDK_ENOTMAPPED (buffer not udk DMA memory), -UDK_EDEVSTATE
 * (controller failed), -UDK_EREMOVED (controller removed, silently), -E2BIG
 * (with SGLs: a buffer in more than 256 pieces of IOVA space).  Lock-free;
 * one thread per qpair. */
int udk_nvme_ns_io(struct udk_nvme_qpair *qp, struct udk_nvme_ns *ns, enum udk_nvme_io_op op,
		   void *buf, uint64_t lba, uint32_t nlb, uint32_t flags, udk_nvme_cb cb,
		   void *arg);

/* Elements of a vector that udk_nvme_ns_iov() takes (one SGL segment page
 * holds 256 Data Block descriptors). */
#define UDK_NVME_IOV_MAX 256

/* Queue one read or write command whose data is the vector iov[0..iovcnt)
 * (udk DMA memory of the controller's map, as for udk_nvme_ns_io()): nlb =
 * the vector's total length / block size, from lba.  Its data pointer is
 * PRPs (§4.3) when the vector has their shape (the first element may start
 * at any dword offset, every other starts on a 4 KiB page, every one but the
 * last ends on one), else SGL Data Block descriptors (§4.4) in the slot's
 * preallocated segment page when the qpair uses SGLs (opts.sgl AUTO or
 * ALWAYS on a controller with SGLS; ALWAYS takes SGLs even for a PRP
 * shape).  Every page is translated on its own, so an element may lie in
 * several pieces of IOVA space.  iov is read during the call only.
 * Returns 0, -EAGAIN (qpair full), or, with one line and nothing sent:
 * -EINVAL (op not read or write, iovcnt outside 1..UDK_NVME_IOV_MAX, an
 * element empty or not 4-byte aligned in base or length, a total that is
 * not whole blocks, or a shape PRPs cannot carry on a qpair without SGLs:
 * the caller splits the vector there), -E2BIG (more than max_xfer, or more
 * IOVA pieces than one SGL segment holds), -ERANGE, -UDK_ENOTMAPPED,
 * -UDK_EDEVSTATE, -UDK_EREMOVED as udk_nvme_ns_io().  Lock-free, no
 * allocation, no system call; one thread per qpair. */
int udk_nvme_ns_iov(struct udk_nvme_qpair *qp, struct udk_nvme_ns *ns, enum udk_nvme_io_op op,
		    const struct iovec *iov, int iovcnt, uint64_t lba, uint32_t flags,
		    udk_nvme_cb cb, void *arg);

/* Whether udk_nvme_ns_iov() takes iov as one command on a qpair of ns's
 * controller created with opts.sgl = sgl (enum udk_nvme_sgl_mode): shape,
 * alignment, whole blocks and max_xfer only (not the translation, which
 * udk_nvme_ns_iov() does page by page, nor the LBA range).  Silent: for a
 * caller deciding whether to split a vector.  Any thread. */
bool udk_nvme_ns_iov_fits(const struct udk_nvme_ns *ns, uint8_t sgl, const struct iovec *iov,
			  int iovcnt);

static inline int udk_nvme_ns_read(struct udk_nvme_qpair *qp, struct udk_nvme_ns *ns, void *buf,
				   uint64_t lba, uint32_t nlb, udk_nvme_cb cb, void *arg)
{
	return udk_nvme_ns_io(qp, ns, UDK_NVME_IO_READ, buf, lba, nlb, 0, cb, arg);
}

static inline int udk_nvme_ns_write(struct udk_nvme_qpair *qp, struct udk_nvme_ns *ns,
				    const void *buf, uint64_t lba, uint32_t nlb, udk_nvme_cb cb,
				    void *arg)
{
	return udk_nvme_ns_io(qp, ns, UDK_NVME_IO_WRITE, (void *)(uintptr_t)buf, lba, nlb, 0, cb,
			      arg);
}

static inline int udk_nvme_ns_flush(struct udk_nvme_qpair *qp, struct udk_nvme_ns *ns,
				    udk_nvme_cb cb, void *arg)
{
	return udk_nvme_ns_io(qp, ns, UDK_NVME_IO_FLUSH, NULL, 0, 0, 0, cb, arg);
}

static inline int udk_nvme_ns_write_zeroes(struct udk_nvme_qpair *qp, struct udk_nvme_ns *ns,
					   uint64_t lba, uint32_t nlb, udk_nvme_cb cb, void *arg)
{
	return udk_nvme_ns_io(qp, ns, UDK_NVME_IO_WRITE_ZEROES, NULL, lba, nlb, 0, cb, arg);
}

static inline int udk_nvme_ns_deallocate(struct udk_nvme_qpair *qp, struct udk_nvme_ns *ns,
					 uint64_t lba, uint32_t nlb, udk_nvme_cb cb, void *arg)
{
	return udk_nvme_ns_io(qp, ns, UDK_NVME_IO_DEALLOCATE, NULL, lba, nlb, 0, cb, arg);
}

/* Ring the submission doorbell for what was queued, then reap up to max
 * completions (0: all there are, at most the queue size - 1 entries per
 * call even from a device that keeps posting), calling their callbacks, and
 * write the completion doorbell once.  When nothing completed, commands older than
 * the qpair's timeout complete with -ETIMEDOUT, and then the controller's
 * timeout_action runs on this thread (Abort, then maybe a reset: the only
 * case where a poll takes the controller's lock and waits).  Returns the
 * number of commands completed.  Lock-free otherwise; the qpair's thread. */
int udk_nvme_qpair_poll(struct udk_nvme_qpair *qp, uint32_t max);

/* Commands queued or in flight (timed-out ones excluded). */
uint32_t udk_nvme_qpair_outstanding(const struct udk_nvme_qpair *qp);

/* ---- Interrupts (doc/interrupts.md) ----
 *
 * A qpair created with opts.intr other than POLL has its CQ's MSI-X vector
 * routed to an eventfd, signalled by the device for each completion it posts
 * (or per aggregate, with udk_nvme_ctrlr_set_coalescing()).  The vector is
 * never masked: NVMe has no per-CQ mask, and INTMS/INTMC (§3.1.3, 3.1.4)
 * apply to pin-based and single-message MSI only, not to MSI-X.  While the
 * lcore polls, the eventfd just counts.  "Arming" is therefore a software
 * step: clear the count, then look at the CQ once more; that is what makes
 * a sleep in epoll_wait() safe (udk_lcore_wait_source in udk_eal.h). */

/* The qpair's eventfd (owned by lib/pci; do not close), or -ENOTSUP for a
 * POLL qpair.  Any thread. */
int udk_nvme_qpair_eventfd(const struct udk_nvme_qpair *qp);
/* Arm qp before a sleep: read the eventfd (its count adds to the qpair's
 * "interrupts" in telemetry), then return 1 if a completion is waiting, or
 * commands are queued but not yet sent (poll first), 0 when the next
 * completion will signal the eventfd, -ENOTSUP for a POLL qpair.  Nothing
 * to undo after the sleep.  Lock-free; the qpair's thread.  Fits
 * udk_lcore_wait_source's arm. */
int udk_nvme_qpair_arm(struct udk_nvme_qpair *qp);
/* Interrupts the qpair's eventfd counted so far (read at each arm). */
uint64_t udk_nvme_qpair_interrupts(const struct udk_nvme_qpair *qp);

/* The admin queue's interrupt (MSI-X vector 0; the admin CQ always has
 * interrupts, §3.1.10), so that an Asynchronous Event wakes a sleeping
 * lcore that runs udk_nvme_ctrlr_process_admin().  eventfd: enables MSI-X
 * as an interrupt qpair does; the fd (owned by lib/pci), -ENOTSUP without
 * MSI-X.  Control path.  arm: read the eventfd, then 1 when the admin queue
 * holds a completion or events not yet handled, 0 when the next one will
 * signal; takes the controller's lock (so it never misses a completion
 * another thread's admin command reaped).  Also signalled by every admin
 * command's completion: a wake-up may find nothing to do. */
int udk_nvme_ctrlr_admin_eventfd(struct udk_nvme_ctrlr *ctrlr);
int udk_nvme_ctrlr_admin_arm(struct udk_nvme_ctrlr *ctrlr);

/* Interrupt Coalescing (Set Features 08h, §5.21.1.8), controller-wide for
 * the I/O CQs with interrupts: signal once aggregation_threshold + 1
 * completions are posted, or aggregation_time (in 100 µs) after the first;
 * 0, 0 (the reset value) signals every completion.  0 or the command's
 * error (logged).  Control path. */
int udk_nvme_ctrlr_set_coalescing(struct udk_nvme_ctrlr *ctrlr, uint8_t aggregation_threshold,
				  uint8_t aggregation_time);

/* Blocking helper for tools and tests: udk_nvme_ns_io(), then poll until it
 * completes.  Returns the completion's rc (or the submit error); cpl (may be
 * NULL) gets the completion.  Must not be mixed with callbacks' own polling
 * on the same qpair from inside a callback. */
int udk_nvme_ns_io_sync(struct udk_nvme_qpair *qp, struct udk_nvme_ns *ns, enum udk_nvme_io_op op,
			void *buf, uint64_t lba, uint32_t nlb, struct udk_nvme_cpl *cpl);

#ifdef __cplusplus
}
#endif
#endif
