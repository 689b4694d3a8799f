// SPDX-License-Identifier: MIT
#include "faceverify/similarity.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace faceverify {

// Four partial sums break the addition chain, so the loops run at the
// machine's pace (a matrix of 200 photos is 20,000 of them); the order of the
// additions is fixed, so results are the same on every run.
double l2_distance(std::span<const double> a, std::span<const double> b) noexcept {
  const std::size_t n = std::min(a.size(), b.size());
  double s[4] = {0.0, 0.0, 0.0, 0.0};
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (std::size_t k = 0; k < 4; ++k) {
      const double diff = a[i + k] - b[i + k];
      s[k] += diff * diff;
    }
  }
  for (; i < n; ++i) {
    const double diff = a[i] - b[i];
    s[i % 4] += diff * diff;
  }
  return std::sqrt((s[0] + s[1]) + (s[2] + s[3]));
}

double l2_norm(std::span<const double> v) noexcept {
  double sum = 0.0;
  for (double x : v) sum += x * x;
  return std::sqrt(sum);
}

double cosine_similarity(std::span<const double> a, std::span<const double> b) noexcept {
  // One pass for the dot product and both norms.
  const std::size_t n = std::min(a.size(), b.size());
  double dot[4] = {0.0, 0.0, 0.0, 0.0};
  double aa[4] = {0.0, 0.0, 0.0, 0.0};
  double bb[4] = {0.0, 0.0, 0.0, 0.0};
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (std::size_t k = 0; k < 4; ++k) {
      dot[k] += a[i + k] * b[i + k];
      aa[k] += a[i + k] * a[i + k];
      bb[k] += b[i + k] * b[i + k];
    }
  }
  for (; i < n; ++i) {
    dot[i % 4] += a[i] * b[i];
    aa[i % 4] += a[i] * a[i];
    bb[i % 4] += b[i] * b[i];
  }
  // Norms over the whole vectors, as before, when their lengths differ.
  double na = (aa[0] + aa[1]) + (aa[2] + aa[3]);
  double nb = (bb[0] + bb[1]) + (bb[2] + bb[3]);
  for (std::size_t j = n; j < a.size(); ++j) na += a[j] * a[j];
  for (std::size_t j = n; j < b.size(); ++j) nb += b[j] * b[j];
  const double norms = std::sqrt(na) * std::sqrt(nb);
  return norms > 0.0 ? ((dot[0] + dot[1]) + (dot[2] + dot[3])) / norms : 0.0;
}

double similarity_from_distance(double distance, double half_distance) noexcept {
  // (d/a)^7 rather than d^7/a^7: same value, no overflow for huge distances.
  const double ratio = distance / half_distance;
  return std::exp(std::pow(ratio, 7) * -std::numbers::ln2);
}

double distance_from_similarity(double similarity, double half_distance) noexcept {
  return half_distance * std::pow(-std::log(similarity) / std::numbers::ln2, 1.0 / 7.0);
}

}  // namespace faceverify
