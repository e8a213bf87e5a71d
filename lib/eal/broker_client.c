/* SPDX-License-Identifier: BSD-3-Clause */
/* broker_client.c - --broker SOCK: udk_eal_init() takes its memory and
 * devices from udk-broker instead of opening them (doc/broker.md).  The
 * process needs no privilege: it gets device fds that reach a map the broker
 * owns, and hugepage segments the broker already mapped there.  It can map
 * nothing itself, so its devices reach only the memory granted to it. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "broker_client.h"
#include "udk_broker.h"
#include "udk_util.h"

#define LOG "eal"
#define REPLY_TIMEOUT_S 60 /* the broker zeroes and pins memory before it answers */

struct held_seg {
	struct udk_broker_seg s;
	int fd; /* -1 once lib/mem took it */
};

static struct {
	int sock;
	char path[108];
	char who[256];
	struct udk_dmamap *map;
	uint64_t limit;
	unsigned int nb_devs;
	char devs[UDK_BROKER_MAX_DEVS][UDK_BROKER_BDF_LEN];
	int dev_fds[UDK_BROKER_MAX_DEVS];
	unsigned int nb_segs;
	struct held_seg segs[UDK_BROKER_MAX_SEGS];
	struct udk_mem_source src;
} bc = {.sock = -1};

static int connect_socket(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = REPLY_TIMEOUT_S};
	int s, err;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		close(s);
		if (err == ENOENT || err == ECONNREFUSED)
			udk_log(UDK_LOG_ERR, LOG, "--broker %s: no udk-broker listens there (%s); "
				"start it as root ('udk-broker --policy FILE --socket %s', "
				"doc/broker.md)", path, strerror(err), path);
		else if (err == EACCES || err == EPERM)
			udk_log(UDK_LOG_ERR, LOG, "--broker %s: no permission to connect; the "
				"broker's --socket-mode or the directory's permissions keep this "
				"user out", path);
		else
			udk_log(UDK_LOG_ERR, LOG, "--broker %s: connect: %s", path, strerror(err));
		return -err;
	}
	/* Never wait forever for a broker that stopped answering. */
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return s;
}

/* Receive one broker message; ERROR replies are logged (the broker's text
 * names the policy) and returned as their code. */
static int receive(struct udk_broker_msg *m, int *fds, const char *step)
{
	char buf[UDK_BROKER_MSG_MAX], why[200];
	unsigned int nfds;
	size_t len;
	int rc;

	rc = udk_broker_recv(bc.sock, buf, sizeof(buf), &len, fds, UDK_BROKER_MAX_FDS, &nfds);
	/* A broker that refuses at accept hangs up with our HELLO unread: the
	 * kernel reports the reset before the ERROR queued ahead of it. */
	if (rc == -ECONNRESET)
		rc = udk_broker_recv(bc.sock, buf, sizeof(buf), &len, fds, UDK_BROKER_MAX_FDS,
				     &nfds);
	if (rc == 0 && len == 0)
		rc = -ECONNRESET;
	if (rc < 0) {
		udk_log(UDK_LOG_ERR, LOG, "--broker %s: %s: no answer from udk-broker: %s",
			bc.path, step, rc == -EAGAIN ? "timed out" : udk_strerror(rc));
		return rc;
	}
	rc = udk_broker_parse(buf, len, nfds, UDK_BROKER_FROM_BROKER, m, why, sizeof(why));
	if (rc < 0) {
		while (nfds > 0)
			close(fds[--nfds]);
		udk_log(UDK_LOG_ERR, LOG, "--broker %s: %s: malformed answer: %s", bc.path, step,
			why);
		return rc;
	}
	if (m->type == UDK_BROKER_ERROR) {
		udk_log(UDK_LOG_ERR, LOG, "--broker %s: udk-broker refused: %s", bc.path,
			m->u.error.text);
		return m->u.error.code;
	}
	return 0;
}

static void close_fds(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		close(fds[i]);
}

