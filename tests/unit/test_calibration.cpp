// SPDX-License-Identifier: MIT
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "faceverify/calibration.hpp"

using namespace faceverify;

namespace {

std::vector<LabelledScore> labelled(const std::vector<double>& genuine, const std::vector<double>& impostor) {
  std::vector<LabelledScore> out;
  for (double s : genuine) out.push_back({s, true});
  for (double s : impostor) out.push_back({s, false});
  return out;
}

void check_point(const OperatingPoint& p, double threshold, std::size_t ta, std::size_t fa, double tar, double far,
                 double accuracy) {
  CHECK(p.threshold == Approx(threshold));
  CHECK(p.true_accepts == ta);
  CHECK(p.false_accepts == fa);
  CHECK(p.tar == Approx(tar));
  CHECK(p.far == Approx(far));
  CHECK(p.accuracy == Approx(accuracy));
}

struct Counts {
  std::size_t ta = 0, fa = 0;
};

// Brute force: pairs accepted at s >= t (scores already clamped, NaN-free).
Counts count_at(const std::vector<LabelledScore>& scores, double t) {
  Counts c;
  for (const auto& s : scores)
    if (s.similarity >= t) (s.genuine ? c.ta : c.fa) += 1;
  return c;
}

}  // namespace

TEST_CASE("calibration: separable set", "[calibration]") {
  // genuine {0.9, 0.8}, impostor {0.3, 0.1}; G = 2, I = 2, 4 pairs.
  const Calibration c = calibrate_scores(labelled({0.9, 0.8}, {0.3, 0.1}));
  CHECK(c.genuine == 2);
  CHECK(c.impostors == 2);
  // Every genuine beats every impostor: 4/4 pairs.
  REQUIRE(c.auc);
  CHECK(*c.auc == 1.0);

  // Distinct scores 0.9 > 0.8 > 0.3 > 0.1 -> 4 points + reject all.
  REQUIRE(c.roc.size() == 5);
  // reject all: (0.9 + 1.0) / 2 = 0.95; nothing accepted; accuracy 2 impostors right / 4 = 0.5.
  check_point(c.roc[0], 0.95, 0, 0, 0.0, 0.0, 0.5);
  // accept >= 0.9: cut (0.9 + 0.8) / 2 = 0.85; TA 1 (TAR 1/2), FA 0; accuracy (1 + 2) / 4 = 0.75.
  check_point(c.roc[1], 0.85, 1, 0, 0.5, 0.0, 0.75);
  // accept >= 0.8: cut (0.8 + 0.3) / 2 = 0.55; TA 2, FA 0; accuracy 4/4.
  check_point(c.roc[2], 0.55, 2, 0, 1.0, 0.0, 1.0);
  // accept >= 0.3: cut (0.3 + 0.1) / 2 = 0.2; TA 2, FA 1 (FAR 1/2); accuracy (2 + 1) / 4 = 0.75.
  check_point(c.roc[3], 0.2, 2, 1, 1.0, 0.5, 0.75);
  // accept >= 0.1: the lowest score itself; everything accepted; accuracy 2/4.
  check_point(c.roc[4], 0.1, 2, 2, 1.0, 1.0, 0.5);

  // FAR - FRR: -1, -1/2, 0 at the 0.55 point -> EER exactly 0 there.
  REQUIRE(c.eer);
  CHECK(*c.eer == Approx(0.0).margin(1e-12));
  REQUIRE(c.eer_threshold);
  CHECK(*c.eer_threshold == Approx(0.55));

  // Best accuracy: 1.0 at the 0.55 cut (the only point with 4/4 correct).
  REQUIRE(c.best_accuracy);
  CHECK(c.best_accuracy->accuracy == 1.0);
  CHECK(c.best_accuracy->threshold == Approx(0.55));

  // FAR <= 1% (and 0.1%, 0.01%) allows 0 false accepts: highest TAR with FA 0 is
  // TAR 1 at 0.55 (the highest such threshold).
  REQUIRE(c.far_targets.size() == 3);
  for (const FarTarget& t : c.far_targets) {
    REQUIRE(t.point);
    CHECK(t.point->threshold == Approx(0.55));
    CHECK(t.point->tar == 1.0);
    CHECK(t.point->far == 0.0);
    CHECK(t.impostors == 2);
    CHECK_FALSE(t.meaningful);
  }
  // 10 / 0.01 = 1000 impostor pairs needed.
  CHECK(c.far_targets[0].note == "only 2 impostor pairs: FAR 1% needs at least 1000");

  // genuine {0.8, 0.9}: q25 = 0.8 + 0.25 * 0.1 = 0.825, median 0.85, q75 0.875, mean 0.85.
  CHECK(c.genuine_scores.count == 2);
  CHECK(c.genuine_scores.min == 0.8);
  CHECK(c.genuine_scores.q25 == Approx(0.825));
  CHECK(c.genuine_scores.median == Approx(0.85));
  CHECK(c.genuine_scores.q75 == Approx(0.875));
  CHECK(c.genuine_scores.max == 0.9);
  CHECK(c.genuine_scores.mean == Approx(0.85));
  // impostor {0.1, 0.3}: median 0.2, mean 0.2.
  CHECK(c.impostor_scores.median == Approx(0.2));
  CHECK(c.impostor_scores.mean == Approx(0.2));
  // 0.8 * 20 = 16, 0.9 * 20 = 18.
  REQUIRE(c.genuine_scores.histogram.size() == 20);
  CHECK(c.genuine_scores.histogram[16] == 1);
  CHECK(c.genuine_scores.histogram[18] == 1);
}

