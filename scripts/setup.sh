#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Install what udk needs to build and test on Debian 12, lab included (QEMU,
# a Debian kernel, busybox-static).  Idempotent: does nothing when everything
# is installed already.  Needs root only when something is missing.
#   scripts/setup.sh [--force]    --force: apt-get update + install regardless
set -euo pipefail

PACKAGES=(
	# build
	build-essential meson ninja-build pkg-config
	libhugetlbfs-dev libnuma-dev libcunit1-dev
	# lib/bdev's file backend: files and kernel block devices through io_uring
	liburing-dev
	# doc/man: the man pages' test renders them (groff) and tests/install opens
	# the installed ones (man); doc/telemetry.md's example talks to a socket (socat)
	groff-base man-db socat
	# udk-nvme-perf --plot writes a gnuplot script; its unit test draws it
	gnuplot-nox
	# udk-fwd --pcap
	libpcap-dev
	# udk-top: parses the telemetry answers of other processes (required)
	libjansson-dev
	# the iommufd backend's uapi headers (<linux/iommufd.h>, the VFIO cdev
	# ioctls), which linux-libc-dev 6.1 lacks: scripts/kernel-headers.sh
	# installs them into the build dir from this tarball
	linux-source-6.12
	# lab (tests/lab/lab.py): QEMU (TCG), the guest kernel and its modules,
	# the initramfs' shell, modprobe for the guest (which runs the host's root)
	qemu-system-x86 linux-image-amd64 busybox-static cpio kmod
	python3 xz-utils
	# lab_devbind_in_use: mkfs.ext4 and an address on an e1000 in the guest,
	# which runs the host's root (mkswap and swapon are util-linux, always there)
	e2fsprogs iproute2
	# tests/perf/nvme_vs_fio.py: the kernel nvme driver's side of the comparison
	fio
	# tests/lab/lab_nvmf_tcp: the kernel's NVMe/TCP initiator against udk-nvmf-tgt
	nvme-cli
	# tests/fuzz: libFuzzer targets (clang -fsanitize=fuzzer) for udk-broker's parser and the
	# telemetry request parser
	clang libclang-rt-14-dev
	# DPDK interop (doc/dpdk.md): libudk_dpdk, examples/dpdk-nvme, the fwd-dpdk
	# and lab_dpdk_* tests; dpdk-testpmd for tests/perf/dpdk_fwd_bench.py
	libdpdk-dev dpdk-dev
	# the lab's iommufd guest kernel, built from linux-source-6.12 by
	# tests/lab/labkernel.py (lab.py kernel): the kernel's build tools
	flex bison libelf-dev libssl-dev bc
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ] && [ "${1:-}" != --force ]; then
	echo "setup: all ${#PACKAGES[@]} packages installed"
	exit 0
fi
[ "${1:-}" = --force ] && missing=("${PACKAGES[@]}")

if [ "$(id -u)" -ne 0 ]; then
	echo "setup: missing packages: ${missing[*]}" >&2
	echo "setup: install them as root:" >&2
	echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "setup: installing ${missing[*]}"
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
echo "setup: done"
