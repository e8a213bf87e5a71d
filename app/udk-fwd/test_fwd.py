#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""udk-fwd on the host, over two crossed net_ring ports: generation with
verification, the JSON summary, byte figures (the ports' own counters: every
frame's length, both ways), the live lines, the pcap file, and every bad
input's message and exit status."""
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

FWD = sys.argv[1]
EAL = ['--no-huge', '-m', '64', '-l', '0', '--vdev', 'net_ring0',
       '--vdev', 'net_ring1,peer=net_ring0']
failures = 0


def run(args, eal=EAL):
    p = subprocess.run([FWD] + eal + ['--'] + args, capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def run_live(args, pattern, enough, tries=3):
    """run(args) until its stderr has `enough` lines matching pattern, at
    most `tries` times: the periods are wall-clock time, and a tick of the
    statistics side that a loaded host delays past the next period (or past
    --duration) merges or drops a period.  A tool that prints no or too few
    live lines fails every try."""
    for i in range(tries):
        rc, out, err = run(args)
        n = len(re.findall(pattern, err, re.M))
        if rc != 0 or n >= enough:
            break
        print('     (%s: %d live lines of %d wanted in run %d of %d)' % (
            ' '.join(args), n, enough, i + 1, tries))
    return rc, out, err


def check(cond, what, detail=''):
    global failures
    print(('ok   ' if cond else 'FAIL ') + what)
    if not cond:
        failures += 1
        if detail:
            print('     ' + detail.replace('\n', '\n     '))


rc, out, err = run(['--help'])
check(rc == 0 and '--mode MODE' in out and '--vdev' in out, '--help lists its and the EAL options', out + err)
p = subprocess.run([FWD, '--version'], capture_output=True, text=True)
check(p.returncode == 0 and p.stdout == 'udk-fwd (udk) %s\n' % os.environ['UDK_VERSION'],
      '--version says the project version', p.stdout)

rc, out, err = run(['--mode', 'txonly', '--verify', '--count', '20000', '--json', '--interval', '0'])
try:
    s = json.loads(out)
    ports = s['ports']
    ok = (rc == 0 and s['mode'] == 'txonly' and len(ports) == 2 and
          all(p['valid'] > 0 and p['invalid'] == 0 and p['lost'] == 0 for p in ports) and
          all(p['rx'] == p['valid'] for p in ports) and
          ports[0]['rx'] <= ports[1]['tx'] and ports[1]['rx'] <= ports[0]['tx'] and
          ports[0]['rx_bytes'] == 64 * ports[0]['rx'])
    check(ok, 'txonly --verify: every frame arrives whole and in sequence, both ways', out)
    check(all(p['rx_bytes'] == 64 * p['rx'] and p['tx_bytes'] == 64 * p['tx'] for p in ports),
          'rx_bytes and tx_bytes (the ports\' counters) are 64 per frame, both ports', out)
except (ValueError, KeyError) as e:
    check(False, 'txonly --json prints one JSON object', '%s: %s %s' % (e, out, err))

with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, 'rx.pcap')
    rc, out, err = run(['--mode', 'txonly', '--pkt-size', '100', '--count', '500', '--burst', '8',
                        '--pcap', path, '--json', '--interval', '0'])
    try:
        data = open(path, 'rb').read()
        magic, _, _, _, _, snap, link = struct.unpack('<IHHiIII', data[:24])
        off, frames, good = 24, 0, 0
        while off + 16 <= len(data):
            _, _, caplen, length = struct.unpack('<IIII', data[off:off + 16])
            frame = data[off + 16:off + 16 + caplen]
            frames += 1
            good += caplen == 100 and length == 100 and frame[12:14] == b'\x88\xb5'
            off += 16 + caplen
        ports = json.loads(out)['ports']
        rx0 = ports[0]['rx']
        check(all(p['rx_bytes'] == 100 * p['rx'] and p['tx_bytes'] == 100 * p['tx'] and
                  p['tx'] > 0 for p in ports),
              '--pkt-size 100: rx_bytes and tx_bytes are 100 per frame', out)
        check(rc == 0 and magic == 0xa1b2c3d4 and link == 1 and frames == rx0 and good == frames,
              '--pcap writes every frame received on the first port (%d)' % frames,
              'magic %x link %d frames %d good %d rx %d' % (magic, link, frames, good, rx0))
    except (OSError, ValueError, struct.error, KeyError, IndexError) as e:
        check(False, '--pcap writes a readable file', '%s %s' % (e, err))

# --count N: each port receives exactly N, with one lcore (the clock read
# every 64 rounds) and with a forwarding lcore beside the statistics one.
for lcores in ('0', '0,1'):
    eal = list(EAL)
    eal[eal.index('-l') + 1] = lcores
    for args in (['--mode', 'txonly', '--burst', '32'], ['--mode', 'io', '--tx-first', '4']):
        rc, out, err = run(args + ['--count', '5000', '--json', '--interval', '0'], eal=eal)
        try:
            got = [p['rx'] for p in json.loads(out)['ports']]
        except (ValueError, KeyError) as e:
            got = str(e)
        check(rc == 0 and got == [5000, 5000],
              '--count 5000 (%s, -l %s): each port received exactly 5000' % (args[1], lcores),
              'rc %d rx %s %s' % (rc, got, err))

# The live lines: Gbit/s is the ports' bytes plus 24 per frame (FCS,
# preamble, gap) over the same period as the Mpps beside it.
LIVE = r'port \d: rx ([\d.]+) Mpps ([\d.]+) Gbit/s \| tx ([\d.]+) Mpps ([\d.]+) Gbit/s'
rc, out, err = run_live(['--mode', 'txonly', '--pkt-size', '200', '--duration', '1.2',
                         '--interval', '0.3'], LIVE, 4)
lines = re.findall(LIVE, err)
check(rc == 0 and len(lines) >= 4 and
      all(abs(float(g) - float(m) * 224 * 8 / 1e3) <= 0.002 + float(m) * 0.002
          for l in lines for m, g in (l[0:2], l[2:4])) and
      any(float(l[0]) > 0 for l in lines),
      'live lines: Gbit/s = Mpps x (200 + 24) x 8 (%d lines)' % len(lines), err)

# Usage errors exit 2, what only the ports can tell (a port that does not
# exist, a frame longer than the MTU) and run-time failures 1.
bad = [
    (['--mode', 'fast'], 2, "--mode: 'fast' is not io, mac, txonly or rxonly"),
    (['--ports', '0,5'], 1, '--ports: port 5 does not exist (2 ports probed)'),
    (['--ports', 'x'], 2, "--ports: 'x' is not a port number"),
    (['--mode', 'txonly', '--pkt-size', '9000'], 1,
     "--pkt-size 9000 is longer than port 0's MTU 1500"),
    (['--pkt-size', '20'], 2, "--pkt-size: '20' is not a number in 60..9614"),
    (['--link-wait', '-1'], 2, "--link-wait: '-1' is not a number in 0..1e+07"),
    (['--burst'], 2, '--burst needs a value'),
    (['--intr-mode', 'sometimes'], 2, "--intr-mode: 'sometimes' is not poll, interrupt or adaptive"),
    (['--spin', '-1'], 2, "--spin: '-1' is not a number in 0..1e+09"),
    (['--spin-us', '0'], 2, "--spin-us: '0' is not a number in 1..1e+07"),
    (['--spin-us'], 2, '--spin-us needs a value'),
    (['--burst-gap', 'x'], 2, "--burst-gap: 'x' is not a number in 0..1e+06"),
    (['--idle-sleep', '--duration', '1'], 1,
     '--intr-mode: port 0: ethdev: rx interrupt of port 0: driver net_ring has no receive '
     'interrupts; poll this port'),
    (['--frobnicate'], 2, "unknown option '--frobnicate'"),
    (['--pcap', '/nonexistent/dir/x.pcap', '--duration', '0.1'], 1,
     '--pcap /nonexistent/dir/x.pcap: cannot create it: No such file or directory'),
    (['--ports', '0,1,0'], 2, '--ports: port 0 is listed twice; list each port once'),
    (['--ports', '1,1'], 2, '--ports: port 1 is listed twice'),
    (['--queues', '9'], 2, "--queues: '9' is not a number in 1..8"),
    (['--flows', '0'], 2, "--flows: '0' is not a number in 1..65535"),
    (['--queues', '2', '--count', '10'], 2, '--count: not with --queues 2'),
    (['--queues', '2', '--duration', '0.1'], 1,
     '--queues 2: one lcore per queue pair, and -l gives 1; give -l with 2 CPUs'),
]
for args, want_rc, want in bad:
    rc, out, err = run(args)
    check(rc == want_rc and ('udk-fwd: ' + want) in err,
          'bad input %s: exit %d, says "%s"' % (' '.join(args), want_rc, want), 'rc %d: %s' % (rc, err))

# A failed --pcap names its path once and, under LeakSanitizer (the ASan
# build), leaves nothing allocated behind.
rc, out, err = run(['--pcap', '/nonexistent/dir/x.pcap'])
check(rc == 1 and err.count('/nonexistent/dir/x.pcap') == 1 and 'LeakSanitizer' not in err,
      'a failed --pcap: the path once, no leak', err)

rc, out, err = run([], eal=['--no-huge', '-m', '64', '-l', '0'])
check(rc == 1 and 'no ports: give devices with -a BDF or --vdev NAME' in err, 'no ports: says how to give some', err)
rc, out, err = run([], eal=['--no-huge', '--vdev', 'net_tap0'])
check(rc == 1 and 'no driver takes this name' in err, 'an unknown --vdev is named', err)
rc, out, err = run([], eal=['--lcores', 'x'])
check(rc == 2 and 'udk-fwd: eal: ' in err and '-l' in err,
      'a bad EAL option is a usage error (exit 2) with its message', err)

# testpmd's options: the same run under its names (--opt=value too), or one
# line naming udk-fwd's option.
rc, out, err = run(['--forward-mode=txonly', '--txpkts', '100', '--rxd', '128', '--txd=128',
                    '--total-num-mbufs', '2048', '--stats-period', '0', '--count', '3000',
                    '--json'])
try:
    s = json.loads(out)
    ports = s['ports']
    check(rc == 0 and s['mode'] == 'txonly' and
          all(p['rx'] >= 3000 and p['rx_bytes'] == 100 * p['rx'] for p in ports) and
          err.count('all ports') == 0,
          'testpmd\'s --forward-mode=txonly --txpkts 100 --rxd/--txd --total-num-mbufs '
          '--stats-period 0: txonly, 100-byte frames, no live line', out + err)
    check(s['total']['rx'] == sum(p['rx'] for p in ports) and
          s['total']['tx'] == sum(p['tx'] for p in ports) and
          s['total']['rx_bytes'] == sum(p['rx_bytes'] for p in ports),
          'the JSON summary\'s total is the sum of the ports', out)
except (ValueError, KeyError) as e:
    check(False, 'testpmd options: one JSON object', '%s: %s %s' % (e, out, err))
for args, want in (
        (['--forward-mode', 'csum'],
         "--forward-mode csum: udk-fwd's modes are io, mac, txonly and rxonly (--mode)"),
        (['--txpkts', '64,64'],
         '--txpkts 64,64: udk-fwd sends one-segment frames: use --pkt-size N'),
        (['--rxd', '128', '--txd', '256'],
         '--txd 256: udk-fwd has one ring size for rx and tx: use --desc N'),
        (['--stats-period', 'x'], "--stats-period: 'x' is not a number")):
    rc, out, err = run(args)
    check(rc == 2 and ('udk-fwd: ' + want) in err, 'testpmd\'s %s: exit 2, says "%s"' %
          (' '.join(args), want), 'rc %d: %s' % (rc, err))

# The value of an option is never split at its '=' (as --dpdk-args
# '--iova-mode=va ...' must not be): here a pcap file named --a=b.pcap.
with tempfile.TemporaryDirectory() as d:
    p = subprocess.run([os.path.abspath(FWD)] + EAL + ['--', '--mode', 'txonly', '--count', '10',
                                                       '--pcap', '--a=b.pcap', '--interval=0'],
                       capture_output=True, text=True, timeout=60, cwd=d)
    check(p.returncode == 0 and os.path.exists(os.path.join(d, '--a=b.pcap')),
          'an option\'s value that looks like --x=y stays whole', p.stdout + p.stderr)

# Live lines carry the time of day; each period ends with all ports
# together; the text summary ends with the total of the ports.
STAMPED = r'^\d\d:\d\d:\d\d\.\d{3} (port \d+|all ports): rx '
rc, out, err = run_live(['--mode', 'txonly', '--interval', '0.2', '--duration', '0.9'], STAMPED, 6)
live = [l for l in err.splitlines() if re.match(STAMPED, l)]
check(rc == 0 and len(live) >= 6 and live[2].split(' ', 1)[1].startswith('all ports: rx ') and
      live[0][:12] == live[2][:12],
      'live lines: HH:MM:SS.mmm, port 0, port 1, then all ports, one stamp per period', err)
m = re.search(r'^all ports: rx (\d+) \([\d.]+ Mpps\), tx (\d+)', out, re.M)
prx = [int(x) for x in re.findall(r'^port \d+: rx (\d+)', out, re.M)]
check(m is not None and len(prx) == 2 and int(m.group(1)) == sum(prx) > 0,
      'the summary\'s "all ports" line is the sum of the ports', out)

# --queues: one lcore per queue pair (the main lcore the first of them with
# -l 0-1), txonly frames of 64 IPv4/UDP flows; net_ring carries queue q to the
# peer's queue q.  Every frame verified, both queues of both ports busy, each
# port's figures the sum of its queues'.
EAL2 = ['--no-huge', '-m', '128', '-l', '0-1', '--vdev', 'net_ring0',
        '--vdev', 'net_ring1,peer=net_ring0']
rc, out, err = run(['--mode', 'txonly', '--verify', '--queues', '2', '--flows', '64',
                    '--duration', '1', '--json', '--interval', '0'], eal=EAL2)
try:
    ports = json.loads(out)['ports']
    qs = [p['queues'] for p in ports]
    check(rc == 0 and '2 queue pairs each, 2 forwarding lcores' in err and
          all(len(q) == 2 and all(x['rx'] > 0 and x['valid'] == x['rx'] and x['invalid'] == 0
                                  for x in q) for q in qs) and
          all(p['rx'] == sum(x['rx'] for x in p['queues']) == p['valid'] and
              p['tx'] == sum(x['tx'] for x in p['queues']) for p in ports),
          '--queues 2 --flows 64 on -l 0-1: both queues of both ports carry verified frames',
          out + err)
except (ValueError, KeyError) as e:
    check(False, '--queues 2 --json prints one JSON object', '%s: %s %s' % (e, out, err))

print('%d failed' % failures)
sys.exit(1 if failures else 0)
