// SPDX-License-Identifier: MIT
// The local backend: the offline pipeline (local_backend.hpp), its models
// read and checked on first use, so a batch answered from the cache never
// loads them.
#include "faceverify/backend.hpp"
#include "faceverify/local_backend.hpp"

namespace faceverify {
namespace {

class LocalBackend final : public Backend {
 public:
  LocalBackend(const BackendSettings& settings, Diagnostics& diag)
      : m_models_dir(settings.models), m_verbose(settings.verbose), m_diag(diag) {
    m_provenance.backend = BackendKind::local;
    for (const auto& spec : local::model_specs()) {
      m_provenance.models.emplace_back(std::string(spec.role), std::string(spec.sha256));
    }
  }

  const Provenance& provenance() const noexcept override { return m_provenance; }

  Expected<FaceAnalyzer*> analyzer() override {
    if (m_analyzer) return m_analyzer.get();
    auto models = local::find_models(m_models_dir);
    if (!models) return std::unexpected(models.error());
    if (m_verbose) m_diag.line("local backend: models in " + models->dir);
    auto analyzer = local::make_analyzer(std::move(*models));
    if (!analyzer) return std::unexpected(analyzer.error());
    m_analyzer = std::move(*analyzer);
    return m_analyzer.get();
  }

 private:
  std::optional<std::string> m_models_dir;
  bool m_verbose;
  Diagnostics& m_diag;
  Provenance m_provenance;
  std::unique_ptr<FaceAnalyzer> m_analyzer;
};

}  // namespace

namespace detail {

Expected<std::unique_ptr<Backend>> open_local_backend(const BackendSettings& settings, Diagnostics& diag) {
  // A build without the offline backend says so, and how to get it.
  if (!local::compiled_in()) return std::unexpected(local::make_analyzer({}).error());
  return std::make_unique<LocalBackend>(settings, diag);
}

}  // namespace detail
}  // namespace faceverify
