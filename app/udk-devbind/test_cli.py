#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""CLI tests of udk-devbind (suite 'unit'): exit codes and the exact messages
a user sees, against a small fixture sysfs (UDK_SYSFS_ROOT).  argv[1] is the
binary."""
import json
import os
import sys
import tempfile

import clitest
from clitest import check

TOOL = sys.argv[1]


def run(*args, root=None):
    env = dict(os.environ)
    env.pop("UDK_SYSFS_ROOT", None)
    if root:
        env["UDK_SYSFS_ROOT"] = root
    return clitest.run([TOOL, *args], env=env)


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def device(root, bdf, ven, dev, cls, driver, group):
    d = f"bus/pci/devices/{bdf}"
    for attr, val in (("vendor", ven), ("device", dev), ("class", cls), ("numa_node", "-1"),
                      ("driver_override", "(null)")):
        write(root, f"{d}/{attr}", val + "\n")
    if driver:
        write(root, f"bus/pci/drivers/{driver}/unbind", "")
        os.symlink(f"../../drivers/{driver}", os.path.join(root, d, "driver"))
    if group is not None:
        gdir = os.path.join(root, f"kernel/iommu_groups/{group}/devices")
        os.makedirs(gdir, exist_ok=True)
        os.symlink(f"../../../kernel/iommu_groups/{group}", os.path.join(root, d, "iommu_group"))
        os.symlink(f"../../../../bus/pci/devices/{bdf}", os.path.join(gdir, bdf))


def fixture(root, vfio=True):
    device(root, "0000:00:02.0", "0x1af4", "0x1041", "0x020000", "vfio-pci" if vfio else "", 2)
    device(root, "0000:00:04.0", "0x1b36", "0x0010", "0x010802", "nvme", 4)
    device(root, "0000:01:01.0", "0x8086", "0x100e", "0x020000", "e1000", 5)
    device(root, "0000:01:02.0", "0x8086", "0x100e", "0x020000", "vfio-pci" if vfio else "", 5)
    device(root, "0000:00:1f.3", "0x8086", "0x2930", "0x0c0500", "i801_smbus", 6)
    write(root, "bus/pci/drivers_probe", "")
    write(root, "kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "64\n")
    write(root, "kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "60\n")
    write(root, "devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages", "60\n")
    write(root, "module/vfio_iommu_type1/parameters/dma_entry_limit", "1000\n")
    if not vfio:
        import shutil
        shutil.rmtree(os.path.join(root, "bus/pci/drivers/vfio-pci"), ignore_errors=True)


# --help, --version, usage errors
rc, out, err = run("--help")
check(rc == 0 and out.startswith("usage: udk-devbind"), "--help exits 0 and shows usage", out + err)
check(all(c in out for c in ("status", "bind", "unbind", "doctor", "probe", "--json", "--all",
                             "--bind", "--no-dma")),
      "--help names every command", out)
rc, out, err = run("--version")
check(rc == 0 and out.startswith("udk-devbind (udk) "), "--version exits 0", out + err)

rc, out, err = run("bind", "0000:03:20.0")
check(rc == 2, "bad address exits 2", f"rc={rc}")
check(err.startswith("udk-devbind: bad PCI address '0000:03:20.0': expected DDDD:BB:DD.F or "
                     "BB:DD.F"),
      "bad address says what is wrong and the expected form", err)
rc, out, err = run("unbind", "0000:03:00.1junk")
check(rc == 2 and "'0000:03:00.1junk'" in err, "trailing junk is a bad address", err)
rc, out, err = run("frobnicate")
check(rc == 2 and err.startswith("udk-devbind: unknown command 'frobnicate'"),
      "unknown command exits 2", err)
rc, out, err = run("status", "--bogus")
check(rc == 2 and "unknown option '--bogus'" in err, "unknown option exits 2", err)
rc, out, err = run("bind")
check(rc == 2 and "bind needs at least one PCI address" in err, "bind without address exits 2",
      err)

rc, out, err = run("probe")
check(rc == 2 and "probe needs at least one PCI address" in err, "probe without address exits 2",
      err)
rc, out, err = run("probe", "4:00.0")
check(rc == 2 and "bad PCI address '4:00.0'" in err, "probe of a bad address exits 2", err)
rc, out, err = run("probe", "--all", "00:04.0")
check(rc == 2 and "--all is an option of status" in err, "probe --all exits 2", err)
rc, out, err = run("status", "--bind")
check(rc == 2 and "--bind and --no-dma are options of probe" in err, "--bind outside probe exits 2",
      err)

with tempfile.TemporaryDirectory(prefix="udk-devbind-") as root:
    fixture(root)
    rc, out, err = run("probe", "0000:00:04.0", root=root)
    check(rc == 1 and out == "" and err == "udk-devbind: open 0000:00:04.0: the device is bound "
          "to nvme, not to vfio-pci: run 'udk-devbind bind 0000:00:04.0'\n",
          "probe of a device on a host driver fails with the library's message", out + err)
    rc, out, err = run("probe", "--json", "0000:09:00.0", "0000:00:04.0", root=root)
    try:
        doc = json.loads(out)
        check(rc == 1 and [d["address"] for d in doc] == ["0000:09:00.0", "0000:00:04.0"]
              and "no PCI device 0000:09:00.0" in doc[0]["error"]
              and "bound to nvme, not to vfio-pci" in doc[1]["error"],
              "probe --json: one object per address, each with its error", out)
    except (ValueError, KeyError, TypeError) as e:
        check(False, "probe --json is valid JSON", f"{e}\n{out}")
    check(err.count("udk-devbind: ") == 2, "probe --json: errors on stderr too", err)

with tempfile.TemporaryDirectory(prefix="udk-devbind-") as root:
    fixture(root)
    rc, out, err = run("status", "--json", "--all", root=root)
    check(rc == 0, "status --json --all exits 0", err)
    try:
        doc = json.loads(out)
        devs = {d["address"]: d for d in doc["devices"]}
        check(list(devs) == sorted(devs) and len(devs) == 5,
              "json lists every device in address order", out)
        d = devs["0000:01:02.0"]
        check(d["viable"] is False and d["blocker"] == {"address": "0000:01:01.0",
                                                        "driver": "e1000"},
              "json names the blocker of group 5", str(d))
        check(devs["0000:00:02.0"]["viable"] is True, "json: viable group", str(devs))
        check(devs["0000:00:04.0"]["kind"] == "nvme"
              and devs["0000:00:04.0"]["iommu_group"] == 4
              and devs["0000:00:04.0"]["numa_node"] is None
              and devs["0000:00:04.0"]["vendor"] == "1b36", "json fields", str(devs["0000:00:04.0"]))
    except (ValueError, KeyError) as e:
        check(False, "status --json is valid JSON", f"{e}\n{out}")

    rc, out, err = run(root=root)
    check(rc == 0 and "0000:00:04.0" in out, "status is the default command", out + err)
    check("0000:00:1f.3" not in out, "status hides non-NIC, non-NVMe devices", out)
    check("group 5 not viable: 0000:01:01.0 is bound to e1000" in out,
          "status says what blocks a group", out)

    rc, out, err = run("bind", "0000:09:00.0", root=root)
    check(rc == 1 and "no PCI device 0000:09:00.0" in err,
          "bind of a missing device fails with its address", err)

    rc, out, err = run("doctor", "0000:01:02.0", "0000:00:04.0", root=root)
    check(rc == 1, "doctor exits 1 on FAIL", out + err)
    check("WARN  dma_entry_limit: 1000:" in out and "dma_entry_limit=65535" in out,
          "doctor: dma_entry_limit warning with the fix", out)
    check("OK    hugepages: 2048kB: 60 free of 64, node0 60 free" in out,
          "doctor: hugepages per node", out)
    check("FAIL  0000:01:02.0: group 5 not viable: 0000:01:01.0 is bound to e1000" in out,
          "doctor: group blocker named", out)
    check("FAIL  0000:00:04.0: bound to nvme: run 'udk-devbind bind 0000:00:04.0'" in out,
          "doctor: device not on vfio-pci", out)
    check("OK    iommu: 4 IOMMU groups" in out, "doctor: iommu groups present", out)
    check("iommufd: " in out, "doctor: iommufd line", out)
    if not os.path.exists("/dev/iommu"):
        check("OK    0000:01:02.0: backend vfio-type1: " in out and "CONFIG_IOMMUFD" in out,
              "doctor: which backend a device uses, and why", out)
    check(out.rstrip().splitlines()[-1].endswith("WARN"), "doctor: summary line", out)

with tempfile.TemporaryDirectory(prefix="udk-devbind-") as root:
    fixture(root, vfio=False)
    rc, out, err = run("bind", "0000:01:01.0", root=root)
    check(rc == 1 and "vfio-pci is not loaded: run 'modprobe vfio-pci'" in err
          and err.startswith("udk-devbind: "),
          "bind without vfio-pci fails and says modprobe", err)
    rc, out, err = run("doctor", root=root)
    check(rc == 1 and "FAIL  vfio-pci: not loaded" in out and "modprobe vfio-pci" in out,
          "doctor: vfio-pci not loaded is a FAIL with the fix", out)

    if os.geteuid() != 0:
        os.chmod(os.path.join(root, "bus/pci/devices/0000:01:01.0/driver_override"), 0o444)
        os.makedirs(os.path.join(root, "bus/pci/drivers/vfio-pci"))
        rc, out, err = run("bind", "0000:01:01.0", root=root)
        check(rc == 1 and "binding needs root (or write access to " in err,
              "bind without permission says it needs root", err)
    else:
        print("skip bind-needs-root (running as root)")

# dpdk-devbind's habits: -s/--status, -b DRIVER BDF, -u BDF; the kernel's
# names next to each device; doctor --json; hugepages (what doctor says to
# type when there are none).
with tempfile.TemporaryDirectory(prefix="udk-devbind-") as root:
    fixture(root)
    write(root, "bus/pci/devices/0000:01:01.0/net/eth7/ifindex", "7\n")
    write(root, "bus/pci/devices/0000:00:04.0/nvme/nvme0/nvme0n1/size", "8\n")
    write(root, "bus/pci/devices/0000:00:04.0/nvme/nvme0/nvme0n2/size", "8\n")
    rc, status, err = run("status", root=root)
    rc2, out, err2 = run("-s", root=root)
    check(rc == rc2 == 0 and out == status, "-s is status", out + err2)
    rc2, out, err2 = run("--status", "--json", root=root)
    check(rc2 == 0 and json.loads(out)["devices"], "--status --json is status --json", out + err2)
    lines = {ln.split()[0]: ln for ln in status.splitlines()[1:] if ln.startswith("0000:")}
    check(status.splitlines()[0].endswith("KERNEL NAME") and
          lines["0000:01:01.0"].endswith("  eth7") and
          lines["0000:00:04.0"].endswith("  nvme0n1,nvme0n2") and
          lines["0000:00:02.0"].endswith("  -"),
          "status: a KERNEL NAME column with the interface and the namespaces' disks", status)
    doc = {d["address"]: d for d in json.loads(out)["devices"]}
    check(doc["0000:01:01.0"]["interfaces"] == ["eth7"] and
          doc["0000:00:04.0"]["block_devices"] == ["nvme0n1", "nvme0n2"] and
          doc["0000:00:02.0"]["interfaces"] == [],
          "status --json: interfaces and block_devices", out)
    rc, out, err = run("-b", "vfio-pci", "0000:09:00.0", root=root)
    check(rc == 1 and "no PCI device 0000:09:00.0" in err,
          "-b vfio-pci BDF binds (here: the missing device's error)", err)
    rc, out, err = run("--bind=ixgbe", "0000:01:01.0", root=root)
    check(rc == 2 and err == "udk-devbind: -b ixgbe: udk-devbind binds to vfio-pci only "
          "('-b vfio-pci BDF', or 'bind BDF'); 'udk-devbind -u BDF' gives a device back to its "
          "kernel driver\n",
          "--bind=ixgbe: exit 2, one line naming udk's options", err)
    rc, out, err = run("-u", "0000:09:00.0", root=root)
    check(rc == 1 and "no PCI device 0000:09:00.0" in err,
          "-u BDF unbinds (here: the missing device's error)", err)
    rc, out, err = run("probe", "-b", "4:00.0", root=root)
    check(rc == 2 and "bad PCI address '4:00.0'" in err, "probe -b BDF keeps probe's --bind", err)

    rc, out, err = run("doctor", "--json", "0000:00:04.0", root=root)
    try:
        d = json.loads(out)
        verdicts = [c["verdict"] for c in d["checks"]]
        check(rc == 1 and {"check": "hugepages", "verdict": "OK",
                           "message": "2048kB: 60 free of 64, node0 60 free"} in d["checks"] and
              {"check": "0000:00:04.0", "verdict": "FAIL",
               "message": "bound to nvme: run 'udk-devbind bind 0000:00:04.0'"} in d["checks"] and
              d["fails"] == verdicts.count("FAIL") > 0 and d["warns"] == verdicts.count("WARN"),
              "doctor --json: every check, its verdict and message; the counts",
              out)
    except (ValueError, KeyError, TypeError) as e:
        check(False, "doctor --json is valid JSON", f"{e}\n{out}")

    write(root, "kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "0\n")
    write(root, "devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages", "0\n")
    rc, out, err = run("doctor", root=root)
    check("FAIL  hugepages: no free hugepages: reserve some as root, e.g. 'udk-devbind "
          "hugepages 512'" in out,
          "doctor without free hugepages says 'udk-devbind hugepages 512'", out)
    nr = os.path.join(root, "kernel/mm/hugepages/hugepages-2048kB/nr_hugepages")
    rc, out, err = run("hugepages", "512", root=root)
    with open(nr) as f:
        written = f.read().strip()
    check(rc == 0 and written == "512" and
          out.startswith("hugepages-2048kB: 512 reserved (asked 512)\n"),
          "hugepages 512: written to nr_hugepages, read back, said", out + err)
    write(root, "devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages", "0\n")
    rc, out, err = run("hugepages", "8", "--node", "0", "--size", "2M", root=root)
    check(rc == 0 and out.startswith("hugepages-2048kB on node 0: 8 reserved (asked 8)"),
          "hugepages --node 0 --size 2M: that node's pages", out + err)
    rc, out, err = run("hugepages", "4", "--size", "1G", root=root)
    check(rc == 1 and "no 1048576kB hugepages" in err,
          "hugepages --size 1G where there are none: exit 1, says where sizes are", err)
    for args, msg in ((("hugepages",), "hugepages needs a COUNT"),
                      (("hugepages", "x"), "hugepages needs a COUNT"),
                      (("hugepages", "4", "--size", "3X"), "--size 3X: give the page size"),
                      (("status", "--node", "0"), "--size and --node are options of hugepages")):
        rc, out, err = run(*args, root=root)
        check(rc == 2 and msg in err, " ".join(args) + ": exit 2", err)

clitest.finish()
