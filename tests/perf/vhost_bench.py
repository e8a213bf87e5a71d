#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""vhost-user loop benchmark (not pass/fail): dpdk-testpmd as the vhost-user
back-end (net_vhost0, io forwarding, one forwarding lcore on CPU 1) against
  A. dpdk-testpmd as the virtio-user front-end (net_virtio_user0), and
  B. udk-fwd as the virtio-user front-end (udk's net_virtio over vhost-user),
both in io forwarding with the same number of frames injected at start
(--tx-first), one forwarding lcore on CPU 0, 64-byte frames, 256-entry
queues (--desc), bursts of 32.  The frames then loop front-end -> back-end -> front-end
as fast as both sides turn them around.  The same instrument measures both:
the back-end's own receive rate (testpmd's Rx-pps, once a second), after a
warm-up.  Runs alternate A, B, A, B...; the figures are the median and the
best of all samples of each, and the ratios udk / DPDK of both.

With --intr-ab the pair is instead udk-fwd polling (--intr-mode poll) against
udk-fwd in adaptive mode (--intr-mode adaptive, doc/interrupts.md), with the
front-end's CPU (utime + stime from /proc) over each run, and the ratio
adaptive / poll.

Usage: vhost_bench.py UDK_FWD [--seconds S] [--rounds N] [--bursts B] [--packed] [--intr-ab]
(root; dpdk-testpmd from Debian's dpdk package)."""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
ap.add_argument('udk_fwd')
ap.add_argument('--seconds', type=int, default=8, help='per run (default 8)')
ap.add_argument('--warmup', type=int, default=2,
                help='samples ignored after the first non-zero one (default 2)')
ap.add_argument('--rounds', type=int, default=3, help='A/B pairs (default 3)')
ap.add_argument('--nice', type=int, default=0,
                help='run all three processes at this nice value (e.g. -20 on a machine '
                'shared with other work: busy-polling pairs stall whenever either side is '
                'preempted; default 0)')
ap.add_argument('--bursts', type=int, default=8,
                help='bursts of 32 frames injected at start (default 8)')
ap.add_argument('--desc', type=int, default=256,
                help='entries per virtqueue on the front-end side (default 256)')
ap.add_argument('--packed', action='store_true',
                help='packed virtqueues on both front-ends (packed_vq=1; default split)')
ap.add_argument('--intr-ab', action='store_true',
                help='compare udk-fwd --intr-mode poll with adaptive instead of DPDK with udk')
ap.add_argument('--spin', type=int, default=512,
                help='adaptive: empty rounds before a sleep (default 512)')
args = ap.parse_args()
RING = ',packed_vq=1' if args.packed else ''

TESTPMD = shutil.which('dpdk-testpmd')
if TESTPMD is None or os.geteuid() != 0:
    print('vhost_bench: needs root and dpdk-testpmd (apt-get install dpdk-dev)')
    sys.exit(77)
TMP = tempfile.mkdtemp(prefix='udk-vhost-bench-')
SOCK = os.path.join(TMP, 'vhost.sock')
PFX = 'udk-vb-%d' % os.getpid()
NICE = ['nice', '-n', str(args.nice)] if args.nice else []
COMMON = ['--no-pci', '--no-huge', '-m', '512', '--single-file-segments']


def back_end():
    if os.path.exists(SOCK):
        os.unlink(SOCK)
    log = open(os.path.join(TMP, 'vhost.log'), 'w+')
    p = subprocess.Popen(NICE + [TESTPMD, '-l', '0,1', '--main-lcore', '0', '--file-prefix', PFX + 'v']
                         + COMMON + ['--vdev', 'net_vhost0,iface=%s,queues=1' % SOCK, '--',
                                     '--forward-mode=io', '--auto-start', '--stats-period', '1',
                                     '--nb-cores=1', '--total-num-mbufs=8192', '--burst=32',
                                     '--rxd=256', '--txd=256'],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(600):
        if os.path.exists(SOCK):
            break
        time.sleep(0.1)
    return p, log


def front_end(kind):
    if kind == 'dpdk':
        # The stats lcore (main) on CPU 1, the forwarding lcore on CPU 0.  testpmd
        # injects one burst per --tx-first; more bursts need its interactive
        # "start tx_first N", fed on stdin.
        cmd = NICE + [TESTPMD, '-l', '1,0', '--main-lcore', '1', '--file-prefix', PFX + 'u'] + COMMON + [
            '--vdev', 'net_virtio_user0,path=%s,queues=1,queue_size=%d%s' % (SOCK, args.desc, RING),
            '--',
            '-i', '--forward-mode=io', '--nb-cores=1', '--total-num-mbufs=8192', '--burst=32',
            '--rxd=%d' % args.desc, '--txd=%d' % args.desc]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, text=True)
        p.stdin.write('start tx_first %d\n' % args.bursts)
        p.stdin.flush()
        return p
    cmd = NICE + [args.udk_fwd, '--no-huge', '-m', '256', '-l', '0', '--vdev',
           'virtio_user0,path=%s,queue_size=%d%s' % (SOCK, args.desc, RING), '--', '--mode', 'io',
           '--tx-first', str(args.bursts), '--burst', '32', '--interval', '0', '--desc',
           str(args.desc)]
    if kind == 'adaptive':
        cmd += ['--intr-mode', 'adaptive', '--spin', str(args.spin)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def cpu_seconds(pid):
    """utime + stime of pid (proc(5), fields 14 and 15), 0 once it is gone."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def rx_samples(log):
    log.seek(0)
    return [int(x) for x in re.findall(r'Rx-pps:\s+(\d+)', log.read())]


def run(kind):
    be, log = back_end()
    fe = front_end(kind)
    # The clock starts when frames flow (testpmd's own start-up, with 512 MiB
    # of memory to set up, takes longer than udk-fwd's on a loaded machine).
    deadline = time.time() + 120
    while not any(rx_samples(log)) and time.time() < deadline and fe.poll() is None:
        time.sleep(0.2)
    c0, t0 = cpu_seconds(fe.pid), time.time()
    time.sleep(args.seconds)
    cpu[kind].append(100 * (cpu_seconds(fe.pid) - c0) / (time.time() - t0))
    fe.send_signal(signal.SIGINT)
    if kind == 'dpdk':
        try:
            fe.stdin.write('quit\n')
            fe.stdin.flush()
        except OSError:
            pass
    try:
        fe.wait(timeout=20)
    except subprocess.TimeoutExpired:
        fe.kill()
        fe.wait()
    be.send_signal(signal.SIGINT)
    be.wait(timeout=30)
    rates = rx_samples(log)
    first = next((i for i, r in enumerate(rates) if r > 0), len(rates))
    rates = [r / 1e6 for r in rates[first:]][args.warmup:]
    print('   samples (Mpps): %s' % ' '.join('%.2f' % r for r in rates), flush=True)
    return rates


# Busy-polling loops are at the mercy of whatever else runs on the machine
# (a shared 2-CPU machine here): the median of every per-second sample tells
# the typical rate, the best sample what each side does when left alone.
KINDS = ('udk', 'adaptive') if args.intr_ab else ('dpdk', 'udk')
LABEL = {'dpdk': 'DPDK virtio-user (testpmd io)', 'udk': 'udk virtio-user (udk-fwd io)',
         'adaptive': 'udk-fwd io, adaptive'}
if args.intr_ab:
    LABEL['udk'] = 'udk-fwd io, poll'
res = {k: [] for k in KINDS}
cpu = {k: [] for k in KINDS}
for i in range(args.rounds):
    for kind in KINDS:
        rates = run(kind)
        res[kind] += rates
        print('round %d %-4s median %.3f Mpps' % (i + 1, kind, statistics.median(rates) if rates
                                                   else 0), flush=True)
print('vhost-user loop, 64-byte frames, %d x 32 in flight, %d-entry rings, one forwarding lcore '
      'per side, %d samples of 1 s each:' % (args.bursts, args.desc,
                                             min(len(res[k]) for k in KINDS)))
fig = {}
for kind in KINDS:
    r = res[kind] or [0.0]
    fig[kind] = (statistics.median(r), max(r))
    print('  %-30s median %.3f Mpps, best %.3f Mpps, front-end CPU %s%% of a core' % (
        LABEL[kind], fig[kind][0], fig[kind][1],
        '/'.join('%.0f' % c for c in cpu[kind])))
for i, what in ((0, 'median'), (1, 'best')):
    d, u = fig[KINDS[0]][i], fig[KINDS[1]][i]
    print('  ratio %s (%s)  %.2fx' % ('adaptive/poll' if args.intr_ab else 'udk/DPDK', what,
                                         u / d if d else float('nan')))
shutil.rmtree(TMP, ignore_errors=True)
for s in ('v', 'u'):
    shutil.rmtree('/var/run/dpdk/' + PFX + s, ignore_errors=True)
