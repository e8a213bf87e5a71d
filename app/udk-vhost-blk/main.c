/* SPDX-License-Identifier: BSD-3-Clause */
/* udk-vhost-blk - a vhost-user-blk back-end: QEMU's vhost-user-blk-pci device
 * connects to its UNIX socket and the guest's own virtio-blk driver does I/O
 * onto a udk bdev (RAM or a file; doc/vhost-blk.md):
 *
 *   udk-vhost-blk [EAL options --] --socket PATH (--malloc SIZE | --null SIZE |
 *                 --file PATH | --nvme NSID) [options]
 *
 * With --nvme the bdev is a namespace of the EAL's first -a controller,
 * driven by udk's NVMe driver (--broker SOCK among the EAL options: through
 * udk-broker, unprivileged); guest memory is registered with the
 * controller's map so the controller reads and writes guest RAM itself.
 *
 * One thread serves the socket and polls the virtqueue; after --poll-us of
 * nothing to do it asks the guest for kicks and sleeps on them. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "udk_bdev.h"
#include "udk_eal.h"
#include "udk_nvme.h"
#include "udk_telemetry.h"
#include "udk_util.h"
#include "tool_args.h"
#include "udk_version.h"
#include "vhost_blk.h"

#define PROG "udk-vhost-blk"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static time_t started;

/* udk-top's process row: udk-vhost-blk runs no EAL, so it answers "info"
 * itself (the fields udk-top reads). */
static int info_cmd(struct udk_json *j, void *arg)
{
	(void)arg;
	udk_json_obj_open(j, NULL);
	udk_json_u64(j, "protocol", UDK_TELEMETRY_VERSION);
	udk_json_str(j, "version", UDK_VERSION_STRING);
	udk_json_i64(j, "pid", (int64_t)getpid());
	udk_json_str(j, "prog", PROG);
	udk_json_u64(j, "lcores", 1);
	udk_json_i64(j, "uptime_s", (int64_t)(time(NULL) - started));
	udk_json_str(j, "socket", udk_telemetry_path());
	udk_json_obj_close(j);
	return 0;
}

/* The telemetry server (doc/telemetry.md) with "info" and "vhost_blk";
 * without it the disk is served all the same. */
static void telemetry_start(struct vb_dev *dev, bool eal)
{
	struct udk_telemetry_opts o;

	started = time(NULL);
	/* With --nvme the EAL has started the server (unless --no-telemetry)
	 * and answers "info" itself: only the device's command is added. */
	if (eal && udk_telemetry_path() == NULL)
		return;
	if (!eal) {
		udk_telemetry_opts_init(&o, sizeof(o));
		o.prog = PROG;
		if (udk_telemetry_start(&o) < 0) {
			fprintf(stderr, PROG ": running without telemetry (see the line above)\n");
			return;
		}
		udk_telemetry_register("info", "version, program, pid", info_cmd, NULL);
	}
	udk_telemetry_register("vhost_blk", "the vhost-user-blk device: requests by type, bytes, "
			       "errors, in flight, queues", vb_stats_json, dev);
	fprintf(stderr, PROG ": telemetry on %s\n", udk_telemetry_path());
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [EAL options --] --socket PATH (--malloc SIZE | --null SIZE |\n"
		"                     --file PATH | --nvme NSID) [options]\n"
		"Serve a udk bdev to a QEMU guest as a vhost-user-blk device:\n"
		"  qemu ... -object memory-backend-memfd,id=mem,size=1G,share=on -numa node,memdev=mem\n"
		"           -chardev socket,id=c,path=PATH -device vhost-user-blk-pci,chardev=c\n\n"
		"  --socket PATH      the UNIX socket to listen on (created; an old socket there is replaced)\n"
		"  --malloc SIZE      a RAM disk of SIZE bytes (suffix K, M, G)\n"
		"  --null SIZE        a disk of SIZE bytes that keeps nothing (for measuring)\n"
		"  --file PATH        a file or block device, through io_uring\n"
		"  --nvme NSID        namespace NSID of the EAL's first -a controller, through udk's\n"
		"                     NVMe driver; it reads and writes guest RAM itself (zero copy);\n"
		"                     e.g. " PROG " -a 0000:02:00.0 -m 64 -- --socket S --nvme 1\n"
		"                     (EAL --broker SOCK: through udk-broker, unprivileged)\n"
		"  --block-size N     block size (default 512; file: 0 takes the device's)\n"
		"  --read-only        refuse writes (file)\n"
		"  --name NAME        the bdev's name, also the disk's serial (default vhost0)\n"
		"  --poll-us N        poll this long with nothing to do before sleeping (default 0)\n"
		"  --once             exit when the first connection ends\n"
		"  --log-level L      err, warn, notice, info, debug\n"
		"  --help, --version\n\n"
		"EAL options (before --; only with --nvme):\n");
	udk_eal_usage(f);
}

