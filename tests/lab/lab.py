#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""udk lab runner: boot a QEMU (TCG) guest with an emulated Intel IOMMU, NVMe
and NICs, the host's root read-only over 9p, and run udk's lab tests inside it
against real VFIO.  Standard library only.  See doc/lab.md.

  lab.py run   --build-dir B --test NAME [--timeout S] [--dep FILE]... -- NAME:SECS EXE ...
  lab.py demo  --build-dir B [--timeout S] CMD...
  lab.py shell --build-dir B
  lab.py prepare --build-dir B
  lab.py kernel

Every command but `kernel` takes --guest debian|iommufd: the Debian kernel of
/boot (type1 only; the default), or the iommufd kernel that `kernel` builds
from linux-source-6.12 and caches (labkernel.py).  Each guest has its own
directory, <build>/lab or <build>/lab-iommufd.

`run` is what meson calls once per lab test: the first call of a `meson test`
boots the guest once for all the tests listed after `--` and stores their
results; every call then reports its own test from those results.
"""

import argparse
import ctypes
import fcntl
import gzip
import hashlib
import json
import lzma
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import zlib

import labkernel

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER_FILES = [os.path.abspath(__file__), os.path.join(HERE, 'init.sh'),
                os.path.join(HERE, 'guest.sh'), os.path.join(HERE, 'labkernel.py')]
SKIP = 77
# LAB.md: the 9p stack, in load order; skipped when built in or absent.
MODULES = ['virtio_ring', 'virtio', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev',
           'virtio_pci', 'netfs', 'fscache', '9pnet', '9pnet_virtio', '9p']
HUGEPAGES = 128
# The guests (--guest) and the VFIO backend udk's AUTO must pick in each
# (lab.env: UDK_LAB_GUEST, UDK_LAB_IOMMU_BACKEND; labdev.h lab_check_backend).
GUEST_BACKEND = {'debian': 'type1', 'iommufd': 'iommufd'}
NVME_IMAGE_SIZE = 256 << 20
# no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer test
# can miss its window and panic at boot ("timer doesn't work through
# Interrupt-remapped IO-APIC"); the timer works, the test is what is unreliable.
KERNEL_CMDLINE = 'console=ttyS0 intel_iommu=on iommu=pt quiet panic=-1 tsc=reliable no_timer_check'
CONSOLE_TAIL = 60
# Each NIC's MAC, fixed so that tests and docs know what the device must
# report (lab.env: UDK_LAB_MAC_VIRTIO, _E1000E, _E1000_A, _E1000_B).
LAB_MACS = {'vnet0': '52:54:00:1a:b0:01', 'e1000e0': '52:54:00:1a:b0:02',
            'e1000a': '52:54:00:1a:b0:03', 'e1000b': '52:54:00:1a:b0:04',
            'vnetmq0': '52:54:00:1a:b0:05', 'vnetmq1': '52:54:00:1a:b0:06'}
# The multi-queue virtio-nets with RSS (lab_net_virtio_rss): queue pairs each,
# and their slots (explicit, after every device QEMU places itself).
MQ_PAIRS = 4
MQ_SLOTS = {'vnetmq0': 0x18, 'vnetmq1': 0x19}
# Host paths that the guest covers with mounts of its own.  Directories the
# tests need under /tmp and /run are bound back over the guest's tmpfs
# (host_binds); the others cannot be seen from the guest.
GUEST_HIDDEN = r'/(mnt|dev|proc|sys)(/|$)'
GUEST_TMPFS = r'/(tmp|run)/[^/]+'


class Unavailable(Exception):
    """The lab cannot run on this machine (tests skip, or fail in CI)."""


def log(msg):
    print('lab: ' + msg, flush=True)


# ---------------------------------------------------------------- kernel

def version_key(ver):
    return [int(p) if p.isdigit() else p for p in re.split(r'(\d+)', ver)]


def pick_kernel():
    """The newest /boot/vmlinuz-*-amd64 whose modules are installed
    (UDK_LAB_KERNEL=<version> chooses one)."""
    want = os.environ.get('UDK_LAB_KERNEL')
    found = []
    try:
        names = os.listdir('/boot')
    except OSError:
        names = []
    for name in names:
        if not name.startswith('vmlinuz-'):
            continue
        ver = name[len('vmlinuz-'):]
        if want and ver != want:
            continue
        if not want and not ver.endswith('-amd64'):
            continue
        if os.path.isdir('/lib/modules/' + ver) and os.access('/boot/' + name, os.R_OK):
            found.append(ver)
    if not found:
        raise Unavailable('no readable /boot/vmlinuz-*-amd64 with its /lib/modules '
                          '(install linux-image-amd64: scripts/setup.sh)')
    ver = max(found, key=version_key)
    return ver, '/boot/vmlinuz-' + ver


def extract_vmlinux(bzimage, out):
    """Debian's bzImage carries the kernel as xz: find the stream, decompress
    it to the ELF vmlinux that QEMU boots through PVH."""
    with open(bzimage, 'rb') as f:
        data = f.read()
    candidates = []
    pos = data.find(b'\xfd7zXZ\x00')
    while pos >= 0:
        candidates.append(('xz', pos))
        pos = data.find(b'\xfd7zXZ\x00', pos + 1)
    pos = data.find(b'\x1f\x8b\x08')
    while pos >= 0:
        candidates.append(('gzip', pos))
        pos = data.find(b'\x1f\x8b\x08', pos + 1)
    for kind, pos in candidates:
        try:
            if kind == 'xz':
                d = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
            else:
                d = zlib.decompressobj(wbits=31)
            # Data after the end of the stream (the rest of the bzImage) is
            # left in d.unused_data and ignored.
            elf = d.decompress(data[pos:])
        except (lzma.LZMAError, zlib.error):
            continue
        if elf[:4] == b'\x7fELF':
            tmp = out + '.tmp'
            with open(tmp, 'wb') as f:
                f.write(elf)
            os.replace(tmp, out)
            return
    raise Unavailable('%s: no xz or gzip compressed ELF kernel found inside' % bzimage)


# ---------------------------------------------------------------- initramfs

class Cpio:
    """A cpio archive in the "newc" format, written from Python (no root
    needed for device nodes)."""

    def __init__(self):
        self.parts = []
        self.ino = 1

    def _add(self, name, mode, data=b'', rdev=(0, 0)):
        name_b = name.encode() + b'\0'
        hdr = '070701' + ''.join('%08X' % v for v in (
            self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0))
        self.ino += 1
        blob = hdr.encode() + name_b
        blob += b'\0' * (-len(blob) % 4)
        blob += data + b'\0' * (-len(data) % 4)
        self.parts.append(blob)

    def dir(self, name):
        self._add(name, stat.S_IFDIR | 0o755)

    def file(self, name, data, mode=0o644):
        self._add(name, stat.S_IFREG | mode, data)

    def chardev(self, name, major, minor):
        self._add(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def bytes(self):
        self._add('TRAILER!!!', 0)
        return b''.join(self.parts)


def is_static_elf(path):
    """True if the ELF file has no PT_INTERP (no dynamic loader needed)."""
    with open(path, 'rb') as f:
        h = f.read(64)
        if h[:4] != b'\x7fELF' or h[4] != 2:
            return False
        phoff = int.from_bytes(h[32:40], 'little')
        phentsize = int.from_bytes(h[54:56], 'little')
        phnum = int.from_bytes(h[56:58], 'little')
        f.seek(phoff)
        ph = f.read(phentsize * phnum)
    return all(int.from_bytes(ph[i * phentsize:i * phentsize + 4], 'little') != 3
               for i in range(phnum))


def find_busybox():
    for p in ('/bin/busybox', '/usr/bin/busybox'):
        if os.path.exists(p) and is_static_elf(p):
            return os.path.realpath(p)
    raise Unavailable('no static busybox (install busybox-static: scripts/setup.sh)')


def module_files(ver):
    """[(name, path)] of MODULES for kernel ver, in load order."""
    mdir = '/lib/modules/' + ver
    paths = {}
    with open(os.path.join(mdir, 'modules.dep')) as f:
        for line in f:
            rel = line.split(':', 1)[0]
            base = os.path.basename(rel)
            name = base.split('.ko', 1)[0].replace('-', '_')
            paths[name] = os.path.join(mdir, rel)
    out = []
    for m in MODULES:
        p = paths.get(m)
        if p and os.path.exists(p):
            out.append((m, p))
    return out


def read_module(path):
    with open(path, 'rb') as f:
        data = f.read()
    if path.endswith('.xz'):
        return lzma.decompress(data)
    if path.endswith('.gz'):
        return gzip.decompress(data)
    if path.endswith('.zst'):
        raise Unavailable('%s is zstd compressed; Python cannot decompress it' % path)
    return data


def build_initramfs(mods, out):
    busybox = find_busybox()
    ar = Cpio()
    for d in ('bin', 'dev', 'proc', 'sys', 'newroot', 'lib', 'lib/modules'):
        ar.dir(d)
    ar.chardev('dev/console', 5, 1)
    ar.chardev('dev/null', 1, 3)
    with open(busybox, 'rb') as f:
        ar.file('bin/busybox', f.read(), 0o755)
    names = []
    for m, p in mods:
        ar.file('lib/modules/%s.ko' % m, read_module(p))
        names.append(m + '.ko')
    with open(os.path.join(HERE, 'init.sh')) as f:
        init = f.read().replace('@MODULES@', ' '.join(names))
    ar.file('init', init.encode(), 0o755)
    tmp = out + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(gzip.compress(ar.bytes(), compresslevel=6, mtime=0))
    os.replace(tmp, out)


def file_sig(path):
    st = os.stat(path)
    return '%s:%d:%d' % (path, st.st_mtime_ns, st.st_size)


def content_sig(paths):
    h = hashlib.sha256()
    for p in paths:
        with open(p, 'rb') as f:
            h.update(p.encode() + b'\0' + f.read())
    return h.hexdigest()


def find_qemu():
    qemu = shutil.which('qemu-system-x86_64')
    if not qemu:
        raise Unavailable('qemu-system-x86_64 not found (install qemu-system-x86: scripts/setup.sh)')
    return qemu


def prepare(cache, guest='debian'):
    """(qemu, kernel release, vmlinux, initramfs, modules dir or None) of the
    guest's kernel, the derived files cached in `cache`."""
    if guest == 'iommufd':
        return prepare_iommufd(cache)
    qemu = find_qemu()
    ver, bzimage = pick_kernel()
    os.makedirs(cache, exist_ok=True)
    vmlinux = os.path.join(cache, 'vmlinux-' + ver)
    stamp = vmlinux + '.stamp'
    sig = file_sig(bzimage)
    if not (os.path.exists(vmlinux) and read_text(stamp) == sig):
        t = time.monotonic()
        extract_vmlinux(bzimage, vmlinux)
        write_text(stamp, sig)
        log('extracted %s from %s in %.1f s' % (os.path.basename(vmlinux), bzimage,
                                                 time.monotonic() - t))
    initrd = os.path.join(cache, 'initramfs-%s.cpio.gz' % ver)
    stamp = initrd + '.stamp'
    sig = content_sig([os.path.join(HERE, 'init.sh')]) + ' ' + ' '.join(
        [file_sig(find_busybox())] + [file_sig(p) for _, p in module_files(ver)])
    if not (os.path.exists(initrd) and read_text(stamp) == sig):
        build_initramfs(module_files(ver), initrd)
        write_text(stamp, sig)
        log('built %s (%d KiB)' % (os.path.basename(initrd), os.path.getsize(initrd) >> 10))
    return qemu, ver, vmlinux, initrd, None


