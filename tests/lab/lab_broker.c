/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_broker: udk-broker lends the second lab NVMe to unprivileged users
 * (numeric uids through setpriv: the guest's /etc/passwd is the host's,
 * read-only).  Proves: uid 1000 runs udk-nvme identify and a short
 * udk-nvme-perf through the broker, and its second start finds its memory
 * kept (start times of both are printed); uid 1001, with no rule, is
 * refused with a message naming the policy; a device outside the policy is
 * refused and logged; the broker survives malformed requests; a client can
 * map nothing itself, and a DMA it aims outside its segments is blocked by
 * the IOMMU (DMAR fault in the kernel log, its memory untouched); a client
 * killed with SIGKILL mid-I/O leaves the device usable by the next user
 * (uid 1002), whose grant first evicts (resets, zeroes) uid 1000's session;
 * the client's heap grows by asking the broker, up to the policy's limit;
 * udk-fwd drives both NICs as uid 1003; a device fd a client's child keeps
 * after the client is gone keeps the device from the next user until it is
 * closed; two users at once, each on a map of its own, uid 1000's
 * udk-nvme-perf writing the NVMe and verifying every write while uid 1003's
 * udk-fwd sends and verifies frames between the NICs, each map holding
 * exactly its own client's memory and devices (the clients' telemetry); a
 * client that punches a hole in its memory holds a page more per page
 * punched (the IOMMU keeps the old one pinned) until the broker's next look,
 * which evicts it, gives every page back and refuses its user from then on.
 *
 * Two clients at once, each with its own device (uid 1000: UDK_LAB_NVME2,
 * uid 1002: UDK_LAB_NVME): a DMA the first aims at an IOVA of the second's
 * memory faults and leaves it untouched; on iommufd (lab.env
 * UDK_LAB_IOMMU_BACKEND=iommufd) the first holds only its device's cdev,
 * bound and attached by the broker (no /dev/iommu, group or container fd),
 * and VFIO_DEVICE_ATTACH_IOMMUFD_PT to ids 1..64 is refused for every id but
 * the IOAS and page table of its own context, which the broker logs.
 *
 * "lab_broker rogue SOCK BDF" is the client half of the isolation check,
 * run as uid 1000; "puncher" that of step 11; "holder" and "reach" are the
 * two clients of the two-client check.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "labdev.h"
#include "labjson.h"
#include "labutil.h"
#include "udk_eal.h"
#include "udk_util.h"

#define SOCK "/tmp/udk-lab-broker.sock"
#define AS(uid) "setpriv --reuid " #uid " --regid " #uid " --clear-groups "

static char out[65536], err[16384];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

/* Run a shell command line; stdout and stderr land in out and err. */
static int run(double *secs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(double *secs, const char *fmt, ...)
{
	char cmd[900];
	va_list ap;
	double t0;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	t0 = now_s();
	rc = lab_sh("%s >c.out 2>c.err", cmd);
	if (secs != NULL)
		*secs = now_s() - t0;
	slurp("c.out", out, sizeof(out));
	slurp("c.err", err, sizeof(err));
	printf("$ %s  -> exit %d (%.2f s)\n%s%s", cmd, rc, now_s() - t0, out, err);
	return rc;
}

/* Wait until the broker's log has a line matching all of the words. */
static bool log_has(const char *a, const char *b, int timeout_ms)
{
	static char log[262144];

	for (int t = 0; t <= timeout_ms; t += 100) {
		slurp("broker.log", log, sizeof(log));
		for (char *line = log, *nl; *line; line = nl + 1) {
			nl = strchr(line, '\n');
			if (nl == NULL)
				break;
			*nl = '\0';
			if (strstr(line, a) != NULL && (b == NULL || strstr(line, b) != NULL))
				return true;
		}
		usleep(100000);
	}
	printf("broker.log has no line with '%s'%s%s\n", a, b ? " and " : "", b ? b : "");
	return false;
}

/* The grant time the broker logged last ("in N ms"), or -1. */
static double last_grant_ms(void)
{
	static char log[262144];
	double ms = -1;

	slurp("broker.log", log, sizeof(log));
	for (char *p = log; (p = strstr(p, "GRANTED")) != NULL; p++) {
		char *in = strstr(p, ") in ");
		char *nl = strchr(p, '\n');

		if (in != NULL && (nl == NULL || in < nl))
			ms = atof(in + 5);
	}
	return ms;
}

static pid_t spawn(const char *cmd)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Malformed requests on a fresh connection: the broker answers ERROR or
 * hangs up, and keeps serving. */
static void hostile(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	static const char junk[][24] = {"", "UDKB", "\x55\x44\x4b\x42\x01\x00\x01\x00\xff\xff"};
	char buf[4096];

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", SOCK);
	for (size_t i = 0; i < 4; i++) {
		int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		int fds[2] = {0, 1};

		CHECK(s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);
		if (i < 3) {
			CHECK(send(s, junk[i], i == 2 ? 10 : strlen(junk[i]), 0) >= 0);
		} else {
			/* A message with descriptors attached (clients send none). */
			union {
				char b[CMSG_SPACE(sizeof(fds))];
				struct cmsghdr a;
			} ctl;
			struct iovec iov = {.iov_base = buf, .iov_len = 64};
			struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
					    .msg_controllen = sizeof(ctl.b)};
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

			memset(buf, 0x41, 64);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(fds));
			memcpy(CMSG_DATA(c), fds, sizeof(fds));
			CHECK(sendmsg(s, &mh, 0) == 64);
		}
		/* ERROR then close, or close: never a grant. */
		ssize_t n = recv(s, buf, sizeof(buf), 0);
		CHECK_MSG(n <= 0 || (n >= 8 && buf[6] == 5), "answer of %zd bytes, type %d", n,
			  n >= 8 ? buf[6] : -1);
		close(s);
	}
	CHECK(log_has("REFUSED uid 0", "malformed request", 5000));
}

