// SPDX-License-Identifier: MIT
// faceverify IMAGE1 IMAGE2: the default command. Stateless (no cache): both
// images are analysed at once, within one --timeout budget.
#include <array>
#include <cerrno>
#include <cstring>
#include <future>
#include <ostream>

#include "commands.hpp"
#include "faceverify/report.hpp"

namespace faceverify::commands {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

long long ms_since(SteadyTime start) {
  return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int verify(const VerifyOptions& o, std::ostream& out, Diagnostics& diag, int stdin_fd) {
  const auto started = std::chrono::steady_clock::now();

  // Everything local is checked before any network traffic or model loading.
  for (const auto& arg : o.images) {
    auto src = classify_image_argument(arg);
    if (!src) {
      return report_error(diag, src.error());
    }
  }
  if (o.images[0] == "-" && o.images[1] == "-") {
    diag.line("standard input (-) can be only one of the two images");
    return exit_status::usage;
  }
  InputSet inputs;
  inputs.release_file_bytes = false;  // two images: keep what was read
  std::array<std::size_t, 2> index{};
  for (std::size_t i = 0; i < 2; ++i) {
    auto added = inputs.add(o.images[i], stdin_fd, max_image_bytes(o));
    if (!added) {
      return report_error(diag, added.error());
    }
    if (added->size() != 1) {
      diag.line(display_name(o.images[i]) + ": holds " + std::to_string(added->size()) +
                " images; faceverify IMAGE1 IMAGE2 takes one per argument (use matrix, search or pairs for "
                "several)");
      return exit_status::usage;
    }
    index[i] = inputs.entries[added->front()].subject;
  }
  auto& subjects = inputs.subjects;
  if (o.backend == BackendKind::local) {
    for (const auto& s : subjects) {
      if (s.image && s.image->source.kind == SourceKind::url) {
        diag.line(s.label +
                  ": the local backend does not download URLs (it never uses the network); download "
                  "the image and pass the file, or use --backend api4ai");
        return exit_status::usage;
      }
    }
  }

  // Embedding files need no backend; images do.
  Provenance provenance = subjects.front().provenance;
  std::unique_ptr<Backend> backend;
  std::vector<std::size_t> to_analyse;
  for (std::size_t i = 0; i < subjects.size(); ++i) {
    if (!subjects[i].done) to_analyse.push_back(i);
  }
  if (!to_analyse.empty()) {
    const auto deadline = started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                        std::chrono::duration<double>(o.timeout_seconds));
    auto opened = Backend::open(o, deadline, diag);
    if (!opened) {
      return report_error(diag, opened.error());
    }
    backend = std::move(*opened);
    provenance = backend->provenance();
  }
  if (auto ok = inputs.check_comparable(provenance); !ok) {
    return report_error(diag, ok.error());
  }
  if (!to_analyse.empty()) {
    auto analyzer = backend->analyzer();
    if (!analyzer) {
      return report_error(diag, analyzer.error());
    }
    // Both images at once: a verification costs one round trip, not two.
    auto analyse = [&](std::size_t i) {
      Subject& s = subjects[i];
      const auto t0 = std::chrono::steady_clock::now();
      s.analysis = analyse_subject(s, **analyzer);
      s.elapsed_ms = ms_since(t0);
      s.provenance = provenance;
      s.done = true;
    };
    std::future<void> second;
    if (to_analyse.size() == 2) second = std::async(std::launch::async, analyse, to_analyse[1]);
    analyse(to_analyse[0]);
    if (second.valid()) second.get();
  }

  int status = 0;
  for (const std::size_t i : to_analyse) {
    if (!subjects[i].analysis) {
      diag.line(subjects[i].analysis.error().message);
      status = std::max(status, exit_code(subjects[i].analysis.error().kind));
    }
  }
  for (const auto& s : subjects) {
    if (s.from_file && !s.analysis) {
      diag.line(s.label + ": the embedding file records a failed analysis: " + s.analysis.error().message);
      status = std::max(status, exit_code(s.analysis.error().kind));
    }
  }
  if (status != 0) return status;

  const Subject& sa = subjects[index[0]];
  const Subject& sb = subjects[index[1]];
  const Analysis& a = *sa.analysis;
  const Analysis& b = *sb.analysis;
  const ScoreOptions score{o.threshold, o.half_distance};
  auto comparison = compare(a, sa.label, b, sb.label, o.face, score);
  if (!comparison) {
    // Report every image without a face, not just the first.
    if (comparison.error().kind == ErrorKind::no_face) {
      for (const auto& s : subjects) {
        if (s.analysis->faces.empty()) diag.line(s.label + ": no face found in the image");
      }
    } else {
      diag.line(comparison.error().message);
    }
    return exit_code(comparison.error().kind);
  }
  if (o.face != FacePolicy::best && !o.quiet) {
    const std::array<std::size_t, 2> chosen{comparison->face1, comparison->face2};
    const std::array<const Subject*, 2> both{&sa, &sb};
    for (std::size_t i = 0; i < 2; ++i) {
      const std::size_t n = both[i]->analysis->faces.size();
      if (n > 1 && (i == 0 || &sa != &sb)) {
        diag.line(both[i]->label + ": " + std::to_string(n) + " faces found; comparing the " +
                  (o.face == FacePolicy::largest ? "largest" : "first") + " (face " + std::to_string(chosen[i] + 1) +
                  "; --face best compares the most similar pair)");
      }
    }
  }

  // Embedding-file records stand in for images in the report.
  std::array<Image, 2> shown;
  for (std::size_t i = 0; i < 2; ++i) {
    const Subject& s = subjects[index[i]];
    if (s.image) {
      shown[i] = *s.image;
      shown[i].bytes.clear();
    } else {
      shown[i].source = ImageSource{SourceKind::file, s.input};
      shown[i].label = s.label;
      shown[i].sha256 = s.sha256;
    }
  }
  Verification v;
  v.images = {ImageResult{&shown[0], &a, sa.elapsed_ms}, ImageResult{&shown[1], &b, sb.elapsed_ms}};
  v.comparison = *comparison;
  v.score = score;
  v.threshold_source = o.threshold_source;
  v.policy = o.face;
  v.provenance = provenance;
  v.total_ms = ms_since(started);
  v.uncertain_band = o.uncertain_band;
  if (!o.quiet) {
    out << (o.json ? render_json(v) : render_text(v)) << std::flush;
    // A reader that went away (| head) ends the run quietly; any other lost
    // output must not pass for a verdict.
    if (!out && errno != EPIPE) {
      diag.line(std::string("cannot write the result to standard output: ") + std::strerror(errno));
      return exit_status::usage;
    }
  }
  switch (v.decision()) {
    case Decision::same: return exit_status::same;
    case Decision::different: return exit_status::different;
    case Decision::uncertain: return exit_status::uncertain;
  }
  return exit_status::different;
}

}  // namespace faceverify::commands
