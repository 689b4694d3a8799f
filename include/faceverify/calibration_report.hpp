// SPDX-License-Identifier: MIT
#pragma once
// The calibration report: one self-contained HTML file (inline SVG and CSS,
// no script, no network) with the ROC curve, the genuine and impostor score
// histograms with the threshold line, the FAR/FRR curves against the
// threshold, the summary table and the worst-scoring pairs.

#include <optional>
#include <string>
#include <vector>

#include "faceverify/calibration.hpp"
#include "faceverify/similarity.hpp"

namespace faceverify {

struct ScoredPair {
  std::string image1;
  std::string image2;
  bool genuine = false;
  double similarity = 0.0;
  double distance = 0.0;
};

struct ReportInput {
  std::string title;                               // e.g. "faceverify calibration: faces/labels.csv"
  std::string backend;                             // e.g. "local" or "api4ai (demo)"
  std::string generated_at;                        // ISO 8601
  double threshold = k_default_threshold;          // the chosen similarity threshold (drawn as a line)
  std::string threshold_reason;                    // e.g. "best accuracy" or "FAR <= 0.1%"
  double half_distance = k_default_half_distance;  // to show thresholds as distances
  Calibration calibration;
  std::optional<double> current_threshold;  // the threshold runs use now (-t, environment, config or default)
  std::string current_threshold_source;     // "option", "env", "config" or "default"
  std::vector<ScoredPair> worst_genuine;    // lowest-scoring genuine pairs (up to 10)
  std::vector<ScoredPair> worst_impostors;  // highest-scoring impostor pairs (up to 10)
};

/// The whole HTML document. All text is HTML-escaped; renders without
/// JavaScript; opens offline.
std::string render_calibration_report(const ReportInput& input);

}  // namespace faceverify
