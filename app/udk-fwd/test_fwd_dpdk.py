#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""udk-fwd over DPDK ports (drivers/net/dpdk), on the host, no hardware:

1. txonly --verify on a DPDK net_ring port (DPDK's ring PMD, looped back) and a
   udk net_ring port: every frame comes back whole and in sequence, and the
   DPDK port moved it without a copy (port_copies 0).
2. io forwarding between a DPDK net_null port (a source DPDK writes into udk's
   buffers) and a udk net_ring port: what one port receives the other sends.
3. the bad inputs: no dev=, an unknown argument, a DPDK device that does not
   exist, bad DPDK EAL arguments.

4. dpdk-testpmd as the far peer (tests/peer/testpmd.py): testpmd serves
   vhost-user (net_vhost) and reflects every frame (io forwarding on one
   port); udk-fwd sends through DPDK's virtio-user PMD as a udk port, in copy
   mode (virtio-user's peer can reach only memory DPDK shares with it), and
   verifies what comes back; every packet counted as copied.
5. the same peer behind udk's own virtio-user port (drivers/net/virtio):
   udk-fwd forwards (io) between it and a DPDK net_ring port; frames go round
   and are verified on every receive; udk-fwd's and testpmd's counts agree.
6. udk's own buffers sent through DPDK's net_null (DPDK frees them): they come
   home to udk-fwd's pool of 1023, 100 times over in a second.
7. rx_check=1 with udk's port number differing from DPDK's: the checked
   receive path, no copy.
8. a dpdk port's statistics are the PMD's: net_null counts no bytes, and
   udk-fwd says so (0 bytes, n/a Gbit/s) rather than making a figure up.
Usage: test_fwd_dpdk.py UDK-FWD
"""
import json
import re
import os
import shutil
import subprocess
import sys
import tempfile

# tests/peer/testpmd.py: dpdk-testpmd as a vhost-user back-end.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "peer"))
import testpmd  # noqa: E402

FWD = sys.argv[1]
DPDK = "--no-pci --no-huge -m 256 --no-shconf --no-telemetry -l 0 --log-level=lib.eal:warning"
failures = 0


def run(eal, opts, dpdk_args=DPDK, timeout=60):
    cmd = [FWD, "--no-huge", "-l", "0"] + eal + ["--"] + opts
    if dpdk_args is not None:
        cmd += ["--dpdk-args", dpdk_args]
    print("$", " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    print(p.stdout + p.stderr, flush=True)
    return p


def check(cond, what):
    global failures
    print(("ok: " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        failures += 1


def summary(p):
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


# 1. txonly --verify, both ports loop back.
p = run(["--vdev", "dpdk0,dev=net_ring0", "--vdev", "net_ring1"],
        ["--mode", "txonly", "--verify", "--duration", "1", "--interval", "0", "--json"],
        DPDK + " --vdev net_ring0")
s = summary(p)
check(p.returncode == 0 and s is not None, "txonly over a DPDK net_ring port ran")
if s:
    for port in s["ports"]:
        check(port["valid"] > 10000, "port %d verified %d frames" % (port["port"], port["valid"]))
        check(port["invalid"] == 0 and port["lost"] == 0,
              "port %d: none corrupted or lost" % port["port"])
        check(port["rx"] == port["tx"], "port %d: every frame sent came back" % port["port"])
    check(s["ports"][0]["port_copies"] == 0, "the DPDK port copied nothing")

# 2. io: DPDK's net_null is the source; the udk ring port sends everything back.
p = run(["--vdev", "dpdk0,dev=net_null0", "--vdev", "net_ring1"],
        ["--mode", "io", "--duration", "1", "--interval", "0", "--json"])
s = summary(p)
check(p.returncode == 0 and s is not None, "io between DPDK net_null and udk net_ring ran")


def null_ring_counts(null, ring, copies_what):
    """io between net_null and a udk ring port: what each received the other
    sent, no copy."""
    check(null["rx"] > 10000, "net_null gave %d packets" % null["rx"])
    # Forwarding is synchronous: every packet one port received was sent on
    # the other or counted as dropped there.
    check(ring["tx"] + ring["dropped"] == null["rx"],
          "udk port sent what the DPDK port received (%d + %d dropped of %d)"
          % (ring["tx"], ring["dropped"], null["rx"]))
    check(null["tx"] + null["dropped"] == ring["rx"],
          "DPDK port sent what the udk port received (%d + %d dropped of %d)"
          % (null["tx"], null["dropped"], ring["rx"]))
    inflight = ring["tx"] - ring["rx"]
    check(0 <= inflight <= 4096, "udk ring returned all but %d in flight" % inflight)
    check(null["port_copies"] == 0, copies_what)


if s:
    null_ring_counts(s["ports"][0], s["ports"][1], "net_null's packets reached udk without a copy")

# 3. bad input.
p = run(["--vdev", "dpdk0"], ["--duration", "0.1"])
check(p.returncode != 0 and "name the DPDK device" in p.stderr, "a dpdk port without dev=")
p = run(["--vdev", "dpdk0,dev=net_null0,speed=9"], ["--duration", "0.1"])
check(p.returncode != 0 and "unknown argument 'speed=9'" in p.stderr, "an unknown argument")
p = run(["--vdev", "dpdk0,dev=0000:99:00.0"], ["--duration", "0.1"])
check(p.returncode != 0 and "DPDK has no port 0000:99:00.0" in p.stderr,
      "a DPDK device that does not exist")
p = run(["--vdev", "dpdk0,dev=net_null0"], ["--duration", "0.1"], "--no-such-option")
check(p.returncode != 0 and "rte_eal_init" in p.stderr and "--dpdk-args" in p.stderr,
      "bad DPDK EAL arguments")

# 6. udk's own buffers through a DPDK PMD: txonly on net_null, whose transmit
# frees every buffer with DPDK's free; each must come home to udk-fwd's pool
# (1023 buffers), or sending stops within a millisecond.
p = run(["--vdev", "dpdk0,dev=net_null0"],
        ["--mode", "txonly", "--nb-mbufs", "1023", "--duration", "1", "--interval", "0", "--json"])
s = summary(p)
check(p.returncode == 0 and s is not None, "txonly of udk buffers to DPDK net_null ran")
if s:
    null = s["ports"][0]
    check(null["tx"] > 100 * 1023, "DPDK freed udk's buffers home: %d sent with 1023 buffers"
          % null["tx"])
    check(null["port_copies"] == 0, "udk's buffers went to DPDK without a copy")

# 7. The checked receive: rx_check=1 (every buffer's pool looked at) on a DPDK
# port whose udk port number (1) is not DPDK's (0), so each packet's port is
# rewritten; forwarding as in 2.
p = run(["--log-level", "info", "--vdev", "net_ring0", "--vdev", "dpdk1,dev=net_null0,rx_check=1"],
        ["--mode", "io", "--duration", "1", "--interval", "0", "--json"])
s = summary(p)
check(p.returncode == 0 and s is not None, "io with a checked DPDK receive ran")
if s:
    null_ring_counts(s["ports"][1], s["ports"][0], "checked buffers were DPDK's own: no copy")
    check("received buffers checked" in p.stderr or "received buffers checked" in p.stdout,
          "the port says it checks received buffers")

# 8. Statistics are the PMD's own: net_null counts packets but no bytes, so
# udk-fwd reports 0 bytes and "n/a Gbit/s" for it, as testpmd shows 0; the
# udk ring port next to it counts 64 bytes a frame.
p = run(["--vdev", "dpdk0,dev=net_null0", "--vdev", "net_ring1"],
        ["--mode", "io", "--duration", "2.5", "--interval", "1", "--json"])
s = summary(p)
check(p.returncode == 0 and s is not None, "io with live lines ran")
if s:
    null, ring = s["ports"]
    check(null["rx"] > 0 and null["rx_bytes"] == 0 and null["tx_bytes"] == 0,
          "net_null: %d packets, 0 bytes (it counts none)" % null["rx"])
    check(ring["rx_bytes"] == 64 * ring["rx"] and ring["tx_bytes"] == 64 * ring["tx"],
          "net_ring: 64 bytes a frame")
    # Live lines start with the time of day: "18:41:43.879 port 0: rx ...".
    lines = [ln for ln in p.stderr.splitlines() if re.match(r"\d\d:\d\d:\d\d\.\d{3} port 0: rx", ln)]
    check(len(lines) >= 1 and all("n/a Gbit/s" in ln for ln in lines),
          "net_null's live lines say n/a Gbit/s (%d lines)" % len(lines))


# 4 and 5: dpdk-testpmd as the far peer over vhost-user (tests/peer's helper).
def peer_leg(tmp, name, leg):
    sock = os.path.join(tmp, name + ".sock")
    try:
        peer = testpmd.Testpmd(sock, tmp, "udkfwd%d-%s" % (os.getpid(), name))
    except RuntimeError as e:
        check(False, "dpdk-testpmd listens on %s: %s" % (sock, e))
        return
    try:
        p = leg(sock)
    finally:
        st, out = peer.stop()
        shutil.rmtree("/var/run/dpdk/udkfwd%d-%s" % (os.getpid(), name), ignore_errors=True)
    print(out[-1500:], flush=True)
    return p, st


def copy_leg(sock):
    """4. udk-fwd sends through DPDK's virtio-user PMD as a udk port, in copy
    mode (virtio-user's peer can reach only memory DPDK shares with it), and
    verifies what testpmd reflects; every packet counted as copied."""
    return run(["--vdev", "dpdk0,dev=net_virtio_user0"],
               ["--mode", "txonly", "--verify", "--duration", "2", "--interval", "0", "--json"],
               DPDK + " --vdev net_virtio_user0,path=%s" % sock)


TX_FIRST, BURST = 4, 32


def fwd_leg(sock):
    """5. udk-fwd forwards (io) between a DPDK software port (net_ring, looped
    back inside DPDK) and udk's own virtio-user port (drivers/net/virtio),
    whose back-end is testpmd reflecting every frame: the frames each port
    generates first (--tx-first) go round ring -> udk-fwd -> virtio ->
    testpmd -> virtio -> udk-fwd -> ring ... and are verified on every
    receive on both ports."""
    return run(["--vdev", "dpdk0,dev=net_ring0", "--vdev", "virtio_user0,path=%s" % sock],
               ["--mode", "io", "--tx-first", str(TX_FIRST), "--burst", str(BURST), "--verify",
                "--duration", "3", "--interval", "0", "--json"], DPDK + " --vdev net_ring0")


if testpmd.TESTPMD is None:
    print("skip: dpdk-testpmd not installed (package dpdk-dev): no far-peer legs", flush=True)
else:
    tmp = tempfile.mkdtemp()
    r = peer_leg(tmp, "copy", copy_leg)
    s = summary(r[0]) if r else None
    check(r is not None and r[0].returncode == 0 and s is not None,
          "udk-fwd over DPDK's virtio-user ran")
    if s:
        port = s["ports"][0]
        check(port["valid"] > 1000, "%d frames came back from dpdk-testpmd verified" % port["valid"])
        check(port["invalid"] == 0, "none corrupted")
        # testpmd drops what it cannot send back at once: a little loss is its own.
        check(port["lost"] * 20 <= port["valid"], "under 5%% lost (%d)" % port["lost"])
        check(port["port_copies"] == port["rx"] + port["tx"],
              "virtio-user needs DPDK's memory: every packet copied and counted (%d)"
              % port["port_copies"])

    r = peer_leg(tmp, "fwd", fwd_leg)
    s = summary(r[0]) if r else None
    st = r[1] if r else None
    check(r is not None and r[0].returncode == 0 and s is not None and st is not None,
          "udk-fwd between a DPDK net_ring port and udk's virtio-user port, testpmd the peer, ran")
    if s and st:
        ring, virtio = s["ports"]
        gen = TX_FIRST * BURST  # frames each port generated first
        for port, what in ((ring, "DPDK net_ring"), (virtio, "udk virtio-user")):
            check(port["valid"] > 20 * gen and port["invalid"] == 0,
                  "%s port: %d frames received, every byte verified, %d corrupted"
                  % (what, port["valid"], port["invalid"]))
            check(port["valid"] == port["rx"], "%s port: every frame it received was ours (%d of %d)"
                  % (what, port["valid"], port["rx"]))
        # Forwarding is synchronous: what one port received went out on the
        # other or was dropped there, besides the frames each port generated.
        check(virtio["tx"] + virtio["dropped"] == ring["rx"] + gen,
              "virtio port sent what the ring port received (%d + %d dropped = %d + %d generated)"
              % (virtio["tx"], virtio["dropped"], ring["rx"], gen))
        check(ring["tx"] + ring["dropped"] == virtio["rx"] + gen,
              "ring port sent what the virtio port received (%d + %d dropped = %d + %d generated)"
              % (ring["tx"], ring["dropped"], virtio["rx"], gen))
        # testpmd's own counters: it received what udk's virtio port sent
        # (less what was still in the queue when it stopped) and sent back at
        # least what that port received.
        check(virtio["tx"] - 2 * gen <= st["rx"] <= virtio["tx"],
              "testpmd received %d of the %d frames udk's virtio port sent" % (st["rx"], virtio["tx"]))
        check(virtio["rx"] <= st["tx"] and st["tx"] > 20 * gen,
              "testpmd sent %d frames back, udk's virtio port received %d" % (st["tx"], virtio["rx"]))
        check(ring["port_copies"] == 0, "the DPDK ring port copied nothing (%d)" % ring["port_copies"])
    shutil.rmtree(tmp, ignore_errors=True)

print("%d failed" % failures)
sys.exit(1 if failures else 0)
