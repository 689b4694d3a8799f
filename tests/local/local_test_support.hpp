// SPDX-License-Identifier: MIT
#pragma once
// Shared by the offline-backend tests: the analyzer over the installed
// models. When they are missing the test is skipped with the reason, unless
// FACEVERIFY_REQUIRE_MODELS is set (CI), where it fails instead.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "faceverify/local_backend.hpp"
#include "faceverify/similarity.hpp"
#include "process.hpp"

namespace faceverify::test {

/// The installed models; nullopt (the caller returns: test skipped, with the
/// reason) when they are missing, a failure instead under FACEVERIFY_REQUIRE_MODELS.
inline std::optional<local::ModelSet> models_or_skip() {
  auto models = local::find_models(std::nullopt);
  if (!models) {
    if (std::getenv("FACEVERIFY_REQUIRE_MODELS")) FAIL(models.error().message);
    WARN("SKIPPED: " << models.error().message);
    return std::nullopt;
  }
  return std::move(*models);
}

inline std::unique_ptr<FaceAnalyzer> local_analyzer_or_skip() {
  auto models = models_or_skip();
  if (!models) return nullptr;
  auto analyzer = local::make_analyzer(std::move(*models));
  REQUIRE(analyzer);
  return std::move(*analyzer);
}

/// The stored embedding of samples/astronaut.jpg by the pinned models
/// (tests/data/local/astronaut.embedding.json; how it was made and the noise
/// measured: tests/data/local/README.md).
inline std::vector<double> astronaut_reference_embedding() {
  return nlohmann::json::parse(
             read_file(std::string(FACEVERIFY_SOURCE_DIR) + "/tests/data/local/astronaut.embedding.json"))
      .get<std::vector<double>>();
}

/// L2 distance of two embeddings of one length.
inline double l2(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  REQUIRE_FALSE(a.empty());
  return l2_distance(a, b);
}

}  // namespace faceverify::test
