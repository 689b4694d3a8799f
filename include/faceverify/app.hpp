// SPDX-License-Identifier: MIT
#pragma once
// The program: parse, load, analyse, compare, render; every error mapped to
// an exit code in one place.

#include <iosfwd>

namespace faceverify {

/// Runs faceverify with `argv`; results go to `out`, diagnostics to `err`,
/// stdin ("-") is read from `stdin_fd`. Returns the process exit status.
int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err, int stdin_fd = 0);

}  // namespace faceverify
