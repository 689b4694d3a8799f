// SPDX-License-Identifier: MIT
// faceverify search: rank candidates by similarity to one reference face.
#include <algorithm>
#include <set>

#include "commands/cli.hpp"
#include "commands/commands.hpp"

namespace faceverify::commands {
namespace {

constexpr const char* k_footer =
    R"(Output: candidates ranked by similarity to the reference, each marked "match" when it
reaches the threshold: text, csv, or json (see docs/batch-output.md). Candidates without a
face are listed after the ranked ones as "no face"; failed ones as errors.

Exit codes: 0 at least one match; 1 no match; 5 (with --uncertain-band) no match but an uncertain
  candidate; 3 no face in the reference;
  4 an image failed at the service, 2 a candidate could not be read (errors outrank a verdict);
  2 usage or input error; 130/143 interrupted.

Examples:
  faceverify search suspect.jpg lineup/*.jpg --top 3
  faceverify search --top 5 me.jpg people.fvg        # a gallery file (faceverify index build)
  faceverify search --gallery photos/ me.jpg
  faceverify embed photos/*.jpg > gallery.jsonl && faceverify search me.jpg gallery.jsonl
)";

// The same image as the reference: the same subject, or an embedding-file
// record of the same bytes (records are not deduplicated, but carry the
// image's SHA-256).
bool is_reference(const Subject& candidate, const Subject& reference) {
  return &candidate == &reference || (!reference.sha256.empty() && candidate.sha256 == reference.sha256);
}

}  // namespace

void setup(CLI::App& app, SearchOptions& o) {
  app.description("faceverify search: rank candidate images by similarity to a reference face.\n" +
                  std::string(k_input_note));
  app.footer(k_footer);
  app.add_option("REFERENCE", o.reference, "The face to look for (an image or an embedding file of one image)")
      ->required()
      ->type_name("");
  app.add_option("CANDIDATE", o.candidates, "Images or embedding files to rank")->type_name("");
  add_gallery_option(app, o.gallery);
  app.add_option("--top", o.top, "Show only the K most similar candidates")
      ->check(number_in("a whole number of at least 1", 1.0, 1e9, true, true))
      ->type_name("K");
  add_band_option(app, o.scoring);
  add_table_format_options(app, o.format);
  add_service_options(app, o.service);
  add_scoring_options(app, o.scoring);
  add_batch_options(app, o.batch, /*streaming=*/false);
}

Expected<void> finish(SearchOptions& o) {
  if (auto ok = check_options(o.service, &o.batch); !ok) return ok;
  if (o.candidates.empty() && !o.gallery) {
    return fail(ErrorKind::usage,
                "search needs candidates: give CANDIDATE images or --gallery DIR (see faceverify search --help)");
  }
  return {};
}

