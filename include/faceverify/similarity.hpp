// SPDX-License-Identifier: MIT
#pragma once
// Pure maths on embeddings: L2 distance, cosine, and API4AI's mapping of a
// distance to a similarity, exp(d^7 * ln 0.5 / a^7), where `a` is the
// distance that scores exactly 50 %.

#include <span>

namespace faceverify {

inline constexpr double k_default_threshold = 0.8;
inline constexpr double k_default_half_distance = 1.23;

/// Euclidean distance; the spans must have equal, non-zero length.
double l2_distance(std::span<const double> a, std::span<const double> b) noexcept;

/// Cosine similarity in [-1, 1]; 0 when either vector is all zeros.
double cosine_similarity(std::span<const double> a, std::span<const double> b) noexcept;

/// exp(d^7 * ln 0.5 / a^7): 1 at d = 0, 0.5 at d = a, falling towards 0.
/// `half_distance` must be > 0.
double similarity_from_distance(double distance, double half_distance) noexcept;

/// The distance at which similarity_from_distance() equals `similarity`
/// (the inverse mapping); `similarity` in (0, 1].
double distance_from_similarity(double similarity, double half_distance) noexcept;

/// Euclidean norm.
double l2_norm(std::span<const double> v) noexcept;

}  // namespace faceverify