static int rogue_seg(const struct udk_memseg *seg, void *arg)
{
	uint64_t *end = arg;

	if (seg->iova + seg->len > *end)
		*end = seg->iova + seg->len;
	return 0;
}

/* Try to shrink and grow a granted segment: both refused (sealed). */
static int try_resize(const struct udk_memseg *seg, void *arg)
{
	unsigned int *n = arg;

	n[0]++;
	if (ftruncate(seg->fd, 0) < 0 && errno == EPERM)
		n[1]++;
	if (ftruncate(seg->fd, (off_t)(seg->len + seg->page_size)) < 0 && errno == EPERM)
		n[1]++;
	return 0;
}

/* The client half of the isolation check, as an unprivileged user. */
static int rogue(const char *sock, const char *bdf)
{
	char *argv[] = {"rogue", "--broker", (char *)sock, "-a", (char *)bdf, NULL};
	struct lab_nvme nvme;
	uint64_t iova, end = 0;
	uint8_t *page, *id;
	int zero = 1;

	setvbuf(stdout, NULL, _IONBF, 0);
	printf("rogue: uid %u\n", (unsigned int)getuid());
	LAB_CHECK(getuid() != 0);
	LAB_CHECK(udk_eal_init(5, argv) == 5);
	struct udk_dmamap *map = udk_eal_dmamap();

	/* The client cannot map anything itself. */
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	LAB_CHECK(page != MAP_FAILED);
	udk_last_error_clear();
	LAB_CHECK_RC(udk_dmamap_map(map, page, 4096, &iova), -EPERM);
	LAB_CHECK(lab_last_error_has("policy"));
	LAB_CHECK(lab_last_error_has("udk-broker at"));

	/* DMA into granted memory works. */
	LAB_CHECK_RC(lab_nvme_init(&nvme, udk_eal_device(0), map), 0);
	id = udk_mem_default_zmalloc(4096, 4096, UDK_SOCKET_ANY);
	LAB_CHECK(id != NULL);
	LAB_CHECK_RC(lab_nvme_identify(&nvme, udk_virt2iova(id)), 0);
	LAB_CHECK(lab_nvme_identify_ok(id, "udk-lab-nvme1"));
	printf("rogue: Identify into granted memory at IOVA 0x%llx: OK\n",
	       (unsigned long long)udk_virt2iova(id));

	/* An IOVA past every granted segment. */
	udk_mem_walk(udk_eal_mem(), rogue_seg, &end);
	iova = UDK_ALIGN_UP(end, 1ull << 21) + (4ull << 20);
	memset(id, 0, 4096);
	printf("rogue: granted segments end at IOVA 0x%llx; aiming Identify at 0x%llx\n",
	       (unsigned long long)end, (unsigned long long)iova);
	printf("ROGUE_IOVA 0x%llx\n", (unsigned long long)iova);
	fflush(stdout);
	lab_nvme_identify(&nvme, iova);
	for (int i = 0; i < 4096; i++)
		zero &= id[i] == 0;
	LAB_CHECK(zero);
	/* The heap grows by asking the broker, up to the policy's limit. */
	size_t got = 0;
	void *p;

	udk_last_error_clear();
	while ((p = udk_mem_default_zmalloc(8u << 20, 4096, UDK_SOCKET_ANY)) != NULL)
		got += 8u << 20;
	printf("rogue: the heap grew to %zu MiB of 8 MiB blocks, then: %s\n", got >> 20,
	       udk_last_error());
	LAB_CHECK(got >= (128u << 20) && got <= (160u << 20));
	LAB_CHECK(lab_last_error_has("memory limit of uid 1000 is 160 MiB"));
	/* Its segments are sealed: it cannot shrink one (the broker's own
	 * mapping would fault, and its scrub at eviction, step 6, kill it with
	 * SIGBUS) nor grow one (hugepages past its policy's 'mem'). */
	unsigned int resize[2] = {0, 0};

	udk_mem_walk(udk_eal_mem(), try_resize, resize);
	printf("rogue: %u segments; truncating and growing refused %u times of %u\n",
	       resize[0], resize[1], 2 * resize[0]);
	LAB_CHECK(resize[0] > 0 && resize[1] == 2 * resize[0]);
	/* A refused MEM costs only that allocation: the device still works. */
	memset(id, 0, 4096);
	LAB_CHECK_RC(lab_nvme_identify(&nvme, udk_virt2iova(id)), 0);
	LAB_CHECK(lab_nvme_identify_ok(id, "udk-lab-nvme1"));
	lab_nvme_fini(&nvme, true);
	udk_mem_default_free(id);
	udk_eal_cleanup();
	printf("rogue: done\n");
	return LAB_PASS;
}

struct seg_at {
	uint64_t iova;
	void *va;
};

static int seg_at_iova(const struct udk_memseg *seg, void *arg)
{
	struct seg_at *a = arg;

	if (a->iova >= seg->iova && a->iova - seg->iova < seg->len)
		a->va = (uint8_t *)seg->va + (a->iova - seg->iova);
	return 0;
}

/* Client B of the two-client check (uid 1002): marks a page near the end
 * of its memory, says its IOVA, and once the test creates GO checks the
 * mark survived whatever client A did meanwhile. */
