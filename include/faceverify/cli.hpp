// SPDX-License-Identifier: MIT
#pragma once
// Command line: fills a plain options struct from argv (CLI11 stays inside
// cli.cpp). No I/O besides producing the help and version texts.

#include <optional>
#include <string>
#include <vector>

#include "faceverify/api4ai.hpp"
#include "faceverify/compare.hpp"
#include "faceverify/error.hpp"

namespace faceverify {

enum class Backend { api4ai, local };

struct VerifyOptions {
  std::vector<std::string> images;  // exactly two
  Backend backend = Backend::api4ai;
  std::optional<std::string> models;  // --models DIR (local backend)
  api4ai::Mode api = api4ai::Mode::demo;
  std::optional<std::string> api_url;
  std::optional<std::string> api_key_file;
  std::optional<std::string> api_key;  // --api-key: works, but warned about (visible in ps)
  std::optional<std::string> cacert;
  double threshold = 0.8;
  bool threshold_given = false;
  double half_distance = 1.23;
  FacePolicy face = FacePolicy::largest;
  int retries = 4;
  double timeout_seconds = 60.0;
  bool json = false;
  bool quiet = false;
  bool verbose = false;
};

struct Command {
  enum class Action { verify, print_help, print_version };
  Action action = Action::verify;
  VerifyOptions verify;
  std::string text;  // help or version text for print_*
};

/// Parses argv. Usage errors (ErrorKind::usage) carry a one-line message.
Expected<Command> parse_command_line(int argc, const char* const* argv);

}  // namespace faceverify
