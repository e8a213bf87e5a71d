/* SPDX-License-Identifier: BSD-3-Clause */
/* udk_eal.h - the environment: command-line options, lcores (pinned worker
 * threads), the process's memory and its default map.
 *
 * udk_eal_init() is the one process context of DESIGN.md: it sets up memory
 * (lib/mem), creates the default map (lib/dma), maps every heap segment into it
 * as the heap grows, and opens the devices named with -a.
 */
#ifndef UDK_EAL_H
#define UDK_EAL_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "udk_cdefs.h"
#include "udk_dma.h"
#include "udk_mem.h"
#include "udk_pci.h"
#include "udk_telemetry.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UDK_MAX_LCORES 128
#define UDK_MAX_ALLOW 32
#define UDK_MAX_VDEVS 32
#define UDK_LCORE_ANY UINT32_MAX

/* Parsed EAL options.  udk_eal_parse() fills it without side effects. */
struct udk_eal_args {
	size_t nb_lcores;
	unsigned int lcore_cpu[UDK_MAX_LCORES]; /* lcore i runs on CPU lcore_cpu[i] */
	size_t nb_allow;
	struct udk_pci_addr allow[UDK_MAX_ALLOW];
	size_t nb_vdevs;
	const char *vdev[UDK_MAX_VDEVS];         /* point into argv */
	uint64_t socket_mem[UDK_MAX_NUMA_NODES]; /* bytes; 0 = no limit */
	uint64_t total_mem;                      /* -m N (no comma): bytes over all nodes */
	const char *huge_dir;
	bool no_huge;
	bool help;
	int log_level;
	enum udk_dmamap_backend backend;
	const char *broker;                      /* --broker SOCK: take memory and devices from udk-broker */
	bool no_telemetry;                       /* --no-telemetry */
	const char *telemetry_path;              /* --telemetry-path; NULL: the default */
};

/* Parse the EAL options at the start of argv (argv[0] is the program).
 * Returns the number of arguments consumed, including argv[0] and a final
 * "--" if present, or -UDK_EARGS with a message naming the bad option.
 * Options: -l/--lcores LIST, -c/--coremask MASK, -a/--allow BDF (repeatable), -m/--socket-mem
 * MiB[,MiB...], --vdev NAME[,ARGS] (repeatable), --huge-dir DIR, --no-huge,
 * --log-level LEVEL,
 * --iommu-backend auto|type1|iommufd, --broker SOCK, --no-telemetry,
 * --telemetry-path PATH, -h/--help; DPDK's --iova-mode, --main-lcore,
 * --file-prefix and --in-memory are refused with a line naming udk's way. */
int udk_eal_parse(int argc, char **argv, struct udk_eal_args *args);

/* Print the EAL options to stream (a FILE *). */
void udk_eal_usage(void *stream);

/* Parse the options, then set up memory, the default map, lcores, and open
 * the -a devices attached to the default map.  Returns the number of
 * arguments consumed (so apps parse argv + ret), or a negative error after
 * logging which step failed.  With --help it sets nothing up and returns the
 * count with udk_eal_help_requested() true: the app then prints
 * udk_eal_usage(stdout) next to its own options and exits. */
int udk_eal_init(int argc, char **argv);
bool udk_eal_help_requested(void);

/* udk_eal_init() also starts the telemetry server (lib/telemetry, doc/
 * telemetry.md) unless --no-telemetry is given, and registers the commands
 * "info", "lcores", "maps" and "devices".  A failure to start it at the
 * default path is a warning; at a --telemetry-path it fails init. */

/* Stop telemetry, lcores, close devices, unmap and free memory. */
void udk_eal_cleanup(void);

/* Run udk inside another environment's process (lib/dpdk inside a DPDK
 * application): make mem the process's memory (udk_mem_default_zmalloc(),
 * udk_virt2iova()) and map its default map (udk_eal_dmamap(), which drivers
 * check their devices against), without parsing options, starting lcores or
 * opening devices.  The caller keeps both and must call
 * udk_eal_adopt(NULL, NULL) before it frees them.  -EBUSY while
 * udk_eal_init() is in effect or another pair is adopted. */
int udk_eal_adopt(struct udk_mem *mem, struct udk_dmamap *map);

/* The default map (the EAL holds a reference) and memory. */
struct udk_dmamap *udk_eal_dmamap(void);
struct udk_mem *udk_eal_mem(void);

/* ---- Memory that belongs to a map (doc/architecture.md, "Memory for a
 * map") ----
 *
 * A device reaches only what its map holds, so a driver takes its queues,
 * descriptor pages and packet buffers from the heap whose segments are
 * mapped into its device's map, and translates with that heap
 * (udk_mem_virt2iova(), which also finds memory registered with the map by
 * udk_dma_register()).  The default map's heap is udk_eal_mem(); any other
 * map gets a heap of its own on first use, made with the EAL's memory
 * options (--huge-dir, --no-huge; -m limits each heap on its own).  A
 * segment of that heap carries its IOVA in that map. */

