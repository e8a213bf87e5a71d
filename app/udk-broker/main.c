/* udk-broker - a root daemon that owns VFIO maps and hugepage memory and
 * lends devices to unprivileged processes (doc/broker.md).  A client
 * connects to its UNIX socket; the kernel tells the broker the client's uid
 * and gid (SO_PEERCRED); the policy file says which devices and how much
 * memory that user may have; the broker makes a map for that user alone,
 * attaches the devices, maps the user's segments and passes the device fds,
 * segment fds and IOVAs over the socket.  The map's own fd, and the groups',
 * never leave the broker. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "udk_util.h"
#include "udk_version.h"

#define PROG "udk-broker"
#define HUGETLBFS_MAGIC_ 0x958458f6

static FILE *log_file;
static volatile sig_atomic_t stop;

uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void vblog(const char *fmt, va_list ap)
{
	char msg[1024], stamp[32];
	struct timespec ts;
	struct tm tm;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, PROG ": %s.%03ldZ %s\n", stamp, ts.tv_nsec / 1000000, msg);
	if (log_file != NULL) {
		fprintf(log_file, "%s.%03ldZ %s\n", stamp, ts.tv_nsec / 1000000, msg);
		fflush(log_file);
	}
}

void blog(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vblog(fmt, ap);
	va_end(ap);
}

/* libudk's own lines (lib/dma's reasons) go to the same log. */
static void lib_sink(int level, const char *comp, const char *msg, void *arg)
{
	(void)arg;
	if (level <= udk_log_get_level())
		blog("%s: %s", comp, msg);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " --policy FILE [options]\n"
		"Lend VFIO devices and hugepage memory to unprivileged udk processes\n"
		"(they run with the EAL option --broker SOCK).  Runs as root, in the foreground.\n"
		"\n"
		"  --policy FILE       who may have which devices and how much memory (required);\n"
		"                      lines 'user|group WHO devices BDF[,BDF..]|- mem SIZE'\n"
		"  --socket PATH       UNIX socket to listen on (default /run/udk-broker.sock)\n"
		"  --socket-mode MODE  its permissions, octal (default 0666: anyone may ask,\n"
		"                      the policy decides)\n"
		"  --huge-dir DIR      hugetlbfs mount for clients' memory (default /dev/hugepages)\n"
		"  --log FILE          also append every grant and refusal to FILE\n"
		"  --check             parse the policy, print its rules and exit\n"
		"  --log-level LEVEL   libudk's messages: err, warn, notice, info, debug\n"
		"  -h, --help          this help\n"
		"  --version           the version\n"
		"\n"
		"A client that exits or crashes has its devices reset at once; its memory\n"
		"stays mapped for the same user's next start, and is zeroed and freed before\n"
		"any other user gets it.  doc/broker.md has the security model.\n");
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int listen_on(const char *path, mode_t mode)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int s, probe;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, PROG ": --socket %s: longer than %zu bytes\n", path,
			sizeof(sa.sun_path) - 1);
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, PROG ": --socket %s exists and is not a socket; remove it "
				"or choose another path\n", path);
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			fprintf(stderr, PROG ": another udk-broker listens on %s\n", path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		unlink(path); /* left by a broker that died */
	}
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, mode) < 0 ||
	    listen(s, 16) < 0) {
		fprintf(stderr, PROG ": cannot listen on %s: %s\n", path, strerror(errno));
		if (s >= 0)
			close(s);
		return -1;
	}
	return s;
}

static int check_huge_dir(struct broker *b)
{
	struct statfs sfs;

	if (statfs(b->huge_dir, &sfs) < 0 || (unsigned long)sfs.f_type != HUGETLBFS_MAGIC_) {
		fprintf(stderr, PROG ": --huge-dir %s is not a hugetlbfs mount; mount one with "
			"'mount -t hugetlbfs nodev %s'\n", b->huge_dir, b->huge_dir);
		return -1;
	}
	b->huge_page = (uint64_t)sfs.f_bsize;
	return 0;
}

static void print_policy(const struct policy *p)
{
	for (size_t i = 0; i < p->nb_rules; i++) {
		const struct rule *r = &p->rules[i];

		printf("line %u: %s %u: %llu MiB, devices", r->line, r->is_group ? "group" : "user",
		       r->id, (unsigned long long)(r->mem >> 20));
		for (unsigned int k = 0; k < r->nb_devs; k++)
			printf(" %s", r->devs[k]);
		printf("%s\n", r->nb_devs ? "" : " none");
	}
}

static struct conn conns[BROKER_MAX_CLIENTS];
static size_t nb_conns;

static void accept_one(int ls)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	int s = accept4(ls, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (s < 0)
		return;
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
		blog("REFUSED a connection: SO_PEERCRED: %s", strerror(errno));
		close(s);
		return;
	}
	if (nb_conns == BROKER_MAX_CLIENTS) {
		blog("REFUSED uid %u pid %d: %d connections already", (unsigned int)cr.uid,
		     (int)cr.pid, BROKER_MAX_CLIENTS);
		close(s);
		return;
	}
	conns[nb_conns++] = (struct conn){.sock = s, .uid = cr.uid, .gid = cr.gid, .pid = cr.pid};
}

static void drop(struct broker *b, size_t i, const char *why)
{
	struct conn *c = &conns[i];

	if (c->s != NULL) {
		blog("uid %u pid %d: client gone (%s)", (unsigned int)c->uid, (int)c->pid, why);
		session_park(c->s);
	}
	close(c->sock);
	(void)b;
	conns[i] = conns[--nb_conns];
}

