#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Renders one man page as a reader would and fails on any warning:
#   MANWIDTH=80 man --warnings -l PAGE.1.gz >/dev/null, with stderr empty.
# usage: check-render.sh PAGE.1.gz
set -uo pipefail
page=$1
if ! command -v man >/dev/null 2>&1; then
  echo "check-render: man not found; install man-db (scripts/install-deps.sh does)" >&2
  exit 1
fi
errors=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
status=$?
if [ "$status" -ne 0 ] || [ -n "$errors" ]; then
  echo "check-render: $page: man exited $status with warnings:" >&2
  printf '%s\n' "$errors" >&2
  exit 1
fi