/* A reference to map's heap in *out, made on first use.  The heap holds a
 * reference on map (so a map outlives its memory) and is freed with its last
 * reference.  The default map's heap is udk_eal_mem(), owned by the EAL:
 * its references are not counted.  0, -EINVAL (map NULL, or the EAL is not
 * initialised or adopted), -ENOTSUP (under --broker, where only the broker's
 * map holds memory), or lib/mem's error when the memory cannot be had.
 * Thread-safe; control path. */
int udk_eal_map_mem_get(struct udk_dmamap *map, struct udk_mem **out);

/* Drop a reference from udk_eal_map_mem_get().  The last one frees the heap
 * (each segment is unmapped from the map before it is released: every
 * allocation from it must be freed, and no device may still use it) and
 * drops the heap's reference on the map.  NULL and udk_eal_mem(): nothing. */
void udk_eal_map_mem_put(struct udk_mem *mem);

/* Take one more reference on mem when it is the heap of a map other than
 * the default one (what a pool made on it does, so the heap outlives the
 * port it was made for): true when one was taken, to be dropped with
 * udk_eal_map_mem_put(); false for the default heap and for memory that is
 * no map's heap.  Thread-safe. */
bool udk_eal_mem_hold(struct udk_mem *mem);

/* udk_eal_map_mem_get() for the map dev is attached to: what a driver calls
 * when it takes a device.  -UDK_EDETACHED, with a line naming the device,
 * when it is attached to no map. */
int udk_eal_device_mem_get(struct udk_device *dev, struct udk_mem **out);

/* The map whose heap mem is (no reference taken), or NULL when mem is no
 * map's heap (e.g. memory made with udk_mem_create() by the caller).  For a
 * driver that checks a buffer pool against its device's map. */
struct udk_dmamap *udk_eal_mem_map(const struct udk_mem *mem);

/* The devices opened from -a, in order. */
size_t udk_eal_nb_devices(void);
struct udk_pci_dev *udk_eal_device(size_t i);

/* The --vdev specs ("net_ring0,peer=net_ring1"), in order; lib/ethdev probes
 * them (udk_eth_probe_eal()).  The strings point into init's argv. */
size_t udk_eal_nb_vdevs(void);
const char *udk_eal_vdev(size_t i);

/* lcores: lcore 0 is the main thread; the others are threads pinned to
 * their CPUs, started at init and waiting for work. */
/* Internal: the calling thread's lcore, set by lib/eal when the thread
 * becomes an lcore.  initial-exec: libudk is linked, never dlopen()ed, so the
 * read is one %fs-relative load, also from outside the shared library. */
extern UDK_THREAD_LOCAL unsigned int udk_lcore_id_ __attribute__((tls_model("initial-exec")));

/* The calling thread's lcore, UDK_LCORE_ANY on a non-lcore thread.  A
 * thread-local read (inline, no call): any thread, the fast path included. */
static inline unsigned int udk_lcore_id(void)
{
	return udk_lcore_id_;
}
unsigned int udk_lcore_count(void);
/* Run fn(arg) on worker lcore id (not 0).  -EBUSY if it is running. */
int udk_lcore_launch(unsigned int id, int (*fn)(void *arg), void *arg);
/* Wait for lcore id's function; returns what it returned. */
int udk_lcore_wait(unsigned int id);

/* Poll-loop accounting for telemetry: an application's poll loop calls
 * udk_lcore_poll(true) after a round that did work (packets, completions)
 * and udk_lcore_poll(false) after an empty one.  It costs one increment of
 * a counter in the calling lcore's own cache line: no lock, no system call.
 * On a thread that is not an lcore it counts into a slot nobody reads. */
struct udk_lcore_stats {
	alignas(64) uint64_t busy;
	uint64_t idle;
	/* Written by the lcore's wait set (udk_lcore_waitset_idle()). */
	uint64_t sleeps;   /* times it went to sleep in epoll_wait */
	uint64_t wakeups;  /* sleeps ended by an event (the rest: the sleep limit) */
	uint64_t sleep_ns; /* time spent asleep */
};
extern UDK_THREAD_LOCAL struct udk_lcore_stats *udk_lcore_stats_self_;

static inline void udk_lcore_poll(bool busy)
{
	struct udk_lcore_stats *s = udk_lcore_stats_self_;

	udk_counter_add(busy ? &s->busy : &s->idle, 1);
}

struct udk_lcore_info {
	unsigned int cpu;
	bool running;            /* lcore 0 always; a worker while a launched function runs */
	uint64_t busy_polls, idle_polls;
	uint64_t sleeps, wakeups, sleep_ns; /* of its wait set, if it has one */
};
/* A snapshot of lcore id: 0, or -EINVAL if there is no such lcore.
 * Any thread; the counts are read without stopping the lcore. */
