// SPDX-License-Identifier: MIT
// Test helper: a Calibration built by hand from labelled scores, following
// the conventions in faceverify/calibration.hpp, without calibrate_scores()
// (the report tests must not depend on calibration.cpp). Used by the unit
// tests of the report and by write_sample_report.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include "faceverify/calibration.hpp"

namespace faceverify::test {

inline Distribution synthetic_distribution(std::vector<double> scores) {
  Distribution d;
  d.count = scores.size();
  d.histogram.assign(20, 0);
  if (scores.empty()) return d;
  std::sort(scores.begin(), scores.end());
  auto quantile = [&](double q) {
    const double pos = q * static_cast<double>(scores.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const std::size_t hi = std::min(lo + 1, scores.size() - 1);
    return scores[lo] + (pos - static_cast<double>(lo)) * (scores[hi] - scores[lo]);
  };
  d.min = scores.front();
  d.max = scores.back();
  d.q25 = quantile(0.25);
  d.median = quantile(0.5);
  d.q75 = quantile(0.75);
  double sum = 0.0;
  for (double s : scores) {
    sum += s;
    const auto bin = std::min<std::size_t>(19, static_cast<std::size_t>(std::floor(s * 20.0)));
    ++d.histogram[bin];
  }
  d.mean = sum / static_cast<double>(scores.size());
  return d;
}

inline Calibration synthetic_calibration(const std::vector<double>& genuine, const std::vector<double>& impostors,
                                         const std::vector<double>& far_targets = {0.01, 0.001, 0.0001}) {
  Calibration c;
  c.genuine = genuine.size();
  c.impostors = impostors.size();
  c.genuine_scores = synthetic_distribution(genuine);
  c.impostor_scores = synthetic_distribution(impostors);
  const double ng = static_cast<double>(c.genuine), ni = static_cast<double>(c.impostors);
  const double n = ng + ni;

  struct Labelled {
    double s;
    bool genuine;
  };
  std::vector<Labelled> all;
  for (double s : genuine) all.push_back({s, true});
  for (double s : impostors) all.push_back({s, false});
  std::sort(all.begin(), all.end(), [](const Labelled& a, const Labelled& b) { return a.s > b.s; });

  auto point = [&](double threshold, std::size_t ta, std::size_t fa) {
    OperatingPoint p;
    p.threshold = threshold;
    p.true_accepts = ta;
    p.false_accepts = fa;
    p.tar = ng > 0 ? static_cast<double>(ta) / ng : 0.0;
    p.far = ni > 0 ? static_cast<double>(fa) / ni : 0.0;
    p.accuracy = n > 0 ? (static_cast<double>(ta) + ni - static_cast<double>(fa)) / n : 0.0;
    return p;
  };
  if (all.empty()) {
    c.roc.push_back(point(1.0, 0, 0));
  } else {
    const double top = all.front().s;
    c.roc.push_back(point(top >= 1.0 ? 1.0 : (top + 1.0) / 2.0, 0, 0));
    std::size_t ta = 0, fa = 0;
    for (std::size_t i = 0; i < all.size();) {
      const double u = all[i].s;
      while (i < all.size() && all[i].s == u) {
        (all[i].genuine ? ta : fa) += 1;
        ++i;
      }
      c.roc.push_back(point(i < all.size() ? (u + all[i].s) / 2.0 : u, ta, fa));
    }
  }

  if (c.genuine > 0 && c.impostors > 0) {
    // AUC (Mann-Whitney), walking the scores from the lowest.
    double wins = 0.0;
    std::size_t below = 0;
    for (std::size_t i = all.size(); i > 0;) {
      const double u = all[i - 1].s;
      std::size_t g = 0, im = 0;
      while (i > 0 && all[i - 1].s == u) {
        (all[i - 1].genuine ? g : im) += 1;
        --i;
      }
      wins += static_cast<double>(g) * (static_cast<double>(below) + 0.5 * static_cast<double>(im));
      below += im;
    }
    c.auc = wins / (ng * ni);
    // EER: the first point where FAR >= FRR, interpolated with the one before.
    for (std::size_t k = 1; k < c.roc.size(); ++k) {
      const auto& p0 = c.roc[k - 1];
      const auto& p1 = c.roc[k];
      const double d0 = (1.0 - p0.tar) - p0.far, d1 = (1.0 - p1.tar) - p1.far;
      if (d1 <= 0.0) {
        const double w = d0 - d1 > 0 ? d0 / (d0 - d1) : 0.0;
        c.eer = p0.far + w * (p1.far - p0.far);
        c.eer_threshold = p0.threshold + w * (p1.threshold - p0.threshold);
        break;
      }
    }
  }

  for (double f : far_targets) {
    FarTarget t;
    t.far = f;
    t.impostors = c.impostors;
    if (c.impostors > 0) {
      for (const auto& p : c.roc) {
        if (p.far <= f && (!t.point || p.tar >= t.point->tar)) t.point = p;
      }
    }
    const double needed = std::ceil(10.0 / f - 1e-9);
    t.meaningful = c.impostors > 0 && ni >= needed;
    if (c.impostors == 0) {
      t.note = "no impostor pairs";
    } else if (!t.meaningful) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "only %zu impostor pairs: FAR %g%% needs at least %.0f", c.impostors, f * 100.0,
                    needed);
      t.note = buf;
    }
    c.far_targets.push_back(std::move(t));
  }

  if (!all.empty()) {
    for (const auto& p : c.roc) {
      if (!c.best_accuracy || p.accuracy > c.best_accuracy->accuracy) c.best_accuracy = p;
    }
  }
  return c;
}

}  // namespace faceverify::test
