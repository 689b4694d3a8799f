// SPDX-License-Identifier: MIT
// faceverify search: rank candidates by similarity to one reference face.
#include <filesystem>
#include <fstream>
#include <set>

#include "commands.hpp"
#include "faceverify/interrupt.hpp"

namespace faceverify::commands {
namespace {

namespace fs = std::filesystem;

// Whether the file starts like an image (magic bytes; the name is ignored).
bool looks_like_image(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char head[16] = {};
  in.read(head, sizeof head);
  return sniff_format(std::string_view(head, static_cast<std::size_t>(in.gcount()))).has_value();
}

// Every image file under `dir`, sorted, recursively (directory symlinks are
// not followed, so a loop cannot trap the walk).
Expected<std::vector<std::string>> gallery_images(const std::string& dir, Diagnostics& diag, bool verbose) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return fail(ErrorKind::input, display_name(dir) + ": --gallery needs a directory" +
                                      (fs::exists(dir, ec) ? std::string() : std::string(" (it does not exist)")));
  }
  std::vector<std::string> files;
  std::size_t skipped = 0;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) return fail(ErrorKind::input, display_name(dir) + ": cannot list the gallery: " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return fail(ErrorKind::input, display_name(dir) + ": cannot list the gallery: " + ec.message());
    std::error_code fe;
    if (!it->is_regular_file(fe)) continue;
    if (looks_like_image(it->path())) {
      files.push_back(it->path().string());
    } else {
      ++skipped;
    }
  }
  std::sort(files.begin(), files.end());
  if (verbose && skipped > 0) {
    diag.line(display_name(dir) + ": skipped " + std::to_string(skipped) + " file(s) that are not images");
  }
  if (files.empty()) return fail(ErrorKind::input, display_name(dir) + ": no images in the gallery");
  return files;
}

}  // namespace

int search(const VerifyOptions& o, std::ostream& out, Diagnostics& diag, int stdin_fd) {
  InputSet inputs;
  auto reference = inputs.add(o.reference, stdin_fd, max_image_bytes(o));
  if (!reference) {
    return report_error(diag, reference.error());
  }
  if (reference->size() != 1) {
    diag.line(display_name(o.reference) + ": holds " + std::to_string(reference->size()) +
              " images; the reference must be one (pick its line, e.g. with grep or sed)");
    return exit_status::usage;
  }
  std::vector<std::string> candidates = o.inputs;
  if (o.gallery) {
    auto files = gallery_images(*o.gallery, diag, o.verbose);
    if (!files) {
      return report_error(diag, files.error());
    }
    candidates.insert(candidates.end(), files->begin(), files->end());
  }
  std::vector<std::size_t> candidate_entries;
  std::set<std::string> seen;  // a candidate named twice is ranked once
  for (const auto& arg : candidates) {
    if (!seen.insert(arg).second) continue;
    auto added = inputs.add(arg, stdin_fd, max_image_bytes(o));
    if (!added) {
      return report_error(diag, added.error());
    }
    candidate_entries.insert(candidate_entries.end(), added->begin(), added->end());
  }
  auto setup = analyse_inputs(o, inputs, diag);
  if (!setup) return setup.error();

  const Subject& ref = inputs.subject_of(reference->front());
  SearchReport report;
  report.context = score_context(o, setup->provenance);
  report.reference = summarize(inputs, reference->front());
  if (report.reference.error) {
    diag.line(report.reference.error->message);
    return exit_code(report.reference.error->kind);
  }
  int status = exit_status::different;
  int worst_error = 0;  // 4 service > 2 input: the worst candidate error's status
  for (const std::size_t i : candidate_entries) {
    const Subject& s = inputs.subject_of(i);
    if (&s == &ref) {
      // The same bytes as the reference would always "match": not a finding.
      if (o.verbose) diag.line(inputs.entries[i].label + ": the reference itself; not ranked");
      continue;
    }
    const bool first = inputs.entries[i].first_for_subject;
    SearchResult r;
    r.candidate = summarize(inputs, i);
    if (r.candidate.error) {
      if (r.candidate.error->kind != ErrorKind::no_face) {
        worst_error = std::max(worst_error, exit_code(r.candidate.error->kind));
        if (first) diag.line(r.candidate.error->message);
      } else if (first) {
        diag.line(r.candidate.error->message);
      }
    } else {
      auto c = compare(*ref.analysis, ref.label, *s.analysis, s.label, o.face, report.context.score);
      if (c) {
        r.comparison = *c;
        const Decision d = decide(c->similarity, report.context.score, o.uncertain_band);
        if (d == Decision::same) status = exit_status::same;
        if (d == Decision::uncertain && status == exit_status::different) status = exit_status::uncertain;
      } else {
        worst_error = std::max(worst_error, exit_code(c.error().kind));
        r.candidate.error = c.error();
        diag.line(c.error().message);
      }
    }
    report.results.push_back(std::move(r));
  }
  rank_results(report.results);
  report.shown = o.top ? std::min(*o.top, report.results.size()) : report.results.size();
  if (!emit(out, render_search(report, o.format), diag)) return interrupted_status(status);
  return worst_error != 0 ? worst_error : status;  // an error outranks a verdict
}

}  // namespace faceverify::commands