TEST_CASE("calibration: overlapping set", "[calibration]") {
  // genuine {0.9, 0.6, 0.4}, impostor {0.7, 0.3, 0.2, 0.1}; G = 3, I = 4, 7 pairs.
  const auto scores = labelled({0.9, 0.6, 0.4}, {0.7, 0.3, 0.2, 0.1});
  const Calibration c = calibrate_scores(scores);

  // Pairs genuine > impostor: 0.9 beats 4, 0.6 beats 3 (0.3, 0.2, 0.1), 0.4 beats 3 -> 10 of 12.
  REQUIRE(c.auc);
  CHECK(*c.auc == Approx(10.0 / 12.0));

  // Descending: 0.9g 0.7i 0.6g 0.4g 0.3i 0.2i 0.1i.
  REQUIRE(c.roc.size() == 8);
  check_point(c.roc[0], 0.95, 0, 0, 0.0, 0.0, 4.0 / 7.0);       // reject all: 4 impostors right
  check_point(c.roc[1], 0.8, 1, 0, 1.0 / 3, 0.0, 5.0 / 7.0);    // >= 0.9, cut (0.9+0.7)/2
  check_point(c.roc[2], 0.65, 1, 1, 1.0 / 3, 0.25, 4.0 / 7.0);  // >= 0.7, cut (0.7+0.6)/2
  check_point(c.roc[3], 0.5, 2, 1, 2.0 / 3, 0.25, 5.0 / 7.0);   // >= 0.6, cut (0.6+0.4)/2
  check_point(c.roc[4], 0.35, 3, 1, 1.0, 0.25, 6.0 / 7.0);      // >= 0.4, cut (0.4+0.3)/2
  check_point(c.roc[5], 0.25, 3, 2, 1.0, 0.5, 5.0 / 7.0);       // >= 0.3
  check_point(c.roc[6], 0.15, 3, 3, 1.0, 0.75, 4.0 / 7.0);      // >= 0.2
  check_point(c.roc[7], 0.1, 3, 4, 1.0, 1.0, 3.0 / 7.0);        // >= 0.1 (lowest)

  // FAR - FRR along the ROC: -1, -2/3, 1/4-2/3 = -5/12, 1/4-1/3 = -1/12 (cut 0.5), 1/4 - 0 = 1/4 (cut 0.35).
  // Crossing between the 0.5 and 0.35 points: alpha = (1/12) / (1/4 + 1/12) = 1/4.
  // FAR there = 1/4 + 1/4 * 0 = 1/4; FRR = 1/3 + 1/4 * (0 - 1/3) = 1/4 -> EER 0.25.
  // Threshold = 0.5 + 1/4 * (0.35 - 0.5) = 0.4625.
  REQUIRE(c.eer);
  CHECK(*c.eer == Approx(0.25));
  REQUIRE(c.eer_threshold);
  CHECK(*c.eer_threshold == Approx(0.4625));

  // Best accuracy: 6/7 at the 0.35 cut (unique maximum).
  REQUIRE(c.best_accuracy);
  CHECK(c.best_accuracy->accuracy == Approx(6.0 / 7.0));
  CHECK(c.best_accuracy->threshold == Approx(0.35));

  // FAR <= 1%, 0.1%, 0.01% with 4 impostors: FA must be 0. FA 0 points: reject all (TA 0)
  // and the 0.8 cut (TA 1) -> 0.8 cut, TAR 1/3.
  REQUIRE(c.far_targets.size() == 3);
  for (const FarTarget& t : c.far_targets) {
    REQUIRE(t.point);
    CHECK(t.point->threshold == Approx(0.8));
    CHECK(t.point->tar == Approx(1.0 / 3));
  }
  // FAR <= 25%: FA <= 1; TA max 3 at the 0.35 cut.
  auto p = point_for_far(scores, 0.25);
  REQUIRE(p);
  CHECK(p->threshold == Approx(0.35));
  CHECK(p->tar == 1.0);
  // FAR <= 50%: FA <= 2 allows the 0.25 cut too, but TAR is already 1 at 0.35 with FAR 1/4:
  // ties in TAR go to the higher threshold (fewer false accepts).
  p = point_for_far(scores, 0.5);
  REQUIRE(p);
  CHECK(p->threshold == Approx(0.35));
  CHECK(p->far == 0.25);
  // FAR <= 20%: FA 0 -> the 0.8 cut.
  p = point_for_far(scores, 0.2);
  REQUIRE(p);
  CHECK(p->threshold == Approx(0.8));
}

