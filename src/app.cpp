// SPDX-License-Identifier: MIT
#include "faceverify/app.hpp"

#include <exception>
#include <ostream>

#include "commands/commands.hpp"
#include "faceverify/cli.hpp"
#include "faceverify/diagnostics.hpp"

namespace faceverify {

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err, int stdin_fd) {
  Diagnostics diag(err);
  try {
    auto cmd = parse_command_line(argc, argv);
    if (!cmd) {
      diag.line(cmd.error().message);
      return exit_code(cmd.error().kind);
    }
    VerifyOptions& o = cmd->verify;
    const bool analyses = cmd->action != Command::Action::print_help &&
                          cmd->action != Command::Action::print_version &&
                          cmd->action != Command::Action::cache_stats && cmd->action != Command::Action::cache_clear;
    if (analyses) {
      if (auto ok = commands::apply_settings(o, cmd->action != Command::Action::embed); !ok) {
        diag.line(ok.error().message);
        return exit_code(ok.error().kind);
      }
    }
    switch (cmd->action) {
      case Command::Action::print_help:
      case Command::Action::print_version: out << cmd->text << std::flush; return 0;
      case Command::Action::verify: return commands::verify(o, out, diag, stdin_fd);
      case Command::Action::embed: return commands::settle_status(commands::embed(o, out, diag, stdin_fd));
      case Command::Action::matrix: return commands::settle_status(commands::matrix(o, out, diag, stdin_fd));
      case Command::Action::search: return commands::settle_status(commands::search(o, out, diag, stdin_fd));
      case Command::Action::pairs: return commands::settle_status(commands::pairs(o, out, diag, stdin_fd));
      case Command::Action::calibrate: return commands::settle_status(commands::calibrate(o, out, diag, stdin_fd));
      case Command::Action::cache_stats: return commands::settle_status(commands::cache_stats(o, out, diag));
      case Command::Action::cache_clear: return commands::settle_status(commands::cache_clear(o, out, diag));
    }
  } catch (const std::bad_alloc&) {
    diag.line("out of memory");
  } catch (const std::exception& e) {
    diag.line(std::string("internal error: ") + e.what() + " (please report this)");
  }
  return exit_status::service;
}

}  // namespace faceverify
