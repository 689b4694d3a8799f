#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark: `faceverify matrix` on N images against the fake API4AI server
# with an injected latency on every request. For each N it times a cold run
# (empty cache: N analyses, --jobs at a time) and a warm run (same command
# again: every analysis from the cache, no request), and checks the targets:
#   cold <= 1.3 x ceil(N / jobs) x latency   (the naive cost is N x latency)
#   warm <= 50 ms (checked for N = 200 only)
#   peak RSS <= 30 MiB, cold and warm (GNU time; "n/a" without it)
# It also checks that the cold run sent exactly N analysis requests and the
# warm run none, that both exit 0 with N + 1 CSV lines, and that the warm
# table equals the cold one. Only those correctness checks fail the script
# (exit 1); a missed timing or memory target is reported, not fatal.
#
# usage: bench/batch.sh [BUILD_DIR (default build)]
# env:   BENCH_SIZES (default "10 50 200"), BENCH_JOBS (default 4),
#        BENCH_LATENCY_MS (default 200)
set -euo pipefail
build=${1:-build}
sizes=${BENCH_SIZES:-10 50 200}
jobs=${BENCH_JOBS:-4}
latency=${BENCH_LATENCY_MS:-200}
fv=$build/src/faceverify
server=$build/tests/fake_api4ai
sample=$(dirname "$0")/../samples/astronaut.jpg
[ -x "$fv" ] && [ -x "$server" ] || { echo "bench: build first (cmake --preset default && cmake --build --preset default)" >&2; exit 2; }
[ -f "$sample" ] || { echo "bench: $sample not found" >&2; exit 2; }

work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

# --- fake server, every request delayed by $latency ms, on an ephemeral port
printf '{"default":{"delay_ms":%d}}' "$latency" >"$work/scenario.json"
"$server" --scenario "$work/scenario.json" >"$work/port" &
pid=$!
for _ in $(seq 100); do grep -q PORT "$work/port" 2>/dev/null && break; sleep 0.05; done
port=$(awk '/PORT/ {print $2}' "$work/port")
[ -n "$port" ] || { echo "bench: fake server did not start" >&2; exit 2; }
base=http://127.0.0.1:$port

reset_log() { curl -fsS -d '' "$base/__reset" >/dev/null; }
# analysis requests in the log (the routes are …/v1/results; /__* are not logged)
count_analyses() { curl -fsS "$base/__requests" | { grep -o '"path":"[^"]*/v1/results"' || true; } | wc -l; }

# --- N distinct images: the 84 KB sample with unique bytes appended (a
# realistic upload size; the fake server keys its answer on the md5)
max=0
for n in $sizes; do if [ "$n" -gt "$max" ]; then max=$n; fi; done
mkdir "$work/img"
for i in $(seq "$max"); do
  { cat "$sample"; printf 'faceverify bench image %d\n' "$i"; } >"$work/img/$(printf 'img%04d.jpg' "$i")"
done

have_time=0
[ -x /usr/bin/time ] && have_time=1

# run_matrix N CACHE OUT: sets ms (wall, from EPOCHREALTIME), rss (KiB or n/a), rc
run_matrix() {
  local n=$1 cache=$2 out=$3 t0 t1
  local files=()
  for i in $(seq "$n"); do files+=("$work/img/$(printf 'img%04d.jpg' "$i")"); done
  local cmd=("$fv" matrix -q --backend api4ai --api-url "$base" --jobs "$jobs" --cache-dir "$cache" --format csv "${files[@]}")
  [ "$have_time" = 1 ] && cmd=(/usr/bin/time -f '%M' -o "$work/rss" "${cmd[@]}")
  t0=$EPOCHREALTIME
  rc=0
  XDG_CACHE_HOME=$cache "${cmd[@]}" >"$out" 2>"$out.err" || rc=$?
  t1=$EPOCHREALTIME
  ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", (b - a) * 1000}')
  rss=n/a
  [ "$have_time" = 1 ] && rss=$(tail -1 "$work/rss")
  return 0
}

