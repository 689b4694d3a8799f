// SPDX-License-Identifier: MIT
// Built instead of the OpenCV pipeline when FACEVERIFY_WITH_LOCAL is OFF.
#include "faceverify/local_backend.hpp"

namespace faceverify::local {

bool compiled_in() noexcept {
  return false;
}

Expected<void> available() {
  return std::unexpected(make_analyzer({}).error());
}

Expected<std::unique_ptr<FaceAnalyzer>> make_analyzer(ModelSet, PipelineOptions) {
  return fail(
      ErrorKind::usage,
      "this faceverify was built without the local backend (rebuild with OpenCV and -DFACEVERIFY_WITH_LOCAL=ON)");
}

}  // namespace faceverify::local
