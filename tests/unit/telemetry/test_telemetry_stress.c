/* SPDX-License-Identifier: BSD-3-Clause */
/* Stress test of telemetry under threads (also run under ThreadSanitizer):
 * a worker lcore moves packets between two net_ring ports and counts its
 * poll rounds while four client threads query every command over the
 * socket (with malformed lines mixed in) and the main thread registers and
 * unregisters a provider in a loop.  Every answer must be one line of valid
 * JSON; at the end the counters the socket reports must equal what the
 * lcore counted. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/unit.h"
#include "labjson.h"
#include "ring_ports.h"
#include "udk_eal.h"
#include "udk_ethdev.h"
#include "udk_mbuf.h"
#include "udk_telemetry.h"

#define CLIENTS 4
#define ROUNDS 60

static char tmpdir[64], sock_path[96];
static struct udk_mempool *mp;
static uint16_t p0, p1;
static atomic_bool stop;
static atomic_int bad_answers;
static uint64_t lcore_busy, lcore_idle, lcore_pkts;
static atomic_uint_fast64_t progress; /* packets the lcore received so far */

#define TARGET_PKTS 100000

static int client(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read answers until n lines have come; each must be valid JSON. */
static bool read_answers(int fd, int n)
{
	static _Thread_local char buf[1 << 20];
	size_t len = 0;

	while (n > 0) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char *nl;
		ssize_t r;

		if (poll(&p, 1, 10000) <= 0)
			return false;
		r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			return false;
		len += (size_t)r;
		buf[len] = '\0';
		while (n > 0 && (nl = memchr(buf, '\n', len)) != NULL) {
			*nl = '\0';
			if (!lab_json_valid(buf))
				atomic_fetch_add(&bad_answers, 1);
			memmove(buf, nl + 1, len - (size_t)(nl + 1 - buf));
			len -= (size_t)(nl + 1 - buf);
			n--;
		}
	}
	return true;
}

static void *client_main(void *arg)
{
	static const char reqs[] = "{\"cmd\":\"lcores\"}\n{\"cmd\":\"ports\"}\n"
				   "{\"cmd\":\"maps\"}\n{nonsense\n{\"cmd\":\"info\"}\n"
				   "{\"cmd\":\"help\"}\n{\"cmd\":\"stress\"}\n{\"cmd\":\"nvme\"}\n";
	long failed = 0;

	(void)arg;
	/* Query while the lcore works: at least ROUNDS times, and until it is done. */
	for (int r = 0; r < ROUNDS || atomic_load(&progress) < TARGET_PKTS; r++) {
		int fd = client();

		if (fd < 0 || write(fd, reqs, sizeof(reqs) - 1) != (ssize_t)sizeof(reqs) - 1 ||
		    !read_answers(fd, 8))
			failed++;
		if (fd >= 0)
			close(fd);
	}
	return (void *)failed;
}

static int stress_fn(struct udk_json *j, void *arg)
{
	udk_json_u64(j, NULL, (uint64_t)(uintptr_t)arg);
	return 0;
}

static int lcore_main(void *arg)
{
	uint64_t busy = 0, idle = 0, pkts = 0;

	(void)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		struct udk_mbuf *m[8];
		uint16_t n = 0, k;

		if (pkts < TARGET_PKTS) {
			while (n < 8 && (m[n] = udk_pktmbuf_alloc(mp)) != NULL) {
				udk_pktmbuf_append(m[n], 64);
				n++;
			}
			k = udk_eth_tx_burst(p0, 0, m, n);
			while (k < n)
				udk_pktmbuf_free(m[k++]);
		}
		n = udk_eth_rx_burst(p1, 0, m, 8);
		for (uint16_t i = 0; i < n; i++)
			udk_pktmbuf_free(m[i]);
		pkts += n;
		atomic_store_explicit(&progress, pkts, memory_order_relaxed);
		udk_lcore_poll(n > 0);
		if (n > 0)
			busy++;
		else
			idle++;
	}
	lcore_busy = busy;
	lcore_idle = idle;
	lcore_pkts = pkts;
	return 0;
}

