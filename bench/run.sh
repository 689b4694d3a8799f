#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark: wall time and peak memory of one verification against the fake
# API4AI server, for several server latencies, measured side by side in one
# run. The point is the ratio to the server's latency: both images are
# analysed concurrently, so a verification should cost ~1x the latency, not 2x.
#
# usage: bench/run.sh [BUILD_DIR (default build)] [RUNS (default 7)]
# env:   BASELINE=/path/to/older/faceverify (the local rows' reference),
#        BENCH_LOCAL_ONLY=1 (skip the fake-server rows)
set -euo pipefail
build=${1:-build}
runs=${2:-7}
fv=$build/src/faceverify
server=$build/tests/fake_api4ai
[ -x "$fv" ] && { [ -x "$server" ] || [ "${BENCH_LOCAL_ONLY:-0}" = 1 ]; } || { echo "bench: build first (cmake --preset default && cmake --build --preset default)" >&2; exit 2; }

work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
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

[ "${BENCH_LOCAL_ONLY:-0}" = 1 ] || printf '%-22s %10s %12s %14s %12s\n' "server latency (ms)" "runs" "median (ms)" "ratio to lat." "peak RSS (KiB)"
delays="0 250 500 1000"
[ "${BENCH_LOCAL_ONLY:-0}" = 1 ] && delays=""
for delay in $delays; do
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
[ -n "$delays" ] && echo "(ratio ~1.0: the two uploads overlap; ~2.0 would mean they ran one after the other)"

# The offline backend, when its models are installed: end-to-end wall time
# (process start to exit) and peak memory of one verification of two photos
# of ~1600 px (../shared/faces when present; else the 512 px samples), side
# by side in one run with a reference, runs interleaved so that load hits
# both alike: BASELINE=/path/to/an/older/faceverify when given (how "today"
# was measured), else this build with --decode scaled (pipeline 2, opt-in) when it has that option.
# Target: this build <= 0.8 x the reference. Then the per-stage table.
median_of() { printf '%s\n' "$@" | median; }
one_shot_ms() {  # command...: prints its wall time in ms (and its CPU ms in $work/cpu)
  local t0 t1
  t0=$EPOCHREALTIME
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%U %S' -o "$work/cpu" "$@" >/dev/null 2>&1 || true
  else
    "$@" >/dev/null 2>&1 || true
    echo "0 0" >"$work/cpu"
  fi
  t1=$EPOCHREALTIME
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", (b - a) * 1000}'
}
peak_kib() {  # command...: prints its peak RSS in KiB (n/a without GNU time)
  if [ -x /usr/bin/time ]; then
    { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null || true; } | tail -1
  else
    echo n/a
  fi
}
if "$fv" --backend local -q samples/astronaut.jpg samples/astronaut-crop.jpg 2>/dev/null; then
  a=samples/astronaut.jpg b=samples/astronaut-crop.jpg what="samples (512 px)"
  if [ -f ../shared/faces/img1.jpg ] && [ -f ../shared/faces/img2.jpg ]; then
    a=../shared/faces/img1.jpg b=../shared/faces/img2.jpg what="1600 px photos"
  fi
  names=("this build") cmds=("$fv --backend local -q")
  if [ -n "${BASELINE:-}" ]; then
    [ -x "$BASELINE" ] || { echo "bench: BASELINE=$BASELINE is not an executable" >&2; exit 2; }
    names+=("baseline ($BASELINE)") cmds+=("$BASELINE --backend local -q")
  fi
  if "$fv" --help 2>/dev/null | grep -q -- '--decode'; then
    names+=("this build, --decode scaled") cmds+=("$fv --backend local -q --decode scaled")
  fi
  ref=$(( ${#names[@]} > 1 ? 1 : 0 ))
  declare -A samples=() cpus=()
  for name in "${names[@]}"; do samples[$name]="" cpus[$name]=""; done
  for i in "${!cmds[@]}"; do one_shot_ms ${cmds[$i]} "$a" "$b" >/dev/null; done  # warm the page cache
  for _ in $(seq "$runs"); do
    for i in "${!cmds[@]}"; do
      samples[${names[$i]}]+=" $(one_shot_ms ${cmds[$i]} "$a" "$b")"
      cpus[${names[$i]}]+=" $(awk '{printf "%.0f", ($1 + $2) * 1000}' "$work/cpu")"
    done
  done
  echo
  echo "faceverify --backend local A B, $what, $runs runs interleaved (load $(cut -d' ' -f1-3 /proc/loadavg))"
  printf '%-30s %10s %7s %10s %7s %15s\n' "binary" "wall ms" "ratio" "CPU ms" "ratio" "peak RSS (KiB)"
  ref_med=$(median_of ${samples[${names[$ref]}]})
  ref_cpu=$(median_of ${cpus[${names[$ref]}]})
  for i in "${!cmds[@]}"; do
    med=$(median_of ${samples[${names[$i]}]})
    cpu=$(median_of ${cpus[${names[$i]}]})
    printf '%-30s %10s %7s %10s %7s %15s\n' "${names[$i]:0:30}" "$med" "$(awk -v m="$med" -v r="$ref_med" 'BEGIN {printf "%.2f", m / r}')" \
      "$cpu" "$(awk -v m="$cpu" -v r="$ref_cpu" 'BEGIN {printf "%.2f", (r > 0 ? m / r : 0)}')" "$(peak_kib ${cmds[$i]} "$a" "$b")"
  done
  [ "$ref" = 1 ] && echo "target: this build's wall <= 0.80 x ${names[$ref]}'s (medians); peak RSS not higher"
  [ "$ref" = 0 ] && echo "(no reference: give BASELINE=/path/to/older/faceverify for a ratio)"
  echo
  echo "per image and stage (CPU ms on one thread, median of $runs; build/stage_bench):"
  "$build/stage_bench" "$runs" "$a" "$b"
  echo
  echo "published anchors, for context (other tools, other machines):"
  echo "  face_recognition (dlib): ~0.09 s per 480p image;  DeepFace verify: 0.6-0.9 s per warm pair"
else
  echo "(offline backend not measured: build without it, or models not installed)"
fi
