/* SPDX-License-Identifier: BSD-3-Clause */
/* udk-fwd - forward, generate or sink packets between udk ports, with live
 * statistics: the testpmd/l2fwd of udk.
 *
 *   udk-fwd [EAL options] -- [--mode io|mac|txonly|rxonly] [--ports LIST] ...
 *
 * Ports are paired in the order given (the first with the second, ...); an
 * lcore serves whole pairs.  Statistics go to stderr every --interval
 * seconds; the summary to stdout (text, or one JSON object with --json).
 * The lcores count packets per burst; bytes are the ports' own counters,
 * read here (portbytes.c, doc/udk-fwd.md "Where the figures come from").
 * A port whose device is hot-unplugged is reported and the others carry on;
 * when none is left the run ends with exit status 1 (doc/hotplug.md).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fwd.h"
#include "portbytes.h"
#include "tool_args.h"
#include "udk_eal.h"
#include "udk_version.h"
#ifdef UDK_HAVE_DPDK
#include "udk_dpdk.h"
#endif

#define PROG "udk-fwd"

static struct fwd F;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [EAL options] -- [options]\n"
		"Forward, generate or sink packets between udk ports.\n\n"
		"Options:\n"
		"  --mode MODE         io (forward as is, default), mac (swap addresses),\n"
		"                      txonly (generate), rxonly (receive and drop)\n"
		"  --ports LIST        ports to use, e.g. 0,1 (default: all); paired in order\n"
		"  --pkt-size N        txonly frame size in bytes, 60..MTU+14 (default 64)\n"
		"  --burst N           packets per burst, 1..512 (default 32)\n"
		"  --duration SEC      stop after SEC seconds (default: at Ctrl-C)\n"
		"  --count N           stop when each port has received N packets (exactly)\n"
		"  --interval SEC      statistics period (default 1; 0: none)\n"
		"  --verify            check that txonly frames arrive whole and in sequence\n"
		"  --tx-first [N]      io/mac: each port first sends N bursts of txonly frames\n"
		"                      (default 1), which then loop between the ports and a peer\n"
		"  --pcap FILE         write the packets received on the first port to FILE\n"
		"  --nb-mbufs N        packet buffers (default 8191)\n"
		"  --queues N          queue pairs per port, 1..8 (default 1), each served by\n"
		"                      its own lcore (-l with N lcores, or N+1 for a separate\n"
		"                      statistics lcore); not with --count\n"
		"  --flows N           txonly frames as IPv4/UDP over N flows (UDP source ports),\n"
		"                      1..65535, for a NIC's RSS to spread (default: raw frames)\n"
		"  --desc N            descriptors per queue (default: the driver's)\n"
		"  --intr-mode MODE    what an lcore does with nothing to receive: poll (spin,\n"
		"                      default), interrupt (sleep at once until a frame comes)\n"
		"                      or adaptive (sleep after --spin empty rounds)\n"
		"  --idle-sleep        the same as --intr-mode adaptive\n"
		"  --spin N            adaptive: empty rounds in a row before sleeping (default 512)\n"
		"  --spin-us US        adaptive: sleep after US microseconds of empty rounds\n"
		"                      instead of --spin rounds (1..10000000)\n"
		"  --burst-gap MS      txonly: wait MS milliseconds between bursts (default 0)\n"
		"  --link-wait SEC     a port whose link goes down may take SEC seconds to come\n"
		"                      back (a vhost-user back-end restarting) before the run\n"
		"                      ends (default 0: it ends at once)\n"
		"  --json              print the summary as JSON\n"
		"  --dpdk-args \"ARGS\"  DPDK EAL arguments for dpdk ports (--vdev dpdk0,dev=NAME;\n"
		"                      built with DPDK only; doc/dpdk.md)\n"
		"  --help, --version\n"
		"testpmd's --forward-mode, --stats-period, --txpkts, --rxd/--txd and\n"
		"--total-num-mbufs are taken as --mode, --interval, --pkt-size, --desc and\n"
		"--nb-mbufs; every option takes --opt=VALUE too.\n\n");
	udk_eal_usage(f);
}

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static int num(const char *opt, const char *v, double lo, double hi, double *out)
{
	char *end;
	double d;

	if (v == NULL)
		return die("%s needs a value", opt);
	d = strtod(v, &end);
	if (end == v || *end != '\0' || isnan(d) || d < lo || d > hi)
		return die("%s: '%s' is not a number in %g..%g", opt, v, lo, hi);
	*out = d;
	return 0;
}

static int parse_ports(const char *v, struct fwd_opts *o)
{
	char buf[128], *save, *tok;

	if (v == NULL || strlen(v) >= sizeof(buf))
		return die("--ports needs a list such as 0,1");
	strcpy(buf, v);
	o->nb_ports = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		long p = strtol(tok, &end, 10);
		if (*end != '\0' || p < 0 || p >= UDK_ETH_MAX_PORTS)
			return die("--ports: '%s' is not a port number", tok);
		if (o->nb_ports == FWD_MAX_PORTS)
			return die("--ports: at most %d ports", FWD_MAX_PORTS);
		for (unsigned int k = 0; k < o->nb_ports; k++)
			if (o->ports[k] == p)
				return die("--ports: port %ld is listed twice; list each port once",
					   p);
		o->ports[o->nb_ports++] = (uint16_t)p;
	}
	return o->nb_ports ? 0 : die("--ports: empty list");
}

/* testpmd's options, for its users: the same behaviour under udk-fwd's
 * option, or one line naming udk-fwd's.  Returns the arguments used (1 or
 * 2), 0 if a is none of them, -1 after an error message. */