TEST_CASE("calibration: best accuracy ties go to the higher threshold", "[calibration]") {
  // genuine {0.9, 0.5}, impostor {0.7}; 3 pairs.
  // reject all (0.95): 1 right = 1/3; >= 0.9 (cut 0.8): TA 1 + 1 impostor right = 2/3;
  // >= 0.7 (cut 0.6): TA 1, FA 1 -> 1/3; >= 0.5 (0.5): TA 2, FA 1 -> 2/3.
  // Tie at 2/3 between the 0.8 and 0.5 cuts -> 0.8.
  const Calibration c = calibrate_scores(labelled({0.9, 0.5}, {0.7}));
  REQUIRE(c.best_accuracy);
  CHECK(c.best_accuracy->accuracy == Approx(2.0 / 3));
  CHECK(c.best_accuracy->threshold == Approx(0.8));
}

TEST_CASE("calibration: ties between genuine and impostor scores", "[calibration]") {
  SECTION("one genuine, one impostor, same score") {
    // One pair, tied: AUC 0.5.
    const Calibration c = calibrate_scores(labelled({0.5}, {0.5}));
    REQUIRE(c.auc);
    CHECK(*c.auc == 0.5);
    // reject all at (0.5 + 1) / 2 = 0.75; then >= 0.5 accepts both.
    REQUIRE(c.roc.size() == 2);
    check_point(c.roc[0], 0.75, 0, 0, 0.0, 0.0, 0.5);
    check_point(c.roc[1], 0.5, 1, 1, 1.0, 1.0, 0.5);
    // FAR - FRR: -1 then +1: alpha 1/2 -> EER 0.5 at 0.75 + (0.5 - 0.75) / 2 = 0.625.
    CHECK(*c.eer == Approx(0.5));
    CHECK(*c.eer_threshold == Approx(0.625));
    // Both points 1/2 correct: the higher threshold (reject all, 0.75) wins.
    CHECK(c.best_accuracy->threshold == Approx(0.75));
  }
  SECTION("ties count one half") {
    // genuine {0.8, 0.5}, impostor {0.5, 0.2}: 0.8 > 0.5, 0.8 > 0.2, 0.5 = 0.5 (1/2), 0.5 > 0.2 -> 3.5 / 4.
    const Calibration c = calibrate_scores(labelled({0.8, 0.5}, {0.5, 0.2}));
    CHECK(*c.auc == Approx(0.875));
    // Distinct 0.8, 0.5, 0.2: 3 points + reject all; the 0.5 group enters at once.
    REQUIRE(c.roc.size() == 4);
    check_point(c.roc[2], 0.35, 2, 1, 1.0, 0.5, 0.75);  // >= 0.5: cut (0.5 + 0.2) / 2
  }
  SECTION("all scores equal") {
    // genuine {0.5, 0.5}, impostor {0.5}: 2 tied pairs -> AUC 1/2.
    const Calibration c = calibrate_scores(labelled({0.5, 0.5}, {0.5}));
    CHECK(*c.auc == 0.5);
    REQUIRE(c.roc.size() == 2);
    // FA*G - FN*I: reject all 0 - 2*1 = -2; >= 0.5: 1*2 - 0 = 2; alpha 1/2:
    // EER = 1/2 * FAR 1 = 0.5, threshold 0.75 + 1/2 (0.5 - 0.75) = 0.625.
    CHECK(*c.eer == Approx(0.5));
    CHECK(*c.eer_threshold == Approx(0.625));
    // reject all: 1/3 right; accept all: 2/3 right.
    CHECK(c.best_accuracy->threshold == 0.5);
    CHECK(c.best_accuracy->accuracy == Approx(2.0 / 3));
    CHECK(c.genuine_scores.mean == 0.5);
    CHECK(c.genuine_scores.q25 == 0.5);
    CHECK(c.genuine_scores.q75 == 0.5);
  }
}

