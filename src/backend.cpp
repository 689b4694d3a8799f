// SPDX-License-Identifier: MIT
// The backend factory and what every backend shares: size limits, the
// sources each can read, and the cache identity of its analyses.
#include "faceverify/backend.hpp"

#include "faceverify/local_backend.hpp"
#include "faceverify/sha256.hpp"
#include "faceverify/version.hpp"

namespace faceverify {
namespace {

// A backend over a caller's analyzer (tests, embedding programs).
class WrappedBackend final : public Backend {
 public:
  WrappedBackend(std::unique_ptr<FaceAnalyzer> analyzer, Provenance provenance)
      : m_analyzer(std::move(analyzer)), m_provenance(std::move(provenance)) {}
  const Provenance& provenance() const noexcept override { return m_provenance; }
  Expected<FaceAnalyzer*> analyzer() override { return m_analyzer.get(); }

 private:
  std::unique_ptr<FaceAnalyzer> m_analyzer;
  Provenance m_provenance;
};

}  // namespace

Expected<std::unique_ptr<Backend>> open_backend(const BackendSettings& settings, const BackendRun& run,
                                                Diagnostics& diag) {
  switch (settings.kind) {
    case BackendKind::api4ai: return detail::open_api4ai_backend(settings, run, diag);
    case BackendKind::local: return detail::open_local_backend(settings, diag);
  }
  return fail(ErrorKind::internal, "unknown backend");
}

std::unique_ptr<Backend> wrap_backend(std::unique_ptr<FaceAnalyzer> analyzer, Provenance provenance) {
  return std::make_unique<WrappedBackend>(std::move(analyzer), std::move(provenance));
}

std::size_t max_image_bytes(BackendKind kind) noexcept {
  return kind == BackendKind::local ? k_max_local_image_bytes : k_max_image_bytes;
}

Expected<void> check_source(BackendKind kind, const ImageSource& source, const std::string& label) {
  if (kind == BackendKind::local && source.kind == SourceKind::url) {
    return fail(ErrorKind::usage, label +
                                      ": the local backend does not download URLs (it never uses the network); "
                                      "download the image and pass the file, or use --backend api4ai");
  }
  return {};
}

std::string model_set_id(const Provenance& p) {
  if (p.models.empty()) return {};
  std::string lines;
  for (const auto& [role, sha] : p.models) lines += sha + "\n";
  return sha256_hex(lines);
}

Provenance pinned_local_provenance() {
  Provenance p;
  p.backend = BackendKind::local;
  for (const auto& spec : local::model_specs()) p.models.emplace_back(std::string(spec.role), std::string(spec.sha256));
  p.pipeline = local::k_pipeline_version;
  return p;
}

Provenance produced_by(const Provenance& backend, const Analysis& analysis) {
  if (analysis.model_set.empty() || backend.backend != BackendKind::api4ai) return backend;
  Provenance p = pinned_local_provenance();
  // A server with other models: its embeddings are comparable only with each
  // other, which the one pseudo-model says (comparable() compares models).
  if (analysis.model_set != model_set_id(p)) p.models = {{"model-set", analysis.model_set}};
  p.server = backend.endpoint;
  p.pipeline = 0;  // the server's own, which its replies do not name
  return p;
}

std::string cache_identity(const Provenance& p) {
  std::string id = "faceverify-analysis 1\nbackend " + std::string(backend_name(p.backend)) + "\n";
  if (p.backend == BackendKind::local) {
    for (const auto& [role, sha] : p.models) id += "model " + role + " " + sha + "\n";
    // Pre-processing may change between releases, and within one (the pipeline version).
    id += "pipeline " + std::to_string(p.pipeline) + " " + k_version + "\n";
  } else {
    id += "api " + p.api + "\nendpoint " + p.endpoint + "?embeddings=true\n";
  }
  return id;
}

}  // namespace faceverify
