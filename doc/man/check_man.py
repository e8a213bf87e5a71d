#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Each man page renders without a warning and names this release.

Usage: check_man.py VERSION PAGE...  groff -man -ww (every warning on)
must print nothing, and the page's .TH line must say "udk VERSION" (the
pages are written by hand: a release that forgets them fails here)."""
import os
import re
import subprocess
import sys


def main():
    if len(sys.argv) < 3:
        print('usage: check_man.py VERSION PAGE...')
        return 2
    version = sys.argv[1]
    bad = 0
    env = dict(os.environ, LC_ALL='C.UTF-8')
    for page in sys.argv[2:]:
        name = os.path.basename(page)
        with open(page) as f:
            text = f.read()
        m = re.search(r'^\.TH (\S+) (\d) "[^"]*" "([^"]*)"', text, re.M)
        want = 'udk ' + version
        if m is None or m.group(3) != want:
            print('FAIL %s: its .TH line must say "%s" (found %s)' %
                  (name, want, repr(m.group(3)) if m else 'no .TH line'))
            bad += 1
        elif not name.endswith('.' + m.group(2)):
            print('FAIL %s: .TH says section %s' % (name, m.group(2)))
            bad += 1
        p = subprocess.run(['groff', '-man', '-Tutf8', '-ww', '-z', page], capture_output=True,
                           text=True, env=env)
        if p.returncode != 0 or p.stderr:
            print('FAIL %s: groff -man -ww: rc %d\n%s' % (name, p.returncode, p.stderr))
            bad += 1
        else:
            print('ok   %s renders without a warning' % name)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