TEST_CASE("calibration: one class only", "[calibration]") {
  SECTION("only genuine pairs") {
    // genuine {0.7, 0.4}.
    const Calibration c = calibrate_scores(labelled({0.7, 0.4}, {}));
    CHECK(c.genuine == 2);
    CHECK(c.impostors == 0);
    CHECK_FALSE(c.auc);
    CHECK_FALSE(c.eer);
    CHECK_FALSE(c.eer_threshold);
    REQUIRE(c.roc.size() == 3);
    check_point(c.roc[0], 0.85, 0, 0, 0.0, 0.0, 0.0);  // (0.7 + 1) / 2; FAR 0 without impostors
    check_point(c.roc[1], 0.55, 1, 0, 0.5, 0.0, 0.5);  // (0.7 + 0.4) / 2
    check_point(c.roc[2], 0.4, 2, 0, 1.0, 0.0, 1.0);
    // Best accuracy: accept everything, 2/2, at the lowest score.
    REQUIRE(c.best_accuracy);
    CHECK(c.best_accuracy->threshold == 0.4);
    CHECK(c.best_accuracy->accuracy == 1.0);
    CHECK(c.genuine_scores.count == 2);
    CHECK(c.genuine_scores.median == Approx(0.55));
    CHECK(c.impostor_scores.count == 0);
    CHECK(c.impostor_scores.mean == 0.0);
    CHECK(c.impostor_scores.max == 0.0);
    CHECK(c.impostor_scores.histogram == std::vector<std::size_t>(20, 0));
    REQUIRE(c.far_targets.size() == 3);
    for (const FarTarget& t : c.far_targets) {
      CHECK_FALSE(t.point);
      CHECK(t.impostors == 0);
      CHECK_FALSE(t.meaningful);
      CHECK(t.note == "no impostor pairs");
    }
  }
  SECTION("only impostor pairs") {
    // impostor {0.6, 0.2}.
    const Calibration c = calibrate_scores(labelled({}, {0.6, 0.2}));
    CHECK_FALSE(c.auc);
    CHECK_FALSE(c.eer);
    REQUIRE(c.roc.size() == 3);
    check_point(c.roc[0], 0.8, 0, 0, 0.0, 0.0, 1.0);  // (0.6 + 1) / 2; TAR 0 without genuine
    check_point(c.roc[1], 0.4, 0, 1, 0.0, 0.5, 0.5);
    check_point(c.roc[2], 0.2, 0, 2, 0.0, 1.0, 0.0);
    // Best accuracy: reject all, 2/2.
    REQUIRE(c.best_accuracy);
    CHECK(c.best_accuracy->threshold == Approx(0.8));
    CHECK(c.best_accuracy->accuracy == 1.0);
    CHECK(c.genuine_scores.count == 0);
    // FAR targets: FA 0 only at reject all (TAR is 0 everywhere).
    for (const FarTarget& t : c.far_targets) {
      REQUIRE(t.point);
      CHECK(t.point->threshold == Approx(0.8));
      CHECK(t.impostors == 2);
    }
    CHECK(c.far_targets[1].note == "only 2 impostor pairs: FAR 0.1% needs at least 10000");
  }
}

TEST_CASE("calibration: empty input", "[calibration]") {
  const Calibration c = calibrate_scores({});
  CHECK(c.genuine == 0);
  CHECK(c.impostors == 0);
  CHECK_FALSE(c.auc);
  CHECK_FALSE(c.eer);
  CHECK_FALSE(c.eer_threshold);
  CHECK(c.roc.empty());
  CHECK_FALSE(c.best_accuracy);
  CHECK(c.genuine_scores.count == 0);
  CHECK(c.genuine_scores.histogram == std::vector<std::size_t>(20, 0));
  REQUIRE(c.far_targets.size() == 3);
  CHECK(c.far_targets[0].note == "no impostor pairs");
  CHECK_FALSE(c.far_targets[0].point);
  CHECK_FALSE(point_for_far({}, 0.01));
  // Only NaN scores: the same as empty.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Calibration n = calibrate_scores(labelled({nan}, {nan}));
  CHECK(n.genuine == 0);
  CHECK(n.roc.empty());
}

