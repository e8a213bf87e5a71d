#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Fail when a udk shared library exports a symbol outside the public API.

Usage: check_exports.py NODE LIB.so...  Every defined dynamic symbol must
start with udk_ and carry NODE, the version node that meson derives from the
project's version (0.2.0 -> UDK_0.2): a release whose version and
lib/udk.map disagree fails here.  The soname's number is the version's major
(libudk.so.0), as meson derives it.
"""
import re
import subprocess
import sys


def main():
    if len(sys.argv) < 3:
        print('usage: check_exports.py NODE LIB.so...')
        return 2
    node = sys.argv[1]
    bad = 0
    for lib in sys.argv[2:]:
        out = subprocess.run(['nm', '-D', '--defined-only', '--with-symbol-versions', lib],
                             check=True, capture_output=True, text=True).stdout
        names = []
        for line in out.splitlines():
            fields = line.split()
            if len(fields) < 3:
                continue
            name, _, version = fields[2].partition('@')
            version = version.lstrip('@')
            if fields[1] == 'A' and not version:  # a version node's own definition
                continue
            names.append(name)
            if not name.startswith('udk_'):
                print(f'{lib}: exports {name}: not udk_ API (make it static, or keep it '
                      'local: lib/udk.map exports udk_* only)')
                bad += 1
            elif version != node:
                print(f'{lib}: {name} has version "{version}", not {node} (link with '
                      'lib/udk.map, whose node is UDK_<major>.<minor> of meson.build\'s version)')
                bad += 1
        dyn = subprocess.run(['readelf', '-d', lib], check=True, capture_output=True,
                             text=True).stdout
        soname = re.search(r'\(SONAME\).*\[(.*)\]', dyn)
        major = node[len('UDK_'):].split('.')[0]
        if soname is None or not soname.group(1).endswith('.so.' + major):
            print(f'{lib}: soname {soname.group(1) if soname else None}, not .so.{major} '
                  f'(the major number of the version {node} is for)')
            bad += 1
        if not names:
            print(f'{lib}: exports nothing')
            bad += 1
        else:
            print(f'{lib}: {len(names)} symbols')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
