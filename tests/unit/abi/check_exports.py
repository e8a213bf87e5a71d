#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Fail when a udk shared library exports a symbol outside the public API.

Usage: check_exports.py LIB.so...  Every defined dynamic symbol must start
with udk_ and carry the version node of lib/udk.map (UDK_0.2).
"""
import subprocess
import sys

NODE = 'UDK_0.2'


def main():
    bad = 0
    for lib in sys.argv[1:]:
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
            elif version != NODE:
                print(f'{lib}: {name} has version "{version}", not {NODE} (link with lib/udk.map)')
                bad += 1
        if not names:
            print(f'{lib}: exports nothing')
            bad += 1
        else:
            print(f'{lib}: {len(names)} symbols')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
