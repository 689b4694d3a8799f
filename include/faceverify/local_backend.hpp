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

#include "faceverify/error.hpp"
#include "faceverify/face.hpp"

namespace faceverify::local {

struct ModelSpec {
  std::string_view role;  // "detector", "landmarks", "embedder"
  std::string_view file;  // e.g. "fr_detect.onnx"
  std::string_view sha256;
};

/// The three pinned models (from npm faceplugin-face-recognition-js@0.0.1).
const std::array<ModelSpec, 3>& model_specs() noexcept;

/// Where models are looked for, in order: `explicit_dir` (--models), then
/// $FACEVERIFY_MODELS, $XDG_DATA_HOME/faceverify/models (else
/// ~/.local/share/faceverify/models), <prefix>/share/faceverify/models next
/// to the installed binary, and <build>/models for a development build.
std::vector<std::string> model_search_path(const std::optional<std::string>& explicit_dir);

/// The first directory of the search path holding all three files, each
/// checked against its sha256. A missing model is ErrorKind::usage with how
/// to install it; a wrong checksum is refused the same way.
Expected<std::string> find_models(const std::optional<std::string>& explicit_dir);

/// Whether this build includes the local backend (CMake FACEVERIFY_WITH_LOCAL).
bool compiled_in() noexcept;

/// A FaceAnalyzer that loads the models in `model_dir` once and reuses them
/// for every image; safe to call from several threads (one network set per
/// concurrent call).
Expected<std::unique_ptr<FaceAnalyzer>> make_analyzer(const std::string& model_dir);

}  // namespace faceverify::local
