#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Run inside the lab guest by nvmf_vs_kernel.py: the kernel's NVMe/TCP target
(nvmet-tcp, set up through configfs) and udk-nvmf-tgt take turns on
127.0.0.1:4420, each serving first a null device (null_blk / udk's null bdev),
then the lab's second NVMe (the kernel nvme driver / udk's nvme bdev); the
kernel's initiator (nvme-cli) connects and fio io_uring reads 4 KiB at random
for SECS seconds at QD1 and QD32.  One line a run:
  BENCH {"backend", "target", "qd", "iops", "ios", "guest_us", "kworker_us", "tgt_us"}
where the *_us are CPU microseconds over the run: the whole guest (/proc/stat,
busy = all but idle and iowait), every kworker thread (the kernel target's
work and the initiator's run there), and udk-nvmf-tgt's own process.
    nvmf_vs_kernel_guest.py SECS ROUNDS FIO-CPUS [LABEL=TARGET-OPTIONS ...]
Each LABEL=OPTIONS is one more udk-nvmf-tgt run with those options (e.g.
udk-p0=--poll-us 0, or udk-l1=-l 1 -- --poll-us 0: what comes before a
" -- " goes to the EAL); the default is one, udk= (none).  FIO-CPUS, if not
"-", pins fio to those CPUs (fio's --cpus_allowed) in every run, the
kernel's too.
"""
import glob
import json
import os
import stat
import subprocess
import sys
import time

NQN = 'nqn.2026-12.io.udk:bench'
HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:0a0b0c0d-1111-2222-3333-444455556677'
CFG = '/sys/kernel/config/nvmet'
HZ = os.sysconf('SC_CLK_TCK')
LOG = '/tmp/nvmf-bench-tgt.log'


def sh(cmd, check=True):
    p = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if check and p.returncode:
        raise RuntimeError('%s: exit %d: %s' % (cmd, p.returncode, p.stderr.strip()[-300:]))
    return p.stdout


def write(path, val):
    with open(path, 'w') as f:
        f.write(val)


def guest_busy_us():
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) * 1e6 / HZ


def proc_us(pid):
    try:
        with open('/proc/%s/stat' % pid) as f:
            s = f.read()
    except OSError:
        return 0.0
    v = s[s.rindex(')') + 2:].split()
    return (int(v[11]) + int(v[12])) * 1e6 / HZ


def kworker_us():
    t = 0.0
    for d in glob.glob('/proc/[0-9]*'):
        try:
            with open(d + '/comm') as f:
                if not f.read().startswith('kworker'):
                    continue
        except OSError:
            continue
        t += proc_us(os.path.basename(d))
    return t


def disks():
    return {n for n in os.listdir('/sys/block') if n.startswith('nvme') and 'c' not in n[4:]}


def is_blk(path):
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False


def connect():
    before = disks()
    sh('nvme connect -t tcp -a 127.0.0.1 -s 4420 -n %s --hostnqn %s' % (NQN, HOSTNQN))
    for _ in range(300):
        new = disks() - before
        if new and is_blk('/dev/' + sorted(new)[0]):
            time.sleep(0.5)
            return '/dev/' + sorted(new)[0]
        time.sleep(0.1)
    raise RuntimeError('nvme connect gave no new disk in 30 s')


def disconnect():
    sh('nvme disconnect -n %s' % NQN, check=False)


def kernel_start(dev):
    s = '%s/subsystems/%s' % (CFG, NQN)
    os.mkdir(s)
    write(s + '/attr_allow_any_host', '1')
    os.mkdir(s + '/namespaces/1')
    write(s + '/namespaces/1/device_path', dev)
    write(s + '/namespaces/1/enable', '1')
    p = CFG + '/ports/1'
    os.mkdir(p)
    for k, v in (('trtype', 'tcp'), ('adrfam', 'ipv4'), ('traddr', '127.0.0.1'),
                 ('trsvcid', '4420')):
        write('%s/addr_%s' % (p, k), v)
    os.symlink(s, '%s/subsystems/%s' % (p, NQN))


def kernel_stop():
    s = '%s/subsystems/%s' % (CFG, NQN)
    os.unlink('%s/ports/1/subsystems/%s' % (CFG, NQN))
    os.rmdir(CFG + '/ports/1')
    write(s + '/namespaces/1/enable', '0')
    os.rmdir(s + '/namespaces/1')
    os.rmdir(s)


def udk_start(eal, bdev, opts):
    log = open(LOG, 'w')
    if ' -- ' in ' ' + opts:
        more, opts = (' ' + opts).split(' -- ', 1)
        eal = (eal + ' ' + more).strip()
    p = subprocess.Popen(('udk-nvmf-tgt -m 192 --no-telemetry %s -- %s --nqn %s '
                          '--listen 127.0.0.1:4420 %s' % (eal, bdev, NQN, opts)).split(),
                         stdout=log, stderr=log)
    for _ in range(600):
        with open(LOG) as f:
            if 'ready' in f.read():
                return p
        if p.poll() is not None:
            break
        time.sleep(0.1)
    p.kill()
    with open(LOG) as f:
        raise RuntimeError('udk-nvmf-tgt did not become ready: ' + f.read()[-500:])


def udk_stop(p):
    p.send_signal(2)
    try:
        p.wait(20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


FIO_CPUS = ''


def fio(dev, qd, secs, backend, target, pid):
    g0, k0, t0 = guest_busy_us(), kworker_us(), proc_us(pid) if pid else 0.0
    sh('fio --name=bench --filename=%s --direct=1 --rw=randread --bs=4k --iodepth=%d '
       '--ioengine=io_uring --time_based --runtime=%d --randrepeat=0 --norandommap '
       '--output-format=json --output=/tmp/fio.json%s' % (dev, qd, secs, FIO_CPUS))
    g1, k1, t1 = guest_busy_us(), kworker_us(), proc_us(pid) if pid else 0.0
    with open('/tmp/fio.json') as f:
        r = json.load(f)['jobs'][0]['read']
    print('BENCH ' + json.dumps({'backend': backend, 'target': target, 'qd': qd,
                                 'iops': round(r['iops']), 'ios': r['total_ios'],
                                 'guest_us': g1 - g0, 'kworker_us': k1 - k0,
                                 'tgt_us': t1 - t0 if pid else None}), flush=True)


def session(backend, target, secs, pid=None):
    disk = connect()
    print('%s target, %s backend: %s' % (target, backend, disk), flush=True)
    try:
        for qd in (1, 32):
            fio(disk, qd, secs, backend, target, pid)
    finally:
        disconnect()


def nvme_kernel_disk(bdf):
    sh('udk-devbind unbind %s' % bdf, check=False)
    for _ in range(100):
        for c in glob.glob('/sys/bus/pci/devices/%s/nvme/nvme*' % bdf):
            d = '/dev/%sn1' % os.path.basename(c)
            if is_blk(d):
                return d
        time.sleep(0.2)
    raise RuntimeError('no kernel disk for %s' % bdf)


def main():
    secs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    global FIO_CPUS
    if len(sys.argv) > 3 and sys.argv[3] != '-':
        FIO_CPUS = ' --cpus_allowed=' + sys.argv[3]
    udks = [a.split('=', 1) for a in sys.argv[4:]] or [('udk', '')]
    bdf = os.environ['UDK_LAB_NVME2']
    sh('ip link set lo up')
    sh('modprobe -a nvme nvme-tcp nvmet nvmet-tcp')
    sh('modprobe null_blk nr_devices=1 gb=1 bs=4096 irqmode=0')
    if not os.path.isdir(CFG):
        sh('mount -t configfs none /sys/kernel/config')
    for r in range(1, rounds + 1):
        print('round %d' % r, flush=True)
        kernel_start('/dev/nullb0')
        try:
            session('null', 'kernel', secs)
        finally:
            kernel_stop()
        for label, opts in udks:
            p = udk_start('', '--null null0:1024:4096', opts)
            try:
                session('null', label, secs, p.pid)
            finally:
                udk_stop(p)
        kernel_start(nvme_kernel_disk(bdf))
        try:
            session('nvme', 'kernel', secs)
        finally:
            kernel_stop()
        sh('udk-devbind bind %s' % bdf)
        for label, opts in udks:
            p = udk_start('-a ' + bdf, '--nvme n0:' + bdf, opts)
            try:
                session('nvme', label, secs, p.pid)
            finally:
                udk_stop(p)
    return 0


if __name__ == '__main__':
    sys.exit(main())
