// SPDX-License-Identifier: MIT
#pragma once
// The commands: each maps parsed options to the library's modules, writes
// results to `out` and diagnostics through `diag`, and returns the exit
// status. Private to the program (src/app.cpp dispatches).

#include <iosfwd>
#include <string>

#include "faceverify/batch.hpp"
#include "faceverify/batch_report.hpp"
#include "faceverify/cli.hpp"
#include "faceverify/diagnostics.hpp"

namespace faceverify::commands {

int verify(const VerifyOptions& o, std::ostream& out, Diagnostics& diag, int stdin_fd);
int embed(const VerifyOptions& o, std::ostream& out, Diagnostics& diag, int stdin_fd);
int matrix(const VerifyOptions& o, std::ostream& out, Diagnostics& diag, int stdin_fd);
int search(const VerifyOptions& o, std::ostream& out, Diagnostics& diag, int stdin_fd);
int pairs(const VerifyOptions& o, std::ostream& out, Diagnostics& diag, int stdin_fd);
int calibrate(const VerifyOptions& o, std::ostream& out, Diagnostics& diag, int stdin_fd);
int cache_stats(const VerifyOptions& o, std::ostream& out, Diagnostics& diag);
int cache_clear(const VerifyOptions& o, std::ostream& out, Diagnostics& diag);

/// Completes `o` from FACEVERIFY_THRESHOLD and the config file (settings.cpp):
/// option > environment > config file > default; sets threshold_source.
/// `scores` false (embed): only the backend is taken from the config file.
Expected<void> apply_settings(VerifyOptions& o, bool scores);

// Shared by the batch commands (batch_common.cpp).

/// The largest image each backend accepts.
std::size_t max_image_bytes(const VerifyOptions& o);

/// Everything a batch run needs besides its inputs.
struct BatchSetup {
  std::unique_ptr<RequestGate> gate;
  std::unique_ptr<Backend> backend;  // null when every input is an embedding-file record
  EngineSettings engine;
  Provenance provenance;  // the backend's, else the first record's
};

/// Installs the interrupt handlers, checks the inputs are comparable, opens
/// the backend when something needs analysing, and opens the cache.
Expected<BatchSetup> prepare_batch(const VerifyOptions& o, const InputSet& inputs, Diagnostics& diag,
                                   bool want_service_version);

/// Reports `error` (one line) and returns its exit status.
int report_error(Diagnostics& diag, const Error& error);

/// prepare_batch, then analyse_all with no per-image callback: what matrix,
/// search and calibrate do before they score. The setup, or the status to
/// exit with (the error was reported, or the run was interrupted).
std::expected<BatchSetup, int> analyse_inputs(const VerifyOptions& o, InputSet& inputs, Diagnostics& diag);

/// Writes one complete piece of output and flushes it. On failure: a reader
/// that went away (EPIPE) stops the run quietly; other errors are reported.
/// Returns false when the run must stop.
bool emit(std::ostream& out, const std::string& text, Diagnostics& diag);

/// Writes `text` to `path` whole or not at all (temp + rename), so a CI job
/// never reads half a report. Errors (ErrorKind::input) name the file and `what`.
Expected<void> write_output_file(const std::string& path, const std::string& text, std::string_view what);

/// The current UTC time as ISO 8601 ("2026-11-23T06:45:44").
std::string iso_timestamp();

/// The status to exit with once a command returned `status`: 2 when output
/// was lost (a full disk, an I/O error), unless a worse error already won.
int settle_status(int status);

/// The exit status of an interrupted run: 130/143 after a signal, else
/// `status` (stdout closed: the run ended quietly).
int interrupted_status(int status);

/// One entry's summary (no face becomes an error naming the entry).
InputSummary summarize(const InputSet& inputs, std::size_t entry);

/// The score context of a run.
ScoreContext score_context(const VerifyOptions& o, const Provenance& provenance);

}  // namespace faceverify::commands
