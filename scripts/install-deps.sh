#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian/Ubuntu packages faceverify needs to build and test.
# Used by README's set-up command and by .ci/run. Runs apt-get through sudo
# when not root. Set FACEVERIFY_WITHOUT_LOCAL=1 for an API-only build (no
# OpenCV, no npm: about 170 MB less). With --build-only it installs only what
# the release build and its packages need (the Containerfile's build stage;
# no npm, no test tools).
# With --ci it also installs what .ci/run uses beyond the tests: valgrind,
# clang 16 with libFuzzer, Chromium to screenshot the calibration report (its
# test is skipped without it), clang-format to check the layout of the
# sources, lintian and mmdebstrap for the packages, podman for the image.
set -euo pipefail

mode=${1:-}
case "$mode" in ""|--ci|--build-only) ;; *) echo "usage: scripts/install-deps.sh [--ci | --build-only]" >&2; exit 2 ;; esac

packages=(
  g++ cmake ninja-build pkg-config ca-certificates  # toolchain; CA bundle for https
  libcurl4-openssl-dev libssl-dev                    # HTTP client; libcrypto for SHA-256
  nlohmann-json3-dev                                 # JSON
  libsimdjson-dev                                    # reading embedding files (JSON Lines) at hundreds of MB/s
  libcli11-dev                                       # command line
  libmicrohttpd-dev                                  # faceverify serve: the HTTP server (built for hostile clients)
  scdoc                                              # man pages (47 KB installed; pandoc is 168 MB)
  dpkg-dev file                                      # the .deb packages: CPack runs dpkg-shlibdeps, finds ELF files with file
)
if [ "$mode" != --build-only ]; then
  packages+=(
    catch2 libcpp-httplib-dev openssl                # tests: fake API4AI server (also over HTTPS)
    python3-requests curl                            # tests: faceverify serve against clients no one here wrote
    time                                             # bench/: peak memory (GNU time -f %M)
    man-db                                           # tests: man renders the pages without warnings
    bash-completion zsh fish                         # tests: the completions, run in each real shell
  )
fi
if [ -z "${FACEVERIFY_WITHOUT_LOCAL:-}" ]; then
  # The offline backend (--backend local): OpenCV's dnn and imgproc, the codec
  # libraries our decoder uses, OpenCV's imgcodecs for the tests only (they
  # make test images with it; the binary does not link it), and npm to fetch
  # the pinned model package (scripts/install-models.sh).
  packages+=(libopencv-dnn-dev libopencv-imgproc-dev libjpeg-dev libpng-dev libwebp-dev libtiff-dev)
  if [ "$mode" != --build-only ]; then packages+=(libopencv-imgcodecs-dev); fi
  if [ "$mode" != --build-only ] && ! command -v npm >/dev/null 2>&1; then packages+=(npm); fi
fi

if [ "$mode" = --ci ]; then
  packages+=(valgrind clang-16 libclang-rt-16-dev chromium clang-format
             lintian mmdebstrap podman)  # the packages: lintian, a pristine root, the server image
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then as_root=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}"