/* The bdev's counters: how many reads and writes went to the device as they
 * were (zero copy: straight into guest memory) and how many were bounced. */
static void print_bdev_stats(const struct udk_bdev *bdev)
{
	struct udk_bdev_stats st;

	if (udk_bdev_stats(bdev, &st) < 0)
		return;
	uint64_t rw = st.ops[UDK_BDEV_IO_READ] + st.ops[UDK_BDEV_IO_WRITE];
	fprintf(stderr, PROG ": bdev: %llu reads, %llu writes, %llu direct, %llu bounced, "
		"%llu errors\n", (unsigned long long)st.ops[UDK_BDEV_IO_READ],
		(unsigned long long)st.ops[UDK_BDEV_IO_WRITE],
		(unsigned long long)(rw > st.bounced ? rw - st.bounced : 0),
		(unsigned long long)st.bounced, (unsigned long long)st.errors);
}

/* The namespace nsid of the EAL's first -a controller as bdev name: 0, or 1
 * after a line on stderr. */
static int nvme_bdev(const char *name, uint32_t nsid, struct udk_nvme_ctrlr **ctrlr,
		     struct udk_bdev **bdev)
{
	int rc;

	if (udk_eal_nb_devices() == 0) {
		fprintf(stderr, PROG ": --nvme: no controller: name it with the EAL option -a BDF "
			"before -- (bound to vfio-pci: udk-devbind)\n");
		return 1;
	}
	rc = udk_nvme_ctrlr_attach(udk_eal_device(0), NULL, ctrlr);
	if (rc < 0) {
		fprintf(stderr, PROG ": --nvme: controller: %s\n", udk_last_error());
		return 1;
	}
	rc = udk_bdev_nvme_create(name, *ctrlr, nsid, bdev);
	if (rc < 0) {
		fprintf(stderr, PROG ": --nvme %u: %s\n", nsid, udk_last_error());
		udk_nvme_ctrlr_detach(*ctrlr);
		*ctrlr = NULL;
		return 1;
	}
	return 0;
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'K': case 'k': v <<= 10; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'G': case 'g': v <<= 30; end++; break;
	default: break;
	}
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, PROG ": --socket %s: longer than %zu bytes; use a shorter path\n", path,
			sizeof(sa.sun_path) - 1);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, PROG ": --socket %s: a file that is not a socket is there; "
				"remove it or choose another path\n", path);
			return -1;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
		fprintf(stderr, PROG ": listening on %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* One control message on conn: 0, or <0 when the connection must close. */
static int control(struct vb_dev *dev, int conn)
{
	struct vu_msg m, reply;
	int fds[VU_MAX_REGIONS];
	int nfds, rc;
	bool send_reply;

	rc = vu_recv(conn, &m, fds, &nfds);
	if (rc < 0)
		return rc;
	udk_log(UDK_LOG_DEBUG, "vhost-blk", "%s (%u bytes, %d fds)", vu_request_name(m.hdr.request),
		m.hdr.size, nfds);
	rc = vu_handle(dev, &m, fds, nfds, &reply, &send_reply);
	if (rc < 0)
		return rc;
	rc = send_reply ? vu_send(conn, &reply) : 0;
	if (reply.fd >= 0)
		close(reply.fd);
	return rc;
}

/* Sleep until the guest kicks or a message comes, after telling the guest
 * to kick; false when work turned up meanwhile. */
static void sleep_for_kicks(struct vb_dev *dev, int conn)
{
	struct pollfd p[1 + VU_MAX_QUEUES];
	int n = 0;

	if (vb_dev_idle(dev) == 0) {
		p[n++] = (struct pollfd){.fd = conn, .events = POLLIN};
		for (uint32_t q = 0; q < VU_MAX_QUEUES; q++)
			p[n++] = (struct pollfd){.fd = dev->vq[q].started ? dev->vq[q].kick_fd : -1,
						 .events = POLLIN};
		poll(p, (nfds_t)n, 1000);
		for (int i = 1; i < n; i++) {
			uint64_t v;
			if (!(p[i].revents & POLLIN))
				continue;
			dev->vq[i - 1].kicked = true;
			if (read(p[i].fd, &v, sizeof(v)) < 0) {
				/* nothing: the kick was only a wake-up */
			}
		}
	}
	for (uint32_t q = 0; q < VU_MAX_QUEUES; q++)
		if (dev->vq[q].started && dev->vq[q].kicked)
			vb_vq_want_kicks(&dev->vq[q], false);
}

static void serve(struct vb_dev *dev, int conn, uint64_t poll_us)
{
	struct timeval tv = {.tv_sec = 5};
	uint64_t last_work = now_us();
	uint32_t iter = 0;

	/* A message's payload follows its header at once: a front-end that
	 * stalls mid-message is dropped, not waited for. */
	setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (!stop) {
		if (vb_dev_poll(dev)) {
			last_work = now_us();
		} else if (vb_dev_inflight(dev) && now_us() - last_work > poll_us) {
			/* Waiting for the device (io_uring's workers, say): give
			 * the CPU to them and to the VM rather than spin. */
			struct timespec ts = {0, 10000};
			nanosleep(&ts, NULL);
		}
		if ((++iter & 63) == 0 || vb_dev_inflight(dev) == 0) {
			struct pollfd p = {.fd = conn, .events = POLLIN};
			if (poll(&p, 1, 0) > 0) {
				if (control(dev, conn) < 0)
					return;
				last_work = now_us();
				continue;
			}
			if (vb_dev_inflight(dev) == 0 && now_us() - last_work > poll_us) {
				sleep_for_kicks(dev, conn);
				last_work = now_us();
			}
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'}, {"malloc", required_argument, NULL, 'm'},
		{"null", required_argument, NULL, 'z'},
		{"file", required_argument, NULL, 'f'}, {"block-size", required_argument, NULL, 'b'},
		{"read-only", no_argument, NULL, 'r'}, {"name", required_argument, NULL, 'n'},
		{"poll-us", required_argument, NULL, 'p'}, {"once", no_argument, NULL, 'o'},
		{"log-level", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'}, {"nvme", required_argument, NULL, 'N'},
		{NULL, 0, NULL, 0},
	};
	const char *sock = NULL, *file = NULL, *name = "vhost0";
	uint64_t msize = 0, bs = 0, poll_us = 0;
	uint64_t nsid = 0;
	bool ro = false, once = false, null = false;
	struct udk_nvme_ctrlr *ctrlr = NULL;
	struct udk_bdev *bdev;
	struct vb_dev *dev;
	int c, rc, lfd, level, eal_argc = 0;

	if (tool_help_version(argc, argv, 0, PROG " (udk) " UDK_VERSION_STRING, usage))
		return 0;
	/* EAL options, if any, end at "--"; ours follow. */
	for (int i = 1; i < argc && !eal_argc; i++)
		if (!strcmp(argv[i], "--"))
			eal_argc = i;
	argc -= eal_argc;
	argv += eal_argc;
	opterr = 0; /* our own one-line message below */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'N':
			if (parse_size(optarg, &nsid) || nsid == 0 || nsid > UINT32_MAX) {
				fprintf(stderr, PROG ": --nvme %s: not a namespace ID (1, 2, ...)\n",
					optarg);
				return TOOL_EXIT_USAGE;
			}
			break;
		case 's': sock = optarg; break;
		case 'f': file = optarg; break;
		case 'n': name = optarg; break;
		case 'r': ro = true; break;
		case 'o': once = true; break;
		case 'm':
		case 'z':
			if (msize || parse_size(optarg, &msize) || msize == 0) {
				fprintf(stderr, PROG ": --%s %s: %s\n", c == 'z' ? "null" : "malloc", optarg,
					msize ? "one of --malloc and --null" : "not a size (e.g. 64M)");
				return 2;
			}
			null = c == 'z';
			break;
		case 'b':
			if (parse_size(optarg, &bs) || bs > 65536) {
				fprintf(stderr, PROG ": --block-size %s: not a block size\n", optarg);
				return 2;
			}
			break;
		case 'p':
			if (parse_size(optarg, &poll_us)) {
				fprintf(stderr, PROG ": --poll-us %s: not a number\n", optarg);
				return 2;
			}
			break;
		case 'l':
			if (udk_log_level_parse(optarg, &level) < 0) {
				fprintf(stderr, PROG ": --log-level %s: err, warn, notice, info or debug\n",
					optarg);
				return 2;
			}
			udk_log_set_level(level);
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf(PROG " (udk) %s\n", UDK_VERSION_STRING); return 0;
		default:
			fprintf(stderr, PROG ": %s: %s (see --help)\n", argv[optind - 1],
				optopt ? "needs a value" : "unknown option");
			return TOOL_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": %s: unexpected argument (see --help)\n", argv[optind]);
		return TOOL_EXIT_USAGE;
	}
	if (!sock || (!!file + !!msize + !!nsid) != 1) {
		fprintf(stderr, PROG ": give --socket and one of --malloc, --null, --file or --nvme "
			"(--help)\n");
		return 2;
	}
	if (!nsid != !eal_argc) {
		fprintf(stderr, PROG ": %s\n", nsid ? "--nvme needs EAL options before --, at least "
			"-a BDF (--help)" : "EAL options (before --) are for --nvme only");
		return TOOL_EXIT_USAGE;
	}
	if (nsid) {
		if (udk_eal_init(eal_argc, argv - eal_argc) < 0) {
			fprintf(stderr, PROG ": EAL init failed: %s\n", udk_last_error());
			return 1;
		}
		rc = nvme_bdev(name, (uint32_t)nsid, &ctrlr, &bdev) ? -1 : 0;
	} else if (msize) {
		uint64_t b = bs ? bs : 512;
		if (msize % b) {
			fprintf(stderr, PROG ": --%s %llu is not a multiple of the block size %llu\n",
				null ? "null" : "malloc", (unsigned long long)msize, (unsigned long long)b);
			return 2;
		}
		rc = null ? udk_bdev_null_create(name, msize / b, (uint32_t)b, &bdev)
			  : udk_bdev_malloc_create(name, msize / b, (uint32_t)b, &bdev);
	} else {
		rc = udk_bdev_file_create(name, file, (uint32_t)bs, ro, &bdev);
	}
	if (rc < 0) {
		if (!nsid)
			fprintf(stderr, PROG ": cannot create the bdev: %s\n", udk_strerror(rc));
		goto err_eal;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev || vb_dev_init(dev, bdev) < 0) {
		fprintf(stderr, PROG ": cannot serve bdev %s (see the line above)\n", name);
		goto err_bdev;
	}
	lfd = listen_on(sock);
	if (lfd < 0)
		goto err_dev;
	/* The 10 us naps while the device works would last the default 50 us
	 * of timer slack longer, and a QD1 guest waits for each of them. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	telemetry_start(dev, nsid != 0);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	struct udk_bdev_info info;
	udk_bdev_info(bdev, &info);
	fprintf(stderr, PROG ": serving %s (%s, %llu blocks of %u bytes) on %s\n", name,
		info.backend, (unsigned long long)info.num_blocks, info.block_size, sock);
	while (!stop) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		if (poll(&p, 1, 200) <= 0)
			continue;
		int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0)
			continue;
		fprintf(stderr, PROG ": front-end connected\n");
		udk_counter_add(&dev->stats.connections, 1);
		__atomic_store_n(&dev->stats.connected, 1, __ATOMIC_RELAXED);
		serve(dev, conn, poll_us);
		vu_reset(dev);
		__atomic_store_n(&dev->stats.connected, 0, __ATOMIC_RELAXED);
		close(conn);
		fprintf(stderr, PROG ": front-end gone (%llu requests, %llu errors, %llu bad chains; "
			"per queue:", (unsigned long long)dev->stats.requests,
			(unsigned long long)dev->stats.errors, (unsigned long long)dev->stats.bad_chains);
		for (uint32_t q = 0; q < VU_MAX_QUEUES; q++)
			fprintf(stderr, " %llu", (unsigned long long)dev->stats.queue_requests[q]);
		fprintf(stderr, ")\n");
		print_bdev_stats(bdev);
		if (once)
			break;
	}
	close(lfd);
	unlink(sock);
	udk_telemetry_stop();
	vb_dev_fini(dev);
	free(dev);
	udk_bdev_destroy(bdev); /* its one channel was put by vb_dev_fini */
	if (ctrlr != NULL)
		udk_nvme_ctrlr_detach(ctrlr);
	if (nsid)
		udk_eal_cleanup();
	return 0;

err_dev:
	vb_dev_fini(dev);
err_bdev:
	free(dev);
	udk_bdev_destroy(bdev);
	if (ctrlr != NULL)
		udk_nvme_ctrlr_detach(ctrlr);
err_eal:
	if (nsid)
		udk_eal_cleanup();
	return 1;
}