def prepare_iommufd(cache):
    """The iommufd guest: the kernel labkernel.py built (never built here: a
    test run that finds none says how to build it), an initramfs with no
    modules (all it needs is built in), and the modules of the lab devices'
    drivers, which the guest binds over its /lib/modules."""
    qemu = find_qemu()
    try:
        found = labkernel.cached()
    except labkernel.KernelUnavailable as e:
        raise Unavailable(str(e))
    if not found:
        raise Unavailable('the iommufd guest kernel is not built yet: run `python3 %s kernel` '
                          '(builds it once per machine, 5-30 min on 2 cores; cached in %s)'
                          % (os.path.abspath(__file__), labkernel.cache_dir()))
    kdir, info = found
    os.makedirs(cache, exist_ok=True)
    initrd = os.path.join(cache, 'initramfs-nomodules.cpio.gz')
    stamp = initrd + '.stamp'
    sig = content_sig([os.path.join(HERE, 'init.sh')]) + ' ' + file_sig(find_busybox())
    if not (os.path.exists(initrd) and read_text(stamp) == sig):
        build_initramfs([], initrd)
        write_text(stamp, sig)
    modules = os.path.join(kdir, 'modules', 'lib', 'modules')
    return qemu, info['release'], os.path.join(kdir, 'vmlinux'), initrd, modules


