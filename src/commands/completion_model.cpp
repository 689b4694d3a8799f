// SPDX-License-Identifier: MIT
// The completion model from the parser: each command's CLI::App built by its
// own setup(), as parse_command_line builds it.
#include "commands/completion_model.hpp"

#include <variant>

#include "commands/cli.hpp"
#include "commands/commands.hpp"

namespace faceverify::commands {
namespace {

CompletionCommand describe(CLI::App& app, std::string name, std::string summary) {
  CompletionCommand command{std::move(name), std::move(summary), {}, {}, {}, false};
  for (CLI::Option* opt : app.get_options()) {
    if (!opt->nonpositional()) {
      command.positionals.push_back(opt->get_name());
      continue;
    }
    CompletionOption option;
    for (const auto& s : opt->get_snames()) option.names.push_back("-" + s);
    for (const auto& l : opt->get_lnames()) option.names.push_back("--" + l);
    if (opt->get_items_expected_max() > 0) {  // flags expect none
      option.value = opt->get_type_name();
      option.choices = option_choices(*opt);
      // A value without a type name would print as "--x " in the help and
      // complete to nothing said: every valued option names its value.
      if (option.value.empty()) option.value = "VALUE";
    }
    option.help = opt->get_description();
    command.options.push_back(std::move(option));
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    command.subcommands.push_back(describe(*sub, sub->get_name(), sub->get_description()));
  }
  return command;
}

}  // namespace

ValueKind value_kind(const CompletionOption& option) {
  if (option.value.empty()) return ValueKind::none;
  if (!option.choices.empty()) return ValueKind::choice;
  if (option.value == "FILE") return ValueKind::file;
  if (option.value == "DIR") return ValueKind::directory;
  return ValueKind::free;
}

std::vector<CompletionCommand> completion_model() {
  std::vector<CompletionCommand> model;
  for (const CommandSpec& spec : command_table()) {
    const bool named = !spec.name.empty();
    CLI::App app{"", named ? "faceverify " + std::string(spec.name) : "faceverify"};
    CommandOptions options = spec.make();
    std::visit([&](auto& o) { setup(app, o); }, options);
    model.push_back(describe(app, std::string(spec.name), std::string(spec.summary)));
  }
  // help [COMMAND] is parse_command_line's own (cli.cpp: help_command), not a
  // table entry: no options, one optional command name.
  CompletionCommand help{"help", "show the help of faceverify or of COMMAND", {}, {}, {}, true};
  model.push_back(std::move(help));
  return model;
}

}  // namespace faceverify::commands
