#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/search.sh [BUILD_DIR]: 1:N search over synthetic galleries (bench/make_gallery.cpp: identities seen
# with per-image noise, plus 5 planted near-duplicates whose rank must be 1), as gallery files and, for the
# smaller sizes, as JSON Lines side by side in the same run. Prints one table; fails (exit 1, MISMATCH) only
# when a planted probe is not found at rank 1, or the gallery and JSON Lines answers differ.
#   BENCH_SIZES   gallery sizes (default "10000 100000 1000000")
#   BENCH_JSONL   sizes also searched as JSON Lines (default "10000 20000"; 12 KB a record)
#   BENCH_RUNS    timed runs per row, median shown (default 3)
#   BENCH_DIR     where the galleries are made and kept between runs (default /tmp/faceverify-bench-search)
#   BASELINE      another faceverify binary (e.g. the previous release) timed on the JSON Lines rows too
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
fv="$build/src/faceverify"
make="$build/make_gallery"
sizes=${BENCH_SIZES:-10000 100000 1000000}
jsonl_sizes=${BENCH_JSONL:-10000 20000}
runs=${BENCH_RUNS:-3}
dir=${BENCH_DIR:-/tmp/faceverify-bench-search}
baseline=${BASELINE:-}
[[ -x $fv && -x $make ]] || { echo "build $fv and $make first (cmake --build --preset default)" >&2; exit 2; }
mkdir -p "$dir"
status=0
export XDG_CACHE_HOME="$dir/cache" XDG_CONFIG_HOME=/nonexistent/faceverify-bench

# median of the given numbers
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# time_run OUT_VAR_PREFIX CMD...: runs CMD $runs times; sets ${prefix}_s (median wall s) and ${prefix}_mb (max RSS MB)
time_run() {
  local prefix=$1; shift
  local walls=() rss=0 t m
  for ((i = 0; i < runs; i++)); do
    /usr/bin/time -f '%e %M' -o "$dir/time.txt" "$@" > "$dir/out.txt" 2> "$dir/err.txt" || true
    read -r t m < "$dir/time.txt"
    walls+=("$t")
    (( m > rss )) && rss=$m
  done
  printf -v "${prefix}_s" '%s' "$(median "${walls[@]}")"
  printf -v "${prefix}_mb" '%s' "$(awk -v k="$rss" 'BEGIN {printf "%.0f", k / 1024}')"
}

