// SPDX-License-Identifier: MIT
#pragma once
// The API keys this run knows (--api-key, API4AI_KEY, RAPIDAPI_KEY, the
// --api-key-file's key once read), so every line faceverify writes can be
// redacted in one place per stream: Diagnostics::line for stderr, emit and
// write_output_file for stdout and output files.

#include <string>

namespace faceverify {

/// Forgets every secret (the start of a run).
void clear_secrets();

/// Remembers `secret` (an empty one is ignored).
void register_secret(std::string secret);

/// `text` with every known secret, and every line of a secret spanning
/// lines, redacted (redact_secret, text.hpp).
std::string redact_secrets(std::string text);

}  // namespace faceverify
