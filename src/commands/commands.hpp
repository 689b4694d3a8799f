// SPDX-License-Identifier: MIT
#pragma once
// The commands. Each lives in its own file with a setup (binds its options
// struct to its parser, with its help text), a finish (checks that need
// the whole command line) and a run (maps the options to the library's
// modules, writes results through `io` and returns the exit status). The
// command table below is the one list of them; src/app.cpp dispatches.
// Private to the program.

#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "commands/options.hpp"
#include "faceverify/batch.hpp"
#include "faceverify/batch_report.hpp"
#include "faceverify/diagnostics.hpp"

namespace CLI {
class App;
}  // namespace CLI

namespace faceverify::commands {

/// Where a command writes: results to `out`, diagnostics through `diag`,
/// "-" read from `stdin_fd`. emit() records lost output here.
struct Io {
  std::ostream& out;
  Diagnostics& diag;
  int stdin_fd = 0;
  bool output_lost = false;  // a write to `out` failed (not EPIPE): the run must not pass for a success
};

using CommandOptions = std::variant<VerifyOptions, EmbedOptions, MatrixOptions, SearchOptions, PairsOptions,
                                    CalibrateOptions, CacheOptions, IndexOptions, ServeOptions>;

struct CommandSpec {
  std::string_view name;      // the first argument that selects it; "" for the default command
  std::string_view synopsis;  // "embed IMAGE...", for the main help's list
  std::string_view summary;
  CommandOptions (*make)();  // its options, defaulted; setup/finish/run are chosen by their type
};

/// Every command, the default (verify) first.
std::span<const CommandSpec> command_table();

// Per command, overloaded on its options type (each in its command's file).
void setup(CLI::App& app, VerifyOptions& o);
void setup(CLI::App& app, EmbedOptions& o);
void setup(CLI::App& app, MatrixOptions& o);
void setup(CLI::App& app, SearchOptions& o);
void setup(CLI::App& app, PairsOptions& o);
void setup(CLI::App& app, CalibrateOptions& o);
void setup(CLI::App& app, CacheOptions& o);
void setup(CLI::App& app, IndexOptions& o);
void setup(CLI::App& app, ServeOptions& o);

Expected<void> finish(VerifyOptions& o);
Expected<void> finish(EmbedOptions& o);
Expected<void> finish(MatrixOptions& o);
Expected<void> finish(SearchOptions& o);
Expected<void> finish(PairsOptions& o);
Expected<void> finish(CalibrateOptions& o);
Expected<void> finish(CacheOptions& o);
Expected<void> finish(IndexOptions& o);
Expected<void> finish(ServeOptions& o);

int run(VerifyOptions& o, Io& io);
int run(EmbedOptions& o, Io& io);
int run(MatrixOptions& o, Io& io);
int run(SearchOptions& o, Io& io);
int run(PairsOptions& o, Io& io);
int run(CalibrateOptions& o, Io& io);
int run(CacheOptions& o, Io& io);
int run(IndexOptions& o, Io& io);
int run(ServeOptions& o, Io& io);

/// A parsed command line: a command to run, or a text to print (--help,
/// --version).
struct Invocation {
  CommandOptions options;
  std::optional<std::string> text;  // set: print it and exit 0
};

/// Parses argv (cli.cpp). Usage errors (ErrorKind::usage) carry a one-line
/// message that never echoes an --api-key value.
Expected<Invocation> parse_command_line(int argc, const char* const* argv);

/// Completes the options from the environment and the config file
/// (settings.cpp): option > environment > config file > default. Resolves
/// `service.kind`: --backend, else an API option on the command line (--api,
/// --api-url, --api-key, --api-key-file) means api4ai, else
/// FACEVERIFY_BACKEND, else the config file's backend, else api4ai; and, when
/// `scoring` is given, the score and its source. Usage errors: --backend
/// local with an API option, a bad FACEVERIFY_BACKEND or
/// FACEVERIFY_THRESHOLD, a bad config file, an unreadable --cacert (api4ai).
/// Warnings (a config file's unknown key, a key the demo never sends) go to
/// `diag`. `writes_config` (calibrate --write-config): an explicit --config
/// may be missing.
Expected<void> resolve_settings(ServiceOptions& service, ScoringOptions* scoring, Diagnostics& diag,
                                bool writes_config = false);

/// Settles `scoring.score` and `threshold_source` for embeddings produced by
/// `produced` (their provenance): option > environment > config file >
/// default, where the config file's threshold and half distance count only
/// when it names no backend or `produced`. resolve_settings settles for the
/// run's backend; commands settle again once their inputs' provenance is
/// known (embedding files may come from the other backend).
void settle_score(ScoringOptions& scoring, BackendKind produced);

// Shared by the commands (batch_common.cpp).

/// Everything a batch run needs besides its inputs.
struct BatchSetup {
  std::unique_ptr<RequestGate> gate;
  std::unique_ptr<Backend> backend;  // null when every input is an embedding-file record
  EngineSettings engine;
  Provenance provenance;  // the backend's, else the first record's
};

/// Installs the interrupt handlers, checks the inputs are comparable, opens
/// the backend when something needs analysing, and opens the cache.
/// `machine_output`: stdout carries a machine format (no progress line on a
/// terminal then).
Expected<BatchSetup> prepare_batch(const ServiceOptions& service, const BatchOptions& batch, const InputSet& inputs,
                                   Diagnostics& diag, bool machine_output, bool want_service_version);

/// Reports `error` (one line) and returns its exit status.
int report_error(Diagnostics& diag, const Error& error);

/// prepare_batch, then analyse_all with no per-image callback: what matrix,
/// search and calibrate do before they score. The setup, or the status to
/// exit with (the error was reported, or the run was interrupted).
std::expected<BatchSetup, int> analyse_inputs(const ServiceOptions& service, const BatchOptions& batch,
                                              InputSet& inputs, Diagnostics& diag, bool machine_output);

/// Writes one complete piece of output and flushes it. On failure: a reader
/// that went away (EPIPE) stops the run quietly; other errors are reported
/// and recorded in io.output_lost. Returns false when the run must stop.
bool emit(Io& io, const std::string& text);

/// Writes `text` to `path` whole or not at all (temp + rename), so a CI job
/// never reads half a report. Errors (ErrorKind::input) name the file and `what`.
Expected<void> write_output_file(const std::string& path, const std::string& text, std::string_view what);

/// The files besides the images that a run with `service` reads (--config,
/// --api-key-file, --cacert): inputs no output may overwrite (output_guard).
std::vector<std::string> service_inputs(const ServiceOptions& service);

/// The current UTC time as ISO 8601 ("2026-11-23T06:45:44").
std::string iso_timestamp();

/// The status a run exits with once its command returned `status`: by
/// worse_status() with an interruption (130/143) and lost output (2).
int final_status(int status, const Io& io);

/// The embedding-file record of one entry once analysed (embed prints it,
/// index stores it): its input, the subject's analysis or error, provenance.
EmbeddingRecord embedding_record(const InputSet& inputs, std::size_t entry);

/// One entry's summary (no face becomes an error naming the entry).
InputSummary summarize(const InputSet& inputs, std::size_t entry);
/// The same for a subject outside an InputSet (a gallery record search scanned).
InputSummary summarize(const Subject& subject, const std::string& input, const std::string& label);

/// The score context of a run whose embeddings come from `provenance`: the
/// score settled for its backend (settle_score).
ScoreContext score_context(const ScoringOptions& scoring, const Provenance& provenance);

/// The inputs that could not be loaded: each is reported (one line) as it is
/// found, and the run stops once all were checked, before any request, so a
/// user sees every bad input at once.
struct BadInputs {
  ExitStatus status;
  std::size_t count = 0;
  void note(Diagnostics& diag, const Error& error);
};

/// Loads every argument into `inputs` (in order), with the backend's size
/// limit; the entries they stand for, in argument order. A bad argument is
/// noted in `bad` and the others are still loaded (a directory: the message
/// suggests --gallery).
std::vector<std::size_t> add_inputs(InputSet& inputs, const std::vector<std::string>& args,
                                    const ServiceOptions& service, int stdin_fd, Diagnostics& diag, BadInputs& bad);

/// --gallery DIR: every file under `dir` whose bytes are an image (or that
/// cannot be read, so that loading it reports why), sorted, recursively;
/// directory symlinks are not followed. Files that are not images are skipped
/// with a count (unless `quiet`). A folder that cannot be listed, a `dir`
/// that is not a directory, and a gallery without images are noted in `bad`.
std::vector<std::string> gallery_images(const std::string& dir, Diagnostics& diag, bool quiet, BadInputs& bad);

}  // namespace faceverify::commands
