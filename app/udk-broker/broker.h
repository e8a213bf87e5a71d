/* SPDX-License-Identifier: BSD-3-Clause */
/* broker.h - what the files of udk-broker share: the policy, the sessions
 * (one per user: its map, devices and memory) and the log.  doc/broker.md
 * has the security model and the policy format. */
#ifndef UDK_BROKER_APP_H
#define UDK_BROKER_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "udk_broker.h"
#include "udk_dma.h"

#define BROKER_MAX_RULES 256
#define BROKER_MAX_CLIENTS 64
/* Connections one uid may hold at once (one client per user is enforced at
 * HELLO; the rest is room for a start racing an exit). */
#define BROKER_MAX_PER_UID 4
/* Descriptors one uid sent that may wait to be closed (the closing thread
 * stalled on one): past it, its new connections are refused at accept. */
#define BROKER_MAX_WAITING_FDS 32
#define BROKER_WAITING_SLOTS 256 /* uids with a closing thread of their own */
/* A connection that has not sent HELLO by then is dropped. */
#define BROKER_HELLO_TIMEOUT_MS 5000
/* Every segment is checked for punched holes at least this often (and after
 * every request). */
#define BROKER_HOLE_CHECK_MS 1000
/* Users refused for the broker's lifetime after a hole (the most kept; past
 * it the oldest is forgotten). */
#define BROKER_MAX_BANNED 256

/* ---- policy.c ---- */
struct rule {
	bool is_group;         /* "group" rule, else "user" */
	uint32_t id;           /* uid or gid */
	unsigned int line;     /* in the policy file, for messages */
	unsigned int nb_devs;
	char devs[UDK_BROKER_MAX_DEVS][UDK_BROKER_BDF_LEN];
	uint64_t mem;          /* bytes */
};

struct policy {
	char path[256];
	size_t nb_rules;
	struct rule rules[BROKER_MAX_RULES];
};

/* Parse the policy text (from path, for messages).  0, or -EINVAL with the
 * file, line and what is wrong in err. */
int policy_parse(const char *text, const char *path, struct policy *p, char *err, size_t len);
int policy_load(const char *path, struct policy *p, char *err, size_t len);
/* The rule for a client: its user's rule, else its (primary) group's. */
const struct rule *policy_match(const struct policy *p, uid_t uid, gid_t gid);
bool rule_has_dev(const struct rule *r, const char *bdf);

/* ---- session.c ---- */
struct bdev {
	char bdf[UDK_BROKER_BDF_LEN];
	struct udk_device *dev;
	int fd; /* the VFIO device fd, owned by dev */
	int group; /* its IOMMU group, -1 if unknown */
};

struct bseg {
	void *va;
	size_t len;
	size_t page_size;
	int fd;
	uint64_t iova;
};

/* Everything one user holds.  sock >= 0 while its client is connected;
 * a parked session (sock -1) keeps its map, devices and memory for the same
 * user's next start until another user needs them. */
struct session {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int sock;
	const struct rule *rule;
	struct udk_dmamap *map;
	unsigned int nb_devs;
	struct bdev devs[UDK_BROKER_MAX_DEVS];
	unsigned int nb_segs;
	struct bseg segs[UDK_BROKER_MAX_SEGS];
	uint64_t mem;
	struct session *next;
};

struct broker {
	struct policy policy;
	char huge_dir[256];
	uint64_t huge_page; /* the mount's page size */
	/* The backend of every session's map: AUTO in udk-broker.  The
	 * sequence fuzzer (tests/fuzz/fuzz_broker_session.c) takes BROKERED,
	 * a map that needs no IOMMU, to reach every state of a session on a
	 * machine without VFIO. */
	enum udk_dmamap_backend map_backend;
	struct session *sessions;
	/* Users evicted for punching a hole in their memory: refused at HELLO
	 * from then on (a ring of the last BROKER_MAX_BANNED). */
	uid_t banned[BROKER_MAX_BANNED];
	size_t nb_banned;
};

struct session *session_find_uid(struct broker *b, uid_t uid);
/* The session holding bdf, or NULL. */
struct session *session_holding(struct broker *b, const char *bdf);
/* The IOMMU group of bdf (sysfs), or -1 if it has none or is unknown. */
int session_dev_group(const char *bdf);
/* A session of a user other than uid (with a connected client, if
 * connected) that stands in the way of uid taking bdf: it holds bdf, or a
 * device in bdf's IOMMU group (which the kernel lets into one map only).
 * NULL if none. */
struct session *session_blocking(struct broker *b, uid_t uid, const char *bdf, bool connected);
int session_create(struct broker *b, uid_t uid, gid_t gid, struct session **out);
/* Open bdf and attach it to the session's map.  0 or a negative code with
 * the reason in why. */
int session_add_dev(struct session *s, const char *bdf, char *why, size_t len);
/* Which backend the session's map is on, for the log: on iommufd its IOAS
 * and each device's object and page-table ids (all in the session's own
 * context). */
