# SPDX-License-Identifier: BSD-3-Clause
"""What the lab benchmarks share: their common options and one lab boot
(`lab.py demo`) running a command in the guest, its console output returned."""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))


def parser(doc):
    ap = argparse.ArgumentParser(description=doc.split('\n\n')[0])
    ap.add_argument('--build-dir', default=os.path.join(TOP, 'build'))
    ap.add_argument('--secs', type=int, default=5)
    ap.add_argument('--rounds', type=int, default=1)
    return ap


def run(build_dir, guest_cmd):
    """Boot the lab once, run guest_cmd (a shell line) there: (stdout, stderr, exit)."""
    cmd = [sys.executable, os.path.join(TOP, 'tests', 'lab', 'lab.py'), 'demo', '--build-dir',
           build_dir, guest_cmd]
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.stdout, p.stderr, p.returncode
