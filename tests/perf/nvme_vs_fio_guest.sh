#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Run inside the lab guest by nvme_vs_fio.py: 4 KiB random reads on the lab's
# second NVMe, first through the kernel's nvme driver with fio (io_uring,
# io_uring polled, libaio), then through udk with udk-nvme-perf, each for SECS
# seconds at QD1 and QD32, ROUNDS times.  One "BENCH name iops" line a run.
#   nvme_vs_fio_guest.sh SECS ROUNDS
SECS=${1:-5}
ROUNDS=${2:-1}
BDF=$UDK_LAB_NVME2

bench() { # name json-file python-expression-on-d
	python3 -c 'import json,sys; d=json.load(open(sys.argv[2])); print("BENCH %s %.0f" % (sys.argv[1], eval(sys.argv[3])))' "$@" ||
		echo "BENCH $1 failed"
}

kernel_disk() {
	for i in $(seq 50); do
		for c in /sys/bus/pci/devices/$BDF/nvme/nvme*; do
			[ -b /dev/$(basename $c)n1 ] && { echo /dev/$(basename $c)n1; return; }
		done
		sleep 0.2
	done
}

modprobe -r nvme 2>/dev/null
modprobe nvme poll_queues=1 || exit 1
r=1
while [ $r -le $ROUNDS ]; do
	udk-devbind unbind $BDF >/dev/null 2>&1
	DEV=$(kernel_disk)
	[ -n "$DEV" ] || { echo "BENCH no kernel disk for $BDF"; exit 1; }
	echo "round $r: kernel nvme, $DEV"
	for qd in 1 32; do
		for eng in io_uring io_uring-hipri libaio; do
			case $eng in
			io_uring-hipri) e="--ioengine=io_uring --hipri" ;;
			*) e="--ioengine=$eng" ;;
			esac
			fio --name=bench --filename=$DEV --direct=1 --rw=randread --bs=4k \
				--iodepth=$qd $e --time_based --runtime=$SECS --randrepeat=0 \
				--norandommap --output-format=json --output=/tmp/fio.json >/dev/null 2>&1
			bench fio-$eng-qd$qd /tmp/fio.json 'd["jobs"][0]["read"]["iops"]'
		done
	done
	udk-devbind bind $BDF >/dev/null || exit 1
	echo "round $r: udk (vfio-pci)"
	for qd in 1 32; do
		udk-nvme-perf -l 0-1 -a $BDF -- --pattern randread --qd $qd --io-size 4096 \
			--time $SECS --json >/tmp/udk.json 2>/dev/null
		bench udk-qd$qd /tmp/udk.json 'd["total"]["iops"]'
	done
	r=$((r + 1))
done