void session_backend(const struct session *s, char *buf, size_t len);
/* Allocate, zero and map a segment of at least len bytes.  0 or a negative
 * code with the reason in why. */
int session_add_seg(struct broker *b, struct session *s, uint64_t len, char *why, size_t wlen);
/* The client left: quiesce and reset its devices; memory and mappings stay. */
void session_park(struct session *s);
/* The first segment of s with a hole punched in it (its index in seg, the
 * offset in off), 1; 0 if none. */
int session_hole(const struct session *s, unsigned int *seg, uint64_t *off);
bool session_banned(const struct broker *b, uid_t uid);
/* Give everything back: devices reset and closed, memory out of the IOMMU
 * and back to the hugepage pool (bseg_release), the map destroyed; s is
 * freed. */
void session_evict(struct broker *b, struct session *s, const char *why);

/* ---- segment.c ---- */
/* Make g a zeroed segment of len bytes (a multiple of page_size, the page
 * size of the hugetlbfs mount huge_dir, named in messages): a hugetlb memfd
 * sealed against shrinking and growing, mapped into the broker.  0 or a
 * negative code with the reason in why. */
int bseg_create(struct bseg *g, const char *huge_dir, uint64_t page_size, uint64_t len,
	       uid_t uid, char *why, size_t wlen);
/* 1 (and the offset of its first missing page in off, if not NULL) when a
 * page of g is gone from the broker's mapping: someone holding the fd
 * punched a hole (FALLOC_FL_PUNCH_HOLE).  0 when every page is there, a
 * negative errno if it cannot be told. */
int bseg_hole(const struct bseg *g, uint64_t *off);
/* Give g's memory back to the pool (the caller has taken it out of the
 * IOMMU first), out of every mapping of it, without touching it: safe
 * whatever a client holding a copy of its fd did to it. */
void bseg_release(struct bseg *g, uid_t uid);

/* ---- grant.c ---- */
/* One connection: its peer's credentials (SO_PEERCRED, taken at accept) and,
 * after its HELLO, its session. */
struct conn {
	int sock;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	uint64_t since_us; /* accepted at (now_us()) */
	struct session *s;
};

/* Answer a request with ERROR (code, the text), logged as a refusal with
 * the peer's credentials unless quiet.  Returns the code sent. */
int grant_refuse(struct conn *c, int code, bool quiet, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Handle one message of a connection (buf, len as received, with nfds
 * descriptors, already closed by the caller).  Returns 0 to keep the
 * connection (also after a refused MEM: the client goes on without that
 * memory), or a negative code to drop it (a refused HELLO, a malformed or
 * out-of-order message; logged). */
int grant_message(struct broker *b, struct conn *c, const void *buf, size_t len,
		  unsigned int nfds);

/* ---- server.c ---- */
struct server {
	struct broker *b;
	int ls; /* the listening socket */
	struct conn conns[BROKER_MAX_CLIENTS];
	size_t nb_conns;
	uint64_t hello_timeout_us;
	unsigned int max_per_uid;
	/* accept() out of descriptors: logged once, the socket not polled
	 * until accept_paused_until. */
	bool accept_failing;
	uint64_t accept_paused_until;
	uid_t last_refused_uid;
	uint64_t last_refused_us;
	/* The closing threads, one per uid with descriptors waiting to be
	 * closed (server.c); past BROKER_WAITING_SLOTS such uids, the rest
	 * share one. */
	pthread_mutex_t waiting_lock;
	struct waiting {
		struct server *sv;
		uid_t uid;
		unsigned int n; /* descriptors queued, not closed yet */
		bool running;   /* a thread and its pipe exist */
		int pipe[2];
	} waiting[BROKER_WAITING_SLOTS], waiting_shared;
	uint64_t fds_kept;
	bool fds_kept_logged;
	uint64_t next_hole_check_us;
};

/* Set up sv for listening socket ls.  0 or a negative errno. */
int server_init(struct server *sv, struct broker *b, int ls);
/* Drop every connection (parking their sessions). */
void server_fini(struct server *sv);
/* Take connected socket s from peer cr, or refuse it (ERROR, logged,
 * closed): a uid the policy does not name, one with max_per_uid
 * connections, or a full table.  0 or the negative code sent. */
int server_admit(struct server *sv, int s, const struct ucred *cr);
/* Read and answer one message of connection i (dropped on a bad one). */
void server_serve(struct server *sv, size_t i);
void server_drop(struct server *sv, size_t i, const char *why);
/* Drop connections without HELLO past the timeout; the ms until the next
 * deadline, or -1 for none. */
int server_expire(struct server *sv);
/* Evict every session with a hole punched in a segment (its client, if
 * connected, is told why and dropped) and refuse its user from then on.
 * The number evicted. */
unsigned int server_check_holes(struct server *sv);
/* One round: wait up to max_wait_ms (-1: until something happens or a
 * deadline), then serve what is ready and accept.  0 or a negative errno
 * from poll. */
int server_step(struct server *sv, int max_wait_ms);

/* ---- main.c ---- */
void blog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t now_us(void);

#endif
