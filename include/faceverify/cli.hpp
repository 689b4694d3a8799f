// SPDX-License-Identifier: MIT
#pragma once
// Command line: fills a plain options struct from argv (CLI11 stays inside
// cli.cpp). No I/O besides producing the help and version texts.
//
//   faceverify [OPTIONS] IMAGE1 IMAGE2         verify (the default command)
//   faceverify embed|matrix|search|pairs|cache [OPTIONS] ...

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "faceverify/api4ai.hpp"
#include "faceverify/compare.hpp"
#include "faceverify/error.hpp"

namespace faceverify {

enum class BackendKind { api4ai, local };

/// Output of the batch commands: matrix and search (text, csv, json), pairs
/// (jsonl, csv).
enum class OutputFormat { text, csv, json, jsonl };

struct VerifyOptions {
  std::vector<std::string> images;  // exactly two
  BackendKind backend = BackendKind::api4ai;
  std::optional<std::string> models;  // --models DIR (local backend)
  api4ai::Mode api = api4ai::Mode::demo;
  std::optional<std::string> api_url;
  std::optional<std::string> api_key_file;
  std::optional<std::string> api_key;  // --api-key: works, but warned about (visible in ps)
  std::optional<std::string> cacert;
  double threshold = 0.8;
  bool threshold_given = false;          // -t/--threshold on the command line
  std::string threshold_source = "default";  // "option", "env", "config" or "default" (set by the app)
  double half_distance = 1.23;
  bool half_distance_given = false;
  bool backend_given = false;  // --backend or FACEVERIFY_BACKEND
  std::optional<std::string> config_file;  // --config FILE
  std::optional<double> uncertain_band;   // --uncertain-band W
  FacePolicy face = FacePolicy::largest;
  int retries = 4;
  double timeout_seconds = 60.0;
  bool json = false;
  bool quiet = false;
  bool verbose = false;

  // Batch commands (embed, matrix, search, pairs, cache).
  std::vector<std::string> inputs;     // embed, matrix: every IMAGE; search: the candidates
  std::string reference;               // search: REFERENCE
  std::optional<std::string> gallery;  // search --gallery DIR
  std::optional<std::size_t> top;      // search --top K
  std::string pairs_file;              // pairs FILE|-
  std::optional<std::string> junit;    // pairs --junit FILE
  OutputFormat format = OutputFormat::text;
  int jobs = 4;
  double max_rps = 0.0;  // 0: no limit
  std::optional<std::string> cache_dir;
  bool no_cache = false;
  bool ordered = false;

  // calibrate
  std::string labelled;               // LABELLED: a pairs file or a folder with labels.csv
  std::optional<double> target_far;   // --target-far F
  std::optional<std::string> report;  // --report FILE.html
  bool write_config = false;          // --write-config
};

struct Command {
  enum class Action {
    verify,
    embed,
    matrix,
    search,
    pairs,
    calibrate,
    cache_stats,
    cache_clear,
    print_help,
    print_version
  };
  Action action = Action::verify;
  VerifyOptions verify;
  std::string text;  // help or version text for print_*
};

/// Parses argv. Usage errors (ErrorKind::usage) carry a one-line message.
Expected<Command> parse_command_line(int argc, const char* const* argv);

}  // namespace faceverify
