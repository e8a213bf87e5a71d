#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""udk's virtio-user port against DPDK's vhost-user back-end (dpdk-testpmd
--vdev net_vhost0, a peer udk did not write), on the host:

- udk-fwd generates numbered frames, testpmd echoes them (io forwarding),
  udk-fwd verifies every byte; testpmd's own counters must agree;
- testpmd generates UDP frames, udk-fwd receives them and writes a pcap file
  whose frames must be testpmd's;
- the heap grows while the port runs and frames from the new segment still
  reach the peer (peer_vhost_grow);
- udk as the server (server=1) and testpmd as the client (client=1);
- testpmd killed mid-stream and started again, with udk as the server and as
  the client: the port comes back by itself, traffic resumes within 1 s of
  the link coming back, every frame verified, the port's counters kept
  across the gap and the frames in flight counted as lost;
- bad cases: no socket, a stale socket, a back-end that never answers, bad
  arguments, and the back-end killed mid-run: each a clear error, no hang.

Sections 1 and 2 run with split and with packed virtqueues (packed_vq=1),
testpmd's log showing which was negotiated.
Every check requires traffic that actually flowed (counts > 0 and equal on
both sides), so the test cannot pass when nothing moved.
Usage: test_vhost_user.py UDK_FWD PEER_VHOST_GROW L2ECHO PEER_VHOST_MQ"""
import json
import math
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import clitest  # tests/tool's (meson puts it on PYTHONPATH)
import testpmd  # this directory's: the dpdk-testpmd peer
from clitest import check

FWD, GROW, L2ECHO, MQ = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
TESTPMD = testpmd.TESTPMD


testpmd.require()

TMP = tempfile.mkdtemp(prefix='udk-peer-')
EAL = ['--no-huge', '-m', '256', '-l', '0']
# testpmd's runtime directory (/var/run/dpdk/PREFIX), removed at the end.
PREFIX = 'udk-peer-%d' % os.getpid()


def Testpmd(sock, mode='io', extra=(), client=False, prefix=PREFIX, queues=1):
    return testpmd.Testpmd(sock, TMP, prefix, mode, extra, client, queues)


def fwd(vdev, args, timeout=120):
    t0 = time.time()
    p = subprocess.run([FWD] + EAL + ['--vdev', vdev, '--'] + args, capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr, time.time() - t0


def summary(out):
    try:
        return json.loads(out)['ports'][0]
    except (ValueError, KeyError, IndexError):
        return None


SOCK = os.path.join(TMP, 'vhost.sock')
VDEV = 'virtio_user0,path=' + SOCK

# 1 and 2, for each ring format (packed_vq=1: VIRTIO_F_RING_PACKED, which
# testpmd's log must show negotiated).
def negotiated(log, bit, want=True):
    """Every feature set testpmd was given (at start, and again at stop)
    has bit set (or clear)."""
    m = re.findall(r'negotiated Virtio features: (0x[0-9a-f]+)', log)
    return bool(m) and all(bool(int(f, 16) >> bit & 1) == want for f in m)


def ring_format(log, packed):
    return negotiated(log, 34, packed)  # VIRTIO_F_RING_PACKED


def both_ways(vdev, fmt):
    # 1. Both ways, contents verified: udk-fwd generates, testpmd echoes.
    N = 200000
    tp = Testpmd(SOCK, 'io')
    rc, out, err, _ = fwd(vdev, ['--mode', 'txonly', '--verify', '--count', str(N), '--json',
                                 '--interval', '0', '--pkt-size', '128'])
    st, log = tp.stop()
    s = summary(out)
    # A frame is lost only where testpmd counted a drop: its transmit into
    # udk's receive ring when that ring was full (the generator outruns the
    # echo).
    check(rc == 0 and s is not None and st is not None and s['rx'] >= N and
          s['valid'] == s['rx'] and s['invalid'] == 0 and s['lost'] <= st['tx_dropped'] and
          s['rx_bytes'] == 128 * s['rx'] and s['port_ierrors'] == 0 and
          ring_format(log, fmt == 'packed'),
          '%s: udk-fwd -> testpmd (io) -> udk-fwd: %s frames came back, every byte verified; '
          '%s lost, all dropped by testpmd (%s)' % (fmt, s and s['rx'], s and s['lost'],
                                                    st and st['tx_dropped']),
          '%s%s\ntestpmd: %s\n%s' % (out, err, st, log[-1500:]))
    check(st is not None and s is not None and s['rx'] <= st['tx'] and st['rx'] <= s['tx'] and
          st['rx'] >= s['rx'] and st['rx'] > 0,
          "%s: testpmd's counters agree: it received %s of udk's %s and sent %s back, udk got %s"
          % (fmt, st and st['rx'], s and s['tx'], st and st['tx'], s and s['rx']),
          '%s\n%s' % (st, log[-2000:]))

    # 2. testpmd generates (txonly, 64-byte UDP), udk-fwd receives into a pcap.
    tp = Testpmd(SOCK, 'txonly')
    pcap = os.path.join(TMP, 'rx.pcap')
    rc, out, err, _ = fwd(vdev, ['--mode', 'rxonly', '--count', '20000', '--json', '--interval',
                                 '0', '--pcap', pcap])
    st, log = tp.stop()
    s = summary(out)
    frames = good = 0
    try:
        data = open(pcap, 'rb').read()
        off = 24
        while off + 16 <= len(data):
            _, _, caplen, length = struct.unpack('<IIII', data[off:off + 16])
            fr = data[off + 16:off + 16 + caplen]
            frames += 1
            # testpmd's txonly frame: IPv4 (0x0800), UDP, 198.18.0.1 -> 198.18.0.2.
            good += (len(fr) == 64 and fr[12:14] == b'\x08\x00' and fr[23] == 17 and
                     fr[26:30] == bytes([198, 18, 0, 1]) and fr[30:34] == bytes([198, 18, 0, 2]))
            off += 16 + caplen
    except OSError as e:
        err += str(e)
    check(rc == 0 and s is not None and s['rx'] >= 20000 and frames == s['rx'] and
          good == frames and ring_format(log, fmt == 'packed'),
          "%s: testpmd (txonly) -> udk-fwd: %d frames received, all testpmd's UDP frames"
          % (fmt, frames), 'rc %d frames %d good %d\n%s%s' % (rc, frames, good, out, err[-2000:]))
    check(st is not None and s is not None and st['tx'] >= s['rx'],
          "%s: testpmd sent at least what udk-fwd received (%s >= %s)"
          % (fmt, st and st['tx'], s and s['rx']), str(st))


both_ways(VDEV, 'split')
both_ways(VDEV + ',packed_vq=1', 'packed')

# 2b. Two queue pairs (queues=2, VIRTIO_NET_F_MQ): testpmd echoes its receive
# queue q to its transmit queue q; what udk sends on queue q must come back
# on queue q, all of it, and nothing on the other.  Then 9014-byte frames
# (MTU 9000) with mergeable receive buffers (mrg_rxbuf=1): chains of mbufs
# out, frames spread over 5 receive buffers back, every byte checked.
for fmt, extra, length in (('split', '', 128), ('packed', ',packed_vq=1', 128),
                           ('split', ',mrg_rxbuf=1', 9014),
                           ('packed', ',packed_vq=1,mrg_rxbuf=1', 9014)):
    tp = Testpmd(SOCK, 'io', queues=2, prefix=PREFIX + '-mq-%s-%d' % (fmt, length))
    p = subprocess.run([MQ, '2', str(length)] + EAL[:2] + ['512'] + EAL[3:] +
                       ['--vdev', VDEV + ',queues=2' + extra],
                       capture_output=True, text=True, timeout=180)
    st, log = tp.stop()
    check(p.returncode == 0 and 'every frame came back on its own queue' in p.stdout and
          'queue 1: sent 512, came back intact on queue 1: 512, on another queue: 0, bad: 0 '
          '(%d-byte frames)' % length in p.stdout
          and 'virtio-net queues come in pairs' in p.stdout and
          'the device has 1..2 rx and 1..2 tx queues' in p.stdout and st is not None and
          st['rx'] == 1024 and ring_format(log, fmt == 'packed') and
          negotiated(log, 22) and negotiated(log, 15, length > 1514),  # MQ, MRG_RXBUF
          '%s, 2 queue pairs, %d-byte frames: 512 per queue came back on their own queue; '
          'testpmd received %s' % (fmt, length, st and st['rx']),
          '%s%s\ntestpmd: %s\n%s' % (p.stdout, p.stderr[-1500:], st, log[-1500:]))

# 3. The heap grows while the port runs: the back-end gets the new table.
tp = Testpmd(SOCK, 'io')
p = subprocess.run([GROW] + EAL + ['--log-level', 'info', '--vdev', VDEV], capture_output=True,
                   text=True, timeout=120)
st, log = tp.stop()
check(p.returncode == 0 and 'after growth, from the new segment: sent 512, echoed intact 512' in
      p.stdout and 'the back-end has the new memory table' in p.stderr and
      'after stop and start: sent 512, echoed intact 512' in p.stdout,
      'heap growth: frames from the new segment reach the back-end and come back; after stop '
      'and start too',
      '%s%s\ntestpmd: %s\n%s' % (p.stdout, p.stderr[-2000:], st, log[-1500:]))

# 3b. doc/packet-io.md's example program against the same back-end.
tp = Testpmd(SOCK, 'io')
p = subprocess.run([L2ECHO] + EAL + ['--vdev', VDEV, '--', '--send', '1000', '--seconds', '30'],
                   capture_output=True, text=True, timeout=120)
st, log = tp.stop()
check(p.returncode == 0 and 'sent 1000, came back intact 1000' in p.stdout and st is not None
      and st['rx'] == 1000, 'examples/l2echo: 1000 frames to testpmd and back',
      '%s%s\ntestpmd: %s' % (p.stdout, p.stderr[-2000:], st))

# 4. The back-end dies mid-run: udk-fwd stops with the reason, no hang.
tp = Testpmd(SOCK, 'io')
killer = threading.Timer(3.0, lambda: tp.p.kill())
killer.start()
rc, out, err, secs = fwd(VDEV, ['--mode', 'io', '--tx-first', '4', '--duration', '60',
                               '--interval', '0', '--json'])
killer.join()
tp.stop()
s = summary(out)
check(rc == 1 and 'closed the connection: link down' in err and
      'port 0: link down during the run; stopping' in err and secs < 20 and
      s is not None and s['rx'] > 0,
      'back-end killed after 3 s: udk-fwd says so and exits 1 after %.1f s (%s frames looped '
      'before)' % (secs, s and s['rx']), 'rc %d\n%s%s' % (rc, out, err))

# 4b. udk is the server (server=1, with DPDK virtio_user's other spellings at
# the values udk takes), testpmd connects to it as a client.
SSOCK = os.path.join(TMP, 'udk.sock')
SVDEV = ('virtio_user0,path=%s,server=1,queues=1,queue_size=256,packed_vq=0,mrg_rxbuf=0,'
         'in_order=0' % SSOCK)


def fwd_bg(vdev, args, name):
    """udk-fwd in the background, its stderr in a file; returns once it
    listens (server=1) or at once."""
    err = open(os.path.join(TMP, name + '.err'), 'w+')
    p = subprocess.Popen([FWD] + EAL + ['--vdev', vdev, '--'] + args, stdout=subprocess.PIPE,
                         stderr=err, text=True)
    deadline = time.time() + 30
    while 'server=1' in vdev and not os.path.exists(SSOCK) and time.time() < deadline:
        time.sleep(0.05)
    return p, err


def fwd_end(p, err, timeout=180):
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    err.seek(0)
    return p.returncode, out, err.read()


p, errf = fwd_bg(SVDEV, ['--mode', 'txonly', '--verify', '--count', '100000', '--json',
                         '--interval', '0', '--pkt-size', '128'], 'server')
tp = Testpmd(SSOCK, 'io', client=True, prefix=PREFIX + '-c')
rc, out, err = fwd_end(p, errf)
st, log = tp.stop()
s = summary(out)
# udk sends as soon as testpmd connects, and testpmd empties its receive
# queues when its forwarding starts (flush_fwd_rx_queues, uncounted): frames
# lost are those testpmd dropped or never counted, no more.
check(rc == 0 and s is not None and st is not None and s['rx'] >= 100000 and
      s['valid'] == s['rx'] and s['invalid'] == 0 and
      s['lost'] <= st['tx_dropped'] + s['tx'] - st['rx'] and
      s['rx_bytes'] == 128 * s['rx'] and st['rx'] >= s['rx'],
      'server=1: testpmd (client=1) connected to udk; %s frames came back verified, testpmd '
      'received %s' % (s and s['rx'], st and st['rx']), '%s%s\ntestpmd: %s\n%s'
      % (out, err[-2000:], st, log[-1500:]))


# 4c. testpmd killed mid-stream and started again: the port resumes by itself.
def restart(vdev, sock, client, tag):
    """client: testpmd is the client (udk listens); else the server, first."""
    args = ['--mode', 'txonly', '--verify', '--link-wait', '60', '--json', '--interval', '1',
            '--pkt-size', '128']
    if client:
        p, errf = fwd_bg(vdev, args, tag)
    tp = Testpmd(sock, 'io', client=client, prefix=PREFIX + '-' + tag + '1')
    if not client:
        p, errf = fwd_bg(vdev, args, tag)
    time.sleep(4)                 # traffic flows
    tp.p.kill()
    tp.p.wait()
    time.sleep(1)
    tp2 = Testpmd(sock, 'io', client=client, prefix=PREFIX + '-' + tag + '2')
    # No fixed --duration: two testpmd start-ups on a loaded host can outlast
    # it.  Stop udk-fwd a second after it says traffic resumed (or at 60 s).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and p.poll() is None:
        errf.seek(0)
        if 'traffic resumed' in errf.read():
            time.sleep(1)
            break
        time.sleep(0.1)
    p.send_signal(signal.SIGINT)
    rc, out, err = fwd_end(p, errf)
    st, log = tp2.stop()
    s = summary(out)
    resumed = re.search(r'traffic resumed (\d+) ms after the link came back', err)
    inflight = sum(int(n) for n in re.findall(r'(\d+) frames of queue 1 were in flight', err))
    role = 'udk the server' if 'server=1' in vdev else 'udk the client'
    check(rc == 0 and s is not None and 'closed the connection: link down' in err and
          'link up again' in err and resumed is not None and int(resumed.group(1)) < 1000,
          '%s: testpmd killed and started again; the port came back and traffic resumed %s ms '
          'after the link did' % (role, resumed and resumed.group(1)),
          'rc %d\n%s%s' % (rc, out, err[-3000:]))
    # The port's own byte counter covers both halves only if its statistics
    # outlived the reconnection; testpmd's second life saw only part of them.
    check(s is not None and st is not None and s['valid'] == s['rx'] and s['invalid'] == 0 and
          s['rx_bytes'] == 128 * s['rx'] and s['rx'] > st['tx'] > 0 and
          s['port_oerrors'] == inflight,
          '%s: every frame verified (%s), counters kept across the gap (%s received, the new '
          'testpmd sent %s), %s in flight counted as lost' % (
              role, s and s['valid'], s and s['rx'], st and st['tx'], inflight),
          '%s\ntestpmd: %s' % (out, st))


restart(SVDEV, SSOCK, True, 'rs')
restart(VDEV, SOCK, False, 'rc')

# 4d. Packed rings are not handed to a new back-end: the link stays down, and
# says why and what to do, instead of resuming on rings the back-end misreads.
# The link wait must outlast the second testpmd's start-up (seconds under
# load): 4 s, or three times the first one's start-up, whichever is longer.
t0 = time.monotonic()
tp = Testpmd(SOCK, 'io', prefix=PREFIX + '-pk1')
started = time.monotonic() - t0
wait = max(4, math.ceil(3 * started))
p, errf = fwd_bg(VDEV + ',packed_vq=1', ['--mode', 'txonly', '--duration', str(30 + wait),
                                         '--link-wait', str(wait), '--json', '--interval', '0'],
                 'packed-restart')
time.sleep(3)
tp.p.kill()
tp.p.wait()
tp = Testpmd(SOCK, 'io', prefix=PREFIX + '-pk2')
rc, out, err = fwd_end(p, errf)
tp.stop()
check(rc == 1 and 'running packed virtqueues cannot be handed over; the link stays down: stop '
      'and start the port' in err and 'link down for more than %d s (--link-wait)' % wait in err,
      'packed rings, testpmd restarted: the link stays down, with the reason and the remedy '
      '(link wait %d s; the first testpmd started in %.1f s)' % (wait, started),
      'rc %d\n%s' % (rc, err[-2000:]))

# 5. Bad cases before any traffic.
rc, out, err, _ = fwd('virtio_user0,path=' + os.path.join(TMP, 'nothing.sock'), ['--duration', '1'])
check(rc == 1 and 'no such socket; start the back-end first' in err, 'no socket: named, with what '
      'to start', err)

stale = os.path.join(TMP, 'stale.sock')
s0 = socket.socket(socket.AF_UNIX)
s0.bind(stale)
s0.close()
rc, out, err, _ = fwd('virtio_user0,path=' + stale, ['--duration', '1'])
check(rc == 1 and 'refused; no back-end listens there' in err, 'stale socket: refused, said so', err)

mute = os.path.join(TMP, 'mute.sock')
srv = socket.socket(socket.AF_UNIX)
srv.bind(mute)
srv.listen(1)
rc, out, err, secs = fwd('virtio_user0,path=' + mute, ['--duration', '1'])
srv.close()
check(rc == 1 and 'no reply from the vhost-user back-end' in err and 'within 5000 ms' in err and
      secs < 30, 'a back-end that never answers: timeout after %.1f s, named' % secs, err)

for args, want in [(',queues=9', "queues=9: udk's virtio_user takes 1..8 queue pairs"),
                   (',queue_size=100', 'queue_size=100: a split virtqueue has a power of two'),
                   (',speed=10', "unknown argument 'speed'"),
                   (',mac=zz', 'mac=zz is not an address'),
                   (',packed_vq=3', 'packed_vq=3 is not a number in 0..1'),
                   (',mrg_rxbuf=2', 'mrg_rxbuf=2 is not a number in 0..1'),
                   (',in_order=1', 'in_order=1: net_virtio does not negotiate VIRTIO_F_IN_ORDER'),
                   (',server=2', 'server=2 is not a number in 0..1'),
                   (',cq=1', "unknown argument 'cq' (udk's virtio_user takes path=, server=")]:
    rc, out, err, _ = fwd(VDEV + args, ['--duration', '1'])
    check(rc == 1 and want in err, 'bad argument %s: "%s"' % (args, want), err)
notsock = os.path.join(TMP, 'plain-file')
open(notsock, 'w').close()
rc, out, err, _ = fwd('virtio_user0,server=1,path=' + notsock, ['--duration', '1'])
check(rc == 1 and 'exists and is not a socket' in err and os.path.exists(notsock),
      'server=1 on a path that is not a socket: refused, the file left alone', err)
rc, out, err, _ = fwd('virtio_user0', ['--duration', '1'])
check(rc == 1 and 'path=SOCKET is required' in err, 'no path=: says it is required', err)

shutil.rmtree(TMP, ignore_errors=True)
for d in os.listdir('/var/run/dpdk') if os.path.isdir('/var/run/dpdk') else []:
    if d == PREFIX or d.startswith(PREFIX + '-'):   # every testpmd this run started
        shutil.rmtree('/var/run/dpdk/' + d, ignore_errors=True)
clitest.finish()
