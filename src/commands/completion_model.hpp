// SPDX-License-Identifier: MIT
#pragma once
// What the shell completions offer, read from the parser itself: every
// command of the command table, each bound with its own setup(), walked
// option by option. completions/gen_completions.cpp renders it for bash, zsh
// and fish at build time, so a completion cannot offer what the parser
// refuses nor miss what it accepts. Not part of the faceverify binary.

#include <string>
#include <vector>

namespace faceverify::commands {

struct CompletionOption {
  std::vector<std::string> names;    // as typed: "-t", "--threshold" (short ones first)
  std::string value;                 // the value's type name ("FILE", "DIR", "N", ...); empty: a flag
  std::vector<std::string> choices;  // the only values it accepts (one_of), else empty
  std::string help;                  // its help text, whole
};

/// What a value of `option` completes to.
enum class ValueKind { none, file, directory, choice, free };
ValueKind value_kind(const CompletionOption& option);

struct CompletionCommand {
  std::string name;  // "embed", "stats" (a subcommand of cache); "" for the default command (verify)
  std::string summary;
  std::vector<CompletionOption> options;       // -h/--help (and verify's --version) included
  std::vector<std::string> positionals;        // their names ("IMAGE"); each completes file names
  std::vector<CompletionCommand> subcommands;  // cache: stats, clear
  bool names_commands = false;                 // help [COMMAND]: its argument is a command's name
};

/// Every command in the table's order (verify first), then help.
std::vector<CompletionCommand> completion_model();

}  // namespace faceverify::commands
