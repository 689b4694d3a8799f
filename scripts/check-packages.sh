#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Proves the Debian packages on a pristine system (docs/packaging.md):
#   1. lintian: no error and no warning on either package (overrides carry
#      their reasons in packaging/*.lintian-overrides);
#   2. a clean Debian 12 root from mmdebstrap (minbase), the two .deb files
#      installed with apt-get so every dependency comes from the archive;
#   3. inside it, by chroot: --version, every man page, the completions in
#      bash, zsh and fish, faceverify-install-models from a tarball fetched
#      here, a --backend local verification of the samples, an API
#      verification against the fake server on 127.0.0.1, faceverify serve
#      (as the faceverify user: /readyz, a verification through it, SIGTERM);
#   4. apt-get purge + autoremove: every file dpkg listed is gone, the models
#      too, and the root holds the same packages as before.
# With --rootfs DIR it runs step 3 in an existing root instead (the server
# image's, exported by scripts/build-image.sh), where the packages and the
# models are already installed.
#
# usage: scripts/check-packages.sh [--rootfs DIR] PACKAGE_DIR BUILD_DIR
#   PACKAGE_DIR holds faceverify_*.deb and faceverify-local_*.deb
#   (build-release/packages); BUILD_DIR is a default-preset build, for
#   tests/fake_api4ai. Runs as root (mmdebstrap, chroot). Needs npm, or
#   FACEVERIFY_MODELS_TARBALL naming the pinned model tarball.
set -euo pipefail
cd "$(dirname "$0")/.."

rootfs=""
if [ "${1:-}" = "--rootfs" ]; then rootfs=$2; shift 2; fi
if [ $# -ne 2 ]; then
  echo "usage: scripts/check-packages.sh [--rootfs DIR] PACKAGE_DIR BUILD_DIR" >&2
  exit 2
fi
pkgdir=$(realpath "$1")
builddir=$(realpath "$2")
[ "$(id -u)" -eq 0 ] || { echo "check-packages: needs root (mmdebstrap, chroot)" >&2; exit 2; }
debs=("$pkgdir"/faceverify_*.deb "$pkgdir"/faceverify-local_*.deb)
for d in "${debs[@]}"; do [ -f "$d" ] || { echo "check-packages: $d: missing (build the packages first)" >&2; exit 2; }; done
fake="$builddir/tests/fake_api4ai"
[ -x "$fake" ] || { echo "check-packages: $fake: missing (build the default preset first)" >&2; exit 2; }
version=$(scripts/version.sh)

step() { echo "-- $*"; }
fail() { echo "check-packages: FAIL: $*" >&2; exit 1; }

work=$(mktemp -d /tmp/faceverify-packages.XXXXXX)
mounted=()
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "$rootfs" ]; then
  step "lintian on both packages (no error, no warning)"
  set +e
  lintian --fail-on error,warning "${debs[@]}" >"$work/lintian.out" 2>&1
  lintian_rc=$?
  set -e
  grep -v "^running with root privileges is not recommended" "$work/lintian.out" || true
  [ "$lintian_rc" = 0 ] || fail "lintian reports the tags above (exit $lintian_rc)"
fi

