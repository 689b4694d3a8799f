// SPDX-License-Identifier: MIT
// faceverify pairs: every pair of a CSV/TSV list, one record each, streamed;
// a summary on stderr and optionally a JUnit report.
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>

#include "commands/cli.hpp"
#include "commands/commands.hpp"
#include "faceverify/file_io.hpp"
#include "faceverify/interrupt.hpp"
#include "faceverify/junit.hpp"
#include "faceverify/output_guard.hpp"
#include "faceverify/pairs_file.hpp"

namespace faceverify::commands {
namespace {

constexpr const char* k_footer =
    R"(Input: one pair per line, image1,image2[,expected] (comma or tab separated, optional header,
# comments; expected is same or different). Relative paths are relative to the current
directory. Format: docs/pairs-file.md.

Output: one record per pair (verdict, similarity, distance, error) as JSON Lines (type "pair")
or CSV; a failing pair is reported and the run goes on. A summary goes to stderr.
--junit FILE also writes a JUnit XML report (a failure per contradicted pair, an error per
pair that could not be scored); FILE must be new, empty or a JUnit report, never an input.

Exit codes: 0 every pair scored and as expected; 1 a verdict contradicted its expected label;
  5 (with --uncertain-band) a pair was uncertain; when a pair errored, the worst error's code
  wins over all of those: 4 service error, 3 no face, 2 bad row or unreadable image;
  2 also for a usage error or an unreadable pairs file (before any work); 130/143 interrupted.

Examples:
  faceverify pairs pairs.csv > results.jsonl
  faceverify pairs --junit faces.xml --format csv tests/pairs.tsv
  printf 'a.jpg,b.jpg,same\n' | faceverify pairs -
)";

const std::map<std::string, OutputFormat>& stream_formats() {
  static const std::map<std::string, OutputFormat> m = {
      {"jsonl", OutputFormat::jsonl}, {"json", OutputFormat::jsonl}, {"csv", OutputFormat::csv}};
  return m;
}

constexpr std::size_t k_max_pairs_file_bytes = 64u * 1024u * 1024u;

Expected<std::string> read_pairs_file(const std::string& spec, int stdin_fd) {
  const bool from_stdin = spec == "-";
  const std::string label = from_stdin ? "stdin" : display_name(spec);
  auto text =
      from_stdin ? read_at_most(stdin_fd, k_max_pairs_file_bytes) : read_file_at_most(spec, k_max_pairs_file_bytes);
  if (text) return std::move(*text);
  switch (text.error().step) {
    case ReadError::Step::open:
      return fail(ErrorKind::input, label + ": cannot open the pairs file: " + std::strerror(text.error().err));
    case ReadError::Step::directory: return fail(ErrorKind::input, label + ": is a directory (expected a pairs file)");
    case ReadError::Step::too_large: return fail(ErrorKind::input, label + ": pairs file larger than 64 MiB; split it");
    case ReadError::Step::stat:
    case ReadError::Step::read: break;
  }
  return fail(ErrorKind::input, label + ": cannot read the pairs file: " + std::strerror(text.error().err));
}

// One pair to score: two subjects, or an error known before any analysis.
struct PendingPair {
  PairResult result;
  std::size_t a = 0;
  std::size_t b = 0;
  bool ready = false;  // scored or failed; record not yet printed
  bool printed = false;
  bool row_error = false;  // the row itself is malformed
};

JunitCase junit_case(const PairResult& p, const ScoreOptions& score) {
  JunitCase c;
  c.classname = "faceverify.pairs";
  c.name = "line " + std::to_string(p.line) + ": " + p.image1 + " vs " + p.image2;
  c.seconds = p.seconds;
  if (p.error) {
    c.outcome = JunitCase::Outcome::errored;
    c.message = p.error->message;
    c.type = std::string(kind_name(p.error->kind));
  } else if (p.as_expected(score) == false) {
    c.outcome = JunitCase::Outcome::failed;
    c.type = "contradiction";
    c.message = "expected " + std::string(expectation_name(p.expected)) + ", got " +
                std::string(decision_name(*p.decision(score)));
  }
  if (p.comparison) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "similarity %.6f, distance %.6f", p.comparison->similarity, p.comparison->distance);
    c.system_out = buf;
    if (c.outcome == JunitCase::Outcome::failed) c.message += " (" + std::string(buf) + ")";
  }
  return c;
}

}  // namespace

