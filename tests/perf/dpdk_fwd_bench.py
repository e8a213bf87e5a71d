#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""udk-fwd over DPDK ports against dpdk-testpmd over the same ports, in one run.

Both forward in io mode between two DPDK net_null ports (DPDK's null PMD: its
receive fills buffers of the forwarder's pool, its transmit frees them), with
one forwarding lcore, bursts of 32, DPDK given the same EAL arguments.  Only
the forwarder differs: testpmd calls rte_eth_rx/tx_burst on DPDK mbufs; udk-fwd
goes through udk ports (drivers/net/dpdk: udk mbufs and DPDK mbufs are the same
buffers, DPDK's receive pool lies in udk memory).  The two alternate ROUNDS
times; each figure is the median of the per-second receive rates (both ports
summed, first second dropped).  Prints each round's figures and ratio, then
the best of each and the median of the per-round ratios (the goal: >= 0.95).
On a shared machine rounds vary widely: compare within a round.  Not
pass/fail.

With --instructions (needs valgrind): instead of the rates, each forwarder
runs once under callgrind (--separate-threads) and the figure is the
instructions its forwarding thread (the busiest one) executed per packet
received: a count that does not depend on what else the machine runs, so it
shows what each side costs even where rates are noise.

Memory: 2 MiB pages when a hugetlbfs is mounted with 1.5 GiB free (--huge
insists), else ordinary pages (--no-huge forces them).  On ordinary pages
testpmd's own DPDK pool holds one mbuf per 4 KiB page, all headers in the same
cache sets, and testpmd forwards at about half its hugepage rate, so that
figure compares pool layouts more than forwarders; the run says which it used.

Usage: dpdk_fwd_bench.py [--huge|--no-huge] UDK-FWD [SECONDS] [ROUNDS]
       dpdk_fwd_bench.py --instructions [--huge|--no-huge] UDK-FWD [SECONDS]
"""
import glob
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time



def hugepages_free():
    """Bytes of free 2 MiB pages, if a hugetlbfs is mounted (0 otherwise)."""
    try:
        with open("/proc/mounts") as f:
            if " hugetlbfs " not in f.read():
                return 0
        with open("/proc/meminfo") as f:
            m = re.search(r"HugePages_Free:\s+(\d+)", f.read())
        return int(m.group(1)) * 2 * 1024 * 1024 if m else 0
    except OSError:
        return 0


INSTR = "--instructions" in sys.argv[1:]
OPTS = ("--instructions", "--huge", "--no-huge")
ARGS = [a for a in sys.argv[1:] if a not in OPTS]
# Hugepages when there are enough (each side takes ~0.6 GiB), as DPDK runs in
# production; --huge insists, --no-huge forces ordinary pages.
HUGE = "--huge" in sys.argv[1:] or ("--no-huge" not in sys.argv[1:] and
                                     hugepages_free() >= 1536 << 20)
FWD = ARGS[0]
SECS = int(ARGS[1]) if len(ARGS) > 1 else (20 if INSTR else 5)
ROUNDS = int(ARGS[2]) if len(ARGS) > 2 else 2
# On ordinary 4 KiB pages DPDK's own pool (testpmd's) places one mbuf per page,
# every header in the same cache sets, and testpmd runs at half its speed:
# that compares pool layouts, not forwarders (doc/dpdk.md).
EAL = ("--in-memory" if HUGE else "--no-huge") + \
    " --no-pci -m 512 --no-shconf --no-telemetry --log-level=lib.eal:warning"
UDK_MEM = [] if HUGE else ["--no-huge"]
PAGES = "2 MiB pages" if HUGE else "4 KiB pages (testpmd's pool: one mbuf per page)"
TESTPMD = shutil.which("dpdk-testpmd")


def median_after_first(samples):
    s = samples[1:] if len(samples) > 2 else samples
    return statistics.median(s) if s else 0.0


def testpmd_cmd():
    return [TESTPMD] + EAL.split() + ["-l", "0,1", "--vdev", "net_null0", "--vdev", "net_null1",
                                      "--", "--forward-mode=io", "--nb-cores=1", "--burst=32",
                                      "--stats-period", "1", "--total-num-mbufs=16384"]


def udk_cmd(secs, extra=()):
    return [FWD] + UDK_MEM + ["-l", "0,1", "--vdev", "dpdk0,dev=net_null0", "--vdev",
            "dpdk1,dev=net_null1", "--", "--mode", "io", "--burst", "32", "--duration",
            str(secs), "--nb-mbufs", "16383", "--dpdk-args", EAL + " -l 0"] + list(extra)


def testpmd():
    cmd = testpmd_cmd()
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
    cmd = udk_cmd(SECS + 1, ["--interval", "1"])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=SECS + 60)
    rx = [float(x) for x in re.findall(r"port \d+: rx ([0-9.]+) Mpps", p.stderr)]
    sums = [rx[i] + rx[i + 1] for i in range(0, len(rx) - 1, 2)]
    return median_after_first(sums), p.returncode, p.stderr[-400:]


def busiest_thread(out):
    """Instructions of the thread that executed the most (callgrind files)."""
    best = 0
    for f in glob.glob(out + "*"):
        with open(f) as fh:
            m = re.search(r"^(?:summary|totals): (\d+)", fh.read(), re.M)
        best = max(best, int(m.group(1)) if m else 0)
    return best


def instructions():
    """Instructions per packet of each forwarder's forwarding thread."""
    if shutil.which("valgrind") is None:
        print("dpdk_fwd_bench: --instructions needs valgrind; skipped")
        return 77
    tmp = tempfile.mkdtemp()
    vg = ["valgrind", "--tool=callgrind", "--separate-threads=yes"]
    out = os.path.join(tmp, "testpmd.cg")
    # testpmd forwards until SIGINT, then prints its accumulated statistics.
    p = subprocess.run(["timeout", "-s", "INT", str(SECS + 10)] + vg +
                       ["--callgrind-out-file=" + out] + testpmd_cmd(),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True)
    tot = re.findall(r"RX-total:\s+(\d+)", p.stdout)
    t_pkts, t_ins = (int(tot[-1]) if tot else 0), busiest_thread(out)
    out = os.path.join(tmp, "udk.cg")
    p = subprocess.run(vg + ["--callgrind-out-file=" + out] +
                       udk_cmd(SECS, ["--interval", "0", "--json"]),
                       capture_output=True, text=True, timeout=SECS * 10 + 120)
    try:
        u_pkts = sum(x["rx"] for x in json.loads(p.stdout.strip().splitlines()[-1])["ports"])
    except (ValueError, IndexError, KeyError):
        print("udk-fwd failed under valgrind:", p.stderr[-400:])
        return 1
    u_ins = busiest_thread(out)
    shutil.rmtree(tmp, ignore_errors=True)
    if t_pkts == 0 or u_pkts == 0:
        print("dpdk_fwd_bench: no packets counted (testpmd %d, udk-fwd %d)" % (t_pkts, u_pkts))
        return 1
    t, u = t_ins / t_pkts, u_ins / u_pkts
    print("io forwarding, 2 x net_null, 1 lcore, burst 32, 64-byte packets, %s, under callgrind"
          % PAGES)
    print("dpdk-testpmd          %7.1f instructions per packet (%d packets)" % (t, t_pkts))
    print("udk-fwd (dpdk ports)  %7.1f instructions per packet (%d packets)" % (u, u_pkts))
    print("ratio                 %7.3f  (testpmd's / udk-fwd's: what the rate ratio would be "
          "if every instruction cost the same)" % (t / u))
    return 0


def main():
    if TESTPMD is None:
        print("dpdk_fwd_bench: dpdk-testpmd not found (package dpdk); skipped")
        return 77
    if INSTR:
        return instructions()
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
    print("io forwarding, 2 x net_null, 1 lcore, burst 32, 64-byte packets, %s, %d rounds"
          % (PAGES, ROUNDS))
    print("dpdk-testpmd          %7.3f Mpps (best)" % bt)
    print("udk-fwd (dpdk ports)  %7.3f Mpps (best)" % bu)
    print("ratio of the bests    %7.3f  (goal >= 0.95)" % (bu / bt if bt else 0))
    print("median round ratio    %7.3f" % (statistics.median(ratios) if ratios else 0))
    return 0


sys.exit(main())
