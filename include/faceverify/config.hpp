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
// for another): an embedding file's backend counts, not the run's. Unknown keys are ignored, so newer files stay
// readable.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "faceverify/error.hpp"
#include "faceverify/face.hpp"

namespace faceverify {

struct Config {
  std::optional<BackendKind> backend;
  std::optional<double> threshold;      // in [0, 1]
  std::optional<double> half_distance;  // > 0
};

/// $XDG_CONFIG_HOME/faceverify/config.toml (XDG_CONFIG_HOME absolute), else
/// $HOME/.config/faceverify/config.toml; nullopt when neither is set.
std::optional<std::filesystem::path> default_config_path();

/// Parses config text. Errors (ErrorKind::usage) name `label` and the line:
/// "config.toml: line 2: threshold must be a number from 0 to 1".
Expected<Config> parse_config(std::string_view text, std::string_view label);

/// The file's text: a comment line, then each key that is set.
std::string render_config(const Config& config, std::string_view comment);

/// Reads `path`. A missing file is an empty Config unless `must_exist`
/// (an explicit --config), which makes it a usage error.
Expected<Config> read_config(const std::filesystem::path& path, bool must_exist);

/// Writes `config` to `path` atomically (temp + rename), creating the
/// directory (0700) when needed; keys of an existing file that `config`
/// does not set are kept. Errors (ErrorKind::input) name the path.
Expected<void> write_config(const std::filesystem::path& path, const Config& config, std::string_view comment);

}  // namespace faceverify
