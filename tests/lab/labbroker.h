/* SPDX-License-Identifier: BSD-3-Clause */
/* labbroker.h - what the udk-broker lab tests share (lab_broker,
 * lab_broker_isolation, lab_broker_two_users): a broker started on a policy
 * that lends the lab's NVMe and NICs to uids 1000-1003 (numeric uids
 * through setpriv: the guest's /etc/passwd is the host's, read-only), the
 * commands run as those users, and the broker's log. */
#ifndef UDK_LABBROKER_H
#define UDK_LABBROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SOCK "/tmp/udk-lab-broker.sock"
#define AS(uid) "setpriv --reuid " #uid " --regid " #uid " --clear-groups "

/* The stdout and stderr of the last lb_run(). */
extern char lb_out[65536], lb_err[16384];

/* One test's broker and devices.  lb_start() fills it: UDK_LAB_NVME2 (bdf,
 * granted to uid 1000 and 1002) and UDK_LAB_NVME (other, uid 1002 only)
 * bound to vfio-pci, the policy written, the build tree reachable by the
 * other users (self: this test's executable, as they see it), the broker
 * listening on SOCK with its log in broker.log.  It skips the test when
 * setpriv is missing or the users cannot run the build's binaries. */
struct lb_lab {
	char self[512], drv[64], drv_other[64];
	const char *bdf, *other;
	pid_t broker;
};
void lb_start(struct lb_lab *l);
/* Stop the broker (it must exit 0 and log "stopped"), print its log, give
 * the devices back to their drivers (the NICs too when nics) and return
 * lab_result(). */
int lb_stop(struct lb_lab *l, bool nics);

void lb_slurp(const char *path, char *buf, size_t len);
/* Run a shell command line; its stdout and stderr land in lb_out and
 * lb_err, its time in *secs (NULL: not wanted).  Its exit status. */
int lb_run(double *secs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Wait up to timeout_ms until broker.log has a line with a (and b, unless
 * NULL). */
bool lb_log_has(const char *a, const char *b, int timeout_ms);
/* The grant time the broker logged last ("in N ms"), or -1. */
double lb_last_grant_ms(void);
/* The value after key in the last broker.log line that has both words,
 * or -1. */
long lb_log_value(const char *a, const char *key);
/* sh -c cmd in a child; its pid. */
pid_t lb_spawn(const char *cmd);
/* This guest's broker must use iommufd (lab.env). */
bool lb_on_iommufd(void);
/* How many of pid's fds are open on path. */
int lb_fds_on(pid_t pid, const char *path);
/* A udk_mem_walk() callback: raises *(uint64_t *)arg to the end of seg's
 * IOVA range (a client's highest IOVA, past which it owns nothing). */
struct udk_memseg;
int lb_seg_end(const struct udk_memseg *seg, void *arg);

#endif