# check_planted FILE PROBES: every probe finds its record at rank 1 (json output of search --top 10)
check_planted() {
  local gallery=$1 probes=$2 n=0 ok=0
  while IFS= read -r line; do
    n=$((n + 1))
    printf '%s\n' "$line" > "$dir/probe.jsonl"
    want=$(printf '%s' "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["input"][len("probe-of:"):])')
    got=$("$fv" search --top 10 --json "$dir/probe.jsonl" "$gallery" 2>/dev/null |
          python3 -c 'import json,sys; r=json.load(sys.stdin)["results"]; print(r[0]["input"] if r else "")')
    if [[ $got == "$want" ]]; then ok=$((ok + 1)); else echo "MISMATCH: $gallery: probe of $want found $got at rank 1"; status=1; fi
  done < "$probes"
  echo "$ok/$n"
}

echo "faceverify search benchmark: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $runs runs per row (median)"
printf '%-9s %-6s %10s %9s %9s %10s %9s %8s %s\n' "records" "input" "file MB" "search s" "RSS MB" "matrix MB" "RSS/mat" "rank 1" "note"
for n in $sizes $jsonl_sizes; do
  g="$dir/g$n.fvg" p="$dir/p$n.jsonl"
  [[ -s $g && -s $p ]] || "$make" "$n" "$g" "$p" > /dev/null
done
for n in $sizes; do
  g="$dir/g$n.fvg" p="$dir/p$n.jsonl"
  cat "$g" > /dev/null  # in the page cache: the target is for a warm file
  head -1 "$p" > "$dir/probe.jsonl"
  time_run gal "$fv" search --top 10 --json "$dir/probe.jsonl" "$g"
  found=$(check_planted "$g" "$p")
  matrix_mb=$(awk -v n="$n" 'BEGIN {printf "%.0f", n * 512 * 4 / 1e6}')
  ratio=$(awk -v r="$gal_mb" -v m="$matrix_mb" 'BEGIN {printf "%.2f", r / m}')
  note=""
  [[ $n -eq 1000000 ]] && note=$(awk -v s="$gal_s" -v r="$ratio" 'BEGIN {print (s <= 0.5 ? "<= 0.5 s: met" : "<= 0.5 s: MISSED") (r <= 1.2 ? ", RSS met" : ", RSS MISSED")}')
  printf '%-9s %-6s %10.0f %9s %9s %10s %9s %8s %s\n' "$n" "fvg" "$(($(stat -c %s "$g") / 1000000))" "$gal_s" "$gal_mb" \
    "$matrix_mb" "$ratio" "$found" "$note"
done
# The same searches over JSON Lines (today's and, with BASELINE, the previous binary's) and the index rates.
for n in $jsonl_sizes; do
  g="$dir/g$n.fvg" p="$dir/p$n.jsonl" j="$dir/g$n.jsonl"
  [[ -s $j ]] || "$fv" index export "$g" > "$j"
  cat "$j" "$g" > /dev/null
  head -1 "$p" > "$dir/probe.jsonl"
  time_run gal "$fv" search --top 10 --json "$dir/probe.jsonl" "$g"
  cp "$dir/out.txt" "$dir/gallery.json"
  time_run js "$fv" search --top 10 --json "$dir/probe.jsonl" "$j"
  if ! python3 - "$dir/gallery.json" "$dir/out.txt" <<'EOF'; then status=1; fi
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
ra, rb = a["results"], b["results"]
bad = [x["input"] for x, y in zip(ra, rb) if x["input"] != y["input"] or abs(x["similarity"] - y["similarity"]) > 1e-5]
if len(ra) != len(rb) or bad:
    print("MISMATCH: gallery and JSON Lines answers differ:", bad[:3])
    sys.exit(1)
EOF
  rate=$(awk -v n="$n" -v s="$js_s" 'BEGIN {printf "%.0f", n / s}')
  speedup=$(awk -v a="$js_s" -v b="$gal_s" 'BEGIN {printf "%.1f", a / b}')
  printf '%-9s %-6s %10.0f %9s %9s %10s %9s %8s %s\n' "$n" "jsonl" "$(($(stat -c %s "$j") / 1000000))" "$js_s" "$js_mb" "" "" "" \
    "$rate records/s; the gallery is ${speedup}x faster"
  if [[ -n $baseline ]]; then
    time_run base "$baseline" search --top 10 --json "$dir/probe.jsonl" "$j"
    brate=$(awk -v n="$n" -v s="$base_s" 'BEGIN {printf "%.0f", n / s}')
    printf '%-9s %-6s %10s %9s %9s %10s %9s %8s %s\n' "$n" "base" "" "$base_s" "$base_mb" "" "" "" \
      "$brate records/s (BASELINE); this build reads JSON Lines $(awk -v a="$rate" -v b="$brate" 'BEGIN {printf "%.1f", a / b}')x faster"
  fi
  time_run add_g "$fv" index build -q --out "$dir/copy.fvg" "$g"
  time_run add_j "$fv" index build -q --out "$dir/copy.fvg" "$j"
  printf '%-9s %-6s %10s %9s %9s %10s %9s %8s %s\n' "$n" "index" "" "$add_g_s" "$add_g_mb" "" "" "" \
    "index build from a gallery: $(awk -v n="$n" -v s="$add_g_s" 'BEGIN {printf "%.0f", n / s}') records/s; from JSON Lines: $(awk -v n="$n" -v s="$add_j_s" 'BEGIN {printf "%.0f", n / s}') records/s ($add_j_s s)"
done
rm -f "$dir/copy.fvg"
exit $status
