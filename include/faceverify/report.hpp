// SPDX-License-Identifier: MIT
#pragma once
// Renders a verification as text or JSON. Renderers return strings; the
// caller writes them. JSON format: docs/json-output.md.

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "faceverify/compare.hpp"
#include "faceverify/face.hpp"
#include "faceverify/image.hpp"

namespace faceverify {

struct ImageResult {
  const Image* image = nullptr;
  const Analysis* analysis = nullptr;
  long long elapsed_ms = 0;  // wall time of this image's analysis, retries included
};

struct Verification {
  std::array<ImageResult, 2> images;
  Comparison comparison;
  ScoreOptions score;
  std::string threshold_source;  // "option" or "default"
  FacePolicy policy = FacePolicy::largest;
  Provenance provenance;
  long long total_ms = 0;
  std::optional<double> uncertain_band;  // --uncertain-band

  Decision decision() const noexcept { return decide(comparison.similarity, score, uncertain_band); }
};

/// "Similarity is 99.2%.\nIt's the same person.\n" or
/// "...\nThere are different people on the images.\n" or, within the
/// uncertain band, "...\nIt's uncertain whether it's the same person (...).\n"
std::string render_text(const Verification& v);

/// One JSON object and a newline (schema_version 1).
std::string render_json(const Verification& v);

/// The similarity as the text report shows it: "99.2%".
std::string format_percent(double similarity);

}  // namespace faceverify
