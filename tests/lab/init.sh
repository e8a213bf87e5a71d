#!/bin/busybox sh
# SPDX-License-Identifier: BSD-3-Clause
# /init of the lab guest's initramfs (built by lab.py; see doc/lab.md).
# Loads 9p, mounts the host's root read-only and the writable lab share over
# it, then switch_roots into the host's own userland to run /mnt/guest.sh.
/bin/busybox --install -s /bin
export PATH=/bin

die() {
	echo "udk-lab init: $*" >/dev/console
	poweroff -f
}

mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

# Filled in by lab.py, in load order; a module that is built in or absent
# is simply not in the list.
for m in @MODULES@; do
	insmod "/lib/modules/$m" || echo "udk-lab init: insmod $m failed" >/dev/console
done

o=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$o,ro,cache=loose" hostroot /newroot ||
	mount -t 9p -o "$o,ro" hostroot /newroot || die "cannot mount the host root (9p tag hostroot)"
mount -t 9p -o "$o" labdir /newroot/mnt || die "cannot mount the lab share (9p tag labdir)"
# The iommufd guest's kernel is not the host's: lab.py puts its modules (the
# lab devices' drivers) in the share, and they take the place of the host's.
if [ -d /newroot/mnt/modules ]; then
	mount --bind /newroot/mnt/modules /newroot/lib/modules || die "cannot bind the guest's modules"
fi
# Host directories under /tmp or /run that the tests need (a build tree in
# /tmp, say), listed by lab.py: set aside now, put back on top of the tmpfs.
mkdir -p /stage
: > /stage/list
i=0
while read -r p; do
	[ -d "/newroot$p" ] || continue
	mkdir -p "/stage/$i"
	mount --bind "/newroot$p" "/stage/$i" && echo "$i $p" >> /stage/list
	i=$((i + 1))
done < /newroot/mnt/host-binds
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp || die "cannot mount /tmp"
mount -t tmpfs -o mode=755 tmpfs /newroot/run || die "cannot mount /run"
while read -r i p; do
	mkdir -p "/newroot$p" && mount --move "/stage/$i" "/newroot$p" || die "cannot bind $p"
done < /stage/list
for d in proc sys dev; do
	mount --move "/$d" "/newroot/$d" || die "cannot move /$d"
done
[ -f /newroot/mnt/guest.sh ] || die "no guest.sh in the lab share"
exec switch_root /newroot /bin/sh /mnt/guest.sh
die "switch_root failed"
