// SPDX-License-Identifier: MIT
#pragma once
// What a backend reports about one image: every face with its box,
// confidence, landmarks and embedding. Backend-neutral, so a local backend can
// plug in beside the API4AI one behind FaceAnalyzer.

#include <array>
#include <cstddef>
#include <optional>
#include <span>
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
  // What the user should know about this analysis (a skipped face, a reply of
  // several pages): printed once when it is made, never cached or written.
  std::vector<std::string> warnings;
  // The model set a faceverify server named in its reply (X-Faceverify-Models,
  // 64 lowercase hex digits); empty for any other service. produced_by()
  // (backend.hpp) turns it into the analysis' provenance; never cached or
  // written itself (the provenance is).
  std::string model_set;
};

/// The one set of limits on an analysis, whatever its source (a service reply,
/// the local backend, the cache, an embedding file): writers and readers use
/// the same numbers, so whatever faceverify writes it reads back.
namespace limits {
inline constexpr std::size_t k_max_faces = 1000;  // per image
inline constexpr std::size_t k_max_embedding_values = 65536;
inline constexpr std::size_t k_max_landmarks = 1000;  // per face
inline constexpr int k_max_image_side = 1'000'000;    // pixels (width, height)
// Real embeddings have a norm near 1 (API4AI's and the local backend's, which
// are normalised); these bounds refuse only degenerate ones, and keep every
// norm and distance finite: 65536 * (1e6)^2 is far from overflowing.
inline constexpr double k_max_embedding_component = 1e6;  // |value|
inline constexpr double k_min_embedding_norm = 1e-6;      // an all-zero vector cannot be compared
// Landmarks may fall a little outside the image; not more than one image away.
inline constexpr double k_min_point = -1.0;
inline constexpr double k_max_point = 2.0;
}  // namespace limits

/// What makes `embedding` unusable for a comparison (empty, too long, a
/// non-finite or huge value, a norm of about zero), or nullopt when it is fine.
std::optional<std::string> embedding_problem(std::span<const double> embedding);

/// The one validation of a face, whatever its source. Clips the box to the
/// image (x, y, width, height as fractions), as the service does, and refuses
/// a box that is not four finite numbers, has a size that is not positive or
/// lies wholly outside the image; a confidence outside [0, 1]; landmarks that
/// are not finite or lie far outside the image, or more than
/// limits::k_max_landmarks of them; and an embedding_problem(). Returns what
/// is wrong (a phrase such as "box lies outside the image"), nullopt when the
/// face is fine.
std::optional<std::string> normalize_face(Face& face);

/// "has 1001 faces (more than the 1000 faceverify handles per image)" when
/// `count` is over limits::k_max_faces, else nullopt.
std::optional<std::string> face_count_problem(std::size_t count);

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
  std::string server;  // local, analysed by a faceverify server: its results URL (never a key)
  // local: the version of the pre-processing around the models (decode, detect, align;
  // local::k_pipeline_version). 0: not recorded (files written before faceverify 1.2, pipeline 1).
  // Embeddings of two pipelines still compare (within a documented tolerance), with a note.
  int pipeline = 0;
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
