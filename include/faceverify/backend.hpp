// SPDX-License-Identifier: MIT
#pragma once
// Opening the backend --backend names: the API4AI client (key, endpoint,
// retries) or the local models. The local models load lazily, so a batch
// answered entirely from the cache never reads them.

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "faceverify/api4ai.hpp"
#include "faceverify/cli.hpp"
#include "faceverify/diagnostics.hpp"
#include "faceverify/face.hpp"
#include "faceverify/http_client.hpp"

namespace faceverify {

class Backend {
 public:
  /// Checks everything that needs no heavy work (key, endpoint, local backend
  /// compiled in) and fixes the provenance. `deadline` bounds a verification;
  /// batches give `batch.per_image_timeout` instead.
  static Expected<std::unique_ptr<Backend>> open(const VerifyOptions& options,
                                                 std::chrono::steady_clock::time_point deadline, Diagnostics& diag,
                                                 api4ai::BatchSettings batch = {});

  /// A backend over an analyzer of the caller's (tests, embedding programs).
  static std::unique_ptr<Backend> wrap(std::unique_ptr<FaceAnalyzer> analyzer, Provenance provenance);

  const Provenance& provenance() const noexcept { return m_provenance; }

  /// The analyzer, created on first call (the local models are read and
  /// checked then). Not thread-safe: call it once before starting workers.
  Expected<FaceAnalyzer*> analyzer();

  /// api4ai: GET …/v1/version; nullopt for the local backend or on failure
  /// (which --verbose reports).
  std::optional<std::string> service_version();

 private:
  Backend() = default;

  const VerifyOptions* m_options = nullptr;
  Diagnostics* m_diag = nullptr;
  Provenance m_provenance;
  std::optional<api4ai::Endpoint> m_endpoint;
  std::unique_ptr<HttpClient> m_client;
  std::unique_ptr<FaceAnalyzer> m_analyzer;
};

/// The cache identity of analyses by `p`: what must match for a cached
/// analysis to stand for a new one (backend, endpoint and query, models).
std::string cache_identity(const Provenance& p);

}  // namespace faceverify
