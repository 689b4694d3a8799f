// SPDX-License-Identifier: MIT
// The api4ai backend: the API4AI Face Analyzer (or a compatible server)
// reached over HTTP with the key, endpoint and retry policy of the settings.
#include <cstdio>

#include "faceverify/backend.hpp"
#include "faceverify/credentials.hpp"
#include "faceverify/http_client.hpp"
#include "faceverify/version.hpp"

namespace faceverify {
namespace {

std::string seconds_text(Millis d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

Millis millis(double seconds) {
  return std::chrono::duration_cast<Millis>(std::chrono::duration<double>(seconds));
}

class Api4aiBackend final : public Backend {
 public:
  Api4aiBackend(const BackendSettings& settings, Diagnostics& diag, api4ai::Endpoint endpoint,
                std::unique_ptr<HttpClient> client)
      : m_timeout(millis(settings.timeout_seconds)),
        m_verbose(settings.verbose),
        m_diag(diag),
        m_endpoint(std::move(endpoint)),
        m_client(std::move(client)) {
    m_provenance.backend = BackendKind::api4ai;
    m_provenance.api = std::string(api4ai::mode_name(settings.api));
    m_provenance.endpoint = m_endpoint.results_url;
  }

  void start(const BackendSettings& settings, const BackendRun& run) {
    RetryPolicy policy;
    policy.retries = settings.retries;
    api4ai::Analyzer::AttemptObserver observer;
    if (settings.verbose) {
      m_diag.line("POST " + m_endpoint.results_url + "?embeddings=true (api " +
                  std::string(api4ai::mode_name(settings.api)) + ", " + std::to_string(settings.retries) +
                  (settings.retries == 1 ? " retry" : " retries") + ", timeout " + seconds_text(m_timeout) +
                  (run.batch.per_image_timeout ? " per image" : "") + ")");
      observer = [&diag = m_diag](const Image& image, const AttemptReport& r) {
        std::string text =
            image.label + ": attempt " + std::to_string(r.attempt) + "/" + std::to_string(r.max_attempts) + ": ";
        text += r.error ? r.error->message : std::string("HTTP 200");
        text += " in " + std::to_string(r.duration.count()) + " ms";
        if (r.next_delay) text += "; retrying in " + seconds_text(*r.next_delay);
        diag.line(text);
      };
    }
    m_analyzer = std::make_unique<api4ai::Analyzer>(m_endpoint, *m_client, policy, run.deadline, system_clock_source(),
                                                    observer, run.batch);
  }

  const Provenance& provenance() const noexcept override { return m_provenance; }

  Expected<FaceAnalyzer*> analyzer() override { return m_analyzer.get(); }

  std::optional<std::string> service_version() override {
    auto version = api4ai::fetch_service_version(m_endpoint, *m_client, std::min(m_timeout, Millis(15000)));
    if (!version) {
      if (m_verbose) {
        m_diag.line("service version unknown: " +
                    api4ai::redact(version.error().message, m_endpoint.api_key.value_or("")));
      }
      return std::nullopt;
    }
    return *version;
  }

  std::optional<std::string> served_model_set() override {
    auto id = api4ai::fetch_served_model_set(m_endpoint, *m_client, std::min(m_timeout, Millis(15000)));
    if (!id || id->empty()) return std::nullopt;
    return *id;
  }

 private:
  Millis m_timeout;
  bool m_verbose;
  Diagnostics& m_diag;
  api4ai::Endpoint m_endpoint;
  std::unique_ptr<HttpClient> m_client;
  std::unique_ptr<api4ai::Analyzer> m_analyzer;
  Provenance m_provenance;
};

}  // namespace

namespace detail {

Expected<std::unique_ptr<Backend>> open_api4ai_backend(const BackendSettings& settings, const BackendRun& run,
                                                       Diagnostics& diag) {
  // The demo sends no key: its --api-key-file is not even read (resolve_settings
  // said so).
  const bool demo = settings.api == api4ai::Mode::demo;
  auto key = resolve_key(demo ? std::nullopt : settings.api_key_file, std::string(api4ai::key_variable(settings.api)));
  if (!key) return std::unexpected(key.error());
  // With the demo, which sends no key, resolve_settings already said the key is
  // unused.
  if (settings.api_key && !demo) {
    // Printed even with --quiet: the exposure has already happened.
    diag.line(
        "warning: a key given with --api-key is visible to other users of this machine (ps, shell history); "
        "use " +
        std::string(settings.api == api4ai::Mode::rapidapi ? "RAPIDAPI_KEY" : "API4AI_KEY") +
        " or --api-key-file instead");
    *key = settings.api_key;
  }
  auto endpoint = api4ai::make_endpoint(settings.api, settings.api_url, *key);
  if (!endpoint) return std::unexpected(endpoint.error());

  CurlOptions curl_options;
  curl_options.ca_file = settings.cacert;
  curl_options.user_agent = std::string("faceverify/") + k_version;
  curl_options.cancel = run.batch.cancel;
  auto backend = std::make_unique<Api4aiBackend>(settings, diag, std::move(*endpoint), make_curl_client(curl_options));
  backend->start(settings, run);
  return backend;
}

}  // namespace detail
}  // namespace faceverify