def lab_top(build_dir, guest):
    """<build>/lab for the Debian guest, <build>/lab-iommufd for the other."""
    return os.path.join(build_dir, 'lab' if guest == 'debian' else 'lab-' + guest)


def read_text(path, default=None):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def write_text(path, text):
    with open(path, 'w') as f:
        f.write(text)


# ---------------------------------------------------------------- QEMU

def qmp_path(labdir):
    """<labdir>/qmp.sock, or a short path in /tmp when the build directory is
    too deep for a UNIX socket name (108 bytes)."""
    p = os.path.join(labdir, 'qmp.sock')
    if len(p) < 100:
        return p
    return '/tmp/udk-lab-%s.qmp' % hashlib.sha256(labdir.encode()).hexdigest()[:12]


def mq_taps(labdir):
    """QEMU 7.2 gives a virtio-net as many queue pairs as its netdev has
    queues, and only a tap has more than one.  One multi-queue tap per RSS
    NIC, each looped back on itself on the host (tc mirred: what the NIC sends
    comes back to it), so a guest test feeds the NIC without any host-side
    helper.  Needs CAP_NET_ADMIN; without it, {} (lab_net_virtio_rss skips
    and says why).  Names from the lab directory: parallel labs do not clash."""
    base = 'udq' + hashlib.sha256(labdir.encode()).hexdigest()[:8]
    taps = {}
    for i, dev in enumerate(sorted(MQ_SLOTS)):
        name = '%s%d' % (base, i)
        mq_tap_del(name)
        steps = [['ip', 'tuntap', 'add', 'dev', name, 'mode', 'tap', 'multi_queue'],
                 ['sysctl', '-q', '-w', 'net.ipv6.conf.%s.disable_ipv6=1' % name],
                 # Jumbo frames (lab_net_virtio_jumbo) pass the host side too.
                 ['ip', 'link', 'set', name, 'mtu', '9000'],
                 ['ip', 'link', 'set', name, 'up'],
                 ['tc', 'qdisc', 'add', 'dev', name, 'ingress'],
                 ['tc', 'filter', 'add', 'dev', name, 'parent', 'ffff:', 'protocol', 'all',
                  'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'redirect',
                  'dev', name]]
        for cmd in steps:
            try:
                r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   timeout=30)
                out, rc = r.stdout.decode(errors='replace').strip(), r.returncode
            except OSError as e:
                out, rc = str(e), -1
            if rc != 0:
                log('no multi-queue virtio-net in the guest: `%s` failed (%s)'
                    % (' '.join(cmd), out))
                for t in list(taps.values()) + [name]:
                    mq_tap_del(t)
                return {}
        taps[dev] = name
    return taps


