# SPDX-License-Identifier: MIT
# zsh -f complete.zsh DIR LINE: the matches zsh's completion system offers at
# the end of LINE, one a line, with compinit loaded and DIR first in fpath.
# Completion runs only inside the line editor, so an interactive zsh runs on
# a pseudo-terminal (zsh/zpty): it loads capture.zsh, which records every
# match added to a file, and gets LINE and a TAB typed.
zmodload zsh/zpty zsh/zselect || exit 2
emulate -L zsh
local dir=$1 line=$2 here=${0:A:h}
local work=$(mktemp -d) || exit 2
trap 'zpty -d fv_complete 2>/dev/null; rm -rf -- $work' EXIT

# Waits (draining the terminal, so the shell never blocks writing to it)
# until FILE exists; 10 s at most.
wait_for() {
  local junk i
  for (( i = 0; i < 1000; i++ )); do
    while zpty -rt fv_complete junk 2>/dev/null; do [[ -n $FV_DEBUG ]] && print -rn -- $junk >&2; done
    [[ -e $1 ]] && return 0
    zselect -t 1
  done
  print -u2 "complete.zsh: zsh did not $2 within 10 s (line: $line)"
  return 1
}

export FV_FPATH=$dir FV_OUT=$work/matches FV_READY=$work/ready FV_DONE=$work/done
zpty fv_complete "zsh -f -i" || exit 2
zpty -w fv_complete "source ${(q)here}/capture.zsh"
wait_for $work/ready "load compinit" || exit 2
zpty -w -n fv_complete "$line"$'\t'
wait_for $work/done "complete" || exit 2
[[ -e $work/matches ]] && cat -- $work/matches
exit 0
