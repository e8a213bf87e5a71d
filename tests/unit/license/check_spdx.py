#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Fail when a source file of udk has no SPDX license line.

Usage: check_spdx.py SOURCE_ROOT.  Every C file and header, meson file,
Python and shell script (and the templates they are made from) must name its
license in its first lines, as LICENSE does:
    /* SPDX-License-Identifier: BSD-3-Clause */   (C, headers, udk.map)
    # SPDX-License-Identifier: BSD-3-Clause       (meson, Python, shell)
Build directories (those holding meson-private) and .git are skipped.
"""
import os
import sys

LICENSE = 'BSD-3-Clause'
SUFFIXES = ('.c', '.h', '.py', '.sh', '.c.in', '.h.in', '.map')
NAMES = ('meson.build', 'meson_options.txt')
HEAD_LINES = 3


def wanted(path, name):
    if name.endswith(SUFFIXES) or name in NAMES:
        return True
    # Extensionless scripts (.ci/run).
    try:
        with open(path, 'rb') as f:
            return f.read(2) == b'#!'
    except OSError:
        return False


def main():
    root = sys.argv[1]
    missing = []
    checked = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != '.git' and not os.path.exists(
            os.path.join(dirpath, d, 'meson-private'))]
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not wanted(path, name):
                continue
            checked += 1
            with open(path, encoding='utf-8', errors='replace') as f:
                head = [f.readline() for _ in range(HEAD_LINES)]
            if not any('SPDX-License-Identifier: ' + LICENSE in line for line in head):
                missing.append(os.path.relpath(path, root))
    for path in sorted(missing):
        print(f'{path}: no "SPDX-License-Identifier: {LICENSE}" in its first {HEAD_LINES} lines '
              '(add it as line 1, or line 2 after a #! line)')
    print(f'{checked} source files checked, {len(missing)} without an SPDX line')
    return 1 if missing or checked == 0 else 0


if __name__ == '__main__':
    sys.exit(main())
