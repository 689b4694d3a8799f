#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks that a man page's OPTIONS section lists exactly the options --help prints.

usage: check-options.py PAGE.scd --exe FACEVERIFY [--command "cache stats"]...
       check-options.py PAGE.scd --script scripts/install-models.sh

PAGE.scd is the expanded scdoc source (the build tree's copy). With --exe, the
options are those of `FACEVERIFY [COMMAND] --help` for every --command given
(none: the default command); with --script, those of `SCRIPT --help`, and the
check is skipped (exit 77) while the script has no --help. Each option's value
placeholder (--jobs N) must match too. Exit 0 in step, 1 with one line per
difference, 77 skipped.
"""
import argparse
import re
import subprocess
import sys

OPTION = re.compile(r"--?[A-Za-z0-9][A-Za-z0-9-]*")


def help_options(text):
    """{option: placeholder or ''} from a help text's option lines.

    A CLI11 help has an "Options:" section; a script's may not, then every
    line that starts with an option counts. An option line is
    "  -t,--threshold S    description": names and placeholder come before
    the first run of two spaces.
    """
    lines = text.splitlines()
    start = next((i + 1 for i, line in enumerate(lines) if line.strip().lower() == "options:"), None)
    if start is not None:
        section = []
        for line in lines[start:]:
            if not line.strip():
                break
            section.append(line)
        lines = section
    options = {}
    for line in lines:
        stripped = line.strip()
        if not stripped.startswith("-"):
            continue
        head = re.split(r"\s{2,}", stripped, maxsplit=1)[0]
        # "-h, --help" and "-t,--threshold S": names joined by ',' or '|'
        # (spaces allowed after them), then the placeholder.
        m = re.match(r"(--?[A-Za-z0-9][A-Za-z0-9-]*(?:\s*[,|]\s*--?[A-Za-z0-9][A-Za-z0-9-]*)*)\s*(.*)$", head)
        if not m:
            continue
        names_part, placeholder = m.group(1), m.group(2).strip()
        for name in re.split(r"[,|]\s*", names_part):
            if OPTION.fullmatch(name):
                options[name] = placeholder
    return options


def page_options(path):
    """{option: placeholder or ''} from the OPTIONS section of an scdoc source.

    An option's term line starts unindented with a bold option:
    "*-t*, *--threshold* _S_".
    """
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    try:
        start = lines.index("# OPTIONS") + 1
    except ValueError:
        sys.exit(f"check-options: {path}: no '# OPTIONS' section")
    options = {}
    for line in lines[start:]:
        if line.startswith("# "):
            break
        if not line.startswith("*-"):
            continue
        names = re.findall(r"\*(--?[A-Za-z0-9][A-Za-z0-9-]*)\*", line)
        placeholder = re.search(r"\*\s+_([^_]+)_", line)
        for name in names:
            options[name] = placeholder.group(1) if placeholder else ""
    return options


def run_help(argv):
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        sys.exit(f"check-options: {' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("page")
    parser.add_argument("--exe")
    parser.add_argument("--command", action="append", default=[])
    parser.add_argument("--script")
    args = parser.parse_args()

    if args.script:
        with open(args.script, encoding="utf-8") as f:
            if "--help" not in f.read():
                print(f"check-options: {args.script} has no --help yet; skipping {args.page}")
                return 77
        wanted = help_options(run_help(["bash", args.script, "--help"]))
        source = f"{args.script} --help"
    else:
        wanted = {}
        for command in args.command or [""]:
            wanted.update(help_options(run_help([args.exe, *command.split(), "--help"])))
        source = " and ".join(f"faceverify {c} --help".replace("  ", " ") for c in args.command or [""])
    if not wanted:
        sys.exit(f"check-options: {source} printed no options; is this the right binary?")

    documented = page_options(args.page)
    problems = []
    for name in sorted(set(wanted) - set(documented)):
        problems.append(f"{name}: printed by {source} but missing from the OPTIONS of {args.page}")
    for name in sorted(set(documented) - set(wanted)):
        problems.append(f"{name}: in the OPTIONS of {args.page} but not printed by {source}")
    for name in sorted(set(wanted) & set(documented)):
        if wanted[name] != documented[name]:
            problems.append(f"{name}: value '{wanted[name]}' in {source}, '{documented[name]}' in {args.page}")
    for line in problems:
        print(f"check-options: {line}")
    if problems:
        return 1
    print(f"check-options: {args.page}: {len(wanted)} options in step with {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
