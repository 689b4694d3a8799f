// SPDX-License-Identifier: MIT
// faceverify IMAGE1 IMAGE2: the default command. Stateless (no cache): both
// images are analysed at once, within one --timeout budget.
#include <array>
#include <cerrno>
#include <cstring>
#include <future>
#include <ostream>

#include "commands/cli.hpp"
#include "commands/commands.hpp"
#include "faceverify/report.hpp"
#include "faceverify/version.hpp"

namespace faceverify::commands {
namespace {

constexpr const char* k_description =
    "faceverify: are these two photos the same person?\n"
    "Sends each image to the API4AI Face Analyzer (or, with --backend local, analyses it on\n"
    "this machine), compares the two face embeddings and says whether they show the same\n"
    "person. IMAGE is a local file (JPEG, PNG, WebP, BMP, GIF or TIFF, at most 16 MiB), an\n"
    "http:// or https:// URL (the service downloads it), or - for standard input (at most\n"
    "one). With the api4ai backend, photos are uploaded to the chosen service.";

constexpr const char* k_footer = R"(Output:
  Text:  "Similarity is 99.2%." then "It's the same person." or
         "There are different people on the images."
  --json prints one JSON object (verified, similarity, distance, cosine, threshold, images...).
  Similarity = exp(d^7 * ln 0.5 / a^7) for the L2 distance d of the two embeddings;
  it is 50% at d = a (--half-distance). Same person when similarity >= --threshold.

Exit codes:
  0  same person
  1  different people
  2  usage or input error (bad option, unreadable or non-image file, unsafe key file)
  3  no face found in an image
  4  service error: network, TLS, HTTP status, malformed or failed response (after retries)
  5  uncertain: with --uncertain-band W, the similarity is within W of the threshold
  130/143  interrupted by SIGINT/SIGTERM

Environment:
  API4AI_KEY          key for --api api4ai (sent as X-API-KEY)
  RAPIDAPI_KEY        key for --api rapidapi (sent as X-RapidAPI-Key)
  FACEVERIFY_BACKEND  api4ai or local, when neither --backend nor an API option (--api,
                      --api-url, --api-key, --api-key-file: they mean api4ai) is given;
                      it beats the config file's backend. An exported key selects nothing
  FACEVERIFY_MODELS   the local backend's model directory, when --models is not given
  FACEVERIFY_THRESHOLD  the threshold, when -t is not given (before the config file)
  XDG_CONFIG_HOME     the config file is $XDG_CONFIG_HOME/faceverify/config.toml
                      (faceverify calibrate --write-config); option > environment > config
  https_proxy, http_proxy, no_proxy   proxies, as for curl
  XDG_DATA_HOME       models are looked for in $XDG_DATA_HOME/faceverify/models
  Keys are never printed, not even with --verbose.

Examples:
  faceverify alice1.jpg alice2.jpg
  faceverify help pairs                # the same as faceverify pairs --help
  faceverify --json id-photo.png https://example.com/selfie.jpg | jq .similarity
  curl -s https://example.com/a.jpg | faceverify - b.jpg && echo same
  API4AI_KEY=... faceverify --api api4ai --threshold 0.9 a.jpg b.jpg
  faceverify --api-url http://127.0.0.1:8080 a.jpg b.jpg   # a compatible server
  faceverify --backend local a.jpg b.jpg                   # offline: nothing is uploaded
  faceverify me.jsonl b.jpg            # an embedding file (faceverify embed) stands for its image

)";

// The main help's list of commands, from the command table.
std::string commands_help() {
  std::string text = "Commands (faceverify COMMAND --help for each):\n";
  for (const auto& c : command_table()) {
    if (c.name.empty()) continue;
    std::string line = "  " + std::string(c.synopsis);
    line.resize(std::max<std::size_t>(line.size() + 1, 35), ' ');
    text += line + std::string(c.summary) + "\n";
  }
  return text;
}

}  // namespace

void setup(CLI::App& app, VerifyOptions& o) {
  app.description(k_description);
  app.footer(std::string(k_footer) + commands_help());
  app.set_version_flag("--version", std::string("faceverify ") + k_version, "Print the version and exit");
  app.add_option("IMAGE", o.images,
                 "The two images: paths, http(s) URLs, - for stdin (one of them), or embedding files of one image")
      ->required()
      ->type_name("");
  add_service_options(app, o.service);
  add_scoring_options(app, o.scoring);
  add_band_option(app, o.scoring);
  app.add_option("--timeout", o.timeout_seconds,
                 "Give up after SECONDS in all, retries and waits included (default 60)")
      ->check(number_in("a number of seconds greater than 0", 0.0, 1e6, false))
      ->type_name("SECONDS");
  app.add_flag("--json", o.json, "Print one JSON object instead of text");
  app.add_flag("-q,--quiet", o.quiet, "Print nothing on success; the exit code tells the verdict");
  app.add_flag("-v,--verbose", o.verbose, "Log each HTTP attempt (status, duration, retry) on stderr");
}

Expected<void> finish(VerifyOptions& o) {
  if (o.images.size() != 2) {
    return fail(ErrorKind::usage, "expected two images, got " + std::to_string(o.images.size()) +
                                      " (usage: faceverify [OPTIONS] IMAGE1 IMAGE2)");
  }
  if (o.quiet && o.verbose) return fail(ErrorKind::usage, "--quiet and --verbose contradict each other");
  return check_options(o.service, nullptr);
}

