#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""udk-nvmf-tgt against the kernel's own NVMe/TCP target (nvmet-tcp) in ONE
lab boot, the same client for both: the kernel's nvme-tcp initiator and fio
io_uring, 4 KiB random reads at QD1 and QD32.  Two backends: null (udk's null
bdev / the kernel's null_blk) and the lab's second NVMe (udk's nvme bdev / the
kernel nvme driver).  Prints the IOPS (median over rounds), the ratio
udk/kernel, and the CPU time per I/O: the target's own where it can be told
apart (udk-nvmf-tgt's process; the kernel target runs in kworker threads,
shared with the initiator, so its line is every kworker's), and the whole
guest's.  A benchmark, not a pass/fail test; compare only figures from the
same boot.

    tests/perf/nvmf_vs_kernel.py [--build-dir build] [--secs 5] [--rounds 1]
                                 [--fio-cpus LIST] [--udk LABEL=OPTIONS]...
"""
import json
import os
import shlex
import statistics
import sys

import labbench


def main():
    ap = labbench.parser(__doc__)
    ap.add_argument('--udk', action='append', default=[], metavar='LABEL=OPTIONS',
                    help='one more udk-nvmf-tgt run with these target options, e.g. '
                    '"udk-p0=--poll-us 0"; before a " -- ", EAL options: "udk-l1=-l 1 -- " '
                    '(default: udk= alone)')
    ap.add_argument('--fio-cpus', default='-', metavar='LIST',
                    help='pin fio to these CPUs (--cpus_allowed) in every run, the kernel '
                    "target's too (default: not pinned)")
    a = ap.parse_args()
    guest = os.path.join(labbench.HERE, 'nvmf_vs_kernel_guest.py')
    out, err, rc = labbench.run(a.build_dir, ' '.join(
        ['python3', guest, str(a.secs), str(a.rounds), shlex.quote(a.fio_cpus)] + [shlex.quote(u) for u in a.udk]))
    runs, labels = {}, []
    for line in out.splitlines():
        if line.startswith('BENCH {'):
            r = json.loads(line[6:])
            runs.setdefault((r['backend'], r['target'], r['qd']), []).append(r)
            if r['target'] not in labels:
                labels.append(r['target'])
    if not runs:
        sys.stdout.write(out[-4000:] + err[-2000:])
        print('nvmf_vs_kernel: no results (lab exit %d)' % rc)
        return 1

    def med(key, field):
        v = [r[field] / r['ios'] if field != 'iops' else r[field]
             for r in runs.get(key, []) if r[field] is not None and r['ios']]
        return statistics.median(v) if v else None

    def fmt(x, f='%.0f'):
        return f % x if x is not None else '-'

    print('4 KiB random read over NVMe/TCP on 127.0.0.1, kernel initiator, fio io_uring, %d s a '
          'run, %d round(s); median IOPS; CPU time per I/O in us (target: udk-nvmf-tgt\'s '
          'process; kworkers: all of them, initiator and kernel target; guest: all CPUs busy)'
          % (a.secs, a.rounds))
    print('%-7s %-3s %-14s %8s %8s  %8s %9s %8s' % (
        'backend', 'QD', 'target', 'IOPS', 'x kernel', 'target', 'kworkers', 'guest'))
    for be in ('nvme', 'null'):
        for qd in (1, 32):
            ki = med((be, 'kernel', qd), 'iops')
            for t in labels:
                k = (be, t, qd)
                if k not in runs:
                    continue
                i = med(k, 'iops')
                print('%-7s %-3d %-14s %8s %8s  %8s %9s %8s' % (
                    be, qd, t, fmt(i), '%.2fx' % (i / ki) if i and ki else '-',
                    fmt(med(k, 'tgt_us'), '%.1f'), fmt(med(k, 'kworker_us'), '%.1f'),
                    fmt(med(k, 'guest_us'), '%.1f')))
    print('each run: ' + '; '.join('%s %s qd%d %s' % (key[1], key[0], key[2],
                                                      '/'.join(str(r['iops']) for r in v))
                                   for key, v in sorted(runs.items())))
    return 0


if __name__ == '__main__':
    sys.exit(main())
