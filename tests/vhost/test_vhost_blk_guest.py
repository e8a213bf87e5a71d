#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A TCG guest's own virtio-blk driver on a vhost-user-blk back-end.

    test_vhost_blk_guest.py BUILD_DIR BACKEND [UDK_VHOST_BLK]

BACKEND: malloc or file (udk-vhost-blk serving that bdev), or qsd
(qemu-storage-daemon on a file: the reference back-end, same guest steps);
malloc-packed is malloc with packed=on (the guest checks the packed ring was
negotiated); malloc-mq2 is malloc with num-queues=2 and two vCPUs, where the guest also
checks that it has two hardware queues and fio runs one job per vCPU, and
the host that each queue carried requests.  file-reconnect gives QEMU's
chardev reconnect=1 and SIGKILLs and restarts udk-vhost-blk (KILLS times, and
on until a restart resubmits something) while the guest's fio writes and verifies: fio must end clean, and the
back-end's log says how many requests in flight it resubmitted (inflight
tracking, VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD); file-packed-reconnect is
the same on a packed ring.
Starts the back-end on a UNIX socket, boots the lab's kernel and initramfs
(tests/lab/lab.py) with shared guest memory and a vhost-user-blk-pci device
on that socket, and runs guest_vhost_blk.sh in the guest: dd pattern, fio
write+verify, write zeroes, discard, mkfs.ext4, mount, copy, umount, fsck.
For a file, the host then finds the guest's pattern in the file and runs
e2fsck on it.  Logs in BUILD_DIR/vhost-blk/BACKEND/; the console's tail is
printed on failure.  Exit 77 (skip) when QEMU or the lab kernel is missing,
unless UDK_LAB_REQUIRED=1."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lab'))
import lab  # noqa: E402
import json  # noqa: E402

DISK_MB = 128
FS_MB = 64
PAT_SEEK_MB = 96
PAT_MB = 8
SERIAL = 'udkvblk0'
BOOT_TIMEOUT = int(os.environ.get('UDK_VHOST_TIMEOUT', '900'))
KILLS = 3
MAX_KILLS = 10


def say(msg):
    print('test_vhost_blk_guest: ' + msg, flush=True)


def tail(path, n=60):
    try:
        with open(path, errors='replace') as f:
            lines = f.readlines()
    except OSError:
        return '(no %s)\n' % path
    return ''.join(lines[-n:])


