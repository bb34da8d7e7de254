#!/bin/sh
# run_fuzz.sh FUZZER CORPUS SECONDS -- fuzz for a bounded time on a copy of
# the seed corpus, so the repository is never written.
set -eu
fuzzer=$1 corpus=$2 secs=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/corpus"
cp "$corpus"/* "$work/corpus/"
# Crash reproducers land in the build directory the test runs in.
"$fuzzer" -artifact_prefix="$PWD/" -max_total_time="$secs" -max_len=4096 -timeout=10 -print_final_stats=1 "$work/corpus"
