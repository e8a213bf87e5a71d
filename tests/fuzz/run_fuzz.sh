#!/bin/sh
# run_fuzz.sh FUZZER SECONDS MAX_LEN SEEDS: libFuzzer on a fresh corpus for a
# bounded time; any crash, leak, undefined behaviour or abort fails.  SEEDS is
# a directory of seed inputs kept in the repo (tests/fuzz/seeds/TARGET, which
# also holds the reproducers of bugs the fuzzer found: each is run first), or
# a program that writes them into the directory it is given.
set -eu
fuzzer=$(realpath "$1") secs=$2 maxlen=$3 seeds=$(realpath "$4")
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