int run(SearchOptions& o, Io& io) {
  Diagnostics& diag = io.diag;
  if (auto ok = resolve_settings(o.service, &o.scoring, diag); !ok) return report_error(diag, ok.error());
  // Every input is checked before any request, and every bad one named.
  InputSet inputs;
  BadInputs bad;
  const auto reference = add_inputs(inputs, {o.reference}, o.service, io.stdin_fd, diag, bad);
  if (bad.count == 0 && reference.size() != 1) {
    bad.note(diag, Error{ErrorKind::usage,
                         display_name(o.reference) + ": holds " + std::to_string(reference.size()) +
                             " images; the reference must be one (pick its line, e.g. with grep or sed)",
                         {},
                         false,
                         {}});
  }
  std::vector<std::string> candidates;
  std::set<std::string> seen;  // a candidate named twice is ranked once
  for (const auto& arg : o.candidates) {
    if (seen.insert(arg).second) candidates.push_back(arg);
  }
  if (o.gallery) {
    for (auto& file : gallery_images(*o.gallery, diag, o.batch.quiet, bad)) {
      if (seen.insert(file).second) candidates.push_back(std::move(file));
    }
  }
  inputs.scan_galleries = true;  // a gallery file's records stay on disk: scanned below, never all held
  const auto candidate_entries = add_inputs(inputs, candidates, o.service, io.stdin_fd, diag, bad);
  if (bad.count > 0) return bad.status.value();
  auto setup = analyse_inputs(o.service, o.batch, inputs, diag, o.format != OutputFormat::text);
  if (!setup) return setup.error();

  const Subject& ref = inputs.subject_of(reference.front());
  SearchReport report;
  report.context = score_context(o.scoring, setup->provenance);
  report.reference = summarize(inputs, reference.front());
  if (report.reference.error) {
    // Nothing can be ranked; a candidate's worse error still outranks it.
    diag.line(report.reference.error->message);
    ExitStatus status(exit_code(report.reference.error->kind));
    for (const std::size_t i : candidate_entries) {
      const InputSummary c = summarize(inputs, i);
      if (c.error && c.error->kind != ErrorKind::no_face && inputs.entries[i].first_for_subject &&
          !is_reference(inputs.subject_of(i), ref)) {
        diag.line(c.error->message);
        status.note(c.error->kind);
      }
    }
    for (const GalleryInput& g : inputs.galleries) {
      for (std::size_t rec = 0; rec < g.file->size(); ++rec) {
        if (!g.file->is_error(rec) || (!ref.sha256.empty() && g.file->sha256(rec) == ref.sha256)) continue;
        auto record = g.file->record(rec);
        const Error e = record ? *record->error : record.error();
        diag.line(e.message);
        status.note(e.kind);
      }
    }
    return status.value();
  }
  // The verdict: a match wins, else an uncertain candidate, else no match;
  // any candidate error outranks it (worse_status).
  bool matched = false;
  bool uncertain = false;
  ExitStatus errors;
  const auto consider = [&](const Subject& s, const std::string& input, const std::string& label, bool first) {
    if (is_reference(s, ref)) {
      // The same bytes as the reference would always "match": not a finding.
      if (o.batch.verbose) diag.line(label + ": the reference itself; not ranked");
      return;
    }
    SearchResult r;
    r.candidate = summarize(s, input, label);
    if (r.candidate.error) {
      if (r.candidate.error->kind != ErrorKind::no_face) errors.note(r.candidate.error->kind);
      if (first) diag.line(r.candidate.error->message);
    } else {
      auto c = compare_subjects(ref, s, o.scoring.face, report.context.score);
      if (c) {
        r.comparison = *c;
        const Decision d = decide(c->similarity, report.context.score, o.scoring.uncertain_band);
        matched = matched || d == Decision::same;
        uncertain = uncertain || d == Decision::uncertain;
      } else {
        errors.note(c.error().kind);
        r.candidate.error = c.error();
        diag.line(c.error().message);
      }
    }
    report.results.push_back(std::move(r));
  };
  for (const std::size_t i : candidate_entries) {
    const Entry& e = inputs.entries[i];
    consider(inputs.subject_of(i), e.input, e.label, e.first_for_subject);
  }
  // Gallery files: an exact scan picks the closest records (--top, with a
  // margin so that ties and float32 rounding cannot change who is shown),
  // which are then scored exactly like any other candidate. Records without a
  // face are listed as they would be from an embedding file.
  for (const GalleryInput& g : inputs.galleries) {
    const gallery::Gallery& file = *g.file;
    const auto same_bytes = [&](std::size_t rec) { return !ref.sha256.empty() && file.sha256(rec) == ref.sha256; };
    const std::size_t keep = o.top ? *o.top + 32 : 0;
    // Totals count every record, also those --top leaves out: the distances
    // at which a record becomes a match, and an uncertain one.
    const ScoreOptions& score = report.context.score;
    const auto band = o.scoring.uncertain_band;
    const auto distance2 = [&](double similarity) {
      const double d = distance_from_similarity(std::clamp(similarity, 0.0, 1.0), score.half_distance);
      return d * d;
    };
    gallery::ScanCounts counts;
    counts.cuts = {distance2(score.threshold + (band ? *band : 0.0)),
                   distance2(score.threshold - (band ? *band : 0.0))};
    auto hits = gallery::scan(file, *ref.analysis, o.scoring.face, keep, o.batch.jobs, same_bytes, &counts);
    if (!hits) {
      diag.line(hits.error().message);
      errors.note(hits.error().kind);
    }
    std::vector<std::size_t> records;
    if (hits) {
      for (const auto& h : *hits) records.push_back(h.record);
    }
    for (std::size_t rec = 0; rec < file.size(); ++rec) {
      if (file.row_count(rec) == 0) records.push_back(rec);
    }
    if (o.batch.verbose) {
      for (std::size_t rec = 0; rec < file.size(); ++rec) {
        if (file.row_count(rec) > 0 && same_bytes(rec)) {
          auto r = file.record(rec);
          if (r)
            diag.line((r->input.empty() ? file.label() : display_name(r->input)) +
                      ": the reference itself; not ranked");
        }
      }
    }
    const std::size_t listed_before = report.results.size();
    for (const std::size_t rec : records) {
      auto record = file.record(rec);
      if (!record) {
        diag.line(record.error().message);
        errors.note(record.error().kind);
        continue;
      }
      Subject s;
      s.input = record->input;
      s.label = record->input.empty() ? file.label() : display_name(record->input);
      s.sha256 = record->sha256;
      s.from_file = true;
      s.done = true;
      s.analysis = record->error ? Expected<Analysis>(std::unexpected(*record->error)) : std::move(record->analysis);
      s.provenance = std::move(record->provenance);
      consider(s, s.input, s.label, true);
    }
    if (hits && hits->size() < counts.scored) {
      // The records the scan left out: none is closer than those kept.
      std::size_t kept_same = 0, kept_band = 0;
      for (std::size_t i = listed_before; i < report.results.size(); ++i) {
        const auto& c = report.results[i].comparison;
        if (!c) continue;
        kept_same += c->distance * c->distance <= counts.cuts[0];
        kept_band += c->distance * c->distance <= counts.cuts[1];
      }
      report.unlisted_candidates += counts.scored - hits->size();
      const std::size_t unlisted_same = counts.below[0] - std::min(counts.below[0], kept_same);
      report.unlisted_matches += unlisted_same;
      if (band) report.unlisted_uncertain += counts.below[1] - std::min(counts.below[1], kept_band) - unlisted_same;
      matched = matched || unlisted_same > 0;
      uncertain = uncertain || (band && counts.below[1] > kept_band);
    }
  }
  rank_results(report.results);
  report.shown = o.top ? std::min(*o.top, report.results.size()) : report.results.size();
  emit(io, render_search(report, o.format));
  ExitStatus status(matched ? exit_status::same : uncertain ? exit_status::uncertain : exit_status::different);
  status.note(errors.value());
  return status.value();
}

}  // namespace faceverify::commands
