// SPDX-License-Identifier: MIT
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <ostream>

#include "commands/commands.hpp"
#include "faceverify/file_io.hpp"
#include "faceverify/interrupt.hpp"
#include "faceverify/secrets.hpp"
#include "faceverify/text.hpp"
#include "faceverify/version.hpp"

namespace faceverify::commands {

void BadInputs::note(Diagnostics& diag, const Error& error) {
  diag.line(error.message);
  status.note(error.kind);
  ++count;
}

namespace {

namespace fs = std::filesystem;

// What a gallery file is: an image (by its magic bytes; the name is ignored),
// something else, or a file that cannot be read (a candidate all the same:
// loading it reports why).
enum class GalleryFile { image, other, unreadable };

GalleryFile classify_gallery_file(const fs::path& path) {
  auto fd = open_for_reading(path);
  if (!fd) return GalleryFile::unreadable;
  auto head = read_up_to(fd->get(), 16);
  if (!head) return GalleryFile::unreadable;
  return sniff_format(*head) ? GalleryFile::image : GalleryFile::other;
}

// A name that says image: the extensions of the formats sniff_format knows.
bool named_like_image(const fs::path& path) {
  const std::string ext = ascii_lowercase(path.extension().string());
  for (const char* known : {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}) {
    if (ext == known) return true;
  }
  return false;
}

// Why a gallery entry that is no regular file cannot be an image.
std::string special_file_problem(const fs::directory_entry& entry, fs::file_status st, bool link,
                                 const std::error_code& ec) {
  if (link && st.type() == fs::file_type::not_found) {
    std::error_code le;
    const fs::path target = fs::read_symlink(entry.path(), le);
    return "a symlink to " + (le ? std::string("a file") : display_name(target.string())) +
           ", which does not exist; fix or remove the link";
  }
  const char* what = nullptr;
  switch (st.type()) {
    case fs::file_type::fifo: what = "a FIFO"; break;
    case fs::file_type::socket: what = "a socket"; break;
    case fs::file_type::block:
    case fs::file_type::character: what = "a device"; break;
    default: break;
  }
  if (what != nullptr) {
    return std::string("not a regular file (") + what + "); an image must be a regular file: replace or remove it";
  }
  return "cannot check this gallery file" + (ec ? ": " + ec.message() : std::string()) +
         "; its image would be missed (fix or remove it)";
}

std::string plural(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::vector<std::string> gallery_images(const std::string& dir, Diagnostics& diag, bool quiet, BadInputs& bad) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    bad.note(diag, Error{ErrorKind::input,
                         display_name(dir) + ": --gallery needs a directory" +
                             (fs::exists(dir, ec) ? std::string() : std::string(" (it does not exist)")),
                         {},
                         false,
                         {}});
    return {};
  }
  // A walk of our own rather than recursive_directory_iterator: a folder that
  // cannot be listed is reported (its images would be missing from the
  // answer), and the walk goes on. Directory symlinks are not followed, so a
  // loop cannot trap it.
  std::vector<std::string> files;
  std::vector<std::string> unlisted;
  std::size_t skipped = 0;
  std::size_t linked_folders = 0;  // symlinks to folders: not followed
  std::vector<fs::path> pending{fs::path(dir)};
  while (!pending.empty()) {
    const fs::path folder = std::move(pending.back());
    pending.pop_back();
    fs::directory_iterator it(folder, ec);
    if (ec) {
      unlisted.push_back(display_name(folder.string()) + ": cannot list this gallery folder: " + ec.message() +
                         "; its images would be missed (fix its permissions)");
      continue;
    }
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      if (ec) break;
      // stat, never open: a FIFO would block the walk.
      std::error_code fe;
      const bool link = it->is_symlink(fe);
      const fs::file_status st = it->status(fe);  // what a symlink leads to
      if (fs::is_directory(st)) {
        if (link) {
          ++linked_folders;
        } else {
          pending.push_back(it->path());
        }
        continue;
      }
      if (!fs::is_regular_file(st)) {
        // A FIFO, device or socket, or a symlink that leads nowhere: never an
        // image. Named like one, it is an error (the answer would miss it);
        // otherwise it is counted with the other files that are not images.
        if (!named_like_image(it->path())) {
          ++skipped;
        } else {
          unlisted.push_back(display_name(it->path().string()) + ": " + special_file_problem(*it, st, link, fe));
        }
        continue;
      }
      switch (classify_gallery_file(it->path())) {
        case GalleryFile::image:
        case GalleryFile::unreadable: files.push_back(it->path().string()); break;
        case GalleryFile::other: ++skipped; break;
      }
    }
    if (ec) {
      unlisted.push_back(display_name(folder.string()) + ": cannot list this gallery folder: " + ec.message() +
                         "; its images would be missed (fix its permissions)");
    }
  }
  std::sort(files.begin(), files.end());
  std::sort(unlisted.begin(), unlisted.end());
  for (auto& message : unlisted) bad.note(diag, Error{ErrorKind::input, std::move(message), {}, false, {}});
  if (!quiet && skipped > 0) {
    diag.line(display_name(dir) + ": skipped " +
              plural(skipped, "file that is not an image", "files that are not images"));
  }
  if (!quiet && linked_folders > 0) {
    diag.line(display_name(dir) + ": did not follow " +
              plural(linked_folders, "symlink to a folder", "symlinks to folders") +
              " (the walk follows no folder links; give such a folder as its own input)");
  }
  if (files.empty() && unlisted.empty()) {
    bad.note(diag, Error{ErrorKind::input, display_name(dir) + ": no images in the gallery", {}, false, {}});
  }
  return files;
}

