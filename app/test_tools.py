#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""What every udk tool does alike (doc/getting-started.md, "The tools").

Usage: test_tools.py CHANGELOG.md TOOL...  Each tool prints its version in
one format, `<tool> (udk) <version>`, where <version> is the newest release
of CHANGELOG.md (so a release whose meson.build and CHANGELOG disagree
fails here).  --help and --version work anywhere on the line, after "--"
too, and before the EAL touches memory (here: a hugetlbfs directory that
does not exist, which any EAL start would fail on); --help of a tool that
takes EAL options prints them; a usage error exits 2 with the tool's name."""
import os
import re
import sys

import clitest
from clitest import check

# The tools that take EAL options first (udk-devbind, udk-broker and udk-top
# take none).
EAL_TOOLS = ('udk-nvme', 'udk-nvme-perf', 'udk-fwd')
NO_HUGE = ['--huge-dir', '/nonexistent/hugetlbfs', '-l', '0']


def run(tool, args, env=None):
    return clitest.run([tool] + args, env=env)


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
        eal = NO_HUGE if name in EAL_TOOLS else []
        for args in (eal + ['--', '--version'], eal + ['--', '--json', '--version'],
                     ['--json', '--version', '--bogus']):
            rc, out, err = run(tool, args)
            check(rc == 0 and out == line, '%s %s: the version line' % (name, ' '.join(args)),
                  'rc %d: %r %r' % (rc, out, err))
        for args in (['--help'], eal + ['--', '--help'], eal + ['--', '--json', '-h'],
                     ['--bogus', '--help']):
            rc, out, err = run(tool, args)
            ok = rc == 0 and 'usage' in out.lower() and name in out and err == ''
            if name in EAL_TOOLS:
                ok = ok and 'EAL options' in out and '--vdev' in out and '--no-huge' in out
            check(ok, '%s %s: the usage%s on stdout, exit 0' %
                  (name, ' '.join(args), ' with the EAL\'s' if name in EAL_TOOLS else ''),
                  'rc %d: %r %r' % (rc, out[:200], err))
        for args in (['--bogus'], eal + ['--', '--bogus']):
            rc, out, err = run(tool, args)
            check(rc == 2 and err.startswith(name + ': ') and '--bogus' in err,
                  '%s %s: a usage error, exit 2' % (name, ' '.join(args)),
                  'rc %d: %r %r' % (rc, out, err))
    clitest.finish()


if __name__ == '__main__':
    sys.exit(main())
