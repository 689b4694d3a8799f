# SPDX-License-Identifier: MIT
# bash complete.bash SCRIPT LINE: the candidates bash offers at the end of
# LINE with bash-completion and SCRIPT loaded, one a line. Sets what bash sets
# for a completion function (COMP_WORDS split as readline splits them, at
# blanks and around '=', COMP_CWORD, COMP_LINE, COMP_POINT) and calls the
# function that SCRIPT registered for the command.
source /usr/share/bash-completion/bash_completion || exit 2
source "$1" || exit 2
line=$2

COMP_WORDS=()
word=
for ((i = 0; i < ${#line}; i++)); do
  c=${line:i:1}
  if [[ $c == ' ' ]]; then
    [[ -n $word ]] && COMP_WORDS+=("$word")
    word=
  elif [[ $c == '=' ]]; then
    [[ -n $word ]] && COMP_WORDS+=("$word")
    COMP_WORDS+=("=")
    word=
  else
    word+=$c
  fi
done
COMP_WORDS+=("$word")  # the word being completed: empty after a blank
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE=$line
COMP_POINT=${#line}

spec=$(complete -p "${COMP_WORDS[0]}" 2>/dev/null) || {
  echo "complete.bash: $1 registered no completion for ${COMP_WORDS[0]}" >&2
  exit 2
}
function=$(sed -n 's/.*-F \([^ ]*\) .*/\1/p' <<<"$spec")
COMPREPLY=()
"$function" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
((${#COMPREPLY[@]} == 0)) || printf '%s\n' "${COMPREPLY[@]}"
