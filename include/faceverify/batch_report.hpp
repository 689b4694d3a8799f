// SPDX-License-Identifier: MIT
#pragma once
// Renders the batch commands' results: the similarity matrix, search
// rankings and pair records, as text, CSV, JSON or JSON Lines. Renderers
// return strings; the caller writes them. Formats: docs/batch-output.md.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "faceverify/compare.hpp"
#include "faceverify/error.hpp"
#include "faceverify/face.hpp"
#include "faceverify/pairs_file.hpp"

namespace faceverify {

/// Output of the batch commands: matrix and search (text, csv, json), pairs
/// (jsonl, csv).
enum class OutputFormat { text, csv, json, jsonl };

/// What every batch report says about how it scored.
struct ScoreContext {
  ScoreOptions score;
  std::string threshold_source;  // "option" or "default"
  FacePolicy policy = FacePolicy::largest;
  Provenance provenance;
  std::optional<double> uncertain_band;  // --uncertain-band (pairs)
};

/// One input of a matrix or search: what it is and how its analysis went.
struct InputSummary {
  std::string input;
  std::string sha256;                // empty: unknown (URL)
  std::optional<std::size_t> faces;  // nullopt when the analysis failed
  std::optional<Error> error;        // the analysis failed, or no face (ErrorKind::no_face)
};

struct MatrixReport {
  std::vector<InputSummary> inputs;
  std::vector<std::vector<std::optional<Comparison>>> cells;  // [row][column]; nullopt: not comparable
  ScoreContext context;
};

/// Text: an aligned table of percentages with short labels (and a legend when
/// a label is not the input itself). CSV: a header row of inputs, then one row
/// per input, similarity in [0, 1]. JSON: one object.
std::string render_matrix(const MatrixReport& report, OutputFormat format);

/// Short, unique table labels: the file name without directory and
/// extension, cut to `max_width` characters, numbered when two collide.
std::vector<std::string> short_labels(const std::vector<std::string>& inputs, std::size_t max_width = 12);

struct SearchResult {
  InputSummary candidate;
  std::optional<Comparison> comparison;  // nullopt: no face or failed
};

struct SearchReport {
  InputSummary reference;
  std::vector<SearchResult> results;  // ranked: best first, then no face, then errors
  std::size_t shown = 0;              // --top: how many results to print
  ScoreContext context;
  // Candidates scored but not in `results` (a gallery's records beyond
  // --top's margin, all farther than those kept), counted in the totals.
  std::size_t unlisted_candidates = 0;
  std::size_t unlisted_matches = 0;
  std::size_t unlisted_uncertain = 0;
};

/// Ranks `results` in place: by similarity (then input), then candidates
/// without a face, then failed ones.
void rank_results(std::vector<SearchResult>& results);

std::string render_search(const SearchReport& report, OutputFormat format);

struct PairResult {
  std::size_t line = 0;
  std::string image1;
  std::string image2;
  Expectation expected = Expectation::none;
  std::optional<Comparison> comparison;  // set when scored
  std::optional<Error> error;            // set when the pair could not be scored
  double seconds = 0.0;                  // analysis wall time of the slower image

  std::optional<double> uncertain_band;  // copied from the run's --uncertain-band

  /// same/different/uncertain; nullopt when not scored.
  std::optional<Decision> decision(const ScoreOptions& score) const;

  /// nullopt without an expectation, a score, or when uncertain.
  std::optional<bool> as_expected(const ScoreOptions& score) const;
};

/// One JSON Lines record (type "pair") or one CSV row, with '\n'.
std::string render_pair(const PairResult& pair, const ScoreContext& context, OutputFormat format);

/// The CSV header row of render_pair, with '\n'.
std::string pairs_csv_header();

/// A CSV field, quoted when it holds a comma, quote, CR or LF (RFC 4180).
std::string csv_field(std::string_view text);

}  // namespace faceverify
