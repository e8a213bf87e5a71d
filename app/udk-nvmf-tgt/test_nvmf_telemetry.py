#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""udk-nvmf-tgt's telemetry on the host (--no-huge, malloc bdevs, two
subsystems), driven by the spec-written host of nvmf_host.py: the "nvmf"
command's per-subsystem counters move by exactly the commands, I/Os and
bytes sent (and the idle subsystem's stay at 0), controllers and queues go
back to 0 when the host leaves; udk-top shows the subsystem in --json and in
batch mode.  Namespaces added and removed at run time ("nvmf_ns_add",
"nvmf_ns_remove"): the connected host gets the namespace-attribute AEN and
the changed namespace list, sees the namespace in Identify and does I/O on
it; after removal its I/O fails with Invalid Namespace while namespace 1
keeps its data; each bad request is refused with its reason."""
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

import clitest
from clitest import check, finish
from nvmf_host import Host, ask, enable, free_port, start_target, stop_target

TOOL, TOP = sys.argv[1], sys.argv[2]
NQN_A = 'nqn.2026-12.io.udk:tel-a'
NQN_B = 'nqn.2026-12.io.udk:tel-b'


def subsys(path, nqn):
    for e in ask(path, {'cmd': 'nvmf'}).get('data', {}).get('subsystems', []):
        if e['nqn'] == nqn:
            return e
    return None


def wait_for(fn, secs=5):
    end = time.time() + secs
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    return fn()


tmp = tempfile.mkdtemp(prefix='udk-nvmf-tel.')
sock = os.path.join(tmp, 'tgt.sock')
conf = os.path.join(tmp, 'tgt.conf')
port = free_port()
with open(conf, 'w') as f:
    f.write('listen 127.0.0.1:%d\nmalloc ra 8\nmalloc rb 8\n'
            'subsystem %s\n  allow-any-host\n  namespace ra\n'
            'subsystem %s\n  allow-any-host\n  namespace rb\n' % (port, NQN_A, NQN_B))
logf = open(os.path.join(tmp, 'tgt.log'), 'w+')
proc = start_target([TOOL, '--no-huge', '-m', '64', '--telemetry-path', sock, '--', '-c', conf],
                    port, logf)
try:
    ans = ask(sock, {'cmd': 'help'})
    check(any(c['cmd'] == 'nvmf' for c in ans['data']), '"nvmf" is in help', ans)
    a0 = subsys(sock, NQN_A)
    keys = ('controllers', 'queues', 'connects', 'commands', 'errors', 'ios', 'reads', 'writes',
            'bytes_read', 'bytes_written')
    check(a0 is not None and all(a0[k] == 0 for k in keys) and a0['namespaces'] == 1,
          'before any host: every counter 0, one namespace', a0)

    a = Host(port)
    a.icreq()
    st, cntlid, _ = a.connect(NQN_A, kato=5000)
    enable(a)
    st, dw0, _ = a.admin(0x09, cdw10=7, cdw11=0)
    q = Host(port)
    q.icreq()
    st, _, _ = q.connect(NQN_A, qid=1, cntlid=cntlid, sqsize=127)
    check(st == 0, 'admin and I/O queue connected', hex(st))
    a1 = subsys(sock, NQN_A)
    check(a1['controllers'] == 1 and a1['queues'] == 2 and a1['connects'] == 2,
          'one controller, two queues', a1)
    top = ask(sock, {'cmd': 'nvmf'})['data']
    check(top['connections'] == 2, 'two connections', top)
    check([(g['id'], g['lcore'], g['connections'], g['controllers']) for g in top.get('groups', [])] ==
          [(0, 0, 2, 1)], 'one poll group, polling both, owning the controller', top)

    pat = os.urandom(4096)
    for i in range(10):
        q.io(0x01, 8 * i, 8, pat)
    big = os.urandom(64 * 1024)
    st, _, _ = q.io(0x01, 200, 128, big, in_capsule=False)
    for i in range(6):
        q.io(0x02, 8 * i, 8, read_len=4096)
    st_bad, _, _ = q.io(0x02, 16383, 2, read_len=1024)  # past the end: an error
    a2 = subsys(sock, NQN_A)
    d = {k: a2[k] - a1[k] for k in keys}
    want = {'controllers': 0, 'queues': 0, 'connects': 0, 'commands': 18, 'errors': 1, 'ios': 17,
            'reads': 6, 'writes': 11, 'bytes_read': 6 * 4096, 'bytes_written': 10 * 4096 + 64 * 1024}
    check(st_bad != 0 and d == want, 'counters moved by exactly the I/O sent: ' + json.dumps(want),
          json.dumps(d))
    b2 = subsys(sock, NQN_B)
    check(b2 is not None and all(b2[k] == 0 for k in keys), 'the other subsystem stays at 0', b2)

    # udk-top: the subsystem in --json and as a row in batch mode
    p = subprocess.run([TOP, '--json', '-s', sock], capture_output=True, text=True, timeout=30)
    try:
        snap = json.loads(p.stdout)
        tops = [e for e in snap['processes'][0]['nvmf']['subsystems'] if e['nqn'] == NQN_A]
    except (ValueError, KeyError, IndexError, TypeError) as e:
        tops = [{'error': str(e)}]
    check(p.returncode == 0 and len(tops) == 1 and tops[0].get('writes') == 11,
          'udk-top --json: the subsystem and its counters', p.stdout[:2000] + p.stderr)
    # batch: two screens 1 s apart while I/O runs, the second with a rate
    topp = subprocess.Popen([TOP, '-b', '-n', '2', '-d', '1', '-s', sock], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    end = time.time() + 1.5
    n = 0
    while time.time() < end:
        q.io(0x01, 0, 8, pat)
        n += 1
    out, err = topp.communicate(timeout=30)
    rows = [ln for ln in out.splitlines() if NQN_A in ln]
    iops = [float(r.split()[4]) for r in rows if len(r.split()) > 4]
    check(topp.returncode == 0 and 'NVMe/TCP subsystems' in out and len(rows) == 2 and
          any(v > 0 for v in iops), 'udk-top -b: a row per subsystem, IOPS > 0 under I/O (%d writes)' % n,
          out + err)

    # ---- namespaces at run time ----
    def active(h):
        st, _, lst = h.admin(0x06, cdw10=2, read_len=4096)
        ids = struct.unpack('<32I', lst[:128])
        return st, [i for i in ids if i]

    def changed(h):
        st, _, log = h.admin(0x02, nsid=0xffffffff, cdw10=4 | (127 << 16), read_len=512)
        return [i for i in struct.unpack('<128I', log) if i]

    st, dw0, _ = a.admin(0x09, cdw10=0x0b, cdw11=1 << 8)  # namespace attribute notices on
    check(st == 0, 'Set Features: namespace attribute notices', hex(st))
    aer = a.post_aer()
    pat1 = os.urandom(4096)
    q.io(0x01, 0, 8, pat1)
    ans = ask(sock, {'cmd': 'nvmf_ns_add', 'params': {'subsystem': NQN_A, 'bdev': 'malloc:rt1:4'}})
    check(ans.get('data') == {'subsystem': NQN_A, 'nsid': 2, 'bdev': 'malloc:rt1:4'},
          'nvmf_ns_add: namespace 2 on a new 4 MiB malloc bdev', ans)
    a.s.settimeout(5)
    got = a.wait_aer(aer)
    check(got == (5, True, 0, '0x40002'), 'the host gets the AEN: notice, namespace attribute changed, '
          'log 04h', got)
    check(changed(a) == [2], 'changed namespace list: [2]')
    check(subsys(sock, NQN_A)['namespaces'] == 2, 'telemetry: 2 namespaces')
    check(active(a) == (0, [1, 2]), 'active namespaces: [1, 2]', active(a))
    st, _, idn = a.admin(0x06, nsid=2, cdw10=0, read_len=4096)
    check(st == 0 and struct.unpack('<Q', idn[:8])[0] == 4 * 2048, 'Identify namespace 2: 8192 blocks')
    pat2 = os.urandom(4096)
    st, _, _ = q.io(0x01, 8, 8, pat2, nsid=2)
    st2, _, got2 = q.io(0x02, 8, 8, read_len=4096, nsid=2)
    check(st == 0 and st2 == 0 and got2 == pat2, 'write and read back on namespace 2', (st, st2))

    for params, code, msg in [
            ({'subsystem': 'nqn.2026-12.io.udk:nope', 'bdev': 'malloc:x1:4'}, 'ENOENT',
             "no subsystem 'nqn.2026-12.io.udk:nope' here"),
            ({'subsystem': 'nqn.2014-08.org.nvmexpress.discovery', 'bdev': 'malloc:x1:4'}, 'ENOENT',
             'is the discovery subsystem'),
            ({'subsystem': NQN_A, 'bdev': 'malloc:x1:4', 'nsid': 1}, 'EEXIST', 'NSID 1 is taken'),
            ({'subsystem': NQN_A, 'bdev': 'malloc:x1:4', 'nsid': 33}, 'EINVAL', 'NSID 33: 1 to 32'),
            ({'subsystem': NQN_A, 'bdev': 'floppy:x1:4'}, 'EINVAL', 'the kind is malloc, null or file'),
            ({'subsystem': NQN_A, 'bdev': 'nvme:x1:0000:00:04.0'}, 'EINVAL', 'nvme bdevs are given at start'),
            ({'subsystem': NQN_A, 'bdev': 'malloc:ra:4'}, 'EINVAL', "bdev 'ra' is defined twice"),
            ({'subsystem': NQN_A, 'bdev': 'malloc:x1:0'}, 'EINVAL', "size '0'"),
            ({'subsystem': NQN_A, 'bdev': 'file:x1:/nonexistent/dir/f'}, 'ENOENT', 'bdev x1'),
            ({'subsystem': NQN_A, 'bdev': 'x1'}, 'EINVAL', 'give KIND:NAME:ARGS'),
            ({'subsystem': NQN_A}, 'EINVAL', 'give \\"bdev\\"'),
            ({'bdev': 'malloc:x1:4'}, 'EINVAL', 'give \\"subsystem\\"'),
            ({'subsystem': NQN_A, 'bdev': 'malloc:x1:4', 'size': 4}, 'EINVAL', "unknown parameter 'size'"),
            ({'subsystem': NQN_A, 'bdev': 'malloc:x1:4', 'nsid': 'two'}, 'EINVAL', 'give \\"nsid\\"')]:
        ans = ask(sock, {'cmd': 'nvmf_ns_add', 'params': params})
        raw = json.dumps(ans)
        check(ans.get('error', {}).get('code') == code and msg in raw,
              'nvmf_ns_add refuses %s: %s "%s"' % (params, code, msg), raw)
    for params, code, msg in [
            ({'subsystem': NQN_A, 'nsid': 9}, 'ENOENT', 'no namespace 9 in ' + NQN_A),
            ({'subsystem': NQN_A}, 'EINVAL', 'give \\"nsid\\"'),
            ({'subsystem': NQN_B + 'x', 'nsid': 1}, 'ENOENT', 'no subsystem')]:
        ans = ask(sock, {'cmd': 'nvmf_ns_remove', 'params': params})
        raw = json.dumps(ans)
        check(ans.get('error', {}).get('code') == code and msg in raw,
              'nvmf_ns_remove refuses %s: %s "%s"' % (params, code, msg), raw)
    check(active(a) == (0, [1, 2]), 'after the refused requests: still [1, 2]', active(a))
    bdevs = [b['name'] for b in ask(sock, {'cmd': 'bdevs'})['data']]
    check(sorted(bdevs) == ['ra', 'rb', 'rt1'], 'no bdev left behind by a refused add', bdevs)

    aer = a.post_aer()
    ans = ask(sock, {'cmd': 'nvmf_ns_remove', 'params': {'subsystem': NQN_A, 'nsid': 2}})
    check(ans.get('data') == {'subsystem': NQN_A, 'nsid': 2}, 'nvmf_ns_remove: namespace 2', ans)
    got = a.wait_aer(aer)
    check(got == (5, True, 0, '0x40002'), 'the host gets the AEN for the removal', got)
    check(changed(a) == [2] and active(a) == (0, [1]), 'changed list [2], active namespaces [1]')
    check(subsys(sock, NQN_A)['namespaces'] == 1, 'telemetry: 1 namespace')
    st, _, _ = q.io(0x02, 8, 8, read_len=4096, nsid=2)
    check(st == 0x0b, 'I/O to namespace 2 now: Invalid Namespace', hex(st))
    st, _, got1 = q.io(0x02, 0, 8, read_len=4096)
    check(st == 0 and got1 == pat1, 'namespace 1 unaffected: its data reads back')
    bdevs = [b['name'] for b in ask(sock, {'cmd': 'bdevs'})['data']]
    check('rt1' not in bdevs, 'the removed namespace\'s bdev is destroyed', bdevs)
    ans = ask(sock, {'cmd': 'nvmf_ns_add', 'params': {'subsystem': NQN_A, 'bdev': 'null:rt1:4:4096',
                                                      'nsid': 2}})
    check(ans.get('data', {}).get('nsid') == 2 and active(a) == (0, [1, 2]),
          'the name and NSID are free again: null:rt1 as namespace 2', ans)
    ans = ask(sock, {'cmd': 'nvmf', 'params': {}})
    check(ans.get('error', {}).get('code') == 'EINVAL', '"nvmf" takes no parameters', ans)

    q.s.close()
    a.s.close()
    a3 = wait_for(lambda: (lambda e: e if e['controllers'] == 0 and e['queues'] == 0 else None)(
        subsys(sock, NQN_A)))
    check(a3 is not None, 'host gone: 0 controllers, 0 queues', subsys(sock, NQN_A))
    top = wait_for(lambda: (lambda d: d if d['connections'] == 0 else None)(ask(sock, {'cmd': 'nvmf'})['data']))
    check(top is not None and top['connections_total'] == 3, 'no connection open, 3 in all (wait_port\'s probe)',
          ask(sock, {'cmd': 'nvmf'}))
    check([(g['id'], g['connections'], g['controllers']) for g in top['groups']] == [(0, 0, 0)],
          'the poll group has none left', top)
finally:
    stop_target(proc, logf, clitest.failures)

finish()
