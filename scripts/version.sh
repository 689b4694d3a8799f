#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Prints the project's version, the one place it is set:
# project(faceverify VERSION x.y.z) in CMakeLists.txt. For the scripts that
# need it before (or without) a build: check-packages, build-image, the
# release jobs.
set -euo pipefail
version=$(sed -n 's/^project(faceverify VERSION \([0-9.]*\).*/\1/p' "$(dirname "$0")/../CMakeLists.txt")
[ -n "$version" ] || { echo "version.sh: no project(faceverify VERSION ...) in CMakeLists.txt" >&2; exit 1; }
echo "$version"
