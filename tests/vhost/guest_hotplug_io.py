#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Runs in the guest of test_vhost_blk_guest.py malloc-hotplug, after the
hot-plugged DIMM (NUMA node NODE) was onlined: O_DIRECT I/O whose buffer
provably lies in that DIMM.

    guest_hotplug_io.py DEV OFFSET_MB MB NODE LO HI

Binds its memory to NODE (set_mempolicy), maps and touches MB MiB, checks in
/proc/self/pagemap that every page's physical address is in [LO, HI) (the
new memory blocks), writes a pattern from that buffer to DEV at OFFSET_MB
with O_DIRECT, clears the buffer, reads it back into the same pages, and
compares.  Prints one line; exit 0 when all of it held, 1 otherwise."""
import ctypes
import mmap
import os
import struct
import sys

MPOL_BIND = 2
SYS_SET_MEMPOLICY = 238  # x86_64
PAGE = 4096


def main():
    dev, off_mb, mb, node, lo, hi = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                     int(sys.argv[4]), int(sys.argv[5], 0), int(sys.argv[6], 0))
    libc = ctypes.CDLL(None, use_errno=True)
    mask = ctypes.c_ulong(1 << node)
    if libc.syscall(SYS_SET_MEMPOLICY, MPOL_BIND, ctypes.byref(mask), 64) != 0:
        print('set_mempolicy(MPOL_BIND, node %d): %s' % (node, os.strerror(ctypes.get_errno())))
        return 1
    n = mb << 20
    buf = mmap.mmap(-1, n)
    pat = os.urandom(n)
    buf[:] = pat  # faults every page in, on NODE
    outside = 0
    with open('/proc/self/pagemap', 'rb') as pm:
        base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
        for i in range(n // PAGE):
            pm.seek((base // PAGE + i) * 8)
            e = struct.unpack('<Q', pm.read(8))[0]
            pfn = e & ((1 << 55) - 1)
            if not (e >> 63) or pfn == 0:
                print('page %d is not present or its frame is hidden (pagemap %#x)' % (i, e))
                return 1
            if not lo <= pfn * PAGE < hi:
                outside += 1
    if outside:
        print('%d of %d pages are outside the hot-plugged memory [%#x, %#x)' % (
            outside, n // PAGE, lo, hi))
        return 1
    fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
    try:
        if os.pwrite(fd, buf, off_mb << 20) != n:
            print('short O_DIRECT write')
            return 1
        os.fsync(fd)
        buf[:] = bytes(n)
        if os.preadv(fd, [buf], off_mb << 20) != n:
            print('short O_DIRECT read')
            return 1
    except OSError as e:
        print('O_DIRECT I/O from the hot-plugged memory: %s' % e)
        return 1
    finally:
        os.close(fd)
    if buf[:] != pat:
        print('the data read back into the hot-plugged memory differs')
        return 1
    print('%d MiB in %d pages, all in [%#x, %#x) (node %d): written and read back with O_DIRECT, '
          'identical' % (mb, n // PAGE, lo, hi, node))
    return 0


if __name__ == '__main__':
    sys.exit(main())
