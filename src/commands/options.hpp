// SPDX-License-Identifier: MIT
#pragma once
// Each command's options: one struct per command, made of the option groups
// below. setup(app, options) binds a struct to its parser (in the command's
// own file; the groups' binders are in cli.cpp), run(options, io) runs it.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "faceverify/api4ai.hpp"
#include "faceverify/backend.hpp"
#include "faceverify/batch_report.hpp"
#include "faceverify/compare.hpp"
#include "faceverify/config.hpp"
#include "faceverify/face.hpp"

namespace faceverify::commands {

/// Where faces are analysed and how the service is reached: every command
/// that analyses images has these.
struct ServiceOptions {
  std::optional<BackendKind> backend;  // --backend, as given on the command line
  // Resolved by resolve_settings: --backend, else an API option on the command
  // line (api4ai), else FACEVERIFY_BACKEND, else the config file, else api4ai.
  BackendKind kind = BackendKind::api4ai;
  std::optional<std::string> models;                   // --models DIR (local backend)
  local::DecodeMode decode = local::k_default_decode;  // --decode (local backend)
  std::optional<api4ai::Mode> api;                     // --api, as given (default demo)
  std::optional<std::string> api_url;
  std::optional<std::string> api_key_file;
  std::optional<std::string> api_key;  // --api-key: works, but warned about (visible in ps)
  std::optional<std::string> cacert;
  int retries = 4;
  std::optional<std::string> config_file;  // --config FILE
};

/// How faces are compared: every command that scores has these.
struct ScoringOptions {
  std::optional<double> threshold;      // -t/--threshold as given
  std::optional<double> half_distance;  // --half-distance as given
  FacePolicy face = FacePolicy::largest;
  std::optional<double> uncertain_band;  // --uncertain-band W (verify, search, pairs)
  // Resolved by resolve_settings: option > environment > config file > default.
  ScoreOptions score;
  std::string threshold_source = "default";  // "option", "env", "config" or "default"
  // The layers below the options, as resolve_settings read them, so that
  // settle_score can settle the score again for the backend that produced
  // the embeddings (a config file's score is measured on its backend).
  std::optional<double> env_threshold;  // FACEVERIFY_THRESHOLD
  Config config;
};

/// The batch engine: concurrency, rate, cache, ordering, progress.
struct BatchOptions {
  int jobs = 4;
  double max_rps = 0.0;  // 0: no limit
  std::optional<std::string> cache_dir;
  bool no_cache = false;
  bool ordered = false;           // embed, pairs
  double timeout_seconds = 60.0;  // per image
  bool quiet = false;
  bool verbose = false;
};

/// faceverify [OPTIONS] IMAGE1 IMAGE2 (the default command).
struct VerifyOptions {
  std::vector<std::string> images;  // exactly two
  ServiceOptions service;
  ScoringOptions scoring;
  double timeout_seconds = 60.0;  // the whole run
  bool json = false;
  bool quiet = false;
  bool verbose = false;
};

struct EmbedOptions {
  std::vector<std::string> inputs;
  std::optional<std::string> gallery;  // --gallery DIR
  ServiceOptions service;
  BatchOptions batch;
};

struct MatrixOptions {
  std::vector<std::string> inputs;
  std::optional<std::string> gallery;  // --gallery DIR
  ServiceOptions service;
  ScoringOptions scoring;
  BatchOptions batch;
  OutputFormat format = OutputFormat::text;
};

struct SearchOptions {
  std::string reference;
  std::vector<std::string> candidates;
  std::optional<std::string> gallery;  // --gallery DIR
  std::optional<std::size_t> top;      // --top K
  ServiceOptions service;
  ScoringOptions scoring;
  BatchOptions batch;
  OutputFormat format = OutputFormat::text;
};

struct PairsOptions {
  std::string pairs_file;               // FILE or -
  std::optional<std::string> junit;     // --junit FILE
  std::optional<std::string> base_dir;  // --base-dir DIR: relative paths in the file resolve against it
  ServiceOptions service;
  ScoringOptions scoring;
  BatchOptions batch;
  OutputFormat format = OutputFormat::jsonl;
};

struct CalibrateOptions {
  std::string labelled;               // a pairs file or a folder with labels.csv
  std::optional<double> target_far;   // --target-far F
  std::optional<std::string> report;  // --report FILE.html
  bool write_config = false;          // --write-config
  bool json = false;
  ServiceOptions service;
  ScoringOptions scoring;
  BatchOptions batch;
};

/// faceverify cache stats|clear.
struct CacheOptions {
  bool clear = false;  // clear, else stats
  std::optional<std::string> cache_dir;
  bool json = false;  // stats
};

/// faceverify index build|add|info|export: gallery files (gallery_file.hpp).
struct IndexOptions {
  enum class Action { build, add, info, export_records };
  Action action = Action::info;
  std::string file;  // build: --out; the others: FILE
  std::vector<std::string> inputs;
  std::optional<std::string> gallery;  // --gallery DIR (build, add)
  ServiceOptions service;
  BatchOptions batch;
  bool json = false;    // info
  bool verify = false;  // info --verify
};

/// faceverify serve: the local backend behind the API4AI protocol.
struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  std::optional<std::string> models;
  local::DecodeMode decode = local::k_default_decode;
  std::optional<int> workers;  // default: the number of cores
  std::optional<std::string> api_key_file;
  int max_body_mib = 16;
  std::optional<int> queue;  // default: 4 per worker
  std::optional<std::string> access_log;
  std::optional<std::string> cors_origin;
  bool allow_url_fetch = false;
  bool allow_private_urls = false;
  int request_timeout = 60;  // seconds a request may take to arrive
  int max_connections = 1000;
  std::optional<int> max_connections_per_ip;
  bool verbose = false;
  bool healthcheck = false;  // probe the server at `listen` instead of serving
};

/// What the backend factory needs of a command's options.
BackendSettings backend_settings(const ServiceOptions& service, double timeout_seconds, bool verbose);

}  // namespace faceverify::commands
