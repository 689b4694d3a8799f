// SPDX-License-Identifier: MIT
#pragma once
// The offline backend (--backend local): faces analysed on this machine with
// OpenCV's DNN module and three pinned ONNX models; no photo leaves it.
// Pipeline stages live in src/local/ (decode, detect, landmarks, align,
// embed); models are installed by scripts/install-models.sh.

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "faceverify/error.hpp"
#include "faceverify/face.hpp"

namespace faceverify::local {

struct ModelSpec {
  std::string_view role;  // "detector", "landmarks", "embedder"
  std::string_view file;  // e.g. "fr_detect.onnx"
  std::string_view sha256;
};

/// How the pipeline decodes an image (--decode). scaled: detection on a
/// reduced decode (JPEG in the DCT domain, WebP while decoding), each face
/// aligned from a decode where it is still at least 2x the aligner's
/// resolution; full: the whole image at full resolution (pipeline 1).
enum class DecodeMode { scaled, full };

/// The version of the pipeline around the models (how an image is decoded,
/// detected and aligned before the embedder sees it), recorded in local
/// provenance ("pipeline" in JSON) and in cache keys: a new version never
/// reuses an older version's cached analyses. Bump it when pre-processing
/// changes the embeddings. 1: full decode; 2: scaled decode.
inline constexpr int pipeline_version(DecodeMode mode) noexcept {
  return mode == DecodeMode::full ? 1 : 2;
}
/// The default: full. The scaled decode saves CPU and memory on large photos,
/// but it moves embeddings more than the issue allows (cosine down to 0.957
/// and one verdict changed on the shared photos; tests/local/test_local_decode.cpp),
/// so it is opt-in until detection on a reduced decode matches the full one.
inline constexpr DecodeMode k_default_decode = DecodeMode::full;
/// The default pipeline's version.
inline constexpr int k_pipeline_version = pipeline_version(k_default_decode);

/// What the pipeline does beyond the models.
struct PipelineOptions {
  DecodeMode decode = k_default_decode;
  /// Analyses the caller runs at once (--jobs, serve --workers). The
  /// analyzer owns the cores from it: at most min(workers, cores) network
  /// sets, each built on first need, and cores / sets OpenCV threads (so
  /// OpenCV's pool only when one analysis runs at a time).
  std::size_t workers = 1;
};

/// The three pinned models (from npm faceplugin-face-recognition-js@0.0.1).
const std::array<ModelSpec, 3>& model_specs() noexcept;

/// Where models are looked for, in order: `explicit_dir` (--models), then
/// $FACEVERIFY_MODELS, $XDG_DATA_HOME/faceverify/models (else
/// ~/.local/share/faceverify/models), <prefix>/share/faceverify/models next
/// to the installed binary, and <build>/models for a development build.
/// "reinstall with faceverify-install-models (...)": the end of every message
/// about a model file that is there but unusable.
extern const char* const k_models_reinstall_hint;

std::vector<std::string> model_search_path(const std::optional<std::string>& explicit_dir);

/// The three model files, read once: what is checksummed is what is loaded.
struct ModelSet {
  std::string dir;
  std::array<std::vector<unsigned char>, 3> bytes;  // in model_specs() order
};

/// Reads the models from the first directory of the search path that holds
/// any of them, checking each against its sha256. Missing models, a missing
/// file or a wrong checksum are ErrorKind::usage, saying how to install them.
Expected<ModelSet> find_models(const std::optional<std::string>& explicit_dir);

/// Whether this build includes the local backend (CMake FACEVERIFY_WITH_LOCAL).
bool compiled_in() noexcept;

/// Whether the pipeline can run: linked in, or its module found and loaded
/// (the package faceverify-local). Checked before the models, so a machine
/// without the module is told to install it, not the models.
Expected<void> available();

/// A FaceAnalyzer over `models`, reused for every image; safe to call from
/// several threads (a network set per concurrent call up to the cores, built
/// from the same bytes, never re-read from disk; further calls wait for a
/// free set).
Expected<std::unique_ptr<FaceAnalyzer>> make_analyzer(ModelSet models, PipelineOptions options = {});

}  // namespace faceverify::local