static int holder(const char *sock, const char *bdf)
{
	char *argv[] = {"holder", "--broker", (char *)sock, "-m", "32", "-a", (char *)bdf, NULL};
	struct lab_nvme nvme;
	uint64_t end = 0, target;
	uint8_t *mark = NULL, *id;
	int intact = 1;

	setvbuf(stdout, NULL, _IONBF, 0);
	LAB_CHECK(getuid() != 0);
	LAB_CHECK(udk_eal_init(7, argv) == 7);
	LAB_CHECK_RC(lab_nvme_init(&nvme, udk_eal_device(0), udk_eal_dmamap()), 0);
	id = udk_mem_default_zmalloc(4096, 4096, UDK_SOCKET_ANY);
	LAB_CHECK(id != NULL);
	LAB_CHECK_RC(lab_nvme_identify(&nvme, udk_virt2iova(id)), 0);
	LAB_CHECK(lab_nvme_identify_ok(id, "udk-lab-nvme0"));
	udk_mem_walk(udk_eal_mem(), rogue_seg, &end);
	target = end - (1u << 20);
	struct seg_at at = {.iova = target};

	udk_mem_walk(udk_eal_mem(), seg_at_iova, &at);
	mark = at.va;
	LAB_CHECK(mark != NULL);
	memset(mark, 0xa5, 4096);
	printf("holder: uid %u, Identify on its own device OK; marked IOVA 0x%llx\n",
	       (unsigned int)getuid(), (unsigned long long)target);
	printf("HOLDER_TARGET 0x%llx\n", (unsigned long long)target);
	for (int t = 0; t < 1800 && access("holder.go", F_OK) != 0; t++)
		usleep(100000);
	LAB_CHECK(access("holder.go", F_OK) == 0);
	for (int i = 0; i < 4096; i++)
		intact &= mark[i] == 0xa5;
	printf("holder: the marked page is %s\n", intact ? "intact" : "CHANGED");
	LAB_CHECK(intact);
	/* Its own device still works. */
	LAB_CHECK_RC(lab_nvme_identify(&nvme, udk_virt2iova(id)), 0);
	LAB_CHECK(lab_nvme_identify_ok(id, "udk-lab-nvme0"));
	lab_nvme_fini(&nvme, true);
	udk_eal_cleanup();
	return LAB_PASS;
}

/* What the client holds: only device and memory fds, never /dev/iommu, a
 * VFIO group or the container.  Returns the device fd's target. */
static bool fds_clean(int devfd, char *dev_target, size_t len)
{
	bool clean = true;

	for (int fd = 0; fd < 1024; fd++) {
		char link[64], t[256];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, t, sizeof(t) - 1);
		if (n <= 0)
			continue;
		t[n] = '\0';
		if (fd == devfd)
			snprintf(dev_target, len, "%s", t);
		if (strcmp(t, "/dev/iommu") == 0 || strcmp(t, "/dev/vfio/vfio") == 0 ||
		    (strncmp(t, "/dev/vfio/", 10) == 0 && t[10] >= '0' && t[10] <= '9')) {
			printf("reach: fd %d is %s, which the broker must never hand out\n", fd, t);
			clean = false;
		}
	}
	return clean;
}

/* Client A of the two-client check (uid 1000).  args: the IOVA B marked,
 * "iommufd" or "type1". */
static int reach(const char *sock, const char *bdf, const char *target_s, const char *backend)
{
	char *argv[] = {"reach", "--broker", (char *)sock, "-m", "16", "-a", (char *)bdf, NULL};
	bool fd_iommufd = strcmp(backend, "iommufd") == 0;
	uint64_t target = strtoull(target_s, NULL, 0), end = 0;
	char dev_target[256] = "";
	struct lab_nvme nvme;
	uint8_t *id;
	int fd, zero = 1;

	setvbuf(stdout, NULL, _IONBF, 0);
	LAB_CHECK(getuid() != 0);
	LAB_CHECK(udk_eal_init(7, argv) == 7);
	LAB_CHECK_RC(udk_device_fd(udk_pci_dev_device(udk_eal_device(0)), &fd), 0);
	LAB_CHECK(fds_clean(fd, dev_target, sizeof(dev_target)));
	printf("reach: uid %u, device fd %d is %s\n", (unsigned int)getuid(), fd, dev_target);
	LAB_CHECK(fd_iommufd == (strncmp(dev_target, "/dev/vfio/devices/vfio", 22) == 0));
	LAB_CHECK_RC(lab_nvme_init(&nvme, udk_eal_device(0), udk_eal_dmamap()), 0);
	id = udk_mem_default_zmalloc(4096, 4096, UDK_SOCKET_ANY);
	LAB_CHECK(id != NULL);
	LAB_CHECK_RC(lab_nvme_identify(&nvme, udk_virt2iova(id)), 0);
	LAB_CHECK(lab_nvme_identify_ok(id, "udk-lab-nvme1"));
	udk_mem_walk(udk_eal_mem(), rogue_seg, &end);
	printf("reach: own memory ends at IOVA 0x%llx; the other client's mark is at 0x%llx\n",
	       (unsigned long long)end, (unsigned long long)target);
	LAB_CHECK(target >= end); /* the other client's, not in this one's map */

	if (fd_iommufd) {
		/* Its cdev is bound to its own context: every id it names is
		 * looked up there, never in the other client's. */
		for (uint32_t i = 1; i <= 64; i++) {
			struct vfio_device_attach_iommufd_pt at = {.argsz = sizeof(at), .pt_id = i};

			if (ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) == 0)
				printf("REACH_ACCEPTED %u (page table %u)\n", i, at.pt_id);
			else if (i <= 8)
				printf("reach: VFIO_DEVICE_ATTACH_IOMMUFD_PT to id %u: %s\n", i,
				       strerror(errno));
		}
		printf("reach: ids 9..64 refused unless listed above\n");
	}
	/* Still on its own memory after all that. */
	memset(id, 0, 4096);
	LAB_CHECK_RC(lab_nvme_identify(&nvme, udk_virt2iova(id)), 0);
	LAB_CHECK(lab_nvme_identify_ok(id, "udk-lab-nvme1"));
	/* A DMA aimed at the other client's marked page. */
	memset(id, 0, 4096);
	printf("REACH_IOVA 0x%llx\n", (unsigned long long)target);
	lab_nvme_identify(&nvme, target);
	for (int i = 0; i < 4096; i++)
		zero &= id[i] == 0;
	LAB_CHECK(zero);
	/* And it still works after the fault. */
	LAB_CHECK_RC(lab_nvme_identify(&nvme, udk_virt2iova(id)), 0);
	LAB_CHECK(lab_nvme_identify_ok(id, "udk-lab-nvme1"));
	lab_nvme_fini(&nvme, true);
	udk_eal_cleanup();
	printf("reach: done\n");
	return LAB_PASS;
}

