# SPDX-License-Identifier: BSD-3-Clause
"""A small NVMe/TCP host written from the spec (NVMe/TCP 1.0, NVMe over
Fabrics 1.1), for the target's tool tests (test_nvmf_tgt.py,
test_nvmf_telemetry.py): ICReq, capsules with in-capsule data or R2T/H2CData,
C2HData, Connect, Property Get/Set, admin and I/O commands, Asynchronous
Event Requests; and a telemetry request (ask)."""
import json
import socket
import struct
import subprocess
import sys
import time

HOST = 'nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555'


# CRC-32C, for digests (bitwise: slow but independent of the target's)
def crc32c(data):
    c = 0xffffffff
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ (0x82f63b78 & -(c & 1))
    return c ^ 0xffffffff


class Host:
    def __init__(self, port, hdgst=False, ddgst=False):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=10)
        self.hd, self.dd = hdgst, ddgst
        self.cid = 0

    def send(self, b):
        self.s.sendall(b)

    def recv_exact(self, n):
        b = b''
        while len(b) < n:
            c = self.s.recv(n - len(b))
            if not c:
                raise EOFError('closed')
            b += c
        return b

    def recv_pdu(self):
        ch = self.recv_exact(8)
        typ, flags, hlen, pdo, plen = struct.unpack('<BBBBI', ch)
        rest = self.recv_exact(plen - 8)
        pdu = ch + rest
        if flags & 1:
            assert struct.unpack('<I', pdu[hlen:hlen + 4])[0] == crc32c(pdu[:hlen]), 'header digest'
        data = b''
        if pdo:
            end = plen - (4 if flags & 2 else 0)
            data = pdu[pdo:end]
            if flags & 2:
                assert struct.unpack('<I', pdu[end:end + 4])[0] == crc32c(data), 'data digest'
        return typ, flags, pdu[:hlen], data

    def icreq(self):
        dg = (1 if self.hd else 0) | (2 if self.dd else 0)
        self.send(struct.pack('<BBBBIHBBI', 0, 0, 128, 0, 128, 0, 0, dg, 0) + bytes(112))
        typ, _, h, _ = self.recv_pdu()
        assert typ == 1
        pfv, cpda, dgst, maxh2c = struct.unpack('<HBBI', h[8:16])
        self.maxh2c = maxh2c
        return dgst, maxh2c

    def pdu(self, typ, hdr, data=b'', flags=0):
        hl = 8 + len(hdr)
        hd = 4 if self.hd else 0
        fl = flags | (1 if self.hd else 0) | (2 if self.dd and data else 0)
        pdo = hl + hd if data else 0
        plen = hl + hd + len(data) + (4 if self.dd and data else 0)
        b = struct.pack('<BBBBI', typ, fl, hl, pdo, plen) + hdr
        if self.hd:
            b += struct.pack('<I', crc32c(b))
        b += data
        if self.dd and data:
            b += struct.pack('<I', crc32c(data))
        return b

    def command(self, sqe, data=b'', xfer_len=0, read_len=0):
        """Send a command; data goes in the capsule (in_capsule) or through R2T."""
        self.cid = (self.cid + 1) & 0xffff
        sqe = bytearray(sqe)
        struct.pack_into('<H', sqe, 2, self.cid)
        sqe[1] |= 0x40
        return self.cid, sqe

    def run(self, sqe, write=b'', in_capsule=True, read_len=0):
        cid, sqe = self.command(sqe)
        n = len(write) or read_len
        if write and in_capsule:
            struct.pack_into('<QI3xB', sqe, 24, 0, len(write), 0x01)
            self.send(self.pdu(4, bytes(sqe), write))
        else:
            struct.pack_into('<QI3xB', sqe, 24, 0, n, 0x5a)
            self.send(self.pdu(4, bytes(sqe)))
        got = bytearray(read_len)
        while True:
            typ, flags, h, data = self.recv_pdu()
            if typ == 9:  # R2T
                cccid, ttag, r2to, r2tl = struct.unpack('<HHII', h[8:20])
                off = r2to
                while off < r2to + r2tl:
                    k = min(self.maxh2c, r2to + r2tl - off)
                    last = 4 if off + k == r2to + r2tl else 0
                    self.send(self.pdu(6, struct.pack('<HHIII', cid, ttag, off, k, 0),
                                       write[off:off + k], last))
                    off += k
            elif typ == 7:  # C2HData
                cccid, _, datao, datal = struct.unpack('<HHII', h[8:20])
                got[datao:datao + datal] = data
            elif typ == 5:
                dw0, dw1, sqhd, sqid, rcid, status = struct.unpack('<IIHHHH', h[8:24])
                assert rcid == cid, (rcid, cid)
                return (status >> 1) & 0x7ff, dw0, bytes(got)
            else:
                raise AssertionError('PDU type %d' % typ)

    def connect(self, nqn, qid=0, cntlid=0xffff, hostnqn=HOST, sqsize=31, kato=0):
        sqe = bytearray(64)
        sqe[0] = 0x7f
        sqe[4] = 0x01
        struct.pack_into('<HHHBxI', sqe, 40, 0, qid, sqsize, 0, kato)
        data = bytearray(1024)
        data[0:16] = b'\x11' * 16
        struct.pack_into('<H', data, 16, cntlid)
        data[256:256 + len(nqn)] = nqn.encode()
        data[512:512 + len(hostnqn)] = hostnqn.encode()
        return self.run(sqe, bytes(data))

    def prop_get(self, ofst, size8=False):
        sqe = bytearray(64)
        sqe[0], sqe[4] = 0x7f, 0x04
        sqe[40] = 1 if size8 else 0
        struct.pack_into('<I', sqe, 44, ofst)
        st, dw0, _ = self.run(sqe)
        return st, dw0

    def prop_set(self, ofst, val):
        sqe = bytearray(64)
        sqe[0], sqe[4] = 0x7f, 0x00
        struct.pack_into('<II', sqe, 44, ofst, val)
        return self.run(sqe)[0]

    def admin(self, opc, nsid=0, cdw10=0, cdw11=0, cdw12=0, read_len=0):
        sqe = bytearray(64)
        sqe[0] = opc
        struct.pack_into('<I', sqe, 4, nsid)
        struct.pack_into('<III', sqe, 40, cdw10, cdw11, cdw12)
        return self.run(sqe, read_len=read_len)

    def post_aer(self):
        """An Asynchronous Event Request, left outstanding: its CID."""
        cid, sqe = self.command(bytes([0x0c]) + bytes(63))
        struct.pack_into('<QI3xB', sqe, 24, 0, 0, 0x5a)
        self.send(self.pdu(4, bytes(sqe)))
        return cid

    def wait_aer(self, cid):
        """The next PDU as (type, is cid's, status, hex dw0), or why none came."""
        try:
            typ, _, hdr, _ = self.recv_pdu()
        except (socket.timeout, EOFError) as e:
            return 'no PDU: %s' % e
        dw0, _, _, _, rcid, status = struct.unpack('<IIHHHH', hdr[8:24])
        return (typ, rcid == cid, (status >> 1) & 0x7ff, hex(dw0))

    def io(self, opc, slba, nlb, write=b'', in_capsule=True, read_len=0, cdw10=None, cdw11=None, nsid=1):
        sqe = bytearray(64)
        sqe[0] = opc
        struct.pack_into('<I', sqe, 4, nsid)
        struct.pack_into('<QI', sqe, 40, slba, nlb - 1)
        if cdw10 is not None:
            struct.pack_into('<II', sqe, 40, cdw10, cdw11)
        return self.run(sqe, write, in_capsule, read_len)


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc):
    for _ in range(200):
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def start_target(cmd, port, logf):
    """Start the target (the command line cmd), its output into logf, and
    wait until it listens on port: its process.  Exits 77 (skip) when the
    EAL cannot start on this host, 1 when the target does not listen."""
    proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT)
    if wait_port(port, proc):
        return proc
    logf.seek(0)
    log = logf.read()
    print(log)
    if proc.poll() is None:
        proc.kill()
    if 'hugepage' in log or 'EAL' in log:
        print('SKIP: the EAL did not start here')
        sys.exit(77)
    print('FAIL the target listens')
    sys.exit(1)


def stop_target(proc, logf, show_log):
    """SIGTERM, then SIGKILL after 20 s; the log printed if show_log."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    logf.seek(0)
    if show_log:
        print(logf.read())


def enable(h):
    st, cap = h.prop_get(0, True)
    h.prop_set(0x14, 0x460001)
    st2, csts = h.prop_get(0x1c)
    return st, cap, st2, csts


def ask(path, req):
    """One telemetry request line, its answer parsed."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    s.sendall((json.dumps(req, separators=(',', ':')) + '\n').encode())
    b = b''
    while not b.endswith(b'\n'):
        c = s.recv(65536)
        if not c:
            break
        b += c
    s.close()
    return json.loads(b)
