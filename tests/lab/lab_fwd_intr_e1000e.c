/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_fwd_intr_e1000e: udk-fwd in adaptive interrupt mode over QEMU's 82574
 * (net_e1000e's MSI-X receive interrupts) sleeps between bursts and is woken
 * by the device.  The peer is the kernel's virtio_net on the virtio-net NIC
 * (hub 0), through an AF_PACKET socket: bursts of numbered frames with gaps,
 * which udk-fwd (--mode mac, one port) sends back; every frame must come back
 * intact.  udk-fwd's summary must show sleeps ended by the interrupt for a
 * real share of the bursts (an arm that does not unmask the cause leaves
 * every sleep to run to its 100 ms limit, and this test fails), and an idle
 * adaptive udk-fwd must use little CPU (/proc/PID/stat), next to a polling
 * one measured the same way.  Puts the NICs and virtio_net back as found.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "labjson.h"
#include "labnet.h"
#include "labutil.h"

#define ETYPE 0x88b5
#define BURSTS 40
#define PER_BURST 16
#define GAP_MS 150
#define LEN 128
#define IDLE_S 5
#define OUT "/tmp/lab_fwd_intr_e1000e.out"
#define ERR "/tmp/lab_fwd_intr_e1000e.err"

static uint8_t mac_e[6], mac_v[6];
static struct labnet_peer peer; /* the kernel on the virtio NIC */
static char out[1 << 16];

static uint8_t pattern(uint32_t seq, uint32_t i)
{
	return (uint8_t)(seq * 11u + i * 3u + 1u);
}

/* Frame seq as the kernel sends it: to the e1000e, from the virtio NIC. */
static void frame_fill(uint8_t *f, uint32_t seq)
{
	memcpy(f, mac_e, 6);
	memcpy(f + 6, mac_v, 6);
	f[12] = ETYPE >> 8;
	f[13] = ETYPE & 0xff;
	memcpy(f + 14, "udk", 3);
	f[17] = (uint8_t)(seq >> 24);
	f[18] = (uint8_t)(seq >> 16);
	f[19] = (uint8_t)(seq >> 8);
	f[20] = (uint8_t)seq;
	for (uint32_t i = 21; i < LEN; i++)
		f[i] = pattern(seq, i);
}

/* An echo as udk-fwd --mode mac returns it: addresses swapped, the rest as
 * sent.  0 and its sequence number, or -1. */
static int echo_check(const uint8_t *f, ssize_t len, uint32_t *seq)
{
	if (len != LEN || memcmp(f, mac_v, 6) != 0 || memcmp(f + 6, mac_e, 6) != 0 ||
	    memcmp(f + 14, "udk", 3) != 0)
		return -1;
	*seq = (uint32_t)f[17] << 24 | (uint32_t)f[18] << 16 | (uint32_t)f[19] << 8 | f[20];
	for (uint32_t i = 21; i < LEN; i++)
		if (f[i] != pattern(*seq, i))
			return -1;
	return 0;
}

/* Start udk-fwd on the e1000e in intr mode, stdout and stderr to files;
 * its pid once it says it forwards, or -1. */
static pid_t fwd_start(const char *bdf, const char *mode)
{
	char buf[4096];
	pid_t pid;

	unlink(OUT);
	unlink(ERR);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int o = open(OUT, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(ERR, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(127);
		execlp("udk-fwd", "udk-fwd", "-l", "0", "-m", "64", "-a", bdf, "--", "--mode",
		       "mac", "--intr-mode", mode, "--duration", "600", "--interval", "0",
		       "--json", (char *)NULL);
		_exit(127);
	}
	for (uint64_t end = labnet_ms() + 120000; labnet_ms() < end; usleep(100000)) {
		int st;

		if (lab_read_file(ERR, buf, sizeof(buf)) == 0 && strstr(buf, "udk-fwd: mode mac"))
			return pid;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			printf("udk-fwd (%s) ended before forwarding:\n%s\n", mode, buf);
			return -1;
		}
	}
	printf("udk-fwd (%s) did not start within 120 s\n", mode);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* Stop it (SIGINT: it prints its summary) and keep the summary in out. */
static int fwd_stop(pid_t pid)
{
	char err[4096] = "";
	int st = -1;

	kill(pid, SIGINT);
	waitpid(pid, &st, 0);
	out[0] = '\0';
	lab_read_file(OUT, out, sizeof(out));
	lab_read_file(ERR, err, sizeof(err));
	printf("udk-fwd stderr:\n%sudk-fwd summary: %s\n", err, out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* utime + stime of pid in seconds. */
static double cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (lab_read_file(path, buf, sizeof(buf)) != 0 || (p = strrchr(buf, ')')) == NULL)
		return -1;
	/* After "pid (comm)": state is field 3, utime 14 and stime 15. */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Share of a core pid used over IDLE_S seconds of no traffic. */
static double idle_cpu(pid_t pid)
{
	double c0 = cpu_s(pid), c1;
	uint64_t t0 = labnet_ms();

	sleep(IDLE_S);
	c1 = cpu_s(pid);
	if (c0 < 0 || c1 < 0)
		return -1;
	return (c1 - c0) / ((double)(labnet_ms() - t0) / 1000.0);
}

static unsigned long long num(const char *obj, const char *key)
{
	char buf[32];

	if (lab_json_text(lab_json_member(obj, key), buf, sizeof(buf)) != 0)
		return ~0ULL;
	return strtoull(buf, NULL, 10);
}

/* BURSTS bursts of PER_BURST frames, GAP_MS apart; each burst's echoes are
 * awaited (up to 2 s) and checked.  Returns the frames echoed intact; the
 * slowest burst's round trip in *worst_ms, their sum in *sum_ms. */
static unsigned int bursts(unsigned int *bad, uint64_t *worst_ms, uint64_t *sum_ms)
{
	static uint8_t seen[BURSTS * PER_BURST];
	uint8_t f[LEN], buf[2048];
	unsigned int good = 0;
	struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_halen = 6};

	to.sll_ifindex = (int)if_nametoindex(peer.ifname);
	to.sll_protocol = htons(ETYPE);
	memcpy(to.sll_addr, mac_e, 6);
	*worst_ms = *sum_ms = 0;
	for (uint32_t b = 0; b < BURSTS; b++) {
		unsigned int got = 0;
		uint64_t t0 = labnet_ms(), rtt;

		usleep(GAP_MS * 1000);
		t0 = labnet_ms();
		for (uint32_t k = 0; k < PER_BURST; k++) {
			frame_fill(f, b * PER_BURST + k);
			if (sendto(peer.sock, f, LEN, 0, (struct sockaddr *)&to, sizeof(to)) != LEN)
				printf("  send of frame %u: %s\n", b * PER_BURST + k, strerror(errno));
		}
		while (got < PER_BURST && labnet_ms() < t0 + 2000) {
			struct sockaddr_ll from;
			socklen_t flen = sizeof(from);
			ssize_t r = recvfrom(peer.sock, buf, sizeof(buf), MSG_DONTWAIT,
					     (struct sockaddr *)&from, &flen);
			uint32_t seq;

			if (r < 0) {
				usleep(200);
				continue;
			}
			if (from.sll_pkttype == PACKET_OUTGOING)
				continue;
			if (echo_check(buf, r, &seq) < 0 || seq >= BURSTS * PER_BURST ||
			    seen[seq]++ != 0) {
				if (++*bad <= 5)
					printf("  a bad or repeated echo (%zd bytes)\n", r);
				continue;
			}
			got++;
		}
		rtt = labnet_ms() - t0;
		*sum_ms += rtt;
		if (rtt > *worst_ms)
			*worst_ms = rtt;
		good += got;
		if (got < PER_BURST)
			printf("  burst %u: %u of %u echoes within 2 s\n", b, got, PER_BURST);
	}
	return good;
}

int main(void)
{
	const char *e1000e, *virtio;
	char drv_e[64] = "";
	unsigned int good, bad = 0;
	unsigned long long sleeps, wakeups, timeouts;
	uint64_t worst, sum;
	double cpu_adaptive, cpu_poll;
	const char *p0;
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	lab_require_guest();
	e1000e = lab_env_require("UDK_LAB_E1000E");
	virtio = lab_env_require("UDK_LAB_VIRTIO");
	REQUIRE(labnet_parse_mac(lab_env_require("UDK_LAB_MAC_E1000E"), mac_e) == 0);
	REQUIRE(labnet_parse_mac(lab_env_require("UDK_LAB_MAC_VIRTIO"), mac_v) == 0);
	lab_device_driver(e1000e, drv_e, sizeof(drv_e));

	/* The peer: the kernel on the virtio NIC, IPv6 off so it sends nothing
	 * of its own to wake udk-fwd. */
	REQUIRE(labnet_peer_open(&peer, virtio, ETYPE) == 0);
	REQUIRE(lab_bind_vfio(e1000e) == 0);

	/* (1) Adaptive: bursts with gaps, every frame back; then idle. */
	pid = fwd_start(e1000e, "adaptive");
	REQUIRE(pid > 0);
	good = bursts(&bad, &worst, &sum);
	printf("(1) %u of %u frames echoed intact, %u bad; round trip per burst: mean %.1f ms, "
	       "worst %llu ms\n", good, BURSTS * PER_BURST, bad, (double)sum / BURSTS,
	       (unsigned long long)worst);
	CHECK_MSG(good == BURSTS * PER_BURST, "every frame echoed and verified");
	CHECK_MSG(bad == 0, "no corrupted or repeated echo");
	sleep(1);
	cpu_adaptive = idle_cpu(pid);
	printf("(2) idle %d s, adaptive: %.2f%% of a core\n", IDLE_S, cpu_adaptive * 100);
	CHECK_MSG(fwd_stop(pid) == 0, "udk-fwd adaptive exit status");
	CHECK_MSG(lab_json_valid(out), "one JSON object");
	sleeps = num(out, "sleeps");
	wakeups = num(out, "wakeups");
	timeouts = num(out, "timeouts");
	p0 = lab_json_index(lab_json_member(out, "ports"), 0);
	REQUIRE(p0 != NULL);
	printf("(3) udk-fwd: rx %llu tx %llu, %llu sleeps, %llu woken by the interrupt, %llu at "
	       "the limit\n", num(p0, "rx"), num(p0, "tx"), sleeps, wakeups, timeouts);
	CHECK_MSG(num(p0, "rx") >= BURSTS * PER_BURST && num(p0, "tx") >= BURSTS * PER_BURST,
		  "udk-fwd counted every frame both ways");
	/* Each gap is longer than a spin: a sleep per gap, ended by the burst's
	 * interrupt.  Without interrupts every one runs to the 100 ms limit. */
	CHECK_MSG(wakeups > 0, "the e1000e's interrupt woke the lcore");
	CHECK_MSG(wakeups * 2 >= BURSTS, "at least half the bursts woke it (%llu of %u)",
		  wakeups, BURSTS);
	CHECK_MSG(cpu_adaptive >= 0 && cpu_adaptive < 0.10,
		  "an idle adaptive udk-fwd uses under 10%% of a core");

	/* (4) Poll, for comparison: the same idle window. */
	pid = fwd_start(e1000e, "poll");
	REQUIRE(pid > 0);
	sleep(1);
	cpu_poll = idle_cpu(pid);
	printf("(4) idle %d s, poll: %.2f%% of a core\n", IDLE_S, cpu_poll * 100);
	CHECK_MSG(fwd_stop(pid) == 0, "udk-fwd poll exit status");
	CHECK_MSG(cpu_poll > 4 * cpu_adaptive, "polling costs more than sleeping");

	/* Back as found. */
	CHECK(lab_bind(e1000e, drv_e) == 0);
	CHECK(labnet_peer_close(&peer) == 0);
	return lab_result();
}
