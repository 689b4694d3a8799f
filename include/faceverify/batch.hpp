// SPDX-License-Identifier: MIT
#pragma once
// The batch engine behind embed, matrix, search and pairs. It turns arguments
// into subjects (an image to analyse, or one record of an embedding file),
// analyses each distinct image once (from the cache when it can, else with
// --jobs workers sharing one request gate) and hands every result to the
// caller, in the caller's thread, as it completes.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "faceverify/backend.hpp"
#include "faceverify/cache.hpp"
#include "faceverify/compare.hpp"
#include "faceverify/diagnostics.hpp"
#include "faceverify/embedding_file.hpp"
#include "faceverify/error.hpp"
#include "faceverify/face.hpp"
#include "faceverify/gallery_file.hpp"
#include "faceverify/image.hpp"

namespace faceverify {

struct Subject {
  std::string input;           // as given (an embedding-file record: its own input)
  std::string label;           // how messages name it
  std::string sha256;          // of the image bytes; empty for URLs
  std::optional<Image> image;  // to analyse; a file's bytes are read again when needed (see with_bytes)
  std::size_t max_bytes = 0;   // the size limit it was read with
  bool from_file = false;      // a record of an embedding file
  std::string file;            // a record's embedding file, as messages name it
  // The outcome, valid once done:
  bool done = false;
  Expected<Analysis> analysis = fail(ErrorKind::internal, "not analysed");
  Provenance provenance;
  std::optional<std::string> service_version;
  bool cached = false;
  long long elapsed_ms = 0;
};

/// One input as the user named it: an argument, or one record of an
/// embedding file. Several entries may share a subject (the same bytes under
/// two names are analysed once but reported under each name).
struct Entry {
  std::string input;  // as given (a record: its own input)
  std::string label;  // how messages name it
  std::size_t subject = 0;
  bool first_for_subject = true;  // false: an earlier entry already names these bytes
};

/// A gallery file kept on disk (InputSet::scan_galleries): search scans it
/// instead of holding its records (gallery_file.hpp).
struct GalleryInput {
  std::string argument;  // as given
  std::shared_ptr<const gallery::Gallery> file;
};

/// Every input of a run. Subjects are deduplicated: the same bytes (or URL)
/// given twice are one subject, analysed once.
struct InputSet {
  std::vector<Subject> subjects;
  std::vector<Entry> entries;
  bool stdin_used = false;
  /// Regular files' bytes are dropped once hashed and read again for the
  /// analysis (see analyse_subject); false keeps them (two-image verify).
  bool release_file_bytes = true;
  /// Image subjects by content (SHA-256, or URL): deduplication in O(1).
  std::unordered_map<std::string, std::size_t> by_content;
  /// A bound on the entries a run may hold (matrix): once `named` would pass
  /// it, add() only counts what each argument stands for (an embedding
  /// file's records by its lines, without parsing them) and keeps nothing,
  /// so the caller can refuse the run with the whole count, cheaply.
  std::optional<std::size_t> entry_limit;
  std::size_t named = 0;  // entries the arguments stand for, kept or only counted
  bool over_limit() const { return entry_limit && named > *entry_limit; }
  /// true (search's candidates): a gallery file argument is opened and
  /// checked but its records stay on disk, in `galleries`, for a scan; false:
  /// its records become entries like an embedding file's.
  bool scan_galleries = false;
  std::vector<GalleryInput> galleries;

  /// Loads one argument: an image file, a URL, "-", an embedding file or a
  /// gallery file (all its records; see scan_galleries). Returns the indices of the entries it stands for.
  /// Errors (ErrorKind::input or usage) name the argument; nothing is
  /// analysed yet.
  Expected<std::vector<std::size_t>> add(const std::string& argument, int stdin_fd, std::size_t max_image_bytes);

  /// One embedding-file or gallery record as an entry (and its subject).
  std::size_t add_record(EmbeddingRecord record, const std::string& file_label);

  const Subject& subject_of(std::size_t entry) const { return subjects[entries[entry].subject]; }

  /// A usage error for each image `kind` cannot read (check_source: the
  /// local backend refuses URLs), in input order; empty when it reads all.
  std::vector<Error> check_backend_reads(BackendKind kind) const;

  /// Usage error when embedding-file records and the images to analyse (by
  /// `backend`) come from models whose embeddings cannot be compared. When
  /// they compare but come from two local pipeline versions, one note on
  /// `diag` names them (the scores may move a little).
  Expected<void> check_comparable(const Provenance& backend, Diagnostics* diag = nullptr) const;

  /// Before any request: check_comparable against `backend`'s provenance;
  /// when that refuses and the backend is a faceverify server (its version
  /// reply names its model set), against the local provenance its analyses
  /// will have instead. Returns the provenance the inputs were checked with.
  Expected<Provenance> check_comparable_before_analysis(Backend& backend, Diagnostics* diag = nullptr) const;

  /// After analysis: the provenance the run's embeddings share (each
  /// analysis has its own, produced_by()): the first analysed image's, else
  /// the first record's, else `fallback`. Usage error naming two subjects
  /// whose embeddings cannot be compared (a faceverify server's model set is
  /// known only from its replies, a cached analysis keeps its own).
  Expected<Provenance> produced_provenance(const Provenance& fallback) const;

 private:
  Expected<std::vector<std::size_t>> add_gallery(const std::string& argument);
};

/// Runs `analyse` on the subject's image with its bytes in memory: a file's
/// bytes are not kept between reading (hashing) and analysis, so a batch of
/// thousands of photos holds only the ones in flight. A file whose bytes
/// changed since they were hashed is an ErrorKind::input error. The bytes are
/// released afterwards. The analysis' warnings (Analysis::warnings) are
/// printed on `diag`, naming the subject, and cleared.
Expected<Analysis> analyse_subject(Subject& subject, FaceAnalyzer& analyzer, Diagnostics* diag = nullptr);

/// compare() of two analysed subjects. Embeddings of different lengths are
/// the service's fault (ErrorKind::api_response, exit 4) when both subjects
/// were analysed, the input's (ErrorKind::input, exit 2) when either is an
/// embedding-file record: the message names both and their lengths. Subjects
/// whose provenances are not comparable (embedding_file.hpp) are a usage error.
Expected<Comparison> compare_subjects(const Subject& a, const Subject& b, FacePolicy policy, const ScoreOptions& score);

struct EngineSettings {
  int jobs = 4;
  std::optional<cache::Cache> cache;  // nullopt: --no-cache
  bool want_service_version = false;  // embed records it; the others skip the request
  bool progress = false;              // draw a progress line (see progress_wanted)
};

/// How a run ended.
enum class RunEnd { complete, interrupted };

/// Analyses every subject not yet done (`backend` may be null when every
/// subject is an embedding-file record). `on_done(i)` is called for each
/// subject as it completes (embedding-file records and cache hits first);
/// it runs in the calling thread. Errors (ErrorKind::usage, before anything
/// is reported): the backend cannot be opened (e.g. models missing). After an
/// interruption (SIGINT/SIGTERM, see interrupt.hpp) no further on_done call
/// is made; analyses that finished are in the cache.
Expected<RunEnd> analyse_all(InputSet& inputs, Backend* backend, const EngineSettings& settings, Diagnostics& diag,
                             const std::function<void(std::size_t)>& on_done);

}  // namespace faceverify
