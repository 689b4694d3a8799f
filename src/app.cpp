// SPDX-License-Identifier: MIT
#include "faceverify/app.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <future>
#include <mutex>
#include <ostream>

#include "faceverify/api4ai.hpp"
#include "faceverify/cli.hpp"
#include "faceverify/credentials.hpp"
#include "faceverify/image.hpp"
#include "faceverify/local_backend.hpp"
#include "faceverify/report.hpp"
#include "faceverify/version.hpp"

namespace faceverify {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

long long ms_since(SteadyTime start) {
  return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start).count();
}

std::string seconds_text(Millis d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

class Diagnostics {
 public:
  explicit Diagnostics(std::ostream& err) : m_err(err) {}
  void line(const std::string& text) {
    std::lock_guard lock(m_mutex);
    m_err << "faceverify: " << text << '\n' << std::flush;
  }

 private:
  std::ostream& m_err;
  std::mutex m_mutex;
};

struct Outcome {
  Expected<Analysis> analysis = fail(ErrorKind::internal, "not run");
  long long elapsed_ms = 0;
};

// The analyzer behind --backend, with what it owns and how reports name it.
struct OpenBackend {
  std::unique_ptr<HttpClient> client;  // api4ai only
  std::unique_ptr<FaceAnalyzer> analyzer;
  Provenance provenance;
};

Expected<OpenBackend> open_backend(const VerifyOptions& o, std::chrono::steady_clock::time_point deadline,
                                   Diagnostics& diag) {
  OpenBackend backend;
  if (o.backend == Backend::local) {
    if (!local::compiled_in()) return std::unexpected(local::make_analyzer({}).error());
    auto models = local::find_models(o.models);
    if (!models) return std::unexpected(models.error());
    if (o.verbose) diag.line("local backend: models in " + models->dir);
    auto analyzer = local::make_analyzer(std::move(*models));
    if (!analyzer) return std::unexpected(analyzer.error());
    backend.analyzer = std::move(*analyzer);
    backend.provenance.backend = "local";
    for (const auto& spec : local::model_specs()) {
      backend.provenance.models.emplace_back(std::string(spec.role), std::string(spec.sha256));
    }
    return backend;
  }

  auto key = resolve_key(o.api_key_file, std::string(api4ai::key_variable(o.api)));
  if (!key) return std::unexpected(key.error());
  if (o.api_key) {
    // Printed even with --quiet: the exposure has already happened.
    diag.line(
        "warning: a key given with --api-key is visible to other users of this machine (ps, shell history); "
        "use " +
        std::string(o.api == api4ai::Mode::rapidapi ? "RAPIDAPI_KEY" : "API4AI_KEY") + " or --api-key-file instead");
    *key = o.api_key;
  }
  auto endpoint = api4ai::make_endpoint(o.api, o.api_url, *key);
  if (!endpoint) return std::unexpected(endpoint.error());

  CurlOptions curl_options;
  curl_options.ca_file = o.cacert;
  curl_options.user_agent = std::string("faceverify/") + k_version;
  backend.client = make_curl_client(curl_options);
  RetryPolicy policy;
  policy.retries = o.retries;
  api4ai::Analyzer::AttemptObserver observer;
  if (o.verbose) {
    diag.line("POST " + endpoint->results_url + "?embeddings=true (api " + std::string(api4ai::mode_name(o.api)) +
              ", " + std::to_string(o.retries) + (o.retries == 1 ? " retry" : " retries") + ", timeout " +
              seconds_text(std::chrono::duration_cast<Millis>(std::chrono::duration<double>(o.timeout_seconds))) + ")");
    observer = [&diag](const Image& image, const AttemptReport& r) {
      std::string text =
          image.label + ": attempt " + std::to_string(r.attempt) + "/" + std::to_string(r.max_attempts) + ": ";
      text += r.error ? r.error->message : std::string("HTTP 200");
      text += " in " + std::to_string(r.duration.count()) + " ms";
      if (r.next_delay) text += "; retrying in " + seconds_text(*r.next_delay);
      diag.line(text);
    };
  }
  backend.provenance.backend = "api4ai";
  backend.provenance.api = std::string(api4ai::mode_name(o.api));
  backend.provenance.endpoint = endpoint->results_url;
  backend.analyzer =
      std::make_unique<api4ai::Analyzer>(*endpoint, *backend.client, policy, deadline, system_clock_source(), observer);
  return backend;
}

int verify(const VerifyOptions& o, std::ostream& out, Diagnostics& diag, int stdin_fd) {
  const auto started = std::chrono::steady_clock::now();

  // Everything local is checked before any network traffic or model loading.
  std::array<ImageSource, 2> sources;
  for (std::size_t i = 0; i < 2; ++i) {
    auto src = classify_image_argument(o.images[i]);
    if (!src) {
      diag.line(src.error().message);
      return exit_code(src.error().kind);
    }
    sources[i] = *src;
  }
  if (sources[0].kind == SourceKind::stdin_stream && sources[1].kind == SourceKind::stdin_stream) {
    diag.line("standard input (-) can be only one of the two images");
    return exit_status::usage;
  }
  std::array<Image, 2> images;
  for (std::size_t i = 0; i < 2; ++i) {
    auto img =
        load_image(sources[i], stdin_fd, o.backend == Backend::local ? k_max_local_image_bytes : k_max_image_bytes);
    if (!img) {
      diag.line(img.error().message);
      return exit_code(img.error().kind);
    }
    images[i] = std::move(*img);
  }
  if (o.backend == Backend::local) {
    for (const auto& img : images) {
      if (img.source.kind == SourceKind::url) {
        diag.line(img.label +
                  ": the local backend does not download URLs (it never uses the network); download "
                  "the image and pass the file, or use --backend api4ai");
        return exit_status::usage;
      }
    }
  }
  const auto deadline = started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                      std::chrono::duration<double>(o.timeout_seconds));
  auto backend = open_backend(o, deadline, diag);
  if (!backend) {
    diag.line(backend.error().message);
    return exit_code(backend.error().kind);
  }
  FaceAnalyzer& analyzer = *backend->analyzer;

  // Both images at once: a verification costs one round trip, not two.
  std::array<Outcome, 2> outcomes;
  {
    auto analyse = [&](std::size_t i) {
      const auto t0 = std::chrono::steady_clock::now();
      outcomes[i].analysis = analyzer.analyze(images[i]);
      outcomes[i].elapsed_ms = ms_since(t0);
    };
    auto second = std::async(std::launch::async, analyse, std::size_t{1});
    analyse(0);
    second.get();
  }
  int status = 0;
  for (const auto& outcome : outcomes) {
    if (!outcome.analysis) {
      diag.line(outcome.analysis.error().message);
      status = std::max(status, exit_code(outcome.analysis.error().kind));
    }
  }
  if (status != 0) return status;

  const Analysis& a = *outcomes[0].analysis;
  const Analysis& b = *outcomes[1].analysis;
  const ScoreOptions score{o.threshold, o.half_distance};
  auto comparison = compare(a, images[0].label, b, images[1].label, o.face, score);
  if (!comparison) {
    // Report every image without a face, not just the first.
    if (comparison.error().kind == ErrorKind::no_face) {
      for (std::size_t i = 0; i < 2; ++i) {
        if (outcomes[i].analysis->faces.empty()) diag.line(images[i].label + ": no face found in the image");
      }
    } else {
      diag.line(comparison.error().message);
    }
    return exit_code(comparison.error().kind);
  }
  if (o.face != FacePolicy::best && !o.quiet) {
    const std::array<std::size_t, 2> chosen{comparison->face1, comparison->face2};
    for (std::size_t i = 0; i < 2; ++i) {
      const std::size_t n = outcomes[i].analysis->faces.size();
      if (n > 1) {
        diag.line(images[i].label + ": " + std::to_string(n) + " faces found; comparing the " +
                  (o.face == FacePolicy::largest ? "largest" : "first") + " (face " + std::to_string(chosen[i] + 1) +
                  "; --face best compares the most similar pair)");
      }
    }
  }

  Verification v;
  v.images = {ImageResult{&images[0], &a, outcomes[0].elapsed_ms}, ImageResult{&images[1], &b, outcomes[1].elapsed_ms}};
  v.comparison = *comparison;
  v.score = score;
  v.threshold_source = o.threshold_given ? "option" : "default";
  v.policy = o.face;
  v.provenance = backend->provenance;
  v.total_ms = ms_since(started);
  if (!o.quiet) {
    out << (o.json ? render_json(v) : render_text(v)) << std::flush;
    // A reader that went away (| head) ends the run quietly; any other lost
    // output must not pass for a verdict.
    if (!out && errno != EPIPE) {
      diag.line(std::string("cannot write the result to standard output: ") + std::strerror(errno));
      return exit_status::usage;
    }
  }
  return comparison->same ? exit_status::same : exit_status::different;
}

}  // namespace

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err, int stdin_fd) {
  Diagnostics diag(err);
  try {
    auto cmd = parse_command_line(argc, argv);
    if (!cmd) {
      diag.line(cmd.error().message);
      return exit_code(cmd.error().kind);
    }
    switch (cmd->action) {
      case Command::Action::print_help:
      case Command::Action::print_version: out << cmd->text << std::flush; return 0;
      case Command::Action::verify: return verify(cmd->verify, out, diag, stdin_fd);
    }
  } catch (const std::bad_alloc&) {
    diag.line("out of memory");
  } catch (const std::exception& e) {
    diag.line(std::string("internal error: ") + e.what() + " (please report this)");
  }
  return exit_status::service;
}

}  // namespace faceverify
