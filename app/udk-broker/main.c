/* SPDX-License-Identifier: BSD-3-Clause */
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
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "tool_args.h"
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
		"                      the policy decides; 0660 with --socket-group)\n"
		"  --socket-group GROUP  its group (a name or gid): with mode 0660 only that\n"
		"                      group (and root) may even connect\n"
		"  --huge-dir DIR      hugetlbfs mount for clients' memory (default /dev/hugepages)\n"
		"  --log FILE          also append every grant and refusal to FILE\n"
		"  --check             parse the policy, print its rules and exit\n"
		"  --log-level LEVEL   libudk's messages: err, warn, notice, info, debug\n"
		"  -h, --help          this help\n"
		"  --version           the version\n"
		"\n"
		"A client that exits or crashes has its devices reset at once; its memory\n"
		"stays mapped for the same user's next start, and is freed before any other\n"
		"user gets it, who gets it zeroed.  doc/broker.md has the security model.\n");
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Listen on path, a socket with mode and (gid != -1) that group.  The mode
 * is the socket's from its creation (umask around bind), and the group is
 * set without following a symlink: nothing here may be turned on another
 * file by whoever can write to the socket's directory. */
static int listen_on(const char *path, mode_t mode, gid_t gid)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	mode_t old_mask;
	int s, probe, rc;

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
	if (s < 0)
		goto err;
	old_mask = umask((mode_t)(~mode & 0777));
	rc = bind(s, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (rc < 0 ||
	    (gid != (gid_t)-1 && fchownat(AT_FDCWD, path, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) < 0) ||
	    listen(s, 16) < 0)
		goto err;
	return s;

err:
	fprintf(stderr, PROG ": cannot listen on %s: %s\n", path, strerror(errno));
	if (s >= 0)
		close(s);
	return -1;
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

static int parse_group(const char *v, gid_t *gid)
{
	struct group *gr = getgrnam(v);
	char *end;
	unsigned long n;

	if (gr != NULL) {
		*gid = gr->gr_gid;
		return 0;
	}
	errno = 0;
	n = strtoul(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || n >= 0xffffffffUL)
		return -EINVAL;
	*gid = (gid_t)n;
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

/* Enough descriptors for what the policy may make the broker hold: per
 * session its map, group and device fds and segments, and what its user's
 * connections may have sent that waits to be closed; group rules count for
 * several users.  The soft limit is raised to that (as far as the hard
 * one allows: root may raise that too); a shortfall is logged, and accept()
 * copes with it. */
static void raise_nofile(const struct policy *p)
{
	struct rlimit rl;
	rlim_t need = 64 + BROKER_MAX_CLIENTS, was;

	for (size_t i = 0; i < p->nb_rules; i++)
		need += (p->rules[i].is_group ? 16 : 1) *
			(4 + 2 * (rlim_t)p->rules[i].nb_devs + UDK_BROKER_MAX_SEGS +
			 BROKER_MAX_WAITING_FDS + BROKER_MAX_PER_UID * UDK_BROKER_RECV_ALL_FDS);
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return;
	was = rl.rlim_cur;
	if (rl.rlim_max < need) {
		struct rlimit up = {need, need};

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
	}
	rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
	if (rl.rlim_cur == was || setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		blog("RLIMIT_NOFILE stays %llu, below the %llu the policy may need",
		     (unsigned long long)was, (unsigned long long)need);
		return;
	}
	blog("RLIMIT_NOFILE raised from %llu to %llu%s", (unsigned long long)was,
	     (unsigned long long)rl.rlim_cur,
	     rl.rlim_cur < need ? " (the hard limit; the policy may need more)" : "");
}

int main(int argc, char **argv)
{
	static struct broker b;
	static struct server sv;
	const char *policy = NULL, *sock = "/run/udk-broker.sock", *logpath = NULL;
	unsigned long mode = 0666;
	bool mode_set = false;
	gid_t sgid = (gid_t)-1;
	bool check = false;
	char err[600], *end;
	int ls, rc, level;

	if (tool_help_version(argc, argv, 0, PROG " (udk) " UDK_VERSION_STRING, usage))
		return 0;
	snprintf(b.huge_dir, sizeof(b.huge_dir), "/dev/hugepages");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--")) {
			continue; /* options and -- in any order: udk-broker takes no operand */
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
			mode_set = true;
		} else if (!strcmp(a, "--socket-group")) {
			if (parse_group(v, &sgid) < 0) {
				fprintf(stderr, PROG ": --socket-group '%s': no such group (a name "
					"or a numeric gid)\n", v);
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
	if (sgid != (gid_t)-1 && !mode_set)
		mode = 0660;
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
	raise_nofile(&b.policy);
	ls = listen_on(sock, (mode_t)mode, sgid);
	if (ls < 0)
		return 1;
	blog("listening on %s (mode %04lo, group %d), policy %s with %zu rules, memory from %s "
	     "(%llu kB pages)", sock, mode, sgid == (gid_t)-1 ? -1 : (int)sgid, policy,
	     b.policy.nb_rules, b.huge_dir, (unsigned long long)(b.huge_page >> 10));
	rc = server_init(&sv, &b, ls);
	if (rc < 0) {
		blog("cannot start: %s", strerror(-rc));
		close(ls);
		unlink(sock);
		return 1;
	}
	while (!stop && rc == 0)
		rc = server_step(&sv, -1);
	if (rc < 0)
		blog("poll: %s", strerror(-rc));
	server_fini(&sv);
	while (b.sessions != NULL)
		session_evict(&b, b.sessions, "broker stopping");
	close(ls);
	unlink(sock);
	blog("stopped");
	if (log_file != NULL)
		fclose(log_file);
	return rc < 0 ? 1 : 0;
}
