# SPDX-License-Identifier: MIT
# Loaded by complete.zsh in the interactive zsh it drives: compinit with
# $FV_FPATH first in fpath, a compadd that also writes every match it adds to
# $FV_OUT, and $FV_DONE touched once a completion ends.
PS1='' RPS1='' PS2=''
setopt no_beep
fpath=($FV_FPATH $fpath)
autoload -U compinit
compinit -u -D
zstyle ':completion:*' insert-tab false

compadd() {
  # Calls that only collect (-O, -A) or describe (-D) matches add nothing.
  local arg
  for arg in "$@"; do
    [[ $arg == (-|--) ]] && break
    [[ $arg == -[OAD]* ]] && { builtin compadd "$@"; return }
  done
  local -a fv_added
  builtin compadd -O fv_added "$@"
  (( $#fv_added )) && print -rl -- $fv_added >>$FV_OUT
  builtin compadd "$@"
}

fv_done() { : >$FV_DONE }
fv_complete() {
  comppostfuncs=(fv_done)
  zle complete-word
}
zle -N fv_complete
bindkey '^I' fv_complete
: >$FV_READY
