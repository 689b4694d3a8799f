// SPDX-License-Identifier: MIT
// faceverify pairs: every pair of a CSV/TSV list, one record each, streamed;
// a summary on stderr and optionally a JUnit report.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <unordered_map>

#include "commands/cli.hpp"
#include "commands/commands.hpp"
#include "faceverify/file_io.hpp"
#include "faceverify/interrupt.hpp"
#include "faceverify/junit.hpp"
#include "faceverify/output_guard.hpp"
#include "faceverify/pairs_file.hpp"
#include "faceverify/work_limits.hpp"

namespace faceverify::commands {
namespace {

constexpr const char* k_footer =
    R"(Input: one pair per line, image1,image2[,expected] (comma or tab separated, optional header,
# comments; expected is same or different). Relative paths are relative to the current
directory, or to --base-dir DIR. An embedding file stands for all its images (every image of
one side is paired with every image of the other); at most 10000000 pairs a run, and 100000
with --junit. Format: docs/pairs-file.md.

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
  faceverify pairs --base-dir tests/ tests/pairs.tsv      # paths in the file are relative to tests/
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

// One row of the pairs file. An embedding file stands for all its images, so
// a row may be many pairs (every image of one side with every image of the
// other); they are formed, scored and written one at a time when the row's
// images are all analysed, never held.
struct PendingRow {
  PairResult base;       // line, image1, image2, expected; or the error known before any analysis
  std::size_t arg1 = 0;  // into the run's arguments
  std::size_t arg2 = 0;
  std::size_t pairs = 1;   // how many pairs it stands for
  bool failed = false;     // its error is known before any analysis
  bool row_error = false;  // the row itself is malformed
  bool ready = false;      // its images are analysed (or it failed)
  bool printed = false;
};

// One distinct image argument of the file (resolved), its entries, and how
// many of its subjects are still being analysed.
struct PairsArgument {
  Expected<std::vector<std::size_t>> entries = fail(ErrorKind::internal, "not loaded");
  std::size_t remaining = 0;
  std::vector<std::size_t> rows;  // the rows naming it
};

namespace fs = std::filesystem;

// Where a relative path of the pairs file is read from: the current
// directory, or --base-dir. URLs, absolute paths and "-" are taken as given.
std::string resolve_path(const std::string& arg, const std::optional<std::string>& base_dir) {
  if (!base_dir || arg == "-" || arg.find("://") != std::string::npos || fs::path(arg).is_absolute()) return arg;
  return (fs::path(*base_dir) / arg).string();
}

// A file that is missing where the path points but exists next to the pairs
// file: the likely mistake, said in the message.
std::string next_to_pairs_file_hint(const std::string& arg, const std::string& resolved, const PairsOptions& o) {
  if (o.pairs_file == "-" || arg.find("://") != std::string::npos || fs::path(arg).is_absolute()) return {};
  std::error_code ec;
  if (fs::exists(resolved, ec)) return {};
  const fs::path dir = fs::path(o.pairs_file).parent_path();
  const fs::path beside = (dir.empty() ? fs::path(".") : dir) / arg;
  if (beside.lexically_normal() == fs::path(resolved).lexically_normal() || !fs::exists(beside, ec)) return {};
  const std::string dir_text = display_name(dir.empty() ? std::string(".") : dir.string());
  return "; " + display_name(beside.string()) + " exists next to the pairs file, but relative paths are read from " +
         (o.base_dir ? display_name(*o.base_dir) : std::string("the current directory")) + ": add --base-dir " +
         dir_text;
}

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
  app.add_option("--base-dir", o.base_dir,
                 "Resolve the file's relative image paths against DIR (default: the current directory)")
      ->type_name("DIR");
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
  std::error_code ec;
  if (o.base_dir && !fs::is_directory(*o.base_dir, ec)) {
    return fail(ErrorKind::usage, "--base-dir " + display_name(*o.base_dir) + ": not a directory" +
                                      (fs::exists(*o.base_dir, ec) ? "" : " (it does not exist)"));
  }
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
      read_files.push_back(resolve_path(row.image1, o.base_dir));
      read_files.push_back(resolve_path(row.image2, o.base_dir));
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
  std::vector<PairsArgument> args;
  std::unordered_map<std::string, std::size_t> arg_index;
  auto load = [&](const std::string& arg) -> std::size_t {
    const auto [it, added] = arg_index.emplace(arg, args.size());
    if (!added) return it->second;
    PairsArgument a;
    const std::string resolved = resolve_path(arg, o.base_dir);
    a.entries = arg == "-" ? Expected<std::vector<std::size_t>>(
                                 fail(ErrorKind::usage, "-: standard input cannot be an image inside a pairs file"))
                           : inputs.add(resolved, stdin_fd, max_image_bytes(o.service.kind));
    if (!a.entries) {
      a.entries.error().message += next_to_pairs_file_hint(arg, resolved, o);
    } else if (a.entries->empty()) {
      a.entries = fail(ErrorKind::input, display_name(arg) + ": holds no images");
    }
    args.push_back(std::move(a));
    return args.size() - 1;
  };
  std::vector<PendingRow> pending;
  pending.reserve(rows.size());
  std::size_t total = 0;  // pairs, counted without wrapping
  std::size_t biggest = 0;
  std::string biggest_text;
  for (const auto& row : rows) {
    PendingRow p;
    p.base.line = row.line;
    p.base.image1 = row.image1;
    p.base.image2 = row.image2;
    p.base.expected = row.expected;
    if (row.error) {
      p.base.error = Error{ErrorKind::usage, *row.error, {}, false, {}};
      p.failed = p.ready = p.row_error = true;
    } else {
      p.arg1 = load(row.image1);
      p.arg2 = load(row.image2);
      const auto& first = args[p.arg1].entries;
      const auto& second = args[p.arg2].entries;
      if (!first || !second) {
        p.base.error = !first ? first.error() : second.error();
        p.failed = p.ready = true;
      } else {
        p.pairs = pair_product(first->size(), second->size());
        if (p.pairs > biggest && p.pairs > 1) {
          biggest = p.pairs;
          biggest_text = "line " + std::to_string(row.line) + " alone is " + std::to_string(first->size()) + " x " +
                         std::to_string(second->size()) + " images: an embedding file stands for all its images";
        }
      }
    }
    total = saturating_add(total, p.pairs);
    pending.push_back(std::move(p));
  }
  const std::string source = o.pairs_file == "-" ? std::string("stdin") : display_name(o.pairs_file);
  if (auto ok = check_pair_count(source, total, biggest_text, o.junit.has_value()); !ok) {
    return report_error(diag, ok.error());
  }
  for (std::size_t k = 0; k < pending.size(); ++k) {
    if (pending[k].failed) continue;
    args[pending[k].arg1].rows.push_back(k);
    if (pending[k].arg2 != pending[k].arg1) args[pending[k].arg2].rows.push_back(k);
  }