static int testpmd_option(const char *a, const char *v, struct fwd_opts *o)
{
	static const char *const modes[] = {"io", "mac", "txonly", "rxonly"};
	double d;

	if (!strcmp(a, "--forward-mode")) {
		for (unsigned int m = 0; v != NULL && m < UDK_ARRAY_SIZE(modes); m++)
			if (!strcmp(v, modes[m])) {
				o->mode = (enum fwd_mode)m;
				return 2;
			}
		return die("--forward-mode %s: udk-fwd's modes are io, mac, txonly and rxonly "
			   "(--mode)", v ? v : "needs a value"), -1;
	}
	if (!strcmp(a, "--stats-period"))
		return num(a, v, 0, 3600, &o->interval) ? -1 : 2;
	if (!strcmp(a, "--total-num-mbufs")) {
		if (num(a, v, 64, 1 << 24, &d))
			return -1;
		o->nb_mbufs = (uint32_t)d;
		return 2;
	}
	if (!strcmp(a, "--rxd") || !strcmp(a, "--txd")) {
		if (num(a, v, 1, 65535, &d))
			return -1;
		if (o->nb_desc && o->nb_desc != (uint16_t)d)
			return die("%s %s: udk-fwd has one ring size for rx and tx: use --desc N", a,
				   v), -1;
		o->nb_desc = (uint16_t)d;
		return 2;
	}
	if (!strcmp(a, "--txpkts")) {
		if (v != NULL && strchr(v, ',') != NULL)
			return die("--txpkts %s: udk-fwd sends one-segment frames: use --pkt-size N "
				   "(the frame's length)", v), -1;
		if (num(a, v, 60, 9614, &d))
			return -1;
		o->pkt_size = (uint16_t)d;
		return 2;
	}
	return 0;
}

/* Is a an option that takes no value (so what follows it is an option)? */
static bool is_flag(const char *a)
{
	return !strcmp(a, "--verify") || !strcmp(a, "--json") || !strcmp(a, "--tx-first") ||
	       !strcmp(a, "--idle-sleep");
}

/* "--name=value" becomes "--name" "value" (testpmd's users write both):
 * a new array over argv's own strings, the '=' overwritten.  Not the value
 * of an option (--dpdk-args '--iova-mode=va ...' stays whole).  NULL if out
 * of memory. */
static char **split_assignments(int argc, char **argv, int *out_argc)
{
	char **av = calloc((size_t)argc * 2 + 1, sizeof(*av));
	int k = 0;

	if (av == NULL)
		return NULL;
	for (int i = 0; i < argc; i++) {
		bool value = i > 0 && strncmp(argv[i - 1], "--", 2) == 0 &&
			     strchr(argv[i - 1], '=') == NULL && !is_flag(argv[i - 1]);
		char *eq = !value && strncmp(argv[i], "--", 2) == 0 ? strchr(argv[i], '=') : NULL;

		av[k++] = argv[i];
		if (eq != NULL) {
			*eq = '\0';
			av[k++] = eq + 1;
		}
	}
	*out_argc = k;
	return av;
}