TEST_CASE("calibration: scores at 0 and 1, reject all at 1.0", "[calibration]") {
  SECTION("top score 1.0: reject all is 1.0 and accepts the 1.0 scores") {
    // genuine {1.0, 0.6}, impostor {1.0, 0.3}.
    const Calibration c = calibrate_scores(labelled({1.0, 0.6}, {1.0, 0.3}));
    REQUIRE(c.roc.size() == 4);
    // threshold 1.0 still accepts both 1.0 scores: TA 1, FA 1; accuracy (1 + 1) / 4.
    check_point(c.roc[0], 1.0, 1, 1, 0.5, 0.5, 0.5);
    check_point(c.roc[1], 0.8, 1, 1, 0.5, 0.5, 0.5);  // >= 1.0, cut (1.0 + 0.6) / 2
    check_point(c.roc[2], 0.45, 2, 1, 1.0, 0.5, 0.75);
    check_point(c.roc[3], 0.3, 2, 2, 1.0, 1.0, 0.5);
    // No threshold gets FAR below 1/2: no point for 1%.
    const FarTarget& t = c.far_targets[0];
    CHECK_FALSE(t.point);
    CHECK(t.note ==
          "only 2 impostor pairs: FAR 1% needs at least 1000; no threshold reaches FAR 1%: 1 impostor pair scores 1.0");
    // AUC: 1.0 vs 1.0 tie (1/2), 1.0 > 0.3, 0.6 < 1.0, 0.6 > 0.3 -> 2.5 / 4.
    CHECK(*c.auc == Approx(0.625));
  }
  SECTION("a genuine 1.0 alone on top: EER 0 at threshold 1.0") {
    // genuine {1.0}, impostor {0.5}: reject all (1.0) accepts the genuine only: FAR 0, FRR 0.
    const Calibration c = calibrate_scores(labelled({1.0}, {0.5}));
    check_point(c.roc[0], 1.0, 1, 0, 1.0, 0.0, 1.0);
    CHECK(*c.eer == Approx(0.0).margin(1e-12));
    CHECK(*c.eer_threshold == 1.0);
    CHECK(c.best_accuracy->threshold == 1.0);
    CHECK(*c.auc == 1.0);
  }
  SECTION("every score 1.0") {
    // Reject all = accept all: FAR 1, FRR 0. From the corner (FAR 0, FRR 1): FA*G - FN*I goes
    // -1 -> +1, alpha 1/2, EER = 1/2 * 1 = 0.5 at threshold 1.0.
    const Calibration c = calibrate_scores(labelled({1.0}, {1.0}));
    REQUIRE(c.roc.size() == 2);
    check_point(c.roc[0], 1.0, 1, 1, 1.0, 1.0, 0.5);
    check_point(c.roc[1], 1.0, 1, 1, 1.0, 1.0, 0.5);
    CHECK(*c.eer == Approx(0.5));
    CHECK(*c.eer_threshold == 1.0);
    CHECK(*c.auc == 0.5);
  }
  SECTION("scores exactly 0") {
    // genuine {0.0}, impostor {0.0}: reject all at 0.5, then the 0 group at threshold 0.
    const Calibration c = calibrate_scores(labelled({0.0}, {0.0}));
    REQUIRE(c.roc.size() == 2);
    check_point(c.roc[0], 0.5, 0, 0, 0.0, 0.0, 0.5);
    check_point(c.roc[1], 0.0, 1, 1, 1.0, 1.0, 0.5);
    CHECK(c.genuine_scores.histogram[0] == 1);
  }
  SECTION("out of range is clamped, NaN is ignored") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    // genuine {1.5 -> 1, +inf -> 1, NaN dropped}, impostor {-0.5 -> 0, -inf -> 0, NaN dropped}.
    const Calibration c = calibrate_scores(labelled({1.5, inf, nan}, {-0.5, -inf, nan}));
    CHECK(c.genuine == 2);
    CHECK(c.impostors == 2);
    CHECK(c.genuine_scores.max == 1.0);
    CHECK(c.genuine_scores.histogram[19] == 2);
    CHECK(c.impostor_scores.min == 0.0);
    CHECK(c.impostor_scores.histogram[0] == 2);
    // Two distinct scores (1, 0): reject all at 1.0 accepts both genuine.
    REQUIRE(c.roc.size() == 3);
    check_point(c.roc[0], 1.0, 2, 0, 1.0, 0.0, 1.0);
    check_point(c.roc[1], 0.5, 2, 0, 1.0, 0.0, 1.0);
    CHECK(*c.auc == 1.0);
  }
}

