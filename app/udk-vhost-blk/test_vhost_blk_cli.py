#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""udk-vhost-blk on the host, without QEMU: --help, --version, usage errors
(exit 2), a socket path that is a regular file (exit 1, the file kept), and
a running back-end spoken to over its socket as a front-end would: the
handshake replies, a malformed message that closes the connection with a
logged reason, the next connection served, SIGTERM ending it with exit 0 and
the socket removed.  tests/vhost runs it under a real QEMU guest."""
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import clitest
from clitest import check

TOOL = sys.argv[1]


def run(args):
    p = subprocess.run([TOOL] + args, capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def connect(path, timeout=10):
    end = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def request(s, req, payload=b'', flags=1):
    s.sendall(struct.pack('<III', req, flags, len(payload)) + payload)


def reply(s):
    hdr = s.recv(12, socket.MSG_WAITALL)
    if len(hdr) < 12:
        return None
    req, flags, size = struct.unpack('<III', hdr)
    return req, flags, s.recv(size, socket.MSG_WAITALL) if size else b''


rc, out, err = run(['--help'])
check(rc == 0 and '--socket' in out and 'vhost-user-blk-pci' in out, '--help', out + err)
rc, out, err = run(['--version'])
check(rc == 0 and out.startswith('udk-vhost-blk '), '--version', out + err)
rc, out, err = run([])
check(rc == 2 and 'give --socket and one of --malloc, --null, --file or --nvme' in err, 'no arguments', err)
rc, out, err = run(['--socket', '/tmp/x', '--malloc', '1M', '--file', '/tmp/y'])
check(rc == 2 and 'one of --malloc, --null, --file or --nvme' in err, '--malloc and --file together', err)
rc, out, err = run(['--socket', '/tmp/x', '--malloc', '1M', '--nvme', '1'])
check(rc == 2 and 'one of --malloc, --null, --file or --nvme' in err, '--malloc and --nvme together', err)
rc, out, err = run(['--socket', '/tmp/x', '--nvme', '0'])
check(rc == 2 and '--nvme 0: not a namespace ID' in err, '--nvme 0', err)
rc, out, err = run(['--socket', '/tmp/x', '--nvme', '1'])
check(rc == 2 and '--nvme needs EAL options before --, at least -a BDF' in err,
      '--nvme without EAL options', err)
rc, out, err = run(['-m', '16', '--', '--socket', '/tmp/x', '--malloc', '1M'])
check(rc == 2 and 'EAL options (before --) are for --nvme only' in err,
      'EAL options without --nvme', err)
rc, out, err = run(['--no-huge', '-m', '16', '--no-telemetry', '--', '--socket', '/tmp/x',
                    '--nvme', '1'])
check(rc == 1 and '--nvme: no controller: name it with the EAL option -a BDF' in err,
      '--nvme with no -a controller', err)
rc, out, err = run(['--socket', '/tmp/x', '--malloc', '1M', '--null', '1M'])
check(rc == 2 and '--null 1M: one of --malloc and --null' in err, '--malloc and --null together',
      err)
rc, out, err = run(['--socket', '/tmp/x', '--malloc', 'lots'])
check(rc == 2 and '--malloc lots: not a size' in err, 'a bad size', err)
rc, out, err = run(['--socket', '/tmp/x', '--malloc', '1000'])
check(rc == 2 and 'not a multiple of the block size' in err, 'a size not whole blocks', err)

with tempfile.TemporaryDirectory(prefix='udk-vblk.') as d:
    plain = os.path.join(d, 'plain')
    open(plain, 'w').write('keep me')
    rc, out, err = run(['--socket', plain, '--malloc', '1M'])
    check(rc == 1 and 'not a socket' in err and open(plain).read() == 'keep me',
          'a regular file at the socket path is refused and kept', err)
    rc, out, err = run(['--socket', os.path.join(d, 'nope', 's'), '--file',
                        os.path.join(d, 'missing.img')])
    check(rc == 1 and 'cannot create the bdev' in err, 'a missing file', err)

    sock = os.path.join(d, 's')
    p = subprocess.Popen([TOOL, '--socket', sock, '--malloc', '4M', '--name', 'cli0'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        s = connect(sock)
        request(s, 1)  # GET_FEATURES
        r = reply(s)
        feats = struct.unpack('<Q', r[2])[0] if r and len(r[2]) == 8 else 0
        check(r is not None and r[0] == 1 and r[1] == 5 and feats & (1 << 32) and feats & (1 << 30),
              'GET_FEATURES: VERSION_1 and PROTOCOL_FEATURES, flags = version 1 | reply',
              repr(r))
        request(s, 15)  # GET_PROTOCOL_FEATURES
        r = reply(s)
        pf = struct.unpack('<Q', r[2])[0] if r and len(r[2]) == 8 else 0
        check(pf == (1 << 0) | (1 << 3) | (1 << 9) | (1 << 12) | (1 << 15),
              'GET_PROTOCOL_FEATURES: MQ, REPLY_ACK, CONFIG, INFLIGHT_SHMFD, CONFIGURE_MEM_SLOTS',
              hex(pf))
        request(s, 24, struct.pack('<III', 0, 24, 0) + bytes(24))  # GET_CONFIG
        r = reply(s)
        cap, = struct.unpack('<Q', r[2][12:20]) if r else (0,)
        bs, = struct.unpack('<I', r[2][12 + 20:12 + 24]) if r else (0,)
        check(cap == 8192 and bs == 512, 'GET_CONFIG: capacity 8192 sectors, blk_size 512',
              '%d %d' % (cap, bs))
        # SET_FEATURES with 4 bytes instead of 8: the connection closes.
        request(s, 2, b'\0\0\0\0')
        check(reply(s) is None, 'a malformed message closes the connection')
        s.close()
        # The back-end waits for the next front-end.
        s = connect(sock)
        request(s, 17)  # GET_QUEUE_NUM
        r = reply(s)
        check(r is not None and struct.unpack('<Q', r[2])[0] == 8, 'the next connection served: '
              'GET_QUEUE_NUM 8', repr(r))
        s.close()
        time.sleep(0.3)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        check(p.returncode == 0 and not os.path.exists(sock), 'SIGTERM: exit 0, socket removed',
              err)
        check('SET_FEATURES (request 2): payload of 4 bytes' in err and
              'closing the connection' in err, 'the reason is logged', err)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()

    # --null: a disk of that size that keeps nothing; its capacity in GET_CONFIG.
    p = subprocess.Popen([TOOL, '--socket', sock, '--null', '8M', '--name', 'cli1'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        s = connect(sock)
        request(s, 24, struct.pack('<III', 0, 8, 0) + bytes(8))  # GET_CONFIG: capacity
        r = reply(s)
        cap = struct.unpack('<Q', r[2][12:20])[0] if r and len(r[2]) == 20 else 0
        check(cap == 16384, '--null 8M: capacity 16384 sectors', repr(r))
        s.close()
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        check(p.returncode == 0 and 'serving cli1 (null, 16384 blocks' in err,
              '--null: served by a null bdev', err)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()

clitest.finish()
