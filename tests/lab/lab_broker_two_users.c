/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_broker_two_users: udk-broker serving several users at once
 * (labbroker.h).  Step 8: udk-fwd drives both NICs as uid 1003.  Step 9: two
 * clients at once, each with its own device (uid 1000: UDK_LAB_NVME2, uid
 * 1002: UDK_LAB_NVME): a DMA the first aims at an IOVA of the second's
 * memory faults and leaves it untouched; on iommufd (lab.env
 * UDK_LAB_IOMMU_BACKEND=iommufd) the first holds only its device's cdev,
 * bound and attached by the broker (no /dev/iommu, group or container fd),
 * and VFIO_DEVICE_ATTACH_IOMMUFD_PT to ids 1..64 is refused for every id but
 * the IOAS and page table of its own context, which the broker logs.
 * Step 10: two users at once, each on a map of its own, uid 1000's
 * udk-nvme-perf writing the NVMe and verifying every write while uid 1003's
 * udk-fwd sends and verifies frames between the NICs, each map holding
 * exactly its own client's memory and devices (the clients' telemetry).
 * Steps 9 and 10 count the broker's sessions, so they run in this order
 * after step 8 (uid 1003's session parked).
 *
 * "lab_broker_two_users holder SOCK BDF" and "reach SOCK BDF IOVA BACKEND"
 * are the two clients of step 9.
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

#include "labbroker.h"
#include "labdev.h"
#include "labjson.h"
#include "labutil.h"
#include "udk_eal.h"
#include "udk_util.h"


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
	udk_mem_walk(udk_eal_mem(), lb_seg_end, &end);
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
	udk_mem_walk(udk_eal_mem(), lb_seg_end, &end);
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

/* Two clients at once, each with its own device: A cannot reach B.  The
 * broker holds three sessions then (uids 1000, 1002 and the parked 1003),
 * each with a map object of its own. */
static void two_clients(pid_t broker, const char *self, const char *a_bdf, const char *b_bdf)
{
	bool iommufd = lb_on_iommufd();
	unsigned long long target = 0;
	char cmd[900], needle[96], line[512];
	long ioas, hwpt;
	uint64_t mark;
	pid_t b;
	int st, accepted = 0;

	unlink("holder.go");
	snprintf(cmd, sizeof(cmd), "exec " AS(1002) "%s holder %s %s >holder.out 2>holder.err",
		 self, SOCK, b_bdf);
	b = lb_spawn(cmd);
	for (int t = 0; t < 600 && target == 0; t++) {
		const char *p;

		lb_slurp("holder.out", lb_out, sizeof(lb_out));
		p = strstr(lb_out, "HOLDER_TARGET 0x");
		if (p == NULL || sscanf(p, "HOLDER_TARGET 0x%llx", &target) != 1)
			usleep(100000);
	}
	printf("%s", lb_out);
	CHECK(target != 0);
	CHECK(lb_log_has("GRANTED uid 1002", b_bdf, 1000));
	CHECK(lb_log_has("uid 1002: backend", iommufd ? "backend iommufd" : "backend vfio-type1",
		      1000));
	mark = lab_kmsg_mark();
	CHECK(lb_run(NULL, AS(1000) "%s reach %s %s 0x%llx %s", self, SOCK, a_bdf, target,
		  iommufd ? "iommufd" : "type1") == 0);
	CHECK(lb_log_has("uid 1000: backend", iommufd ? "backend iommufd" : "backend vfio-type1",
		      1000));
	{
		const char *obj = iommufd ? "/dev/iommu" : "/dev/vfio/vfio";
		int n = lb_fds_on(broker, obj);

		printf("the broker holds %d fds on %s for its 3 sessions (one context or container "
		       "per user)\n", n, obj);
		CHECK(n == 3);
	}
	snprintf(needle, sizeof(needle), "DMAR.*fault addr 0x%llx ", target);
	CHECK(lab_kmsg_find(mark, needle, 10000, line, sizeof(line)) == 1);
	printf("kernel log: %s\n", line);
	if (iommufd) {
		/* Only its own IOAS and page table: no id of another context. */
		ioas = lb_log_value("uid 1000: backend iommufd", "IOAS ");
		hwpt = lb_log_value("uid 1000: backend iommufd", "(page table ");
		printf("uid 1000's own context: IOAS %ld, page table %ld\n", ioas, hwpt);
		CHECK(ioas > 0 && hwpt > 0);
		for (const char *p = lb_out; (p = strstr(p, "REACH_ACCEPTED ")) != NULL; p++) {
			long id = strtol(p + 15, NULL, 10);

			CHECK_MSG(id == ioas || id == hwpt, "id %ld of no object of uid 1000's "
				  "context was accepted", id);
			accepted++;
		}
		CHECK(accepted <= 2);
	}
	lab_sh("touch holder.go");
	waitpid(b, &st, 0);
	lb_slurp("holder.out", lb_out, sizeof(lb_out));
	lb_slurp("holder.err", lb_err, sizeof(lb_err));
	printf("%s%s", lb_out, lb_err);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(strstr(lb_out, "the marked page is intact") != NULL);
}

/* The number at a dotted path of v ("maps.maps.0.devices"), or ~0ULL. */
static unsigned long long num(const char *v, const char *path)
{
	char buf[32];

	if (lab_json_text(lab_json_path(v, path), buf, sizeof(buf)) != 0)
		return ~0ULL;
	return strtoull(buf, NULL, 10);
}

/* udk-fwd's --json summary in lb_out: both ports sent, and received frames
 * that all checked out. */
static void fwd_ports_ok(void)
{
	CHECK(lab_json_valid(lb_out));
	for (int i = 0; i < 2; i++) {
		const char *p = lab_json_index(lab_json_member(lb_out, "ports"), i);

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
	CHECK(lb_run(NULL, AS(1003) "udk-fwd -l 0,1 --broker %s -a %s -a %s -m 48 -- --mode txonly "
		  "--verify --duration 3 --interval 1 --json", SOCK, virtio, e1000e) == 0);
	fwd_ports_ok();
	CHECK(lb_log_has("GRANTED uid 1003", virtio, 1000));
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
	lb_slurp("top.json", doc, sizeof(doc));
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

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
	pid[0] = lb_spawn(cmd);
	snprintf(cmd, sizeof(cmd), "exec " AS(1003) "udk-fwd -l 0,1 --broker %s -a %s -a %s -m 48 "
		 "--telemetry-path %s -- --mode txonly --verify --duration 300 --interval 1 --json "
		 ">fwd.out 2>fwd.err", SOCK, virtio, e1000e, v[1].sock);
	printf("$ %s\n", cmd);
	pid[1] = lb_spawn(cmd);
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
		int n = lb_fds_on(broker, lb_on_iommufd() ? "/dev/iommu" : "/dev/vfio/vfio");

		printf("the broker holds %d maps (uid 1000, 1002 parked, 1003)\n", n);
		CHECK(n == 3);
	}
	for (int i = 0; i < 2; i++) {
		waitpid(pid[i], &st[i], 0);
		CHECK_MSG(WIFEXITED(st[i]) && WEXITSTATUS(st[i]) == 0, "%s: exit status 0x%x",
			  v[i].who, st[i]);
	}
	lb_slurp("perf.out", lb_out, sizeof(lb_out));
	lb_slurp("perf.err", lb_err, sizeof(lb_err));
	printf("%s%s", lb_out, lb_err);
	CHECK(lab_json_valid(lb_out));
	printf("udk-nvme-perf as uid 1000: %llu writes, %llu read back and verified, %llu wrong\n",
	       num(lb_out, "jobs.0.writes"), num(lb_out, "jobs.0.verified"),
	       num(lb_out, "jobs.0.verify_errors"));
	CHECK(num(lb_out, "jobs.0.verified") > 0 && num(lb_out, "jobs.0.verified") < ~0ULL);
	CHECK(num(lb_out, "jobs.0.verify_errors") == 0);
	lb_slurp("fwd.out", lb_out, sizeof(lb_out));
	lb_slurp("fwd.err", lb_err, sizeof(lb_err));
	printf("%s%s", lb_out, lb_err);
	fwd_ports_ok();
}

int main(int argc, char **argv)
{
	struct lb_lab l;

	if (argc == 4 && strcmp(argv[1], "holder") == 0)
		return holder(argv[2], argv[3]);
	if (argc == 6 && strcmp(argv[1], "reach") == 0)
		return reach(argv[2], argv[3], argv[4], argv[5]);
	setvbuf(stdout, NULL, _IONBF, 0);
	lb_start(&l);

	/* 8. udk-fwd, unchanged, on both NICs through the broker. */
	fwd(lab_env_require("UDK_LAB_VIRTIO"), lab_env_require("UDK_LAB_E1000E"));

	/* 9. Two clients at once, each with its own device. */
	two_clients(l.broker, l.self, l.bdf, l.other);

	/* 10. Two users, two maps, an NVMe and the NICs at once. */
	two_maps(l.broker, l.bdf, lab_env_require("UDK_LAB_VIRTIO"), lab_env_require("UDK_LAB_E1000E"));

	return lb_stop(&l, true);
}
