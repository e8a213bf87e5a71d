/* SPDX-License-Identifier: BSD-3-Clause */
/* nvmf.h - udk-nvmf-tgt's objects: the target (subsystems, listeners,
 * controllers), TCP connections (one queue each) and the commands on them.
 * Everything runs on one poll thread in this version: no locks.  The
 * telemetry thread only reads counters (struct nvmf_subsys_stats) and hands
 * run-time commands to the poll thread (telemetry.c). */
#ifndef NVMF_H
#define NVMF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "group.h"
#include "pdu.h"

struct udk_bdev;
struct udk_bdev_channel;
struct nvmf_config;
struct nvmf_bdev_spec;
struct nvmf_ctl;

#define NVMF_NQN_MAX 223            /* NVMe base §7.9: NQN up to 223 bytes */
#define NVMF_DISCOVERY_NQN "nqn.2014-08.org.nvmexpress.discovery"
#define NVMF_MAX_SUBSYS 16
#define NVMF_MAX_NS 32
#define NVMF_MAX_HOSTS 32
#define NVMF_MAX_LISTEN 8
#define NVMF_MAX_CTRLR 64
#define NVMF_MAX_CONNS 256          /* open; past it, accept evicts the oldest not yet connected */
#define NVMF_HANDSHAKE_MS 10000     /* ICReq and Connect within this of accept, or closed */
#define NVMF_MAX_IO_QUEUES 16
#define NVMF_QUEUE_DEPTH 128        /* CAP.MQES + 1 */
#define NVMF_ADMIN_DEPTH 32
#define NVMF_MAX_ICD 8192           /* in-capsule data, admin and I/O (IOCCSZ) */
#define NVMF_MAX_XFER (128u * 1024) /* MDTS 5: 128 KiB per command */
#define NVMF_MAXH2CDATA NVMF_MAX_XFER
#define NVMF_AER_MAX 4              /* AERL + 1 */
#define NVMF_CHANGED_NS_MAX 1024

struct nvmf_ns {
	uint32_t nsid;
	char bdev_name[64];
	struct udk_bdev *bdev;
	struct udk_bdev_channel *ch; /* the poll thread's channel */
	uint32_t block_size;
	uint64_t num_blocks;
	uint32_t max_io_blocks;
	bool read_only;
	bool dealloc, write_zeroes, flush;
	uint8_t uuid[16];
	atomic_bool gone; /* set by the bdev's REMOVE event (any thread) */
	bool removed;     /* the poll thread has seen it: hosts were told */
};

/* Per subsystem, for telemetry ("nvmf", telemetry.c): written by the poll
 * thread only, with udk_counter_add(); read on the telemetry thread with
 * udk_counter_read().  controllers and queues go up and down (a decrement
 * is an add of (uint64_t)-1). */
struct nvmf_subsys_stats {
	uint64_t namespaces;  /* active namespaces now */
	uint64_t controllers; /* controllers now */
	uint64_t queues;      /* connected queues now (admin and I/O), one TCP connection each */
	uint64_t connects;    /* queues ever connected */
	uint64_t commands;    /* commands completed, any queue, any status */
	uint64_t errors;      /* of those, completed with an error status */
	uint64_t reads, writes; /* I/O commands that moved data, completed with success */
	uint64_t ios;         /* every I/O command completed with success */
	uint64_t bytes_read, bytes_written;
};

struct nvmf_subsys {
	char nqn[NVMF_NQN_MAX + 1];
	struct nvmf_subsys_stats stats;
	bool discovery;
	bool allow_any;
	char hosts[NVMF_MAX_HOSTS][NVMF_NQN_MAX + 1];
	unsigned int nhosts;
	struct nvmf_ns ns[NVMF_MAX_NS];
	unsigned int nns;
	char serial[21];
	char model[41];
};

struct nvmf_conn;

struct nvmf_ctrlr {
	bool used;
	uint16_t cntlid;
	struct nvmf_subsys *ss;
	char hostnqn[NVMF_NQN_MAX + 1];
	uint8_t hostid[16];
	uint32_t cc, csts;
	uint32_t kato_ms;
	uint64_t ka_deadline_ns; /* 0: no keep-alive timeout */
	uint32_t aec;            /* Set Features 0Bh: async event configuration */
	uint16_t nr_io_queues;   /* granted (Set Features 07h); 0: not asked yet */
	struct nvmf_conn *queues[NVMF_MAX_IO_QUEUES + 1];
	struct nvmf_cmd *aer[NVMF_AER_MAX];
	unsigned int naer;
	uint32_t changed_ns[NVMF_CHANGED_NS_MAX];
	unsigned int nchanged;
	bool changed_overflow;
	bool aen_pending; /* a namespace change no AER has reported yet */
	uint64_t errors;  /* error log entries (count only) */
};