static void test_stress(void)
{
	pthread_t th[CLIENTS];
	char buf[65536], req[] = "{\"cmd\":\"lcores\"}\n";
	long failed = 0;
	int fd;

	CU_ASSERT_EQUAL_FATAL(udk_eth_probe_eal(), 2);
	CU_ASSERT_EQUAL(udk_eth_dev_find("net_ring0", &p0), 0);
	CU_ASSERT_EQUAL(udk_eth_dev_find("net_ring1", &p1), 0);
	ring_port_up(p0, mp);
	ring_port_up(p1, mp);
	CU_ASSERT_EQUAL_FATAL(udk_lcore_launch(1, lcore_main, NULL), 0);
	for (int i = 0; i < CLIENTS; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, client_main, NULL), 0);
	for (int i = 0; i < 2000; i++) {
		udk_telemetry_register("stress", "comes and goes", stress_fn, (void *)(uintptr_t)i);
		udk_telemetry_unregister("stress");
	}
	for (int i = 0; i < CLIENTS; i++) {
		void *r;

		pthread_join(th[i], &r);
		failed += (long)r;
	}
	atomic_store(&stop, true);
	CU_ASSERT_EQUAL(udk_lcore_wait(1), 0);
	CU_ASSERT_EQUAL(failed, 0);
	CU_ASSERT_EQUAL(atomic_load(&bad_answers), 0);

	/* Quiet now: the socket's counts are the lcore's. */
	fd = client();
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(write(fd, req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1);
	{
		size_t len = 0;
		ssize_t r;

		while (len + 1 < sizeof(buf) && (len == 0 || buf[len - 1] != '\n') &&
		       (r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
			len += (size_t)r;
		buf[len] = '\0';
	}
	close(fd);
	{
		char v[32];

		CU_ASSERT(lab_json_text(lab_json_path(buf, "data.1.busy_polls"), v, sizeof(v)) == 0 &&
			  strtoull(v, NULL, 10) == lcore_busy);
		CU_ASSERT(lab_json_text(lab_json_path(buf, "data.1.idle_polls"), v, sizeof(v)) == 0 &&
			  strtoull(v, NULL, 10) == lcore_idle);
	}
	{
		struct udk_eth_stats st;

		CU_ASSERT_EQUAL(udk_eth_stats_get(p1, &st), 0);
		CU_ASSERT_EQUAL(st.ipackets, lcore_pkts);
		CU_ASSERT(lcore_pkts >= TARGET_PKTS);
		CU_ASSERT(lcore_busy > 0);
	}
	printf("\n  lcore 1: %llu busy, %llu idle polls, %llu packets\n",
	       (unsigned long long)lcore_busy, (unsigned long long)lcore_idle,
	       (unsigned long long)lcore_pkts);
}

static int setup(void)
{
	char *argv[] = {"test", "--no-huge", "-m", "64", "-l", "0-1", "--vdev", "net_ring0",
			"--vdev", "net_ring1,peer=net_ring0", "--telemetry-path", sock_path, NULL};

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/udk-tms-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	snprintf(sock_path, sizeof(sock_path), "%s/s.sock", tmpdir);
	if (udk_eal_init(12, argv) != 12)
		return 1;
	return udk_pktmbuf_pool_create("pkts", 1024, 32, 0, UDK_SOCKET_ANY, &mp) != 0;
}

static int teardown(void)
{
	return ring_ports_down(mp, tmpdir);
}

int main(void)
{
	static const struct unit_test t[] = {{"clients, an lcore and providers at once", test_stress}};

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		printf("SKIP: needs two CPUs for a worker lcore\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	unit_quiet_logs();
	if (unit_add("telemetry stress", setup, teardown, t, UDK_ARRAY_SIZE(t)) != 0)
		return 1;
	return unit_run_all();
}
