#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""udk-nvmf-tgt ctl, the command line for the running target's run-time
commands, on the host (--no-huge, malloc bdevs): the target is found by its
process id (its socket in the telemetry directory), a namespace added with
`ctl ns-add` reaches a connected host (nvmf_host.py's spec-written host) as
the namespace-attribute AEN and in Identify, `ctl stats` shows it, `ctl
ns-remove` takes it away again; each refusal of the target (unknown
subsystem, taken NSID, bad bdev) is printed with its reason and exits 1,
each usage error is one line and exits 2, and with no target running the
command names the socket it tried and exits 1."""
import json
import os
import socket
import struct
import sys
import tempfile

import clitest
from clitest import check, finish, run
from nvmf_host import Host, enable, free_port, start_target, stop_target

TOOL = sys.argv[1]
NQN_A = 'nqn.2026-12.io.udk:ctl-a'
NQN_B = 'nqn.2026-12.io.udk:ctl-b'


def ctl(*args):
    return run([TOOL, 'ctl'] + [str(a) for a in args])


def refused(args, code, msg, what):
    rc, out, err = ctl(*args)
    check(rc == code and msg in err and err.count('\n') == 1 and out == '',
          '%s: exit %d, one line "%s"' % (what, code, msg), (rc, out, err))


def active(h):
    st, _, lst = h.admin(0x06, cdw10=2, read_len=4096)
    return st, [i for i in struct.unpack('<32I', lst[:128]) if i]


tmp = tempfile.mkdtemp(prefix='udk-nvmf-ctl.')
conf = os.path.join(tmp, 'tgt.conf')
img = os.path.join(tmp, 'disk.img')
with open(img, 'wb') as f:
    f.truncate(1 << 20)
port = free_port()
with open(conf, 'w') as f:
    f.write('listen 127.0.0.1:%d\nmalloc ra 8\nmalloc rb 8\n'
            'subsystem %s\n  allow-any-host\n  namespace ra\n'
            'subsystem %s\n  allow-any-host\n  namespace rb\n' % (port, NQN_A, NQN_B))

# Usage errors: one line, exit 2, before any socket is looked for.
for args, msg in [([], 'a command: ns-add, ns-remove or stats'),
                  (['frob'], "unknown command 'frob'"),
                  (['--frob', 'stats'], "unknown option '--frob'"),
                  (['-p', 'x', 'stats'], "--pid: 'x' is not a process id"),
                  (['-p', '1', '-s', '/x', 'stats'], 'give -p or -s, not both'),
                  (['stats', 'x'], "stats takes no argument, not 'x'"),
                  (['ns-add', NQN_A, '1'], 'usage: ns-add NQN NSID|auto BDEV'),
                  (['ns-add', NQN_A, 'two', 'malloc', 'x', '4'], "NSID 'two': a namespace ID"),
                  (['ns-add', NQN_A, '33', 'malloc', 'x', '4'], "NSID '33': a namespace ID"),
                  (['ns-add', NQN_A, '2', 'malloc', 'x'], "bdev 'malloc ...': KIND NAME ARGS"),
                  (['ns-remove', NQN_A], 'usage: ns-remove NQN NSID'),
                  (['ns-remove', NQN_A, 'auto'], "NSID 'auto': a namespace ID, 1 to 32")]:
    refused(args, 2, msg, 'usage error %s' % args)
rc, out, err = run([TOOL, 'ctl', 'ns-remove', b'nqn.\xff', '1'])
check(rc == 2 and 'must be UTF-8 text' in err, 'usage error: an NQN that is not UTF-8', (rc, err))

# Telemetry in its default directory: ctl finds the target by -p PID.
logf = open(os.path.join(tmp, 'tgt.log'), 'w+')
proc = start_target([TOOL, '--no-huge', '-m', '64', '--', '-c', conf], port, logf)
pid = proc.pid
try:
    a = Host(port)
    a.icreq()
    st, cntlid, _ = a.connect(NQN_A, kato=5000)
    enable(a)
    st, _, _ = a.admin(0x09, cdw10=0x0b, cdw11=1 << 8)  # namespace attribute notices on
    check(st == 0, 'host connected, namespace attribute notices on', hex(st))
    aer = a.post_aer()

    rc, out, err = ctl('-p', pid, 'ns-add', NQN_A, 2, 'malloc', 'rt1', 4)
    check(rc == 0 and out == 'namespace 2 of %s: bdev malloc:rt1:4\n' % NQN_A and err == '',
          'ctl -p PID ns-add NQN 2 malloc rt1 4 (the configuration file\'s spelling)', (rc, out, err))
    a.s.settimeout(5)
    got = a.wait_aer(aer)
    check(got == (5, True, 0, '0x40002'), 'the host gets the AEN: namespace attribute changed', got)
    check(active(a) == (0, [1, 2]), 'the host sees namespaces [1, 2]', active(a))
    st, _, idn = a.admin(0x06, nsid=2, cdw10=0, read_len=4096)
    check(st == 0 and struct.unpack('<Q', idn[:8])[0] == 4 * 2048, 'Identify namespace 2: 8192 blocks')

    rc, out, err = ctl('-p', pid, 'ns-add', NQN_B, 'auto', 'file', 'f1', img, 4096)
    check(rc == 0 and out == 'namespace 2 of %s: bdev file:f1:%s 4096\n' % (NQN_B, img),
          'ns-add auto with a file bdev and its block size: the lowest free NSID', (rc, out, err))
    rc, out, err = ctl('-p', pid, 'ns-add', NQN_B, 'auto', 'null:n1:4:4096')
    check(rc == 0 and out.startswith('namespace 3 of %s: bdev null:n1:4:4096' % NQN_B),
          'ns-add with KIND:NAME:ARGS in one word', (rc, out, err))

    # The target's refusals: its message as it comes, exit 1, nothing changed.
    for args, msg in [
            (['ns-add', 'nqn.2026-12.io.udk:nope', 'auto', 'malloc', 'x1', 4],
             "no subsystem 'nqn.2026-12.io.udk:nope' here"),
            (['ns-add', NQN_A, 1, 'malloc', 'x1', 4], 'NSID 1 is taken in ' + NQN_A),
            (['ns-add', NQN_A, 'auto', 'floppy', 'x1', 4], 'the kind is malloc, null or file'),
            (['ns-add', NQN_A, 'auto', 'malloc', 'x1', 0], "size '0'"),
            (['ns-add', NQN_A, 'auto', 'malloc', 'ra', 4], "bdev 'ra' is defined twice"),
            (['ns-add', NQN_A, 'auto', 'file', 'x1', '/nonexistent/dir/f'], 'bdev x1'),
            (['ns-remove', NQN_A, 9], 'no namespace 9 in ' + NQN_A),
            (['ns-remove', 'nqn.2026-12.io.udk:nope', 1], 'no subsystem')]:
        refused(['-p', pid] + args, 1, msg, 'the target refuses %s' % args[:3])
    check(active(a) == (0, [1, 2]), 'after the refusals: still [1, 2]', active(a))

    rc, out, err = ctl('-p', pid, 'stats')
    rows = {ln.split()[0]: ln.split() for ln in out.splitlines() if ln.startswith('nqn.')}
    check(rc == 0 and out.startswith('connections 1 open') and rows.get(NQN_A, [])[1:4] == ['2', '1', '1']
          and rows.get(NQN_B, [])[1] == '3', 'ctl stats: NQN, namespaces, controllers, queues', out + err)
    rc, out, err = ctl('--json', '-p', pid, 'stats')
    try:
        subs = {e['nqn']: e for e in json.loads(out)['data']['subsystems']}
    except (ValueError, KeyError, TypeError):
        subs = {}
    check(rc == 0 and subs.get(NQN_A, {}).get('namespaces') == 2, 'ctl --json stats: the raw answer',
          out + err)

    # Without -p or -s: the only target that listens.  A socket a killed
    # target left beside ours is passed over (other targets of this machine
    # may be running too: then ctl asks for -p, and names live ones only).
    ours = [d for d in ['/run/udk', os.environ.get('XDG_RUNTIME_DIR', '/nonexistent') + '/udk',
                        '/tmp/udk-%d' % os.geteuid()]
            if os.path.exists('%s/udk-nvmf-tgt.%d.sock' % (d, pid))]
    check(len(ours) == 1, 'the target\'s socket is in a telemetry directory', ours)
    stale = os.path.join(ours[0] if ours else tmp, 'udk-nvmf-tgt.9999999.sock')
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(stale)
        s.close()
        rc, out, err = ctl('stats')
    finally:
        os.unlink(stale)
    check('9999999' not in err and ((rc == 0 and NQN_A in out) or 'targets are running' in err),
          'ctl stats with no -p/-s: the live target, the stale socket passed over', (rc, out, err))

    aer = a.post_aer()
    rc, out, err = ctl('-p', pid, 'ns-remove', NQN_A, 2)
    check(rc == 0 and out == 'namespace 2 of %s removed\n' % NQN_A, 'ctl ns-remove NQN 2', (rc, out, err))
    got = a.wait_aer(aer)
    check(got == (5, True, 0, '0x40002') and active(a) == (0, [1]),
          'the host gets the AEN and sees namespaces [1]', (got, active(a)))
    refused(['-p', pid, 'ns-remove', NQN_A, 2], 1, 'no namespace 2 in ' + NQN_A, 'removed twice')
    a.s.close()
finally:
    stop_target(proc, logf, clitest.failures)

# No target: the socket it tried, exit 1.
refused(['-p', pid, 'stats'], 1, 'udk-nvmf-tgt.%d.sock' % pid, 'the target gone (-p)')
refused(['-p', pid, 'stats'], 1, 'no target with process id %d' % pid, 'the target gone (-p), said so')
missing = os.path.join(tmp, 'none.sock')
refused(['-s', missing, 'stats'], 1, missing + ': No such file or directory', 'no socket at -s PATH')
stale = os.path.join(tmp, 'stale.sock')
s = socket.socket(socket.AF_UNIX)
s.bind(stale)
s.close()  # the file stays, nobody listens: what a killed target leaves
refused(['-s', stale, 'ns-remove', NQN_A, 1], 1, stale + ': Connection refused (a stale socket',
        'a stale socket at -s PATH')
finish()
