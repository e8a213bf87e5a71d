#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# What a user of an installed udk does (doc/getting-started.md, "Using udk
# in your program"): install into a temporary DESTDIR, build
# tests/install/consumer.c outside the tree with pkg-config alone (shared and
# static, as C and as C++, and libudk.a into a dynamic program), run each,
# check that the man pages are installed, then remove what meson logged as
# installed and check that nothing is left.
# Usage: consumer.sh BUILD_DIR.  Needs cc, c++, pkg-config and man
# (build-essential, pkg-config, man-db); skips (77) without a C++ compiler.
set -uo pipefail
build=$(realpath "$1")
src=$(realpath "$(dirname "$0")/consumer.c")
command -v c++ >/dev/null || { echo "consumer: no c++ (install build-essential)"; exit 77; }

tmp=$(mktemp -d)
log=$build/meson-logs/install-log.txt
# meson install rewrites the install log that 'ninja uninstall' reads: keep
# the user's own.
[ -f "$log" ] && cp "$log" "$tmp/install-log.saved"
cleanup() {
	if [ -f "$tmp/install-log.saved" ]; then
		cp "$tmp/install-log.saved" "$log"
	else
		rm -f "$log"
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

dest=$tmp/dest
if ! meson install -C "$build" --no-rebuild --destdir "$dest" >"$tmp/install.out" 2>&1; then
	cat "$tmp/install.out"
	echo "consumer: meson install into $dest failed"
	exit 1
fi
cp "$log" "$tmp/installed.txt"
pc=$(find "$dest" -name udk.pc)
if [ -z "$pc" ]; then
	echo "consumer: meson install put no udk.pc under $dest"
	exit 1
fi
# The .pc files say prefix=/usr/local (or whatever was configured); the
# sysroot makes pkg-config point into the DESTDIR instead.
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR=$dest
libdir=$(pkg-config --variable=libdir udk)
failed=0

# build NAME COMPILER-AND-FLAGS... : compile consumer.c, run it.
run() {
	local name=$1
	shift
	echo "== $name: $*"
	if ! "$@" -o "$tmp/$name" >"$tmp/$name.out" 2>&1; then
		grep -v "statically linked applications requires\|in function .affinity_ip" "$tmp/$name.out"
		echo "consumer: $name: build failed"
		failed=$((failed + 1))
		return
	fi
	if ! (cd "$tmp" && LD_LIBRARY_PATH=$libdir "./$name"); then
		echo "consumer: $name: failed"
		failed=$((failed + 1))
	fi
}
cflags=$(pkg-config --cflags udk)
libs=$(pkg-config --libs udk)
static_libs=$(pkg-config --static --libs udk)
# shellcheck disable=SC2086 # the pkg-config output is a list of words
{
run c-shared cc -std=c11 -Wall -Wextra -Werror "$src" $cflags $libs
run c++-shared c++ -std=c++17 -Wall -Wextra -Werror -x c++ "$src" -x none $cflags $libs
run c-static cc -static -std=c11 -Wall -Wextra -Werror "$src" $cflags $static_libs
run c++-static c++ -static -std=c++17 -Wall -Wextra -Werror -x c++ "$src" -x none $cflags \
	$static_libs
run c-archive cc -std=c11 -Wall -Wextra -Werror "$src" $cflags "$libdir/libudk.a" -lhugetlbfs \
	-lnuma -pthread
}
# libudk_dpdk, when it was built: its .pc and header from outside too.
if pkg-config --exists udk_dpdk; then
	cat >"$tmp/dpdk.c" <<'C'
#include <stdio.h>
#include <udk/udk_dpdk.h>
#include <udk_eal.h>
int main(void)
{
	int ret = udk_dpdk_eal_args("--no-pci --no-huge -m 64");
	if (ret == 0)
		printf("consumer: udk_dpdk ok\n");
	return ret == 0 ? 0 : 1;
}
C
	# shellcheck disable=SC2046 # a list of words
	run c-udk_dpdk cc -std=c11 -Wall -Wextra -Werror "$tmp/dpdk.c" $(pkg-config --cflags --libs udk_dpdk)
fi
# Every man page of doc/man is installed under share/man/manN and man opens it.
for page in "$(dirname "$0")"/../../doc/man/*.[1-9]; do
	name=$(basename "$page")
	inst=$(find "$dest" -path "*/share/man/man${name##*.}/$name" -print -quit)
	if [ -z "$inst" ]; then
		echo "consumer: man page $name not installed under share/man/man${name##*.}"
		failed=$((failed + 1))
	elif ! MANWIDTH=80 man -l "$inst" 2>&1 | grep -q "^NAME"; then
		echo "consumer: man -l $inst does not render"
		failed=$((failed + 1))
	else
		echo "== man page $name installed and renders"
	fi
done
# The shared builds must use the installed library, the others none.  ldd's
# output is read whole first: `ldd | grep -q` under pipefail fails whenever
# grep exits before ldd has written everything (SIGPIPE), which made this
# test flaky.
if [ -x "$tmp/c-shared" ] && { ! LD_LIBRARY_PATH=$libdir ldd "$tmp/c-shared" >"$tmp/ldd-shared" ||
	! grep -q "$libdir/libudk.so" "$tmp/ldd-shared"; }; then
	echo "consumer: c-shared does not load $libdir/libudk.so"
	failed=$((failed + 1))
fi
if [ -x "$tmp/c-archive" ] && ldd "$tmp/c-archive" >"$tmp/ldd-archive" &&
	grep -q libudk "$tmp/ldd-archive"; then
	echo "consumer: c-archive loads a libudk.so though it linked libudk.a"
	failed=$((failed + 1))
fi

# Uninstall: remove every file meson logged, then the directories it logged
# (deepest first); nothing may remain.
grep -v '^#' "$tmp/installed.txt" | while read -r f; do
	if [ ! -d "$f" ] || [ -L "$f" ]; then
		rm -f "$f"
	fi
done
grep -v '^#' "$tmp/installed.txt" | awk '{ print length, $0 }' | sort -rn | cut -d' ' -f2- |
	while read -r f; do [ -d "$f" ] && rmdir "$f" 2>/dev/null; done
left=$(find "$dest" 2>/dev/null)
if [ -n "$left" ]; then
	echo "consumer: installed but not in meson's install log (uninstall would leave them):"
	echo "$left"
	failed=$((failed + 1))
fi
if [ "$failed" -ne 0 ]; then
	echo "consumer: $failed failure(s)"
	exit 1
fi
echo "consumer: every build ran; uninstall left nothing"
