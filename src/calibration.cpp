// SPDX-License-Identifier: MIT
#include "faceverify/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

// Definition choices, where the header leaves room (see calibration.hpp):
//
//  * NaN scores are ignored: the pair is dropped and counts in neither
//    `genuine` nor `impostors` (a NaN has no place on the threshold axis;
//    calling it 0 would silently count it as a reject). +-infinity and every
//    other value outside [0, 1] is clamped, as the header says. -0.0 becomes 0.
//  * One sort (descending by similarity), then one sweep over the groups of
//    equal scores builds the ROC, the AUC and the counts: O(n log n).
//  * A point's threshold is the midpoint between its score u_k and the next
//    lower distinct score. When the two are adjacent doubles the midpoint can
//    round down onto the lower score, which would change the counts; then u_k
//    itself is reported. Likewise "reject all" uses 1.0 when the midpoint of
//    the top score and 1.0 rounds onto the top score. Every point's counts are
//    exactly the counts of `s >= threshold`.
//  * Rates with an empty denominator are 0: FAR is 0 without impostor pairs,
//    TAR is 0 without genuine pairs; accuracy is 0 without any pairs.
//  * Empty input: `roc` is empty (there is no highest score to place "reject
//    all"), `best_accuracy` is nullopt, every FAR target has no point.
//  * EER: the walk along the ROC (descending thresholds) starts from the ideal
//    "reject everything" corner (FAR 0, FRR 1) at the first point's threshold.
//    That is the "reject all" point itself unless the top score is 1.0; then
//    FAR may already exceed FRR at the first point (e.g. every score is 1.0)
//    and the crossing is interpolated from that corner, with threshold 1.0.
//    The sign of FAR - FRR is evaluated in exact integer arithmetic
//    (FA*G - FN*I), so an exact crossing at a point gives that point exactly.
//  * TAR at FAR f: the header says "highest TAR among FAR <= f (the lowest
//    threshold that keeps FAR within f)". The two differ only when several
//    eligible points share the highest TAR (TAR saturated): then the lowest
//    threshold only adds false accepts, so we take the HIGHEST threshold among
//    those with the highest TAR (the lowest FAR). FAR <= f compares the
//    correctly rounded FA/I with f, so e.g. 1/100 <= 0.01 holds.
//  * A FAR target has no point when there are no impostor pairs, and also when
//    no threshold reaches it (impostor pairs scoring 1.0 are accepted even by
//    "reject all"); the note then says so, even if `meaningful` is true.
//  * meaningful = impostors >= M with M = ceil(10 / far) (10 / far snapped to
//    the nearest integer when within 1e-9 relative, so 10 / 0.001 is 10000,
//    not 10001); the note names M: "only 1026 impostor pairs: FAR 0.01% needs
//    at least 100000". The FAR is printed as a percentage with %.10g (1%,
//    0.1%, 0.01%, 0.05%). A target that is not > 0 (or NaN) is never
//    meaningful. Notes use "1 impostor pair" in the singular.
//  * The extra target is a duplicate when it is within 1e-9 (relative) of a
//    standard one.
//  * Distribution: quantiles by linear interpolation between order statistics
//    (numpy's default, "type 7"): position h = (n - 1) p, value x[floor h] +
//    (h - floor h) (x[floor h + 1] - x[floor h]). The mean is clamped into
//    [min, max] (summation rounding). Histogram bin i holds [i/20, (i+1)/20),
//    computed as floor(20 s), with 1.0 in bin 19.

