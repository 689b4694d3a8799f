// SPDX-License-Identifier: MIT
#include "faceverify/face.hpp"

#include <algorithm>
#include <cmath>

namespace faceverify {

std::optional<std::string> embedding_problem(std::span<const double> embedding) {
  if (embedding.empty()) return "embedding is empty";
  if (embedding.size() > limits::k_max_embedding_values) {
    return "embedding has " + std::to_string(embedding.size()) + " values (more than " +
           std::to_string(limits::k_max_embedding_values) + ")";
  }
  double sum = 0.0;
  for (std::size_t i = 0; i < embedding.size(); ++i) {
    const double x = embedding[i];
    if (!std::isfinite(x)) return "embedding has a non-finite value at " + std::to_string(i);
    if (std::fabs(x) > limits::k_max_embedding_component) {
      return "embedding value " + std::to_string(i) + " is out of range (real embeddings have values near 0)";
    }
    sum += x * x;
  }
  if (!(std::sqrt(sum) >= limits::k_min_embedding_norm)) {
    return "embedding is all zeros (or nearly): it cannot be compared";
  }
  return std::nullopt;
}

std::optional<std::string> normalize_face(Face& face) {
  auto& box = face.box;
  if (!std::all_of(box.begin(), box.end(), [](double v) { return std::isfinite(v); })) {
    return "box is not [x, y, width, height] (4 finite numbers)";
  }
  if (box[2] <= 0.0 || box[3] <= 0.0) return "box has a width or height that is not positive";
  const double x0 = std::clamp(box[0], 0.0, 1.0), y0 = std::clamp(box[1], 0.0, 1.0);
  const double x1 = std::clamp(box[0] + box[2], 0.0, 1.0), y1 = std::clamp(box[1] + box[3], 0.0, 1.0);
  if (!(x1 > x0) || !(y1 > y0)) return "box lies outside the image";
  box = {x0, y0, x1 - x0, y1 - y0};
  if (face.confidence && !(*face.confidence >= 0.0 && *face.confidence <= 1.0)) {
    return "confidence is not a number in [0, 1]";
  }
  if (face.landmarks.size() > limits::k_max_landmarks) {
    return "has " + std::to_string(face.landmarks.size()) + " landmarks (more than " +
           std::to_string(limits::k_max_landmarks) + ")";
  }
  for (const auto& [name, p] : face.landmarks) {
    const auto fine = [](double v) { return v >= limits::k_min_point && v <= limits::k_max_point; };
    if (!fine(p.x) || !fine(p.y))
      return "landmark \"" + display_name(name.substr(0, 40)) + "\" is not a point near the image";
  }
  return embedding_problem(face.embedding);
}

std::optional<std::string> face_count_problem(std::size_t count) {
  if (count <= limits::k_max_faces) return std::nullopt;
  return "has " + std::to_string(count) + " faces (more than the " + std::to_string(limits::k_max_faces) +
         " faceverify handles per image; crop the image)";
}

std::string_view backend_name(BackendKind kind) noexcept {
  switch (kind) {
    case BackendKind::api4ai: return "api4ai";
    case BackendKind::local: return "local";
  }
  return "api4ai";
}

std::optional<BackendKind> backend_from_name(std::string_view name) noexcept {
  if (name == "api4ai") return BackendKind::api4ai;
  if (name == "local") return BackendKind::local;
  return std::nullopt;
}

}  // namespace faceverify