int run(VerifyOptions& o, Io& io) {
  const auto started = std::chrono::steady_clock::now();
  Diagnostics& diag = io.diag;
  if (auto ok = resolve_settings(o.service, &o.scoring, diag); !ok) return report_error(diag, ok.error());

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
    auto added = inputs.add(o.images[i], io.stdin_fd, max_image_bytes(o.service.kind));
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
  if (auto refused = inputs.check_backend_reads(o.service.kind); !refused.empty()) {
    for (std::size_t i = 0; i + 1 < refused.size(); ++i) diag.line(refused[i].message);
    return report_error(diag, refused.back());
  }

  // Embedding files need no backend; images do.
  Provenance provenance = subjects.front().provenance;
  std::unique_ptr<Backend> backend;
  std::vector<std::size_t> to_analyse;
  for (std::size_t i = 0; i < subjects.size(); ++i) {
    if (!subjects[i].done) to_analyse.push_back(i);
  }
  if (!to_analyse.empty()) {
    BackendRun run;
    run.deadline = started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(o.timeout_seconds));
    auto opened = open_backend(backend_settings(o.service, o.timeout_seconds, o.verbose), run, diag);
    if (!opened) {
      return report_error(diag, opened.error());
    }
    backend = std::move(*opened);
    auto checked = inputs.check_comparable_before_analysis(*backend, &diag);
    if (!checked) return report_error(diag, checked.error());
    provenance = std::move(*checked);
  } else if (auto ok = inputs.check_comparable(provenance, &diag); !ok) {
    return report_error(diag, ok.error());
  }
  settle_score(o.scoring, provenance.backend);  // the score of the backend these embeddings come from
  if (!to_analyse.empty()) {
    auto analyzer = backend->analyzer();
    if (!analyzer) {
      return report_error(diag, analyzer.error());
    }
    // Both images at once: a verification costs one round trip, not two.
    auto analyse = [&](std::size_t i) {
      Subject& s = subjects[i];
      const auto t0 = std::chrono::steady_clock::now();
      s.analysis = analyse_subject(s, **analyzer, &diag);
      s.elapsed_ms = ms_since(t0);
      s.provenance = s.analysis ? produced_by(provenance, *s.analysis) : provenance;
      s.done = true;
    };
    std::future<void> second;
    if (to_analyse.size() == 2) second = std::async(std::launch::async, analyse, to_analyse[1]);
    analyse(to_analyse[0]);
    if (second.valid()) second.get();
  }

  ExitStatus status;
  for (const std::size_t i : to_analyse) {
    if (!subjects[i].analysis) {
      diag.line(subjects[i].analysis.error().message);
      status.note(subjects[i].analysis.error().kind);
    }
  }
  for (const auto& s : subjects) {
    if (s.from_file && !s.analysis) {
      diag.line(s.label + ": the embedding file records a failed analysis: " + s.analysis.error().message);
      status.note(s.analysis.error().kind);
    }
  }
  if (status.failed()) return status.value();
  // A faceverify server's replies say whose embeddings these are: checked,
  // and the score settled again, for the backend that really made them.
  if (!to_analyse.empty()) {
    auto produced = inputs.produced_provenance(provenance);
    if (!produced) return report_error(diag, produced.error());
    provenance = std::move(*produced);
    settle_score(o.scoring, provenance.backend);
  }

  const Subject& sa = subjects[index[0]];
  const Subject& sb = subjects[index[1]];
  const Analysis& a = *sa.analysis;
  const Analysis& b = *sb.analysis;
  const ScoreOptions& score = o.scoring.score;
  auto comparison = compare_subjects(sa, sb, o.scoring.face, score);
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
  if (o.scoring.face != FacePolicy::best && !o.quiet) {
    const std::array<std::size_t, 2> chosen{comparison->face1, comparison->face2};
    const std::array<const Subject*, 2> both{&sa, &sb};
    for (std::size_t i = 0; i < 2; ++i) {
      const std::size_t n = both[i]->analysis->faces.size();
      if (n > 1 && (i == 0 || &sa != &sb)) {
        diag.line(both[i]->label + ": " + std::to_string(n) + " faces found; comparing the " +
                  (o.scoring.face == FacePolicy::largest ? "largest" : "first") + " (face " +
                  std::to_string(chosen[i] + 1) + "; --face best compares the most similar pair)");
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
  v.threshold_source = o.scoring.threshold_source;
  v.policy = o.scoring.face;
  v.provenance = provenance;
  v.total_ms = ms_since(started);
  v.uncertain_band = o.scoring.uncertain_band;
  // A reader that went away (| head) ends the run quietly; other lost output
  // is recorded in io and must not pass for a verdict (final_status).
  if (!o.quiet) emit(io, o.json ? render_json(v) : render_text(v));
  switch (v.decision()) {
    case Decision::same: return exit_status::same;
    case Decision::different: return exit_status::different;
    case Decision::uncertain: return exit_status::uncertain;
  }
  return exit_status::different;
}

}  // namespace faceverify::commands