static int parse(int argc, char **argv, struct fwd_opts *o)
{
	double d;

	*o = (struct fwd_opts){.mode = MODE_IO, .pkt_size = 64, .burst = 32, .interval = 1,
			       .nb_mbufs = 8191, .spin = 512};
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--mode") == 0 && v) {
			i++;
			if (!strcmp(v, "io")) o->mode = MODE_IO;
			else if (!strcmp(v, "mac")) o->mode = MODE_MAC;
			else if (!strcmp(v, "txonly")) o->mode = MODE_TXONLY;
			else if (!strcmp(v, "rxonly")) o->mode = MODE_RXONLY;
			else return die("--mode: '%s' is not io, mac, txonly or rxonly", v);
		} else if (strcmp(a, "--ports") == 0) {
			if (parse_ports(v, o)) return 1;
			i++;
		} else if (strcmp(a, "--pkt-size") == 0) {
			if (num(a, v, 60, 9614, &d)) return 1;
			o->pkt_size = (uint16_t)d, i++;
		} else if (strcmp(a, "--burst") == 0) {
			if (num(a, v, 1, 512, &d)) return 1;
			o->burst = (uint16_t)d, i++;
		} else if (strcmp(a, "--duration") == 0) {
			if (num(a, v, 0, 1e7, &o->duration)) return 1;
			i++;
		} else if (strcmp(a, "--count") == 0) {
			if (num(a, v, 1, 1e18, &d)) return 1;
			o->count = (uint64_t)d, i++;
		} else if (strcmp(a, "--interval") == 0) {
			if (num(a, v, 0, 3600, &o->interval)) return 1;
			i++;
		} else if (strcmp(a, "--nb-mbufs") == 0) {
			if (num(a, v, 64, 1 << 24, &d)) return 1;
			o->nb_mbufs = (uint32_t)d, i++;
		} else if (strcmp(a, "--queues") == 0) {
			if (num(a, v, 1, FWD_MAX_QUEUES, &d)) return 1;
			o->queues = (uint16_t)d, i++;
		} else if (strcmp(a, "--flows") == 0) {
			if (num(a, v, 1, 65535, &d)) return 1;
			o->flows = (uint32_t)d, i++;
		} else if (strcmp(a, "--desc") == 0) {
			if (num(a, v, 1, 65535, &d)) return 1;
			o->nb_desc = (uint16_t)d, i++;
		} else if (strcmp(a, "--pcap") == 0 && v) {
			o->pcap = v, i++;
		} else if (strcmp(a, "--tx-first") == 0) {
			o->tx_first = 1;
			if (v != NULL && v[0] != '-') {
				if (num(a, v, 1, 1024, &d)) return 1;
				o->tx_first = (unsigned int)d, i++;
			}
		} else if (strcmp(a, "--intr-mode") == 0) {
			if (v != NULL && !strcmp(v, "poll")) o->intr = INTR_POLL;
			else if (v != NULL && !strcmp(v, "interrupt")) o->intr = INTR_INTERRUPT;
			else if (v != NULL && !strcmp(v, "adaptive")) o->intr = INTR_ADAPTIVE;
			else return die("--intr-mode: '%s' is not poll, interrupt or adaptive",
					v ? v : "(none)");
			i++;
		} else if (strcmp(a, "--idle-sleep") == 0) {
			o->intr = INTR_ADAPTIVE;
		} else if (strcmp(a, "--spin") == 0) {
			if (num(a, v, 0, 1e9, &d)) return 1;
			o->spin = (uint32_t)d, i++;
		} else if (strcmp(a, "--spin-us") == 0) {
			if (num(a, v, 1, 1e7, &d)) return 1;
			o->spin_us = (uint32_t)d, i++;
		} else if (strcmp(a, "--burst-gap") == 0) {
			if (num(a, v, 0, 1e6, &d)) return 1;
			o->burst_gap = d / 1e3, i++;
		} else if (strcmp(a, "--link-wait") == 0) {
			if (num(a, v, 0, 1e7, &o->link_wait)) return 1;
			i++;
		} else if (strcmp(a, "--verify") == 0) {
			o->verify = true;
		} else if (strcmp(a, "--json") == 0) {
			o->json = true;
		} else if (strcmp(a, "--dpdk-args") == 0) {
#ifdef UDK_HAVE_DPDK
			if (v == NULL || udk_dpdk_eal_args(v) < 0)
				return die("--dpdk-args: %s", v ? udk_last_error() : "needs a value");
			i++;
#else
			return die("--dpdk-args: this udk-fwd was built without DPDK (libdpdk-dev)");
#endif
		} else {
			int used = testpmd_option(a, v, o);

			if (used < 0)
				return 1;
			if (used == 0)
				return die("unknown option '%s' (see --help)", a);
			i += used - 1;
		}
	}
	if (o->queues == 0)
		o->queues = 1;
	/* Exactly N per port cannot be split among lcores without a shared count. */
	if (o->queues > 1 && o->count)
		return die("--count: not with --queues %u (each queue's lcore counts its own); "
			   "use --duration", o->queues);
	return 0;
}

/* Library errors reach the user once, through die() with what was being
 * done; the library's other lines are shown as they come. */
static void log_sink(int level, const char *comp, const char *msg, void *arg)
{
	(void)arg;
	if (level != UDK_LOG_ERR)
		fprintf(stderr, PROG ": %s: %s\n", comp, msg);
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&F.stop, true);
}

static atomic_uint nb_removed;

/* The hot-plug thread: a port's device went away.  ethdev already makes its
 * bursts return 0; the lcores carry on with the others. */