TEST_CASE("calibration: FAR targets, meaningful and notes", "[calibration]") {
  // 1026 impostors at k/2000, k = 0..1025; 100 genuine at (k + 0.5)/2000, k = 926..1025,
  // i.e. each just above one of the top 100 impostors. Descending the order alternates
  // genuine, impostor, genuine, ... so accepting FA impostors takes FA + 1 genuine.
  std::vector<double> genuine, impostor;
  for (int k = 0; k <= 1025; ++k) impostor.push_back(k / 2000.0);
  for (int k = 926; k <= 1025; ++k) genuine.push_back((k + 0.5) / 2000.0);
  const auto scores = labelled(genuine, impostor);

  const Calibration c = calibrate_scores(scores, 0.05);
  CHECK(c.impostors == 1026);
  REQUIRE(c.far_targets.size() == 4);

  // 1%: needs 10 / 0.01 = 1000 <= 1026 -> meaningful. FA <= 0.01 * 1026 = 10.26 -> 10 false
  // accepts (impostors 1025..1016), TA 11 (genuine 1025.5..1015.5); cut between 1015.5 and 1015.
  const FarTarget& f1 = c.far_targets[0];
  CHECK(f1.far == 0.01);
  CHECK(f1.impostors == 1026);
  CHECK(f1.meaningful);
  CHECK(f1.note.empty());
  REQUIRE(f1.point);
  CHECK(f1.point->false_accepts == 10);
  CHECK(f1.point->true_accepts == 11);
  CHECK(f1.point->far == Approx(10.0 / 1026));
  CHECK(f1.point->tar == Approx(0.11));
  CHECK(f1.point->threshold == Approx(1015.25 / 2000));

  // 0.1%: needs 10000 > 1026. FA <= 1.026 -> 1; TA 2; cut between 1024.5 and 1024.
  const FarTarget& f2 = c.far_targets[1];
  CHECK(f2.far == 0.001);
  CHECK_FALSE(f2.meaningful);
  CHECK(f2.note == "only 1026 impostor pairs: FAR 0.1% needs at least 10000");
  REQUIRE(f2.point);
  CHECK(f2.point->false_accepts == 1);
  CHECK(f2.point->true_accepts == 2);
  CHECK(f2.point->threshold == Approx(1024.25 / 2000));

  // 0.01%: needs 100000. FA 0; TA 1; cut between 1025.5 and 1025.
  const FarTarget& f3 = c.far_targets[2];
  CHECK(f3.far == 0.0001);
  CHECK_FALSE(f3.meaningful);
  CHECK(f3.note == "only 1026 impostor pairs: FAR 0.01% needs at least 100000");
  REQUIRE(f3.point);
  CHECK(f3.point->false_accepts == 0);
  CHECK(f3.point->true_accepts == 1);
  CHECK(f3.point->threshold == Approx(1025.25 / 2000));

  // --target-far 0.05, appended: needs 200 -> meaningful. FA <= 51.3 -> 51 (impostors
  // 1025..975), TA 52 (genuine 1025.5..974.5); cut between 974.5 and 974.
  const FarTarget& f4 = c.far_targets[3];
  CHECK(f4.far == 0.05);
  CHECK(f4.meaningful);
  CHECK(f4.note.empty());
  REQUIRE(f4.point);
  CHECK(f4.point->false_accepts == 51);
  CHECK(f4.point->true_accepts == 52);
  CHECK(f4.point->threshold == Approx(974.25 / 2000));

  // point_for_far gives the same points.
  for (const FarTarget& t : c.far_targets) {
    const auto p = point_for_far(scores, t.far);
    REQUIRE(p);
    CHECK(p->threshold == t.point->threshold);
    CHECK(p->true_accepts == t.point->true_accepts);
    CHECK(p->false_accepts == t.point->false_accepts);
  }

  SECTION("an extra target equal to a standard one is not repeated") {
    const Calibration d = calibrate_scores(scores, 0.001);
    REQUIRE(d.far_targets.size() == 3);
    CHECK(d.far_targets[0].far == 0.01);
    CHECK(d.far_targets[1].far == 0.001);
    CHECK(d.far_targets[2].far == 0.0001);
    // 0.1 / 100 is 0.001 up to rounding: still a duplicate.
    CHECK(calibrate_scores(scores, 0.1 / 100).far_targets.size() == 3);
  }
  SECTION("no extra target: three") {
    CHECK(calibrate_scores(scores).far_targets.size() == 3);
  }
  SECTION("an extra target that is not meaningful names its need") {
    // 10 / 0.002 = 5000 > 1026.
    const Calibration d = calibrate_scores(scores, 0.002);
    REQUIRE(d.far_targets.size() == 4);
    CHECK(d.far_targets[3].note == "only 1026 impostor pairs: FAR 0.2% needs at least 5000");
  }
  SECTION("boundary: exactly 10 / far impostors is meaningful") {
    // 1000 impostors, FAR 1%: 1000 >= 1000.
    std::vector<double> imp(1000, 0.2);
    const Calibration d = calibrate_scores(labelled({0.9}, imp));
    CHECK(d.far_targets[0].meaningful);
    CHECK(d.far_targets[0].note.empty());
    // 999: not.
    imp.pop_back();
    const Calibration e = calibrate_scores(labelled({0.9}, imp));
    CHECK_FALSE(e.far_targets[0].meaningful);
    CHECK(e.far_targets[0].note == "only 999 impostor pairs: FAR 1% needs at least 1000");
  }
}

TEST_CASE("calibration: same_far_target is the one rule for a duplicate target", "[calibration]") {
  CHECK(same_far_target(0.001, 0.001));
  CHECK(same_far_target(0.001, 0.1 / 100));
  CHECK(same_far_target(0.0, 0.0));
  // Relative, not absolute: 5e-12 apart is the same 1% but not the same 1e-11.
  CHECK(same_far_target(0.01, 0.01 * (1 + 5e-10)));
  CHECK_FALSE(same_far_target(1e-11, 1.5e-11));
  CHECK_FALSE(same_far_target(0.01, 0.01 * (1 + 1e-8)));
  CHECK_FALSE(same_far_target(0.001, 0.002));
  CHECK_FALSE(same_far_target(0.001, 0.0));
  // What calibrate_scores drops as a duplicate, same_far_target finds among its targets.
  const double near = 0.01 * (1 + 5e-10);
  const Calibration c = calibrate_scores(labelled({0.9}, {0.1, 0.2}), near);
  REQUIRE(c.far_targets.size() == 3);
  CHECK(std::count_if(c.far_targets.begin(), c.far_targets.end(),
                      [&](const FarTarget& t) { return same_far_target(t.far, near); }) == 1);
}