/* One message from connection i; drop it on anything but a good request. */
static void serve(struct broker *b, size_t i)
{
	char buf[UDK_BROKER_MSG_MAX];
	int fds[UDK_BROKER_MAX_FDS];
	unsigned int nfds;
	size_t len;
	int rc;

	rc = udk_broker_recv(conns[i].sock, buf, sizeof(buf), &len, fds, UDK_BROKER_MAX_FDS,
			     &nfds);
	if (rc == -EAGAIN)
		return;
	if (rc < 0) {
		blog("REFUSED uid %u pid %d: unreadable message (%s)", (unsigned int)conns[i].uid,
		     (int)conns[i].pid, udk_strerror(rc));
		drop(b, i, "bad message");
		return;
	}
	if (len == 0) {
		drop(b, i, "socket closed");
		return;
	}
	/* Clients send no descriptors: close any, the parser refuses the message. */
	for (unsigned int k = 0; k < nfds; k++)
		close(fds[k]);
	rc = grant_message(b, &conns[i], buf, len, nfds);
	if (rc < 0)
		drop(b, i, "request refused");
}

static int run(struct broker *b, int ls)
{
	struct pollfd pf[BROKER_MAX_CLIENTS + 1];

	while (!stop) {
		pf[0] = (struct pollfd){.fd = ls, .events = POLLIN};
		for (size_t i = 0; i < nb_conns; i++)
			pf[i + 1] = (struct pollfd){.fd = conns[i].sock, .events = POLLIN};
		if (poll(pf, nb_conns + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			blog("poll: %s", strerror(errno));
			return 1;
		}
		/* Backwards: drop() moves the last connection into the slot. */
		for (size_t i = nb_conns; i-- > 0;) {
			if (pf[i + 1].revents & POLLIN)
				serve(b, i);
			else if (pf[i + 1].revents & (POLLHUP | POLLERR | POLLNVAL))
				drop(b, i, "socket closed");
		}
		if (pf[0].revents & POLLIN)
			accept_one(ls);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct broker b;
	const char *policy = NULL, *sock = "/run/udk-broker.sock", *logpath = NULL;
	unsigned long mode = 0666;
	bool check = false;
	char err[600], *end;
	int ls, rc, level;

	snprintf(b.huge_dir, sizeof(b.huge_dir), "/dev/hugepages");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			printf(PROG " (udk) %s\n", UDK_VERSION_STRING);
			return 0;
		} else if (!strcmp(a, "--check")) {
			check = true;
			continue;
		} else if (v == NULL) {
			fprintf(stderr, PROG ": %s: unknown option or missing value (see --help)\n",
				a);
			return 2;
		} else if (!strcmp(a, "--policy")) {
			policy = v;
		} else if (!strcmp(a, "--socket")) {
			sock = v;
		} else if (!strcmp(a, "--socket-mode")) {
			mode = strtoul(v, &end, 8);
			if (*v == '\0' || *end != '\0' || mode > 0777) {
				fprintf(stderr, PROG ": --socket-mode '%s' is not an octal mode "
					"like 0660\n", v);
				return 2;
			}
		} else if (!strcmp(a, "--huge-dir")) {
			snprintf(b.huge_dir, sizeof(b.huge_dir), "%s", v);
		} else if (!strcmp(a, "--log")) {
			logpath = v;
		} else if (!strcmp(a, "--log-level")) {
			if (udk_log_level_parse(v, &level) < 0) {
				fprintf(stderr, PROG ": --log-level '%s': err, warn, notice, info "
					"or debug\n", v);
				return 2;
			}
			udk_log_set_level(level);
		} else {
			fprintf(stderr, PROG ": %s: unknown option (see --help)\n", a);
			return 2;
		}
		i++;
	}
	if (policy == NULL) {
		fprintf(stderr, PROG ": --policy FILE is required (see --help)\n");
		return 2;
	}
	rc = policy_load(policy, &b.policy, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, PROG ": invalid policy: %s\n", err);
		return 1;
	}
	if (check) {
		print_policy(&b.policy);
		return 0;
	}
	if (geteuid() != 0)
		fprintf(stderr, PROG ": warning: not running as root; opening VFIO groups and "
			"pinning memory will probably fail\n");
	if (check_huge_dir(&b) < 0)
		return 1;
	if (logpath != NULL) {
		log_file = fopen(logpath, "a");
		if (log_file == NULL) {
			fprintf(stderr, PROG ": --log %s: %s\n", logpath, strerror(errno));
			return 1;
		}
	}
	udk_log_set_sink(lib_sink, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	ls = listen_on(sock, (mode_t)mode);
	if (ls < 0)
		return 1;
	blog("listening on %s (mode %04lo), policy %s with %zu rules, memory from %s "
	     "(%llu kB pages)", sock, mode, policy, b.policy.nb_rules, b.huge_dir,
	     (unsigned long long)(b.huge_page >> 10));
	rc = run(&b, ls);
	while (nb_conns > 0)
		drop(&b, nb_conns - 1, "broker stopping");
	while (b.sessions != NULL)
		session_evict(&b, b.sessions, "broker stopping");
	close(ls);
	unlink(sock);
	blog("stopped");
	if (log_file != NULL)
		fclose(log_file);
	return rc;
}
