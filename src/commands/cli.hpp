// SPDX-License-Identifier: MIT
#pragma once
// The option groups every command binds the same way, and the validators
// they share (cli.cpp). Only command files include this (and so CLI11).

#include <CLI/CLI.hpp>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "commands/options.hpp"

namespace faceverify::commands {

/// The name one_of gives its validator: this prefix, then the choices
/// separated by spaces. The help never shows a validator's name; the shell
/// completions read it (option_choices), so they offer exactly what parses.
inline constexpr std::string_view k_one_of_prefix = "one_of:";

/// A value from `choices`, stored as its enum; the message lists the names.
template <typename T>
CLI::Validator one_of(const std::map<std::string, T>& choices) {
  std::string names, listed;
  for (const auto& [name, value] : choices) {
    names += (names.empty() ? "" : ", ") + name;
    listed += (listed.empty() ? "" : " ") + name;
  }
  return CLI::Validator(
      [&choices, names](std::string& value) -> std::string {
        const auto it = choices.find(value);
        if (it == choices.end()) return "'" + value + "' is not one of " + names;
        value = std::to_string(static_cast<int>(it->second));  // CLI11 converts enums from their number
        return {};
      },
      "", std::string(k_one_of_prefix) + listed);
}

/// The values `opt` accepts when one_of checks it (in the map's order), else
/// empty.
std::vector<std::string> option_choices(CLI::Option& opt);

/// A number in [low, high] (or (low, high] when !inclusive_low), whole when
/// `whole`; the message says what is expected.
CLI::Validator number_in(std::string what, double low, double high, bool inclusive_low, bool whole = false);

/// --backend, --models, --api, --api-url, --api-key, --api-key-file,
/// --cacert, --config, --retries.
void add_service_options(CLI::App& app, ServiceOptions& o);

/// -t/--threshold, --half-distance, --face.
void add_scoring_options(CLI::App& app, ScoringOptions& o);

/// --uncertain-band (commands with a per-pair decision).
void add_band_option(CLI::App& app, ScoringOptions& o);

void add_cache_dir_option(CLI::App& app, std::optional<std::string>& dir);

/// --decode scaled|full: how the local backend decodes images.
void add_decode_option(CLI::App& app, local::DecodeMode& mode);

/// -j, --max-rps, --cache-dir, --no-cache, --timeout (per image), --ordered
/// when `streaming`, -q, -v.
void add_batch_options(CLI::App& app, BatchOptions& o, bool streaming);

/// --gallery DIR (embed, matrix, search): every image under DIR, recursively.
void add_gallery_option(CLI::App& app, std::optional<std::string>& gallery);

/// --format text|csv|json and --json (matrix, search).
void add_table_format_options(CLI::App& app, OutputFormat& format);

/// The help's paragraph on what an IMAGE of a batch command may be.
extern const char* const k_input_note;

/// Conflicts within the groups (after parsing); `batch` null for verify.
Expected<void> check_options(const ServiceOptions& service, const BatchOptions* batch);

}  // namespace faceverify::commands
