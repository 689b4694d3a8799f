#!/bin/bash
# SPDX-License-Identifier: MIT
# Run by scripts/check-packages.sh inside a root where the packages are
# installed (chroot): what a user of the two .deb files would do first. The
# files it needs are in /tmp/fv. Prints one line per check; exits 1 at the
# first that fails.
#
# usage: in-root.sh VERSION FAKE_API_PORT SERVE_PORT cli-only|install|preinstalled
#   cli-only: only the faceverify package is installed (the API paths);
#   install: both, just installed, no models yet; preinstalled: the image.
set -euo pipefail
version=$1 fake_port=$2 serve_port=$3 mode=$4
cd /tmp/fv
a=/tmp/fv/astronaut.jpg
b=/tmp/fv/astronaut-crop.jpg

ok() { echo "   ok: $*"; }
fail() { echo "   FAIL: $*" >&2; exit 1; }
# Runs a command; sets rc, out and err.
capture() {
  set +e
  out=$("$@" 2>/tmp/fv/err)
  rc=$?
  set -e
  err=$(cat /tmp/fv/err)
}

capture faceverify --version
[ "$rc" = 0 ] && [ "$out" = "faceverify $version" ] || fail "faceverify --version: $rc '$out' '$err'"
ok "faceverify --version says faceverify $version"

# As another user than root: $1 the user, the rest the command.
as_user() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --init-groups -- env HOME="/home/$u" "$@"; }

if [ "$mode" = cli-only ]; then
  capture faceverify --backend local "$a" "$b"
  [ "$rc" = 2 ] && [ -z "$out" ] && [ "$(echo "$err" | wc -l)" = 1 ] && echo "$err" | grep -q "install the faceverify-local package" ||
    fail "--backend local without faceverify-local: exit 2, one line naming the package; got $rc '$err'"
  ok "--backend local without faceverify-local: exit 2, '$err'"
  capture faceverify serve --listen "127.0.0.1:$serve_port"
  [ "$rc" = 2 ] && echo "$err" | grep -q "faceverify-local" || fail "serve without faceverify-local: $rc '$err'"
  ok "serve without faceverify-local: exit 2, naming the package"
  capture faceverify --api-url "http://127.0.0.1:$fake_port" --json "$a" "$a"
  [ "$rc" = 0 ] && echo "$out" | grep -q "\"decision\":\"same\"" || fail "the API path with faceverify alone: exit $rc, '$out' '$err'"
  ok "the API path with faceverify alone: exit 0, same person"
  exit 0
fi

if command -v man >/dev/null; then
  pages=$(dpkg -L faceverify faceverify-local | sed -n 's|^/usr/share/man/man1/\(.*\)\.1\.gz$|\1|p' | sort)
  [ "$(echo "$pages" | wc -l)" -ge 9 ] || fail "expected a man page per command, found: $pages"
  for page in $pages; do
    capture env MANWIDTH=80 man --warnings "$page"
    [ "$rc" = 0 ] && [ -z "$err" ] || fail "man $page: exit $rc, stderr: $err"
    echo "$out" | grep -q "^NAME" || fail "man $page: no NAME section"
  done
  ok "man renders $(echo "$pages" | wc -w) pages without warnings ($(echo $pages))"
fi

if [ -d /tmp/fv/completions-tests ] && command -v zsh >/dev/null && command -v fish >/dev/null; then
  # Each shell finds the installed script by itself ...
  found=$(bash --norc -c 'source /usr/share/bash-completion/bash_completion; _completion_loader faceverify; complete -p faceverify')
  echo "$found" | grep -q -- "-F " || fail "bash-completion does not load faceverify's completion: $found"
  found=$(zsh -f -c 'autoload -U compinit; compinit -u -D; print -r -- $_comps[faceverify]')
  [ "$found" = _faceverify ] || fail "zsh's compinit does not find _faceverify: '$found'"
  found=$(cd /tmp && fish -c 'complete -C "faceverify --backend "')  # the default config: vendor_completions.d
  [ "$(echo "$found" | cut -f1 | sort | tr '\n' ' ')" = "api4ai local " ] ||
    fail "fish does not autoload faceverify's completion: '$found'"
  # ... and the installed scripts pass the same cases as the build's.
  mkdir -p /tmp/fv/installed-completions
  ln -sf /usr/share/bash-completion/completions/faceverify /tmp/fv/installed-completions/faceverify.bash
  ln -sf /usr/share/zsh/vendor-completions/_faceverify /tmp/fv/installed-completions/_faceverify
  ln -sf /usr/share/fish/vendor_completions.d/faceverify.fish /tmp/fv/installed-completions/faceverify.fish
  for sh in bash zsh fish; do
    bash /tmp/fv/completions-tests/check.sh "$sh" /usr/bin/faceverify /tmp/fv/installed-completions >/tmp/fv/comp.out 2>&1 ||
      { cat /tmp/fv/comp.out >&2; fail "the installed $sh completion (above)"; }
  done
  ok "completions: bash-completion, zsh's compinit and fish load them; the cases of completions/tests pass in each"