def mq_tap_del(name):
    subprocess.run(['ip', 'link', 'del', name], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def qemu_command(qemu, vmlinux, initrd, labdir, taps=None):
    # LAB.md: the intel-iommu must come before the devices.  Every device has
    # an id so that hot-plug tests can address it over QMP.
    img0 = os.path.join(labdir, 'nvme0.img')
    img1 = os.path.join(labdir, 'nvme1.img')
    img0n2 = os.path.join(labdir, 'nvme0n2.img')
    return [
        qemu,
        '-machine', 'q35,accel=tcg,kernel-irqchip=split', '-cpu', 'max',
        '-m', '2048', '-smp', '2', '-nographic', '-no-reboot', '-net', 'none', '-vga', 'none',
        '-device', 'intel-iommu,intremap=on,caching-mode=on',
        '-kernel', vmlinux, '-initrd', initrd, '-append', KERNEL_CMDLINE,
        '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
        '-virtfs', 'local,path=%s,mount_tag=labdir,security_model=none' % labdir,
        # NVMe 1b36:0010 on the root complex, with two namespaces.
        '-drive', 'file=%s,if=none,id=nv0,format=raw' % img0,
        '-drive', 'file=%s,if=none,id=nv0n2,format=raw' % img0n2,
        '-device', 'nvme,id=nvme0,serial=udk-lab-nvme0',
        '-device', 'nvme-ns,drive=nv0,bus=nvme0,nsid=1',
        '-device', 'nvme-ns,drive=nv0n2,bus=nvme0,nsid=2',
        # virtio-net 1af4:1041 and e1000e 8086:10d3, wired together by hub 0.
        '-netdev', 'hubport,id=p0,hubid=0', '-netdev', 'hubport,id=p1,hubid=0',
        '-device', 'virtio-net-pci,id=vnet0,netdev=p0,disable-legacy=on,iommu_platform=on,romfile=,mac=%s' % LAB_MACS['vnet0'],
        # The e1000e sits behind root port rp2, where QMP can unplug and replug it.
        '-device', 'pcie-root-port,id=rp2,chassis=2,slot=2',
        '-device', 'e1000e,id=e1000e0,netdev=p1,bus=rp2,romfile=,mac=%s' % LAB_MACS['e1000e0'],
        # Two e1000 8086:100e behind a PCIe-to-PCI bridge: one IOMMU group
        # ("group not viable" tests), wired together by hub 1.
        '-netdev', 'hubport,id=p2,hubid=1', '-netdev', 'hubport,id=p3,hubid=1',
        '-device', 'pcie-pci-bridge,id=br1,bus=pcie.0',
        '-device', 'e1000,id=e1000a,netdev=p2,bus=br1,addr=1,romfile=,mac=%s' % LAB_MACS['e1000a'],
        '-device', 'e1000,id=e1000b,netdev=p3,bus=br1,addr=2,romfile=,mac=%s' % LAB_MACS['e1000b'],
        # A second NVMe behind a root port, where QMP can unplug and replug it.
        '-device', 'pcie-root-port,id=rp1,chassis=1,slot=1',
        '-drive', 'file=%s,if=none,id=nv1,format=raw' % img1,
        '-device', 'nvme,id=nvme1,serial=udk-lab-nvme1,drive=nv1,bus=rp1',
        '-qmp', 'unix:%s,server=on,wait=off' % qmp_path(labdir),
    ] + mq_devices(taps or {})


def mq_devices(taps):
    """The RSS NICs on their taps (mq_taps): vnetmq0 with split rings,
    vnetmq1 with packed; modern-only and behind the IOMMU like vnet0 (LAB.md),
    MSI-X vectors for every queue plus configuration and control; hash=on:
    each received frame's header carries its RSS hash (HASH_REPORT)."""
    out = []
    for i, dev in enumerate(sorted(taps)):
        out += ['-netdev', 'tap,id=mq%d,ifname=%s,queues=%d,script=no,downscript=no,vhost=off'
                % (i, taps[dev], MQ_PAIRS),
                '-device', 'virtio-net-pci,id=%s,netdev=mq%d,mq=on,vectors=%d,rss=on,hash=on,'
                'packed=%s,disable-legacy=on,iommu_platform=on,romfile=,mac=%s,addr=0x%x'
                % (dev, i, 2 * MQ_PAIRS + 2, 'on' if dev == 'vnetmq1' else 'off',
                   LAB_MACS[dev], MQ_SLOTS[dev])]
    return out


def host_binds(paths):
    """The top directories under /tmp and /run that hold `paths`: the guest
    binds them over its own tmpfs (init.sh)."""
    out = []
    for p in paths:
        m = re.match(GUEST_TMPFS, os.path.realpath(p))
        if m and m.group(0) not in out:
            out.append(m.group(0))
    return out


class QmpBridge(threading.Thread):
    """Lets guest tests drive QEMU's monitor (hot-plug): the guest writes
    <labdir>/qmp/NAME.req, {"command": {...}, "wait_event": "EVENT" or null,
    "timeout": SECS}; the host sends the command over QMP, waits for the event
    if asked, and answers in NAME.reply: {"reply": {...}, "events": [...]}.
    labutil.h: lab_qmp()."""

    def __init__(self, labdir, path):
        super().__init__(daemon=True)
        self.dir = os.path.join(labdir, 'qmp')
        self.path = path
        self.stop = threading.Event()
        self.sock = None
        self.buf = b''
        os.makedirs(self.dir, exist_ok=True)

    def _connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.path)
        self.buf = b''
        json.loads(self._readline(30))  # greeting
        self._send({'execute': 'qmp_capabilities'})
        self._reply([])

    def _send(self, obj):
        self.sock.sendall(json.dumps(obj).encode() + b'\n')

    # Lines are read with a deadline of their own rather than through
    # sock.makefile(): a buffered reader that once timed out refuses every
    # later read ("cannot read from timed out object"), so one slow
    # DEVICE_DELETED used to fail the next QMP request of the boot too.
    def _readline(self, timeout):
        deadline = time.monotonic() + timeout
        while b'\n' not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout('no line from QMP within %.0f s' % timeout)
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise OSError('QMP closed the connection')
            self.buf += data
        line, self.buf = self.buf.split(b'\n', 1)
        return line.decode()

    def _reply(self, events):
        while True:
            msg = json.loads(self._readline(30))
            if 'event' in msg:
                events.append(msg)
            else:
                return msg

    def handle(self, req):
        if self.sock is None:
            self._connect()
        events = []
        self._send(req['command'])
        reply = self._reply(events)
        want = req.get('wait_event')
        deadline = time.monotonic() + float(req.get('timeout') or 10)
        while want and 'return' in reply and not any(e['event'] == want for e in events):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                msg = json.loads(self._readline(left))
            except socket.timeout:
                break
            if 'event' in msg:
                events.append(msg)
        return {'reply': reply, 'events': events}

    def run(self):
        while not self.stop.wait(0.1):
            for name in sorted(os.listdir(self.dir)):
                if not name.endswith('.req'):
                    continue
                p = os.path.join(self.dir, name)
                try:
                    with open(p) as f:
                        req = json.load(f)
                    os.unlink(p)
                    out = self.handle(req)
                except (OSError, ValueError, KeyError) as e:
                    out = {'reply': {'error': {'class': 'LabBridgeError', 'desc': str(e)}},
                           'events': []}
                    self.sock = None
                base = p[:-len('.req')]
                write_text(base + '.reply.tmp', json.dumps(out) + '\n')
                os.replace(base + '.reply.tmp', base + '.reply')