static void on_pci_event(const struct udk_pci_event *ev, void *arg)
{
	uint16_t port;

	(void)arg;
	if (ev->type != UDK_PCI_EVENT_REMOVED || udk_eth_dev_find(ev->bdf, &port) < 0)
		return;
	for (unsigned int i = 0; i < F.o.nb_ports; i++) {
		if (F.port[i].port != port || atomic_exchange(&F.port[i].removed, true))
			continue;
		unsigned int left = F.o.nb_ports - (atomic_fetch_add(&nb_removed, 1) + 1);
		fprintf(stderr, PROG ": port %u (%s) was removed (hot-unplug); %s\n", port,
			ev->bdf, left ? "carrying on with the others" : "no port is left");
		if (left == 0)
			atomic_store(&F.stop, true);
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Configure, set up and start one port with --queues queue pairs. */
static int port_up(struct fwd *f, uint16_t port)
{
	struct udk_eth_conf c;
	struct udk_eth_rxq_conf rc;
	struct udk_eth_txq_conf tc;
	uint32_t mtu;

	udk_eth_conf_init(&c, sizeof(c));
	c.promiscuous = true;
	udk_eth_rxq_conf_init(&rc, sizeof(rc));
	udk_eth_txq_conf_init(&tc, sizeof(tc));
	rc.mp = f->mp;
	rc.nb_desc = tc.nb_desc = f->o.nb_desc;
	c.nb_rx_queues = c.nb_tx_queues = f->o.queues;
	if (udk_eth_dev_configure(port, &c))
		return die("port %u: %s", port, udk_last_error());
	for (uint16_t q = 0; q < f->o.queues; q++)
		if (udk_eth_rx_queue_setup(port, q, &rc) || udk_eth_tx_queue_setup(port, q, &tc))
			return die("port %u: %s", port, udk_last_error());
	if (udk_eth_dev_start(port))
		return die("port %u: %s", port, udk_last_error());
	udk_eth_mtu_get(port, &mtu);
	if (f->o.mode == MODE_TXONLY && f->o.pkt_size > mtu + UDK_ETHER_HDR_LEN)
		return die("--pkt-size %u is longer than port %u's MTU %u plus the %u-byte header",
			   f->o.pkt_size, port, mtu, UDK_ETHER_HDR_LEN);
	return 0;
}

/* Bytes per port since the start, from the ports' own counters: the
 * lcores count packets per burst and never look at a packet's length. */
static struct fwd_bytes bytes[FWD_MAX_PORTS];
#define BYTES_PERIOD 0.1 /* seconds: what a hot-unplug can leave uncounted */

static void read_bytes(struct fwd *f)
{
	for (unsigned int i = 0; i < f->o.nb_ports; i++)
		fwd_bytes_read(&bytes[i], f->port[i].port);
}

struct snap {
	uint64_t rx, tx, rx_bytes, tx_bytes, dropped;
	uint64_t valid, invalid, lost;
};

/* The i-th port's counters, summed over its lanes (one per queue pair). */
static void snap(struct fwd *f, unsigned int i, struct snap *s)
{
	*s = (struct snap){.rx_bytes = bytes[i].rx, .tx_bytes = bytes[i].tx};
	for (unsigned int q = 0; q < f->o.queues; q++) {
		struct fwd_port *p = &f->port[q * FWD_MAX_PORTS + i];

		s->rx += atomic_load(&p->rx);
		s->tx += atomic_load(&p->tx);
		s->dropped += atomic_load(&p->dropped);
		s->valid += atomic_load(&p->valid);
		s->invalid += atomic_load(&p->invalid);
		s->lost += atomic_load(&p->lost);
	}
}

static uint64_t port_rx(struct fwd *f, unsigned int i)
{
	struct snap s;

	snap(f, i, &s);
	return s.rx;
}

/* "R Mpps G Gbit/s" for one direction: bits on the wire are frame + FCS 4 +
 * preamble 8 + gap 12.  A port whose byte counter stands still while
 * packets pass counts no bytes (DPDK's net_null): no figure is made up. */
static void rate(char *buf, size_t len, uint64_t pkts, uint64_t nbytes, double dt)
{
	if (nbytes == 0 && pkts != 0)
		snprintf(buf, len, "%.3f Mpps n/a Gbit/s", (double)pkts / dt / 1e6);
	else
		snprintf(buf, len, "%.3f Mpps %.3f Gbit/s", (double)pkts / dt / 1e6,
			 (double)(nbytes + 24 * pkts) * 8 / dt / 1e9);
}

/* One live line: "HH:MM:SS.mmm WHO: rx R | tx R | dropped N" for the
 * period's difference d. */
static void live_line(const char *stamp, const char *who, const struct snap *d, double dt)
{
	char rx[64], tx[64];

	rate(rx, sizeof(rx), d->rx, d->rx_bytes, dt);
	rate(tx, sizeof(tx), d->tx, d->tx_bytes, dt);
	fprintf(stderr, "%s %s: rx %s | tx %s | dropped %llu\n", stamp, who, rx, tx,
		(unsigned long long)d->dropped);
}

/* The live lines of one period: each port, then all ports together, each
 * stamped with the wall-clock time (to line them up with other logs). */
static void progress(struct fwd *f, struct snap *last, double dt)
{
	struct snap total = {0};
	char stamp[32], who[32];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	snprintf(stamp + strlen(stamp), sizeof(stamp) - strlen(stamp), ".%03ld",
		 ts.tv_nsec / 1000000);
	read_bytes(f);
	for (unsigned int i = 0; i < f->o.nb_ports; i++) {
		struct snap s, d;

		snap(f, i, &s);
		d = (struct snap){.rx = s.rx - last[i].rx, .tx = s.tx - last[i].tx,
				  .rx_bytes = s.rx_bytes - last[i].rx_bytes,
				  .tx_bytes = s.tx_bytes - last[i].tx_bytes,
				  .dropped = s.dropped - last[i].dropped};
		snprintf(who, sizeof(who), "port %u", f->port[i].port);
		live_line(stamp, who, &d, dt);
		total.rx += d.rx, total.tx += d.tx, total.dropped += d.dropped;
		total.rx_bytes += d.rx_bytes, total.tx_bytes += d.tx_bytes;
		last[i] = s;
	}
	live_line(stamp, "all ports", &total, dt);
}

/* Link events (the driver's thread): when each port's link last came back,
 * and how much it had received then, to tell when traffic resumed. */
static struct {
	_Atomic double up_at;      /* now() of the last link-up event, 0 = none pending */
	_Atomic uint64_t rx_at_up;
	double down_since;         /* the statistics side's: 0 = up */
} links[FWD_MAX_PORTS];

static void on_link_event(uint16_t port, const struct udk_eth_link *l, void *arg)
{
	struct fwd *f = arg;

	for (unsigned int i = 0; i < f->o.nb_ports; i++) {
		if (f->port[i].port != port || !l->up)
			continue;
		atomic_store(&links[i].rx_at_up, port_rx(f, i));
		atomic_store(&links[i].up_at, now());
	}
}

/* The first packets after a link came back: say how long they took. */
static void traffic_resumed(struct fwd *f, double t)
{
	for (unsigned int i = 0; i < f->o.nb_ports; i++) {
		double up = atomic_load(&links[i].up_at);

		if (up > 0 && port_rx(f, i) > atomic_load(&links[i].rx_at_up)) {
			fprintf(stderr, PROG ": port %u: traffic resumed %.0f ms after the link came "
				"back\n", f->port[i].port, (t - up) * 1e3);
			atomic_store(&links[i].up_at, 0);
		}
	}
}

/* A port whose link went down since the last look (a vhost-user back-end
 * that went away, a cable pulled) ends the run with an error, at once or
 * after --link-wait seconds without it: counting on would only report a
 * silent success. */
static bool link_lost(struct fwd *f, bool *was_up)
{
	double t = now();

	for (unsigned int i = 0; i < f->o.nb_ports; i++) {
		struct udk_eth_link l = {0};
		uint16_t port = f->port[i].port;

		if (udk_eth_link_get(port, &l) < 0)
			continue;
		if (was_up[i] && !l.up) {
			if (f->o.link_wait <= 0) {
				die("port %u: link down during the run; stopping", port);
				return true;
			}
			links[i].down_since = t;
			fprintf(stderr, PROG ": port %u: link down; waiting up to %g s for it to come "
				"back\n", port, f->o.link_wait);
		} else if (!l.up && links[i].down_since > 0 &&
			   t - links[i].down_since > f->o.link_wait) {
			die("port %u: link down for more than %g s (--link-wait); stopping", port,
			    f->o.link_wait);
			return true;
		} else if (l.up && links[i].down_since > 0) {
			fprintf(stderr, PROG ": port %u: link up again after %.1f s\n", port,
				t - links[i].down_since);
			links[i].down_since = 0;
		}
		was_up[i] = l.up;
	}
	return false;
}

/* The statistics side's look at the clock (every 10 ms with a statistics
 * lcore, every 64 rounds without): the ports' byte counters, the live
 * lines, the links, and whether the run is over. */
struct clock {
	double t0, tl, tlink, tbytes; /* start, last line, last link and byte reads */
	bool lost;                    /* a link went down */
};

/* --count: every port still there has received its N packets. */
static bool counted(struct fwd *f)
{
	for (unsigned int i = 0; i < f->o.nb_ports; i++)
		if (atomic_load(&f->port[i].rx) < f->o.count && !atomic_load(&f->port[i].removed))
			return false;
	return true;
}

static bool tick(struct fwd *f, struct clock *c, struct snap *last, bool *was_up)
{
	double t = now();

	if (f->o.duration > 0 && t - c->t0 >= f->o.duration)
		return true;
	if (f->o.count && counted(f))
		return true;
	if (t - c->tbytes >= BYTES_PERIOD) {
		read_bytes(f);
		c->tbytes = t;
	}
	if (f->o.interval > 0 && t - c->tl >= f->o.interval) {
		progress(f, last, t - c->tl);
		c->tl = t;
	}
	traffic_resumed(f, t);
	if (t - c->tlink >= 1) {
		c->tlink = t;
		c->lost = link_lost(f, was_up);
	}
	return c->lost;
}

static const char *mode_name(enum fwd_mode m)
{
	static const char *n[] = {"io", "mac", "txonly", "rxonly"};
	return n[m];
}

/* What the lcores' wait sets did (--intr-mode), summed. */
static struct udk_lcore_wait_stats wait_stats(const struct fwd_lcore *lcs, unsigned int nl)
{
	struct udk_lcore_wait_stats sum = {0};

	for (unsigned int i = 0; i < nl; i++) {
		struct udk_lcore_wait_stats st;

		if (lcs[i].ws == NULL)
			continue;
		udk_lcore_waitset_stats(lcs[i].ws, &st);
		sum.sleeps += st.sleeps, sum.wakeups += st.wakeups;
		sum.timeouts += st.timeouts, sum.aborted += st.aborted;
		sum.sleep_ns += st.sleep_ns, sum.late += st.late;
	}
	return sum;
}

static const char *const intr_names[] = {"poll", "interrupt", "adaptive"};

static void summary(struct fwd *f, double secs, const struct fwd_lcore *lcs, unsigned int nl)
{
	struct udk_lcore_wait_stats ws = wait_stats(lcs, nl);
	struct snap total = {0};

	read_bytes(f); /* the lcores have stopped: the ports' final counts */
	if (f->o.json)
		printf("{\"mode\":\"%s\",\"seconds\":%.3f,\"ports\":[", mode_name(f->o.mode), secs);
	for (unsigned int i = 0; i < f->o.nb_ports; i++) {
		struct fwd_port *p = &f->port[i];
		struct udk_eth_stats st = {0};
		struct snap s;

		snap(f, i, &s);
		total.rx += s.rx, total.tx += s.tx, total.dropped += s.dropped;
		total.rx_bytes += s.rx_bytes, total.tx_bytes += s.tx_bytes;
		udk_eth_stats_get(p->port, &st); /* zeros for a removed port */
		if (f->o.json) {
			printf("%s{\"port\":%u,\"removed\":%s,\"rx\":%llu,\"tx\":%llu,\"rx_bytes\":%llu,"
			       "\"tx_bytes\":%llu,\"dropped\":%llu,\"rx_mpps\":%.4f,\"tx_mpps\":%.4f,"
			       "\"port_ierrors\":%llu,\"port_oerrors\":%llu,\"port_imissed\":%llu,"
			       "\"port_copies\":%llu",
			       i ? "," : "", p->port, atomic_load(&p->removed) ? "true" : "false",
			       (unsigned long long)s.rx,
			       (unsigned long long)s.tx, (unsigned long long)s.rx_bytes,
			       (unsigned long long)s.tx_bytes, (unsigned long long)s.dropped,
			       secs > 0 ? (double)s.rx / secs / 1e6 : 0,
			       secs > 0 ? (double)s.tx / secs / 1e6 : 0,
			       (unsigned long long)st.ierrors, (unsigned long long)st.oerrors,
			       (unsigned long long)st.imissed, (unsigned long long)st.copies);
			if (f->o.verify)
				printf(",\"valid\":%llu,\"invalid\":%llu,\"lost\":%llu",
				       (unsigned long long)s.valid, (unsigned long long)s.invalid,
				       (unsigned long long)s.lost);
			for (unsigned int q = 0; f->o.queues > 1 && q < f->o.queues; q++) {
				const struct fwd_port *l = &f->port[q * FWD_MAX_PORTS + i];

				printf("%s{\"queue\":%u,\"rx\":%llu,\"tx\":%llu,\"valid\":%llu,"
				       "\"invalid\":%llu}%s", q ? "," : ",\"queues\":[", q,
				       (unsigned long long)atomic_load(&l->rx),
				       (unsigned long long)atomic_load(&l->tx),
				       (unsigned long long)atomic_load(&l->valid),
				       (unsigned long long)atomic_load(&l->invalid),
				       q + 1 == f->o.queues ? "]" : "");
			}
			printf("}");
		} else {
			printf("port %u%s: rx %llu (%.3f Mpps), tx %llu (%.3f Mpps), dropped %llu, "
			       "port errors rx %llu tx %llu, missed %llu",
			       p->port, atomic_load(&p->removed) ? " (removed)" : "",
			       (unsigned long long)s.rx,
			       secs > 0 ? (double)s.rx / secs / 1e6 : 0, (unsigned long long)s.tx,
			       secs > 0 ? (double)s.tx / secs / 1e6 : 0,
			       (unsigned long long)s.dropped, (unsigned long long)st.ierrors,
			       (unsigned long long)st.oerrors, (unsigned long long)st.imissed);
			if (f->o.verify)
				printf(", verified %llu, invalid %llu, lost %llu",
				       (unsigned long long)s.valid, (unsigned long long)s.invalid,
				       (unsigned long long)s.lost);
			for (unsigned int q = 0; f->o.queues > 1 && q < f->o.queues; q++)
				printf("%s%llu", q ? "/" : "; rx per queue ",
				       (unsigned long long)atomic_load(
					       &f->port[q * FWD_MAX_PORTS + i].rx));
			printf("\n");
		}
	}
	if (f->o.json)
		printf("],\"intr_mode\":\"%s\",\"sleeps\":%llu,\"wakeups\":%llu,\"timeouts\":%llu,"
		       "\"sleeps_aborted\":%llu,\"sleeps_late\":%llu,\"sleep_s\":%.3f",
		       intr_names[f->o.intr], (unsigned long long)ws.sleeps,
		       (unsigned long long)ws.wakeups, (unsigned long long)ws.timeouts,
		       (unsigned long long)ws.aborted, (unsigned long long)ws.late,
		       (double)ws.sleep_ns / 1e9);
	else if (f->o.intr != INTR_POLL)
		printf("%s: %llu sleeps (%llu woken by a frame, %llu at the limit of which %llu "
		       "with a frame waiting, %llu not taken), %.3f s asleep\n",
		       intr_names[f->o.intr], (unsigned long long)ws.sleeps,
		       (unsigned long long)ws.wakeups, (unsigned long long)ws.timeouts,
		       (unsigned long long)ws.late, (unsigned long long)ws.aborted,
		       (double)ws.sleep_ns / 1e9);
	if (f->o.json)
		printf(",\"total\":{\"rx\":%llu,\"tx\":%llu,\"rx_bytes\":%llu,\"tx_bytes\":%llu,"
		       "\"dropped\":%llu,\"rx_mpps\":%.4f,\"tx_mpps\":%.4f}}\n",
		       (unsigned long long)total.rx, (unsigned long long)total.tx,
		       (unsigned long long)total.rx_bytes, (unsigned long long)total.tx_bytes,
		       (unsigned long long)total.dropped, secs > 0 ? (double)total.rx / secs / 1e6 : 0,
		       secs > 0 ? (double)total.tx / secs / 1e6 : 0);
	else
		printf("all ports: rx %llu (%.3f Mpps), tx %llu (%.3f Mpps), dropped %llu\n",
		       (unsigned long long)total.rx, secs > 0 ? (double)total.rx / secs / 1e6 : 0,
		       (unsigned long long)total.tx, secs > 0 ? (double)total.tx / secs / 1e6 : 0,
		       (unsigned long long)total.dropped);
}

/* --pcap: the dump file, opened here so a failure names the path once (in
 * libpcap's own message it is there already) and leaves nothing open. */
static int open_pcap(const char *path, pcap_t **pc, void **dumper)
{
	FILE *fp = fopen(path, "wb");

	if (fp == NULL)
		return -die("--pcap %s: cannot create it: %s", path, strerror(errno));
	*pc = pcap_open_dead(DLT_EN10MB, 65535);
	*dumper = *pc ? pcap_dump_fopen(*pc, fp) : NULL;
	if (*dumper == NULL) {
		die("--pcap %s: %s", path, *pc ? pcap_geterr(*pc) : "libpcap cannot start a dump");
		fclose(fp);
		if (*pc != NULL)
			pcap_close(*pc);
		*pc = NULL;
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct fwd_lcore lcs[UDK_MAX_LCORES] = {{0}};
	struct snap last[FWD_MAX_PORTS] = {{0}};
	pcap_t *pc = NULL;
	unsigned int nl = 0, pairs, i;
	bool main_fwd = true;     /* the main lcore forwards (lcs[0]) as well */
	bool was_up[FWD_MAX_PORTS] = {false};
	struct clock c = {0};
	struct udk_eal_args ea;
	char **av;
	int n, ac, rc = 1;

	if (tool_help_version(argc, argv, 0, PROG " (udk) " UDK_VERSION_STRING, usage))
		return 0;
	udk_log_set_sink(log_sink, NULL);
	n = udk_eal_parse(argc, argv, &ea);
	if (n < 0) {
		die("%s", udk_last_error());
		return TOOL_EXIT_USAGE;
	}
	av = split_assignments(argc - n, argv + n, &ac);
	if (av == NULL)
		return die("out of memory");
	rc = parse(ac, av, &F.o);
	free(av);
	if (rc)
		return TOOL_EXIT_USAGE;
	rc = 1;
	n = udk_eal_init(argc, argv);
	if (n < 0)
		return die("EAL init failed: %s", udk_last_error());
	udk_pci_event_register(on_pci_event, NULL);
	if (udk_eth_probe_eal() < 0) {
		die("probing ports failed: %s", udk_last_error());
		goto out_eal;
	}
	if (F.o.nb_ports == 0)
		for (uint16_t p = 0; p < UDK_ETH_MAX_PORTS && F.o.nb_ports < FWD_MAX_PORTS; p++)
			if (udk_eth_dev_is_valid(p))
				F.o.ports[F.o.nb_ports++] = p;
	if (F.o.nb_ports == 0) {
		die("no ports: give devices with -a BDF or --vdev NAME");
		goto out_eal;
	}
	for (i = 0; i < F.o.nb_ports; i++) {
		if (!udk_eth_dev_is_valid(F.o.ports[i])) {
			die("--ports: port %u does not exist (%u ports probed)", F.o.ports[i],
			    udk_eth_dev_count());
			goto out_eal;
		}
	}
	if (udk_pktmbuf_pool_create("udk-fwd", F.o.nb_mbufs, 256 < F.o.nb_mbufs / 4 ? 256 :
				    F.o.nb_mbufs / 4, 0, UDK_SOCKET_ANY, &F.mp) < 0) {
		die("packet buffers: %s", udk_last_error());
		goto out_eal;
	}
	for (i = 0; i < F.o.nb_ports; i++) {
		struct fwd_port *p = &F.port[i];
		p->port = F.o.ports[i];
		p->peer = (uint16_t)((i ^ 1) < F.o.nb_ports ? (i ^ 1) : i);
		p->tx_first = F.o.mode == MODE_IO || F.o.mode == MODE_MAC ? F.o.tx_first : 0;
		udk_eth_macaddr_get(p->port, &p->mac);
		if (port_up(&F, p->port))
			goto out_ports;
		/* Queue q's lane of the port, its peer that of the peer port. */
		for (unsigned int q = 1; q < F.o.queues; q++) {
			struct fwd_port *l = &F.port[q * FWD_MAX_PORTS + i];

			l->port = p->port;
			l->queue = (uint16_t)q;
			l->peer = (uint16_t)(q * FWD_MAX_PORTS + p->peer);
			l->tx_first = p->tx_first;
			l->mac = p->mac;
		}
	}
	if (F.o.pcap != NULL && open_pcap(F.o.pcap, &pc, &F.pcap) < 0)
		goto out_ports;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	if (F.o.queues > 1) {
		/* One lcore per queue pair, serving that queue of every port: each
		 * transmit queue has one user.  The main lcore is the first of them
		 * unless there is one lcore more, for the statistics. */
		nl = F.o.queues;
		if (udk_lcore_count() < nl) {
			die("--queues %u: one lcore per queue pair, and -l gives %u; give -l with "
			    "%u CPUs (or %u for a separate statistics lcore)", F.o.queues,
			    udk_lcore_count(), nl, nl + 1);
			goto out_ports;
		}
		for (i = 0; i < nl; i++)
			lcs[i] = (struct fwd_lcore){&F, i * FWD_MAX_PORTS, F.o.nb_ports, NULL};
		main_fwd = udk_lcore_count() == nl;
	} else {
		/* Whole pairs per lcore: a pair's two transmit queues then have one user. */
		pairs = (F.o.nb_ports + 1) / 2;
		nl = udk_lcore_count() > 1 ? udk_lcore_count() - 1 : 1;
		if (nl > pairs)
			nl = pairs;
		for (i = 0; i < nl; i++) {
			unsigned int a = pairs * i / nl, b = pairs * (i + 1) / nl;
			lcs[i] = (struct fwd_lcore){&F, 2 * a, 2 * b > F.o.nb_ports ?
					F.o.nb_ports - 2 * a : 2 * (b - a), NULL};
		}
		main_fwd = udk_lcore_count() == 1;
	}
	for (i = 0; F.o.intr != INTR_POLL && i < nl; i++)
		if (fwd_lcore_intr_setup(&lcs[i]))
			goto out_lcores;
	fprintf(stderr, PROG ": mode %s, %u ports, %u queue pair%s each, %u forwarding lcore%s "
		"(%s)%s\n", mode_name(F.o.mode), F.o.nb_ports, F.o.queues,
		F.o.queues == 1 ? "" : "s", nl, nl == 1 ? "" : "s", intr_names[F.o.intr],
		!main_fwd ? "" : F.o.queues > 1 ? " (the main lcore the first; give -l with one "
						  "CPU more for a separate statistics lcore)"
					   : " (the main lcore; give -l with two CPUs for a "
					     "separate statistics lcore)");
	link_lost(&F, was_up);
	udk_eth_link_event_register(on_link_event, &F);
	read_bytes(&F); /* the baseline: counting starts now */
	c.t0 = c.tl = c.tlink = c.tbytes = now();
	/* Forwarding lcores beside the main one: lcs[i] on lcore i + 1, or
	 * lcs[i] on lcore i when the main lcore serves lcs[0]. */
	for (i = main_fwd; i < nl; i++)
		udk_lcore_launch(main_fwd ? i : i + 1, fwd_lcore_main, &lcs[i]);
	if (!main_fwd) {
		while (!atomic_load(&F.stop)) {
			usleep(10000);
			if (tick(&F, &c, last, was_up))
				atomic_store(&F.stop, true);
		}
	} else {
		/* The main lcore forwards too: and looks at the clock every few rounds. */
		while (!atomic_load(&F.stop)) {
			for (int k = 0; k < 64; k++)
				if (fwd_poll(&lcs[0]) > 0)
					break; /* it slept: time to look at the clock */
			if (atomic_load(&F.stop) || tick(&F, &c, last, was_up))
				break;
		}
		atomic_store(&F.stop, true);
		udk_mempool_cache_flush(F.mp);
	}
	for (i = main_fwd; i < nl; i++) {
		if (lcs[i].ws != NULL) /* a sleeping lcore sees stop now */
			udk_lcore_waitset_wake(lcs[i].ws);
		udk_lcore_wait(main_fwd ? i : i + 1);
	}
	summary(&F, now() - c.t0, lcs, nl);
	rc = c.lost ? 1 : 0;
	if (atomic_load(&nb_removed) == F.o.nb_ports)
		rc = die("every port was removed during the run: nothing left to forward");
out_lcores:
	if (F.pcap != NULL)
		pcap_dump_close(F.pcap);
	if (pc != NULL)
		pcap_close(pc);
	for (i = 0; i < nl; i++)
		if (lcs[i].ws != NULL)
			udk_lcore_waitset_destroy(lcs[i].ws);
out_ports:
	udk_eth_link_event_unregister(on_link_event, &F);
	udk_eth_close_all();
	if (F.mp)
		udk_mempool_free(F.mp);
out_eal:
	udk_pci_event_unregister(on_pci_event, NULL);
	udk_eal_cleanup();
	return rc;
}