fi

if [ "$mode" = install ]; then
  unit=/usr/lib/systemd/system/faceverify-serve.service
  [ -f "$unit" ] || fail "$unit is missing"
  ! ls /etc/systemd/system/*.wants/faceverify-serve.service >/dev/null 2>&1 || fail "the unit is enabled; it should not be"
  getent passwd faceverify >/dev/null || fail "no faceverify system user"
  ok "faceverify-serve.service installed and disabled; user faceverify exists"

  capture faceverify --backend local "$a" "$b"
  [ "$rc" = 2 ] && [ -z "$out" ] && echo "$err" | grep -q "faceverify-install-models" ||
    fail "without models: exit 2 naming faceverify-install-models, got $rc '$err'"
  ok "before the models: exit 2, '$err'"
  getent passwd alice >/dev/null || useradd --create-home alice
  tgz=$(ls /tmp/fv/*.tgz)
  capture as_user alice faceverify-install-models --system --from-tarball "$tgz"
  [ "$rc" = 1 ] && echo "$err" | grep -q "needs root" || fail "--system as a user: exit 1 saying it needs root; got $rc '$err'"
  ok "faceverify-install-models --system as user alice: exit 1, '$err'"
  capture faceverify-install-models --from-tarball "$tgz"
  [ "$rc" = 0 ] || fail "faceverify-install-models --from-tarball: $rc $out $err"
  first=$out
  for m in fr_detect.onnx fr_landmark.onnx fr_feature.onnx; do
    [ -f "/var/lib/faceverify/models/$m" ] || fail "/var/lib/faceverify/models/$m is missing"
  done
  capture faceverify-install-models --from-tarball "$tgz"
  [ "$rc" = 0 ] && echo "$out" | grep -q "already installed" || fail "a second install: $rc '$out'"
  ok "faceverify-install-models --from-tarball: '$first', then '$out'"
fi

capture faceverify --backend local "$a" "$b"
[ "$rc" = 0 ] && echo "$out" | grep -q "^Similarity is" || fail "--backend local on the samples: exit $rc, '$out' '$err'"
ok "--backend local on the samples: exit 0, $(echo "$out" | head -1)"
if [ "$mode" = install ]; then
  capture as_user alice faceverify --backend local "$a" "$b"
  [ "$rc" = 0 ] || fail "--backend local as user alice (the system models): exit $rc, '$err'"
  ok "--backend local as user alice finds the system-wide models: exit 0"
fi

capture faceverify --api-url "http://127.0.0.1:$fake_port" --json "$a" "$a"
[ "$rc" = 0 ] && echo "$out" | grep -q "\"decision\":\"same\"" || fail "the API path against the fake server: exit $rc, '$out' '$err'"
ok "the API path against the fake server on 127.0.0.1:$fake_port: exit 0, same person"

# faceverify serve as its system user (the image's user, or the package's).
user=faceverify
getent passwd "$user" >/dev/null || fail "no user $user to run faceverify serve as"
setpriv --reuid="$user" --regid="$user" --init-groups -- \
  faceverify serve --listen "127.0.0.1:$serve_port" --workers 1 2>/tmp/fv/serve.err &
serve_pid=$!
for _ in $(seq 300); do grep -q "serving" /tmp/fv/serve.err 2>/dev/null && break; sleep 0.1; done
grep -q "^faceverify: serving http://127.0.0.1:$serve_port " /tmp/fv/serve.err ||
  fail "faceverify serve did not get ready: $(cat /tmp/fv/serve.err)"
# /readyz with bash alone (no curl in a minimal root).
exec 3<>"/dev/tcp/127.0.0.1/$serve_port"
printf 'GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
read -r status_line <&3
exec 3<&-
case "$status_line" in "HTTP/1.1 200"*) ;; *) fail "/readyz answered '$status_line'" ;; esac
ok "faceverify serve as user $user: /readyz answered ${status_line%$'\r'}"
capture faceverify serve --healthcheck --listen "127.0.0.1:$serve_port"
[ "$rc" = 0 ] || fail "serve --healthcheck: $rc $err"
capture faceverify --api-url "http://127.0.0.1:$serve_port" --json "$a" "$b"
[ "$rc" = 0 ] && echo "$out" | grep -q "\"decision\":\"same\"" || fail "verify through faceverify serve: exit $rc, '$out' '$err'"
ok "serve --healthcheck exit 0; a verification through the server: exit 0, same person"
kill -TERM "$serve_pid"
set +e
wait "$serve_pid"
serve_rc=$?
set -e
[ "$serve_rc" = 0 ] && tail -1 /tmp/fv/serve.err | grep -q "^faceverify: stopped$" ||
  fail "faceverify serve after SIGTERM: exit $serve_rc, $(tail -2 /tmp/fv/serve.err)"
ok "SIGTERM: faceverify serve stopped, exit 0"