TEST_CASE("calibration: distribution quantiles, mean and histogram", "[calibration]") {
  SECTION("linear interpolation between order statistics (numpy default)") {
    // sorted {0.0, 0.2, 0.6, 1.0}, n = 4, h = 3p:
    // q25: h = 0.75 -> 0 + 0.75 * 0.2 = 0.15; median: h = 1.5 -> 0.2 + 0.5 * 0.4 = 0.4;
    // q75: h = 2.25 -> 0.6 + 0.25 * 0.4 = 0.7; mean 1.8 / 4 = 0.45.
    const Calibration c = calibrate_scores(labelled({0.6, 0.0, 1.0, 0.2}, {}));
    const Distribution& d = c.genuine_scores;
    CHECK(d.count == 4);
    CHECK(d.min == 0.0);
    CHECK(d.q25 == Approx(0.15));
    CHECK(d.median == Approx(0.4));
    CHECK(d.q75 == Approx(0.7));
    CHECK(d.max == 1.0);
    CHECK(d.mean == Approx(0.45));
  }
  SECTION("odd count: quantiles land on order statistics") {
    // sorted {0.1, 0.2, 0.4, 0.8, 1.0}, h = 4p: q25 x[1] = 0.2, median x[2] = 0.4, q75 x[3] = 0.8;
    // mean 2.5 / 5 = 0.5.
    const Calibration c = calibrate_scores(labelled({}, {0.8, 0.1, 1.0, 0.4, 0.2}));
    const Distribution& d = c.impostor_scores;
    CHECK(d.q25 == Approx(0.2));
    CHECK(d.median == Approx(0.4));
    CHECK(d.q75 == Approx(0.8));
    CHECK(d.mean == Approx(0.5));
  }
  SECTION("one score: every statistic is that score") {
    const Distribution d = calibrate_scores(labelled({0.3}, {})).genuine_scores;
    CHECK(d.min == 0.3);
    CHECK(d.q25 == 0.3);
    CHECK(d.median == 0.3);
    CHECK(d.q75 == 0.3);
    CHECK(d.max == 0.3);
    CHECK(d.mean == 0.3);
  }
  SECTION("histogram: 20 bins of width 0.05, 1.0 in the last") {
    // bin = floor(20 s): 0.0 -> 0, 0.012 -> 0 (0.24), 0.37 -> 7 (7.4), 0.5 -> 10, 0.999 -> 19 (19.98),
    // 1.0 -> 19 (not 20), 1.0 -> 19.
    const Calibration c = calibrate_scores(labelled({0.0, 0.012, 0.37, 0.5, 0.999, 1.0, 1.0}, {}));
    std::vector<std::size_t> expected(20, 0);
    expected[0] = 2;
    expected[7] = 1;
    expected[10] = 1;
    expected[19] = 3;
    CHECK(c.genuine_scores.histogram == expected);
  }
}

