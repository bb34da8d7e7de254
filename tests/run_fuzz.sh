#!/bin/sh
# run_fuzz.sh FUZZER CORPUS SECONDS -- every fuzz test (resp_, raft_, storage_):
# fuzz for a bounded time on a copy of
# the seed corpus in a temporary directory, removed afterwards.
set -eu
fuzzer=$1 corpus=$2 secs=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/corpus"
cp "$corpus"/* "$work/corpus/"
cd "$work"
"$fuzzer" -artifact_prefix="$work/" -max_total_time="$secs" -max_len=4096 -timeout=10 \
  -rss_limit_mb=4096 -print_final_stats=1 "$work/corpus" || {
  status=$?
  # Keep the reproducer where a developer can find it.
  cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* /tmp/ 2>/dev/null || true
  exit $status
}
