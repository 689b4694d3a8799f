#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the Debian packages: the release preset (hardened, installs to /usr),
# then CPack. SOURCE_DATE_EPOCH is the last commit's time when there is a git
# checkout, so the changelog and man page dates do not change between
# rebuilds of one commit.
#
# usage: scripts/package.sh [BUILD_DIR]   (default build-release)
#   writes BUILD_DIR/packages/faceverify_<version>-<rev>_<arch>.deb and
#   faceverify-local_…; see docs/packaging.md.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-release}
if [ -z "${SOURCE_DATE_EPOCH:-}" ] && git rev-parse --git-dir >/dev/null 2>&1; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
  export SOURCE_DATE_EPOCH
fi
cmake --preset release -B "$build" >/dev/null
cmake --build "$build"
cmake --build "$build" --target package
ls -1 "$build"/packages/*.deb
