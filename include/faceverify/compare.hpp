// SPDX-License-Identifier: MIT
#pragma once
// Face choice and scoring: which face of each image to compare (--face) and
// the resulting distance, similarity, cosine and verdict.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "faceverify/error.hpp"
#include "faceverify/face.hpp"
#include "faceverify/similarity.hpp"

namespace faceverify {

enum class FacePolicy { largest, first, best };

/// "largest", "first", "best"
std::string_view policy_name(FacePolicy policy) noexcept;

struct ScoreOptions {
  double threshold = k_default_threshold;          // in [0, 1]
  double half_distance = k_default_half_distance;  // > 0; the distance that scores 50 %
};

struct Comparison {
  std::size_t face1 = 0;  // index into the first analysis' faces
  std::size_t face2 = 0;
  double distance = 0.0;
  double similarity = 0.0;
  double cosine = 0.0;
};

enum class Decision { same, different, uncertain };

/// "same", "different", "uncertain"
std::string_view decision_name(Decision d) noexcept;

/// The one rule of "same person": the similarity reaches the threshold
/// (similarity >= threshold). JSON's `verified` is this; decide() uses it.
bool meets_threshold(double similarity, const ScoreOptions& options) noexcept;

/// same/different by meets_threshold(), or uncertain when `band` is set and
/// the similarity lies within it of the threshold (|s - t| <= band).
Decision decide(double similarity, const ScoreOptions& options, std::optional<double> band) noexcept;

/// Picks the faces to compare and scores them. Errors: ErrorKind::no_face
/// naming the image without a face; ErrorKind::api_response when embedding
/// lengths differ, naming both images and both lengths (a service's fault;
/// compare_subjects in batch.hpp makes it an input error for embedding
/// files); ErrorKind::internal for an embedding that cannot be scored
/// (embedding_problem, face.hpp: every source refuses those first) or scores
/// that are not finite, so no verdict ever sits next to a null or an inf.
/// `label1`/`label2` name the images in messages.
Expected<Comparison> compare(const Analysis& a, std::string_view label1, const Analysis& b, std::string_view label2,
                             FacePolicy policy, const ScoreOptions& options);

/// The index of the face `policy` picks in one image (largest box area, or
/// the first); nullopt when there is no face. Not meaningful for `best`.
std::optional<std::size_t> pick_face(const Analysis& analysis, FacePolicy policy) noexcept;

}  // namespace faceverify
