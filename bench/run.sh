#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark: wall time and peak memory of one verification against the fake
# API4AI server, for several server latencies, measured side by side in one
# run. The point is the ratio to the server's latency: both images are
# analysed concurrently, so a verification should cost ~1x the latency, not 2x.
#
# usage: bench/run.sh [BUILD_DIR (default build)] [RUNS (default 7)]
set -euo pipefail
build=${1:-build}
runs=${2:-7}
fv=$build/src/faceverify
server=$build/tests/fake_api4ai
[ -x "$fv" ] && [ -x "$server" ] || { echo "bench: build first (cmake --preset default && cmake --build --preset default)" >&2; exit 2; }

work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
printf '\xff\xd8\xff\xe0 bench image a' >"$work/a.jpg"
printf '\xff\xd8\xff\xe0 bench image b' >"$work/b.jpg"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

start_server() {  # $1 = delay in ms for every request
  printf '{"default":{"delay_ms":%d}}' "$1" >"$work/scenario.json"
  "$server" --scenario "$work/scenario.json" >"$work/port" &
  pid=$!
  for _ in $(seq 100); do grep -q PORT "$work/port" 2>/dev/null && break; sleep 0.05; done
  port=$(awk '/PORT/ {print $2}' "$work/port")
}

printf '%-22s %10s %12s %14s %12s\n' "server latency (ms)" "runs" "median (ms)" "ratio to lat." "peak RSS (KiB)"
for delay in 0 250 500 1000; do
  start_server "$delay"
  times=()
  for _ in $(seq "$runs"); do
    t0=$(now_ms)
    "$fv" -q --api-url "http://127.0.0.1:$port" "$work/a.jpg" "$work/b.jpg" || true
    times+=($(( $(now_ms) - t0 )))
  done
  med=$(printf '%s\n' "${times[@]}" | median)
  if [ -x /usr/bin/time ]; then
    rss=$( { /usr/bin/time -f '%M' "$fv" -q --api-url "http://127.0.0.1:$port" "$work/a.jpg" "$work/b.jpg" 2>&1 >/dev/null || true; } | tail -1)
  else
    rss="n/a"
  fi
  if [ "$delay" -gt 0 ]; then ratio=$(awk -v m="$med" -v d="$delay" 'BEGIN {printf "%.2f", m / d}'); else ratio="-"; fi
  printf '%-22s %10s %12s %14s %12s\n' "$delay" "$runs" "$med" "$ratio" "$rss"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
echo "(ratio ~1.0: the two uploads overlap; ~2.0 would mean they ran one after the other)"

# The offline backend, when its models are installed: whole-run wall time and
# peak memory for the bundled samples (models loaded and checksummed per run).
if "$fv" --backend local -q samples/astronaut.jpg samples/astronaut-crop.jpg 2>/dev/null; then
  times=()
  for _ in $(seq "$runs"); do
    t0=$(now_ms)
    "$fv" --backend local -q samples/astronaut.jpg samples/astronaut-crop.jpg || true
    times+=($(( $(now_ms) - t0 )))
  done
  med=$(printf '%s\n' "${times[@]}" | median)
  rss="n/a"
  if [ -x /usr/bin/time ]; then
    rss=$( { /usr/bin/time -f '%M' "$fv" --backend local -q samples/astronaut.jpg samples/astronaut-crop.jpg 2>&1 >/dev/null || true; } | tail -1)
  fi
  echo
  printf '%-22s %10s %12s %14s\n' "backend local" "runs" "median (ms)" "peak RSS (KiB)"
  printf '%-22s %10s %12s %14s\n' "samples (512 px)" "$runs" "$med" "$rss"
else
  echo "(offline backend not measured: build without it, or models not installed)"
fi
