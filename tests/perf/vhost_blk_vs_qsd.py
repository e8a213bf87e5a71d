#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""udk-vhost-blk against qemu-storage-daemon's vhost-user-blk export, in ONE
TCG guest: four vhost-user-blk-pci disks, udk and qsd each on the same
backing file (io_uring, O_DIRECT, read-only) and each on a null disk (udk's
--null, qsd's null-co).  The guest (vhost_blk_vs_qsd_guest.sh) runs fio 4 KiB
random reads at QD1 and QD32 on each, udk and qsd alternating.  Prints the
median IOPS over the rounds, the ratio udk/qsd, and each back-end's host CPU
time per I/O over the whole run.  A benchmark, not a pass/fail test: compare
only figures from the same run.

    tests/perf/vhost_blk_vs_qsd.py [--build-dir build] [--secs 5] [--rounds 3]
                                   [--udk-opt=OPTION ...] [--packed]

--packed gives udk's two disks packed=on (qsd's stay split: its
vhost-user-blk export does not offer packed rings).
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lab'))
sys.path.insert(0, os.path.join(HERE, '..', 'vhost'))
import lab  # noqa: E402
from test_vhost_blk_guest import guest_cmd, wait_socket  # noqa: E402

DISK_MB = 128


def cpu_seconds(pid):
    """utime + stime of a process so far (/proc/PID/stat fields 14, 15)."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--build-dir', default='build')
    ap.add_argument('--secs', type=int, default=5, help='seconds a fio run (default 5)')
    ap.add_argument('--rounds', type=int, default=3, help='rounds (default 3; median)')
    ap.add_argument('--udk-opt', action='append', default=[],
                    help='one more udk-vhost-blk option, e.g. --udk-opt=--poll-us=1000')
    ap.add_argument('--packed', action='store_true',
                    help="packed rings on udk's disks (qsd has none)")
    a = ap.parse_args()
    build = os.path.abspath(a.build_dir)
    tool = os.path.join(build, 'app', 'udk-vhost-blk', 'udk-vhost-blk')
    if not shutil.which('qemu-storage-daemon'):
        print('vhost_blk_vs_qsd: qemu-storage-daemon not found (Debian package '
              'qemu-system-common)')
        return 1
    qemu, _, vmlinux, initrd, _ = lab.prepare(os.path.join(build, 'lab', 'cache'))
    work = os.path.join(build, 'perf', 'vhost-blk-vs-qsd')
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    shutil.copy(os.path.join(HERE, 'vhost_blk_vs_qsd_guest.sh'), os.path.join(work, 'guest.sh'))
    lab.write_text(os.path.join(work, 'host-binds'), '')
    lab.write_text(os.path.join(work, 'params'), 'SECS=%d\nROUNDS=%d\n' % (a.secs, a.rounds))
    img = os.path.join(work, 'disk.img')
    with open(img, 'wb') as f:  # data, not holes: a read reaches the host's disk cache
        for _ in range(DISK_MB):
            f.write(os.urandom(1 << 20))
    socks = ['/tmp/udk-vbq-%d-%d.sock' % (os.getpid(), i) for i in range(4)]
    log = open(os.path.join(work, 'backends.log'), 'w')
    procs = {
        'udk-file': subprocess.Popen(
            [tool, '--socket', socks[0], '--file', img, '--read-only', '--name', 'udkfile'] +
            a.udk_opt, stdout=log, stderr=subprocess.STDOUT, preexec_fn=lab.set_pdeathsig),
        'udk-null': subprocess.Popen(
            [tool, '--socket', socks[2], '--null', '%dM' % DISK_MB, '--name', 'udknull'] +
            a.udk_opt, stdout=log, stderr=subprocess.STDOUT, preexec_fn=lab.set_pdeathsig),
        'qsd': subprocess.Popen(
            ['qemu-storage-daemon',
             '--blockdev', 'driver=file,node-name=f,filename=%s,aio=io_uring,cache.direct=on,'
             'read-only=on' % img,
             '--blockdev', 'driver=null-co,node-name=n,size=%d' % (DISK_MB << 20),
             '--export', 'type=vhost-user-blk,id=e0,node-name=f,addr.type=unix,addr.path=%s'
             % socks[1],
             '--export', 'type=vhost-user-blk,id=e1,node-name=n,addr.type=unix,addr.path=%s'
             % socks[3]],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=lab.set_pdeathsig),
    }
    guest = None
    try:
        for name, i in (('udk-file', 0), ('udk-null', 2)):
            if not wait_socket(socks[i], procs[name]):
                print('vhost_blk_vs_qsd: %s did not come up (%s)' % (name, log.name))
                return 1
        end = time.monotonic() + 30
        while not all(os.path.exists(socks[i]) for i in (1, 3)) and time.monotonic() < end:
            time.sleep(0.1)
        cpu0 = {n: cpu_seconds(p.pid) for n, p in procs.items()}
        # udk's disks are 0 and 2.
        disks = [('socket,path=%s' % s, 'num-queues=1,addr=0x%x%s' % (
            5 + i, ',packed=on' if a.packed and i % 2 == 0 else '')) for i, s in enumerate(socks)]
        console = os.path.join(work, 'console.log')
        print('vhost_blk_vs_qsd: booting the guest (console: %s)' % console, flush=True)
        guest = subprocess.Popen(guest_cmd(qemu, vmlinux, initrd, work, 1, disks),
                                 stdin=subprocess.DEVNULL, stdout=open(console, 'w'),
                                 stderr=subprocess.STDOUT, preexec_fn=lab.set_pdeathsig)
        guest.wait(timeout=600 + a.rounds * 8 * (a.secs + 5))
        cpu = {n: cpu_seconds(p.pid) - cpu0[n] for n, p in procs.items()}
    finally:
        if guest and guest.poll() is None:
            guest.kill()
        for p in procs.values():
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        for s in socks:
            if os.path.exists(s):
                os.unlink(s)
    done = (lab.read_text(os.path.join(work, 'done'), '') or '').strip()
    if done != 'ok':
        print('vhost_blk_vs_qsd: the guest ended with %r; console %s' % (done, console))
        return 1

    for line in open(console, errors='replace'):
        if line.startswith('vhost-bench: packed rings'):
            print(line.strip())
    iops, ios = {}, {}
    for fn in sorted(os.listdir(os.path.join(work, 'res'))):
        _, be, qd, t = fn[:-5].split('-')
        with open(os.path.join(work, 'res', fn)) as f:
            rd = json.load(f)['jobs'][0]['read']
        iops.setdefault((be, int(qd), t), []).append(rd['iops'])
        proc = 'qsd' if t == 'qsd' else 'udk-' + be
        ios[proc] = ios.get(proc, 0) + rd['total_ios']

    print('4 KiB random reads, fio io_uring in one TCG guest (1 vCPU), %d s a run, %d rounds; '
          'median IOPS%s' % (a.secs, a.rounds, '; udk on packed rings' if a.packed else ''))
    print('%-7s %-3s %9s %9s %7s   %s' % ('backing', 'QD', 'qsd', 'udk', 'udk/qsd', 'runs (qsd | udk)'))
    for be in ('file', 'null'):
        for qd in (1, 32):
            q, u = iops[(be, qd, 'qsd')], iops[(be, qd, 'udk')]
            mq, mu = statistics.median(q), statistics.median(u)
            print('%-7s %-3d %9.0f %9.0f %6.2fx   %s | %s' % (
                be, qd, mq, mu, mu / mq, ' '.join('%.0f' % x for x in q),
                ' '.join('%.0f' % x for x in u)))
    print('host CPU time per I/O over the whole run (idle time between its runs included):')
    for n in ('udk-file', 'udk-null', 'qsd'):
        if ios.get(n):
            print('  %-9s %6.1f s for %8d I/Os: %6.1f us per I/O' % (
                n, cpu[n], ios[n], cpu[n] * 1e6 / ios[n]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