int udk_lcore_info(unsigned int id, struct udk_lcore_info *info);

/* ---- Sleeping when idle (doc/interrupts.md) ----
 *
 * A wait set lets a poll loop sleep when it has nothing to do and wake on
 * the first event: a device's interrupt eventfd (an NVMe qpair's MSI-X
 * vector, udk_nvme_qpair_eventfd()), or udk_lcore_waitset_wake() from
 * another thread.  The loop polls as before and tells the set how much each
 * round did; after spin_polls empty rounds in a row the set arms every
 * source, sleeps in epoll_wait(), disarms them, and returns so the loop
 * polls again.
 *
 * No lost wake-up: a source's arm() must (1) make its fd signal for any
 * work that arrives from now on, then (2) check for work that arrived
 * before, returning > 0 if there is some.  The set sleeps only when every
 * arm() returned 0; work arriving after a check finds the fd already
 * watched, and epoll_wait() returns at once. */
struct udk_lcore_wait_source {
	int fd;                   /* becomes readable when there is work */
	int (*arm)(void *arg);    /* > 0: work pending (do not sleep), 0: armed, < 0: error */
	void (*disarm)(void *arg); /* after the sleep (or an aborted one); may be NULL */
	void *arg;
};

struct udk_lcore_wait_opts {
	size_t opts_size;      /* set by udk_lcore_wait_opts_init() */
	/* Empty rounds in a row before sleeping (default 512); 0 sleeps at the
	 * first empty round (interrupt mode), UINT32_MAX never (poll mode). */
	uint32_t spin_polls;
	/* Longest sleep, ms (default 100): the loop then polls once, so command
	 * timeouts and timers still run.  -1: no limit. */
	int max_sleep_ms;
	/* Time-based spin: > 0 sleeps at the first empty round that comes
	 * spin_us microseconds or more after the first of its run of empty
	 * rounds, whatever their number (spin_polls is then not counted; its
	 * UINT32_MAX still never sleeps).  0 (default): spin_polls rounds. */
	uint32_t spin_us;
};
void udk_lcore_wait_opts_init(struct udk_lcore_wait_opts *opts, size_t size);

/* What a wait set did; a small value type. */
struct udk_lcore_wait_stats {
	uint64_t rounds;        /* udk_lcore_waitset_idle() calls */
	uint64_t empty_rounds;  /* of them, with no work */
	uint64_t sleeps;        /* epoll_wait() entered */
	uint64_t wakeups;       /* sleeps ended by an event */
	uint64_t timeouts;      /* sleeps ended by max_sleep_ms */
	uint64_t aborted;       /* sleeps not taken: an arm() found work */
	uint64_t sleep_ns;
	uint64_t late;          /* of the timeouts, those after which a source had
				 * work: its notification never came (or the
				 * work came as the limit passed) */
};

struct udk_lcore_waitset;

/* A new set (an epoll fd and a wake-up eventfd).  0, -EINVAL on bad opts
 * (with a line), or -errno of epoll_create1()/eventfd().  The caller owns
 * it; one thread (its lcore) uses it, except udk_lcore_waitset_wake(). */
int udk_lcore_waitset_create(const struct udk_lcore_wait_opts *opts,
			     struct udk_lcore_waitset **out);
/* Close the set's own fds (not the sources'). */
void udk_lcore_waitset_destroy(struct udk_lcore_waitset *ws);
/* Watch src (copied; fd must stay open while it is in the set).  0, -EEXIST,
 * -EINVAL (fd < 0 or no arm), -errno of epoll_ctl().  The set's thread. */
int udk_lcore_waitset_add(struct udk_lcore_waitset *ws, const struct udk_lcore_wait_source *src);
/* Stop watching fd.  0 or -ENOENT. */
int udk_lcore_waitset_remove(struct udk_lcore_waitset *ws, int fd);
/* The poll loop's call after each round, with what the round did (packets,
 * completions).  Returns 1 when it slept, 0 when it did not, or a negative
 * error (an arm() error or epoll_wait()'s; the set stays usable).  It also
 * counts sleeps, wake-ups and sleep time into the calling lcore's
 * telemetry (udk_lcore_info()).  The set's thread only. */
int udk_lcore_waitset_idle(struct udk_lcore_waitset *ws, unsigned int work);
/* Wake the set's thread (or keep it from its next sleep): for work handed
 * over from another thread, after that work is visible.  Any thread,
 * async-signal-safe (one write(2) on an eventfd).  0 or -errno. */
int udk_lcore_waitset_wake(struct udk_lcore_waitset *ws);
void udk_lcore_waitset_stats(const struct udk_lcore_waitset *ws,
			     struct udk_lcore_wait_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