TEST_CASE("calibration: randomized properties against brute force", "[calibration]") {
  std::mt19937 rng(20240611);
  for (int trial = 0; trial < 300; ++trial) {
    const std::size_t n = std::uniform_int_distribution<std::size_t>(0, 40)(rng);
    const bool grid = trial % 2 == 0;  // a coarse grid forces ties, including 0 and 1
    std::vector<LabelledScore> scores;
    for (std::size_t i = 0; i < n; ++i) {
      const double s = grid ? std::uniform_int_distribution<int>(0, 10)(rng) / 10.0
                            : std::uniform_real_distribution<double>(0.0, 1.0)(rng);
      scores.push_back({s, std::bernoulli_distribution(trial % 3 == 0 ? 0.2 : 0.5)(rng)});
    }
    INFO("trial " << trial << ", n " << n);
    const Calibration c = calibrate_scores(scores);

    std::size_t g = 0, im = 0;
    for (const auto& s : scores) (s.genuine ? g : im) += 1;
    REQUIRE(c.genuine == g);
    REQUIRE(c.impostors == im);

    // AUC: O(n^2) pair count.
    if (g > 0 && im > 0) {
      double pairs = 0.0;
      for (const auto& a : scores)
        for (const auto& b : scores)
          if (a.genuine && !b.genuine)
            pairs += a.similarity > b.similarity ? 1.0 : a.similarity == b.similarity ? 0.5 : 0.0;
      REQUIRE(c.auc);
      CHECK(*c.auc == Approx(pairs / (static_cast<double>(g) * static_cast<double>(im))));
      REQUIRE(c.eer);
      CHECK(*c.eer >= 0.0);
      CHECK(*c.eer <= 1.0);
    } else {
      CHECK_FALSE(c.auc);
      CHECK_FALSE(c.eer);
    }

    // ROC: one point per distinct score plus reject all; counts match s >= threshold.
    std::set<double> distinct;
    for (const auto& s : scores) distinct.insert(s.similarity);
    REQUIRE(c.roc.size() == (n == 0 ? 0 : distinct.size() + 1));
    for (std::size_t k = 0; k < c.roc.size(); ++k) {
      const OperatingPoint& p = c.roc[k];
      const Counts b = count_at(scores, p.threshold);
      CHECK(p.true_accepts == b.ta);
      CHECK(p.false_accepts == b.fa);
      CHECK(p.tar == Approx(g > 0 ? static_cast<double>(b.ta) / static_cast<double>(g) : 0.0));
      CHECK(p.far == Approx(im > 0 ? static_cast<double>(b.fa) / static_cast<double>(im) : 0.0));
      if (k > 0) CHECK(p.threshold <= c.roc[k - 1].threshold);
    }

    // Best accuracy: the maximum over brute-force thresholds at every distinct score and
    // at reject all; ties to the highest such threshold.
    if (n == 0) {
      CHECK_FALSE(c.best_accuracy);
      continue;
    }
    std::vector<double> candidates(distinct.begin(), distinct.end());
    candidates.push_back(c.roc.front().threshold);
    std::size_t best_correct = 0;
    for (double t : candidates) {
      const Counts b = count_at(scores, t);
      best_correct = std::max(best_correct, b.ta + im - b.fa);
    }
    REQUIRE(c.best_accuracy);
    CHECK(c.best_accuracy->accuracy == Approx(static_cast<double>(best_correct) / static_cast<double>(n)));
    // Tie rule: the highest candidate threshold reaching the maximum has the same counts.
    std::sort(candidates.begin(), candidates.end(), std::greater<>());
    for (double t : candidates) {
      const Counts b = count_at(scores, t);
      if (b.ta + im - b.fa != best_correct) continue;
      CHECK(c.best_accuracy->true_accepts == b.ta);
      CHECK(c.best_accuracy->false_accepts == b.fa);
      break;
    }

    // FAR targets: the highest TA with FA / I <= f, then the fewest FA; point_for_far agrees.
    for (double f : {0.0, 0.01, 0.1, 0.25, 0.5, 1.0}) {
      const auto p = point_for_far(scores, f);
      if (im == 0) {
        CHECK_FALSE(p);
        continue;
      }
      std::optional<Counts> want;
      for (double t : candidates) {
        const Counts b = count_at(scores, t);
        if (static_cast<double>(b.fa) / static_cast<double>(im) > f) continue;
        if (!want || b.ta > want->ta || (b.ta == want->ta && b.fa < want->fa)) want = b;
      }
      REQUIRE(p.has_value() == want.has_value());
      if (p) {
        CHECK(p->true_accepts == want->ta);
        CHECK(p->false_accepts == want->fa);
      }
    }
    for (const FarTarget& t : c.far_targets) {
      const auto p = point_for_far(scores, t.far);
      REQUIRE(p.has_value() == t.point.has_value());
      if (p) CHECK(p->threshold == t.point->threshold);
    }
  }
}

TEST_CASE("calibration: a million scores", "[calibration]") {
  // s_i = i / (n - 1), i = 0..n-1, genuine at even i and impostor at odd i, shuffled.
  // Genuine i = 2j beats the j impostors below it: sum_{j<G} j = G (G - 1) / 2 pairs of G^2,
  // AUC = (G - 1) / (2 G) = 499999 / 1000000.
  constexpr std::size_t n = 1'000'000;
  std::vector<LabelledScore> scores;
  scores.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    scores.push_back({static_cast<double>(i) / static_cast<double>(n - 1), i % 2 == 0});
  std::shuffle(scores.begin(), scores.end(), std::mt19937(7));
  const Calibration c = calibrate_scores(scores, 0.05);
  CHECK(c.genuine == n / 2);
  CHECK(c.impostors == n / 2);
  REQUIRE(c.auc);
  CHECK(*c.auc == Approx(0.499999).epsilon(1e-12));
  CHECK(c.roc.size() == n + 1);
  // Alternating classes: FAR and FRR cross near the middle; EER ~ 0.5.
  REQUIRE(c.eer);
  CHECK(*c.eer == Approx(0.5).margin(1e-5));
  REQUIRE(c.far_targets.size() == 4);
  // 1%: FA <= 0.01 * 500000 = 5000. From the top: impostor i = 999999 (s = 1.0), genuine 999998,
  // impostor 999997, ... The 5000th impostor is i = 990001; the genuine 990000 below it brings
  // TA to (999998 - 990000) / 2 + 1 = 5000 before the 5001st impostor (989999).
  REQUIRE(c.far_targets[0].point);
  CHECK(c.far_targets[0].point->false_accepts == 5000);
  CHECK(c.far_targets[0].point->true_accepts == 5000);
  // The top score is 1.0 (an impostor): reject all sits at 1.0 and accepts it.
  CHECK(c.roc[0].threshold == 1.0);
  CHECK(c.roc[0].false_accepts == 1);
  CHECK(c.far_targets[0].meaningful);
  CHECK(c.genuine_scores.histogram[0] + c.genuine_scores.histogram[19] > 0);
}
