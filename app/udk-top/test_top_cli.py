#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""udk-top on the host against a running udk-fwd (txonly over two crossed
net_ring ports): --json snapshots whose counters grow and never pass the
tool's own final report, found by pid (the default socket) and by path;
the live view for two screens; --help, --version and bad usage."""
import json
import os
import subprocess
import sys
import tempfile
import time

TOP, FWD = sys.argv[1], sys.argv[2]
EAL = ['--no-huge', '-m', '64', '-l', '0', '--vdev', 'net_ring0',
       '--vdev', 'net_ring1,peer=net_ring0']
failures = 0


def check(cond, what, detail=''):
    global failures
    print(('ok   ' if cond else 'FAIL ') + what)
    if not cond:
        failures += 1
        if detail:
            print('     ' + str(detail).replace('\n', '\n     '))


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
rc, out, err = top(['--json'])
check(rc == 0 and any(p['info']['pid'] == fwd.pid for p in json.loads(out)['processes']),
      'all processes: includes it', out[:500] + err)
fwd.communicate(timeout=30)

print('%d failed' % failures)
sys.exit(1 if failures else 0)
