// SPDX-License-Identifier: MIT
// Completes the options from the environment and the config file, with the
// contract's precedence: option > environment > config file > default.
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "commands/commands.hpp"
#include "faceverify/config.hpp"
#include "faceverify/file_io.hpp"

namespace faceverify::commands {
namespace {

// The first API option given on the command line: any of them means the API
// backend (an exported API4AI_KEY is ambient and selects nothing).
std::optional<std::string_view> api_option_given(const ServiceOptions& service) {
  if (service.api) return "--api";
  if (service.api_url) return "--api-url";
  if (service.api_key) return "--api-key";
  if (service.api_key_file) return "--api-key-file";
  return std::nullopt;
}

// The backend of this run: --backend, else an API option on the command line
// (api4ai), else FACEVERIFY_BACKEND, else the config file, else api4ai.
Expected<BackendKind> choose_backend(const ServiceOptions& service, std::optional<BackendKind> configured) {
  const auto api_option = api_option_given(service);
  if (service.backend) {
    // --cacert selects nothing, but is an option of the API backend too.
    const auto unused = api_option       ? api_option
                        : service.cacert ? std::optional<std::string_view>("--cacert")
                                         : std::nullopt;
    if (*service.backend == BackendKind::local && unused) {
      return fail(ErrorKind::usage, "--backend local contradicts " + std::string(*unused) +
                                        " (the local backend uses no service); give one of them");
    }
    return *service.backend;  // the option wins: FACEVERIFY_BACKEND is not read
  }
  // A bad FACEVERIFY_BACKEND is an error even when an API option wins over it.
  std::optional<BackendKind> from_env;
  if (const char* env = std::getenv("FACEVERIFY_BACKEND"); env && *env) {
    from_env = backend_from_name(env);
    if (!from_env) {
      return fail(ErrorKind::usage,
                  "FACEVERIFY_BACKEND: '" + display_name(env) + "' is not one of api4ai, local; fix or unset it");
    }
  }
  if (api_option) return BackendKind::api4ai;
  if (from_env) return *from_env;
  return configured.value_or(BackendKind::api4ai);
}

// --cacert names a file curl will read at the first request: checked now, so a
// typo is a usage error before any upload, not a TLS failure after it.
Expected<void> check_ca_file(const std::string& path) {
  const std::string where = "--cacert " + display_name(path) + ": ";
  // Non-blocking: a FIFO must not hang the run here.
  auto fd = open_for_reading(path, O_NONBLOCK);
  if (!fd) return fail(ErrorKind::usage, where + "cannot read it: " + std::strerror(fd.error().err));
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return fail(ErrorKind::usage, where + "cannot read it: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) {
    return fail(ErrorKind::usage, where + (S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file") +
                                      "; expected a PEM file of CA certificates");
  }
  return {};
}

}  // namespace

Expected<void> resolve_settings(ServiceOptions& service, ScoringOptions* scoring, Diagnostics& diag,
                                bool writes_config) {
  // The command line's own contradictions first: they need no file.
  if (service.backend == BackendKind::local) {
    if (auto chosen = choose_backend(service, std::nullopt); !chosen) return std::unexpected(chosen.error());
  }
  Config config;
  std::optional<std::filesystem::path> path =
      service.config_file ? std::optional(std::filesystem::path(*service.config_file)) : default_config_path();
  if (path) {
    // An explicit --config must exist, unless this run is about to write it.
    auto read = read_config(*path, service.config_file.has_value() && !writes_config);
    if (!read) return std::unexpected(read.error());
    config = *read;
    for (const auto& warning : config.warnings) diag.line("warning: " + warning);
  }
  auto chosen = choose_backend(service, config.backend);
  if (!chosen) return std::unexpected(chosen.error());
  service.kind = *chosen;
  if (service.kind == BackendKind::api4ai) {
    if (service.api.value_or(api4ai::Mode::demo) == api4ai::Mode::demo && (service.api_key || service.api_key_file)) {
      diag.line(std::string("warning: the key of ") + (service.api_key ? "--api-key" : "--api-key-file") +
                " is not used: the demo endpoint takes no key (add --api api4ai or --api rapidapi to send it)");
    }
    if (service.cacert) {
      if (auto ok = check_ca_file(*service.cacert); !ok) return ok;
    }
  }
  if (!scoring) return {};  // no threshold to settle (embed)

  scoring->env_threshold.reset();
  const char* env = scoring->threshold ? nullptr : std::getenv("FACEVERIFY_THRESHOLD");  // an option wins unread
  if (env && *env) {
    char* end = nullptr;
    const double t = std::strtod(env, &end);
    if (end == env || *end != '\0' || !(t >= 0.0 && t <= 1.0)) {
      const std::string what = "FACEVERIFY_THRESHOLD: '" + display_name(env) + "'";
      if (end != env && *end == '\0') {
        if (const auto hint = percent_threshold_hint(t)) return fail(ErrorKind::usage, what + ": " + *hint);
      }
      return fail(ErrorKind::usage, what + " is not a number from 0 to 1");
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
