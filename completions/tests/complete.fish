# SPDX-License-Identifier: MIT
# fish --no-config complete.fish SCRIPT LINE: the candidates fish offers at
# the end of LINE with SCRIPT loaded (complete -C), one a line, without their
# descriptions.
source $argv[1]; or exit 2
for candidate in (complete -C $argv[2])
    string replace -r '\t.*' '' -- $candidate
end
exit 0
