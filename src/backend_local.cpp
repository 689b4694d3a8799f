// SPDX-License-Identifier: MIT
// The local backend: the offline pipeline (local_backend.hpp), its models
// read and checked on first use, so a batch answered from the cache never
// loads them.
#include "faceverify/backend.hpp"
#include "faceverify/local_backend.hpp"

namespace faceverify {
namespace {

// The pipeline's output passes the checks every other source of faces does
// (normalize_face): a degenerate embedding is refused, never scored.
class CheckedAnalyzer final : public FaceAnalyzer {
 public:
  explicit CheckedAnalyzer(std::unique_ptr<FaceAnalyzer> inner) : m_inner(std::move(inner)) {}

  Expected<Analysis> analyze(const Image& image) override {
    auto analysis = m_inner->analyze(image);
    if (!analysis) return analysis;
    if (auto problem = face_count_problem(analysis->faces.size())) {
      return fail(ErrorKind::internal, image.label + ": the local backend's analysis " + *problem);
    }
    for (std::size_t i = 0; i < analysis->faces.size(); ++i) {
      if (auto problem = normalize_face(analysis->faces[i])) {
        return fail(ErrorKind::internal, image.label + ": the local backend's face " + std::to_string(i + 1) + ": " +
                                             *problem + " (please report this)");
      }
    }
    return analysis;
  }

 private:
  std::unique_ptr<FaceAnalyzer> m_inner;
};

class LocalBackend final : public Backend {
 public:
  LocalBackend(const BackendSettings& settings, Diagnostics& diag)
      : m_models_dir(settings.models),
        m_verbose(settings.verbose),
        m_workers(settings.workers),
        m_diag(diag),
        m_decode(settings.decode),
        m_provenance(pinned_local_provenance()) {
    m_provenance.pipeline = local::pipeline_version(m_decode);  // cache keys and embedding files say which
  }

  const Provenance& provenance() const noexcept override { return m_provenance; }

  Expected<FaceAnalyzer*> analyzer() override {
    if (m_analyzer) return m_analyzer.get();
    if (auto ok = local::available(); !ok) return std::unexpected(ok.error());
    auto models = local::find_models(m_models_dir);
    if (!models) return std::unexpected(models.error());
    if (m_verbose) m_diag.line("local backend: models in " + models->dir);
    auto analyzer = local::make_analyzer(std::move(*models), local::PipelineOptions{m_decode, m_workers});
    if (!analyzer) return std::unexpected(analyzer.error());
    m_analyzer = std::make_unique<CheckedAnalyzer>(std::move(*analyzer));
    return m_analyzer.get();
  }

 private:
  std::optional<std::string> m_models_dir;
  bool m_verbose;
  std::size_t m_workers;
  Diagnostics& m_diag;
  local::DecodeMode m_decode;
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