std::vector<std::size_t> add_inputs(InputSet& inputs, const std::vector<std::string>& args,
                                    const ServiceOptions& service, int stdin_fd, Diagnostics& diag, BadInputs& bad) {
  std::vector<std::size_t> entries;
  // "-" twice is a mistake on the command line: say so without reading stdin.
  const bool stdin_twice = std::count(args.begin(), args.end(), "-") + (inputs.stdin_used ? 1 : 0) > 1;
  if (stdin_twice) {
    bad.note(diag, Error{ErrorKind::usage, "standard input (-) can be given only once", {}, false, {}});
  }
  for (const auto& arg : args) {
    if (stdin_twice && arg == "-") continue;
    std::error_code ec;
    if (arg != "-" && arg.find("://") == std::string::npos && fs::is_directory(arg, ec)) {
      bad.note(diag, Error{ErrorKind::input,
                           display_name(arg) + ": is a directory; to use the images in it, give --gallery " +
                               display_name(arg),
                           {},
                           false,
                           {}});
      continue;
    }
    auto added = inputs.add(arg, stdin_fd, max_image_bytes(service.kind));
    if (!added) {
      bad.note(diag, added.error());
      continue;
    }
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
  // Every image the backend cannot read is named; the last one is the error.
  if (auto refused = inputs.check_backend_reads(service.kind); !refused.empty()) {
    for (std::size_t i = 0; i + 1 < refused.size(); ++i) diag.line(refused[i].message);
    return std::unexpected(refused.back());
  }
  if (analyses_images) {
    setup.gate = std::make_unique<RequestGate>(o.max_rps, system_clock_source());
    BackendRun run;
    run.batch.per_image_timeout = std::chrono::duration_cast<Millis>(std::chrono::duration<double>(o.timeout_seconds));
    run.batch.gate = setup.gate.get();
    run.batch.cancel = &interrupted();
    auto settings = backend_settings(service, o.timeout_seconds, o.verbose);
    settings.workers = static_cast<std::size_t>(std::max(1, o.jobs));
    auto backend = open_backend(settings, run, diag);
    if (!backend) return std::unexpected(backend.error());
    setup.backend = std::move(*backend);
    auto checked = inputs.check_comparable_before_analysis(*setup.backend, &diag);
    if (!checked) return std::unexpected(checked.error());
    setup.provenance = std::move(*checked);
    if (!o.no_cache) {
      auto dir = o.cache_dir ? Expected<std::filesystem::path>(*o.cache_dir) : cache::default_directory();
      if (!dir) return std::unexpected(dir.error());
      setup.engine.cache.emplace(*dir);
    }
  } else {
    if (auto ok = inputs.check_comparable(Provenance{}, &diag); !ok) return std::unexpected(ok.error());
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
  // Who made the embeddings is known now (a faceverify server says so in its
  // replies): the score and the output follow it.
  auto produced = inputs.produced_provenance(setup->provenance);
  if (!produced) return std::unexpected(report_error(diag, produced.error()));
  setup->provenance = std::move(*produced);
  return std::move(*setup);
}

bool emit(Io& io, const std::string& text) {
  io.diag.clear_progress();
  io.out << redact_secrets(text) << std::flush;  // no result shows a key, or a part of one
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
  if (auto written = write_file_atomically(path, redact_secrets(text)); !written) {
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

InputSummary summarize(const Subject& s, const std::string& input, const std::string& label) {
  InputSummary in;
  in.input = input;
  in.sha256 = s.sha256;
  if (!s.analysis) {
    in.error = s.analysis.error();
    return in;
  }
  in.faces = s.analysis->faces.size();
  if (s.analysis->faces.empty())
    in.error = Error{ErrorKind::no_face, label + ": no face found in the image", {}, false, {}};
  return in;
}

EmbeddingRecord embedding_record(const InputSet& inputs, std::size_t entry) {
  const Entry& e = inputs.entries[entry];
  const Subject& s = inputs.subjects[e.subject];
  EmbeddingRecord r;
  r.input = e.input;
  r.sha256 = s.sha256;
  r.provenance = s.provenance;
  r.service_version = s.service_version;
  r.tool_version = k_version;
  if (s.analysis) {
    r.analysis = *s.analysis;
  } else {
    r.error = s.analysis.error();
  }
  return r;
}

InputSummary summarize(const InputSet& inputs, std::size_t entry) {
  const Entry& e = inputs.entries[entry];
  return summarize(inputs.subjects[e.subject], e.input, e.label);
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