struct nvmf_listener {
	char addr[64];
	char port[16];
	int fd;
	uint16_t portid;
};

struct nvmf_stats {
	uint64_t ios, bytes_read, bytes_written, conns_total, conns_closed;
};

struct nvmf_tgt {
	struct nvmf_subsys subsys[NVMF_MAX_SUBSYS];
	unsigned int nsubsys;
	struct nvmf_listener listen[NVMF_MAX_LISTEN];
	unsigned int nlisten;
	struct nvmf_ctrlr ctrlr[NVMF_MAX_CTRLR];
	uint16_t next_cntlid;
	uint64_t discovery_genctr;
	struct nvmf_conn *conns; /* list */
	unsigned int nconns;     /* open or handed to a group, counted by the listener */
	/* Poll groups (group.h): one in this version, on the main lcore.  The
	 * listener hands each new connection to one through its mailbox. */
	struct nvmf_group groups[1];
	unsigned int ngroups, group_rr;
	int epfd; /* groups[0]'s */
	unsigned int poll_us; /* --poll-us */
	struct nvmf_stats stats;
	struct nvmf_config *cfg; /* the bdevs: run-time namespaces add to it */
	struct nvmf_ctl *ctl;    /* run-time commands from telemetry (telemetry.c) */
};

/* ---- commands ---- */
enum nvmf_cmd_state {
	CMD_FREE,
	CMD_WAIT_H2C, /* R2T sent, H2CData expected */
	CMD_EXEC,     /* at the bdev or parked (AER) */
	CMD_RETRY,    /* the bdev channel was full: submit again on the next poll */
};

struct nvmf_cmd {
	struct nvmf_conn *conn;
	enum nvmf_cmd_state state;
	uint16_t ttag;
	struct nvmf_sqe sqe;
	struct nvmf_cqe cqe;
	struct nvmf_xfer xfer;
	uint8_t *buf;          /* xfer.len bytes (NVMF_MAX_XFER allocated on first use) */
	uint32_t h2c_got;      /* bytes of the current R2T received */
	uint32_t r2to, r2tl;   /* the R2T outstanding */
	uint32_t data_out;     /* bytes to send in C2HData before the response */
	unsigned int pending;  /* bdev I/Os in flight (DSM ranges) */
	uint16_t status;       /* of the first failed sub-I/O */
	struct nvmf_cmd *next_retry;
};

/* ---- connections ---- */
enum nvmf_conn_state {
	CONN_IC,     /* waiting for ICReq */
	CONN_READY,  /* ICResp sent */
	CONN_CLOSING,
};

struct nvmf_conn {
	struct nvmf_conn *next;
	struct nvmf_tgt *tgt;
	struct nvmf_group *group; /* the one that polls it */
	struct nvmf_msg adopt;    /* the listener's hand-off to it */
	struct nvmf_listener *listener;
	int fd;
	char peer[64];
	uint64_t accepted_ns; /* for NVMF_HANDSHAKE_MS and eviction */
	enum nvmf_conn_state state;
	struct nvmf_pdu_rules rules;
	uint8_t hpda;
	/* the queue, once Connect succeeded */
	struct nvmf_ctrlr *ctrlr;
	uint16_t qid;
	uint16_t sqsize; /* entries */
	uint16_t sqhd;
	bool connected;
	struct nvmf_cmd *cmds; /* NVMF_QUEUE_DEPTH slots, by ttag */
	unsigned int ncmds;    /* busy */
	struct nvmf_cmd *retry;
	/* receive: a buffer that holds one whole PDU at most */
	uint8_t *rx;
	size_t rx_len, rx_cap;
	/* send: bytes queued, written when the socket takes them */
	uint8_t *tx;
	size_t tx_off, tx_len, tx_cap;
	bool want_out; /* EPOLLOUT armed */
};

/* main.c: a line on stderr, "udk-nvmf-tgt: " and a time stamp before it. */
void nvmf_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* conn.c */
int nvmf_listen(struct nvmf_tgt *t, struct nvmf_listener *l);
void nvmf_accept(struct nvmf_tgt *t, struct nvmf_listener *l);
/* Read, parse and handle what came; flush what can go.  Returns true when
 * something moved.  Called when epoll says the socket is readable. */
