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
          and checks every frame (the example of doc/udk-fwd.md).
The figure is the packets received on both ports per second, from the
--json summary (udk-fwd's own counts and run time).  Printed: every sample,
then per mode the median and best of each build and the ratios B / A of
both.  Runs on any machine; no root.

Rates on a shared machine swing with whatever else runs; --instructions
counts instead, under valgrind's callgrind (--separate-threads=yes), the
instructions of the busiest thread (the forwarding lcore) in a run of
--seconds, per packet received, for each build once: a figure the
neighbours hardly move.  (Not --count: a port that has its N spins idle
until the other has too, which under callgrind's one-thread-at-a-time
scheduling costs more than the forwarding.)

Usage: fwd_ab.py A_UDK_FWD B_UDK_FWD [--rounds N] [--seconds S] [--modes io,txonly]
                 [--instructions]"""
import argparse
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
ap.add_argument('a', help='udk-fwd of build A (e.g. the old one)')
ap.add_argument('b', help='udk-fwd of build B (e.g. the new one)')
ap.add_argument('--rounds', type=int, default=5, help='A/B pairs per mode (default 5)')
ap.add_argument('--seconds', type=int, default=3, help='per run (default 3)')
ap.add_argument('--modes', default='io,txonly', help='io, txonly or both (default io,txonly)')
ap.add_argument('--instructions', action='store_true',
                help='count instructions per packet under callgrind instead of rates')
args = ap.parse_args()

MODES = {
    'io': ['--mode', 'io', '--tx-first', '8'],
    'txonly': ['--mode', 'txonly', '--verify'],
}


def fwd_cmd(exe, mode, stop):
    return [exe, '--no-huge', '-m', '256', '-l', '0,1', '--no-telemetry',
            '--vdev', 'net_ring0', '--vdev', 'net_ring1,peer=net_ring0', '--'] + stop + \
        ['--interval', '0', '--json'] + MODES[mode]


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
    p = subprocess.run(fwd_cmd(exe, mode, ['--duration', str(args.seconds)]),
                       capture_output=True, text=True, timeout=args.seconds + 60)
    rx, secs = summary(exe, mode, p)
    return rx / secs / 1e6


def instructions(exe, mode):
    """Instructions of the busiest thread per packet received."""
    tmp = tempfile.mkdtemp(prefix='udk-fwd-ab-')
    out = os.path.join(tmp, 'cg.out')
    try:
        p = subprocess.run(['valgrind', '--tool=callgrind', '--separate-threads=yes',
                            '--callgrind-out-file=' + out] +
                           fwd_cmd(exe, mode, ['--duration', str(args.seconds)]),
                           capture_output=True, text=True, timeout=3600)
        rx, _ = summary(exe, mode, p)
        busiest = 0
        for f in glob.glob(out + '*'):
            with open(f) as fh:
                m = re.search(r'^(?:summary|totals): (\d+)', fh.read(), re.M)
            busiest = max(busiest, int(m.group(1)) if m else 0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return busiest / rx


if args.instructions:
    if shutil.which('valgrind') is None:
        sys.exit('fwd_ab: --instructions needs valgrind (apt-get install valgrind)')
    for mode in args.modes.split(','):
        if mode not in MODES:
            sys.exit('fwd_ab: unknown mode %r (io or txonly)' % mode)
        a, b = instructions(args.a, mode), instructions(args.b, mode)
        print('%-6s instructions per packet (busiest thread, %d s runs): A %.1f, B %.1f, '
              'B/A %.3f' % (mode, args.seconds, a, b, b / a), flush=True)
    sys.exit(0)

for mode in args.modes.split(','):
    if mode not in MODES:
        sys.exit('fwd_ab: unknown mode %r (io or txonly)' % mode)
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