int eal_broker_connect(const struct udk_eal_args *args)
{
	struct udk_broker_msg m = {.type = UDK_BROKER_HELLO};
	int fds[UDK_BROKER_MAX_FDS];
	const struct udk_broker_grant *g;
	int rc;

	/* Options that choose memory or the map the broker chooses: refused
	 * rather than silently ignored. */
	if (args->huge_dir != NULL || args->no_huge || args->backend != UDK_DMAMAP_AUTO) {
		udk_log(UDK_LOG_ERR, LOG, "--broker: %s cannot go with it: the broker chooses the "
			"memory and the map", args->huge_dir != NULL ? "--huge-dir"
			: args->no_huge ? "--no-huge" : "--iommu-backend");
		return -UDK_EARGS;
	}
	for (int i = 0; i < UDK_MAX_NUMA_NODES; i++) {
		if (args->socket_mem[i] != 0) {
			udk_log(UDK_LOG_ERR, LOG, "--broker: -m with one value per NUMA node cannot "
				"go with it (the broker places the memory); give one total, -m N");
			return -UDK_EARGS;
		}
	}
	if (args->nb_allow > UDK_BROKER_MAX_DEVS) {
		udk_log(UDK_LOG_ERR, LOG, "--broker: %zu devices asked for; a broker client may "
			"have at most %d", args->nb_allow, UDK_BROKER_MAX_DEVS);
		return -UDK_EARGS;
	}
	snprintf(bc.path, sizeof(bc.path), "%s", args->broker);
	m.u.hello.nb_devs = (uint32_t)args->nb_allow;
	m.u.hello.mem = args->total_mem;
	for (size_t i = 0; i < args->nb_allow; i++)
		udk_pci_addr_format(&args->allow[i], m.u.hello.devs[i], UDK_BROKER_BDF_LEN);
	rc = connect_socket(args->broker);
	if (rc < 0)
		return rc;
	bc.sock = rc;
	rc = udk_broker_send_msg(bc.sock, &m, NULL);
	if (rc < 0 && rc != -EPIPE && rc != -ECONNRESET) {
		udk_log(UDK_LOG_ERR, LOG, "--broker %s: sending HELLO: %s", bc.path,
			udk_strerror(rc));
		goto err_close;
	}
	/* Also when the broker hung up first (it refuses at accept a uid its
	 * policy does not name): its ERROR, saying why, waits to be read. */
	rc = receive(&m, fds, "HELLO");
	if (rc < 0)
		goto err_close;
	if (m.type != UDK_BROKER_GRANT || m.u.grant.g.nb_devs != args->nb_allow) {
		close_fds(fds, m.nfds);
		udk_log(UDK_LOG_ERR, LOG, "--broker %s: the broker answered HELLO with something "
			"other than a grant of the %zu devices asked for", bc.path, args->nb_allow);
		rc = -EPROTO;
		goto err_close;
	}
	g = &m.u.grant.g;
	bc.limit = g->mem_limit;
	snprintf(bc.who, sizeof(bc.who), "udk-broker at %s (policy for uid %u, memory limit "
		 "%llu MiB)", bc.path, g->uid, (unsigned long long)(g->mem_limit >> 20));
	bc.nb_devs = g->nb_devs;
	for (unsigned int i = 0; i < g->nb_devs; i++) {
		memcpy(bc.devs[i], m.u.grant.devs[i], UDK_BROKER_BDF_LEN);
		bc.dev_fds[i] = fds[i];
	}
	bc.nb_segs = g->nb_segs;
	for (unsigned int i = 0; i < g->nb_segs; i++)
		bc.segs[i] = (struct held_seg){m.u.grant.segs[i], fds[g->nb_devs + i]};
	udk_log(UDK_LOG_INFO, LOG, "--broker %s: granted %u devices, %u segments%s", bc.path,
		g->nb_devs, g->nb_segs, (g->flags & UDK_BROKER_GRANT_KEPT) ? " (kept from the "
		"last session: not zeroed or pinned again)" : "");
	return 0;

err_close:
	close(bc.sock);
	bc.sock = -1;
	return rc;
}