/* The value after key in the last broker.log line that has both words,
 * or -1. */
static long log_value(const char *a, const char *key)
{
	static char log[262144];
	long v = -1;

	slurp("broker.log", log, sizeof(log));
	for (char *line = log, *nl; *line; line = nl + 1) {
		char *k;

		nl = strchr(line, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
		if (strstr(line, a) != NULL && (k = strstr(line, key)) != NULL)
			v = strtol(k + strlen(key), NULL, 10);
	}
	return v;
}

/* This guest's broker must use iommufd (lab.env). */
static bool on_iommufd(void)
{
	const char *want = lab_env("UDK_LAB_IOMMU_BACKEND");

	return want != NULL && strcmp(want, "iommufd") == 0;
}

/* How many of pid's fds are open on path. */
static int fds_on(pid_t pid, const char *path)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		char link[64], t[256];
		ssize_t len;

		snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)pid, fd);
		len = readlink(link, t, sizeof(t) - 1);
		if (len <= 0)
			continue;
		t[len] = '\0';
		n += strcmp(t, path) == 0;
	}
	return n;
}

/* Two clients at once, each with its own device: A cannot reach B.  The
 * broker holds three sessions then (uids 1000, 1002 and the parked 1003),
 * each with a map object of its own. */
static void two_clients(pid_t broker, const char *self, const char *a_bdf, const char *b_bdf)
{
	bool iommufd = on_iommufd();
	unsigned long long target = 0;
	char cmd[900], needle[96], line[512];
	long ioas, hwpt;
	uint64_t mark;
	pid_t b;
	int st, accepted = 0;

	unlink("holder.go");
	snprintf(cmd, sizeof(cmd), "exec " AS(1002) "%s holder %s %s >holder.out 2>holder.err",
		 self, SOCK, b_bdf);
	b = spawn(cmd);
	for (int t = 0; t < 600 && target == 0; t++) {
		const char *p;

		slurp("holder.out", out, sizeof(out));
		p = strstr(out, "HOLDER_TARGET 0x");
		if (p == NULL || sscanf(p, "HOLDER_TARGET 0x%llx", &target) != 1)
			usleep(100000);
	}
	printf("%s", out);
	CHECK(target != 0);
	CHECK(log_has("GRANTED uid 1002", b_bdf, 1000));
	CHECK(log_has("uid 1002: backend", iommufd ? "backend iommufd" : "backend vfio-type1",
		      1000));
	mark = lab_kmsg_mark();
	CHECK(run(NULL, AS(1000) "%s reach %s %s 0x%llx %s", self, SOCK, a_bdf, target,
		  iommufd ? "iommufd" : "type1") == 0);
	CHECK(log_has("uid 1000: backend", iommufd ? "backend iommufd" : "backend vfio-type1",
		      1000));
	{
		const char *obj = iommufd ? "/dev/iommu" : "/dev/vfio/vfio";
		int n = fds_on(broker, obj);

		printf("the broker holds %d fds on %s for its 3 sessions (one context or container "
		       "per user)\n", n, obj);
		CHECK(n == 3);
	}
	snprintf(needle, sizeof(needle), "DMAR.*fault addr 0x%llx ", target);
	CHECK(lab_kmsg_find(mark, needle, 10000, line, sizeof(line)) == 1);
	printf("kernel log: %s\n", line);
	if (iommufd) {
		/* Only its own IOAS and page table: no id of another context. */
		ioas = log_value("uid 1000: backend iommufd", "IOAS ");
		hwpt = log_value("uid 1000: backend iommufd", "(page table ");
		printf("uid 1000's own context: IOAS %ld, page table %ld\n", ioas, hwpt);
		CHECK(ioas > 0 && hwpt > 0);
		for (const char *p = out; (p = strstr(p, "REACH_ACCEPTED ")) != NULL; p++) {
			long id = strtol(p + 15, NULL, 10);

			CHECK_MSG(id == ioas || id == hwpt, "id %ld of no object of uid 1000's "
				  "context was accepted", id);
			accepted++;
		}
		CHECK(accepted <= 2);
	}
	lab_sh("touch holder.go");
	waitpid(b, &st, 0);
	slurp("holder.out", out, sizeof(out));
	slurp("holder.err", err, sizeof(err));
	printf("%s%s", out, err);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(strstr(out, "the marked page is intact") != NULL);
}

/* The number at a dotted path of v ("maps.maps.0.devices"), or ~0ULL. */
static unsigned long long num(const char *v, const char *path)
{
	char buf[32];

	if (lab_json_text(lab_json_path(v, path), buf, sizeof(buf)) != 0)
		return ~0ULL;
	return strtoull(buf, NULL, 10);
}

/* udk-fwd's --json summary in out: both ports sent, and received frames
 * that all checked out. */
static void fwd_ports_ok(void)
{
	CHECK(lab_json_valid(out));
	for (int i = 0; i < 2; i++) {
		const char *p = lab_json_index(lab_json_member(out, "ports"), i);

		CHECK(p != NULL);
		if (p == NULL)
			continue;
		printf("udk-fwd port %d as uid 1003: tx %llu, verified %llu, invalid %llu\n", i,
		       num(p, "tx"), num(p, "valid"), num(p, "invalid"));
		CHECK(num(p, "tx") > 1000 && num(p, "valid") > 1000 && num(p, "invalid") == 0);
	}
}

/* udk-fwd as uid 1003: each NIC generates numbered frames and verifies the
 * other's, both devices and the memory from the broker. */
static void fwd(const char *virtio, const char *e1000e)
{
	REQUIRE(lab_bind_vfio(virtio) == 0);
	REQUIRE(lab_bind_vfio(e1000e) == 0);
	CHECK(run(NULL, AS(1003) "udk-fwd -l 0,1 --broker %s -a %s -a %s -m 48 -- --mode txonly "
		  "--verify --duration 3 --interval 1 --json", SOCK, virtio, e1000e) == 0);
	fwd_ports_ok();
	CHECK(log_has("GRANTED uid 1003", virtio, 1000));
}