def wait_socket(path, proc, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        if os.path.exists(path):
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(path)
                s.close()
                # That probe was a connection: the back-end serves it and
                # waits for the next one (udk-vhost-blk), or not (qsd).
                return True
            except OSError:
                pass
            finally:
                s.close()
        time.sleep(0.1)
    return False


def guest_cmd(qemu, vmlinux, initrd, work, cpus, disks, hotplug=False):
    """QEMU's command line: a TCG guest of the lab's kernel and initramfs,
    512 MiB of shared memory, the host's root and `work` over 9p, and one
    vhost-user-blk-pci device per (chardev options, device options) in
    disks (guest_vhost_blk.sh, or any script as work/guest.sh).  hotplug:
    room for two DIMMs up to 2 GiB, an empty NUMA node 1 for them, and QMP
    on lab.qmp_path(work)."""
    mem = '512M,slots=2,maxmem=2G' if hotplug else '512'
    cmd = [qemu, '-machine', 'q35,accel=tcg', '-cpu', 'max', '-m', mem, '-smp', str(cpus),
           '-nographic', '-no-reboot', '-net', 'none', '-vga', 'none',
           '-kernel', vmlinux, '-initrd', initrd, '-append', lab.KERNEL_CMDLINE,
           '-object', 'memory-backend-memfd,id=mem,size=512M,share=on',
           '-numa', 'node,nodeid=0,memdev=mem,cpus=0-%d' % (cpus - 1),
           '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,'
           'multidevs=remap',
           '-virtfs', 'local,path=%s,mount_tag=labdir,security_model=none' % work]
    if hotplug:
        cmd += ['-numa', 'node,nodeid=1', '-qmp', 'unix:%s,server=on,wait=off' % lab.qmp_path(work)]
    for i, (chardev, device) in enumerate(disks):
        cmd += ['-chardev', '%s,id=c%d' % (chardev, i),
                '-device', 'vhost-user-blk-pci,chardev=c%d,%s' % (i, device)]
    return cmd


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    build, backend = sys.argv[1], sys.argv[2]
    opts = backend.split('-')[1:]
    queues = 2 if 'mq2' in opts else 1
    packed = 'packed' in opts
    reconnect = 'reconnect' in opts
    hotplug = 'hotplug' in opts
    tool = sys.argv[3] if len(sys.argv) > 3 else None
    required = os.environ.get('UDK_LAB_REQUIRED') == '1'
    try:
        qemu, ver, vmlinux, initrd, _ = lab.prepare(os.path.join(build, 'lab', 'cache'))
    except lab.Unavailable as e:
        say('cannot boot a guest: %s' % e)
        return 1 if required else 77
    if backend == 'qsd' and not shutil.which('qemu-storage-daemon'):
        say('qemu-storage-daemon not found (Debian package qemu-system-common)')
        return 1 if required else 77

    work = os.path.join(build, 'vhost-blk', backend)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    shutil.copy(os.path.join(HERE, 'guest_vhost_blk.sh'), os.path.join(work, 'guest.sh'))
    shutil.copy(os.path.join(HERE, 'guest_hotplug_io.py'), os.path.join(work, 'hotplug_io.py'))
    lab.write_text(os.path.join(work, 'host-binds'), '')
    lab.write_text(os.path.join(work, 'params'),
                   'SERIAL=%s\nFS_MB=%d\nPAT_SEEK_MB=%d\nPAT_MB=%d\nQUEUES=%d\nPACKED=%d\n'
                   'RECONNECT=%d\nHOTPLUG=%d\n' % (SERIAL if backend != 'qsd' else '', FS_MB,
                                                  PAT_SEEK_MB, PAT_MB, queues, packed, reconnect,
                                                  hotplug))
    sock = '/tmp/udk-vhost-blk-%d-%s.sock' % (os.getpid(), backend)
    img = os.path.join(work, 'disk.img')
    if backend == 'qsd' or backend.startswith('file'):
        with open(img, 'wb') as f:
            f.truncate(DISK_MB << 20)
    server_log = os.path.join(work, 'server.log')
    if backend == 'qsd':
        cmd = ['qemu-storage-daemon', '--blockdev',
               'driver=file,node-name=f,filename=%s,aio=io_uring,cache.direct=on' % img,
               '--export', 'type=vhost-user-blk,id=e,node-name=f,addr.type=unix,'
               'addr.path=%s,writable=on' % sock]
    else:
        cmd = [tool, '--socket', sock, '--name', SERIAL]
        cmd += ['--malloc', '%dM' % DISK_MB] if backend.startswith('malloc') else ['--file', img]
    console = os.path.join(work, 'console.log')
    server = subprocess.Popen(cmd, stdout=open(server_log, 'a'), stderr=subprocess.STDOUT,
                              preexec_fn=lab.set_pdeathsig)
    guest = None
    bridge = None
    ok = False
    try:
        if backend == 'qsd':
            # qsd serves one front-end: do not probe it, wait for the socket.
            end = time.monotonic() + 30
            while not os.path.exists(sock) and time.monotonic() < end and server.poll() is None:
                time.sleep(0.1)
            up = os.path.exists(sock)
        else:
            up = wait_socket(sock, server)
        if not up:
            say('the back-end did not come up:\n' + tail(server_log))
            return 1
        before = None
        if backend != 'qsd':
            before = vhost_stats(server_log)
            if before is None or before['requests'] != 0:
                say('telemetry before the guest: %r' % before)
                return 1
        qcmd = guest_cmd(qemu, vmlinux, initrd, work, queues, [
            ('socket,path=%s%s' % (sock, ',reconnect=1' if reconnect else ''),
             'num-queues=%d,addr=0x5%s' % (queues, ',packed=on' if packed else ''))], hotplug)
        if hotplug:
            bridge = lab.QmpBridge(work, lab.qmp_path(work))
            bridge.start()
        say('%s: booting the guest (console: %s)' % (backend, console))
        t0 = time.monotonic()
        guest = subprocess.Popen(qcmd, stdin=subprocess.DEVNULL, stdout=open(console, 'w'),
                                 stderr=subprocess.STDOUT, preexec_fn=lab.set_pdeathsig)
        if reconnect:
            server = kill_and_restart(work, cmd, server, server_log, guest, t0)
        try:
            guest.wait(timeout=BOOT_TIMEOUT)
        except subprocess.TimeoutExpired:
            say('the guest did not finish in %d s' % BOOT_TIMEOUT)
            guest.kill()
            guest.wait()
        done = (lab.read_text(os.path.join(work, 'done'), '') or '').strip()
        say('%s: guest ended after %.0f s: %s' % (backend, time.monotonic() - t0,
                                                  done or '(no result)'))
        for line in open(console, errors='replace'):
            if line.startswith('vhost-guest:'):
                print('  ' + line.rstrip())
        ok = done == 'ok'
        if ok and backend != 'qsd':
            ok = check_mem_slots(server_log)
        if ok and backend != 'qsd' and not reconnect:
            ok = check_stats(server_log, build, server.pid)
        if ok and hotplug:
            ok = check_hotplug(server_log, work)
        if ok and reconnect:
            ok = check_resubmitted(server_log, server)
        elif ok and backend in ('file', 'qsd'):
            ok = check_file(img, os.path.join(work, 'pat'))
        if ok and queues > 1:
            ok = check_queues(server_log, queues, server)
    finally:
        if bridge:
            bridge.stop.set()
        if guest and guest.poll() is None:
            guest.kill()
            guest.wait()
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if os.path.exists(sock):
            os.unlink(sock)
    if backend != 'qsd' and server.returncode != 0:
        say('udk-vhost-blk exited %d' % server.returncode)
        ok = False
    say('back-end log:\n' + tail(server_log, 20))
    if not ok:
        say('console (last lines of %s):\n%s' % (console, tail(console)))
        return 1
    say('%s: PASS' % backend)
    return 0


def vhost_stats(server_log):
    """udk-vhost-blk's telemetry answer to "vhost_blk" (its socket is in
    its log): the device's counters, or None."""
    m = re.search(r'telemetry on (\S+)', open(server_log, errors='replace').read())
    if not m:
        return None
    s = socket.socket(socket.AF_UNIX)
    try:
        s.settimeout(10)
        s.connect(m.group(1))
        s.sendall(b'{"cmd":"vhost_blk"}\n')
        buf = b''
        while not buf.endswith(b'\n'):
            b = s.recv(65536)
            if not b:
                break
            buf += b
        return json.loads(buf)['data'][0]
    except (OSError, ValueError, KeyError, IndexError) as e:
        say('telemetry: %s' % e)
        return None
    finally:
        s.close()


def check_stats(server_log, build, pid):
    """After the guest's steps: the counters moved as its I/O did (dd 8 MiB
    written and read, fio 16 MiB written and verified, QD32 reads, write
    zeroes, discard, ext4), nothing is in flight, and udk-top shows the
    device."""
    st = vhost_stats(server_log)
    if st is None:
        return False
    ops = st['ops']
    say('telemetry: %d requests %s, %.1f MiB read, %.1f MiB written, %d errors, %d in flight' % (
        st['requests'], ops, st['bytes_read'] / 2**20, st['bytes_written'] / 2**20,
        st['errors'], st['in_flight']))
    want = [(st['bytes_written'] >= (PAT_MB + 16) << 20, 'bytes written >= dd + fio'),
            (st['bytes_read'] >= (PAT_MB + 16) << 20, 'bytes read >= dd + fio verify'),
            (ops['in'] > 0 and ops['out'] > 0 and ops['flush'] > 0 and ops['get_id'] > 0,
             'in, out, flush and get_id counted'),
            (ops['write_zeroes'] > 0 and ops['discard'] > 0, 'write zeroes and discard counted'),
            (st['requests'] == sum(ops.values()), 'requests = the sum by type'),
            (st['in_flight'] == 0 and not st['connected'], 'nothing in flight, disconnected')]
    for good, what in want:
        if not good:
            say('telemetry: not so: %s' % what)
            return False
    top = os.path.join(build, 'app', 'udk-top', 'udk-top')
    r = subprocess.run([top, '-b', '-n', '1', '-p', str(pid)], capture_output=True, text=True,
                       timeout=30)
    row = [ln for ln in r.stdout.splitlines() if SERIAL in ln]
    if r.returncode != 0 or 'vhost-blk devices' not in r.stdout or not row:
        say('udk-top -p %d shows no vhost-blk row (exit %d):\n%s%s' % (
            pid, r.returncode, r.stdout[-1500:], r.stderr))
        return False
    say('udk-top: %s' % row[0].strip())
    return True


def check_mem_slots(server_log):
    """QEMU gave guest memory region by region (CONFIGURE_MEM_SLOTS
    negotiated), not as one SET_MEM_TABLE."""
    adds = [line.split('ADD_MEM_REG: ', 1)[1].strip()
            for line in open(server_log, errors='replace') if 'ADD_MEM_REG: ' in line]
    if not adds:
        say('no ADD_MEM_REG in the back-end log: CONFIGURE_MEM_SLOTS was not used')
        return False
    say('CONFIGURE_MEM_SLOTS: %d regions added, the first %s' % (len(adds), adds[0]))
    return True


def check_hotplug(server_log, work):
    """The guest's I/O ran from the hot-plugged DIMM's pages (hp-range, the
    guest's physical range of its new memory blocks): udk-vhost-blk added a
    256 MiB region holding that range, and at the unplug removed exactly
    that region, back to the number of regions it had before."""
    rng = lab.read_text(os.path.join(work, 'hp-range'), '').split()
    if len(rng) != 2:
        say('the guest wrote no hp-range')
        return False
    lo, hi = int(rng[0], 0), int(rng[1], 0)
    text = open(server_log, errors='replace').read()
    pat = r'%s: guest (0x[0-9a-f]+|0)-(0x[0-9a-f]+) \((\d+) MiB\)(?: unmapped)?, (\d+) regions'
    adds = [(int(a, 0), int(b, 0) + 1, int(n)) for a, b, _, n in re.findall(pat % 'ADD_MEM_REG', text)]
    rems = [(int(a, 0), int(b, 0) + 1, int(n)) for a, b, _, n in re.findall(pat % 'REM_MEM_REG', text)]
    hp = [a for a in adds if a[0] <= lo and hi <= a[1]]
    if len(hp) != 1 or hp[0][1] - hp[0][0] != 256 << 20:
        say('no one 256 MiB ADD_MEM_REG holding the guest\'s new memory %#x-%#x: %s' % (
            lo, hi - 1, adds))
        return False
    if [r[:2] for r in rems] != [hp[0][:2]]:
        say('REM_MEM_REG removed %s, not exactly the hot-plugged %#x-%#x' % (
            rems, hp[0][0], hp[0][1] - 1))
        return False
    if rems[0][2] != hp[0][2] - 1:
        say('%d regions after the unplug, %d before it' % (rems[0][2], hp[0][2]))
        return False
    say('memory hot-plug: ADD_MEM_REG %#x-%#x (the guest\'s I/O buffers at %#x-%#x in it), then '
        'REM_MEM_REG of exactly it, %d regions left' % (hp[0][0], hp[0][1] - 1, lo, hi - 1,
                                                         rems[0][2]))
    return True


def kill_and_restart(work, cmd, server, server_log, guest, t0):
    """Once the guest's fio runs, SIGKILL the back-end and restart it on the
    same socket and file a second later: at least KILLS times, and on until
    a restart has found requests in flight to resubmit (at most MAX_KILLS;
    whether a request is in flight at the instant of a kill is chance).
    Returns the last back-end."""
    running = os.path.join(work, 'fio-running')
    ended = os.path.join(work, 'fio-ended')
    while not os.path.exists(running):
        if guest.poll() is not None or time.monotonic() - t0 > BOOT_TIMEOUT:
            return server
        time.sleep(0.1)
    for k in range(MAX_KILLS):
        time.sleep(1.5)
        if os.path.exists(ended) or guest.poll() is not None:
            say('fio ended before kill %d' % (k + 1))
            break
        if k >= KILLS and 'resubmitted' in open(server_log, errors='replace').read():
            break
        server.kill()
        server.wait()
        say('kill %d: udk-vhost-blk SIGKILLed %.1f s into the boot' % (
            k + 1, time.monotonic() - t0))
        time.sleep(1)
        server = subprocess.Popen(cmd, stdout=open(server_log, 'a'), stderr=subprocess.STDOUT,
                                  preexec_fn=lab.set_pdeathsig)
        # QEMU reconnects (reconnect=1: one try a second) and restarts the rings.
        end = time.monotonic() + 30
        while time.monotonic() < end and server.poll() is None:
            if open(server_log, errors='replace').read().count(
                    'inflight tracking: a region') >= k + 2:
                break
            time.sleep(0.1)
    return server


def check_resubmitted(server_log, server):
    """Each restart was reconnected to, and the log says how many requests
    in flight at each kill were carried out again."""
    text = open(server_log, errors='replace').read()
    connects = text.count('front-end connected')
    kills = text.count('serving ') - 1
    resub = [int(n) for n in re.findall(r'(\d+) requests in flight at the last disconnect, '
                                        r'resubmitted', text)]
    say('%d connections, %d kills; requests resubmitted after a restart: %s (total %d)' % (
        connects, kills, resub, sum(resub)))
    if kills < KILLS or connects < kills + 1:
        say('QEMU did not reconnect after every restart')
        return False
    if text.count('inflight tracking: a region') < kills + 1:
        say('not every connection negotiated inflight tracking (SET_INFLIGHT_FD)')
        return False
    if sum(resub) == 0:
        say('no request was in flight at any kill: inflight tracking was not exercised')
        return False
    return True


def check_queues(server_log, queues, server):
    """udk-vhost-blk's line at the guest's disconnect (poweroff): each queue
    carried requests."""
    end = time.monotonic() + 10
    while time.monotonic() < end:
        for line in open(server_log, errors='replace'):
            m = re.search(r'front-end gone \((\d+) requests.*per queue: ([\d ]+)\)', line)
            if m and int(m.group(1)) > 0:
                per = [int(x) for x in m.group(2).split()]
                if all(n > 0 for n in per[:queues]):
                    say('requests per queue: %s' % per[:queues])
                    return True
                say('a queue carried no request: %s' % per[:queues])
                return False
        time.sleep(0.2)
    say('no per-queue counts in %s' % server_log)
    return False


def check_file(img, pat):
    """What the guest wrote is in the backing file: its pattern, and an ext4
    that e2fsck finds clean."""
    with open(pat, 'rb') as f:
        want = f.read()
    with open(img, 'rb') as f:
        f.seek(PAT_SEEK_MB << 20)
        got = f.read(len(want))
    if got != want:
        say('the backing file does not hold the pattern the guest wrote at %d MiB' % PAT_SEEK_MB)
        return False
    e2fsck = shutil.which('e2fsck') or '/usr/sbin/e2fsck'
    r = subprocess.run([e2fsck, '-fn', img], capture_output=True, text=True)
    if r.returncode != 0:
        say('e2fsck -fn on the backing file: exit %d\n%s%s' % (r.returncode, r.stdout, r.stderr))
        return False
    say('backing file: the pattern is there, e2fsck -fn clean')
    return True


if __name__ == '__main__':
    sys.exit(main())
