// SPDX-License-Identifier: MIT
#pragma once
// The config file: settings later runs read, written by
// `faceverify calibrate --write-config`. A small TOML subset:
//
//   # written by faceverify calibrate on 2026-11-23
//   backend = "local"
//   threshold = 0.7513
//   half_distance = 1.23
//
// Precedence everywhere: option > environment > config file > default. The
// threshold and half_distance of a config file apply only to embeddings made
// by the backend it names (a threshold measured on one model means nothing
// for another): an embedding file's backend counts, not the run's. Unknown
// keys are ignored with a warning (naming the nearest known key), so newer
// files stay readable; a value of the wrong type is an error.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "faceverify/error.hpp"
#include "faceverify/face.hpp"

namespace faceverify {

struct Config {
  std::optional<BackendKind> backend;
  std::optional<double> threshold;      // in [0, 1]
  std::optional<double> half_distance;  // > 0
  // What parse_config ignored, one line each naming the file and the line
  // ("c.toml: line 2: unknown key 'treshold' (did you mean threshold?); ignored").
  std::vector<std::string> warnings;
};

/// For a threshold outside [0, 1] that looks like a percentage (2 <= x <= 100):
/// "thresholds are in [0, 1]; did you mean 0.8?"; else nullopt.
std::optional<std::string> percent_threshold_hint(double x);

/// $XDG_CONFIG_HOME/faceverify/config.toml (XDG_CONFIG_HOME absolute), else
/// $HOME/.config/faceverify/config.toml; nullopt when neither is set.
std::optional<std::filesystem::path> default_config_path();

/// Parses config text. Errors (ErrorKind::usage) name `label` and the line:
/// "config.toml: line 2: threshold must be a number from 0 to 1"; unknown
/// keys become `warnings`.
Expected<Config> parse_config(std::string_view text, std::string_view label);

/// The file's text: a comment line, then each key that is set.
std::string render_config(const Config& config, std::string_view comment);

/// Reads `path` (at most 1 MiB; opened non-blocking, so a FIFO never
/// hangs). A missing file is an empty Config unless `must_exist` (an
/// explicit --config), which makes it a usage error; so is a path that is
/// not a regular file (a directory, a FIFO, /dev/zero), wherever it is.
Expected<Config> read_config(const std::filesystem::path& path, bool must_exist);

/// Writes `config` to `path` atomically (temp + rename), creating the
/// directory (0700) when needed; keys of an existing file that `config`
/// does not set are kept. Errors (ErrorKind::input) name the path.
Expected<void> write_config(const std::filesystem::path& path, const Config& config, std::string_view comment);

}  // namespace faceverify