/* One more segment from the broker (heap growth). */
static int request_segment(size_t len, struct held_seg *out)
{
	struct udk_broker_msg m = {.type = UDK_BROKER_MEM};
	int fds[UDK_BROKER_MAX_FDS];
	int rc;

	m.u.mem.len = UDK_ALIGN_UP((uint64_t)len, 4096ull);
	rc = udk_broker_send_msg(bc.sock, &m, NULL);
	if (rc < 0) {
		udk_log(UDK_LOG_ERR, LOG, "--broker %s: asking for %zu more bytes: %s", bc.path, len,
			udk_strerror(rc));
		return rc;
	}
	rc = receive(&m, fds, "MEM");
	if (rc < 0)
		return rc;
	if (m.type != UDK_BROKER_SEGMENT) {
		close_fds(fds, m.nfds);
		udk_log(UDK_LOG_ERR, LOG, "--broker %s: MEM answered with message type %d",
			bc.path, (int)m.type);
		return -EPROTO;
	}
	*out = (struct held_seg){m.u.seg, fds[0]};
	if (bc.map != NULL) {
		rc = udk_dmamap_broker_grant(bc.map, out->s.iova, out->s.len, bc.who);
		if (rc < 0) {
			close(fds[0]);
			return rc;
		}
	}
	return 0;
}

static int take(void *arg, int node, size_t len, struct udk_mem_given *out)
{
	/* Two heaps (nodes) may grow at once; the socket and the table are one. */
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct held_seg fresh, *best = NULL;
	int rc = 0;

	(void)arg;
	pthread_mutex_lock(&lock);
	(void)node; /* the broker places the memory */
	for (unsigned int i = 0; i < bc.nb_segs; i++) {
		struct held_seg *h = &bc.segs[i];

		if (h->fd >= 0 && h->s.len >= len && (best == NULL || h->s.len < best->s.len))
			best = h;
	}
	if (best == NULL) {
		rc = request_segment(len, &fresh);
		if (rc < 0)
			goto out;
		best = &fresh;
	}
	*out = (struct udk_mem_given){.fd = best->fd, .len = best->s.len,
				      .page_size = best->s.page_size, .socket = best->s.node,
				      .iova = best->s.iova};
	best->fd = -1; /* lib/mem owns it now */
out:
	pthread_mutex_unlock(&lock);
	return rc;
}

const struct udk_mem_source *eal_broker_mem_source(void)
{
	bc.src.take = take;
	bc.src.arg = NULL;
	return &bc.src;
}

int eal_broker_adopt_map(struct udk_dmamap *map)
{
	int rc;

	for (unsigned int i = 0; i < bc.nb_segs; i++) {
		rc = udk_dmamap_broker_grant(map, bc.segs[i].s.iova, bc.segs[i].s.len, bc.who);
		if (rc < 0)
			return rc;
	}
	/* Name the policy in refusals even before the first segment. */
	rc = udk_dmamap_broker_grant(map, 0, 0, bc.who);
	if (rc < 0)
		return rc;
	bc.map = map;
	return 0;
}

int eal_broker_seg_event(enum udk_mem_event ev, struct udk_memseg *seg, void *arg)
{
	struct udk_dmamap *map = arg;

	if (ev == UDK_MEM_EVENT_ALLOC)
		return udk_dmamap_map_at(map, seg->va, seg->len, seg->iova);
	/* The broker keeps the mapping (for this user's next start); the record
	 * lets go. */
	if (seg->iova != UDK_IOVA_BAD)
		udk_dmamap_unmap(map, seg->va, seg->len);
	return 0;
}

int eal_broker_open_device(const struct udk_pci_addr *addr, struct udk_dmamap *map,
			   struct udk_pci_dev **out)
{
	char bdf[UDK_PCI_ADDR_STRLEN];
	int fd;

	udk_pci_addr_format(addr, bdf, sizeof(bdf));
	for (unsigned int i = 0; i < bc.nb_devs; i++) {
		if (strcmp(bc.devs[i], bdf) != 0 || bc.dev_fds[i] < 0)
			continue;
		fd = bc.dev_fds[i];
		bc.dev_fds[i] = -1; /* lib/pci owns it now */
		return udk_pci_dev_open_fd(addr, fd, map, out);
	}
	udk_log(UDK_LOG_ERR, LOG, "--broker %s: the broker granted no device %s", bc.path, bdf);
	return -ENODEV;
}

void eal_broker_close(void)
{
	for (unsigned int i = 0; i < bc.nb_devs; i++)
		if (bc.dev_fds[i] >= 0)
			close(bc.dev_fds[i]);
	for (unsigned int i = 0; i < bc.nb_segs; i++)
		if (bc.segs[i].fd >= 0)
			close(bc.segs[i].fd);
	if (bc.sock >= 0)
		close(bc.sock);
	bc.sock = -1;
	bc.nb_devs = bc.nb_segs = 0;
	bc.map = NULL;
}
