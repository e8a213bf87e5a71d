/* SPDX-License-Identifier: BSD-3-Clause */
/* broker.h - what the files of udk-broker share: the policy, the sessions
 * (one per user: its map, devices and memory) and the log.  doc/broker.md
 * has the security model and the policy format. */
#ifndef UDK_BROKER_APP_H
#define UDK_BROKER_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "udk_broker.h"
#include "udk_dma.h"

#define BROKER_MAX_RULES 256
#define BROKER_MAX_CLIENTS 64

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
	struct session *sessions;
};

struct session *session_find_uid(struct broker *b, uid_t uid);
/* The session holding bdf, or NULL. */
struct session *session_holding(struct broker *b, const char *bdf);
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
/* Give everything back: devices reset and closed, memory unmapped, zeroed
 * and freed, the map destroyed; s is freed. */
void session_evict(struct broker *b, struct session *s, const char *why);

/* ---- grant.c ---- */
/* One connection: its peer's credentials (SO_PEERCRED, taken at accept) and,
 * after its HELLO, its session. */
struct conn {
	int sock;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	struct session *s;
};

/* Handle one message of a connection (buf, len as received, with nfds
 * descriptors, already closed by the caller).  Returns 0 to keep the
 * connection (also after a refused MEM: the client goes on without that
 * memory), or a negative code to drop it (a refused HELLO, a malformed or
 * out-of-order message; logged). */
int grant_message(struct broker *b, struct conn *c, const void *buf, size_t len,
		  unsigned int nfds);

/* ---- main.c ---- */
void blog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t now_us(void);

#endif
