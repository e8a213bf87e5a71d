/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_broker: udk-broker lends the second lab NVMe to unprivileged users
 * (labbroker.h).  Proves: uid 1000 runs udk-nvme identify and a short
 * udk-nvme-perf through the broker, and its second start finds its memory
 * kept (start times of both are printed); uid 1001, with no rule, is
 * refused with a message naming the policy; a device outside the policy is
 * refused and logged; the broker survives malformed requests; a client
 * killed with SIGKILL mid-I/O leaves the device usable by the next user
 * (uid 1002), whose grant first evicts (resets, zeroes) uid 1000's session;
 * a device fd a client's child keeps after the client is gone keeps the
 * device from the next user until it is closed.
 *
 * The steps keep the numbers they had when one test ran them all (doc/broker.md
 * cites them): 1-4, 6 and 7 here, 5 and 11 in lab_broker_isolation, 8-10 in
 * lab_broker_two_users.  "lab_broker stale SOCK BDF" is step 7's client.
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
	CHECK(lb_log_has("REFUSED uid 0", "malformed request", 5000));
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

int main(int argc, char **argv)
{
	struct lb_lab l;
	char cmd[900];
	double t_first, t_kept, g_first, g_kept;
	pid_t victim;
	int st;

	if (argc == 4 && strcmp(argv[1], "stale") == 0)
		return stale(argv[2], argv[3]);
	setvbuf(stdout, NULL, _IONBF, 0);
	lb_start(&l);

	/* 1. identify as uid 1000, twice: the second start keeps its memory. */
	CHECK(lb_run(&t_first, AS(1000) "udk-nvme --broker %s -a %s -m 128 identify", SOCK, l.bdf) == 0);
	CHECK(strstr(lb_out, "udk-lab-nvme1") != NULL);
	g_first = lb_last_grant_ms();
	CHECK(lb_log_has("GRANTED uid 1000", "zeroed and pinned now", 1000));
	CHECK(lb_run(&t_kept, AS(1000) "udk-nvme --broker %s -a %s -m 128 identify", SOCK, l.bdf) == 0);
	CHECK(strstr(lb_out, "udk-lab-nvme1") != NULL);
	g_kept = lb_last_grant_ms();
	CHECK(lb_log_has("GRANTED uid 1000", "kept from the last session", 1000));
	printf("START TIME uid 1000, 128 MiB: first start %.3f s (broker grant %.1f ms: "
	       "allocate, zero, pin), restart %.3f s (grant %.1f ms: kept)\n", t_first, g_first,
	       t_kept, g_kept);
	CHECK(g_kept >= 0 && g_kept < g_first);

	/* 2. a short udk-nvme-perf through the broker. */
	CHECK(lb_run(NULL, AS(1000) "udk-nvme-perf --broker %s -a %s -m 128 -- --qd 8 --time 2 "
		  "--json", SOCK, l.bdf) == 0);
	CHECK(strstr(lb_out, "\"iops\"") != NULL);

	/* 3. a user without a rule, and a device outside the policy. */
	CHECK(lb_run(NULL, AS(1001) "udk-nvme --broker %s -a %s identify", SOCK, l.bdf) != 0);
	CHECK(strstr(lb_err, "has no grant in policy") != NULL);
	CHECK(lb_log_has("REFUSED uid 1001", "no grant", 1000));
	CHECK(lb_run(NULL, AS(1000) "udk-nvme --broker %s -a %s identify", SOCK, l.other) != 0);
	CHECK(strstr(lb_err, "is not granted to uid 1000") != NULL);
	CHECK(lb_log_has("REFUSED uid 1000", l.other, 1000));
	CHECK(lb_run(NULL, AS(1002) "udk-nvme --broker %s -a %s -m 64 identify", SOCK, l.bdf) != 0);
	CHECK(strstr(lb_err, "allows uid 1002 32 MiB") != NULL);

	/* 4. hostile requests: refused, the broker keeps serving. */
	hostile();

	/* 6. SIGKILL mid-I/O, then another user gets the device. */
	snprintf(cmd, sizeof(cmd), "exec " AS(1000) "udk-nvme-perf --broker %s -a %s -m 128 -- "
		 "--qd 32 --time 60 >victim.out 2>victim.err", SOCK, l.bdf);
	victim = lb_spawn(cmd);
	CHECK(lb_log_has("GRANTED uid 1000", "kept", 20000));
	/* Its first progress line says I/O is in flight. */
	for (int t = 0; t < 200; t++) {
		lb_slurp("victim.err", lb_err, sizeof(lb_err));
		if (strstr(lb_err, "IOPS") != NULL)
			break;
		usleep(100000);
	}
	printf("victim: %s", lb_err);
	CHECK(strstr(lb_err, "IOPS") != NULL);
	kill(victim, SIGKILL);
	waitpid(victim, &st, 0);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	CHECK(lb_log_has("uid 1000 pid", "client gone", 10000));
	CHECK(lb_log_has("uid 1000: parked", NULL, 10000));
	CHECK(lb_run(NULL, AS(1002) "udk-nvme --broker %s -a %s -m 16 identify", SOCK, l.bdf) == 0);
	CHECK(strstr(lb_out, "udk-lab-nvme1") != NULL);
	CHECK(lb_log_has("uid 1000: evicted (uid 1002 wants", "returned to the hugepage pool", 1000));
	CHECK(lb_log_has("GRANTED uid 1002", "zeroed and pinned now", 1000));

	/* 7. A copy of a device fd that outlives its client: the device is not
	 * handed to another user while it lives, and is once it is gone. */
	CHECK(lb_run(NULL, AS(1002) "%s stale %s %s", l.self, SOCK, l.bdf) == 0);
	{
		const char *p = strstr(lb_out, "STALE_CHILD ");
		int child = 0;

		CHECK(p != NULL && sscanf(p, "STALE_CHILD %d", &child) == 1 && child > 0);
		CHECK(lb_log_has("uid 1002: parked", NULL, 10000));
		CHECK(lb_run(NULL, AS(1000) "udk-nvme --broker %s -a %s -m 16 identify", SOCK, l.bdf) != 0);
		CHECK(lb_log_has("uid 1002: evicted (uid 1000 wants", NULL, 1000));
		if (lb_on_iommufd()) {
			/* The copy keeps the cdev open (bound to the evicted
			 * session's context, whose IOAS is gone): the kernel
			 * refuses to bind it again. */
			CHECK(strstr(lb_err, "the device is in use elsewhere") != NULL);
		} else {
			CHECK(strstr(lb_err, "held by another process") != NULL);
			CHECK(lb_log_has("detach group", "busy", 1000));
		}
		if (child > 0)
			kill(child, SIGKILL);
		usleep(500000);
		CHECK(lb_run(NULL, AS(1000) "udk-nvme --broker %s -a %s -m 16 identify", SOCK, l.bdf) == 0);
		CHECK(strstr(lb_out, "udk-lab-nvme1") != NULL);
	}

	return lb_stop(&l, false);
}
