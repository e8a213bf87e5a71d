#!/usr/bin/env python3
"""udk-fwd over DPDK ports against dpdk-testpmd over the same ports, in one run.

Both forward in io mode between two DPDK net_null ports (DPDK's null PMD: its
receive fills buffers of the forwarder's pool, its transmit frees them), with
one forwarding lcore, bursts of 32, DPDK given the same EAL arguments.  Only
the forwarder differs: testpmd calls rte_eth_rx/tx_burst on DPDK mbufs; udk-fwd
goes through udk ports (drivers/net/dpdk: udk mbufs lent to DPDK as external
buffers, DPDK buffers in udk memory lent to udk).  The two alternate ROUNDS
times; each figure is the median of the per-second receive rates (both ports
summed, first second dropped).  Prints each round's figures and ratio, then
the best of each and the median of the per-round ratios (the goal: >= 0.95).
On a shared machine rounds vary widely: compare within a round.  Not
pass/fail.

Usage: dpdk_fwd_bench.py UDK-FWD [SECONDS] [ROUNDS]
"""
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

FWD = sys.argv[1]
SECS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 2
EAL = "--no-pci --no-huge -m 512 --no-shconf --no-telemetry --log-level=lib.eal:warning"
TESTPMD = shutil.which("dpdk-testpmd")


def median_after_first(samples):
    s = samples[1:] if len(samples) > 2 else samples
    return statistics.median(s) if s else 0.0


def testpmd():
    cmd = [TESTPMD] + EAL.split() + ["-l", "0,1", "--vdev", "net_null0", "--vdev", "net_null1",
                                     "--", "--forward-mode=io", "--nb-cores=1", "--burst=32",
                                     "--stats-period", "1", "--total-num-mbufs=16384"]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    time.sleep(SECS + 2)
    p.send_signal(signal.SIGINT)  # with --stats-period testpmd runs until signalled
    try:
        out, _ = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    # Per second: one Rx-pps line per port; sum the two of each period.
    pps = [int(x) for x in re.findall(r"Rx-pps:\s+(\d+)", out)]
    sums = [(pps[i] + pps[i + 1]) / 1e6 for i in range(0, len(pps) - 1, 2)]
    sums = [x for x in sums if x > 0]
    return median_after_first(sums)


def udk():
    cmd = [FWD, "--no-huge", "-l", "0,1", "--vdev", "dpdk0,dev=net_null0", "--vdev",
           "dpdk1,dev=net_null1", "--", "--mode", "io", "--burst", "32", "--duration",
           str(SECS + 1), "--interval", "1", "--nb-mbufs", "16383", "--dpdk-args", EAL + " -l 0"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=SECS + 60)
    rx = [float(x) for x in re.findall(r"port \d+: rx ([0-9.]+) Mpps", p.stderr)]
    sums = [rx[i] + rx[i + 1] for i in range(0, len(rx) - 1, 2)]
    return median_after_first(sums), p.returncode, p.stderr[-400:]


def main():
    if TESTPMD is None:
        print("dpdk_fwd_bench: dpdk-testpmd not found (package dpdk); skipped")
        return 77
    t, u = [], []
    for r in range(ROUNDS):
        t.append(testpmd())
        mpps, rc, err = udk()
        if rc != 0:
            print("udk-fwd failed:", err)
            return 1
        u.append(mpps)
        print("round %d: dpdk-testpmd %.3f Mpps, udk-fwd over dpdk ports %.3f Mpps, ratio %.3f" %
              (r + 1, t[-1], u[-1], u[-1] / t[-1] if t[-1] else 0), flush=True)
    bt, bu = max(t), max(u)
    ratios = [a / b for a, b in zip(u, t) if b]
    print("io forwarding, 2 x net_null, 1 lcore, burst 32, 64-byte packets, %d rounds" % ROUNDS)
    print("dpdk-testpmd          %7.3f Mpps (best)" % bt)
    print("udk-fwd (dpdk ports)  %7.3f Mpps (best)" % bu)
    print("ratio of the bests    %7.3f  (goal >= 0.95)" % (bu / bt if bt else 0))
    print("median round ratio    %7.3f" % (statistics.median(ratios) if ratios else 0))
    return 0


sys.exit(main())