def set_pdeathsig():
    # QEMU dies with the runner, even if meson kills the runner hard.
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def console_tail(path, n=CONSOLE_TAIL):
    text = read_text(path, '') or ''
    lines = text.replace('\r', '').splitlines()
    return '\n'.join(lines[-n:])


def boot(build_dir, mode, timeout, tests=(), demo=(), echo=False, interactive=False,
         guest='debian'):
    """Boot the guest once; return (ok, message).  The lab directory
    <build>/lab/run (lab-iommufd/run) is the guest's writable /mnt."""
    top = lab_top(build_dir, guest)
    qemu, ver, vmlinux, initrd, modules = prepare(os.path.join(top, 'cache'), guest)
    labdir = os.path.join(top, 'run')
    if os.path.isdir(labdir):
        shutil.rmtree(labdir)
    os.makedirs(os.path.join(labdir, 'results'))
    if modules:  # init.sh binds it over the guest's /lib/modules
        shutil.copytree(modules, os.path.join(labdir, 'modules'), symlinks=True)
    shutil.copy(os.path.join(HERE, 'guest.sh'), os.path.join(labdir, 'guest.sh'))
    write_text(os.path.join(labdir, 'mode'), mode + '\n')
    write_text(os.path.join(labdir, 'tests.list'),
               ''.join('%s %d %s\n' % t for t in tests))
    write_text(os.path.join(labdir, 'demo.list'), ''.join(c + '\n' for c in demo))
    write_text(os.path.join(labdir, 'host-binds'), ''.join(p + '\n' for p in host_binds(
        [build_dir, os.path.dirname(os.path.dirname(HERE))] + [t[2] for t in tests])))
    # Host settings that reach the guest: UDK_* (UDK_LAB_* included) as a file.
    env = sorted((k, v) for k, v in os.environ.items()
                 if re.fullmatch(r'UDK_[A-Z0-9_]+', k) and re.fullmatch(r'[\w.:/,=+-]*', v)
                 and k not in ('UDK_LAB', 'UDK_LAB_DIR', 'UDK_LAB_KERNEL'))
    # The build's tools (app/*/) go first in the guest's PATH.
    app = os.path.join(build_dir, 'app')
    tools = sorted(os.path.join(app, d) for d in (os.listdir(app) if os.path.isdir(app) else [])
                   if os.path.isdir(os.path.join(app, d)))
    taps = mq_taps(labdir)
    write_text(os.path.join(labdir, 'host.env'),
               '# from the host environment (lab.py)\n' +
               ''.join('%s=%s\n' % kv for kv in env
                       if kv[0] not in ('UDK_LAB_HUGEPAGES', 'UDK_LAB_PATH', 'UDK_LAB_HOST_DIR',
                                        'UDK_LAB_GUEST', 'UDK_LAB_IOMMU_BACKEND',
                                        'UDK_LAB_VMLINUX', 'UDK_LAB_INITRD')) +
               'UDK_LAB_HUGEPAGES=%s\n' % os.environ.get('UDK_LAB_HUGEPAGES', HUGEPAGES) +
               'UDK_LAB_PATH=%s\n' % ':'.join(tools) +
               'UDK_LAB_HOST_DIR=%s\n' % labdir +
               'UDK_LAB_GUEST=%s\n' % guest +
               # The guest's own kernel and initramfs, for a nested guest.
               'UDK_LAB_VMLINUX=%s\nUDK_LAB_INITRD=%s\n' % (vmlinux, initrd) +
               'UDK_LAB_IOMMU_BACKEND=%s\n' % GUEST_BACKEND[guest] +
               ''.join('UDK_LAB_MAC_%s=%s\n' % (k, LAB_MACS[q]) for k, q in (
                   ('VIRTIO', 'vnet0'), ('E1000E', 'e1000e0'), ('E1000_A', 'e1000a'),
                   ('E1000_B', 'e1000b'))) +
               ''.join('UDK_LAB_MAC_%s=%s\n' % (k.upper(), LAB_MACS[k]) for k in sorted(taps)))
    for img in ('nvme0.img', 'nvme0n2.img', 'nvme1.img', 'nvme-hotplug.img'):
        with open(os.path.join(labdir, img), 'wb') as f:
            f.truncate(NVME_IMAGE_SIZE)  # sparse, zero-filled, fresh every boot
    qmp = qmp_path(labdir)
    if os.path.exists(qmp):
        os.unlink(qmp)
    cmd = qemu_command(qemu, vmlinux, initrd, labdir, taps)
    console = os.path.join(top, 'console.log')
    write_text(os.path.join(top, 'qemu.cmd'),
               ' '.join("'%s'" % a if ' ' in a else a for a in cmd) + '\n')
    log('booting the %s guest, kernel %s (timeout %d s, console in %s)'
        % (guest, ver, timeout, console))
    t0 = time.monotonic()
    if interactive:
        proc = subprocess.Popen(cmd, preexec_fn=set_pdeathsig)
        rc = proc.wait()
        for t in taps.values():
            mq_tap_del(t)
        return True, 'qemu exited %d' % rc
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, preexec_fn=set_pdeathsig)

    def pump():
        # Echo (demo) from the guest's first line on: firmware noise and
        # QEMU's warnings stay in the console log.
        shown = False
        with open(console, 'wb') as out:
            for line in proc.stdout:
                out.write(line)
                out.flush()
                shown = shown or line.startswith(b'udk-lab:')
                if echo and shown:
                    sys.stdout.write(line.decode(errors='replace').replace('\r', ''))
                    sys.stdout.flush()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    bridge = QmpBridge(labdir, qmp)
    bridge.start()

    def on_term(signum, frame):
        proc.kill()
        raise SystemExit(1)
    old = signal.signal(signal.SIGTERM, on_term)
    try:
        try:
            rc = proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            rc = proc.returncode
    finally:
        signal.signal(signal.SIGTERM, old)
        for t in taps.values():
            mq_tap_del(t)
    bridge.stop.set()
    reader.join(timeout=5)
    wall = time.monotonic() - t0
    done = read_text(os.path.join(labdir, 'done'))
    if timed_out:
        return False, 'guest killed after its %d s timeout (meson option lab_timeout)' % timeout
    if done is None:
        return False, 'guest ended (qemu rc %d, %.1f s) without finishing guest.sh' % (rc, wall)
    return True, 'guest ran %.1f s (qemu rc %d)' % (wall, rc)


