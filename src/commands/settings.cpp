// SPDX-License-Identifier: MIT
// Completes the options from the environment and the config file, with the
// contract's precedence: option > environment > config file > default.
#include <cstdlib>
#include <string>

#include "commands/commands.hpp"
#include "faceverify/config.hpp"

namespace faceverify::commands {

Expected<void> resolve_settings(ServiceOptions& service, ScoringOptions* scoring, bool writes_config) {
  Config config;
  std::optional<std::filesystem::path> path =
      service.config_file ? std::optional(std::filesystem::path(*service.config_file)) : default_config_path();
  if (path) {
    // An explicit --config must exist, unless this run is about to write it.
    auto read = read_config(*path, service.config_file.has_value() && !writes_config);
    if (!read) return std::unexpected(read.error());
    config = *read;
  }
  // --backend and FACEVERIFY_BACKEND (one CLI11 option) beat the config file.
  if (service.backend) {
    service.kind = *service.backend;
  } else if (config.backend) {
    service.kind = *config.backend;
  }
  if (!scoring) return {};  // no threshold to settle (embed)

  scoring->env_threshold.reset();
  const char* env = scoring->threshold ? nullptr : std::getenv("FACEVERIFY_THRESHOLD");  // an option wins unread
  if (env && *env) {
    char* end = nullptr;
    const double t = std::strtod(env, &end);
    if (end == env || *end != '\0' || !(t >= 0.0 && t <= 1.0)) {
      return fail(ErrorKind::usage, "FACEVERIFY_THRESHOLD: '" + display_name(env) + "' is not a number from 0 to 1");
    }
    scoring->env_threshold = t;
  }
  scoring->config = config;
  // The images this run analyses come from service.kind; a command whose
  // embeddings come from files settles again once it knows their backend.
  settle_score(*scoring, service.kind);
  return {};
}

void settle_score(ScoringOptions& scoring, BackendKind produced) {
  // A threshold measured on one backend's model means nothing for another's.
  const Config& config = scoring.config;
  const bool config_applies = !config.backend || *config.backend == produced;
  ScoreOptions& score = scoring.score;
  if (scoring.threshold) {
    score.threshold = *scoring.threshold;
    scoring.threshold_source = "option";
  } else if (scoring.env_threshold) {
    score.threshold = *scoring.env_threshold;
    scoring.threshold_source = "env";
  } else if (config_applies && config.threshold) {
    score.threshold = *config.threshold;
    scoring.threshold_source = "config";
  } else {
    score.threshold = k_default_threshold;
    scoring.threshold_source = "default";
  }
  if (scoring.half_distance) {
    score.half_distance = *scoring.half_distance;
  } else if (config_applies && config.half_distance) {
    score.half_distance = *config.half_distance;
  } else {
    score.half_distance = k_default_half_distance;
  }
}

}  // namespace faceverify::commands
