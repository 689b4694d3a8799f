// SPDX-License-Identifier: MIT
// Completes the options from the environment and the config file, with the
// contract's precedence: option > environment > config file > default.
#include <cstdlib>
#include <string>

#include "commands.hpp"
#include "faceverify/config.hpp"

namespace faceverify::commands {

Expected<void> apply_settings(VerifyOptions& o, bool scores) {
  Config config;
  std::optional<std::filesystem::path> path = o.config_file ? std::optional(std::filesystem::path(*o.config_file))
                                                            : default_config_path();
  if (path) {
    // An explicit --config must exist, unless this run is about to write it.
    auto read = read_config(*path, o.config_file.has_value() && !o.write_config);
    if (!read) return std::unexpected(read.error());
    config = *read;
  }
  if (!o.backend_given && config.backend) o.backend = *config.backend == "local" ? BackendKind::local : BackendKind::api4ai;
  // A threshold measured on one backend's model means nothing for another's.
  const std::string backend = o.backend == BackendKind::local ? "local" : "api4ai";
  const bool config_applies = !config.backend || *config.backend == backend;
  if (!scores) return {};  // no threshold to settle (embed)

  if (o.threshold_given) {
    o.threshold_source = "option";
  } else if (const char* env = std::getenv("FACEVERIFY_THRESHOLD"); env && *env) {
    char* end = nullptr;
    const double t = std::strtod(env, &end);
    if (end == env || *end != '\0' || !(t >= 0.0 && t <= 1.0)) {
      return fail(ErrorKind::usage, "FACEVERIFY_THRESHOLD: '" + display_name(env) + "' is not a number from 0 to 1");
    }
    o.threshold = t;
    o.threshold_source = "env";
  } else if (config_applies && config.threshold) {
    o.threshold = *config.threshold;
    o.threshold_source = "config";
  } else {
    o.threshold_source = "default";
  }
  if (!o.half_distance_given && config_applies && config.half_distance) o.half_distance = *config.half_distance;
  return {};
}

}  // namespace faceverify::commands
