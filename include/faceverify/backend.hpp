// SPDX-License-Identifier: MIT
#pragma once
// Backends: where faces are analysed. One interface, one implementation per
// backend in its own file (backend_api4ai.cpp: the API4AI client with its
// key, endpoint and retries; backend_local.cpp: the offline models), chosen
// by open_backend(). A new backend is a new file and a line in the factory.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "faceverify/api4ai.hpp"
#include "faceverify/diagnostics.hpp"
#include "faceverify/error.hpp"
#include "faceverify/face.hpp"
#include "faceverify/local_backend.hpp"

namespace faceverify {

/// What opening a backend needs: the few settings that concern it, not the
/// command's whole option set.
struct BackendSettings {
  BackendKind kind = BackendKind::api4ai;
  // local
  std::optional<std::string> models;                   // --models DIR
  local::DecodeMode decode = local::k_default_decode;  // --decode: also the provenance's pipeline version
  // api4ai
  api4ai::Mode api = api4ai::Mode::demo;
  std::optional<std::string> api_url;
  std::optional<std::string> api_key_file;
  std::optional<std::string> api_key;  // --api-key: works, but warned about
  std::optional<std::string> cacert;
  int retries = 4;
  double timeout_seconds = 60.0;  // the budget: of the whole run, or per image in a batch
  // Both: log each attempt (api4ai) or where the models are (local).
  bool verbose = false;
  // Analyses the caller runs at once (--jobs, serve --workers): the local
  // backend sizes its network sets and OpenCV threads by it. A verification
  // keeps 1: its two images share one set (a second costs ~40 ms of CPU to
  // build, more than running them side by side saves).
  std::size_t workers = 1;
};

/// How a run shares the backend: a deadline for a verification, or a budget
/// per image with a shared request gate for a batch.
struct BackendRun {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  api4ai::BatchSettings batch;  // per_image_timeout set: batch mode
};

class Backend {
 public:
  virtual ~Backend() = default;

  /// Which backend, endpoint and models: fixed at open.
  virtual const Provenance& provenance() const noexcept = 0;

  /// The analyzer, created on first call (the local models are read and
  /// checked then). Not thread-safe: call it once before starting workers.
  virtual Expected<FaceAnalyzer*> analyzer() = 0;

  /// The service's version (api4ai: GET …/v1/version); nullopt when the
  /// backend has none or it is unknown (--verbose says why).
  virtual std::optional<std::string> service_version() { return std::nullopt; }

  /// The model set a faceverify server behind this backend announces (one
  /// GET …/v1/version), nullopt for any other service or backend. Asked only
  /// when an embedding file would otherwise be refused before any request.
  virtual std::optional<std::string> served_model_set() { return std::nullopt; }
};

/// Opens the backend `settings.kind` names. Checks everything that needs no
/// heavy work (key, endpoint, local backend compiled in) and fixes the
/// provenance; the local models load lazily, so a batch answered entirely
/// from the cache never reads them.
Expected<std::unique_ptr<Backend>> open_backend(const BackendSettings& settings, const BackendRun& run,
                                                Diagnostics& diag);

/// A backend over an analyzer of the caller's (tests, embedding programs).
std::unique_ptr<Backend> wrap_backend(std::unique_ptr<FaceAnalyzer> analyzer, Provenance provenance);

/// The largest image file `kind` accepts.
std::size_t max_image_bytes(BackendKind kind) noexcept;

/// Whether `kind` can analyse an image from `source`: the local backend never
/// uses the network, so it refuses URLs (ErrorKind::usage naming `label`).
Expected<void> check_source(BackendKind kind, const ImageSource& source, const std::string& label);

/// The identity of the local backend's model set in `p` (its three models' sha256, one per line, hashed): what
/// faceverify serve sends in X-Faceverify-Models, and what a client compares with its own models. Empty for a
/// provenance without models.
std::string model_set_id(const Provenance& p);

/// The local backend's provenance: its pinned models (local::model_specs()), role -> sha256.
Provenance pinned_local_provenance();

/// Who produced `analysis`, made by a backend of provenance `backend`: the backend itself, unless the reply
/// came from a faceverify server (Analysis::model_set set), which analyses with the local backend. Then the
/// provenance is local with `server` = the backend's endpoint and the pinned models when the server's model
/// set is ours, else the one model ("model-set", its id), which no local embedding is comparable with.
Provenance produced_by(const Provenance& backend, const Analysis& analysis);

/// The cache identity of analyses by `p`: what must match for a cached
/// analysis to stand for a new one (backend, endpoint and query, models).
std::string cache_identity(const Provenance& p);

namespace detail {
// The implementations, one file each (the factory's only callers).
Expected<std::unique_ptr<Backend>> open_api4ai_backend(const BackendSettings& settings, const BackendRun& run,
                                                       Diagnostics& diag);
Expected<std::unique_ptr<Backend>> open_local_backend(const BackendSettings& settings, Diagnostics& diag);
}  // namespace detail

}  // namespace faceverify
