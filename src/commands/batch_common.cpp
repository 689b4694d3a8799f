// SPDX-License-Identifier: MIT
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <ostream>

#include "commands/commands.hpp"
#include "faceverify/file_io.hpp"
#include "faceverify/interrupt.hpp"

namespace faceverify::commands {

Expected<std::vector<std::size_t>> add_inputs(InputSet& inputs, const std::vector<std::string>& args,
                                              const ServiceOptions& service, int stdin_fd) {
  std::vector<std::size_t> entries;
  for (const auto& arg : args) {
    auto added = inputs.add(arg, stdin_fd, max_image_bytes(service.kind));
    if (!added) return std::unexpected(added.error());
    entries.insert(entries.end(), added->begin(), added->end());
  }
  return entries;
}

Expected<BatchSetup> prepare_batch(const ServiceOptions& service, const BatchOptions& o, const InputSet& inputs,
                                   Diagnostics& diag, bool machine_output, bool want_service_version) {
  BatchSetup setup;
  install_interrupt_handlers();
  const bool analyses_images =
      std::any_of(inputs.subjects.begin(), inputs.subjects.end(), [](const Subject& s) { return !s.from_file; });
  if (auto ok = inputs.check_backend_reads(service.kind); !ok) return std::unexpected(ok.error());
  if (analyses_images) {
    setup.gate = std::make_unique<RequestGate>(o.max_rps, system_clock_source());
    BackendRun run;
    run.batch.per_image_timeout = std::chrono::duration_cast<Millis>(std::chrono::duration<double>(o.timeout_seconds));
    run.batch.gate = setup.gate.get();
    run.batch.cancel = &interrupted();
    auto backend = open_backend(backend_settings(service, o.timeout_seconds, o.verbose), run, diag);
    if (!backend) return std::unexpected(backend.error());
    setup.backend = std::move(*backend);
    setup.provenance = setup.backend->provenance();
    if (auto ok = inputs.check_comparable(setup.provenance); !ok) return std::unexpected(ok.error());
    if (!o.no_cache) {
      auto dir = o.cache_dir ? Expected<std::filesystem::path>(*o.cache_dir) : cache::default_directory();
      if (!dir) return std::unexpected(dir.error());
      setup.engine.cache.emplace(*dir);
    }
  } else {
    if (auto ok = inputs.check_comparable(Provenance{}); !ok) return std::unexpected(ok.error());
    if (!inputs.subjects.empty()) setup.provenance = inputs.subjects.front().provenance;
  }
  setup.engine.jobs = o.jobs;
  setup.engine.want_service_version = want_service_version;
  // A machine format on a terminal must not be interleaved with progress.
  setup.engine.progress = progress_wanted(o.quiet) && !(machine_output && ::isatty(STDOUT_FILENO));
  if (setup.engine.progress) diag.enable_progress();
  return setup;
}

int report_error(Diagnostics& diag, const Error& error) {
  diag.line(error.message);
  return exit_code(error.kind);
}

std::expected<BatchSetup, int> analyse_inputs(const ServiceOptions& service, const BatchOptions& batch,
                                              InputSet& inputs, Diagnostics& diag, bool machine_output) {
  auto setup = prepare_batch(service, batch, inputs, diag, machine_output, false);
  if (!setup) return std::unexpected(report_error(diag, setup.error()));
  auto ended = analyse_all(inputs, setup->backend.get(), setup->engine, diag, [](std::size_t) {});
  if (!ended) return std::unexpected(report_error(diag, ended.error()));
  // Interrupted: final_status turns this into 130/143 (a closed stdout: quietly 4).
  if (*ended == RunEnd::interrupted) return std::unexpected(exit_status::service);
  return std::move(*setup);
}

bool emit(Io& io, const std::string& text) {
  io.diag.clear_progress();
  io.out << text << std::flush;
  if (io.out) return true;
  // A write cut by SIGINT/SIGTERM (EINTR): the interruption says it all.
  if (errno != EPIPE && !(errno == EINTR && interrupt_signal() != 0)) {
    io.diag.line(std::string("cannot write to standard output: ") + std::strerror(errno));
    io.output_lost = true;
  }
  request_stop();
  return false;
}

int final_status(int status, const Io& io) {
  // Results that could not be written must not pass for success or a
  // verdict; a reader that went away (EPIPE) is not an error.
  if (io.output_lost) status = worse_status(status, exit_status::usage);
  if (interrupt_signal() != 0) status = worse_status(status, interrupted_exit_code());
  return status;
}

Expected<void> write_output_file(const std::string& path, const std::string& text, std::string_view what) {
  if (auto written = write_file_atomically(path, text); !written) {
    return fail(ErrorKind::input,
                display_name(path) + ": cannot write " + std::string(what) + ": " + std::strerror(written.error()));
  }
  return {};
}

std::vector<std::string> service_inputs(const ServiceOptions& service) {
  std::vector<std::string> files;
  for (const auto* file : {&service.config_file, &service.api_key_file, &service.cacert}) {
    if (*file) files.push_back(**file);
  }
  return files;
}

std::string iso_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

InputSummary summarize(const InputSet& inputs, std::size_t entry) {
  const Entry& e = inputs.entries[entry];
  const Subject& s = inputs.subjects[e.subject];
  InputSummary in;
  in.input = e.input;
  in.sha256 = s.sha256;
  if (!s.analysis) {
    in.error = s.analysis.error();
    return in;
  }
  in.faces = s.analysis->faces.size();
  if (s.analysis->faces.empty())
    in.error = Error{ErrorKind::no_face, e.label + ": no face found in the image", {}, false, {}};
  return in;
}

ScoreContext score_context(const ScoringOptions& o, const Provenance& provenance) {
  ScoringOptions settled = o;
  settle_score(settled, provenance.backend);
  ScoreContext c;
  c.score = settled.score;
  c.threshold_source = settled.threshold_source;
  c.policy = o.face;
  c.provenance = provenance;
  c.uncertain_band = o.uncertain_band;
  return c;
}

}  // namespace faceverify::commands
