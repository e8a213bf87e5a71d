#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A program linked with libudk.a (a plain static link) keeps every driver.

Usage: check_static_drivers.py LIBUDK.a PROGRAM.  Each UDK_NET_DRIVER() in
the archive defines a constructor udk_net_driver_register_<name>; each one
must be in PROGRAM too (else the driver never registers), and PROGRAM, which
opens a net_ring port, must succeed.
"""
import subprocess
import sys

PREFIX = 'udk_net_driver_register_'


def constructors(path):
    out = subprocess.run(['nm', path], check=True, capture_output=True, text=True).stdout
    return {f.split()[-1][len(PREFIX):] for f in out.splitlines()
            if f.split() and f.split()[-1].startswith(PREFIX)}


def main():
    archive, program = sys.argv[1:3]
    have = constructors(archive)
    kept = constructors(program)
    if not have:
        print(f'{archive}: no UDK_NET_DRIVER constructor found (stripped?)')
        return 1
    lost = sorted(have - kept)
    print(f'drivers in {archive}: {", ".join(sorted(have))}')
    if lost:
        print(f'lost in a static link: {", ".join(lost)} (add each name to udk_net_drivers '
              'in the driver\'s meson.build)')
    run = subprocess.run([program], capture_output=True, text=True)
    sys.stdout.write(run.stdout + run.stderr)
    return 1 if lost or run.returncode != 0 else 0


if __name__ == '__main__':
    sys.exit(main())
