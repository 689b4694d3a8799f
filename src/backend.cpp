// SPDX-License-Identifier: MIT
#include "faceverify/backend.hpp"

#include <cstdio>

#include "faceverify/credentials.hpp"
#include "faceverify/interrupt.hpp"
#include "faceverify/local_backend.hpp"
#include "faceverify/version.hpp"

namespace faceverify {
namespace {

std::string seconds_text(Millis d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

}  // namespace

Expected<std::unique_ptr<Backend>> Backend::open(const VerifyOptions& o, std::chrono::steady_clock::time_point deadline,
                                                 Diagnostics& diag, api4ai::BatchSettings batch) {
  std::unique_ptr<Backend> b(new Backend());
  b->m_options = &o;
  b->m_diag = &diag;
  if (o.backend == BackendKind::local) {
    if (!local::compiled_in()) return std::unexpected(local::make_analyzer({}).error());
    b->m_provenance.backend = "local";
    for (const auto& spec : local::model_specs()) {
      b->m_provenance.models.emplace_back(std::string(spec.role), std::string(spec.sha256));
    }
    return b;
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
  b->m_endpoint = *endpoint;

  CurlOptions curl_options;
  curl_options.ca_file = o.cacert;
  curl_options.user_agent = std::string("faceverify/") + k_version;
  curl_options.cancel = batch.cancel;
  b->m_client = make_curl_client(curl_options);
  RetryPolicy policy;
  policy.retries = o.retries;
  api4ai::Analyzer::AttemptObserver observer;
  if (o.verbose) {
    const auto budget =
        seconds_text(std::chrono::duration_cast<Millis>(std::chrono::duration<double>(o.timeout_seconds)));
    diag.line("POST " + endpoint->results_url + "?embeddings=true (api " + std::string(api4ai::mode_name(o.api)) +
              ", " + std::to_string(o.retries) + (o.retries == 1 ? " retry" : " retries") + ", timeout " + budget +
              (batch.per_image_timeout ? " per image" : "") + ")");
    observer = [&diag](const Image& image, const AttemptReport& r) {
      std::string text =
          image.label + ": attempt " + std::to_string(r.attempt) + "/" + std::to_string(r.max_attempts) + ": ";
      text += r.error ? r.error->message : std::string("HTTP 200");
      text += " in " + std::to_string(r.duration.count()) + " ms";
      if (r.next_delay) text += "; retrying in " + seconds_text(*r.next_delay);
      diag.line(text);
    };
  }
  b->m_provenance.backend = "api4ai";
  b->m_provenance.api = std::string(api4ai::mode_name(o.api));
  b->m_provenance.endpoint = endpoint->results_url;
  b->m_analyzer = std::make_unique<api4ai::Analyzer>(*endpoint, *b->m_client, policy, deadline, system_clock_source(),
                                                     observer, batch);
  return b;
}

std::unique_ptr<Backend> Backend::wrap(std::unique_ptr<FaceAnalyzer> analyzer, Provenance provenance) {
  std::unique_ptr<Backend> b(new Backend());
  b->m_analyzer = std::move(analyzer);
  b->m_provenance = std::move(provenance);
  return b;
}

Expected<FaceAnalyzer*> Backend::analyzer() {
  if (m_analyzer) return m_analyzer.get();
  // Only the local backend gets here: its models load on first use.
  auto models = local::find_models(m_options->models);
  if (!models) return std::unexpected(models.error());
  if (m_options->verbose) m_diag->line("local backend: models in " + models->dir);
  auto analyzer = local::make_analyzer(std::move(*models));
  if (!analyzer) return std::unexpected(analyzer.error());
  m_analyzer = std::move(*analyzer);
  return m_analyzer.get();
}

std::optional<std::string> Backend::service_version() {
  if (!m_endpoint || !m_client) return std::nullopt;
  const auto timeout = std::chrono::duration_cast<Millis>(std::chrono::duration<double>(m_options->timeout_seconds));
  auto version = api4ai::fetch_service_version(*m_endpoint, *m_client, std::min(timeout, Millis(15000)));
  if (!version) {
    if (m_options->verbose) {
      m_diag->line("service version unknown: " +
                   api4ai::redact(version.error().message, m_endpoint->api_key.value_or("")));
    }
    return std::nullopt;
  }
  return *version;
}

std::string cache_identity(const Provenance& p) {
  std::string id = "faceverify-analysis 1\nbackend " + p.backend + "\n";
  if (p.backend == "local") {
    for (const auto& [role, sha] : p.models) id += "model " + role + " " + sha + "\n";
    id += std::string("pipeline ") + k_version + "\n";  // pre-processing may change between releases
  } else {
    id += "api " + p.api + "\nendpoint " + p.endpoint + "?embeddings=true\n";
  }
  return id;
}

}  // namespace faceverify
