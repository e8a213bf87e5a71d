#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# run_fuzz.sh FUZZER SEEDS SECONDS [MAX_LEN]: libFuzzer on a fresh corpus for a
# bounded time; any crash, leak, undefined behaviour, timeout or failed check
# fails.  SEEDS is a directory of seed inputs kept in the repo
# (tests/fuzz/seeds/TARGET, which also holds the reproducers of bugs the
# fuzzer found: each is run first), or a program that writes them into the
# directory it is given.  MAX_LEN (default 4200) bounds an input's size.
set -eu
fuzzer=$(realpath "$1") seeds=$(realpath "$2") secs=$3 maxlen=${4:-4200}
dir=$(mktemp -d "${TMPDIR:-/tmp}/udk-fuzz.XXXXXX")
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/corpus"
if [ -d "$seeds" ]; then
	cp "$seeds"/* "$dir/corpus/"
else
	"$seeds" "$dir/corpus"
fi
cd "$dir"
# libFuzzer exits 77 on a finding by default, which meson takes for "skipped":
# make every finding a plain failure.
exec "$fuzzer" -max_total_time="$secs" -max_len="$maxlen" -timeout=10 -rss_limit_mb=1024 \
	-error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 corpus
