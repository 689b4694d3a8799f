// SPDX-License-Identifier: MIT
// The offline backend's module (libfaceverify_local.so): one exported entry
// point, looked up by local/loader.cpp. Its name carries the version, so a
// module from another release is refused rather than called.
#include "faceverify/local_backend.hpp"
#include "faceverify/version.hpp"
#include "pipeline.hpp"

/// Builds the analyzer from `models` (moved from) and `options`. Returns it,
/// owned by the caller, or null with `*error` set. (v2: PipelineOptions added.)
extern "C" __attribute__((visibility("default"))) faceverify::FaceAnalyzer* faceverify_local_entry_v2(
    faceverify::local::ModelSet* models, const faceverify::local::PipelineOptions* options, faceverify::Error* error,
    const char* version) {
  if (std::string_view(version) != faceverify::k_version) {
    *error = faceverify::Error{faceverify::ErrorKind::usage,
                               std::string("the local backend's module is from faceverify ") + faceverify::k_version +
                                   ", not " + version + "; reinstall faceverify",
                               {},
                               false,
                               {}};
    return nullptr;
  }
  auto analyzer = faceverify::local::make_pipeline_analyzer(std::move(*models), *options);
  if (!analyzer) {
    *error = analyzer.error();
    return nullptr;
  }
  return analyzer->release();
}