# ---------------------------------------------------------------- run (meson)

def invocation_id():
    """Identifies one `meson test` run: every test it starts has the same
    parent; its start time tells a reused pid apart.  None when the parent is
    not meson (a person running lab.py by hand gets a fresh boot)."""
    ppid = os.getppid()
    cmdline = (read_text('/proc/%d/cmdline' % ppid, '') or '').replace('\0', ' ')
    if 'meson' not in cmdline:
        return None
    stat_ = read_text('/proc/%d/stat' % ppid, '') or ''
    start = stat_.rsplit(')', 1)[-1].split()[19] if ')' in stat_ else '?'
    return '%d:%s' % (ppid, start)


def parse_tests(items):
    if len(items) % 2:
        raise SystemExit('lab.py run: after -- give NAME:SECS EXE pairs')
    tests = []
    for spec, exe in zip(items[0::2], items[1::2]):
        name, _, secs = spec.partition(':')
        tests.append((name, int(secs or 300), os.path.abspath(exe)))
    return tests


def cmd_run(args):
    tests = parse_tests(args.tests)
    names = [t[0] for t in tests]
    if args.test not in names:
        raise SystemExit('lab.py run: --test %s is not among the tests after --' % args.test)
    only = os.environ.get('UDK_LAB_TESTS')
    if only:  # run a subset in the one boot: UDK_LAB_TESTS=lab_a,lab_b
        keep = set(only.split(','))
        if args.test not in keep:
            print('lab: %s is not in UDK_LAB_TESTS=%s' % (args.test, only))
            return SKIP
        tests = [t for t in tests if t[0] in keep]
    hidden = [t[2] for t in tests if re.match(GUEST_HIDDEN, os.path.realpath(t[2]))]
    if hidden:
        print('lab: %s: the guest mounts its own /mnt, /dev, /proc and /sys, '
              'so it cannot see this; use a build directory elsewhere' % ', '.join(hidden))
        return 1
    build_dir = os.path.abspath(args.build_dir)
    top = lab_top(build_dir, args.guest)
    os.makedirs(top, exist_ok=True)
    stamp_path = os.path.join(top, 'results.json')
    with open(os.path.join(top, 'lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            key = hashlib.sha256(json.dumps([
                [file_sig(t[2]) for t in tests], [t[:2] for t in tests],
                [file_sig(os.path.abspath(d)) for d in args.dep], content_sig(RUNNER_FILES),
                args.timeout, sorted((k, v) for k, v in os.environ.items() if k.startswith('UDK_')),
                args.session or invocation_id(),
            ]).encode()).hexdigest()
        except OSError as e:
            print('lab: %s' % e)
            return 1
        stamp = json.loads(read_text(stamp_path, 'null') or 'null')
        if not stamp or stamp.get('key') != key or args.fresh \
                or not (args.session or invocation_id()) \
                or args.test not in stamp.get('tests', []):
            if os.path.exists(stamp_path):
                os.unlink(stamp_path)
            t0 = time.monotonic()
            try:
                ok, msg = boot(build_dir, 'tests', args.timeout, tests, guest=args.guest)
                unavailable = False
            except Unavailable as e:
                ok, msg, unavailable = False, str(e), True
            stamp = {'key': key, 'ok': ok, 'message': msg, 'unavailable': unavailable,
                     'tests': [t[0] for t in tests], 'wall': time.monotonic() - t0,
                     'booted_by': args.test}
            write_text(stamp_path, json.dumps(stamp, indent=1) + '\n')
        else:
            log('results of the boot started by %s (%.1f s, %d tests)'
                % (stamp['booted_by'], stamp['wall'], len(stamp['tests'])))
    return report(args.test, stamp, top)


