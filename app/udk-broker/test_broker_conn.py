#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""udk-broker's connections against a hostile local user, on the host (no
VFIO: no request here gets past the policy to a device).  Needs root (to
connect as other uids) and a hugetlbfs mount (UDK_TEST_HUGE_DIR, else the
first in /proc/mounts, else one it mounts); skips (77) without.

  unlisted      a uid the policy does not name is refused at accept, with
                the reason; 80 such connections leave listed users served
  per-uid       a listed uid holds at most 4 connections; others are served
  idle          a connection without HELLO is dropped after 5 s, with ERROR
  linger        a TCP socket (10 s linger, full send queue) attached to a
                message does not hold up other users' answers
  stalled       with the closing thread stalled (a lingering socket queued
                in a UNIX socket), a sender's waiting descriptors are
                bounded and nobody else's wait
  emfile        out of descriptors, accept() is logged once and the broker
                does not spin (CPU time while connections wait)
  nofile        RLIMIT_NOFILE is raised at start to what the policy needs
  socket mode   --socket-group G gives the socket group G and mode 0660
  symlink       a symlink put in the socket's place right after bind() (by
                test_bind_swap.so) does not carry the mode or group to its
                target"""
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import clitest
from clitest import check

TOOL = os.path.abspath(sys.argv[1])
BIND_SWAP = os.path.abspath(sys.argv[2])


def huge_dir():
    d = os.environ.get('UDK_TEST_HUGE_DIR')
    if d:
        return d
    with open('/proc/mounts') as f:
        for line in f:
            dev, mnt, typ = line.split()[:3]
            if typ == 'hugetlbfs':
                return mnt
    return None


def connect_as(path, uid):
    """A socket connected to path by a process running as uid (so that
    SO_PEERCRED names uid), handed back to this process."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        try:
            a.close()
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.connect(path)
            socket.send_fds(b, [b'k'], [s.fileno()])
        finally:
            os._exit(0)
    b.close()
    _, fds, _, _ = socket.recv_fds(a, 1, 1)
    a.close()
    os.waitpid(pid, 0)
    return socket.socket(fileno=fds[0])


def answer(s, timeout):
    """The broker's next message (bytes), b'' when it closed, None on timeout."""
    s.settimeout(timeout)
    try:
        return s.recv(4096)
    except (socket.timeout, BlockingIOError):
        return None
    except ConnectionResetError:
        return b''


def served(path, uid, timeout=2.0):
    """Seconds until the broker answers junk from uid (with the parser's
    refusal), or None."""
    s = connect_as(path, uid)
    t0 = time.monotonic()
    try:
        s.send(b'junk')
    except OSError:
        return None
    m = answer(s, timeout)
    s.close()
    return time.monotonic() - t0 if m and b'malformed request' in m else None


def lingering_tcp(linger=10):
    """A TCP socket whose close blocks for linger seconds: SO_LINGER and a
    send queue the peer (returned, never read) does not drain."""
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.bind(('127.0.0.1', 0))
    lst.listen(1)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    tcp.connect(lst.getsockname())
    peer, _ = lst.accept()
    tcp.setblocking(False)
    for _ in range(20):
        try:
            while True:
                tcp.send(b'x' * 65536)
        except BlockingIOError:
            time.sleep(0.02)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, linger))
    return lst, tcp, peer


