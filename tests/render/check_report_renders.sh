#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Renders an HTML report with headless Chromium and checks the screenshot is
# not blank.
#   check_report_renders.sh REPORT.html OUT.png [PNG_STATS]
# PNG_STATS is the png_stats checker (tests/render/png_stats.cpp); default:
# $FACEVERIFY_PNG_STATS, else png_stats on PATH.
# Exit: 0 rendered and not blank (prints png_stats' one-line summary);
#       1 blank, not rendered, or a bad argument;
#       77 Chromium is not installed (skipped), unless FACEVERIFY_REQUIRE_CHROMIUM=1.
# Chromium: $CHROMIUM, else chromium, chromium-browser, google-chrome on PATH.
# Networking is switched off for the render (no DNS, a dead proxy): the
# report must render from the file alone.
set -uo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: $0 REPORT.html OUT.png [PNG_STATS]" >&2
  exit 1
fi
html=$1
png=$2
stats=${3:-${FACEVERIFY_PNG_STATS:-png_stats}}

if [ ! -f "$html" ]; then
  echo "check_report_renders: no such file: $html" >&2
  exit 1
fi
if ! command -v "$stats" >/dev/null 2>&1; then
  echo "check_report_renders: PNG checker not found: $stats" >&2
  exit 1
fi

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
    echo "check_report_renders: Chromium not found and FACEVERIFY_REQUIRE_CHROMIUM=1 (Debian: apt-get install chromium)" >&2
    exit 1
  fi
  echo "check_report_renders: skipped: Chromium not found (Debian: apt-get install chromium)"
  exit 77
fi

abs_html=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
mkdir -p "$(dirname "$png")"
abs_png=$(cd "$(dirname "$png")" && pwd)/$(basename "$png")
rm -f "$abs_png"

# A throwaway profile, so parallel runs do not share one.
profile=$(mktemp -d "${TMPDIR:-/tmp}/faceverify-chromium-XXXXXX")
log=$profile.log
cleanup() { rm -rf "$profile" "$log"; }
trap cleanup EXIT

# --no-sandbox: needed as root (CI containers); --disable-gpu: no GPU there.
command=("$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars
         --no-first-run --no-default-browser-check --disable-extensions --disable-dev-shm-usage
         --user-data-dir="$profile" --host-resolver-rules="MAP * ~NOTFOUND" --proxy-server="127.0.0.1:9"
         --window-size=1200,1800 --screenshot="$abs_png" "file://$abs_html")
if command -v timeout >/dev/null 2>&1; then command=(timeout 120 "${command[@]}"); fi

"${command[@]}" >"$log" 2>&1
status=$?
if [ $status -ne 0 ] || [ ! -s "$abs_png" ]; then
  echo "check_report_renders: Chromium failed (exit $status, no screenshot); its output:" >&2
  tail -n 30 "$log" >&2
  exit 1
fi

"$stats" "$abs_png"
case $? in
  0) exit 0 ;;
  *) echo "check_report_renders: the screenshot $abs_png looks blank or unreadable" >&2; exit 1 ;;
esac
