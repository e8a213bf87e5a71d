#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# run_fuzz.sh FUZZER SEEDS SECONDS: libFuzzer on a fresh corpus seeded with one
# valid message of each type, for a bounded time; any crash or abort fails.
set -eu
fuzzer=$(realpath "$1") seeds=$(realpath "$2") secs=$3
dir=$(mktemp -d "${TMPDIR:-/tmp}/udk-fuzz.XXXXXX")
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/corpus"
"$seeds" "$dir/corpus"
cd "$dir"
exec "$fuzzer" -max_total_time="$secs" -max_len=4200 -print_final_stats=1 corpus
