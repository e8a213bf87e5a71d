#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Runs inside the lab guest as its first process after switch_root (init.sh),
# with the host's root read-only at / and the lab share at /mnt.  Prepares the
# guest (LAB.md, "Inside"), writes /mnt/lab.env, then runs what lab.py asked
# for in /mnt/mode: "tests" (/mnt/tests.list), "demo" (/mnt/demo.list) or
# "shell".  Ends with a poweroff, so QEMU exits.
L=/mnt
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp TMPDIR=/tmp
umask 022

log() { echo "udk-lab: $*"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
finish() {
	dmesg > "$L/dmesg.txt" 2>&1
	echo "$1" > "$L/done"
	sync
	busybox poweroff -f
}

log "guest up at $(uptime_s) s, kernel $(uname -r)"
mkdir -p /dev/pts /dev/shm /dev/hugepages
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
busybox hostname udk-lab

# Settings from the host (environment variables do not cross into the guest).
UDK_LAB_HUGEPAGES=128
[ -f "$L/host.env" ] && . "$L/host.env"
[ -n "${UDK_LAB_PATH:-}" ] && PATH=$UDK_LAB_PATH:$PATH

# Only vfio-pci: the devices start with no driver at all (the guest has no
# udev to load theirs).  Tests bind what they need and load a kernel driver
# themselves when they want one (e.g. modprobe e1000 for "group not viable").
modprobe vfio-pci || log "modprobe vfio-pci failed"
mount -t hugetlbfs hugetlbfs /dev/hugepages || log "cannot mount hugetlbfs"
echo "$UDK_LAB_HUGEPAGES" > /proc/sys/vm/nr_hugepages

# Devices by vendor:device (never by slot), in address order.  Shell
# builtins only: every fork costs milliseconds under TCG.
find_dev() {
	for d in /sys/bus/pci/devices/*; do
		read -r v < "$d/vendor"
		read -r p < "$d/device"
		[ "$v:$p" = "0x$1:0x$2" ] && echo "${d##*/}"
	done
}
# The NVMe on the root complex (serial udk-lab-nvme0) comes before the one
# behind the root port (udk-lab-nvme1) in address order.
set -- $(find_dev 1b36 0010)
NVME=${1:-} NVME2=${2:-}
set -- $(find_dev 8086 100e)
E1000_A=${1:-} E1000_B=${2:-}
{
	echo "UDK_LAB=1"
	echo "UDK_LAB_DIR=$L"
	echo "UDK_LAB_KERNEL=$(uname -r)"
	echo "UDK_LAB_HUGEPAGES=$(cat /proc/sys/vm/nr_hugepages)"
	echo "UDK_LAB_NVME=$NVME"
	echo "UDK_LAB_NVME2=$NVME2"
	set -- $(find_dev 1af4 1041)
	echo "UDK_LAB_VIRTIO=${1:-}"
	set -- $(find_dev 8086 10d3)
	echo "UDK_LAB_E1000E=${1:-}"
	echo "UDK_LAB_E1000_A=$E1000_A"
	echo "UDK_LAB_E1000_B=$E1000_B"
	[ -f "$L/host.env" ] && grep -v '^#\|^UDK_LAB_HUGEPAGES=' "$L/host.env"
} > "$L/lab.env"
set -a
. "$L/lab.env"
set +a
log "ready at $(uptime_s) s"

if timeout --version >/dev/null 2>&1; then T=timeout; else T="busybox timeout"; fi

mode=$(cat "$L/mode" 2>/dev/null)
case "$mode" in
tests)
	mkdir -p "$L/results"
	while read -r name tmo exe; do
		[ -n "$name" ] || continue
		log "$name: start at $(uptime_s) s"
		mkdir -p "/tmp/udk-lab/$name"
		t0=$(uptime_s)
		(cd "/tmp/udk-lab/$name" && exec $T -k 10 "$tmo" "$exe") > "$L/results/$name.log" 2>&1 < /dev/null
		rc=$?
		case $rc in
		124 | 137 | 143) echo "udk-lab: $name killed after its ${tmo} s timeout (rc $rc)" >> "$L/results/$name.log" ;;
		esac
		echo "$rc" > "$L/results/$name.rc"
		log "$name: rc $rc, $(echo "$(uptime_s) $t0" | awk '{printf "%.1f", $1 - $2}') s"
	done < "$L/tests.list"
	;;
demo)
	while IFS= read -r cmd; do
		[ -n "$cmd" ] || continue
		echo
		echo "\$ $cmd"
		(cd /tmp && $T -k 10 300 sh -c "$cmd") < /dev/null 2>&1
		echo "(exit $?)"
	done < "$L/demo.list"
	;;
shell)
	log "interactive shell; leave with 'exit'"
	busybox setsid -c /bin/sh -i || busybox sh -i
	;;
*)
	log "unknown mode '$mode'"
	;;
esac
log "finished at $(uptime_s) s"
finish "$mode"
