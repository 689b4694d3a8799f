// SPDX-License-Identifier: MIT
#pragma once
// Calibration metrics over labelled similarity scores: ROC, AUC, EER,
// TAR at fixed FARs and the best-accuracy cut. Pure functions, no I/O.
//
// Conventions (docs/calibration.md):
//   - a pair is accepted ("same") when its similarity s >= t;
//   - FAR(t) = impostor pairs accepted / impostor pairs;
//     TAR(t) = genuine pairs accepted / genuine pairs; FRR = 1 - TAR;
//   - operating points are the distinct scores u_0 > u_1 > ... (accept
//     s >= u_k), plus "reject all". A point's reported threshold is the
//     midpoint between u_k and the next lower distinct score (u_k itself when
//     it is the lowest), so the counts are the same and the cut sits between
//     observed scores; "reject all" is the midpoint of the highest score and
//     1.0 (1.0 when the highest score is 1.0: nothing can be rejected then,
//     and its FAR says so);
//   - AUC = P(genuine score > impostor score) + 0.5 P(equal) (Mann-Whitney);
//   - EER: where FAR and FRR cross, linearly interpolated between the two
//     operating points that bracket the crossing; its threshold likewise;
//   - TAR at FAR f: the operating point with the highest TAR among those with
//     FAR <= f (the lowest threshold that keeps FAR within f);
//   - best accuracy: the operating point maximising (genuine accepted +
//     impostors rejected) / all pairs; ties go to the higher threshold.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace faceverify {

struct LabelledScore {
  double similarity = 0.0;  // in [0, 1]
  bool genuine = false;     // true: same person; false: impostor pair
};

/// One operating point.
struct OperatingPoint {
  double threshold = 0.0;  // similarity threshold (accept s >= threshold)
  double far = 0.0;        // false accept rate
  double tar = 0.0;        // true accept rate (1 - FRR)
  std::size_t false_accepts = 0;
  std::size_t true_accepts = 0;
  double accuracy = 0.0;
};

/// Summary of one score distribution.
struct Distribution {
  std::size_t count = 0;
  double min = 0.0, q25 = 0.0, median = 0.0, q75 = 0.0, max = 0.0, mean = 0.0;  // all 0 when count == 0
  std::vector<std::size_t> histogram;  // 20 bins over [0, 1]; the last bin includes 1.0
};

struct FarTarget {
  double far = 0.0;                     // the target, e.g. 0.01
  std::optional<OperatingPoint> point;  // nullopt when no impostor pairs
  std::size_t impostors = 0;            // how many impostor pairs the FAR rests on
  bool meaningful = false;              // impostors >= 10 / far (at least ~10 false accepts allowed)
  std::string note;                     // empty when meaningful, else why not, e.g.
                                        // "only 1026 impostor pairs: FAR 0.01% needs at least 100000"
};

struct Calibration {
  std::size_t genuine = 0;
  std::size_t impostors = 0;
  Distribution genuine_scores;
  Distribution impostor_scores;
  std::optional<double> auc;  // nullopt when either class is empty
  std::optional<double> eer;  // nullopt when either class is empty
  std::optional<double> eer_threshold;
  std::vector<OperatingPoint> roc;              // "reject all" first, then each distinct score, descending thresholds
  std::vector<FarTarget> far_targets;           // for 1%, 0.1%, 0.01% (and --target-far when given), in that order
  std::optional<OperatingPoint> best_accuracy;  // nullopt when there are no scores
};

/// Whether two FAR targets are one: equal within 1e-9 relative, so that
/// 0.001 and 1.0 / 1000 or 0.1 / 100 name the same target.
bool same_far_target(double a, double b) noexcept;

/// Computes everything. `extra_far` (from --target-far) is appended to the
/// FAR targets unless it is one of the standard three (same_far_target).
/// Scores outside [0, 1] are clamped. Never throws on empty or one-class
/// input.
Calibration calibrate_scores(const std::vector<LabelledScore>& scores, std::optional<double> extra_far = {});

/// The operating point for FAR <= far (as in Calibration::far_targets).
std::optional<OperatingPoint> point_for_far(const std::vector<LabelledScore>& scores, double far);

}  // namespace faceverify
