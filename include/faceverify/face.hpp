// SPDX-License-Identifier: MIT
#pragma once
// What a backend reports about one image: every face with its box,
// confidence, landmarks and embedding. Backend-neutral, so a local backend can
// plug in beside the API4AI one behind FaceAnalyzer.

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "faceverify/error.hpp"
#include "faceverify/image.hpp"

namespace faceverify {

struct Point {
  double x = 0.0;
  double y = 0.0;
};

struct Face {
  std::array<double, 4> box{};  // x, y, width, height as fractions of the image
  std::optional<double> confidence;
  std::vector<std::pair<std::string, Point>> landmarks;  // in the service's order
  std::vector<double> embedding;

  double area() const noexcept { return box[2] * box[3]; }
};

struct Analysis {
  std::string name;  // what the service says it analysed (the upload's filename)
  std::string md5;
  std::optional<int> width;
  std::optional<int> height;
  std::vector<Face> faces;
};

/// Where faces are analysed (--backend).
enum class BackendKind { api4ai, local };

/// "api4ai", "local": the name options, config files and JSON use.
std::string_view backend_name(BackendKind kind) noexcept;

/// The inverse of backend_name; nullopt for an unknown name.
std::optional<BackendKind> backend_from_name(std::string_view name) noexcept;

/// Which backend produced analyses: named in JSON output, embedding files and
/// cache keys, and checked before embeddings of two origins are compared.
struct Provenance {
  BackendKind backend = BackendKind::api4ai;
  std::string api;                                          // api4ai: "demo", "api4ai", "rapidapi"
  std::string endpoint;                                     // api4ai: results URL (never carries a key)
  std::vector<std::pair<std::string, std::string>> models;  // local: role -> sha256
};

/// "Describe this image's faces." Implementations must be callable from
/// several threads at once (one call per image).
class FaceAnalyzer {
 public:
  virtual ~FaceAnalyzer() = default;
  /// Every face found, or an Error naming the image (network, http,
  /// api_response, timeout). Zero faces is a success with an empty list.
  virtual Expected<Analysis> analyze(const Image& image) = 0;
};

}  // namespace faceverify
