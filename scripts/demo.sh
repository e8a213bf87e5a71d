#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# From a fresh clone to udk on (emulated) hardware in one command: installs
# what is missing (scripts/setup.sh), builds into build/, boots the lab guest
# (QEMU TCG: an emulated Intel IOMMU, two NVMe controllers, four NICs) and runs
# the commands below in it, printing their output: the devices as the kernel
# sees them, bound to vfio-pci, checked, then identified by udk through VFIO
# (udk-devbind probe: NVMe Identify, the NICs' MAC addresses and features),
# then udk's NVMe driver (identify, a 1 MiB write read back), udk-fwd
# between the two NICs, each driven by a udk driver, and the kernel's NVMe/TCP
# initiator mounting an ext4 file system that udk-nvmf-tgt serves from the
# NVMe (doc/nvmf.md).
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
	'ip link set lo up; modprobe nvme-tcp; udk-nvmf-tgt -m 64 -a $UDK_LAB_NVME -- --nvme disk0:$UDK_LAB_NVME --nqn nqn.2026-12.io.udk:demo >/tmp/nvmf.log 2>&1 & echo $! >/tmp/nvmf.pid; for i in $(seq 300); do grep -qs ready /tmp/nvmf.log && break; sleep 0.1; done; cat /tmp/nvmf.log  # udk-nvmf-tgt serves that NVMe over NVMe/TCP'
	'B=$(ls /sys/block); nvme connect -t tcp -a 127.0.0.1 -s 4420 -n nqn.2026-12.io.udk:demo && for i in $(seq 100); do D=$(ls /sys/block | grep -vxF "$B" | grep -E "^nvme[0-9]+n[0-9]+$" | head -1); [ -n "$D" ] && [ -b /dev/$D ] && break; sleep 0.1; done && echo "the kernel sees /dev/$D" && mkfs.ext4 -q -F -E lazy_journal_init=1 /dev/$D 32M && mkdir -p /tmp/m && mount /dev/$D /tmp/m && cp /usr/include/linux/nvme_ioctl.h /etc/os-release /tmp/m/ && ls -l /tmp/m && umount /tmp/m && fsck.ext4 -fn /dev/$D >/dev/null && echo "ext4 over NVMe/TCP from udk: made, mounted, written, fsck clean"; nvme disconnect -n nqn.2026-12.io.udk:demo; kill -INT $(cat /tmp/nvmf.pid)  # the kernel mounts a file system from it'
)
exec /usr/bin/python3 tests/lab/lab.py demo --build-dir build "${DEMO[@]}"
