#!/bin/bash
# From a fresh clone to udk on (emulated) hardware in one command: installs
# what is missing (scripts/setup.sh), builds into build/, boots the lab guest
# (QEMU TCG with an emulated Intel IOMMU, two NVMe controllers and four NICs)
# and runs the commands below in it, printing their output.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/setup.sh
[ -f build/build.ninja ] || meson setup build
ninja -C build

# Run in the guest as root, with the host's root file system read-only at /
# (so build/ is where it is here) and the lab settings in /mnt/lab.env.
DEMO=(
	"$root/tests/lab/devtable.sh"
	"$root/build/tests/lab/lab_boot"
	"$root/build/tests/lab/lab_vfio_groups"
	"$root/tests/lab/devtable.sh"
)
exec /usr/bin/python3 tests/lab/lab.py demo --build-dir build "${DEMO[@]}"
