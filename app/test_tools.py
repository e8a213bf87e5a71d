#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""What every udk tool does alike (doc/getting-started.md, "The tools").

Usage: test_tools.py CHANGELOG.md TOOL...  Each tool prints its version in
one format, `<tool> (udk) <version>`, where <version> is the newest release
of CHANGELOG.md (so a release whose meson.build and CHANGELOG disagree
fails here)."""
import os
import re
import subprocess
import sys

failures = 0


def check(cond, what, detail=''):
    global failures
    print(('ok   ' if cond else 'FAIL ') + what)
    if not cond:
        failures += 1
        if detail:
            print('     ' + detail.replace('\n', '\n     '))


def run(tool, args, env=None):
    p = subprocess.run([tool] + args, capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL, env=env)
    return p.returncode, p.stdout, p.stderr


def newest_release(changelog):
    with open(changelog) as f:
        for line in f:
            m = re.match(r'## (\d+\.\d+\.\d+)\s*$', line)
            if m:
                return m.group(1)
    return None


def main():
    if len(sys.argv) < 3:
        print('usage: test_tools.py CHANGELOG.md TOOL...')
        return 2
    version = newest_release(sys.argv[1])
    check(version is not None, 'CHANGELOG.md names a release ("## X.Y.Z")')
    for tool in sys.argv[2:]:
        name = os.path.basename(tool)
        line = '%s (udk) %s\n' % (name, version)
        rc, out, err = run(tool, ['--version'])
        check(rc == 0 and out == line and err == '',
              '%s --version prints exactly %r' % (name, line), 'rc %d: %r %r' % (rc, out, err))
    print('%d failure(s)' % failures)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
