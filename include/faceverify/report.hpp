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

/// A similarity as every text output shows it: as the API4AI reference script
/// prints it (f'{similarity*100:.1f}%', correctly rounded: "99.2%"), unless
/// that number, read against the threshold as format_threshold() shows it,
/// would suggest the opposite verdict (0.79996 at 0.8 would read "80.0%"):
/// then with more decimals until it does not ("79.996%"), at most 6, past
/// which the digits are cut rather than rounded. The verdict is
/// meets_threshold(); the shown threshold is taken to 8 decimals of a
/// similarity.
std::string format_percent(double similarity, double threshold);

/// A threshold as text outputs show it: format_percent(threshold, threshold),
/// the reference's rounding unless it would fall below the threshold, then
/// the decimals it needs ("80.0%", "78.8%", 0.7513 -> "75.13%"). A similarity
/// shown with format_percent never reads on the wrong side of it.
std::string format_threshold(double threshold);

/// An uncertain band in absolute percentage points, with the decimals it
/// needs like a threshold: 0.1 -> "10.0 points", 0.0125 -> "1.25 points".
std::string format_points(double band);

}  // namespace faceverify
