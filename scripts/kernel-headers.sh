#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Install the kernel uapi headers udk needs for its iommufd backend
# (<linux/iommufd.h> and a <linux/vfio.h> with the device cdev ioctls) from
# Debian's linux-source tarball, with the kernel's own scripts/headers_install.sh
# (the step 'make headers_install' runs on every header).  Run by meson at
# configure time; prints the include directory on stdout.
#
#   scripts/kernel-headers.sh TARBALL|'' OUTDIR
#
# TARBALL '' picks the newest /usr/src/linux-source-*.tar.xz.  Only the few
# files needed are extracted (7-8 s, all of it xz decompression), not the whole
# tree (11 s to unpack 1.7 GB, 10 s more for 'make headers_install', which
# also wants rsync).  The result is cached in OUTDIR, keyed by the tarball's
# name, size and mtime: a re-configure with the same tarball costs nothing.
set -euo pipefail

tarball=${1:-}
out=${2:?usage: kernel-headers.sh TARBALL OUTDIR}
headers=(linux/iommufd.h linux/vfio.h)

if [ -z "$tarball" ]; then
	tarball=$(ls -1 /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1 || true)
	if [ -z "$tarball" ]; then
		echo "kernel-headers: no /usr/src/linux-source-*.tar.xz (Debian 12: apt-get install" \
			"linux-source-6.12, or run scripts/setup.sh)" >&2
		exit 1
	fi
fi
if [ ! -r "$tarball" ]; then
	echo "kernel-headers: cannot read $tarball" >&2
	exit 1
fi

key="$(basename "$tarball") $(stat -L -c '%s %Y' "$tarball")"
if [ -f "$out/stamp" ] && [ "$(head -n 1 "$out/stamp")" = "$key" ]; then
	ok=1
	for h in "${headers[@]}"; do
		[ -f "$out/include/$h" ] || ok=0
	done
	if [ $ok = 1 ]; then
		echo "$out/include"
		exit 0
	fi
fi

top=$(tar -tJf "$tarball" 2>/dev/null | head -n 1 | cut -d/ -f1 || true)
if [ -z "$top" ]; then
	echo "kernel-headers: $tarball is not a readable tar.xz" >&2
	exit 1
fi
work="$out/tmp.$$"
rm -rf "$out/include" "$out/stamp" "$work"
mkdir -p "$work" "$out/include/linux"
trap 'rm -rf "$work"' EXIT

members=("$top/Makefile" "$top/scripts/headers_install.sh" "$top/scripts/unifdef.c")
for h in "${headers[@]}"; do
	members+=("$top/include/uapi/$h")
done
if ! tar -xJf "$tarball" -C "$work" "${members[@]}"; then
	echo "kernel-headers: $tarball lacks one of: ${members[*]}" >&2
	exit 1
fi
src="$work/$top"
# headers_install.sh runs scripts/unifdef, a host program of the kernel tree.
${CC:-cc} -O1 -w -o "$src/scripts/unifdef" "$src/scripts/unifdef.c"
for h in "${headers[@]}"; do
	(cd "$src" && sh scripts/headers_install.sh "include/uapi/$h" "$out/include/$h.new")
	mv "$out/include/$h.new" "$out/include/$h"
done
version=$(sed -n -e 's/^VERSION = //p; s/^PATCHLEVEL = //p; s/^SUBLEVEL = //p' "$src/Makefile" |
	paste -sd.)
printf '%s\n%s\n' "$key" "$version" > "$out/stamp"
echo "$out/include"