def report(name, stamp, top):
    if stamp['unavailable']:
        print('lab: cannot run the lab here: ' + stamp['message'])
        if os.environ.get('UDK_LAB_REQUIRED'):
            print('lab: UDK_LAB_REQUIRED is set, so this is a failure')
            return 1
        return SKIP
    res = os.path.join(top, 'run', 'results')
    rc = read_text(os.path.join(res, name + '.rc'))
    out = read_text(os.path.join(res, name + '.log'), '')
    if stamp['booted_by'] == name:
        log(stamp['message'])
    if out:
        sys.stdout.write(out if out.endswith('\n') else out + '\n')
    if not stamp['ok'] or rc is None or not rc.strip().lstrip('-').isdigit():
        # A guest that failed fails every test of its boot, even those that
        # finished: whatever broke it may have touched their results too.
        if rc is None:
            print('lab: no result for %s: %s' % (name, stamp['message']))
        else:
            print('lab: %s exited %s, but the boot failed: %s' % (name, rc.strip(),
                                                                   stamp['message']))
        print('lab: last %d lines of the guest console (%s):' % (
            CONSOLE_TAIL, os.path.join(top, 'console.log')))
        print(console_tail(os.path.join(top, 'console.log')))
        return 1
    rc = int(rc)
    print('lab: %s exited %d%s' % (name, rc, ' (skip)' if rc == SKIP else ''))
    return rc if 0 <= rc < 256 else 1


