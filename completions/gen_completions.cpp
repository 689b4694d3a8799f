// SPDX-License-Identifier: MIT
// gen_completions OUTDIR: writes faceverify's completions for bash
// (faceverify.bash), zsh (_faceverify) and fish (faceverify.fish) into
// OUTDIR, from the completion model, which reads the parser
// (src/commands/completion_model.cpp). Run at build time; not installed.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "commands/completion_model.hpp"

namespace fv = faceverify::commands;

namespace {

constexpr std::string_view k_generated =
    "Generated from faceverify's parser by gen_completions (completions/ in the source tree): do not edit.";

std::string join(const std::vector<std::string>& words, std::string_view separator) {
  std::string text;
  for (const auto& w : words) text += (text.empty() ? "" : std::string(separator)) + w;
  return text;
}

// The first clause of a help text, for the one-line descriptions the shells
// show beside a candidate.
std::string brief(std::string_view help, bool first_clause = true) {
  std::size_t end = help.find('\n');
  if (first_clause) {
    for (std::string_view stop : {". ", " (", "; ", ": ", ", e.g."}) end = std::min(end, help.find(stop));
  }
  std::string text(help.substr(0, end));
  if (text.ends_with('.')) text.pop_back();
  constexpr std::size_t k_max = 70;
  if (text.size() > k_max) {
    const std::size_t space = text.rfind(' ', k_max);
    text.resize(space == std::string::npos ? k_max : space);
    text += "...";
  }
  return text;
}

// 'text' for a POSIX-like shell (bash, zsh): single quotes, ' as '\''.
std::string sh_quote(std::string_view text) {
  std::string q = "'";
  for (char c : text) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// 'text' for fish: single quotes, with \ and ' escaped.
std::string fish_quote(std::string_view text) {
  std::string q = "'";
  for (char c : text) {
    if (c == '\\' || c == '\'') q += '\\';
    q += c;
  }
  return q + "'";
}

// A command's path: "embed", "cache/stats"; "verify" for the default.
std::string path_of(const std::vector<const fv::CompletionCommand*>& chain) {
  std::string path;
  for (const auto* c : chain) path += (path.empty() ? "" : "/") + (c->name.empty() ? "verify" : c->name);
  return path;
}

struct Node {
  std::string path;                        // "verify", "cache", "cache/stats"
  const fv::CompletionCommand* command;    // its options, positionals, subcommands
  std::vector<std::string> command_names;  // help: the commands it may name
};

// Every command and subcommand, parents before their children.
std::vector<Node> flatten(const std::vector<fv::CompletionCommand>& model) {
  std::vector<std::string> names;
  for (const auto& c : model) {
    if (!c.name.empty() && !c.names_commands) names.push_back(c.name);
  }
  std::vector<Node> nodes;
  std::vector<const fv::CompletionCommand*> chain;
  auto walk = [&](auto& self, const fv::CompletionCommand& c) -> void {
    chain.push_back(&c);
    nodes.push_back({path_of(chain), &c, c.names_commands ? names : std::vector<std::string>{}});
    for (const auto& sub : c.subcommands) self(self, sub);
    chain.pop_back();
  };
  for (const auto& c : model) walk(walk, c);
  return nodes;
}

std::vector<std::string> top_level_names(const std::vector<fv::CompletionCommand>& model) {
  std::vector<std::string> names;
  for (const auto& c : model) {
    if (!c.name.empty()) names.push_back(c.name);
  }
  return names;
}

std::vector<std::string> all_option_names(const fv::CompletionCommand& c) {
  std::vector<std::string> names;
  for (const auto& o : c.options) names.insert(names.end(), o.names.begin(), o.names.end());
  return names;
}

std::vector<std::string> sub_names(const fv::CompletionCommand& c) {
  std::vector<std::string> names;
  for (const auto& s : c.subcommands) names.push_back(s.name);
  return names;
}

// ---- bash (bash-completion's _init_completion) ----

std::string bash_script(const std::vector<fv::CompletionCommand>& model) {
  const auto nodes = flatten(model);
  std::string s;
  s += "# bash completion for faceverify                           -*- shell-script -*-\n";
  s += "# " + std::string(k_generated) + "\n\n";
  s += "_faceverify() {\n";
  s += "    local cur prev words cword split\n";
  s += "    _init_completion -s || return\n\n";
  s += "    # The command: the first argument when it names one (as the parser\n";
  s += "    # decides), else the default command; then its subcommand, if any.\n";
  s += "    local cmd=verify first=1 i\n";
  s += "    if ((cword > 1)); then\n";
  s += "        case ${words[1]} in\n";
  s += "        " + join(top_level_names(model), " | ") + ") cmd=${words[1]} first=2 ;;\n";
  s += "        esac\n";
  s += "    fi\n";
  for (const auto& n : nodes) {
    if (n.command->subcommands.empty()) continue;
    s += "    if [[ $cmd == " + n.path + " ]]; then\n";
    s += "        for ((i = first; i < cword; i++)); do\n";
    s += "            case ${words[i]} in\n";
    s += "            " + join(sub_names(*n.command), " | ") + ") cmd=" + n.path +
         "/${words[i]} first=$((i + 1)); break ;;\n";
    s += "            esac\n";
    s += "        done\n";
    s += "    fi\n";
  }
  s += "    local dashdash=\n";
  s += "    for ((i = first; i < cword; i++)); do\n";
  s += "        [[ ${words[i]} == -- ]] && dashdash=1\n";
  s += "    done\n\n";
  s += "    case $cmd in\n";
  for (const auto& n : nodes) {
    const auto& c = *n.command;
    s += "    " + n.path + ")\n";
    // The value of the option before the cursor.
    std::vector<std::string> files, dirs, free;
    std::string choice_cases;
    for (const auto& o : c.options) {
      switch (fv::value_kind(o)) {
        case fv::ValueKind::none: break;
        case fv::ValueKind::file: files.insert(files.end(), o.names.begin(), o.names.end()); break;
        case fv::ValueKind::directory: dirs.insert(dirs.end(), o.names.begin(), o.names.end()); break;
        case fv::ValueKind::free: free.insert(free.end(), o.names.begin(), o.names.end()); break;
        case fv::ValueKind::choice:
          choice_cases += "            " + join(o.names, " | ") + ")\n                COMPREPLY=($(compgen -W " +
                          sh_quote(join(o.choices, " ")) + " -- \"$cur\"))\n                return\n" +
                          "                ;;\n";
          break;
      }
    }
    if (!files.empty() || !dirs.empty() || !free.empty() || !choice_cases.empty()) {
      s += "        if [[ ! $dashdash ]]; then\n";
      s += "            case $prev in\n";
      s += choice_cases;
      if (!files.empty()) s += "            " + join(files, " | ") + ") _filedir; return ;;\n";
      if (!dirs.empty()) s += "            " + join(dirs, " | ") + ") _filedir -d; return ;;\n";
      if (!free.empty()) s += "            " + join(free, " | ") + ") return ;;\n";
      s += "            esac\n";
      s += "        fi\n";
    }
    s += "        $split && return\n";
    s += "        if [[ $cur == -* && ! $dashdash ]]; then\n";
    s += "            COMPREPLY=($(compgen -W " + sh_quote(join(all_option_names(c), " ")) + " -- \"$cur\"))\n";
    s += "            return\n";
    s += "        fi\n";
    if (n.path == "verify") {
      s += "        # The first argument: a command, or the default command's first image.\n";
      s += "        ((cword == 1)) && COMPREPLY=($(compgen -W " + sh_quote(join(top_level_names(model), " ")) +
           " -- \"$cur\"))\n";
    }
    if (!c.subcommands.empty()) {
      s += "        COMPREPLY=($(compgen -W " + sh_quote(join(sub_names(c), " ")) + " -- \"$cur\"))\n";
    }
    if (!n.command_names.empty()) {
      s += "        ((cword == first)) && COMPREPLY=($(compgen -W " + sh_quote(join(n.command_names, " ")) +
           " -- \"$cur\"))\n";
    }
    if (!c.positionals.empty()) s += "        _filedir\n";
    s += "        ;;\n";
  }
  s += "    esac\n";
  s += "} &&\n";
  s += "    complete -F _faceverify faceverify\n";
  s += "\n# ex: filetype=sh\n";
  return s;
}

// ---- zsh (compsys: _arguments, _describe) ----

// A description inside _arguments' [...]: no brackets or colons of its own.
std::string zsh_description(std::string_view text) {
  std::string d;
  for (char c : brief(text)) {
    if (c == '[' || c == ']' || c == ':' || c == '\\') d += '\\';
    d += c;
  }
  return d;
}

// "name:description" for _describe: a colon in the name is escaped.
std::string zsh_described(std::string_view name, std::string_view description) {
  std::string d;
  for (char c : name) {
    if (c == ':') d += '\\';
    d += c;
  }
  return d + ":" + brief(description, false);
}

std::string zsh_message(std::string_view text) {
  std::string m;
  for (char c : text) {
    if (c == ':' || c == '\\') m += '\\';
    m += c;
  }
  return m;
}

std::string zsh_function(const Node& n) {
  std::string name = "_faceverify_" + n.path;
  for (char& c : name) {
    if (c == '/' || c == '-') c = '_';
  }
  return name;
}

std::string zsh_script(const std::vector<fv::CompletionCommand>& model) {
  const auto nodes = flatten(model);
  std::string s;
  s += "#compdef faceverify\n";
  s += "# zsh completion for faceverify. " + std::string(k_generated) + "\n\n";
  for (const auto& n : nodes) {
    const auto& c = *n.command;
    s += zsh_function(n) + "() {\n";
    if (!c.subcommands.empty()) {
      s += "  local i\n";
      s += "  for (( i = 2; i < CURRENT; i++ )); do\n";
      s += "    case $words[i] in\n";
      for (const auto& n2 : nodes) {
        if (n2.path.rfind('/') == std::string::npos || n2.path.substr(0, n2.path.rfind('/')) != n.path) continue;
        s += "      " + n2.command->name + ") words=(\"${(@)words[i,-1]}\"); (( CURRENT -= i - 1 )); " +
             zsh_function(n2) + "; return ;;\n";
      }
      s += "    esac\n";
      s += "  done\n";
      s += "  if [[ $words[CURRENT] != -* ]]; then\n";
      s += "    local -a subcommands=(\n";
      for (const auto& sub : c.subcommands) s += "      " + sh_quote(zsh_described(sub.name, sub.summary)) + "\n";
      s += "    )\n";
      s += "    _describe -t subcommands " + sh_quote("faceverify " + c.name + " subcommand") + " subcommands\n";
      s += "    return\n";
      s += "  fi\n";
    }
    if (!n.command_names.empty()) {
      s += "  (( CURRENT == 2 )) || return 1\n";
      s += "  local -a commands=(\n";
      for (const auto& other : model) {
        if (!other.name.empty() && !other.names_commands) {
          s += "    " + sh_quote(zsh_described(other.name, other.summary)) + "\n";
        }
      }
      s += "  )\n";
      s += "  _describe -t commands 'faceverify command' commands\n";
      s += "}\n\n";
      continue;
    }
    s += "  _arguments -s -S";
    for (const auto& o : c.options) {
      const std::string exclusion = o.names.size() > 1 ? "(" + join(o.names, " ") + ")" : "";
      std::string value;
      switch (fv::value_kind(o)) {
        case fv::ValueKind::none: break;
        case fv::ValueKind::file: value = ":" + zsh_message(o.value) + ":_files"; break;
        case fv::ValueKind::directory: value = ":" + zsh_message(o.value) + ":_files -/"; break;
        case fv::ValueKind::free: value = ":" + zsh_message(o.value) + ": "; break;
        case fv::ValueKind::choice: value = ":" + zsh_message(o.value) + ":(" + join(o.choices, " ") + ")"; break;
      }
      for (const auto& name : o.names) {
        // -t0.8 or -t 0.8; --threshold=0.8 or --threshold 0.8: as CLI11 reads them.
        const std::string takes = value.empty() ? "" : name.starts_with("--") ? "=" : "+";
        s += " \\\n    " + sh_quote(exclusion + name + takes + "[" + zsh_description(o.help) + "]" + value);
      }
    }
    // Positionals fill in order; the last takes the rest of the arguments.
    for (std::size_t i = 0; i < c.positionals.size(); ++i) {
      const std::string count = i + 1 == c.positionals.size() ? "*" : "";
      s += " \\\n    " + sh_quote(count + ":" + zsh_message(c.positionals[i]) + ":_files");
    }
    s += "\n}\n\n";
  }
  s += "_faceverify() {\n";
  s += "  # The first argument: a command (as the parser decides), else the\n";
  s += "  # default command's first image or an option.\n";
  s += "  if (( CURRENT == 2 )) && [[ $words[CURRENT] != -* ]]; then\n";
  s += "    local ret=1\n";
  s += "    local -a commands=(\n";
  for (const auto& c : model) {
    if (!c.name.empty()) s += "      " + sh_quote(zsh_described(c.name, c.summary)) + "\n";
  }
  s += "    )\n";
  s += "    _describe -t commands 'faceverify command' commands && ret=0\n";
  s += "    _faceverify_verify && ret=0\n";
  s += "    return ret\n";
  s += "  fi\n";
  s += "  case $words[2] in\n";
  for (const auto& n : nodes) {
    if (n.path.find('/') != std::string::npos || n.path == "verify") continue;
    s += "    " + n.path + ") words=(\"${(@)words[2,-1]}\"); (( CURRENT-- )); " + zsh_function(n) + " ;;\n";
  }
  s += "    *) _faceverify_verify ;;\n";
  s += "  esac\n";
  s += "}\n\n";
  s += "_faceverify \"$@\"\n";
  return s;
}

// ---- fish (complete -c) ----

std::string fish_script(const std::vector<fv::CompletionCommand>& model) {
  const auto nodes = flatten(model);
  std::string s;
  s += "# fish completion for faceverify. " + std::string(k_generated) + "\n\n";
  s += "# The command being completed, as the parser picks it: the first argument\n";
  s += "# when it names a command, else verify; then a subcommand (cache/stats).\n";
  s += "function __faceverify_command\n";
  s += "    set -l tokens (commandline -opc)\n";
  s += "    set -l cmd verify\n";
  s += "    set -l first 2\n";
  s += "    if set -q tokens[2]\n";
  s += "        switch $tokens[2]\n";
  s += "            case " + join(top_level_names(model), " ") + "\n";
  s += "                set cmd $tokens[2]\n";
  s += "                set first 3\n";
  s += "        end\n";
  s += "    end\n";
  for (const auto& n : nodes) {
    if (n.command->subcommands.empty()) continue;
    s += "    if test $cmd = " + n.path + "\n";
    s += "        for i in (seq $first (count $tokens))\n";
    s += "            switch $tokens[$i]\n";
    s += "                case " + join(sub_names(*n.command), " ") + "\n";
    s += "                    set cmd " + n.path + "/$tokens[$i]\n";
    s += "                    set first (math $i + 1)\n";
    s += "                    break\n";
    s += "            end\n";
    s += "        end\n";
    s += "    end\n";
  }
  s += "    echo $cmd\n";
  s += "end\n\n";
  s += "function __faceverify_is\n";
  s += "    test (__faceverify_command) = $argv[1]\n";
  s += "end\n\n";
  s += "function __faceverify_first_argument\n";
  s += "    test (count (commandline -opc)) -eq 1\n";
  s += "end\n\n";
  s += "complete -c faceverify -e\n\n";
  s += "# The commands, beside the default command's images.\n";
  for (const auto& c : model) {
    if (c.name.empty()) continue;
    s += "complete -c faceverify -n __faceverify_first_argument -a " + fish_quote(c.name) + " -d " +
         fish_quote(brief(c.summary, false)) + "\n";
  }
  for (const auto& n : nodes) {
    const auto& c = *n.command;
    const std::string when = "complete -c faceverify -n " + fish_quote("__faceverify_is " + n.path);
    s += "\n# " + n.path + "\n";
    if (c.positionals.empty()) s += when + " -f\n";
    for (const auto& sub : c.subcommands) {
      s += when + " -a " + fish_quote(sub.name) + " -d " + fish_quote(brief(sub.summary, false)) + "\n";
    }
    if (!n.command_names.empty()) {
      s += "complete -c faceverify -n " +
           fish_quote("__faceverify_is " + n.path + "; and test (count (commandline -opc)) -eq 2");
      s += " -a " + fish_quote(join(n.command_names, " ")) + "\n";
    }
    for (const auto& o : c.options) {
      std::string line = when;
      for (const auto& name : o.names)
        line += (name.starts_with("--") ? " -l " : " -s ") + name.substr(name.find_first_not_of('-'));
      switch (fv::value_kind(o)) {
        case fv::ValueKind::none: break;
        case fv::ValueKind::file: line += " -r -F"; break;
        case fv::ValueKind::directory: line += " -x -a '(__fish_complete_directories)'"; break;
        case fv::ValueKind::free: line += " -x"; break;
        case fv::ValueKind::choice: line += " -x -a " + fish_quote(join(o.choices, " ")); break;
      }
      s += line + " -d " + fish_quote(brief(o.help)) + "\n";
    }
  }
  return s;
}

bool write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    std::cerr << "gen_completions: cannot write " << path << ": " << std::strerror(errno)
              << " (check that the folder exists and is writable)\n";
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: gen_completions OUTDIR (writes faceverify.bash, _faceverify and faceverify.fish)\n";
    return 2;
  }
  const std::string dir = argv[1];
  const auto model = fv::completion_model();
  const bool ok = write(dir + "/faceverify.bash", bash_script(model)) &&
                  write(dir + "/_faceverify", zsh_script(model)) && write(dir + "/faceverify.fish", fish_script(model));
  return ok ? 0 : 1;
}
