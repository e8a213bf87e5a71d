#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Runs in the TCG guest that test_vhost_blk_guest.py boots (the lab's kernel
# and initramfs: init.sh switch_roots into the host's userland and runs this
# as /mnt/guest.sh).  The disk is the vhost-user-blk device that udk-vhost-blk
# (or qemu-storage-daemon) serves.  Each step logs; the last line written to
# /mnt/done is "ok" or "FAIL: step".
L=/mnt
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp TMPDIR=/tmp
log() { echo "vhost-guest: $*"; }
finish() {
	dmesg > "$L/dmesg.txt" 2>&1
	echo "$1" > "$L/done"
	sync
	busybox poweroff -f
}
fail() { log "FAIL: $*"; finish "FAIL: $*"; }
. "$L/params"   # SERIAL, FS_MB, PAT_SEEK_MB, PAT_MB, QUEUES, PACKED, RECONNECT

log "guest up at $(cut -d' ' -f1 /proc/uptime) s"
modprobe virtio_blk || fail "modprobe virtio_blk"
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
[ -b /dev/vda ] || fail "no /dev/vda after modprobe virtio_blk"
log "/dev/vda: $(cat /sys/block/vda/size) sectors, serial '$(cat /sys/block/vda/serial 2>/dev/null)'," \
	"logical block $(cat /sys/block/vda/queue/logical_block_size)"
[ -z "$SERIAL" ] || [ "$(cat /sys/block/vda/serial)" = "$SERIAL" ] || fail "GET_ID: serial is not $SERIAL"

# The negotiated features, bit 0 first: 34 is VIRTIO_F_RING_PACKED.
f=$(cat /sys/block/vda/device/features)
log "features $f"
[ "$(echo "$f" | cut -c35)" = "$PACKED" ] || fail "VIRTIO_F_RING_PACKED is not $PACKED in $f"
nq=$(ls /sys/block/vda/mq | wc -l)
[ "$nq" = "$QUEUES" ] || fail "the disk has $nq hardware queues, not $QUEUES"

# RECONNECT: the host SIGKILLs and restarts the back-end while this fio
# runs (QEMU's chardev has reconnect=1); every block must still verify.
if [ "$RECONNECT" = 1 ]; then
	echo running > "$L/fio-running"
	fio --name=reconnect --filename=/dev/vda --size=112M --rw=randwrite --bs=4k \
		--ioengine=io_uring --iodepth=16 --direct=1 --verify=crc32c --do_verify=1 \
		--verify_fatal=1 --output="$L/fio-reconnect.txt" || fail "fio across restarts (fio-reconnect.txt)"
	grep -q "err= 0" "$L/fio-reconnect.txt" || fail "fio reported errors (fio-reconnect.txt)"
	echo ended > "$L/fio-ended"
	log "fio across the back-end's restarts: 112 MiB of 4 KiB random writes verified"
	finish ok
fi

# A pattern written with O_DIRECT and read back (the host checks it again
# in the backing file when there is one).
head -c $((PAT_MB << 20)) /dev/urandom > /tmp/pat || fail "making the pattern"
dd if=/tmp/pat of=/dev/vda bs=1M seek="$PAT_SEEK_MB" oflag=direct conv=fsync 2>/dev/null ||
	fail "dd write"
dd if=/dev/vda of=/tmp/back bs=1M skip="$PAT_SEEK_MB" count="$PAT_MB" iflag=direct 2>/dev/null ||
	fail "dd read"
cmp /tmp/pat /tmp/back || fail "the pattern read back differs"
cp /tmp/pat "$L/pat"
log "dd: $PAT_MB MiB written and read back identical"

# fio: random writes of mixed sizes, each block verified (crc32c) when read back.
fio --name=verify --filename=/dev/vda --offset=$((FS_MB << 20)) --size=16M --rw=randwrite \
	--bsrange=4k-128k --ioengine=psync --direct=1 --verify=crc32c --do_verify=1 \
	--verify_fatal=1 --output="$L/fio.txt" || fail "fio write+verify (fio.txt)"
grep -q "err= 0" "$L/fio.txt" || fail "fio reported errors (fio.txt)"
log "fio: 16 MiB of random writes verified"
fio --name=qd --filename=/dev/vda --offset=$((FS_MB << 20)) --size=16M --rw=randread --bs=4k \
	--ioengine=io_uring --iodepth=32 --direct=1 --runtime=3 --time_based \
	--numjobs="$QUEUES" --cpus_allowed=0-$((QUEUES - 1)) --cpus_allowed_policy=split \
	--group_reporting --output="$L/fio-qd32.txt" || fail "fio randread QD32"
log "fio randread QD32: $(grep -o 'IOPS=[^,]*' "$L/fio-qd32.txt")"

# Write zeroes and discard of 1 MiB after the file system area.
if [ "$(cat /sys/block/vda/queue/write_zeroes_max_bytes)" != 0 ]; then
	blkdiscard -z -o $((FS_MB << 20)) -l 1048576 /dev/vda || fail "blkdiscard -z (write zeroes)"
	[ "$(dd if=/dev/vda bs=1M skip="$FS_MB" count=1 iflag=direct 2>/dev/null | tr -d '\0' | wc -c)" = 0 ] ||
		fail "write zeroes: the range does not read back as zeroes"
	log "write zeroes: 1 MiB reads back as zeroes"
fi
if [ "$(cat /sys/block/vda/queue/discard_max_bytes)" != 0 ]; then
	blkdiscard -o $((FS_MB << 20)) -l 1048576 /dev/vda || fail "blkdiscard (discard)"
	log "discard: done"
fi

# A file system on the first FS_MB MiB: mkfs, mount, copy, umount, fsck.
mkfs.ext4 -q -F /dev/vda "${FS_MB}M" || fail "mkfs.ext4"
mkdir -p /tmp/m && mount -t ext4 /dev/vda /tmp/m || fail "mount"
cp -a /usr/share/doc/fio /tmp/m/ || fail "copy into the file system"
cp /tmp/pat /tmp/m/pat || fail "copy the pattern"
umount /tmp/m || fail "umount"
echo 3 > /proc/sys/vm/drop_caches
fsck.ext4 -fn /dev/vda > "$L/fsck.txt" 2>&1 || fail "fsck.ext4 -fn (fsck.txt)"
mount -t ext4 -o ro /dev/vda /tmp/m || fail "mount again"
cmp /tmp/pat /tmp/m/pat || fail "the copied pattern differs after remount"
diff -r /usr/share/doc/fio /tmp/m/fio > /dev/null || fail "the copied tree differs"
umount /tmp/m
log "ext4: mkfs, mount, copy, umount, fsck clean, contents identical after remount"
finish ok
