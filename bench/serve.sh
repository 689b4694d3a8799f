#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark: faceverify serve on the shared photos, side by side with
# `faceverify embed --backend local` on the same photos in the same run.
# Rows (one table):
#   embed         images/s of the CLI (the reference; -j = workers)
#   serve cN      images/s served at N concurrent keep-alive clients, p50/p99,
#                 and the ratio to embed (target >= 0.9 at N >= workers)
#   slow clients  p50 of a normal request while 200 connections trickle
#                 headers or bodies a byte a second, against its p50 without
#                 them (target <= 2x)
#   memory        server RSS after the first 100 requests and after all
#                 BENCH_MEMORY_REQUESTS (default 10000; target: flat)
# Needs the models (scripts/install-models.sh) and python3.
#
# usage: bench/serve.sh [BUILD_DIR (default build)]
# env:   BENCH_WORKERS (default: cores), BENCH_REQUESTS (per row, default 200),
#        BENCH_MEMORY_REQUESTS (default 10000), FACEVERIFY_SHARED_DIR (default ../shared)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
fv=$build/src/faceverify
shared=${FACEVERIFY_SHARED_DIR:-$here/../../shared}
workers=${BENCH_WORKERS:-$(nproc)}
requests=${BENCH_REQUESTS:-200}
memory_requests=${BENCH_MEMORY_REQUESTS:-10000}
[ -x "$fv" ] || { echo "bench: build first (cmake --preset default && cmake --build --preset default)" >&2; exit 2; }
mapfile -t photos < <(ls "$shared"/faces/*.jpg)
[ "${#photos[@]}" -gt 0 ] || { echo "bench: no photos in $shared/faces" >&2; exit 2; }

work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
export XDG_CACHE_HOME=$work/cache

row() { printf '%-14s %10s %10s %10s %10s %s\n' "$@"; }
row "what" "images/s" "p50 ms" "p99 ms" "ratio" "note"

# The reference: the CLI on the same photos, as many jobs as the server has workers.
start=$(date +%s.%N)
"$fv" embed --backend local --no-cache -j "$workers" "${photos[@]}" >/dev/null 2>"$work/embed.err" ||
  { cat "$work/embed.err" >&2; exit 1; }
end=$(date +%s.%N)
embed_rate=$(python3 -c "print(${#photos[@]} / ($end - $start))")
row "embed" "$(printf %.1f "$embed_rate")" - - 1.00 "-j $workers, ${#photos[@]} photos"

"$fv" serve --listen 127.0.0.1:0 --workers "$workers" --access-log /dev/null 2>"$work/serve.err" &
pid=$!
for _ in $(seq 600); do grep -q 'serving http' "$work/serve.err" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/serve.err" | head -1)
[ -n "$url" ] || { cat "$work/serve.err" >&2; exit 1; }
port=${url##*:}

python3 "$here/serve_load.py" "$url" 2 "${#photos[@]}" "${photos[@]}" >/dev/null  # warm up every worker
for c in 1 2 4 8; do
  json=$(python3 "$here/serve_load.py" "$url" "$c" "$requests" "${photos[@]}")
  python3 - "$json" "$embed_rate" "$c" "$workers" <<'PY'
import json, sys
j, ref, c, w = json.loads(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ratio = j["images_per_s"] / ref
note = ("target >= 0.9: " + ("met" if ratio >= 0.9 else "MISSED")) if c >= w else ""
if j["errors"]: note += " %d errors" % j["errors"]
print("%-14s %10.1f %10.1f %10.1f %10.2f %s" % ("serve c%d" % c, j["images_per_s"], j["p50_ms"], j["p99_ms"], ratio, note))
PY
done

# Slow clients: a normal request's latency with and without 200 tricklers.
base_json=$(python3 "$here/serve_load.py" "$url" 1 40 "${photos[0]}")
python3 "$here/serve_slow.py" 127.0.0.1 "$port" 200 30 >"$work/slow.out" &
slow=$!
for _ in $(seq 100); do grep -q ready "$work/slow.out" 2>/dev/null && break; sleep 0.1; done
slow_json=$(python3 "$here/serve_load.py" "$url" 1 40 "${photos[0]}")
kill "$slow" 2>/dev/null || true
python3 - "$base_json" "$slow_json" <<'PY'
import json, sys
b, s = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ratio = s["p50_ms"] / b["p50_ms"]
print("%-14s %10.1f %10.1f %10.1f %10.2f %s" % ("slow clients", s["images_per_s"], s["p50_ms"], s["p99_ms"], ratio,
      "200 tricklers; p50 alone %.1f ms; target <= 2x: %s" % (b["p50_ms"], "met" if ratio <= 2 else "MISSED")))
PY

# Memory: RSS after 100 requests and after all of them.
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
python3 "$here/serve_load.py" "$url" "$workers" 100 "${photos[@]}" >/dev/null
first=$(rss)
python3 "$here/serve_load.py" "$url" "$workers" "$memory_requests" "${photos[@]}" >/dev/null
last=$(rss)
row "memory" - - - "$(python3 -c "print('%.2f' % ($last / $first))")" \
  "RSS $((first / 1024)) MiB after 100 requests, $((last / 1024)) MiB after $memory_requests more"

kill -TERM "$pid"
wait "$pid" && status=0 || status=$?
pid=
[ "$status" -eq 0 ] || { echo "bench: the server exited $status on SIGTERM" >&2; exit 1; }
