#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""CLI tests of udk-devbind (suite 'unit'): exit codes and the exact messages
a user sees, against a small fixture sysfs (UDK_SYSFS_ROOT).  argv[1] is the
binary."""
import json
import os
import subprocess
import sys
import tempfile

TOOL = sys.argv[1]
failures = 0


def run(*args, root=None):
    env = dict(os.environ)
    env.pop("UDK_SYSFS_ROOT", None)
    if root:
        env["UDK_SYSFS_ROOT"] = root
    p = subprocess.run([TOOL, *args], capture_output=True, text=True, env=env, timeout=30)
    return p.returncode, p.stdout, p.stderr


def check(name, cond, detail=""):
    global failures
    print(("ok   " if cond else "FAIL ") + name)
    if not cond:
        failures += 1
        if detail:
            print("     " + detail.replace("\n", "\n     "))


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
check("--help exits 0 and shows usage", rc == 0 and out.startswith("usage: udk-devbind"), out + err)
check("--help names every command",
      all(c in out for c in ("status", "bind", "unbind", "doctor", "probe", "--json", "--all",
                             "--bind", "--no-dma")), out)
rc, out, err = run("--version")
check("--version exits 0", rc == 0 and out.startswith("udk-devbind (udk) "), out + err)

rc, out, err = run("bind", "0000:03:20.0")
check("bad address exits 2", rc == 2, f"rc={rc}")
check("bad address says what is wrong and the expected form",
      err.startswith("udk-devbind: bad PCI address '0000:03:20.0': expected DDDD:BB:DD.F or "
                     "BB:DD.F"), err)
rc, out, err = run("unbind", "0000:03:00.1junk")
check("trailing junk is a bad address", rc == 2 and "'0000:03:00.1junk'" in err, err)
rc, out, err = run("frobnicate")
check("unknown command exits 2", rc == 2 and err.startswith("udk-devbind: unknown command "
                                                             "'frobnicate'"), err)
rc, out, err = run("status", "--bogus")
check("unknown option exits 2", rc == 2 and "unknown option '--bogus'" in err, err)
rc, out, err = run("bind")
check("bind without address exits 2", rc == 2 and "bind needs at least one PCI address" in err,
      err)

rc, out, err = run("probe")
check("probe without address exits 2", rc == 2 and "probe needs at least one PCI address" in err,
      err)
rc, out, err = run("probe", "4:00.0")
check("probe of a bad address exits 2", rc == 2 and "bad PCI address '4:00.0'" in err, err)
rc, out, err = run("probe", "--all", "00:04.0")
check("probe --all exits 2", rc == 2 and "--all is an option of status" in err, err)
rc, out, err = run("status", "--bind")
check("--bind outside probe exits 2", rc == 2 and "--bind and --no-dma are options of probe" in err,
      err)

with tempfile.TemporaryDirectory(prefix="udk-devbind-") as root:
    fixture(root)
    rc, out, err = run("probe", "0000:00:04.0", root=root)
    check("probe of a device on a host driver fails with the library's message",
          rc == 1 and out == "" and err == "udk-devbind: open 0000:00:04.0: the device is bound "
          "to nvme, not to vfio-pci: run 'udk-devbind bind 0000:00:04.0'\n", out + err)
    rc, out, err = run("probe", "--json", "0000:09:00.0", "0000:00:04.0", root=root)
    try:
        doc = json.loads(out)
        check("probe --json: one object per address, each with its error",
              rc == 1 and [d["address"] for d in doc] == ["0000:09:00.0", "0000:00:04.0"]
              and "no PCI device 0000:09:00.0" in doc[0]["error"]
              and "bound to nvme, not to vfio-pci" in doc[1]["error"], out)
    except (ValueError, KeyError, TypeError) as e:
        check("probe --json is valid JSON", False, f"{e}\n{out}")
    check("probe --json: errors on stderr too", err.count("udk-devbind: ") == 2, err)

with tempfile.TemporaryDirectory(prefix="udk-devbind-") as root:
    fixture(root)
    rc, out, err = run("status", "--json", "--all", root=root)
    check("status --json --all exits 0", rc == 0, err)
    try:
        doc = json.loads(out)
        devs = {d["address"]: d for d in doc["devices"]}
        check("json lists every device in address order",
              list(devs) == sorted(devs) and len(devs) == 5, out)
        d = devs["0000:01:02.0"]
        check("json names the blocker of group 5",
              d["viable"] is False and d["blocker"] == {"address": "0000:01:01.0",
                                                        "driver": "e1000"}, str(d))
        check("json: viable group", devs["0000:00:02.0"]["viable"] is True, str(devs))
        check("json fields", devs["0000:00:04.0"]["kind"] == "nvme"
              and devs["0000:00:04.0"]["iommu_group"] == 4
              and devs["0000:00:04.0"]["numa_node"] is None
              and devs["0000:00:04.0"]["vendor"] == "1b36", str(devs["0000:00:04.0"]))
    except (ValueError, KeyError) as e:
        check("status --json is valid JSON", False, f"{e}\n{out}")

    rc, out, err = run(root=root)
    check("status is the default command", rc == 0 and "0000:00:04.0" in out, out + err)
    check("status hides non-NIC, non-NVMe devices", "0000:00:1f.3" not in out, out)
    check("status says what blocks a group",
          "group 5 not viable: 0000:01:01.0 is bound to e1000" in out, out)

    rc, out, err = run("bind", "0000:09:00.0", root=root)
    check("bind of a missing device fails with its address",
          rc == 1 and "no PCI device 0000:09:00.0" in err, err)

    rc, out, err = run("doctor", "0000:01:02.0", "0000:00:04.0", root=root)
    check("doctor exits 1 on FAIL", rc == 1, out + err)
    check("doctor: dma_entry_limit warning with the fix",
          "WARN  dma_entry_limit: 1000:" in out and "dma_entry_limit=65535" in out, out)
    check("doctor: hugepages per node",
          "OK    hugepages: 2048kB: 60 free of 64, node0 60 free" in out, out)
    check("doctor: group blocker named",
          "FAIL  0000:01:02.0: group 5 not viable: 0000:01:01.0 is bound to e1000" in out, out)
    check("doctor: device not on vfio-pci",
          "FAIL  0000:00:04.0: bound to nvme: run 'udk-devbind bind 0000:00:04.0'" in out, out)
    check("doctor: iommu groups present", "OK    iommu: 4 IOMMU groups" in out, out)
    check("doctor: iommufd line", "iommufd: " in out, out)
    if not os.path.exists("/dev/iommu"):
        check("doctor: which backend a device uses, and why",
              "OK    0000:01:02.0: backend vfio-type1: " in out and "CONFIG_IOMMUFD" in out, out)
    check("doctor: summary line", out.rstrip().splitlines()[-1].endswith("WARN"), out)

with tempfile.TemporaryDirectory(prefix="udk-devbind-") as root:
    fixture(root, vfio=False)
    rc, out, err = run("bind", "0000:01:01.0", root=root)
    check("bind without vfio-pci fails and says modprobe",
          rc == 1 and "vfio-pci is not loaded: run 'modprobe vfio-pci'" in err
          and err.startswith("udk-devbind: "), err)
    rc, out, err = run("doctor", root=root)
    check("doctor: vfio-pci not loaded is a FAIL with the fix",
          rc == 1 and "FAIL  vfio-pci: not loaded" in out and "modprobe vfio-pci" in out, out)

    if os.geteuid() != 0:
        os.chmod(os.path.join(root, "bus/pci/devices/0000:01:01.0/driver_override"), 0o444)
        os.makedirs(os.path.join(root, "bus/pci/drivers/vfio-pci"))
        rc, out, err = run("bind", "0000:01:01.0", root=root)
        check("bind without permission says it needs root",
              rc == 1 and "binding needs root (or write access to " in err, err)
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
    check("-s is status", rc == rc2 == 0 and out == status, out + err2)
    rc2, out, err2 = run("--status", "--json", root=root)
    check("--status --json is status --json", rc2 == 0 and json.loads(out)["devices"], out + err2)
    lines = {ln.split()[0]: ln for ln in status.splitlines()[1:] if ln.startswith("0000:")}
    check("status: a KERNEL NAME column with the interface and the namespaces' disks",
          status.splitlines()[0].endswith("KERNEL NAME") and
          lines["0000:01:01.0"].endswith("  eth7") and
          lines["0000:00:04.0"].endswith("  nvme0n1,nvme0n2") and
          lines["0000:00:02.0"].endswith("  -"), status)
    doc = {d["address"]: d for d in json.loads(out)["devices"]}
    check("status --json: interfaces and block_devices",
          doc["0000:01:01.0"]["interfaces"] == ["eth7"] and
          doc["0000:00:04.0"]["block_devices"] == ["nvme0n1", "nvme0n2"] and
          doc["0000:00:02.0"]["interfaces"] == [], out)
    rc, out, err = run("-b", "vfio-pci", "0000:09:00.0", root=root)
    check("-b vfio-pci BDF binds (here: the missing device's error)",
          rc == 1 and "no PCI device 0000:09:00.0" in err, err)
    rc, out, err = run("--bind=ixgbe", "0000:01:01.0", root=root)
    check("--bind=ixgbe: exit 2, one line naming udk's options",
          rc == 2 and err == "udk-devbind: -b ixgbe: udk-devbind binds to vfio-pci only "
          "('-b vfio-pci BDF', or 'bind BDF'); 'udk-devbind -u BDF' gives a device back to its "
          "kernel driver\n", err)
    rc, out, err = run("-u", "0000:09:00.0", root=root)
    check("-u BDF unbinds (here: the missing device's error)",
          rc == 1 and "no PCI device 0000:09:00.0" in err, err)
    rc, out, err = run("probe", "-b", "4:00.0", root=root)
    check("probe -b BDF keeps probe's --bind", rc == 2 and "bad PCI address '4:00.0'" in err, err)

    rc, out, err = run("doctor", "--json", "0000:00:04.0", root=root)
    try:
        d = json.loads(out)
        verdicts = [c["verdict"] for c in d["checks"]]
        check("doctor --json: every check, its verdict and message; the counts",
              rc == 1 and {"check": "hugepages", "verdict": "OK",
                           "message": "2048kB: 60 free of 64, node0 60 free"} in d["checks"] and
              {"check": "0000:00:04.0", "verdict": "FAIL",
               "message": "bound to nvme: run 'udk-devbind bind 0000:00:04.0'"} in d["checks"] and
              d["fails"] == verdicts.count("FAIL") > 0 and d["warns"] == verdicts.count("WARN"),
              out)
    except (ValueError, KeyError, TypeError) as e:
        check("doctor --json is valid JSON", False, f"{e}\n{out}")

    write(root, "kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "0\n")
    write(root, "devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages", "0\n")
    rc, out, err = run("doctor", root=root)
    check("doctor without free hugepages says 'udk-devbind hugepages 512'",
          "FAIL  hugepages: no free hugepages: reserve some as root, e.g. 'udk-devbind "
          "hugepages 512'" in out, out)
    nr = os.path.join(root, "kernel/mm/hugepages/hugepages-2048kB/nr_hugepages")
    rc, out, err = run("hugepages", "512", root=root)
    with open(nr) as f:
        written = f.read().strip()
    check("hugepages 512: written to nr_hugepages, read back, said",
          rc == 0 and written == "512" and
          out.startswith("hugepages-2048kB: 512 reserved (asked 512)\n"), out + err)
    write(root, "devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages", "0\n")
    rc, out, err = run("hugepages", "8", "--node", "0", "--size", "2M", root=root)
    check("hugepages --node 0 --size 2M: that node's pages",
          rc == 0 and out.startswith("hugepages-2048kB on node 0: 8 reserved (asked 8)"), out + err)
    rc, out, err = run("hugepages", "4", "--size", "1G", root=root)
    check("hugepages --size 1G where there are none: exit 1, says where sizes are",
          rc == 1 and "no 1048576kB hugepages" in err, err)
    for args, msg in ((("hugepages",), "hugepages needs a COUNT"),
                      (("hugepages", "x"), "hugepages needs a COUNT"),
                      (("hugepages", "4", "--size", "3X"), "--size 3X: give the page size"),
                      (("status", "--node", "0"), "--size and --node are options of hugepages")):
        rc, out, err = run(*args, root=root)
        check(" ".join(args) + ": exit 2", rc == 2 and msg in err, err)

sys.exit(1 if failures else 0)
