#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Runs in the TCG guest that vhost_blk_vs_qsd.py boots (as /mnt/guest.sh).
# Four vhost-user-blk disks, by PCI slot: 05 udk-vhost-blk on the file, 06
# qemu-storage-daemon on the same file, 07 udk-vhost-blk null, 08
# qemu-storage-daemon null-co.  fio 4 KiB random reads at QD1 and QD32 on
# each, udk and qsd alternating (which goes first changes each round); one
# JSON result per run in /mnt/res/.
L=/mnt
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp TMPDIR=/tmp
finish() {
	echo "$1" > "$L/done"
	sync
	busybox poweroff -f
}
. "$L/params"   # SECS, ROUNDS

modprobe virtio_blk || finish "FAIL: modprobe virtio_blk"
disk() { # the block device of PCI slot $1
	for i in $(seq 100); do
		d=$(ls /sys/bus/pci/devices/0000:00:$1.0/virtio*/block/ 2>/dev/null)
		[ -n "$d" ] && { echo "$d"; return; }
		sleep 0.2
	done
}
udk_file=$(disk 05) qsd_file=$(disk 06) udk_null=$(disk 07) qsd_null=$(disk 08)
for d in "$udk_file" "$qsd_file" "$udk_null" "$qsd_null"; do
	[ -b "/dev/$d" ] || finish "FAIL: a disk is missing ($udk_file $qsd_file $udk_null $qsd_null)"
done
echo "vhost-bench: udk file $udk_file, qsd file $qsd_file, udk null $udk_null, qsd null $qsd_null"
pk() { cut -c35 "/sys/block/$1/device/features"; } # VIRTIO_F_RING_PACKED negotiated
echo "vhost-bench: packed rings: udk file $(pk "$udk_file"), qsd file $(pk "$qsd_file")," \
	"udk null $(pk "$udk_null"), qsd null $(pk "$qsd_null")"
mkdir -p "$L/res"
r=1
while [ $r -le "$ROUNDS" ]; do
	if [ $((r % 2)) = 1 ]; then order="udk qsd"; else order="qsd udk"; fi
	for be in file null; do
		for qd in 1 32; do
			for t in $order; do
				eval d=\$${t}_$be
				fio --name=b --filename="/dev/$d" --rw=randread --bs=4k --ioengine=io_uring \
					--iodepth="$qd" --direct=1 --runtime="$SECS" --time_based --size=120M \
					--output-format=json --output="$L/res/$r-$be-$qd-$t.json" ||
					finish "FAIL: fio on $t $be QD$qd"
				echo "vhost-bench: round $r $be QD$qd $t done"
			done
		done
	done
	r=$((r + 1))
done
finish ok
