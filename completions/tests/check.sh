#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check.sh SHELL FACEVERIFY DIR: faceverify's generated completions (in DIR)
# driven in the real SHELL (bash, zsh or fish) through complete.SHELL, which
# prints the candidates the shell offers for a command line. The same cases
# for every shell: commands, every command's options exactly as its --help
# lists them, option values, file and directory names. Registered with ctest
# (completions/CMakeLists.txt).
set -euo pipefail
shell=$1
faceverify=$(realpath -- "$2")
dir=$(realpath -- "$3")
here=$(cd "$(dirname "$0")" && pwd)

case $shell in
  bash) needs=/usr/share/bash-completion/bash_completion ;;
  zsh | fish) needs=$(command -v "$shell" || echo "$shell") ;;
  *) echo "check.sh: unknown shell '$shell' (bash, zsh or fish)" >&2; exit 2 ;;
esac
if [[ ! -e $needs ]]; then
  echo "check.sh: $needs not found: install $([[ $shell == bash ]] && echo bash-completion || echo "$shell") (scripts/install-deps.sh does)" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
# Shells write history and caches under HOME and XDG: keep them in here.
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_DATA_HOME=$work/home/.local/share \
  XDG_CACHE_HOME=$work/home/.cache
mkdir -p "$HOME" "$work/cwd/photos"
: >"$work/cwd/face1.jpg"
: >"$work/cwd/face2.png"
cd "$work/cwd"

# The candidates SHELL offers at the end of $1, sorted, one a line; a
# directory's trailing slash (fish, zsh) dropped, as bash shows none.
candidates() {
  case $shell in
    bash) bash --norc --noprofile "$here/complete.bash" "$dir/faceverify.bash" "$1" ;;
    zsh) zsh -f "$here/complete.zsh" "$dir" "$1" ;;
    fish) fish --no-config "$here/complete.fish" "$dir/faceverify.fish" "$1" ;;
  esac | sed 's:/$::' | LC_ALL=C sort -u
}

failures=0
fail() {
  echo "FAIL [$shell] $*" >&2
  failures=$((failures + 1))
}

# expect exactly|includes|excludes LINE WORD...: what the shell offers for LINE
# is exactly the WORDs, includes each, or includes none of them.
expect() {
  local how=$1 line=$2
  shift 2
  local got want missing extra
  got=$(candidates "$line") || { fail "'$line': the $shell driver failed"; return; }
  want=$(printf '%s\n' "$@" | sed '/^$/d' | LC_ALL=C sort -u)
  missing=$(LC_ALL=C comm -13 <(printf '%s\n' "$got") <(printf '%s\n' "$want") | sed '/^$/d' | tr '\n' ' ')
  extra=$(LC_ALL=C comm -23 <(printf '%s\n' "$got") <(printf '%s\n' "$want") | sed '/^$/d' | tr '\n' ' ')
  case $how in
    exactly) [[ -z $missing && -z $extra ]] || fail "'$line': missing [ $missing] unexpected [ $extra]" ;;
    includes) [[ -z $missing ]] || fail "'$line': missing [ $missing] (offered: $(tr '\n' ' ' <<<"$got"))" ;;
    excludes)
      local common
      common=$(LC_ALL=C comm -12 <(printf '%s\n' "$got") <(printf '%s\n' "$want") | tr '\n' ' ')
      [[ -z ${common// /} ]] || fail "'$line': offered [ $common] but should not"
      ;;
  esac
}

# The option names `faceverify ARGS --help` lists in its Options section.
help_options() {
  "$faceverify" "$@" --help | awk '
    /^Options:/ { on = 1; next }
    on && /^$/ { on = 0 }
    on && /^  -/ { n = split($1, names, ","); for (i = 1; i <= n; i++) print names[i] }'
}

commands=(embed matrix search pairs calibrate index cache serve help)

# Commands, and the default command's images, at the first argument.
expect includes 'faceverify ' "${commands[@]}" face1.jpg face2.png photos
expect exactly 'faceverify emb' embed
expect exactly 'faceverify ca' cache calibrate
expect exactly 'faceverify help ' embed matrix search pairs calibrate index cache serve
expect exactly 'faceverify help se' search serve
# A command's name is only the first argument (the parser reads it there).
expect exactly 'faceverify face1.jpg emb'

# Every option of every command, exactly as its --help lists them.
expect exactly 'faceverify -' $(help_options)
for cmd in embed matrix search pairs calibrate serve; do
  expect exactly "faceverify $cmd -" $(help_options "$cmd")
done
expect exactly 'faceverify cache -' $(help_options cache)
expect exactly 'faceverify cache stats -' $(help_options cache stats)
expect exactly 'faceverify cache clear -' $(help_options cache clear)
expect exactly 'faceverify embed --fo'
expect exactly 'faceverify matrix --fo' --format
expect exactly 'faceverify --ver' --verbose --version
expect exactly 'faceverify embed --ver' --verbose

# Subcommands.
expect exactly 'faceverify cache ' stats clear
expect exactly 'faceverify cache st' stats

# Option values: the parser's choices, and nothing for a free value.
expect exactly 'faceverify --backend ' api4ai local
expect exactly 'faceverify embed --backend l' local
expect exactly 'faceverify search --api ' demo api4ai rapidapi
expect exactly 'faceverify --face ' largest first best
expect exactly 'faceverify matrix --format ' text csv json
expect exactly 'faceverify pairs --format ' jsonl json csv
expect exactly 'faceverify calibrate -t '
expect exactly 'faceverify embed --jobs '
expect exactly 'faceverify serve --listen '

# File and directory names.
expect exactly 'faceverify embed fa' face1.jpg face2.png
expect exactly 'faceverify fa' face1.jpg face2.png
expect includes 'faceverify face1.jpg ' face1.jpg face2.png photos
expect exactly 'faceverify --backend local face1.jpg f' face1.jpg face2.png
expect includes 'faceverify pairs ' face1.jpg photos
expect includes 'faceverify embed --api-key-file ' face1.jpg face2.png photos
expect exactly 'faceverify embed --gallery ' photos
expect exactly 'faceverify serve --models ' photos
expect includes 'faceverify serve --access-log ' face1.jpg
expect exactly 'faceverify cache stats --cache-dir ' photos
expect excludes 'faceverify serve ' face1.jpg photos
expect excludes 'faceverify cache stats ' face1.jpg photos

# Values written with '=': fish offers the whole word, bash and zsh the value.
prefix=
[[ $shell == fish ]] && prefix=--backend=
expect exactly 'faceverify --backend=l' ${prefix}local
[[ $shell == fish ]] && prefix=--format=
expect exactly 'faceverify matrix --format=c' ${prefix}csv

if ((failures > 0)); then
  echo "check.sh: $failures case(s) failed in $shell" >&2
  exit 1
fi
echo "check.sh: every case passed in $shell"