void setup(CLI::App& app, PairsOptions& o) {
  app.description(
      "faceverify pairs: verify every pair of a CSV/TSV list, for evaluation and CI.\n"
      "Each image of the list may be a file, an http(s) URL or an embedding file (faceverify embed;\n"
      "one of several images stands for all of them). Each distinct image is analysed once per run\n"
      "and cached, so a rerun costs no request.");
  app.footer(k_footer);
  app.add_option("FILE", o.pairs_file, "The pairs file, or - for standard input")->required()->type_name("");
  app.add_option("--junit", o.junit, "Also write a JUnit XML report to FILE")->type_name("FILE");
  add_band_option(app, o.scoring);
  app.add_option("--format", o.format, "Output: jsonl (default; JSON Lines) or csv")
      ->transform(one_of(stream_formats()))
      ->type_name("FORMAT");
  // Defined after --format, so its callback runs last: --json wins.
  app.add_flag_callback(
      "--json", [&o] { o.format = OutputFormat::jsonl; }, "Same as --format jsonl");
  add_service_options(app, o.service);
  add_scoring_options(app, o.scoring);
  add_batch_options(app, o.batch, /*streaming=*/true);
}

Expected<void> finish(PairsOptions& o) {
  return check_options(o.service, &o.batch);
}

int run(PairsOptions& o, Io& io) {
  const auto started = std::chrono::steady_clock::now();
  Diagnostics& diag = io.diag;
  if (auto ok = resolve_settings(o.service, &o.scoring, diag); !ok) return report_error(diag, ok.error());
  const int stdin_fd = io.stdin_fd;
  auto text = read_pairs_file(o.pairs_file, stdin_fd);
  if (!text) {
    return report_error(diag, text.error());
  }
  const auto rows = parse_pairs(*text);
  if (rows.empty()) {
    diag.line((o.pairs_file == "-" ? std::string("stdin") : display_name(o.pairs_file)) +
              ": no pairs (expected lines of image1,image2[,expected])");
    return exit_status::usage;
  }
  // The report must not replace an input or a file that is not a report;
  // both are known before any request.
  if (o.junit) {
    std::vector<std::string> read_files = service_inputs(o.service);
    if (o.pairs_file != "-") read_files.push_back(o.pairs_file);
    for (const auto& row : rows) {
      if (row.error) continue;
      read_files.push_back(row.image1);
      read_files.push_back(row.image2);
    }
    if (auto ok = check_outputs({PlannedOutput{"--junit", *o.junit, OutputKind::junit}}, read_files,
                                o.pairs_file == "-" ? stdin_fd : -1);
        !ok) {
      return report_error(diag, ok.error());
    }
  }

  // Load every image once (a missing file fails its pairs, not the run).
  InputSet inputs;
  inputs.stdin_used = o.pairs_file == "-";
  std::map<std::string, Expected<std::vector<std::size_t>>> loaded;
  auto load = [&](const std::string& arg) -> const Expected<std::vector<std::size_t>>& {
    auto it = loaded.find(arg);
    if (it == loaded.end()) {
      auto added = arg == "-" ? Expected<std::vector<std::size_t>>(
                                    fail(ErrorKind::usage, "-: standard input cannot be an image inside a pairs file"))
                              : inputs.add(arg, stdin_fd, max_image_bytes(o.service.kind));
      it = loaded.emplace(arg, std::move(added)).first;
    }
    return it->second;
  };
  std::vector<PendingPair> pending;
  for (const auto& row : rows) {
    PendingPair p;
    p.result.line = row.line;
    p.result.image1 = row.image1;
    p.result.image2 = row.image2;
    p.result.expected = row.expected;
    if (row.error) {
      p.result.error = Error{ErrorKind::usage, *row.error, {}, false, {}};
      p.ready = true;
      p.row_error = true;
      pending.push_back(std::move(p));
      continue;
    }
    const auto& first = load(row.image1);
    const auto& second = load(row.image2);
    if (!first || !second) {
      p.result.error = !first ? first.error() : second.error();
      p.ready = true;
      pending.push_back(std::move(p));
      continue;
    }
    // An embedding file stands for all its images: every combination is a pair.
    for (const std::size_t a : *first) {
      for (const std::size_t b : *second) {
        PendingPair q = p;
        q.a = inputs.entries[a].subject;
        q.b = inputs.entries[b].subject;
        if (first->size() > 1) q.result.image1 = inputs.entries[a].input;
        if (second->size() > 1) q.result.image2 = inputs.entries[b].input;
        pending.push_back(std::move(q));
      }
    }
  }

  auto setup = prepare_batch(o.service, o.batch, inputs, diag, /*machine_output=*/true, false);
  if (!setup) {
    return report_error(diag, setup.error());
  }
  const ScoreContext context = score_context(o.scoring, setup->provenance);

  std::map<std::size_t, std::vector<std::size_t>> pairs_of;  // subject -> pending pairs
  for (std::size_t k = 0; k < pending.size(); ++k) {
    if (pending[k].ready) continue;
    pairs_of[pending[k].a].push_back(k);
    if (pending[k].b != pending[k].a) pairs_of[pending[k].b].push_back(k);
  }

  std::size_t same = 0, different = 0, uncertain = 0, errors = 0, contradicted = 0, scored = 0;
  ExitStatus status;  // pair errors, contradictions and uncertain pairs, by worse_status
  bool writing = true;
  if (o.format == OutputFormat::csv) writing = emit(io, pairs_csv_header());
  std::size_t next = 0;
  auto print = [&](PendingPair& p) {
    p.printed = true;
    const PairResult& r = p.result;
    if (r.error) {
      ++errors;
      status.note(r.error->kind);
      // Row errors already name their line.
      diag.line(p.row_error ? r.error->message : "line " + std::to_string(r.line) + ": " + r.error->message);
    } else {
      ++scored;
      const Decision d = *r.decision(context.score);
      (d == Decision::same ? same : d == Decision::different ? different : uncertain) += 1;
      if (d == Decision::uncertain) status.note(exit_status::uncertain);
      if (r.as_expected(context.score) == false) {
        ++contradicted;
        status.note(exit_status::different);
      }
    }
    if (writing) writing = emit(io, render_pair(r, context, o.format));
  };
  auto flush_ready = [&] {
    if (o.batch.ordered) {
      while (next < pending.size() && pending[next].ready) print(pending[next++]);
    } else {
      for (auto& p : pending) {
        if (p.ready && !p.printed) print(p);
      }
    }
  };
  auto score = [&](PendingPair& p) {
    const Subject& a = inputs.subjects[p.a];
    const Subject& b = inputs.subjects[p.b];
    p.result.seconds = static_cast<double>(std::max(a.elapsed_ms, b.elapsed_ms)) / 1000.0;
    if (!a.analysis || !b.analysis) {
      p.result.error = !a.analysis ? a.analysis.error() : b.analysis.error();
    } else {
      auto c = compare_subjects(a, b, o.scoring.face, context.score);
      if (c) {
        p.result.comparison = *c;
      } else {
        p.result.error = c.error();
      }
    }
    p.result.uncertain_band = o.scoring.uncertain_band;
    p.ready = true;
  };
  flush_ready();  // rows that failed before any analysis
  auto ended = analyse_all(inputs, setup->backend.get(), setup->engine, diag, [&](std::size_t i) {
    for (const std::size_t k : pairs_of[i]) {
      PendingPair& p = pending[k];
      if (!p.ready && inputs.subjects[p.a].done && inputs.subjects[p.b].done) {
        score(p);
        if (o.batch.ordered) {
          flush_ready();
        } else {
          print(p);
        }
      }
    }
  });
  if (!ended) {
    return report_error(diag, ended.error());
  }
  const bool interrupted_run = *ended == RunEnd::interrupted;
  if (!interrupted_run) flush_ready();

  if (!o.batch.quiet && !(interrupted_run && interrupt_signal() == 0)) {
    std::string summary = std::to_string(scored + errors) + (scored + errors == 1 ? " pair" : " pairs");
    if (interrupted_run) summary += " of " + std::to_string(pending.size()) + " before the interruption";
    summary += ": " + std::to_string(same) + " same, " + std::to_string(different) + " different, ";
    if (o.scoring.uncertain_band) summary += std::to_string(uncertain) + " uncertain, ";
    summary += std::to_string(errors) + (errors == 1 ? " error" : " errors");
    if (contradicted > 0) {
      summary += "; " + std::to_string(contradicted) +
                 (contradicted == 1 ? " contradicts its expected label" : " contradict their expected labels");
    }
    diag.line("pairs: " + summary);
  }
  if (o.junit) {
    JunitSuite suite;
    suite.timestamp = iso_timestamp();
    suite.seconds =
        static_cast<double>(std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started).count()) /
        1000.0;
    for (const auto& p : pending) {
      if (p.printed) suite.cases.push_back(junit_case(p.result, context.score));
    }
    if (auto written = write_output_file(*o.junit, render_junit(suite), "the JUnit report"); !written) {
      diag.line(written.error().message);
      status.note(written.error().kind);  // a lost report is an error: it outranks a verdict
    }
  }
  return status.value();
}

}  // namespace faceverify::commands
