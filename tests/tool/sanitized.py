#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""sanitized.py TEST.py ARGS...: run a tool test (app/*/test_*.py) so that a
sanitizer report from the tool it drives fails the test.

A tool test checks exit codes and messages; many of its cases expect the tool
to fail (exit 1), which is also the exit code of a tool that AddressSanitizer,
LeakSanitizer or UBSan stopped: in the build-asan build such a report would
pass unseen.  Here every report goes to a file of a fresh directory
(log_path, added to the ASAN_OPTIONS and UBSAN_OPTIONS the caller set), and
any file found there after the test fails it, printed in full.  The test
imports clitest.py (its checks) from this folder, put on PYTHONPATH.  In a build
without sanitizers nothing reads these options and the test runs as is."""
import glob
import os
import subprocess
import sys
import tempfile


def add_option(var, opt):
    cur = os.environ.get(var, "")
    os.environ[var] = cur + ":" + opt if cur else opt


def main():
    if len(sys.argv) < 2:
        print("usage: sanitized.py TEST.py [ARGS...]", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="udk-san.") as d:
        add_option("ASAN_OPTIONS", "log_path=" + os.path.join(d, "asan"))
        add_option("UBSAN_OPTIONS", "log_path=" + os.path.join(d, "ubsan"))
        # The tests' shared checks (clitest.py) live beside this file.
        here = os.path.dirname(os.path.abspath(__file__))
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [here] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
        rc = subprocess.call([sys.executable] + sys.argv[1:])
        reports = sorted(glob.glob(os.path.join(d, "*")))
        for path in reports:
            with open(path, errors="replace") as f:
                sys.stderr.write("---- %s\n%s" % (os.path.basename(path), f.read()))
        if reports:
            print("FAIL: %d sanitizer report(s) from the tool under test (above); a tool "
                  "test may not leak, overflow or hit undefined behaviour even where it "
                  "expects the tool to fail" % len(reports), file=sys.stderr)
            return 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
