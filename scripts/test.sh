#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Every test of udk, from a fresh clone: installs what is missing
# (scripts/setup.sh), builds the iommufd lab kernel once (cached), builds
# build/ and runs all its tests (unit, and lab in both guests: suite lab on
# the Debian kernel, suite lab-iommufd on the iommufd one), then
# builds build-asan/ with AddressSanitizer and UBSan and runs the unit tests
# again, and build-tsan/ with ThreadSanitizer for the multi-thread stress tests
# (suite 'tsan').  Ends with one line "N passed, N failed, N skipped" counted from
# meson's test logs; exits non-zero if anything failed or no test ran.
set -uo pipefail
cd "$(dirname "$0")/.."

failed_steps=0
step() {
	echo "==> $*"
	if ! "$@"; then
		echo "==> FAILED: $*"
		failed_steps=$((failed_steps + 1))
		return 1
	fi
}

if ! step scripts/setup.sh; then
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi
# Host tests that need hugepages (udk-broker's sealed hugetlb segments, the
# EAL on hugepages) skip without them, and a fresh machine has none: as root,
# mount hugetlbfs and reserve 512 pages of 2 MiB (1 GiB) unless there are
# more already.
host_hugepages() {
	[ "$(id -u)" -eq 0 ] || { echo "hugepages: not root, host tests that need them skip"; return 0; }
	mkdir -p /dev/hugepages
	mountpoint -q /dev/hugepages || mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages || return
	local n
	n=$(cat /proc/sys/vm/nr_hugepages)
	[ "$n" -ge 512 ] || echo 512 >/proc/sys/vm/nr_hugepages || return
	echo "hugepages: $(cat /proc/sys/vm/nr_hugepages) of 2 MiB reserved, hugetlbfs on /dev/hugepages"
}
step host_hugepages
# setup.sh installed QEMU and a kernel: the lab must run, not skip.
export UDK_LAB_REQUIRED=1

# The iommufd lab guest's kernel, built from linux-source-6.12 once per
# machine and cached (tests/lab/labkernel.py; ~/.cache/udk-lab or
# $UDK_LAB_CACHE): the suite lab-iommufd boots it.  If this fails, that
# suite's tests fail (UDK_LAB_REQUIRED).
step /usr/bin/python3 tests/lab/lab.py kernel

logs=()
run_suite() { # build-dir [meson setup options...] -- [meson test options...]
	local dir=$1
	shift
	local setup_opts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		setup_opts+=("$1")
		shift
	done
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		step meson setup "$dir" "${setup_opts[@]}" || return
	fi
	step ninja -C "$dir" || return
	rm -f "$dir/meson-logs/testlog.json"
	logs+=("$dir/meson-logs/testlog.json")
	step meson test -C "$dir" --print-errorlogs "$@"
}

run_suite build --
# UBSan only warns by default: make any undefined behaviour fail its test.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
# Sanitized stress tests run several times slower (mempool's took 76-120+ s
# here under ASan on a loaded 2-core machine): three times the timeouts.
run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false -- --suite unit \
	--timeout-multiplier 3
# Any data race TSan sees fails its test (exit code 66).
export TSAN_OPTIONS=halt_on_error=1:exitcode=66
# labdev.c's fences are MMIO ordering for a device, which TSan cannot model
# (-Wtsan): not an error in this build, which runs only the stress tests.
# TSan slows the stress tests 10-50x (ring and mempool took 35-90 s each on a
# loaded 2-core machine, against 120 s timeouts): give them five times longer.
run_suite build-tsan -Db_sanitize=thread -Db_lundef=false -Dc_args=-Wno-error=tsan -- \
	--suite tsan --timeout-multiplier 5

/usr/bin/python3 - "$failed_steps" "${logs[@]}" <<'PY'
import json, sys
passed = failed = skipped = 0
steps = int(sys.argv[1])
for path in sys.argv[2:]:
    try:
        f = open(path)
    except OSError:
        continue
    for line in f:
        if not line.strip():
            continue
        r = json.loads(line)['result']
        if r in ('OK', 'EXPECTEDFAIL'):
            passed += 1
        elif r == 'SKIP':
            skipped += 1
        else:  # FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS, ...
            failed += 1
# A failed step (setup, build) that left no test result counts as a failure
# of its own, so the line never says "0 failed" for a broken run.
tests_failed = failed
if steps and not failed:
    failed = steps
print('%d passed, %d failed, %d skipped' % (passed, failed, skipped))
sys.exit(1 if failed or passed + tests_failed + skipped == 0 else 0)
PY