bool nvmf_conn_poll(struct nvmf_conn *c);
/* Send what is queued and the socket takes; true when something went. */
bool nvmf_conn_flush(struct nvmf_conn *c);
bool nvmf_conn_tx_pending(const struct nvmf_conn *c);
void nvmf_conn_close(struct nvmf_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Close connections that did not reach Connect within NVMF_HANDSHAKE_MS;
 * free the closed ones whose commands are all back from the bdevs. */
void nvmf_conns_reap(struct nvmf_tgt *t);
/* Complete cmd: its C2HData (data_out bytes of buf) then its CapsuleResp. */
void nvmf_cmd_complete(struct nvmf_cmd *cmd, uint16_t status);
void nvmf_conn_retry(struct nvmf_conn *c);

/* fabrics.c */
void nvmf_fabrics_exec(struct nvmf_cmd *cmd);
void nvmf_ctrlr_destroy(struct nvmf_ctrlr *ctrlr, const char *why);
void nvmf_kato_check(struct nvmf_tgt *t, uint64_t now_ns);
void nvmf_ctrlr_keep_alive(struct nvmf_ctrlr *ctrlr);
uint64_t nvmf_now_ns(void);
bool nvmf_host_allowed(const struct nvmf_subsys *ss, const char *hostnqn);

/* admin.c */
void nvmf_admin_exec(struct nvmf_cmd *cmd);
/* A namespace of ss was added or removed: changed list and AEN to each controller. */
void nvmf_ns_changed(struct nvmf_tgt *t, struct nvmf_subsys *ss, uint32_t nsid);
uint32_t nvmf_mdts_bytes(const struct nvmf_subsys *ss);

/* telemetry.c: the commands "nvmf" (counters), "nvmf_ns_add" and
 * "nvmf_ns_remove", registered after udk_eal_init() (with t->epfd made),
 * unregistered before the target is torn down.  The run-time commands are
 * handed to the poll thread through t->ctl: its eventfd is in t->epfd, and
 * the poll loop calls nvmf_ctl_run() when epoll reports it. */
int nvmf_telemetry_register(struct nvmf_tgt *t);
void nvmf_telemetry_unregister(struct nvmf_tgt *t);
void nvmf_ctl_run(struct nvmf_tgt *t);

/* ns.c (the poll thread) */
/* A malloc, null or file bdev from its spec: 0, or an error with err. */
int nvmf_bdev_create(const struct nvmf_bdev_spec *b, char *err, size_t el);
/* Open ns (nsid and bdev_name set) of ss: its bdev, events, a channel, its
 * geometry and identifiers.  0, or an error with err (nothing held). */
int nvmf_ns_open(struct nvmf_subsys *ss, struct nvmf_ns *ns, char *err, size_t el);
/* Put its channel (what is in flight completes) and forget its bdev. */
void nvmf_ns_close(struct nvmf_ns *ns);
/* Run-time: add a namespace (nsid 0: the lowest free) on a new bdev given
 * as KIND:NAME:ARGS (malloc, null, file), or remove one and destroy its
 * bdev; the subsystem's controllers get the change (AEN).  0 (*out: the
 * NSID), or a negative errno with the reason in err. */
int nvmf_ns_add(struct nvmf_tgt *t, const char *nqn, const char *bdev, uint32_t nsid, char *err,
		size_t el, uint32_t *out);
int nvmf_ns_remove(struct nvmf_tgt *t, const char *nqn, uint32_t nsid, char *err, size_t el);

/* io.c */
void nvmf_io_exec(struct nvmf_cmd *cmd);
struct nvmf_ns *nvmf_ns_find(struct nvmf_subsys *ss, uint32_t nsid);
void nvmf_poll_bdevs(struct nvmf_tgt *t);
/* Namespaces whose bdev went away: drop them and tell the hosts (AEN). */
void nvmf_ns_reap(struct nvmf_tgt *t);

/* the data direction of a command: 1 host to controller, 2 controller to host */
static inline unsigned int nvmf_cmd_dir(const struct nvmf_sqe *sqe)
{
	/* NVMe base §5/§6: opcode bits 1:0; fabrics: the fctype's (fabrics §3.3). */
	return (sqe->opc == 0x7f ? sqe->nsid & 0xff : sqe->opc) & 3;
}

#endif