class Broker:
    def __init__(self, d, name, policy, args=(), pre=None, env=None):
        self.sock = os.path.join(d, name + '.sock')
        self.log = os.path.join(d, name + '.log')
        self.p = subprocess.Popen(
            (pre or []) + [TOOL, '--policy', policy, '--socket', self.sock, '--log', self.log,
                           '--huge-dir', HUGE] + list(args),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=dict(os.environ, **(env or {})))
        for _ in range(200):  # listening (and the socket's mode and group set)
            if 'listening on' in self.text():
                return
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError('udk-broker did not start: ' + self.text())

    def text(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ''

    def cpu(self):
        with open('/proc/%d/stat' % self.p.pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


if os.geteuid() != 0:
    print('SKIP: needs root (to connect as other uids)')
    sys.exit(77)
HUGE = huge_dir()
MOUNTED = None
if HUGE is None:  # the broker only asks the mount its page size: one of our own
    MOUNTED = tempfile.mkdtemp()
    if subprocess.run(['mount', '-t', 'hugetlbfs', 'nodev', MOUNTED]).returncode != 0:
        os.rmdir(MOUNTED)
        print('SKIP: no hugetlbfs mount, and none can be made (set UDK_TEST_HUGE_DIR)')
        sys.exit(77)
    HUGE = MOUNTED

with tempfile.TemporaryDirectory() as d:
    os.chmod(d, 0o755)
    policy = os.path.join(d, 'policy')
    with open(policy, 'w') as f:
        for uid in (0, 1000, 1001, 1002):
            f.write('user %d devices - mem 2M\n' % uid)

    b = Broker(d, 'main', policy)
    try:
        # unlisted: refused at accept, and they take no slot
        held = []
        t0 = time.monotonic()
        for _ in range(80):
            held.append(connect_as(b.sock, 4242))
        m = answer(held[0], 2)
        check(m is not None and b'uid 4242 (gid 4242) has no grant in policy' in m,
              'unlisted: a uid without a rule is refused at accept, with the reason', m)
        check(answer(held[0], 2) == b'', 'unlisted: ... and its connection closed')
        t = served(b.sock, 1000)
        check(t is not None, 'unlisted: 80 connections of an unlisted uid leave uid 1000 served',
              b.text()[-600:])
        # At most one line per started second of the refusals (however
        # slowly a loaded host forked the 80 connections), and fewer than
        # the 80 refusals: a bound that fails when every refusal is logged.
        secs = time.monotonic() - t0
        most = min(int(secs) + 1, 79)
        n = b.text().count('REFUSED uid 4242 ')
        check(1 <= n <= most,
              'unlisted: refusals of one uid in a row are logged at most once a second '
              '(%d lines in %.1f s, at most %d)' % (n, secs, most), b.text()[-600:])
        for s in held:
            s.close()

        # per-uid cap
        held = [connect_as(b.sock, 1001) for _ in range(4)]
        extra = connect_as(b.sock, 1001)
        m = answer(extra, 2)
        check(m is not None and b'uid 1001 already has 4 connections' in m,
              'per-uid: a fifth connection of one uid is refused', m)
        check(served(b.sock, 1002) is not None, 'per-uid: another uid is still served')
        extra.close()

        # idle: the four held connections sent nothing
        t0 = time.monotonic()
        m = answer(held[0], 9)
        dt = time.monotonic() - t0
        check(m is not None and b'no HELLO within 5000 ms' in m and dt < 7,
              'idle: a connection without HELLO is dropped after 5 s (%.1f s)' % dt, m)
        for s in held:
            s.close()

        # linger: the broker closes what a client attached, off its thread.
        # Stopped while the fd is sent and this copy closed, the broker's
        # close is the last one, the one that lingers.
        for how in ('read with a message', 'queued behind a refused one'):
            lst, tcp, peer = lingering_tcp()
            evil = connect_as(b.sock, 1000)
            os.kill(b.p.pid, signal.SIGSTOP)
            if how != 'read with a message':
                evil.send(b'junk first')  # refused: the connection is dropped
            socket.send_fds(evil, [b'with a socket attached'], [tcp.fileno()])
            tcp.close()
            os.kill(b.p.pid, signal.SIGCONT)
            time.sleep(0.2)
            t = served(b.sock, 1001, timeout=15)
            check(t is not None and t < 1.0,
                  'linger: a lingering socket %s (uid 1000) does not hold up uid 1001 '
                  '(answered in %s s)' % (how, None if t is None else '%.2f' % t))
            evil.close()
            peer.close()
            lst.close()

        # stalled: a UNIX socket with a lingering TCP socket queued in it
        # (out of reach of SO_LINGER 0) stalls the thread that closes what
        # clients sent.  Others are still served; the sender's waiting
        # descriptors are bounded (its connections refused at accept past
        # 32); others' connections do not wait behind it.
        lst, tcp, peer = lingering_tcp(60)
        inner, carrier = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        socket.send_fds(inner, [b'inner'], [tcp.fileno()])
        tcp.close()
        inner.close()
        evil = connect_as(b.sock, 1000)
        os.kill(b.p.pid, signal.SIGSTOP)
        socket.send_fds(evil, [b'carrier'], [carrier.fileno()])
        carrier.close()
        os.kill(b.p.pid, signal.SIGCONT)
        evil.close()
        time.sleep(0.3)
        t = served(b.sock, 1001)
        check(t is not None and t < 1.0, 'stalled: with the closing thread stalled, uid 1001 is '
              'served (%s s)' % (None if t is None else '%.2f' % t))
        refused_after = None
        null = os.open('/dev/null', os.O_RDONLY)
        for i in range(40):
            s = connect_as(b.sock, 1000)
            try:
                socket.send_fds(s, [b'more'], [null, null])
            except OSError:
                pass
            m = answer(s, 2)
            s.close()
            if m and b'still waiting to be closed' in m:
                refused_after = i
                break
        os.close(null)
        check(refused_after is not None and refused_after <= 20,
              'stalled: uid 1000 is refused at accept once 32 of its descriptors wait to be '
              'closed (after %s connections)' % refused_after, b.text()[-400:])
        fd0 = len(os.listdir('/proc/%d/fd' % b.p.pid))
        for _ in range(30):
            served(b.sock, 1001)
        time.sleep(0.5)
        fd1 = len(os.listdir('/proc/%d/fd' % b.p.pid))
        check(fd1 - fd0 < 5, 'stalled: 30 connections of uid 1001 that come and go leave no '
              'descriptor open behind the stall (%d then %d)' % (fd0, fd1))
        check(served(b.sock, 1002) is not None, 'stalled: uid 1002 is still served')
        peer.close()
        lst.close()

        # The same kind of descriptor where the serving thread itself would
        # close it: past the 80 a message may carry, and on a message too
        # long for the broker's buffer.  uid 0 must still be answered.
        for uid, how in ((1002, 'on a message too long to read whole'),
                         (1001, 'as the 100th descriptor of one message')):
            lst, tcp, peer = lingering_tcp(60)
            inner, carrier = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            socket.send_fds(inner, [b'inner'], [tcp.fileno()])
            tcp.close()
            inner.close()
            evil = connect_as(b.sock, uid)
            nulls = [os.open('/dev/null', os.O_RDONLY) for _ in range(99)]
            os.kill(b.p.pid, signal.SIGSTOP)
            if uid == 1002:
                socket.send_fds(evil, [b'x' * 6000], [carrier.fileno()])
            else:
                socket.send_fds(evil, [b'x' * 20], nulls + [carrier.fileno()])
            carrier.close()
            for n in nulls:
                os.close(n)
            os.kill(b.p.pid, signal.SIGCONT)
            time.sleep(0.3)
            t = served(b.sock, 0, timeout=15)
            check(t is not None and t < 1.0, 'stalled: a lingering socket %s does not hold up '
                  'uid 0 (answered in %s s)' % (how, None if t is None else '%.2f' % t))
            evil.close()
            peer.close()
            lst.close()
    finally:
        b.stop()

    # emfile: no CAP_SYS_RESOURCE, so the broker cannot raise its hard limit
    b = Broker(d, 'emfile', policy,
               pre=['prlimit', '--nofile=16:16', 'setpriv', '--inh-caps=-sys_resource',
                    '--bounding-set=-sys_resource'])
    try:
        held = []
        for uid in (0, 1000, 1001, 1002):
            for _ in range(4):
                held.append(connect_as(b.sock, uid))
        time.sleep(0.5)
        c0 = b.cpu()
        time.sleep(3)
        spent = b.cpu() - c0
        check(spent < 0.3, 'emfile: the broker out of descriptors does not spin (%.2f s of CPU '
              'in 3 s)' % spent)
        check(b.text().count('accept: Too many open files') == 1,
              'emfile: accept() running out is logged once', b.text()[-800:])
        check('RLIMIT_NOFILE stays 16' in b.text(), 'emfile: the limit it could not raise is '
              'logged', b.text()[-800:])
        for s in held:
            s.close()
        time.sleep(6)  # the waiting ones are accepted, then time out
        check(served(b.sock, 1000) is not None and 'accept: works again' in b.text(),
              'emfile: once descriptors are free, connections are served again', b.text()[-800:])
    finally:
        b.stop()

    # nofile: raised at start
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    b = Broker(d, 'nofile', policy, pre=['prlimit', '--nofile=32:%d' % hard])
    try:
        with open('/proc/%d/limits' % b.p.pid) as f:
            soft = [int(l.split()[3]) for l in f if l.startswith('Max open files')][0]
        need = 64 + 64 + 4 * (4 + 64 + 32 + 4 * 253)
        check(soft >= need and 'RLIMIT_NOFILE raised from 32 to %d' % need in b.text(),
              'nofile: RLIMIT_NOFILE raised at start to what the policy needs (%d)' % soft,
              b.text())
    finally:
        b.stop()

    # socket mode and group
    b = Broker(d, 'group', policy, ['--socket-group', '100'])
    try:
        st = os.lstat(b.sock)
        check(st.st_mode & 0o777 == 0o660 and st.st_gid == 100,
              '--socket-group 100: the socket is group 100, mode 0660 (%o, gid %d)'
              % (st.st_mode & 0o777, st.st_gid))
    finally:
        b.stop()
    b = Broker(d, 'default', policy)
    try:
        st = os.lstat(b.sock)
        check(st.st_mode & 0o777 == 0o666, 'by default the socket is mode 0666 (%o)'
              % (st.st_mode & 0o777))
    finally:
        b.stop()
    # symlink: the path swapped for a link right after bind()
    target = os.path.join(d, 'precious')
    with open(target, 'w') as f:
        f.write('root only\n')
    os.chmod(target, 0o600)
    for args in ([], ['--socket-group', '100']):
        b = Broker(d, 'swapped', policy, args,
                   env={'LD_PRELOAD': BIND_SWAP, 'UDK_TEST_SWAP_TARGET': target,
                        # a broker built with ASan wants its runtime first
                        'ASAN_OPTIONS': 'verify_asan_link_order=0'})
        try:
            st = os.stat(target)
            check(st.st_mode & 0o777 == 0o600 and st.st_gid == 0,
                  'symlink: a link in the socket\'s place keeps its target mode 0600, group 0 '
                  '(%s: %o, gid %d)' % (' '.join(args) or 'default mode', st.st_mode & 0o777,
                                        st.st_gid))
        finally:
            b.stop()
        for left in (b.sock, b.sock + '.real'):  # the broker removed the link
            if os.path.lexists(left):
                os.unlink(left)
if MOUNTED:
    subprocess.run(['umount', MOUNTED])
    os.rmdir(MOUNTED)
clitest.finish()
