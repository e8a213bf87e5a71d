/* SPDX-License-Identifier: BSD-3-Clause */
/* nvmf.h - udk-nvmf-tgt's objects: the target (subsystems, listeners,
 * controllers), poll groups (one per lcore), TCP connections (one queue each)
 * and the commands on them.
 *
 * Who owns what (doc/nvmf.md, "Poll groups"); no lock anywhere on the I/O path:
 * - a connection, its commands and its bdev channels: the group that polls it;
 * - a controller: the group of its admin queue.  Its I/O queues may sit on
 *   other groups; they reach it only through messages (link at Connect,
 *   unlink at close), and it ends them with a message (kill);
 * - subsystems and listeners: read-only once the groups run;
 * - namespaces: group 0 (the main lcore: listener, run-time commands) changes
 *   them; every group reads a namespace's fields only while its state
 *   (atomic) is NS_ACTIVE, and opens and puts its own channel on it;
 * - counters: each group its own (struct nvmf_pg), summed by telemetry.
 * The telemetry thread only reads counters and hands run-time commands to
 * group 0 (telemetry.c). */
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
#define NVMF_MAX_GROUPS 16          /* poll groups: the first lcores of -l */

/* A namespace's life (group 0 moves it on; every group reads it):
 * OPENING: its bdev is open, each group gets a channel (nopen counts them);
 * ACTIVE: served, once every group has; REMOVING: each group puts its
 * channel (nopen counts down); FREE at 0, the bdev destroyed. */
enum nvmf_ns_state { NS_FREE, NS_OPENING, NS_ACTIVE, NS_REMOVING };

struct nvmf_ns {
	atomic_uint state;  /* enum nvmf_ns_state: group 0 stores (release), all load (acquire) */
	atomic_uint nopen;  /* groups that handled NS_OPENING and not yet NS_REMOVING */
	atomic_bool gone;   /* set by the bdev's REMOVE event (any thread) */
	/* from here on: group 0 writes them while the state is not NS_ACTIVE */
	bool destroy;       /* group 0: destroy the bdev once FREE (removed by command) */
	uint32_t nsid;
	char bdev_name[64];
	struct udk_bdev *bdev;
	uint32_t block_size;
	uint64_t num_blocks;
	uint32_t max_io_blocks;
	bool read_only;
	bool dealloc, write_zeroes, flush;
	uint8_t uuid[16];
};

/* Per subsystem and poll group, for telemetry ("nvmf", telemetry.c, sums
 * the groups): written by the group only, with udk_counter_add(); read on
 * the telemetry thread with udk_counter_read().  controllers and queues go up and down (a decrement
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
	bool discovery;
	bool allow_any;
	char hosts[NVMF_MAX_HOSTS][NVMF_NQN_MAX + 1];
	unsigned int nhosts;
	struct nvmf_ns ns[NVMF_MAX_NS];
	unsigned int nns; /* slots used; only grows (group 0 stores, atomic) */
	char serial[21];
	char model[41];
};

struct nvmf_conn;
struct nvmf_pg;

