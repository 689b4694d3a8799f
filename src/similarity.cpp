// SPDX-License-Identifier: MIT
#include "faceverify/similarity.hpp"

#include <cmath>
#include <numbers>

namespace faceverify {

double l2_distance(std::span<const double> a, std::span<const double> b) noexcept {
  double sum = 0.0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const double diff = a[i] - b[i];
    sum += diff * diff;
  }
  return std::sqrt(sum);
}

double l2_norm(std::span<const double> v) noexcept {
  double sum = 0.0;
  for (double x : v) sum += x * x;
  return std::sqrt(sum);
}

double cosine_similarity(std::span<const double> a, std::span<const double> b) noexcept {
  double dot = 0.0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) dot += a[i] * b[i];
  const double norms = l2_norm(a) * l2_norm(b);
  return norms > 0.0 ? dot / norms : 0.0;
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