/* One client's view of its own map, from its telemetry (udk-top --json; root
 * may ask any process): its progress, and whether the map holds exactly its
 * own memory and devices. */
struct view {
	const char *who, *sock;
	const char *bdf[2];
	int nb_bdf;
	unsigned long long progress; /* NVMe completions or frames received */
};

static bool view_read(struct view *v, bool check)
{
	static char doc[262144];
	unsigned long long sum = 0, nseg, bytes;
	const char *proc;
	char name[64] = "", devmap[64] = "";

	if (lab_sh("udk-top --json -s %s >top.json 2>top.err", v->sock) != 0)
		return false;
	slurp("top.json", doc, sizeof(doc));
	proc = lab_json_path(doc, "processes.0");
	if (proc == NULL)
		return false;
	if (v->nb_bdf == 1) {
		v->progress = num(proc, "nvme.0.qpairs.0.completed");
	} else {
		v->progress = num(proc, "ports.0.stats.ipackets") +
			      num(proc, "ports.1.stats.ipackets");
	}
	if (v->progress >= ~0ULL >> 1)
		return false; /* not started yet */
	if (!check)
		return true;
	nseg = num(proc, "maps.memory.segments");
	for (unsigned long long i = 0; i < nseg && i < 64; i++) {
		char path[48];

		snprintf(path, sizeof(path), "maps.memory.segment.%llu.len", i);
		sum += num(proc, path);
	}
	bytes = num(proc, "maps.maps.0.bytes_mapped");
	lab_json_text(lab_json_path(proc, "maps.maps.0.name"), name, sizeof(name));
	printf("%s: map '%s' (%s): %llu devices, %llu mappings, %llu MiB mapped; its own heap: "
	       "%llu segments, %llu MiB\n", v->who, name,
	       lab_json_is(proc, "maps.maps.0.backend", "brokered") ? "brokered" : "NOT brokered",
	       num(proc, "maps.maps.0.devices"), num(proc, "maps.maps.0.mappings"), bytes >> 20,
	       nseg, sum >> 20);
	CHECK(lab_json_is(proc, "maps.maps.0.backend", "brokered"));
	/* Exactly its own memory: every mapping is one of its segments. */
	CHECK(nseg > 0 && bytes == sum && num(proc, "maps.maps.0.mappings") == nseg);
	/* Exactly its own devices, all on that map. */
	CHECK(num(proc, "maps.maps.0.devices") == (unsigned long long)v->nb_bdf);
	CHECK(lab_json_length(lab_json_path(proc, "devices")) == v->nb_bdf);
	for (int i = 0; i < v->nb_bdf; i++) {
		char path[32];

		snprintf(path, sizeof(path), "devices.%d", i);
		CHECK(lab_json_is(lab_json_path(proc, path), "bdf", v->bdf[i]));
		snprintf(path, sizeof(path), "devices.%d.map", i);
		lab_json_text(lab_json_path(proc, path), devmap, sizeof(devmap));
		CHECK_MSG(strcmp(devmap, name) == 0, "%s is on map '%s', not '%s'", v->bdf[i],
			  devmap, name);
	}
	return true;
}

/* Two users' clients at once, each on a map of its own (the broker's), with
 * the unchanged drivers: uid 1000's udk-nvme-perf writes the NVMe and reads
 * every acknowledged write back (--verify) while uid 1003's udk-fwd sends
 * numbered frames between the two NICs and checks every byte. */
static void two_maps(pid_t broker, const char *nvme, const char *virtio, const char *e1000e)
{
	struct view v[2] = {
		{"uid 1000 (udk-nvme-perf)", "/tmp/udk-lab-broker-nvme.sock", {nvme}, 1, 0},
		{"uid 1003 (udk-fwd)", "/tmp/udk-lab-broker-fwd.sock", {virtio, e1000e}, 2, 0},
	};
	unsigned long long first[2] = {0, 0};
	char cmd[900];
	pid_t pid[2];
	int st[2], snaps = 0;
	double t0;

	unlink(v[0].sock);
	unlink(v[1].sock);
	snprintf(cmd, sizeof(cmd), "exec " AS(1000) "udk-nvme-perf -l 0,1 --broker %s -a %s -m 64 "
		 "--telemetry-path %s -- --pattern write --verify --qd 8 --time 300 --json "
		 ">perf.out 2>perf.err", SOCK, nvme, v[0].sock);
	printf("$ %s\n", cmd);
	pid[0] = spawn(cmd);
	snprintf(cmd, sizeof(cmd), "exec " AS(1003) "udk-fwd -l 0,1 --broker %s -a %s -a %s -m 48 "
		 "--telemetry-path %s -- --mode txonly --verify --duration 300 --interval 1 --json "
		 ">fwd.out 2>fwd.err", SOCK, virtio, e1000e, v[1].sock);
	printf("$ %s\n", cmd);
	pid[1] = spawn(cmd);
	t0 = now_s();
	/* Both at work: two snapshots of both, each moving forward in between.
	 * Both run until Ctrl-C, not a fixed time that a slow boot's udk-top
	 * calls can outlast (each snapshot takes seconds there). */
	while (snaps < 2 && now_s() < t0 + 240) {
		if (!view_read(&v[0], false) || !view_read(&v[1], false)) {
			usleep(100000);
			continue;
		}
		if (snaps == 0) {
			CHECK(view_read(&v[0], true) && view_read(&v[1], true));
			first[0] = v[0].progress;
			first[1] = v[1].progress;
			snaps++;
			usleep(500000);
		} else if (v[0].progress > first[0] && v[1].progress > first[1]) {
			snaps++;
		} else {
			usleep(100000);
		}
	}
	/* At least the 8 s of work the exit checks below expect, then Ctrl-C. */
	while (now_s() < t0 + 8)
		usleep(100000);
	kill(pid[0], SIGINT);
	kill(pid[1], SIGINT);
	printf("both at once: NVMe completions %llu -> %llu, frames received %llu -> %llu\n",
	       first[0], v[0].progress, first[1], v[1].progress);
	CHECK(snaps == 2);
	{
		int n = fds_on(broker, on_iommufd() ? "/dev/iommu" : "/dev/vfio/vfio");

		printf("the broker holds %d maps (uid 1000, 1002 parked, 1003)\n", n);
		CHECK(n == 3);
	}
	for (int i = 0; i < 2; i++) {
		waitpid(pid[i], &st[i], 0);
		CHECK_MSG(WIFEXITED(st[i]) && WEXITSTATUS(st[i]) == 0, "%s: exit status 0x%x",
			  v[i].who, st[i]);
	}
	slurp("perf.out", out, sizeof(out));
	slurp("perf.err", err, sizeof(err));
	printf("%s%s", out, err);
	CHECK(lab_json_valid(out));
	printf("udk-nvme-perf as uid 1000: %llu writes, %llu read back and verified, %llu wrong\n",
	       num(out, "jobs.0.writes"), num(out, "jobs.0.verified"),
	       num(out, "jobs.0.verify_errors"));
	CHECK(num(out, "jobs.0.verified") > 0 && num(out, "jobs.0.verified") < ~0ULL);
	CHECK(num(out, "jobs.0.verify_errors") == 0);
	slurp("fwd.out", out, sizeof(out));
	slurp("fwd.err", err, sizeof(err));
	printf("%s%s", out, err);
	fwd_ports_ok();
}