/* Owned by the group of its admin queue (owner), except id. */
struct nvmf_ctrlr {
	/* 0: free; else cntlid | (owner's group id + 1) << 16.  The owner claims
	 * it (compare-and-swap from 0) and frees it; any group loads it to find a
	 * CNTLID's owner at an I/O queue's Connect. */
	atomic_uint id;
	struct nvmf_pg *owner;
	bool ending;          /* destroyed: the slot waits for its I/O queues' unlinks */
	unsigned int nlinks;  /* I/O queues linked and not yet unlinked */
	uint16_t cntlid;
	struct nvmf_subsys *ss;
	char hostnqn[NVMF_NQN_MAX + 1];
	uint8_t hostid[16];
	uint32_t cc, csts;
	uint32_t kato_ms;
	uint64_t ka_deadline_ns; /* 0: no keep-alive timeout */
	uint32_t aec;            /* Set Features 0Bh: async event configuration */
	uint16_t nr_io_queues;   /* granted (Set Features 07h); 0: not asked yet */
	struct nvmf_conn *queues[NVMF_MAX_IO_QUEUES + 1]; /* the owner's view; others never read it */
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

/* Written by one thread with udk_counter_add() (a group's own, or the
 * listener's conns_total), read by any. */
struct nvmf_stats {
	uint64_t ios, bytes_read, bytes_written, conns_total, conns_closed;
};

/* A poll group: one lcore's share of the target. */
struct nvmf_pg {
	struct nvmf_group *g;         /* &tgt->groups[id]: epoll set, mailbox; g->ctx is this */
	struct nvmf_tgt *tgt;
	unsigned int lcore;
	struct nvmf_conn *conns;      /* its connections, open and closing */
	/* its channel on each namespace (ns->state says whether to hold one) */
	struct udk_bdev_channel *ch[NVMF_MAX_SUBSYS][NVMF_MAX_NS];
	bool counted[NVMF_MAX_SUBSYS][NVMF_MAX_NS]; /* counted in ns->nopen */
	struct nvmf_subsys_stats ss_stats[NVMF_MAX_SUBSYS];
	struct nvmf_stats stats;
	/* Group 0 sets bit nsid - 1 for a changed namespace of subsystem s,
	 * then posts sync: this group tells its controllers (AEN). */
	atomic_uint aen_bits[NVMF_MAX_SUBSYS];
	atomic_bool sync_posted; /* sync is in the mailbox (post it once) */
	struct nvmf_msg sync;    /* namespace states and AEN bits changed */
};

struct nvmf_tgt {
	struct nvmf_subsys subsys[NVMF_MAX_SUBSYS];
	unsigned int nsubsys;
	struct nvmf_listener listen[NVMF_MAX_LISTEN];
	unsigned int nlisten;
	struct nvmf_ctrlr ctrlr[NVMF_MAX_CTRLR];
	atomic_uint next_cntlid;
	uint64_t discovery_genctr;
	atomic_uint nconns;      /* accepted and not yet freed (any group frees) */
	/* Poll groups: one per lcore of -l, pgs[0] on the main lcore (it also
	 * runs the listener and the run-time commands).  The listener hands each
	 * new connection to the least loaded through its mailbox. */
	struct nvmf_pg *pgs;     /* ngroups of them */
	struct nvmf_group groups[NVMF_MAX_GROUPS];
	unsigned int ngroups, group_rr;
	int epfd; /* pgs[0]'s */
	unsigned int poll_us; /* --poll-us */
	atomic_bool stop;
	bool ns_busy;            /* group 0: a namespace is OPENING or REMOVING */
	struct nvmf_stats stats; /* the listener's (conns_total) */
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
	struct nvmf_pg *pg;       /* the group that polls it */
	struct nvmf_group *group; /* pg->g */
	struct nvmf_msg adopt;    /* the listener's hand-off to it */
	/* Messages between its group and its controller's (fabrics.c), each
	 * counted in refs while posted: the group frees it only at 0. */
	struct nvmf_msg link, unlink, kill;
	atomic_uint refs;
	bool linking;             /* an I/O queue's Connect is at the controller's group */
	bool linked;              /* in its controller's queues[]: unlink at close */
	struct nvmf_cmd *link_cmd;
	struct nvmf_ctrlr *link_ctrlr;
	struct nvmf_group *link_owner; /* link_ctrlr's owner's */
	uint16_t link_status, link_cntlid;
	uint32_t link_dw0;
	char kill_why[160];       /* the owner's reason, with the kill */
	struct nvmf_listener *listener;
	int fd;
	char peer[64];
	uint64_t accepted_ns; /* for NVMF_HANDSHAKE_MS and eviction */
	enum nvmf_conn_state state;
	struct nvmf_pdu_rules rules;
	uint8_t hpda;
	/* the queue, once Connect succeeded.  An I/O queue's group never
	 * dereferences ctrlr (another group's): it reads ss. */
	struct nvmf_ctrlr *ctrlr;
	struct nvmf_subsys *ss;
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
/* pg's connections: close those that did not reach Connect within
 * NVMF_HANDSHAKE_MS; free the closed ones whose commands are all back from
 * the bdevs and that no message names. */
void nvmf_conns_reap(struct nvmf_pg *pg);
/* Complete cmd: its C2HData (data_out bytes of buf) then its CapsuleResp. */
void nvmf_cmd_complete(struct nvmf_cmd *cmd, uint16_t status);
void nvmf_conn_retry(struct nvmf_conn *c);

/* fabrics.c */
void nvmf_fabrics_exec(struct nvmf_cmd *cmd);
/* On ctrlr's owner: end it, close its admin queue, send its I/O queues
 * kill (each unlinks back); the slot is free once the last has. */
void nvmf_ctrlr_destroy(struct nvmf_ctrlr *ctrlr, const char *why);
/* On c's group, as c closes: an I/O queue in its controller's queues[]
 * unlinks (a message to the controller's owner). */
void nvmf_conn_unlink(struct nvmf_conn *c);
/* The controllers pg owns whose keep-alive timeout passed: destroyed. */
void nvmf_kato_check(struct nvmf_pg *pg, uint64_t now_ns);
/* ctrlr is a controller pg owns (not ending). */
static inline bool nvmf_ctrlr_mine(const struct nvmf_pg *pg, struct nvmf_ctrlr *ctrlr)
{
	/* Only id tells another group's slot from ours: the rest is the owner's. */
	unsigned int id = atomic_load_explicit(&ctrlr->id, memory_order_acquire);

	return id != 0 && (id >> 16) == pg->g->id + 1 && !ctrlr->ending;
}
void nvmf_ctrlr_keep_alive(struct nvmf_ctrlr *ctrlr);
uint64_t nvmf_now_ns(void);
bool nvmf_host_allowed(const struct nvmf_subsys *ss, const char *hostnqn);

/* admin.c */
void nvmf_admin_exec(struct nvmf_cmd *cmd);
/* Group 0: a namespace of ss was added or removed: each group is told
 * (pg->aen_bits, then sync), and tells the controllers it owns. */
void nvmf_ns_changed(struct nvmf_tgt *t, struct nvmf_subsys *ss, uint32_t nsid);
/* On ctrlr's owner: the changed namespace list and an AEN. */
void nvmf_ctrlr_ns_changed(struct nvmf_ctrlr *ctrlr, uint32_t nsid);
uint32_t nvmf_mdts_bytes(const struct nvmf_subsys *ss);

/* telemetry.c: the commands "nvmf" (counters), "nvmf_ns_add" and
 * "nvmf_ns_remove", registered after udk_eal_init() (with t->epfd made),
 * unregistered before the target is torn down.  The run-time commands are
 * handed to poll group 0 through t->ctl: its eventfd is in t->epfd, and
 * the poll loop calls nvmf_ctl_run() when epoll reports it. */
int nvmf_telemetry_register(struct nvmf_tgt *t);
void nvmf_telemetry_unregister(struct nvmf_tgt *t);
void nvmf_ctl_run(struct nvmf_tgt *t);

/* ctl.c: "udk-nvmf-tgt ctl ARGS" (argv: what follows "ctl"), a client of a
 * running target's telemetry socket; returns the exit status. */
int nvmf_ctl_main(int argc, char **argv);

/* ns.c (group 0 unless said) */
/* A malloc, null or file bdev from its spec: 0, or an error with err. */
int nvmf_bdev_create(const struct nvmf_bdev_spec *b, char *err, size_t el);
/* Open ns (nsid and bdev_name set) of ss: its bdev, events, its geometry
 * and identifiers; NS_OPENING (the groups get their channels at their next
 * sync).  0, or an error with err (nothing held). */
int nvmf_ns_open(struct nvmf_subsys *ss, struct nvmf_ns *ns, char *err, size_t el);
/* Forget its bdev (every group has put its channel). */
void nvmf_ns_close(struct nvmf_ns *ns);
/* On pg's lcore: get a channel on each namespace now OPENING or ACTIVE, put
 * those on namespaces REMOVING; tell pg's controllers of changed namespaces.
 * pg->sync runs it; each group runs it once before it polls. */
void nvmf_pg_sync(struct nvmf_pg *pg);
/* Post pg's sync unless it is in its mailbox already.  Any thread. */
void nvmf_pg_kick(struct nvmf_pg *pg);
/* On pg's lcore as it stops: put its channels. */
void nvmf_pg_put_channels(struct nvmf_pg *pg);
/* Group 0: move namespaces on (OPENING to ACTIVE once every group has a
 * channel, REMOVING to FREE once none has); wait up to wait_ms for the groups. */
void nvmf_ns_step(struct nvmf_tgt *t, unsigned int wait_ms);
/* The namespace nsid of ss if it is NS_ACTIVE, else NULL.  Any group. */
struct nvmf_ns *nvmf_ns_find(struct nvmf_subsys *ss, uint32_t nsid);
/* Run-time: add a namespace (nsid 0: the lowest free) on a new bdev given
 * as KIND:NAME:ARGS (malloc, null, file), or remove one and destroy its
 * bdev; the subsystem's controllers get the change (AEN).  0 (*out: the
 * NSID), or a negative errno with the reason in err. */
int nvmf_ns_add(struct nvmf_tgt *t, const char *nqn, const char *bdev, uint32_t nsid, char *err,
		size_t el, uint32_t *out);
int nvmf_ns_remove(struct nvmf_tgt *t, const char *nqn, uint32_t nsid, char *err, size_t el);

/* io.c */
void nvmf_io_exec(struct nvmf_cmd *cmd);
/* pg's channels polled, its connections' parked commands retried; true
 * when I/O is still in flight at a bdev. */
bool nvmf_poll_bdevs(struct nvmf_pg *pg);
/* Group 0: namespaces whose bdev went away: removed, the hosts told (AEN). */
void nvmf_ns_reap(struct nvmf_tgt *t);
/* The group's counters of cmd's connection's subsystem. */
static inline struct nvmf_subsys_stats *nvmf_ss_stats(struct nvmf_pg *pg, struct nvmf_tgt *t,
						      const struct nvmf_subsys *ss)
{
	return &pg->ss_stats[ss - t->subsys];
}

/* the data direction of a command: 1 host to controller, 2 controller to host */
static inline unsigned int nvmf_cmd_dir(const struct nvmf_sqe *sqe)
{
	/* NVMe base §5/§6: opcode bits 1:0; fabrics: the fctype's (fabrics §3.3). */
	return (sqe->opc == 0x7f ? sqe->nsid & 0xff : sqe->opc) & 3;
}

#endif
