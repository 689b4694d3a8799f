#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian/Ubuntu packages faceverify needs to build and test.
# Used by README's set-up command and by .ci/run. Runs apt-get through sudo
# when not root.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config ca-certificates  # toolchain; CA bundle for https
  libcurl4-openssl-dev                               # HTTP client
  nlohmann-json3-dev                                 # JSON
  libcli11-dev                                       # command line
  catch2 libcpp-httplib-dev                          # tests and the fake API4AI server
)

as_root=()
if [ "$(id -u)" -ne 0 ]; then as_root=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}"
