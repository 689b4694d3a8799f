// SPDX-License-Identifier: MIT
#pragma once
// Shared by the offline-backend tests: the analyzer over the installed
// models. When they are missing the test is skipped with the reason, unless
// FACEVERIFY_REQUIRE_MODELS is set (CI), where it fails instead.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <memory>

#include "faceverify/local_backend.hpp"

namespace faceverify::test {

inline std::unique_ptr<FaceAnalyzer> local_analyzer_or_skip() {
  auto dir = local::find_models(std::nullopt);
  if (!dir) {
    if (std::getenv("FACEVERIFY_REQUIRE_MODELS")) FAIL(dir.error().message);
    WARN("SKIPPED: " << dir.error().message);
    return nullptr;
  }
  auto analyzer = local::make_analyzer(std::move(*dir));
  REQUIRE(analyzer);
  return std::move(*analyzer);
}

}  // namespace faceverify::test