# ---------------------------------------------------------------- demo, shell

def cmd_demo(args):
    build_dir = os.path.abspath(args.build_dir)
    top = lab_top(build_dir, args.guest)
    os.makedirs(top, exist_ok=True)
    with open(os.path.join(top, 'lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stale = os.path.join(top, 'results.json')
        if os.path.exists(stale):
            os.unlink(stale)
        try:
            t0 = time.monotonic()
            ok, msg = boot(build_dir, 'demo', args.timeout, demo=args.cmd, echo=True,
                           guest=args.guest)
        except Unavailable as e:
            print('lab: cannot run the lab here: %s' % e)
            return 1
        log('%s; whole run %.1f s' % (msg, time.monotonic() - t0))
        if not ok:
            print(console_tail(os.path.join(top, 'console.log')))
        return 0 if ok else 1


def cmd_shell(args):
    build_dir = os.path.abspath(args.build_dir)
    top = lab_top(build_dir, args.guest)
    os.makedirs(top, exist_ok=True)
    with open(os.path.join(top, 'lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stale = os.path.join(top, 'results.json')
        if os.path.exists(stale):
            os.unlink(stale)
        log('QEMU owns this terminal: Ctrl-A X quits, `exit` powers the guest off')
        boot(build_dir, 'shell', 0, interactive=True, guest=args.guest)
    return 0


def cmd_prepare(args):
    try:
        if args.guest == 'iommufd':
            labkernel.build(log)
        qemu, ver, vmlinux, initrd, modules = prepare(
            os.path.join(lab_top(os.path.abspath(args.build_dir), args.guest), 'cache'),
            args.guest)
    except (Unavailable, labkernel.KernelUnavailable) as e:
        print('lab: ' + str(e))
        return 1
    print('qemu      %s\nkernel    %s\nvmlinux   %s\ninitramfs %s' % (qemu, ver, vmlinux, initrd))
    if modules:
        print('modules   %s' % modules)
    return 0


def cmd_kernel(args):
    """Build (once, cached) the iommufd guest kernel; print where it is."""
    try:
        kdir, info = labkernel.build(log, args.jobs)
    except labkernel.KernelUnavailable as e:
        print('lab: ' + str(e))
        return 1
    print('kernel    %s (%s, from %s)\ndirectory %s\nbuilt     %s in %s s (make %s s, %d jobs)'
          % (info['release'], info['version'], info['source'], kdir, info['built'],
             info['total_s'], info['make_s'], info['jobs']))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('run', help='report one lab test (booting once for all of them)')
    p.add_argument('--build-dir', required=True)
    p.add_argument('--test', required=True, help='the test to report')
    p.add_argument('--timeout', type=int, default=900, help='seconds for the whole boot')
    p.add_argument('--dep', action='append', default=[],
                   help='a file the tests depend on (e.g. libudk.so): a change means a new boot')
    p.add_argument('--session', help='reuse results across invocations with this id')
    p.add_argument('--fresh', action='store_true', help='boot even if results exist')
    p.add_argument('tests', nargs='*', help='NAME:SECS EXE pairs: every lab test of the boot')
    p.set_defaults(func=cmd_run)
    p = sub.add_parser('demo', help='boot and run shell commands in the guest, showing the console')
    p.add_argument('--build-dir', required=True)
    p.add_argument('--timeout', type=int, default=900)
    p.add_argument('cmd', nargs='*', default=['cat /mnt/lab.env'])
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser('shell', help='boot into an interactive shell on the console')
    p.add_argument('--build-dir', required=True)
    p.set_defaults(func=cmd_shell)
    p = sub.add_parser('prepare', help='only build the cached vmlinux and initramfs')
    p.add_argument('--build-dir', required=True)
    p.set_defaults(func=cmd_prepare)
    for p in sub.choices.values():
        p.add_argument('--guest', choices=sorted(GUEST_BACKEND), default='debian',
                       help="the guest's kernel: debian (/boot, type1 only; the default) or "
                       "iommufd (built by `lab.py kernel`)")
    p = sub.add_parser('kernel', help='build the iommufd guest kernel (once; cached, see '
                       'labkernel.py) and print where it is')
    p.add_argument('--jobs', type=int, help='make -j (default: the number of CPUs)')
    p.set_defaults(func=cmd_kernel)
    args = ap.parse_args()
    return args.func(args)


if __name__ == '__main__':
    sys.exit(main())
