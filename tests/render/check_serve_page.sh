#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The page of faceverify serve works in a browser: starts the server on a free
# port, submits two photos of the same person through the page in headless
# Chromium (check_serve_page.py), checks the verdict and that the screenshot
# is not blank, then stops the server with SIGTERM and checks it exits 0.
#   check_serve_page.sh FACEVERIFY OUT.png PNG_STATS SHARED_DIR
# Exit: 0 passed; 1 failed (one line says why);
#       77 skipped: Chromium, python3, the shared photos or the models are
#       missing (Chromium: unless FACEVERIFY_REQUIRE_CHROMIUM=1; models:
#       unless FACEVERIFY_REQUIRE_MODELS=1).
set -uo pipefail

if [ $# -ne 4 ]; then
  echo "usage: $0 FACEVERIFY OUT.png PNG_STATS SHARED_DIR" >&2
  exit 1
fi
faceverify=$1
png=$2
stats=$3
faces=$4/faces
here=$(cd "$(dirname "$0")" && pwd)
# Two photos of one person (labels.csv: both df01).
photo1=$faces/img1.jpg
photo2=$faces/img2.jpg

for tool in "$faceverify" "$stats"; do
  if [ ! -x "$tool" ]; then
    echo "check_serve_page: not an executable: $tool" >&2
    exit 1
  fi
done
browser=${CHROMIUM:-}
if [ -z "$browser" ]; then
  for candidate in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$candidate" >/dev/null 2>&1; then
      browser=$candidate
      break
    fi
  done
fi
if [ -z "$browser" ] || ! command -v "$browser" >/dev/null 2>&1; then
  if [ "${FACEVERIFY_REQUIRE_CHROMIUM:-}" = "1" ]; then
    echo "check_serve_page: Chromium not found and FACEVERIFY_REQUIRE_CHROMIUM=1 (Debian: apt-get install chromium)" >&2
    exit 1
  fi
  echo "check_serve_page: skipped: Chromium not found (Debian: apt-get install chromium)"
  exit 77
fi
export CHROMIUM=$browser
if ! command -v python3 >/dev/null 2>&1; then
  echo "check_serve_page: skipped: python3 not found (Debian: apt-get install python3)"
  exit 77
fi
if [ ! -f "$photo1" ] || [ ! -f "$photo2" ]; then
  echo "check_serve_page: skipped: the shared photos are missing ($photo1, $photo2)"
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/faceverify-serve-page-XXXXXX")
log=$work/server.log
server=
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then kill -KILL "$server" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$faceverify" serve --listen 127.0.0.1:0 --workers 1 2>"$log" &
server=$!

# The ready line says which port it took: "faceverify: serving http://127.0.0.1:PORT (...)".
base=
for _ in $(seq 1 300); do
  base=$(grep -o 'serving http://127\.0\.0\.1:[0-9]*' "$log" | head -n 1 | sed 's/^serving //')
  [ -n "$base" ] && break
  if ! kill -0 "$server" 2>/dev/null; then
    wait "$server"
    status=$?
    server=
    if [ $status -eq 2 ] && grep -qi 'model' "$log" && [ "${FACEVERIFY_REQUIRE_MODELS:-}" != "1" ]; then
      echo "check_serve_page: skipped: the server has no models: $(head -n 1 "$log")"
      exit 77
    fi
    echo "check_serve_page: faceverify serve exited $status before it was ready: $(head -n 1 "$log")" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$base" ]; then
  echo "check_serve_page: faceverify serve printed no ready line in 30 s: $(head -n 1 "$log")" >&2
  exit 1
fi

mkdir -p "$(dirname "$png")"
rm -f "$png"
python3 "$here/check_serve_page.py" "$base/" "$photo1" "$photo2" "$png" "same person"
driver=$?

kill -TERM "$server"
stopped=
for _ in $(seq 1 200); do
  if ! kill -0 "$server" 2>/dev/null; then stopped=1; break; fi
  sleep 0.1
done
if [ -z "$stopped" ]; then
  echo "check_serve_page: faceverify serve did not stop within 20 s of SIGTERM" >&2
  exit 1
fi
wait "$server"
status=$?
server=
if [ $driver -ne 0 ]; then
  echo "check_serve_page: the page failed against $base; the server's log:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
if [ $status -ne 0 ]; then
  echo "check_serve_page: faceverify serve exited $status after SIGTERM, expected 0: $(tail -n 1 "$log")" >&2
  exit 1
fi
if ! "$stats" "$png"; then
  echo "check_serve_page: the screenshot $png looks blank or unreadable" >&2
  exit 1
fi
