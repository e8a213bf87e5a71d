#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Instructions per I/O of udk's NVMe submit + complete path, counted by
valgrind's callgrind on tests/unit/nvme/test_nvme_iops (a fake controller in
memory completes each 4 KiB read by writing its CQ entry; only the driver's
udk_nvme_ns_io() and udk_nvme_qpair_poll() are counted, the fake device is
not).  Prints instructions per I/O for one read per poll (QD1) and for
batches of 32, split into submit and poll, and the ratio to the goal of 300.
A benchmark, not a pass/fail test.

    tests/perf/nvme_insns.py [--build-dir build] [--ios 200000]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
GOAL = 300


def count(exe, ios, batch, funcs):
    """Instructions callgrind counted inside funcs (inclusive) for ios I/Os."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, 'cg.out')
        cmd = ['valgrind', '--tool=callgrind', '--callgrind-out-file=' + out]
        cmd += ['--toggle-collect=' + f for f in funcs]
        cmd += [exe, '--ios', str(ios), '--batch', str(batch)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit('nvme_insns: %s failed:\n%s%s' % (' '.join(cmd), p.stdout, p.stderr))
        with open(out) as f:
            m = re.search(r'^(?:summary|totals):\s*(\d+)', f.read(), re.M)
        if m is None:
            sys.exit('nvme_insns: no totals in callgrind output')
        return int(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--build-dir', default=os.path.join(TOP, 'build'))
    ap.add_argument('--ios', type=int, default=200000)
    a = ap.parse_args()
    if shutil.which('valgrind') is None:
        sys.exit('nvme_insns: valgrind is not installed (apt-get install valgrind)')
    exe = os.path.join(a.build_dir, 'tests', 'unit', 'nvme', 'test_nvme_iops')
    if not os.access(exe, os.X_OK):
        sys.exit('nvme_insns: %s is missing; build first (ninja -C %s)' % (exe, a.build_dir))
    print('%-22s %10s %10s %10s %12s' % ('4 KiB reads', 'submit', 'poll', 'total',
                                          'goal/total'))
    for batch in (1, 32):
        ios = a.ios - a.ios % batch
        sub = count(exe, ios, batch, ['udk_nvme_ns_io']) / ios
        poll = count(exe, ios, batch, ['udk_nvme_qpair_poll']) / ios
        total = sub + poll
        print('%-22s %10.1f %10.1f %10.1f %11.2fx' % (
            'one per poll (QD1)' if batch == 1 else '%d per poll' % batch, sub, poll, total,
            GOAL / total))
    print('instructions per I/O (callgrind Ir, inclusive of callees); goal <= %d' % GOAL)


if __name__ == '__main__':
    main()