/* A client whose child keeps a copy of the device fd (and nothing else)
 * after the client exits. */
static int stale(const char *sock, const char *bdf)
{
	char *argv[] = {"stale", "--broker", (char *)sock, "-m", "16", "-a", (char *)bdf, NULL};
	int fd;
	pid_t child;

	LAB_CHECK(udk_eal_init(7, argv) == 7);
	LAB_CHECK_RC(udk_device_fd(udk_pci_dev_device(udk_eal_device(0)), &fd), 0);
	child = fork();
	if (child == 0) {
		for (int i = 0; i < 1024; i++)
			if (i != fd)
				close(i);
		pause();
		_exit(0);
	}
	printf("STALE_CHILD %d keeps device fd %d\n", (int)child, fd);
	fflush(stdout);
	_exit(0); /* no cleanup: the socket closes with the process */
}

/* HugePages_Free of /proc/meminfo, or -1. */
static long huge_free(void)
{
	char line[128];
	long n = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "HugePages_Free: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* The last segment of at least two pages. */
static int last_seg(const struct udk_memseg *seg, void *arg)
{
	if (seg->len >= 2 * seg->page_size)
		*(const struct udk_memseg **)arg = seg;
	return 0;
}

/* Step 11's client (uid 1000): punches a hole in a granted segment and
 * touches it again, three times on one page, then on a second page, reading
 * HugePages_Free after each, all within microseconds (the broker looks once
 * a second); then the same a few seconds on, after the broker's check. */
static int puncher(const char *sock, const char *bdf)
{
	char *argv[] = {"puncher", "--broker", (char *)sock, "-m", "16", "-a", (char *)bdf, NULL};
	const struct udk_memseg *seg = NULL;
	long f[6];
	size_t off;

	setvbuf(stdout, NULL, _IONBF, 0);
	LAB_CHECK(getuid() != 0);
	LAB_CHECK(udk_eal_init(7, argv) == 7);
	/* The heap takes the granted segments as it grows. */
	LAB_CHECK(udk_mem_default_zmalloc(4u << 20, 4096, UDK_SOCKET_ANY) != NULL);
	udk_mem_walk(udk_eal_mem(), last_seg, &seg);
	LAB_CHECK(seg != NULL);
	off = seg->len - seg->page_size; /* the last pages: no heap header there */
	f[0] = huge_free();
	for (int k = 1; k <= 4; k++) {
		size_t at = k < 4 ? off : off - seg->page_size;

		LAB_CHECK(fallocate(seg->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				    seg->fd_offset + (off_t)at, (off_t)seg->page_size) == 0);
		((volatile uint8_t *)seg->va)[at] = 1;
		f[k] = huge_free();
	}
	sleep(3);
	f[5] = huge_free();
	printf("PUNCH %ld %ld %ld %ld %ld %ld\n", f[0], f[1], f[2], f[3], f[4], f[5]);
	_exit(0); /* evicted: nothing of its grant is left to clean up */
}

static void write_policy(const char *bdf)
{
	FILE *f = fopen("policy", "w");

	REQUIRE(f != NULL);
	fprintf(f, "# lab_broker: uid 1000 and 1002 may have the second NVMe, 1002 the first too\n"
		   "user 1000 devices %s mem 160M\n"
		   "user 1002 devices %s,%s mem 32M\n"
		   "user 1003 devices %s,%s mem 64M\n"
		   "# root, for the hostile requests (a uid without a rule is refused at accept)\n"
		   "user 0 devices - mem 2M\n", bdf, bdf, lab_env_require("UDK_LAB_NVME"),
		lab_env_require("UDK_LAB_VIRTIO"),
		lab_env_require("UDK_LAB_E1000E"));
	fclose(f);
}

/* Bind-mount the build tree (three levels above this test's executable,
 * build/tests/lab/NAME) at /tmp/udk-build, and rewrite self and PATH's build
 * directories to go through it. */
static void open_build_tree(char *self, size_t len)
{
	static const char *mnt = "/tmp/udk-build";
	char root[512], path[4096] = "", *p, *save = NULL;
	const char *old = getenv("PATH");
	size_t n;

	snprintf(root, sizeof(root), "%s", self);
	for (int i = 0; i < 3; i++) {
		p = strrchr(root, '/');
		REQUIRE(p != NULL);
		*p = '\0';
	}
	n = strlen(root);
	printf("uid 1000 cannot enter %s (a directory above it is closed to other users): "
	       "showing it at %s\n", root, mnt);
	REQUIRE(lab_sh("mkdir -p %s && mount --bind %s %s", mnt, root, mnt) == 0);
	snprintf(path, sizeof(path), "%s%s", mnt, self + n);
	snprintf(self, len, "%s", path);
	path[0] = '\0';
	char *copy = strdup(old != NULL ? old : "");
	REQUIRE(copy != NULL);
	for (p = strtok_r(copy, ":", &save); p != NULL; p = strtok_r(NULL, ":", &save)) {
		size_t used = strlen(path);
		bool under = strncmp(p, root, n) == 0 && (p[n] == '/' || p[n] == '\0');

		snprintf(path + used, sizeof(path) - used, "%s%s%s", used ? ":" : "",
			 under ? mnt : "", under ? p + n : p);
	}
	free(copy);
	setenv("PATH", path, 1);
}

int main(int argc, char **argv)
{
	char self[512], drv[64] = "", drv_other[64] = "", cmd[900], line[512], needle[64];
	const char *bdf, *other;
	double t_first, t_kept, g_first, g_kept;
	unsigned long long iova = 0;
	pid_t broker, victim;
	uint64_t mark;
	int st;

	if (argc == 4 && strcmp(argv[1], "rogue") == 0)
		return rogue(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "stale") == 0)
		return stale(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "puncher") == 0)
		return puncher(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "holder") == 0)
		return holder(argv[2], argv[3]);
	if (argc == 6 && strcmp(argv[1], "reach") == 0)
		return reach(argv[2], argv[3], argv[4], argv[5]);
	setvbuf(stdout, NULL, _IONBF, 0);
	lab_require_guest();
	bdf = lab_env_require("UDK_LAB_NVME2");
	other = lab_env_require("UDK_LAB_NVME");
	if (access("/usr/bin/setpriv", X_OK) != 0)
		lab_skip("no setpriv (util-linux) to run as another user");
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	REQUIRE(n > 0);
	self[n] = '\0'; /* readlink does not terminate */
	lab_device_driver(bdf, drv, sizeof(drv));
	lab_device_driver(other, drv_other, sizeof(drv_other));
	REQUIRE(lab_bind_vfio(bdf) == 0);
	REQUIRE(lab_bind_vfio(other) == 0);
	write_policy(bdf);
	chmod(".", 0755);
	/* The guest sees the host's tree with the host's modes: a build under a
	 * directory other users cannot enter (e.g. /root) cannot be run as them.
	 * Then show them the same tree at an open place (RUNPATHs are relative). */
	if (lab_sh(AS(1000) "udk-nvme --help >/dev/null 2>&1") != 0 ||
	    lab_sh(AS(1000) "test -x %s", self) != 0)
		open_build_tree(self, sizeof(self));
	if (lab_sh(AS(1000) "udk-nvme --help >/dev/null 2>&1") != 0 ||
	    lab_sh(AS(1000) "test -x %s", self) != 0)
		lab_skip("uid 1000 cannot run the build tree's binaries (%s), even through a bind "
			 "mount under /tmp", self);

	REQUIRE(lab_sh("udk-broker --policy policy --check") == 0);
	snprintf(cmd, sizeof(cmd), "exec udk-broker --policy policy --socket %s --log broker.log "
		 "2>broker.err", SOCK);
	broker = spawn(cmd);
	REQUIRE(log_has("listening on", NULL, 20000));

	/* 1. identify as uid 1000, twice: the second start keeps its memory. */
	CHECK(run(&t_first, AS(1000) "udk-nvme --broker %s -a %s -m 128 identify", SOCK, bdf) == 0);
	CHECK(strstr(out, "udk-lab-nvme1") != NULL);
	g_first = last_grant_ms();
	CHECK(log_has("GRANTED uid 1000", "zeroed and pinned now", 1000));
	CHECK(run(&t_kept, AS(1000) "udk-nvme --broker %s -a %s -m 128 identify", SOCK, bdf) == 0);
	CHECK(strstr(out, "udk-lab-nvme1") != NULL);
	g_kept = last_grant_ms();
	CHECK(log_has("GRANTED uid 1000", "kept from the last session", 1000));
	printf("START TIME uid 1000, 128 MiB: first start %.3f s (broker grant %.1f ms: "
	       "allocate, zero, pin), restart %.3f s (grant %.1f ms: kept)\n", t_first, g_first,
	       t_kept, g_kept);
	CHECK(g_kept >= 0 && g_kept < g_first);

	/* 2. a short udk-nvme-perf through the broker. */
	CHECK(run(NULL, AS(1000) "udk-nvme-perf --broker %s -a %s -m 128 -- --qd 8 --time 2 "
		  "--json", SOCK, bdf) == 0);
	CHECK(strstr(out, "\"iops\"") != NULL);

	/* 3. a user without a rule, and a device outside the policy. */
	CHECK(run(NULL, AS(1001) "udk-nvme --broker %s -a %s identify", SOCK, bdf) != 0);
	CHECK(strstr(err, "has no grant in policy") != NULL);
	CHECK(log_has("REFUSED uid 1001", "no grant", 1000));
	CHECK(run(NULL, AS(1000) "udk-nvme --broker %s -a %s identify", SOCK, other) != 0);
	CHECK(strstr(err, "is not granted to uid 1000") != NULL);
	CHECK(log_has("REFUSED uid 1000", other, 1000));
	CHECK(run(NULL, AS(1002) "udk-nvme --broker %s -a %s -m 64 identify", SOCK, bdf) != 0);
	CHECK(strstr(err, "allows uid 1002 32 MiB") != NULL);

	/* 4. hostile requests: refused, the broker keeps serving. */
	hostile();

	/* 5. isolation: the client maps nothing; a DMA outside its segments faults. */
	mark = lab_kmsg_mark();
	CHECK(run(NULL, AS(1000) "%s rogue %s %s", self, SOCK, bdf) == 0);
	{
		const char *p = strstr(out, "ROGUE_IOVA 0x");

		CHECK(p != NULL && sscanf(p, "ROGUE_IOVA 0x%llx", &iova) == 1);
	}
	snprintf(needle, sizeof(needle), "DMAR.*fault addr 0x%llx ", iova);
	CHECK(iova != 0 && lab_kmsg_find(mark, needle, 10000, line, sizeof(line)) == 1);
	printf("kernel log: %s\n", line);

	/* 6. SIGKILL mid-I/O, then another user gets the device. */
	snprintf(cmd, sizeof(cmd), "exec " AS(1000) "udk-nvme-perf --broker %s -a %s -m 128 -- "
		 "--qd 32 --time 60 >victim.out 2>victim.err", SOCK, bdf);
	victim = spawn(cmd);
	CHECK(log_has("GRANTED uid 1000", "kept", 20000));
	/* Its first progress line says I/O is in flight. */
	for (int t = 0; t < 200; t++) {
		slurp("victim.err", err, sizeof(err));
		if (strstr(err, "IOPS") != NULL)
			break;
		usleep(100000);
	}
	printf("victim: %s", err);
	CHECK(strstr(err, "IOPS") != NULL);
	kill(victim, SIGKILL);
	waitpid(victim, &st, 0);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	CHECK(log_has("uid 1000 pid", "client gone", 10000));
	CHECK(log_has("uid 1000: parked", NULL, 10000));
	CHECK(run(NULL, AS(1002) "udk-nvme --broker %s -a %s -m 16 identify", SOCK, bdf) == 0);
	CHECK(strstr(out, "udk-lab-nvme1") != NULL);
	CHECK(log_has("uid 1000: evicted (uid 1002 wants", "returned to the hugepage pool", 1000));
	CHECK(log_has("GRANTED uid 1002", "zeroed and pinned now", 1000));

	/* 7. A copy of a device fd that outlives its client: the device is not
	 * handed to another user while it lives, and is once it is gone. */
	CHECK(run(NULL, AS(1002) "%s stale %s %s", self, SOCK, bdf) == 0);
	{
		const char *p = strstr(out, "STALE_CHILD ");
		int child = 0;

		CHECK(p != NULL && sscanf(p, "STALE_CHILD %d", &child) == 1 && child > 0);
		CHECK(log_has("uid 1002: parked", NULL, 10000));
		CHECK(run(NULL, AS(1000) "udk-nvme --broker %s -a %s -m 16 identify", SOCK, bdf) != 0);
		CHECK(log_has("uid 1002: evicted (uid 1000 wants", NULL, 1000));
		if (on_iommufd()) {
			/* The copy keeps the cdev open (bound to the evicted
			 * session's context, whose IOAS is gone): the kernel
			 * refuses to bind it again. */
			CHECK(strstr(err, "the device is in use elsewhere") != NULL);
		} else {
			CHECK(strstr(err, "held by another process") != NULL);
			CHECK(log_has("detach group", "busy", 1000));
		}
		if (child > 0)
			kill(child, SIGKILL);
		usleep(500000);
		CHECK(run(NULL, AS(1000) "udk-nvme --broker %s -a %s -m 16 identify", SOCK, bdf) == 0);
		CHECK(strstr(out, "udk-lab-nvme1") != NULL);
	}

	/* 8. udk-fwd, unchanged, on both NICs through the broker. */
	fwd(lab_env_require("UDK_LAB_VIRTIO"), lab_env_require("UDK_LAB_E1000E"));

	/* 9. Two clients at once, each with its own device. */
	two_clients(broker, self, bdf, other);

	/* 10. Two users, two maps, an NVMe and the NICs at once. */
	two_maps(broker, bdf, lab_env_require("UDK_LAB_VIRTIO"), lab_env_require("UDK_LAB_E1000E"));

	/* 11. A hole punched in a segment and touched again: under the IOMMU
	 * the old page stays pinned while a fresh one fills the hole (one
	 * page more per page punched, not per punch), until the broker's next
	 * look (a second at most) evicts the client and refuses its user. */
	{
		long f0 = huge_free(), f[6] = {0};
		const char *p;

		CHECK(run(NULL, AS(1000) "%s puncher %s %s", self, SOCK, bdf) == 0);
		p = strstr(out, "PUNCH ");
		CHECK(p != NULL && sscanf(p, "PUNCH %ld %ld %ld %ld %ld %ld", &f[0], &f[1], &f[2],
					  &f[3], &f[4], &f[5]) == 6);
		printf("HugePages_Free: %ld before the client; in it %ld, after a hole punched "
		       "and touched %ld, twice more on that page %ld %ld, on a second page %ld; "
		       "3 s later %ld; after it exited %ld\n", f0, f[0], f[1], f[2], f[3], f[4],
		       f[5], huge_free());
		CHECK(f[1] == f[0] - 1 && f[2] == f[1] && f[3] == f[1] && f[4] == f[1] - 1);
		CHECK(log_has("uid 1000: segment", "has a hole punched", 1000));
		CHECK(log_has("uid 1000: evicted (hole punched", NULL, 1000));
		CHECK(f[5] > f[0] && huge_free() >= f0);
		CHECK(run(NULL, AS(1000) "udk-nvme --broker %s -a %s -m 16 identify", SOCK,
			  bdf) != 0);
		CHECK(strstr(err, "refused until the broker restarts") != NULL);
	}

	kill(broker, SIGTERM);
	waitpid(broker, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(log_has("stopped", NULL, 1000));
	lab_sh("cat broker.log");
	/* Only now: unbinding a device the broker holds waits until it lets go. */
	lab_bind(lab_env_require("UDK_LAB_VIRTIO"), NULL);
	lab_bind(lab_env_require("UDK_LAB_E1000E"), NULL);
	lab_bind(bdf, drv);
	lab_bind(other, drv_other);
	return lab_result();
}
