#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every fuzz target for SECONDS (default 60) from its seeds, in a
# scratch corpus, and fails on the first crash, leak, timeout or sanitizer
# report. Prints one line of figures per target.
#   tests/fuzz/run.sh [BUILD_DIR (default build-fuzz)] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-fuzz}
seconds=${2:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for target in api4ai_response error_body image_header retry_after embedding_file pairs_file gallery_file serve_request; do
  corpus="$work/$target"
  mkdir -p "$corpus"
  log="$work/$target.log"
  if "$build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=1048576 \
      -print_final_stats=1 -artifact_prefix="$work/$target-" "$corpus" "tests/fuzz/seeds/$target" >"$log" 2>&1; then
    runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
    size=$(find "$corpus" -type f | wc -l)
    echo "fuzz_$target: ok, $runs executions, corpus $size inputs"
  else
    echo "fuzz_$target: FAILED"
    tail -40 "$log"
    ls "$work"/"$target"-* 2>/dev/null && for f in "$work"/"$target"-*; do echo "crasher $f:"; xxd "$f" | head -20; done
    status=1
  fi
done
exit $status
