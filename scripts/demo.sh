#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# From a fresh clone to udk on (emulated) hardware in one command: installs
# what is missing (scripts/setup.sh), builds into build/, boots the lab guest
# (QEMU TCG: an emulated Intel IOMMU, two NVMe controllers, four NICs) and runs
# the commands below in it, printing their output: the devices as the kernel
# sees them, bound to vfio-pci, checked, then identified by udk through VFIO
# (udk-devbind probe: NVMe Identify, the NICs' MAC addresses and features),
# then udk's NVMe driver (identify, a 1 MiB write read back) and udk-fwd
# between the two NICs, each driven by a udk driver.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
[ -f build/build.ninja ] || meson setup build
ninja -C build

# Run in the guest by sh, as root: the host's root file system is the guest's
# (read-only), build/app/*/ leads PATH, and /mnt/lab.env (exported) names the
# devices found by vendor:device: UDK_LAB_NVME, UDK_LAB_NVME2, UDK_LAB_VIRTIO,
# UDK_LAB_E1000E, UDK_LAB_E1000_A, UDK_LAB_E1000_B (doc/lab.md).
DEMO=(
	'modprobe -a nvme e1000e e1000 virtio_net  # the kernel drivers claim the devices, as on a real machine'
	'udk-devbind status'
	'udk-devbind bind $UDK_LAB_NVME $UDK_LAB_VIRTIO $UDK_LAB_E1000_A'
	'udk-devbind status'
	'udk-devbind doctor $UDK_LAB_E1000_A'
	'udk-devbind bind $UDK_LAB_E1000_B && udk-devbind doctor $UDK_LAB_NVME $UDK_LAB_E1000_A'
	'udk-devbind probe --bind $UDK_LAB_NVME $UDK_LAB_VIRTIO $UDK_LAB_E1000E $UDK_LAB_E1000_A  # udk identifies each device through VFIO'
	'udk-nvme -a $UDK_LAB_NVME identify  # the NVMe driver'
	'head -c 1048576 /dev/urandom > /tmp/in && udk-nvme -a $UDK_LAB_NVME write --lba 0 --file /tmp/in && udk-nvme -a $UDK_LAB_NVME read --lba 0 --count 2048 --file /tmp/out && cmp /tmp/in /tmp/out && echo "1 MiB written and read back through udk: identical"'
	'udk-fwd -l 0,1 -a $UDK_LAB_VIRTIO -a $UDK_LAB_E1000E -- --mode txonly --verify --duration 3  # virtio-net and e1000e, both driven by udk, joined by a QEMU hub: each verifies what the other sends'
)
exec /usr/bin/python3 tests/lab/lab.py demo --build-dir build "${DEMO[@]}"
