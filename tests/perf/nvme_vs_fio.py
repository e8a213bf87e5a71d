#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""udk-nvme-perf against fio on the kernel's nvme driver, on the same emulated
NVMe (the lab's second controller) in ONE lab boot: 4 KiB random reads at QD1
and QD32, fio with io_uring, io_uring --hipri (polled queue) and libaio.
Prints each run's IOPS (the median over rounds) and the ratio udk/fio.  A
benchmark, not a pass/fail test; compare only figures from the same boot.

    tests/perf/nvme_vs_fio.py [--build-dir build] [--secs 5] [--rounds 1]
"""
import os
import re
import statistics
import sys

import labbench


def main():
    a = labbench.parser(__doc__).parse_args()
    guest = os.path.join(labbench.HERE, 'nvme_vs_fio_guest.sh')
    out, err, rc = labbench.run(a.build_dir, 'sh %s %d %d' % (guest, a.secs, a.rounds))
    runs = {}
    for m in re.finditer(r'^BENCH (\S+) (\d+)\s*$', out, re.M):
        runs.setdefault(m.group(1), []).append(int(m.group(2)))
    if not runs:
        sys.stdout.write(out[-4000:] + err[-2000:])
        print('nvme_vs_fio: no results (lab exit %d)' % rc)
        return 1
    iops = {k: statistics.median(v) for k, v in runs.items()}
    print('4 KiB random read, %d s a run, %d round(s), median IOPS' % (a.secs, a.rounds))
    print('%-22s %10s %10s' % ('run', 'QD1', 'QD32'))
    for name in ['fio-io_uring', 'fio-io_uring-hipri', 'fio-libaio', 'udk']:
        q1, q32 = iops.get(name + '-qd1'), iops.get(name + '-qd32')
        print('%-22s %10s %10s' % (name, '%.0f' % q1 if q1 else '-', '%.0f' % q32 if q32 else '-'))
    for name in ['fio-io_uring', 'fio-io_uring-hipri', 'fio-libaio']:
        r = []
        for qd in ('qd1', 'qd32'):
            u, f = iops.get('udk-' + qd), iops.get(name + '-' + qd)
            r.append('%.2fx' % (u / f) if u and f else '-')
        print('%-22s %10s %10s' % ('udk / ' + name[4:], r[0], r[1]))
    print('each run: ' + ', '.join('%s %s' % (k, '/'.join(str(x) for x in v))
                                   for k, v in sorted(runs.items())))
    return 0


if __name__ == '__main__':
    sys.exit(main())