  auto setup = prepare_batch(o.service, o.batch, inputs, diag, /*machine_output=*/true, false);
  if (!setup) {
    return report_error(diag, setup.error());
  }
  ScoreContext context = score_context(o.scoring, setup->provenance);
  // A faceverify server's replies say whose embeddings these are: the first
  // pair scored settles the score for the backend that made them.
  bool context_settled = !setup->backend;

  // Subject -> the arguments it belongs to; each argument waits for its subjects.
  std::vector<std::vector<std::size_t>> args_of(inputs.subjects.size());
  for (std::size_t k = 0; k < args.size(); ++k) {
    if (!args[k].entries) continue;
    std::vector<std::size_t> subjects;
    for (const std::size_t e : *args[k].entries) subjects.push_back(inputs.entries[e].subject);
    std::sort(subjects.begin(), subjects.end());
    subjects.erase(std::unique(subjects.begin(), subjects.end()), subjects.end());
    args[k].remaining = subjects.size();
    for (const std::size_t s : subjects) args_of[s].push_back(k);
  }

  std::size_t same = 0, different = 0, uncertain = 0, errors = 0, contradicted = 0, scored = 0;
  ExitStatus status;  // pair errors, contradictions and uncertain pairs, by worse_status
  bool writing = true;
  std::string buffer;  // whole records, written in chunks: a row of many pairs is not a write per pair
  auto flush_output = [&] {
    if (writing && !buffer.empty()) writing = emit(io, buffer);
    buffer.clear();
  };
  if (o.format == OutputFormat::csv) buffer = pairs_csv_header();
  JunitSuite suite;
  const auto& cancel = interrupted();
  auto print_pair = [&](const PairResult& r, bool row_error) {
    if (r.error) {
      ++errors;
      status.note(r.error->kind);
      // Row errors already name their line.
      flush_output();  // the error line after the records before it
      diag.line(row_error ? r.error->message : "line " + std::to_string(r.line) + ": " + r.error->message);
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
    if (writing) buffer += render_pair(r, context, o.format);
    if (buffer.size() >= 64 * 1024) flush_output();
    if (o.junit) suite.cases.push_back(junit_case(r, context.score));
  };
  auto print_row = [&](PendingRow& p) {
    p.printed = true;
    if (p.failed) {
      print_pair(p.base, p.row_error);
      return;
    }
    const auto& first = *args[p.arg1].entries;
    const auto& second = *args[p.arg2].entries;
    for (const std::size_t ea : first) {
      for (const std::size_t eb : second) {
        if (cancel.load()) return;  // Ctrl-C, or the reader went away
        PairResult r = p.base;
        if (first.size() > 1) r.image1 = inputs.entries[ea].input;
        if (second.size() > 1) r.image2 = inputs.entries[eb].input;
        const Subject& a = inputs.subject_of(ea);
        const Subject& b = inputs.subject_of(eb);
        r.seconds = static_cast<double>(std::max(a.elapsed_ms, b.elapsed_ms)) / 1000.0;
        if (a.analysis && b.analysis && !context_settled) {
          context = score_context(o.scoring, a.from_file ? b.provenance : a.provenance);
          context_settled = true;
        }
        if (!a.analysis || !b.analysis) {
          r.error = !a.analysis ? a.analysis.error() : b.analysis.error();
        } else if (auto c = compare_subjects(a, b, o.scoring.face, context.score)) {
          r.comparison = *c;
        } else {
          r.error = c.error();
        }
        r.uncertain_band = o.scoring.uncertain_band;
        print_pair(r, false);
      }
    }
  };
  std::size_t next = 0;  // --ordered: the next row to print
  auto flush_ready = [&] {
    if (o.batch.ordered) {
      while (next < pending.size() && pending[next].ready && !cancel.load()) print_row(pending[next++]);
    } else {
      for (auto& p : pending) {
        if (cancel.load()) break;
        if (p.ready && !p.printed) print_row(p);
      }
    }
    flush_output();
  };
  flush_ready();  // rows that failed before any analysis
  auto ended = analyse_all(inputs, setup->backend.get(), setup->engine, diag, [&](std::size_t subject) {
    for (const std::size_t k : args_of[subject]) {
      if (--args[k].remaining > 0) continue;
      for (const std::size_t row : args[k].rows) {
        PendingRow& p = pending[row];
        if (p.ready || args[p.arg1].remaining > 0 || args[p.arg2].remaining > 0) continue;
        p.ready = true;
        if (!o.batch.ordered && !cancel.load()) print_row(p);
      }
    }
    if (o.batch.ordered) {
      flush_ready();
    } else {
      flush_output();
    }
  });
  if (!ended) {
    return report_error(diag, ended.error());
  }
  const bool interrupted_run = *ended == RunEnd::interrupted || cancel.load();
  if (!interrupted_run) flush_ready();
  flush_output();

  if (!o.batch.quiet && !(interrupted_run && interrupt_signal() == 0)) {
    std::string summary = std::to_string(scored + errors) + (scored + errors == 1 ? " pair" : " pairs");
    if (interrupted_run) summary += " of " + std::to_string(total) + " before the interruption";
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
    suite.timestamp = iso_timestamp();
    suite.seconds =
        static_cast<double>(std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started).count()) /
        1000.0;
    if (auto written = write_output_file(*o.junit, render_junit(suite), "the JUnit report"); !written) {
      diag.line(written.error().message);
      status.note(written.error().kind);  // a lost report is an error: it outranks a verdict
    }
  }
  return status.value();
}

}  // namespace faceverify::commands
