#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""udk-top on the host against a running udk-fwd (txonly over two crossed
net_ring ports): --json snapshots whose counters grow and never pass the
tool's own final report, found by pid (the default socket) and by path;
the live view for two screens, with no escape byte on a pipe; --help,
--version and bad usage.  Against a fake process planted in a private
$XDG_RUNTIME_DIR: escape sequences in its answers never reach the output
(pipe, pseudo-terminal, -b), and it is skipped with a message when its
directory or socket is writable by others or owned by another uid."""
import json
import os
import pty
import socket
import subprocess
import sys
import tempfile
import threading
import time

import clitest
from clitest import check

TOP, FWD = sys.argv[1], sys.argv[2]
EAL = ['--no-huge', '-m', '64', '-l', '0', '--vdev', 'net_ring0',
       '--vdev', 'net_ring1,peer=net_ring0']


def top(args):
    p = subprocess.run([TOP] + args, capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


rc, out, err = top(['--help'])
check(rc == 0 and '--json' in out and '-p, --pid' in out, '--help', out + err)
rc, out, err = top(['--version'])
check(rc == 0 and out.startswith('udk-top '), '--version', out)
for args, msg in ((['--bogus'], "unknown option '--bogus'"),
                  (['-p', 'x'], "--pid: 'x' is not a process id"),
                  (['-p'], '-p needs a value'),
                  (['-d', '0'], "--delay: '0' is not a number"),
                  (['-p', '1', '-s', '/x'], 'give -p or -s, not both')):
    rc, out, err = top(args)
    check(rc == 2 and msg in err, 'bad usage %s: exit 2 and "%s"' % (args, msg), err)
rc, out, err = top(['--json', '-p', '4000000'])
check(rc == 1 and 'no telemetry socket of process 4000000' in err, '-p of no udk process', err)
rc, out, err = top(['--json', '-s', '/nonexistent/x.sock'])
check(rc == 1 and '/nonexistent/x.sock' in err, '-s of no socket', err)


def tx_of(snap, name):
    for p in snap['ports']:
        if p['name'] == name:
            return p['stats']['opackets']
    return None


# -s of no socket, live: exit 1 with a line naming it (not "0 processes" forever).
try:
    rc, out, err = top(['-s', '/nonexistent/x.sock', '-d', '0.2'])
except subprocess.TimeoutExpired as e:
    rc, out, err = None, '', 'timed out after %ss' % e.timeout
check(rc == 1 and '/nonexistent/x.sock' in err and 'no such socket' in err,
      'live -s of no socket: exit 1', '%s %s' % (rc, err))


# Planted sockets: a fake udk process that answers every command, here with
# strings that hold terminal escape sequences (set the title, clear the
# screen, colours, a raw UTF-8 C1 CSI).
EVIL_PROG = r'/usr/bin/\u001b]0;pwned\u0007\u001b[2J'
EVIL_NAME = r'\u001b[31mred\u009b2J' + '\x9b'  # the last a raw C1 CSI (UTF-8 c2 9b)


def answers(pid):
    stats = '{"ipackets":1,"opackets":1,"ibytes":64,"obytes":64,"imissed":0,"ierrors":0,"oerrors":0}'
    return {
        'info': '{"data":{"pid":%d,"prog":"%s","uptime_s":3,"lcores":1}}' % (pid, EVIL_PROG),
        'lcores': '{"data":[{"lcore":0,"cpu":0,"busy_polls":5,"idle_polls":5,"running":true}]}',
        'ports': r'{"data":[{"port":0,"name":"%s","driver":"evil\u0007","link":{"up":true},'
                 '"stats":%s}]}' % (EVIL_NAME, stats),
        'nvme': '{"data":[]}', 'maps': '{"data":{}}', 'devices': '{"data":[]}',
        'nvmf': '{"data":{"connections":1,"subsystems":[{"nqn":"%s","ios":1}]}}' % EVIL_NAME,
        'vhost_blk': '{"data":[{"name":"%s\\u0007vb","connected":true,"queues_started":2,'
                     '"requests":7,"bytes_read":4096,"bytes_written":0,"in_flight":3,"errors":0,'
                     '"resubmitted":5}]}' % EVIL_NAME}


class FakeProc:
    """A socket at path answering like a udk process of the given pid."""

    def __init__(self, path, pid):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o600)
        self.sock.listen(8)
        self.ans = answers(pid)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c, c.makefile('rwb') as f:
                for line in f:
                    cmd = json.loads(line)['cmd']
                    f.write(self.ans.get(cmd, '{"error":{"code":-2,"message":"no"}}')
                            .encode() + b'\n')
                    f.flush()

    def close(self):
        self.sock.close()


def top_env(args, env):
    p = subprocess.run([TOP] + args, capture_output=True, timeout=30,
                       env=dict(os.environ, **env))
    return p.returncode, p.stdout.decode(errors='replace'), p.stderr.decode(errors='replace')


def top_pty(args):
    """udk-top with a terminal as stdout: the raw bytes it wrote."""
    master, slave = pty.openpty()
    p = subprocess.Popen([TOP] + args, stdin=subprocess.DEVNULL, stdout=slave,
                         stderr=subprocess.PIPE)
    os.close(slave)
    out = b''
    while True:
        try:
            b = os.read(master, 65536)
        except OSError:
            break
        if not b:
            break
        out += b
    p.wait(timeout=30)
    os.close(master)
    return p.returncode, out


def pids_of(out):
    try:
        return [p['info']['pid'] for p in json.loads(out)['processes']]
    except (ValueError, KeyError, TypeError):
        return None


def absent(out, pid):
    pids = pids_of(out)
    return pids is not None and pid not in pids


# (udk-top clears the screen itself: the planted clear is not told apart.)
ESCAPES = (b'\x1b]', b'\x07', b'\x1b[31m', b'\xc2\x9b')
with tempfile.TemporaryDirectory() as d:
    xdg = os.path.join(d, 'xdg')
    udir = os.path.join(xdg, 'udk')
    os.makedirs(udir, mode=0o700)
    os.chmod(xdg, 0o700)
    os.chmod(udir, 0o700)
    env = {'XDG_RUNTIME_DIR': xdg}
    good = FakeProc(os.path.join(udir, 'fake.4100001.sock'), 4100001)
    rc, out, err = top_env(['--json'], env)
    check(rc == 0 and 4100001 in (pids_of(out) or []), 'a socket in a private dir is listed',
          out[:300] + err)
    # --json keeps the strings as JSON (escaped), never raw control bytes.
    check(rc == 0 and '\x1b' not in out and '\x07' not in out, '--json: no raw escapes', out[:300])
    # Batch (stdout a pipe): no escape sequence at all, the planted ones filtered.
    rc, out, err = top_env(['-s', good.sock.getsockname(), '-n', '1'], env)
    check(rc == 0 and 'evil?' in out and 'pwned' in out and '\x1b' not in out and
          '\x07' not in out and '\x9b' not in out,
          'batch view of a hostile process: no escape bytes, strings shown with ?', repr(out[:900]))
    vb = [ln for ln in out.splitlines() if '?vb' in ln]
    check('vhost-blk devices' in out and len(vb) == 1 and vb[0].split()[2:4] == ['yes', '2'] and
          vb[0].split()[-3:] == ['3', '0', '5'],
          'vhost_blk: a row with its name filtered, connected, queues, in flight, resubmitted',
          repr(out[-600:]))
    # On a terminal: udk-top's own escapes only, none of the planted ones.
    rc, out = top_pty(['-s', good.sock.getsockname(), '-n', '1'])
    check(rc == 0 and b'pwned' in out and b'\x1b[H' in out and
          not any(e in out for e in ESCAPES), 'tty view of a hostile process: only our escapes',
          repr(out[:900]))
    # -b on a terminal: batch all the same.
    rc, out = top_pty(['-b', '-s', good.sock.getsockname(), '-n', '2', '-d', '0.2'])
    check(rc == 0 and b'pwned' in out and b'\x1b' not in out and out.count(b'processes\r\n') == 2,
          '-b on a terminal: two screens, no escape bytes', repr(out[:900]))

    # The same socket in a directory others may write: refused, with a line why.
    os.chmod(udir, 0o777)
    rc, out, err = top_env(['--json'], env)
    check(rc == 0 and absent(out, 4100001) and udir in err and
          'writable by group or others' in err,
          'a dir writable by others is skipped, with a message', out[:300] + err)
    rc, out, err = top_env(['--json', '-p', '4100001'], env)
    check(rc == 1 and udir in err, '-p: not found in a dir writable by others', err)
    os.chmod(udir, 0o700)
    # A socket others may write (its own mode), in a good dir: refused.
    os.chmod(good.sock.getsockname(), 0o666)
    rc, out, err = top_env(['--json'], env)
    check(rc == 0 and absent(out, 4100001) and
          'fake.4100001.sock' in err and 'writable by group or others' in err,
          'a socket writable by others is skipped, with a message', out[:300] + err)
    os.chmod(good.sock.getsockname(), 0o600)
    if os.geteuid() == 0:
        # Owned by another user (only root can make that here).
        os.chown(udir, 65534, 65534)
        rc, out, err = top_env(['--json'], env)
        check(rc == 0 and absent(out, 4100001) and udir in err and
              'owned by uid 65534' in err, 'a dir of another user is skipped', out[:300] + err)
        os.chown(udir, 0, 0)
        os.chown(good.sock.getsockname(), 65534, 65534)
        rc, out, err = top_env(['--json'], env)
        check(rc == 0 and absent(out, 4100001) and
              'owned by uid 65534' in err, 'a socket of another user is skipped', out[:300] + err)
        os.chown(good.sock.getsockname(), 0, 0)
    else:
        print('skip another user\'s dir and socket: needs root to chown')
    rc, out, err = top_env(['--json'], env)
    check(rc == 0 and 4100001 in (pids_of(out) or []), 'listed again once fixed', out[:300] + err)
    good.close()

with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, 'fwd.sock')
    fwd = subprocess.Popen([FWD] + EAL + ['--telemetry-path', path, '--', '--mode', 'txonly',
                                          '--duration', '4', '--json', '--interval', '0'],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    snaps = []
    deadline = time.time() + 20
    while fwd.poll() is None and time.time() < deadline:
        rc, out, err = top(['--json', '-s', path])
        if rc == 0:
            s = json.loads(out)['processes'][0]
            # A snapshot taken before udk-fwd probed its port has none yet.
            if tx_of(s, 'net_ring0') is not None:
                snaps.append(s)
        time.sleep(0.4)
    # By pid, through the default directories: not there (an explicit path).
    out, err = fwd.communicate(timeout=30)
    check(fwd.returncode == 0, 'udk-fwd ran', err)
    check(len(snaps) >= 3, '%d snapshots during the run' % len(snaps))
    if snaps and fwd.returncode == 0:
        final = json.loads(out)
        final_tx = final['ports'][0]['tx']
        tx = [tx_of(s, 'net_ring0') for s in snaps]
        busy = [s['lcores'][0]['busy_polls'] for s in snaps]
        check(all(a <= b for a, b in zip(tx, tx[1:])) and tx[-1] > tx[0] >= 0 and tx[-1] > 0,
              'port 0 opackets grow: %s' % tx)
        check(all(a <= b for a, b in zip(busy, busy[1:])) and busy[-1] > busy[0],
              'lcore 0 busy polls grow: %s' % busy)
        check(tx[-1] <= final_tx, 'last snapshot %d <= the final report %d' % (tx[-1], final_tx))
        check(snaps[0]['info']['pid'] == fwd.pid and snaps[0]['info']['socket'] == path,
              'info names the process and its socket', snaps[0]['info'])
        check(snaps[0]['info']['args'][-1] == '0' and '--telemetry-path' in snaps[0]['info']['args'],
              'info has the arguments')
        m = snaps[-1]['maps']
        check(m['maps'][0]['bytes_mapped'] >= m['memory']['bytes_reserved'] > 0,
              'maps: the heap is in the default map', m)
    check(not os.path.exists(path), 'the socket is gone after exit')

# The default socket, found by pid, and the live view.
fwd = subprocess.Popen([FWD] + EAL + ['--', '--mode', 'txonly', '--duration', '4',
                                      '--interval', '0'],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(1.0)
rc, out, err = top(['--json', '-p', str(fwd.pid)])
check(rc == 0 and json.loads(out)['processes'][0]['info']['pid'] == fwd.pid,
      'found by pid in the default directory', out + err)
rc, out, err = top(['-p', str(fwd.pid), '-n', '2', '-d', '0.5'])
check(rc == 0 and 'net_ring0' in out and 'processes' in out and 'lcores' in out and
      'BUSY%' in out, 'the live view draws ports and lcores', out[-2000:] + err)
check('\x1b' not in out, 'stdout not a terminal: no escape sequence', repr(out[:300]))
rc, out, err = top(['--json'])
check(rc == 0 and any(p['info']['pid'] == fwd.pid for p in json.loads(out)['processes']),
      'all processes: includes it', out[:500] + err)
fwd.communicate(timeout=30)

clitest.finish()