namespace faceverify {
namespace {

constexpr std::size_t k_bins = 20;
constexpr double k_standard_fars[] = {0.01, 0.001, 0.0001};

double to_double(std::size_t n) {
  return static_cast<double>(n);
}

// Clamped, NaN-free, sorted by descending similarity.
std::vector<LabelledScore> clean_sorted(const std::vector<LabelledScore>& scores) {
  std::vector<LabelledScore> out;
  out.reserve(scores.size());
  for (const LabelledScore& s : scores) {
    if (std::isnan(s.similarity)) continue;
    double v = std::clamp(s.similarity, 0.0, 1.0);
    if (v == 0.0) v = 0.0;  // -0.0 -> +0.0
    out.push_back({v, s.genuine});
  }
  std::sort(out.begin(), out.end(),
            [](const LabelledScore& a, const LabelledScore& b) { return a.similarity > b.similarity; });
  return out;
}

// A cut strictly above `lo` and at most `hi` (hi > lo): the midpoint, or hi
// when the midpoint rounds onto lo.
double cut_between(double hi, double lo) {
  const double mid = std::midpoint(lo, hi);
  return mid > lo ? mid : hi;
}

OperatingPoint make_point(double threshold, std::size_t ta, std::size_t fa, std::size_t genuine,
                          std::size_t impostors) {
  OperatingPoint p;
  p.threshold = threshold;
  p.true_accepts = ta;
  p.false_accepts = fa;
  p.far = impostors > 0 ? to_double(fa) / to_double(impostors) : 0.0;
  p.tar = genuine > 0 ? to_double(ta) / to_double(genuine) : 0.0;
  const std::size_t all = genuine + impostors;
  p.accuracy = all > 0 ? to_double(ta + (impostors - fa)) / to_double(all) : 0.0;
  return p;
}

struct Sweep {
  std::size_t genuine = 0;
  std::size_t impostors = 0;
  std::vector<OperatingPoint> roc;
  std::optional<double> auc;
};

Sweep sweep(const std::vector<LabelledScore>& sorted) {
  Sweep out;
  for (const LabelledScore& s : sorted) (s.genuine ? out.genuine : out.impostors) += 1;
  if (sorted.empty()) return out;
  const std::size_t g_total = out.genuine;
  const std::size_t i_total = out.impostors;

  // "reject all": above the top score, or 1.0 (accepting the 1.0 group).
  const double top = sorted.front().similarity;
  const double reject_all = top < 1.0 ? cut_between(1.0, top) : 1.0;
  std::size_t top_g = 0, top_i = 0;
  if (reject_all <= top) {
    for (std::size_t k = 0; k < sorted.size() && sorted[k].similarity == top; ++k)
      (sorted[k].genuine ? top_g : top_i) += 1;
  }
  out.roc.reserve(sorted.size() + 1);
  out.roc.push_back(make_point(reject_all, top_g, top_i, g_total, i_total));

  // Mann-Whitney: wins = genuine above an impostor, ties = equal scores.
  std::uint64_t wins = 0, ties = 0;
  std::size_t ta = 0, fa = 0;
  std::size_t k = 0;
  while (k < sorted.size()) {
    const double u = sorted[k].similarity;
    std::size_t g = 0, f = 0;
    for (; k < sorted.size() && sorted[k].similarity == u; ++k) (sorted[k].genuine ? g : f) += 1;
    ta += g;
    fa += f;
    wins += static_cast<std::uint64_t>(g) * (i_total - fa);
    ties += static_cast<std::uint64_t>(g) * f;
    const double threshold = k < sorted.size() ? cut_between(u, sorted[k].similarity) : u;
    out.roc.push_back(make_point(threshold, ta, fa, g_total, i_total));
  }
  if (g_total > 0 && i_total > 0)
    out.auc = (static_cast<double>(wins) + 0.5 * static_cast<double>(ties)) / (to_double(g_total) * to_double(i_total));
  return out;
}

// FAR - FRR scaled by G*I: FA*G - (G - TA)*I. Exact while the products stay
// below 2^53.
double far_minus_frr(std::size_t ta, std::size_t fa, std::size_t genuine, std::size_t impostors) {
  return to_double(fa) * to_double(genuine) - to_double(genuine - ta) * to_double(impostors);
}

void equal_error_rate(const Sweep& s, Calibration& out) {
  if (s.genuine == 0 || s.impostors == 0 || s.roc.empty()) return;
  // Start at the ideal "reject everything" corner: FAR 0, FRR 1.
  double prev_far = 0.0, prev_frr = 1.0, prev_t = s.roc.front().threshold;
  double prev_d = far_minus_frr(0, 0, s.genuine, s.impostors);
  for (const OperatingPoint& p : s.roc) {
    const double d = far_minus_frr(p.true_accepts, p.false_accepts, s.genuine, s.impostors);
    const double frr = 1.0 - p.tar;
    if (d >= 0.0) {
      const double alpha = -prev_d / (d - prev_d);  // prev_d < 0 <= d
      out.eer = prev_far + alpha * (p.far - prev_far);
      // Numerically FAR and FRR agree at alpha; average the two for symmetry.
      const double frr_at = prev_frr + alpha * (frr - prev_frr);
      out.eer = std::clamp(0.5 * (*out.eer + frr_at), 0.0, 1.0);
      out.eer_threshold = prev_t + alpha * (p.threshold - prev_t);
      return;
    }
    prev_far = p.far;
    prev_frr = frr;
    prev_t = p.threshold;
    prev_d = d;
  }
}

std::optional<OperatingPoint> pick_for_far(const Sweep& s, double far) {
  if (s.impostors == 0) return std::nullopt;
  std::optional<OperatingPoint> best;
  for (const OperatingPoint& p : s.roc) {  // FAR and TAR never decrease along the ROC
    if (!(p.far <= far)) break;
    if (!best || p.true_accepts > best->true_accepts) best = p;
  }
  return best;
}

std::optional<OperatingPoint> pick_best_accuracy(const Sweep& s) {
  std::optional<OperatingPoint> best;
  std::size_t best_correct = 0;
  for (const OperatingPoint& p : s.roc) {  // descending thresholds: the first maximum wins ties
    const std::size_t correct = p.true_accepts + (s.impostors - p.false_accepts);
    if (!best || correct > best_correct) {
      best = p;
      best_correct = correct;
    }
  }
  return best;
}

std::string percent(double far) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g%%", far * 100.0);
  return buf;
}

std::string pairs_text(std::size_t n) {
  return std::to_string(n) + (n == 1 ? " impostor pair" : " impostor pairs");
}

// M = ceil(10 / far), snapped when 10 / far is an integer up to rounding.
std::size_t needed_impostors(double far) {
  const double q = 10.0 / far;
  const double r = std::round(q);
  const double m = std::fabs(q - r) <= 1e-9 * r ? r : std::ceil(q);
  if (!(m < 1.8e19)) return std::numeric_limits<std::size_t>::max();
  return static_cast<std::size_t>(m);
}

FarTarget far_target(const Sweep& s, double far) {
  FarTarget t;
  t.far = far;
  t.impostors = s.impostors;
  t.point = pick_for_far(s, far);
  if (s.impostors == 0) {
    t.note = "no impostor pairs";
    return t;
  }
  std::vector<std::string> why;
  if (!(far > 0.0)) {
    why.push_back("FAR target " + percent(far) + " is not positive");
  } else {
    const std::size_t needed = needed_impostors(far);
    t.meaningful = s.impostors >= needed;
    if (!t.meaningful)
      why.push_back("only " + pairs_text(s.impostors) + ": FAR " + percent(far) + " needs at least " +
                    std::to_string(needed));
  }
  if (!t.point) {
    const std::size_t at_one = s.roc.empty() ? 0 : s.roc.front().false_accepts;
    why.push_back("no threshold reaches FAR " + percent(far) + ": " + pairs_text(at_one) +
                  (at_one == 1 ? " scores 1.0" : " score 1.0"));
  }
  for (std::size_t k = 0; k < why.size(); ++k) t.note += (k > 0 ? "; " : "") + why[k];
  return t;
}

double quantile(const std::vector<double>& asc, double p) {
  const double h = to_double(asc.size() - 1) * p;
  const double lo = std::floor(h);
  const auto i = static_cast<std::size_t>(lo);
  if (i + 1 >= asc.size()) return asc.back();
  return asc[i] + (h - lo) * (asc[i + 1] - asc[i]);
}

Distribution describe(const std::vector<double>& asc) {
  Distribution d;
  d.histogram.assign(k_bins, 0);
  if (asc.empty()) return d;
  d.count = asc.size();
  d.min = asc.front();
  d.max = asc.back();
  d.q25 = quantile(asc, 0.25);
  d.median = quantile(asc, 0.5);
  d.q75 = quantile(asc, 0.75);
  double sum = 0.0;
  for (double v : asc) {
    sum += v;
    const auto bin = static_cast<std::size_t>(v * static_cast<double>(k_bins));
    d.histogram[std::min(bin, k_bins - 1)] += 1;
  }
  d.mean = std::clamp(sum / to_double(asc.size()), d.min, d.max);
  return d;
}

}  // namespace

