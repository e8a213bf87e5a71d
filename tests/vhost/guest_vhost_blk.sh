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
. "$L/params"   # SERIAL, FS_MB, PAT_SEEK_MB, PAT_MB, QUEUES, PACKED, RECONNECT, HOTPLUG

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

# HOTPLUG: 256 MiB of memory plugged in (QEMU's monitor, through the lab's
# bridge: $L/qmp/NAME.req), onlined as NUMA node 1, O_DIRECT I/O from
# buffers in it, then unplugged; the steps below then show the disk still
# served.  The host checks the back-end's ADD_MEM_REG and REM_MEM_REG.
qmp() { # NAME COMMAND WAIT_EVENT: the reply on stdout
	mkdir -p "$L/qmp"
	echo "{\"command\": $2, \"wait_event\": $3, \"timeout\": 120}" > "$L/qmp/$1.tmp"
	mv "$L/qmp/$1.tmp" "$L/qmp/$1.req"
	i=0
	while [ ! -f "$L/qmp/$1.reply" ] && [ $i -lt 1500 ]; do sleep 0.1; i=$((i + 1)); done
	cat "$L/qmp/$1.reply" 2>/dev/null
}
blocks() { ls -d /sys/devices/system/memory/memory[0-9]* | sed 's/.*memory//' | sort -n; }
if [ "$HOTPLUG" = 1 ]; then
	M=/sys/devices/system/memory
	[ -f $M/block_size_bytes ] || fail "no $M: the kernel has no memory hot-plug"
	echo offline > $M/auto_online_blocks 2>/dev/null
	blocks > /tmp/before
	r=$(qmp add-mem '{"execute": "object-add", "arguments": {"qom-type": "memory-backend-memfd",
		"id": "hp0", "size": 268435456, "share": true}}' null)
	echo "$r" | grep -q '"return"' || fail "QMP object-add memory-backend-memfd: $r"
	r=$(qmp add-dimm '{"execute": "device_add", "arguments": {"driver": "pc-dimm", "id": "dimm0",
		"memdev": "hp0", "node": 1}}' null)
	echo "$r" | grep -q '"return"' || fail "QMP device_add pc-dimm: $r"
	i=0
	while [ "$(blocks | wc -l)" = "$(wc -l < /tmp/before)" ] && [ $i -lt 300 ]; do
		sleep 0.2; i=$((i + 1))
	done
	blocks | grep -vxF -f /tmp/before > /tmp/new
	[ -s /tmp/new ] || fail "no new memory block in $M after device_add pc-dimm (ACPI hot-plug)"
	for b in $(cat /tmp/new); do
		echo online_movable > $M/memory$b/state || fail "onlining memory block $b"
	done
	bs=$((0x$(cat $M/block_size_bytes)))
	lo=$(( $(head -n1 /tmp/new) * bs )); hi=$(( ($(tail -n1 /tmp/new) + 1) * bs ))
	printf '%#x %#x\n' $lo $hi > "$L/hp-range"
	log "hot-plugged: $(wc -l < /tmp/new) blocks of $((bs >> 20)) MiB online (movable)," \
		"$(printf '%#x-%#x' $lo $((hi - 1))), node 1: $(grep MemTotal /sys/devices/system/node/node1/meminfo | tr -s ' ')"
	out=$(/usr/bin/python3 "$L/hotplug_io.py" /dev/vda 8 32 1 $lo $hi 2>&1) ||
		fail "I/O from the hot-plugged memory: $out"
	log "hot-plugged memory: $out"
	r=$(qmp del-dimm '{"execute": "device_del", "arguments": {"id": "dimm0"}}' '"DEVICE_DELETED"')
	echo "$r" | grep -q '"DEVICE_DELETED"' || fail "QMP device_del dimm0: no DEVICE_DELETED: $r"
	r=$(qmp del-mem '{"execute": "object-del", "arguments": {"id": "hp0"}}' null)
	echo "$r" | grep -q '"return"' || fail "QMP object-del hp0: $r"
	[ "$(blocks | wc -l)" = "$(wc -l < /tmp/before)" ] || fail "memory blocks left after unplug: $(blocks | grep -vxF -f /tmp/before | tr '\n' ' ')"
	log "unplugged: the guest's memory blocks are as before"
fi

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
