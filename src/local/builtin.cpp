// SPDX-License-Identifier: MIT
// local::make_analyzer when the pipeline is linked into the binary
// (FACEVERIFY_LOCAL_AS_MODULE=OFF, as in the sanitizer builds).
#include "faceverify/local_backend.hpp"
#include "pipeline.hpp"

namespace faceverify::local {

bool compiled_in() noexcept {
  return true;
}

Expected<void> available() {
  return {};
}

Expected<std::unique_ptr<FaceAnalyzer>> make_analyzer(ModelSet models, PipelineOptions options) {
  return make_pipeline_analyzer(std::move(models), options);
}

}  // namespace faceverify::local
