// SPDX-License-Identifier: MIT
#include "faceverify/compare.hpp"

#include <cmath>
#include <tuple>

#include "faceverify/similarity.hpp"

namespace faceverify {
namespace {

std::optional<Error> check_lengths(const Analysis& a, std::string_view label1, const Analysis& b,
                                   std::string_view label2) {
  auto refuse = [](std::string message) { return Error{ErrorKind::api_response, std::move(message), {}, false, {}}; };
  auto within = [&](const Analysis& x, std::string_view label) -> std::optional<Error> {
    const std::size_t n = x.faces.front().embedding.size();
    for (const Face& f : x.faces) {
      if (f.embedding.size() != n) {
        return refuse(std::string(label) + ": its faces' embeddings differ in length (" + std::to_string(n) + " and " +
                      std::to_string(f.embedding.size()) + " values); they cannot be compared");
      }
    }
    return std::nullopt;
  };
  if (auto err = within(a, label1)) return err;
  if (auto err = within(b, label2)) return err;
  const std::size_t n1 = a.faces.front().embedding.size();
  const std::size_t n2 = b.faces.front().embedding.size();
  if (n1 != n2) {
    return refuse(std::string(label2) + ": its embedding has " + std::to_string(n2) + " values, " +
                  std::string(label1) + "'s has " + std::to_string(n1) + "; they cannot be compared");
  }
  return std::nullopt;
}

}  // namespace

std::string_view policy_name(FacePolicy policy) noexcept {
  switch (policy) {
    case FacePolicy::largest: return "largest";
    case FacePolicy::first: return "first";
    case FacePolicy::best: return "best";
  }
  return "largest";
}

std::optional<std::size_t> pick_face(const Analysis& analysis, FacePolicy policy) noexcept {
  if (analysis.faces.empty()) return std::nullopt;
  if (policy == FacePolicy::first) return 0;
  std::size_t best = 0;
  for (std::size_t i = 1; i < analysis.faces.size(); ++i) {
    if (analysis.faces[i].area() > analysis.faces[best].area()) best = i;  // ties keep the earlier face
  }
  return best;
}

Expected<Comparison> compare(const Analysis& a, std::string_view label1, const Analysis& b, std::string_view label2,
                             FacePolicy policy, const ScoreOptions& options) {
  if (a.faces.empty()) return fail(ErrorKind::no_face, std::string(label1) + ": no face found in the image");
  if (b.faces.empty()) return fail(ErrorKind::no_face, std::string(label2) + ": no face found in the image");
  if (auto err = check_lengths(a, label1, b, label2)) return std::unexpected(*err);

  Comparison c;
  if (policy == FacePolicy::best) {
    bool first = true;
    for (std::size_t i = 0; i < a.faces.size(); ++i) {
      for (std::size_t k = 0; k < b.faces.size(); ++k) {
        const double d = l2_distance(a.faces[i].embedding, b.faces[k].embedding);
        if (first || d < c.distance) {
          c.face1 = i;
          c.face2 = k;
          c.distance = d;
          first = false;
        }
      }
    }
  } else {
    c.face1 = *pick_face(a, policy);
    c.face2 = *pick_face(b, policy);
    c.distance = l2_distance(a.faces[c.face1].embedding, b.faces[c.face2].embedding);
  }
  // Every source refuses degenerate embeddings (normalize_face); this guard
  // keeps one that slipped through from ever reaching a verdict.
  for (const auto& [analysis, face, label] : {std::tuple{&a, c.face1, label1}, std::tuple{&b, c.face2, label2}}) {
    if (auto problem = embedding_problem(analysis->faces[face].embedding)) {
      return fail(ErrorKind::internal, std::string(label) + ": face " + std::to_string(face + 1) + ": " + *problem);
    }
  }
  c.similarity = similarity_from_distance(c.distance, options.half_distance);
  c.cosine = cosine_similarity(a.faces[c.face1].embedding, b.faces[c.face2].embedding);
  if (!std::isfinite(c.distance) || !std::isfinite(c.similarity) || !std::isfinite(c.cosine)) {
    return fail(ErrorKind::internal, std::string(label1) + " and " + std::string(label2) +
                                         ": the embeddings give no finite score; they cannot be compared");
  }
  return c;
}

std::string_view decision_name(Decision d) noexcept {
  switch (d) {
    case Decision::same: return "same";
    case Decision::different: return "different";
    case Decision::uncertain: return "uncertain";
  }
  return "different";
}

bool meets_threshold(double similarity, const ScoreOptions& options) noexcept {
  return similarity >= options.threshold;
}

Decision decide(double similarity, const ScoreOptions& options, std::optional<double> band) noexcept {
  // The tolerance keeps "within 0.05 of 0.8" true for 0.75 despite binary fractions.
  if (band && std::fabs(similarity - options.threshold) <= *band + 1e-12) return Decision::uncertain;
  return meets_threshold(similarity, options) ? Decision::same : Decision::different;
}

}  // namespace faceverify