bool same_far_target(double a, double b) noexcept {
  return std::fabs(a - b) <= 1e-9 * std::max(std::fabs(a), std::fabs(b));
}

Calibration calibrate_scores(const std::vector<LabelledScore>& scores, std::optional<double> extra_far) {
  const std::vector<LabelledScore> sorted = clean_sorted(scores);
  Sweep s = sweep(sorted);

  Calibration out;
  out.genuine = s.genuine;
  out.impostors = s.impostors;
  out.auc = s.auc;

  std::vector<double> genuine_asc, impostor_asc;
  genuine_asc.reserve(s.genuine);
  impostor_asc.reserve(s.impostors);
  for (auto it = sorted.rbegin(); it != sorted.rend(); ++it)
    (it->genuine ? genuine_asc : impostor_asc).push_back(it->similarity);
  out.genuine_scores = describe(genuine_asc);
  out.impostor_scores = describe(impostor_asc);

  equal_error_rate(s, out);
  out.best_accuracy = pick_best_accuracy(s);

  for (double far : k_standard_fars) out.far_targets.push_back(far_target(s, far));
  if (extra_far) {
    const bool duplicate = std::any_of(std::begin(k_standard_fars), std::end(k_standard_fars),
                                       [&](double f) { return same_far_target(f, *extra_far); });
    if (!duplicate) out.far_targets.push_back(far_target(s, *extra_far));
  }
  out.roc = std::move(s.roc);
  return out;
}

std::optional<OperatingPoint> point_for_far(const std::vector<LabelledScore>& scores, double far) {
  return pick_for_far(sweep(clean_sorted(scores)), far);
}

}  // namespace faceverify
