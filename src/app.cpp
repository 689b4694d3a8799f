// SPDX-License-Identifier: MIT
#include "faceverify/app.hpp"

#include <cstdlib>
#include <exception>
#include <ostream>

#include "commands/commands.hpp"
#include "faceverify/diagnostics.hpp"
#include "faceverify/interrupt.hpp"
#include "faceverify/secrets.hpp"
#include "faceverify/text.hpp"

namespace faceverify {

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err, int stdin_fd) {
  Diagnostics diag(err);
  clear_stop_request();
  // Keys in the environment are secrets whether or not this run uses them.
  clear_secrets();
  for (const char* name : {"API4AI_KEY", "RAPIDAPI_KEY"}) {
    if (const char* value = std::getenv(name)) {
      register_secret(value);
      register_secret(std::string(trim(value, " \t\r\n")));
    }
  }
  try {
    auto invocation = commands::parse_command_line(argc, argv);
    if (!invocation) {
      diag.line(invocation.error().message);
      return exit_code(invocation.error().kind);
    }
    if (invocation->text) {
      out << *invocation->text << std::flush;
      return exit_status::same;
    }
    commands::Io io{out, diag, stdin_fd};
    const int status = std::visit([&io](auto& options) { return commands::run(options, io); }, invocation->options);
    return commands::final_status(status, io);
  } catch (const std::bad_alloc&) {
    diag.line("out of memory");
  } catch (const std::exception& e) {
    diag.line(std::string("internal error: ") + e.what() + " (please report this)");
  }
  return exit_status::service;
}

}  // namespace faceverify