fail=0
missed=()
mismatches=()
err() { echo "bench: MISMATCH: $*" >&2; mismatches+=("$*"); fail=1; }
mb() { [ "$1" = n/a ] && { echo n/a; return; }; awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
rss_ok() { [ "$1" = n/a ] && { echo "-"; return; }; [ "$1" -le $((30 * 1024)) ] && echo PASS || echo FAIL; }

rows=()
for n in $sizes; do
  cache=$work/cache-$n
  mkdir "$cache"
  lines=$((n + 1))

  reset_log
  run_matrix "$n" "$cache" "$work/cold.csv"
  cold_ms=$ms cold_rss=$rss cold_rc=$rc
  cold_req=$(count_analyses)

  reset_log
  run_matrix "$n" "$cache" "$work/warm.csv"
  warm_ms=$ms warm_rss=$rss warm_rc=$rc
  warm_req=$(count_analyses)

  [ "$cold_rc" = 0 ] || err "N=$n cold run exited $cold_rc: $(head -3 "$work/cold.csv.err")"
  [ "$warm_rc" = 0 ] || err "N=$n warm run exited $warm_rc: $(head -3 "$work/warm.csv.err")"
  [ "$cold_req" = "$n" ] || err "N=$n cold run sent $cold_req analysis requests, expected $n"
  [ "$warm_req" = 0 ] || err "N=$n warm run sent $warm_req analysis requests, expected 0"
  [ "$(wc -l <"$work/cold.csv")" = "$lines" ] || err "N=$n cold CSV has $(wc -l <"$work/cold.csv") lines, expected $lines"
  cmp -s "$work/cold.csv" "$work/warm.csv" || err "N=$n warm table differs from the cold one"

  naive=$((n * latency))
  bound=$(awk -v n="$n" -v j="$jobs" -v l="$latency" 'BEGIN {c = int((n + j - 1) / j); printf "%.0f", 1.3 * c * l}')
  ratio="-" cold_ok="-"  # no bound without latency
  if [ "$bound" -gt 0 ]; then
    ratio=$(awk -v c="$cold_ms" -v b="$bound" 'BEGIN {printf "%.2f", c / b}')
    cold_ok=PASS; [ "$cold_ms" -le "$bound" ] || { cold_ok=FAIL; missed+=("N=$n cold ${cold_ms} ms > bound ${bound} ms"); }
  fi
  warm_ok="-"
  if [ "$n" = 200 ]; then
    warm_ok=PASS; [ "$warm_ms" -le 50 ] || { warm_ok=FAIL; missed+=("N=$n warm ${warm_ms} ms > 50 ms"); }
  fi
  rc_ok=$(rss_ok "$cold_rss") rw_ok=$(rss_ok "$warm_rss")
  [ "$rc_ok" = FAIL ] && missed+=("N=$n cold peak RSS $(mb "$cold_rss") MiB > 30 MiB")
  [ "$rw_ok" = FAIL ] && missed+=("N=$n warm peak RSS $(mb "$warm_rss") MiB > 30 MiB")
  rss_col=PASS
  { [ "$rc_ok" = FAIL ] || [ "$rw_ok" = FAIL ]; } && rss_col=FAIL
  [ "$rc_ok" = "-" ] && [ "$rw_ok" = "-" ] && rss_col="-"
  rows+=("$(printf '%5s %4s %9s %9s %9s %6s %9s %8s %8s %6s %6s %6s %6s' \
    "$n" "$jobs" "$naive" "$bound" "$cold_ms" "$ratio" "$warm_ms" "$(mb "$cold_rss")" "$(mb "$warm_rss")" \
    "$cold_ok" "$warm_ok" "$rss_col" "$cold_req/$warm_req")")
done

echo "faceverify matrix, fake API4AI server with ${latency} ms per request; times in ms, peak RSS in MiB"
printf '%5s %4s %9s %9s %9s %6s %9s %8s %8s %6s %6s %6s %6s\n' \
  N jobs naive bound cold cold/bd warm rss-cold rss-warm t-cold t-warm t-rss req
printf '%s\n' "${rows[@]}"
echo "naive = N x latency (one request after another); bound = 1.3 x ceil(N/jobs) x latency;"
echo "targets: cold <= bound, warm <= 50 ms (N = 200 only), peak RSS <= 30 MiB; req = analysis requests cold/warm (expected N/0)"
[ "$have_time" = 1 ] || echo "(peak RSS n/a: /usr/bin/time not installed; Debian package 'time')"
if [ "${#missed[@]}" -gt 0 ]; then
  echo "targets missed (not fatal: timings are noisy):"
  printf '  %s\n' "${missed[@]}"
else
  echo "all targets met"
fi
if [ "$fail" != 0 ]; then
  echo "bench: FAILED correctness checks:" >&2
  printf 'bench: MISMATCH: %s\n' "${mismatches[@]}" >&2
  exit 1
fi
