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
# Then, when the offline backend's models and ../shared/faces are there, the
# local table: `embed --backend local --no-cache -j J` over the shared photos
# for J = 1, 2, 4 (images/s, CPU s per photo from GNU time's user + sys, peak
# RSS), beside a reference in the same run, runs interleaved:
# BASELINE=/path/to/older/faceverify when given, else this build with
# --decode scaled (opt-in) when it has that option. Targets: throughput >= 1.35 x,
# CPU per photo <= 0.75 x, peak RSS not higher than the reference's.
#
# usage: bench/batch.sh [BUILD_DIR (default build)]
# env:   BENCH_SIZES (default "10 50 200"), BENCH_JOBS (default 4),
#        BENCH_LATENCY_MS (default 200); BASELINE, BENCH_LOCAL_RUNS (default 3),
#        BENCH_LOCAL_JOBS (default "1 2 4"), BENCH_LOCAL_ONLY=1 (skip the
#        fake-server table), BENCH_PHOTOS (default ../shared/faces)
set -euo pipefail
build=${1:-build}
sizes=${BENCH_SIZES:-10 50 200}
jobs=${BENCH_JOBS:-4}
latency=${BENCH_LATENCY_MS:-200}
fv=$build/src/faceverify
server=$build/tests/fake_api4ai
sample=$(dirname "$0")/../samples/astronaut.jpg
[ -x "$fv" ] && { [ -x "$server" ] || [ "${BENCH_LOCAL_ONLY:-0}" = 1 ]; } || { echo "bench: build first (cmake --preset default && cmake --build --preset default)" >&2; exit 2; }
[ -f "$sample" ] || { echo "bench: $sample not found" >&2; exit 2; }

work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
fail=0
mismatches=()

api_table() {
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

  missed=()
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
}

# --- the offline backend: embed over the shared photos
# local_run BIN JOBS [ARGS...]: appends "wall user sys maxrss" to $work/local-<key>
local_run() {
  local bin=$1 jobs=$2 key=$3
  shift 3
  /usr/bin/time -f '%e %U %S %M' -o "$work/t" "$bin" embed --backend local --no-cache -q -j "$jobs" "$@" "${photos[@]}" \
    >/dev/null 2>"$work/err" || { echo "bench: $bin embed -j $jobs failed: $(head -2 "$work/err")" >&2; fail=1; }
  tail -1 "$work/t" >>"$work/local-$key"
}
# median of column $2 of file $1
col_median() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

local_table() {
  local dir=${BENCH_PHOTOS:-$(dirname "$0")/../../shared/faces}
  [ -d "$dir" ] || dir=$(dirname "$0")/../shared/faces
  photos=()
  for f in "$dir"/*.jpg "$dir"/*.png "$dir"/*.webp; do [ -f "$f" ] && photos+=("$f"); done
  if [ "${#photos[@]}" = 0 ] || ! "$fv" embed --backend local --no-cache -q "${photos[0]}" >/dev/null 2>&1 ||
    [ ! -x /usr/bin/time ]; then
    echo "(local table skipped: needs the models, photos in ${BENCH_PHOTOS:-../shared/faces} and GNU time)"
    return 0
  fi
  local names=("this build") bins=("$fv") extra=("")
  if [ -n "${BASELINE:-}" ]; then
    [ -x "$BASELINE" ] || { echo "bench: BASELINE=$BASELINE is not an executable" >&2; exit 2; }
    names+=("baseline") bins+=("$BASELINE") extra+=("")
  fi
  if "$fv" embed --help 2>/dev/null | grep -q -- '--decode'; then
    names+=("--decode scaled") bins+=("$fv") extra+=("--decode scaled")
  fi
  local ref=$(( ${#names[@]} > 1 ? 1 : 0 )) runs=${BENCH_LOCAL_RUNS:-3} n=${#photos[@]}
  local load0
  load0=$(cut -d' ' -f1-3 /proc/loadavg)
  for j in ${BENCH_LOCAL_JOBS:-1 2 4}; do
    for _ in $(seq "$runs"); do
      for i in "${!bins[@]}"; do
        # shellcheck disable=SC2086 # extra is a word list
        local_run "${bins[$i]}" "$j" "$i-$j" ${extra[$i]}
      done
    done
  done
  echo
  echo "embed --backend local --no-cache on $n photos, median of $runs interleaved runs (load before $load0, after $(cut -d' ' -f1-3 /proc/loadavg))"
  printf '%-16s %3s %9s %10s %11s %10s %9s %10s %8s\n' binary -j images/s "x thrpt" "CPU ms/ph" "x CPU" "RSS MiB" "x RSS" "cores"
  local missed_local=()
  for j in ${BENCH_LOCAL_JOBS:-1 2 4}; do
    local rw ru rs rm
    rw=$(col_median "$work/local-$ref-$j" 1)
    ru=$(awk '{print $2 + $3}' "$work/local-$ref-$j" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    rm=$(col_median "$work/local-$ref-$j" 4)
    for i in "${!bins[@]}"; do
      local w c m
      w=$(col_median "$work/local-$i-$j" 1)
      c=$(awk '{print $2 + $3}' "$work/local-$i-$j" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
      m=$(col_median "$work/local-$i-$j" 4)
      printf '%-16s %3s %9s %10s %11s %10s %9s %10s %8s\n' "${names[$i]}" "$j" \
        "$(awk -v n="$n" -v w="$w" 'BEGIN {printf "%.1f", n / w}')" \
        "$(awk -v a="$w" -v b="$rw" 'BEGIN {printf "%.2f", b / a}')" \
        "$(awk -v n="$n" -v c="$c" 'BEGIN {printf "%.1f", 1000 * c / n}')" \
        "$(awk -v a="$c" -v b="$ru" 'BEGIN {printf "%.2f", a / b}')" \
        "$(awk -v m="$m" 'BEGIN {printf "%.1f", m / 1024}')" \
        "$(awk -v a="$m" -v b="$rm" 'BEGIN {printf "%.2f", a / b}')" \
        "$(awk -v c="$c" -v w="$w" 'BEGIN {printf "%.2f", c / w}')"
      if [ "$i" = 0 ] && [ "$ref" = 1 ]; then
        awk -v a="$w" -v b="$rw" 'BEGIN {exit !(b / a < 1.35)}' && missed_local+=("-j $j throughput < 1.35 x")
        awk -v a="$c" -v b="$ru" 'BEGIN {exit !(a / b > 0.75)}' && missed_local+=("-j $j CPU per photo > 0.75 x")
        [ "$m" -gt "$rm" ] && missed_local+=("-j $j peak RSS above the reference's")
      fi
    done
  done
  echo "x = ratio to ${names[$ref]} at the same -j (throughput: higher is better; CPU, RSS: lower); cores = CPU s / wall s"
  if [ "$ref" = 1 ]; then
    echo "targets: throughput >= 1.35 x, CPU per photo <= 0.75 x, peak RSS not higher"
    if [ "${#missed_local[@]}" -gt 0 ]; then printf '  missed: %s\n' "${missed_local[@]}"; else echo "  all met"; fi
  fi
}

[ "${BENCH_LOCAL_ONLY:-0}" = 1 ] || api_table
local_table
if [ "$fail" != 0 ]; then
  echo "bench: FAILED correctness checks:" >&2
  printf 'bench: MISMATCH: %s\n' "${mismatches[@]}" >&2
  exit 1
fi
