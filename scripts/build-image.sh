#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the server image from Containerfile where no registry is reachable:
# both base images are made here by mmdebstrap from the Debian mirror apt
# uses (bookworm, and a slim one that leaves out man pages, docs and locales
# as Debian's -slim images do), imported with podman, and the Containerfile is
# built with `podman build --isolation chroot --format docker`. Then checks
# the image's configuration (user, port, health check, entry point) and, with
# --export DIR, unpacks its root filesystem there for scripts/check-packages.sh
# --rootfs DIR (containers cannot run on our machines; a chroot can).
#
# usage: scripts/build-image.sh [--tag NAME] [--export DIR]
#   default tag: localhost/faceverify:<version>. Runs as root.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(scripts/version.sh)
tag=localhost/faceverify:$version
export_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    --export) export_dir=$2; shift 2 ;;
    *) echo "usage: scripts/build-image.sh [--tag NAME] [--export DIR]" >&2; exit 2 ;;
  esac
done
fail() { echo "build-image: FAIL: $*" >&2; exit 1; }

mirror=(
  "deb http://deb.debian.org/debian bookworm main"
  "deb http://deb.debian.org/debian bookworm-updates main"
  "deb http://deb.debian.org/debian-security bookworm-security main"
)
# APT::Sandbox::User root: apt's _apt user cannot open this machine's /dev/null (mode 600).
sandbox=(--aptopt='APT::Sandbox::User "root"')
base=localhost/faceverify-base:bookworm
slim=localhost/faceverify-base:bookworm-slim
if ! podman image exists "$base"; then
  echo "-- base image $base (mmdebstrap minbase)"
  mmdebstrap --quiet --variant=minbase "${sandbox[@]}" bookworm - "${mirror[@]}" | podman import -q - "$base" >/dev/null
fi
if ! podman image exists "$slim"; then
  echo "-- base image $slim (minbase without man pages, docs but copyright, locales)"
  mmdebstrap --quiet --variant=minbase "${sandbox[@]}" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    bookworm - "${mirror[@]}" | podman import -q - "$slim" >/dev/null
fi

# The model tarball, fetched here (or FACEVERIFY_MODELS_TARBALL): npm in the
# image's models stage would cost ~600 packages.
models_dir=packaging/image-models
trap 'rm -f "$models_dir"/*.tgz' EXIT
if [ -n "${FACEVERIFY_MODELS_TARBALL:-}" ]; then
  cp "$FACEVERIFY_MODELS_TARBALL" "$models_dir/"
else
  (cd "$models_dir" && npm pack --silent faceplugin-face-recognition-js@0.0.1 >/dev/null)
fi

echo "-- podman build $tag (Containerfile: build stage -> .deb files -> runtime stage)"
epoch=$(git log -1 --format=%ct 2>/dev/null || date +%s)
podman build --isolation chroot --format docker --layers=false \
  --build-arg BUILD_BASE="$base" --build-arg RUNTIME_BASE="$slim" --build-arg SOURCE_DATE_EPOCH="$epoch" \
  -t "$tag" -f Containerfile .

echo "-- the image's configuration"
config=$(podman image inspect --format '{{json .Config}}' "$tag")
health=$(podman image inspect --format '{{json .HealthCheck}}' "$tag")
echo "   $config"
echo "   HealthCheck: $health"
check_config() {
  python3 - "$config" "$health" <<'PY' || fail "the image's configuration is not what Containerfile says (above)"
import json, sys
c = json.loads(sys.argv[1])
problems = []
if c.get("User") != "faceverify": problems.append("User is %r, not faceverify" % c.get("User"))
if "8080/tcp" not in (c.get("ExposedPorts") or {}): problems.append("8080/tcp is not exposed")
if c.get("Entrypoint") != ["faceverify"]: problems.append("Entrypoint is %r" % c.get("Entrypoint"))
if c.get("Cmd") != ["serve", "--listen", "0.0.0.0:8080"]: problems.append("Cmd is %r" % c.get("Cmd"))
test = (json.loads(sys.argv[2]) or {}).get("Test") or []
if test[1:] != ["faceverify", "serve", "--healthcheck", "--listen", "127.0.0.1:8080"]:
    problems.append("Healthcheck is %r" % test)
for p in problems: print("build-image:", p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
}
check_config
echo "   user faceverify, 8080/tcp, HEALTHCHECK faceverify serve --healthcheck, ENTRYPOINT faceverify"
podman image ls --format '   {{.Repository}}:{{.Tag}} {{.Size}}' "$tag"

if [ -n "$export_dir" ]; then
  echo "-- exporting the root filesystem to $export_dir"
  mkdir -p "$export_dir"
  chmod 0755 "$export_dir"  # the image's / (mktemp -d makes 700: no other user could traverse it)
  ctr=$(podman create --no-healthcheck "$tag")  # no timer to remove: our machines run no systemd
  podman export "$ctr" | tar -x -C "$export_dir"
  podman rm -f "$ctr" >/dev/null
fi