# The model tarball, fetched here: installing npm into the root costs ~600 packages.
tarball=${FACEVERIFY_MODELS_TARBALL:-}
if [ -z "$tarball" ] && [ -z "$rootfs" ]; then
  step "fetching the model package with npm pack (on this machine)"
  (cd "$work" && npm pack --silent faceplugin-face-recognition-js@0.0.1 >/dev/null)
  tarball=$(ls "$work"/*.tgz)
fi

if [ -z "$rootfs" ]; then
  root="$work/root"
  step "a pristine Debian 12 root (mmdebstrap --variant=minbase)"
  # APT::Sandbox::User root: apt's _apt user cannot open this machine's /dev/null (mode 600).
  mmdebstrap --quiet --variant=minbase --aptopt='APT::Sandbox::User "root"' bookworm "$root" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main"
else
  root=$(realpath "$rootfs")
fi
mount -t proc proc "$root/proc"
mounted+=("$root/proc")
# mmdebstrap made the device nodes (mode 666; this machine's own /dev/null is
# 600); an exported image has none.
for node in null:1:3 zero:1:5 random:1:8 urandom:1:9 tty:5:0; do
  IFS=: read -r name major minor <<<"$node"
  [ -c "$root/dev/$name" ] || { rm -f "$root/dev/$name"; mknod -m 666 "$root/dev/$name" c "$major" "$minor"; }
done
# Pseudo-terminals, for the zsh completion test (zpty): a devpts of its own.
mkdir -p "$root/dev/pts"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$root/dev/pts"
mounted+=("$root/dev/pts")
rm -f "$root/dev/ptmx"
ln -s pts/ptmx "$root/dev/ptmx"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
mkdir -p "$root/tmp/fv"
cp "${debs[@]}" ${tarball:+"$tarball"} "$root/tmp/fv/"
cp samples/astronaut.jpg samples/astronaut-crop.jpg "$root/tmp/fv/"
cp tests/packaging/in-root.sh "$root/tmp/fv/"
cp -r completions/tests "$root/tmp/fv/completions-tests"
in_root() { chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin TERM=dumb LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
apt_in_root() { in_root apt-get -o APT::Sandbox::User=root -o Dpkg::Use-Pty=0 -qq "$@"; }

# The fake API4AI server, here on the loopback the root shares.
"$fake" --port 0 >"$work/fake.out" 2>"$work/fake.err" &
pids+=($!)
for _ in $(seq 100); do grep -q '^PORT ' "$work/fake.out" && break; sleep 0.1; done
fake_port=$(sed -n 's/^PORT //p' "$work/fake.out")
[ -n "$fake_port" ] || fail "the fake API4AI server did not start: $(cat "$work/fake.err")"
# A free port for faceverify serve in the root.
serve_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
checks() { in_root /bin/bash /tmp/fv/in-root.sh "$version" "$fake_port" "$serve_port" "$1" || fail "a check inside the root failed (above)"; }

cli_deb=/tmp/fv/$(basename "${debs[0]}")
local_deb=/tmp/fv/$(basename "${debs[1]}")
if [ -z "$rootfs" ]; then
  step "apt-get update in the root, then the tools the checks use (man-db, the three shells)"
  apt_in_root update
  apt_in_root install -y --no-install-recommends man-db bash-completion zsh fish >/dev/null
  in_root dpkg-query -W -f '${Package}\n' | sort >"$work/packages-before"
  step "apt-get install ./faceverify_*.deb alone (the API paths; dependencies from the archive)"
  apt_in_root install -y --no-install-recommends "$cli_deb" >/dev/null
  ! in_root dpkg-query -W -f '${Package}\n' | grep -q '^libopencv' || fail "faceverify alone pulled in OpenCV"
  checks cli-only
  step "apt-get install ./faceverify-local_*.deb too"
  apt_in_root install -y --no-install-recommends "$cli_deb" "$local_deb" >/dev/null
  in_root dpkg -L faceverify faceverify-local | grep -v -e '^/\.\?$' -e '^$' | sort -u >"$work/listed"
  in_root dpkg-query -W -f '${Package}\n' | sort >"$work/packages-installed"
  echo "   $(comm -13 "$work/packages-before" "$work/packages-installed" | wc -l) packages installed," \
    "$(wc -l <"$work/listed") paths listed by dpkg -L"
  checks install
  step "apt-get remove faceverify-local keeps the models; a reinstall finds them"
  apt_in_root remove -y faceverify-local >/dev/null
  [ -f "$root/var/lib/faceverify/models/fr_feature.onnx" ] || fail "remove (not purge) deleted the models"
  apt_in_root install -y --no-install-recommends "$local_deb" >/dev/null
  in_root faceverify --backend local /tmp/fv/astronaut.jpg /tmp/fv/astronaut-crop.jpg >/dev/null ||
    fail "after remove and reinstall, --backend local failed"
  echo "   the models stayed; after the reinstall the samples verify again"
else
  step "the checks inside the image's root"
  checks preinstalled
fi

if [ -z "$rootfs" ]; then
  step "apt-get purge + autoremove: nothing left behind"
  apt_in_root purge -y faceverify faceverify-local >/dev/null
  apt_in_root autoremove -y --purge >/dev/null
  left=0
  while read -r path; do
    [ -e "$root$path" ] || [ -L "$root$path" ] || continue
    # A directory other packages also own (/usr/bin, /usr/share/man/man1)
    # stays, and so do the merged-/usr links (/lib -> usr/lib).
    if [ -d "$root$path" ] && [ ! -L "$root$path" ] && in_root dpkg-query -S "$path" >/dev/null 2>&1; then continue; fi
    if [ -L "$root$path" ] && [ -d "$root$path" ] && [ "$(dirname "$path")" = / ]; then continue; fi
    echo "   left behind: $path" >&2
    left=1
  done <"$work/listed"
  [ "$left" = 0 ] || fail "files the packages installed are still there after purge"
  [ ! -e "$root/var/lib/faceverify" ] || fail "/var/lib/faceverify (the models) is still there after purge"
  in_root dpkg-query -W -f '${Package}\n' | sort >"$work/packages-after"
  if ! diff -u "$work/packages-before" "$work/packages-after" >"$work/packages.diff"; then
    cat "$work/packages.diff" >&2
    fail "purge + autoremove did not return the root to its packages before the install"
  fi
  echo "   every listed path gone, /var/lib/faceverify gone, the same $(wc -l <"$work/packages-after") packages as before"
fi
step "packages checked"
