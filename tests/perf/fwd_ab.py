#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""udk-fwd A/B on two crossed net_ring ports (not pass/fail): two builds of
udk-fwd, run alternately A, B, A, B... in one go, so that both see the same
machine.  Each run: --no-huge, -l 0,1 (lcore 0 prints, lcore 1 forwards),
net_ring0 and net_ring1 crossed, 64-byte frames, bursts of 32, for --seconds
(--duration), in each mode asked for:
  io      --mode io --tx-first 8: 256 frames per port loop between the two
          ports as fast as the forwarding lcore turns them around;
  txonly  --mode txonly --verify: each port generates, the other receives
          and checks every frame (the example of doc/udk-fwd.md);
  vhost   (not by default; root and dpdk-testpmd) one virtio-user port
          instead, against dpdk-testpmd's vhost-user back-end forwarding
          every frame back (--mode io --tx-first 8, 256-entry rings: the
          loop of tests/perf/vhost_bench.py).
The figure is the packets received on both ports per second, from the
--json summary (udk-fwd's own counts and run time).  Printed: every sample,
then per mode the median and best of each build and the ratios B / A of
both.  Runs on any machine; no root.

Rates on a shared machine swing with whatever else runs; --instructions
counts instead, under valgrind's callgrind (--separate-threads=yes), the
instructions of the busiest thread (the forwarding lcore) in a run of
--seconds, per packet received, for each build once: a figure the
neighbours hardly move (io and txonly only).  (Not --count: a port that has its N spins idle
until the other has too, which under callgrind's one-thread-at-a-time
scheduling costs more than the forwarding.)

Usage: fwd_ab.py A_UDK_FWD B_UDK_FWD [--rounds N] [--seconds S] [--modes io,txonly]
                 [--instructions]"""
import argparse
import atexit
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import signal
import sys
import tempfile
import time

ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
ap.add_argument('a', help='udk-fwd of build A (e.g. the old one)')
ap.add_argument('b', help='udk-fwd of build B (e.g. the new one)')
ap.add_argument('--rounds', type=int, default=5, help='A/B pairs per mode (default 5)')
ap.add_argument('--seconds', type=int, default=3, help='per run (default 3)')
ap.add_argument('--modes', default='io,txonly',
                help='io, txonly, vhost, comma-separated (default io,txonly)')
ap.add_argument('--instructions', action='store_true',
                help='count instructions per packet under callgrind instead of rates')
args = ap.parse_args()

MODES = {
    'io': ['--mode', 'io', '--tx-first', '8'],
    'txonly': ['--mode', 'txonly', '--verify'],
    'vhost': ['--mode', 'io', '--tx-first', '8', '--desc', '256'],
}


for m in args.modes.split(','):
    if m not in MODES:
        sys.exit('fwd_ab: unknown mode %r (io, txonly or vhost)' % m)
TMP = tempfile.mkdtemp(prefix='udk-fwd-ab-')
atexit.register(shutil.rmtree, TMP, ignore_errors=True)
SOCK = os.path.join(TMP, 'vhost.sock')


def fwd_cmd(exe, mode, stop):
    ports = ['--vdev', 'net_ring0', '--vdev', 'net_ring1,peer=net_ring0']
    if mode == 'vhost':
        ports = ['--vdev', 'virtio_user0,path=%s,queue_size=256' % SOCK]
    return [exe, '--no-huge', '-m', '256', '-l', '0,1', '--no-telemetry'] + ports + ['--'] + \
        stop + ['--interval', '0', '--json'] + MODES[mode]


def back_end(mode):
    """dpdk-testpmd's vhost-user back-end for mode vhost (else None)."""
    if mode != 'vhost':
        return None
    testpmd = shutil.which('dpdk-testpmd')
    if testpmd is None or os.geteuid() != 0:
        sys.exit('fwd_ab: mode vhost needs root and dpdk-testpmd (apt-get install dpdk)')
    if os.path.exists(SOCK):
        os.unlink(SOCK)
    p = subprocess.Popen([testpmd, '-l', '0,1', '--main-lcore', '0', '--file-prefix',
                          'udk-fwd-ab-%d' % os.getpid(), '--no-pci', '--no-huge', '-m', '512',
                          '--single-file-segments', '--vdev',
                          'net_vhost0,iface=%s,queues=1' % SOCK, '--', '--forward-mode=io',
                          '--auto-start', '--stats-period', '1', '--nb-cores=1',
                          '--total-num-mbufs=8192',
                          '--burst=32', '--rxd=256', '--txd=256'],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    for _ in range(600):
        if os.path.exists(SOCK):
            return p
        time.sleep(0.1)
    p.kill()
    sys.exit('fwd_ab: dpdk-testpmd made no vhost-user socket at %s in 60 s' % SOCK)


def fwd_run(cmd, mode, timeout):
    be = back_end(mode)
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    finally:
        if be is not None:
            be.send_signal(signal.SIGINT)
            be.wait(timeout=30)


def summary(exe, mode, p):
    """Packets received on both ports, and the run's seconds, from --json."""
    if p.returncode != 0:
        sys.exit('fwd_ab: %s failed (exit %d): %s' % (exe, p.returncode, p.stderr.strip()[-400:]))
    doc = json.loads(p.stdout.strip().splitlines()[-1])
    rx = sum(port['rx'] for port in doc['ports'])
    bad = sum(port.get('invalid', 0) for port in doc['ports'])
    if rx == 0 or bad or not doc.get('seconds'):
        sys.exit('fwd_ab: %s %s: %d received, %d invalid' % (exe, mode, rx, bad))
    return rx, doc['seconds']


def run(exe, mode):
    p = fwd_run(fwd_cmd(exe, mode, ['--duration', str(args.seconds)]), mode, args.seconds + 60)
    rx, secs = summary(exe, mode, p)
    return rx / secs / 1e6


def instructions(exe, mode):
    """Instructions of the busiest thread per packet received."""
    out = os.path.join(TMP, 'cg.out')
    try:
        p = fwd_run(['valgrind', '--tool=callgrind', '--separate-threads=yes',
                     '--callgrind-out-file=' + out] +
                    fwd_cmd(exe, mode, ['--duration', str(args.seconds)]), mode, 3600)
        rx, _ = summary(exe, mode, p)
        busiest = 0
        for f in glob.glob(out + '*'):
            with open(f) as fh:
                m = re.search(r'^(?:summary|totals): (\d+)', fh.read(), re.M)
            busiest = max(busiest, int(m.group(1)) if m else 0)
    finally:
        for f in glob.glob(out + '*'):
            os.unlink(f)
    return busiest / rx


if args.instructions:
    if shutil.which('valgrind') is None:
        sys.exit('fwd_ab: --instructions needs valgrind (apt-get install valgrind)')
    if 'vhost' in args.modes.split(','):
        # Its lcore polls empty while the frames are at the back-end, as
        # often as the back-end is slow: 1850 to 5520 instructions per
        # packet in runs of one build.
        sys.exit('fwd_ab: --instructions does not count mode vhost: its forwarding lcore '
                 'polls empty while frames are away at dpdk-testpmd, so the count measures '
                 'the back-end; compare its rates instead')
    for mode in args.modes.split(','):
        a, b = instructions(args.a, mode), instructions(args.b, mode)
        print('%-6s instructions per packet (busiest thread, %d s runs): A %.1f, B %.1f, '
              'B/A %.3f' % (mode, args.seconds, a, b, b / a), flush=True)
    sys.exit(0)

for mode in args.modes.split(','):
    got = {'A': [], 'B': []}
    for r in range(args.rounds):
        for name, exe in (('A', args.a), ('B', args.b)):
            mpps = run(exe, mode)
            got[name].append(mpps)
            print('%-6s round %d %s: %.3f Mpps' % (mode, r + 1, name, mpps), flush=True)
    med = {k: statistics.median(v) for k, v in got.items()}
    best = {k: max(v) for k, v in got.items()}
    print('%-6s A median %.3f best %.3f | B median %.3f best %.3f | B/A median %.3f best %.3f'
          % (mode, med['A'], best['A'], med['B'], best['B'], med['B'] / med['A'],
             best['B'] / best['A']), flush=True)
