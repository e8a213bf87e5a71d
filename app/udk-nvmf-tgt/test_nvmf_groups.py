#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""udk-nvmf-tgt with two poll groups (-l 0-1, --no-huge, malloc bdevs), driven
by the spec-written host of nvmf_host.py: several controllers with 2 I/O
queues each, spread over both groups (an I/O queue on another group than its
controller's admin queue); I/O verified on every queue; telemetry showing
connections, controllers and I/O on both groups; a namespace added and
removed at run time while queues sit on both groups (each controller gets
the AEN, I/O on the new namespace works from a queue on the other group);
controllers torn down (admin queue closed, keep-alive timeout) while their
I/O queues live on the other group: those are closed by the target, and it
keeps serving.  meson runs it under the ASan build too, where a
use-after-free in the cross-group hand-offs fails it."""
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time

import clitest
from clitest import check, finish
from nvmf_host import HOST, Host, ask, enable, free_port, wait_port

TOOL = sys.argv[1]
NQN = 'nqn.2026-12.io.udk:groups'

if os.cpu_count() is None or os.cpu_count() < 2:
    print('SKIP: -l 0-1 needs two CPUs')
    sys.exit(77)

tmp = tempfile.mkdtemp(prefix='nvmf_groups_')
sock = os.path.join(tmp, 'tel.sock')
port = free_port()
logf = open('nvmf_groups_test.log', 'w+')
proc = subprocess.Popen([TOOL, '--no-huge', '-l', '0-1', '-m', '64', '--telemetry-path', sock, '--',
                         '--malloc', 'm0:16', '--nqn', NQN, '--host', HOST,
                         '--listen', '127.0.0.1:%d' % port], stdout=logf, stderr=subprocess.STDOUT)


def log():
    logf.seek(0)
    return logf.read()


def groups():
    return ask(sock, {'cmd': 'nvmf'})['data']['groups']


def controller(kato=0):
    """An enabled controller granted 2 I/O queues, and its 2 I/O queues."""
    a = Host(port)
    a.icreq()
    st, cntlid, _ = a.connect(NQN, kato=kato)
    assert st == 0, ('admin Connect', st)
    enable(a)
    st, dw0, _ = a.admin(0x09, cdw10=7, cdw11=0x00010001)
    assert st == 0 and dw0 == 0x00010001, ('Set Features: 2 I/O queues', st, hex(dw0))
    qs = []
    for qid in (1, 2):
        q = Host(port)
        q.icreq()
        st, _, _ = q.connect(NQN, qid=qid, cntlid=cntlid, sqsize=63)
        assert st == 0, ('I/O Connect', qid, hex(st))
        qs.append(q)
    return cntlid, a, qs


def remote_queues(cntlid):
    """The qids of cntlid's I/O queues the target says another group polls."""
    return [int(m.group(1)) for m in re.finditer(r'queue (\d+) of controller %d: polled by group (\d+), its '
                                                 r'controller by group (\d+)' % cntlid, log())]


def closed_by_target(h, secs=5):
    h.s.settimeout(secs)
    try:
        return h.s.recv(1) == b''
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


try:
    if not wait_port(port, proc):
        out = log()
        print(out)
        if 'hugepage' in out or 'EAL' in out or 'lcore' in out:
            print('SKIP: the EAL did not start here with -l 0-1')
            sys.exit(77)
        check(False, 'the target listens')
        sys.exit(1)
    check('ready: 2 poll groups' in log(), '-l 0-1: two poll groups', log()[-2000:])

    # ---- several controllers, 2 I/O queues each, over both groups ----
    ctrls = [controller() for _ in range(4)]
    check(True, '4 controllers connected, 2 I/O queues each (12 connections)')
    remote = {c[0]: remote_queues(c[0]) for c in ctrls}
    check(any(remote.values()), 'some I/O queues are polled by another group than their controller\'s',
          remote)

    pats = {}
    bad = []
    for k, (cntlid, a, qs) in enumerate(ctrls):
        for j, q in enumerate(qs):
            lba = (k * 2 + j) * 64
            pat = os.urandom(16384)
            pats[lba] = pat
            st, _, _ = q.io(0x01, lba, 16, pat[:8192])                      # in the capsule
            st2, _, _ = q.io(0x01, lba + 16, 16, pat[8192:], in_capsule=False)  # R2T, H2CData
            if st or st2:
                bad.append(('write', cntlid, j + 1, st, st2))
    for k, (cntlid, a, qs) in enumerate(ctrls):
        for j, q in enumerate(qs):
            # Read what the *other* queue of the controller wrote: both groups see one bdev.
            lba = (k * 2 + (1 - j)) * 64
            st, _, got = q.io(0x02, lba, 32, read_len=16384)
            if st or got != pats[lba]:
                bad.append(('read', cntlid, j + 1, st))
    check(not bad, 'I/O verified on all 8 I/O queues, each reading what the other wrote', bad)

    g = groups()
    check(len(g) == 2 and all(x['connections'] >= 4 and x['ios'] > 0 for x in g) and
          sum(x['controllers'] for x in g) == 4 and [x['lcore'] for x in g] == [0, 1],
          'telemetry: both groups have connections and served I/O; 4 controllers between them', g)

    # ---- a namespace added and removed while queues are on both groups ----
    aers = []
    for cntlid, a, qs in ctrls:
        st, _, _ = a.admin(0x09, cdw10=0x0b, cdw11=1 << 8)
        aers.append(a.post_aer())
    ans = ask(sock, {'cmd': 'nvmf_ns_add', 'params': {'subsystem': NQN, 'bdev': 'malloc:rt1:4'}})
    check(ans.get('data', {}).get('nsid') == 2, 'nvmf_ns_add: namespace 2', ans)
    got = []
    for (cntlid, a, qs), cid in zip(ctrls, aers):
        a.s.settimeout(5)
        got.append(a.wait_aer(cid))
    check(all(x == (5, True, 0, '0x40002') for x in got),
          'every controller, on either group, gets the namespace-attribute AEN', got)
    bad = []
    for cntlid, a, qs in ctrls:
        for q in qs:
            pat = os.urandom(4096)
            st, _, _ = q.io(0x01, 8, 8, pat, nsid=2)
            st2, _, rd = q.io(0x02, 8, 8, read_len=4096, nsid=2)
            if st or st2 or rd != pat:
                bad.append((cntlid, st, st2))
    check(not bad, 'namespace 2 served by every I/O queue on both groups', bad)

    aers = [a.post_aer() for cntlid, a, qs in ctrls]
    ans = ask(sock, {'cmd': 'nvmf_ns_remove', 'params': {'subsystem': NQN, 'nsid': 2}})
    check(ans.get('data', {}).get('nsid') == 2, 'nvmf_ns_remove: namespace 2', ans)
    got = [a.wait_aer(cid) for (cntlid, a, qs), cid in zip(ctrls, aers)]
    check(all(x == (5, True, 0, '0x40002') for x in got), 'every controller gets the removal\'s AEN', got)
    sts = [q.io(0x02, 8, 8, read_len=4096, nsid=2)[0] for cntlid, a, qs in ctrls for q in qs]
    check(all(s == 0x0b for s in sts), 'I/O to the removed namespace: Invalid Namespace on every queue',
          [hex(s) for s in sts])
    ans = ask(sock, {'cmd': 'nvmf_ns_add', 'params': {'subsystem': NQN, 'bdev': 'malloc:rt1:4'}})
    check(ans.get('data', {}).get('nsid') == 2, 'the bdev name and NSID are free again (re-added)', ans)

    # ---- hosts that leave while their I/O queue's Connect is at the controller's group ----
    cntlid_r, ar, qsr = controller()
    for q in qsr:
        q.s.close()
    for _ in range(20):
        for qid in (1, 2):
            q = Host(port)
            q.icreq()
            q.s.settimeout(0.0)  # send the Connect, then close at once
            try:
                q.connect(NQN, qid=qid, cntlid=cntlid_r, sqsize=63)
            except (socket.timeout, BlockingIOError):
                pass
            q.s.close()
    ok = []
    for qid in (1, 2):
        end = time.time() + 3
        st = None
        while time.time() < end and st != 0:
            q = Host(port)
            q.icreq()
            st, _, _ = q.connect(NQN, qid=qid, cntlid=cntlid_r, sqsize=63)
            if st != 0:
                q.s.close()
                time.sleep(0.05)
        ok.append(st == 0 and q.io(0x01, 5000 + qid * 8, 8, bytes(4096))[0] == 0)
    ar.s.close()
    check(all(ok), '40 I/O queues closed as soon as their Connect was sent: both QIDs free again, '
          'connected and serving', ok)

    # ---- a controller torn down while its I/O queues live on the other group ----
    cntlid, a, qs = next(c for c in ctrls if remote[c[0]])
    rq = [qs[qid - 1] for qid in remote[cntlid]]
    a.s.close()
    check(all(closed_by_target(q) for q in rq), 'admin queue closed: its I/O queue%s on the other group '
          'closed by the target' % ('s' if len(rq) > 1 else ''), remote[cntlid])
    time.sleep(0.3)
    check(re.search(r'controller %d .*ended: its admin queue closed' % cntlid, log()) is not None,
          'the controller ended: its admin queue closed')

    # The keep-alive timeout, the same way: a silent controller with a queue elsewhere.
    for _ in range(6):
        cntlid2, a2, qs2 = controller(kato=1000)
        if remote_queues(cntlid2):
            break
        a2.s.close()
    rq2 = [qs2[qid - 1] for qid in remote_queues(cntlid2)]
    check(rq2 and all(closed_by_target(q, 6) for q in rq2) and
          re.search(r'controller %d .*ended: no command for the keep-alive timeout' % cntlid2, log()),
          'KATO 1000 ms: the silent controller ended, its I/O queue on the other group closed',
          remote_queues(cntlid2))

    # The rest keep working, and new controllers come and go.
    bad = []
    for k, (c, a3, qs3) in enumerate(ctrls):
        if c == cntlid:
            continue
        for q in qs3:
            st, _, got = q.io(0x02, k * 128, 32, read_len=16384)
            if st or got != pats[k * 128]:
                bad.append((c, st))
    check(not bad, 'the other controllers\' queues still read their data', bad)
    for _ in range(3):
        c, a4, qs4 = controller()
        for q in qs4:
            q.s.close()
        a4.s.close()
    c, a5, qs5 = controller()
    st, _, _ = qs5[1].io(0x01, 4000, 8, bytes(4096))
    check(st == 0, 'controllers made and dropped after the teardowns; a new one serves I/O')
    for cntlid, a, qs in ctrls:
        for q in qs:
            q.s.close()
        a.s.close()
    time.sleep(0.5)
    g = groups()
    check(sum(x['controllers'] for x in g) == 1, 'telemetry: only the last controller left', g)
finally:
    proc.terminate()
    try:
        rc = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    out = log()
    check(rc == 0 and 'stopping:' in out, 'SIGTERM: exit 0 after teardown', '%d %s' % (rc, out[-3000:]))
    check('ERROR: AddressSanitizer' not in out and 'runtime error' not in out, 'no sanitizer report',
          out[-3000:])
finish()
