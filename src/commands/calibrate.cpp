// SPDX-License-Identifier: MIT
// faceverify calibrate: score every labelled pair, then report the operating
// points (AUC, EER, TAR at FAR, best accuracy) and choose a threshold.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "commands/cli.hpp"
#include "commands/commands.hpp"
#include "faceverify/calibration.hpp"
#include "faceverify/calibration_report.hpp"
#include "faceverify/config.hpp"
#include "faceverify/file_io.hpp"
#include "faceverify/output_guard.hpp"
#include "faceverify/pairs_file.hpp"
#include "faceverify/similarity.hpp"
#include "faceverify/text.hpp"
#include "faceverify/version.hpp"
#include "provenance_json.hpp"

namespace faceverify::commands {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

constexpr const char* k_footer =
    R"(Output: text, or --json (one object; its "threshold" is the chosen similarity threshold:
the --target-far one when given, else the best-accuracy cut; with "auc" and "eer"). Pairs whose
images have no face are left out and counted. FAR figures resting on too few impostor pairs are
flagged (at least 10 / FAR impostor pairs are needed for a meaningful figure). "Your threshold"
gives FAR and TAR at the threshold runs use now (-t, FACEVERIFY_THRESHOLD, config file or default).
--write-config keeps the old file when only one class was scored or an image or pair failed.

Exit codes: 0 calibrated; 4 an image failed (service error; the figures use the rest);
  2 usage or input error (unreadable labels, no labelled pairs, a pair whose embeddings cannot
  be compared, an output file that must not be written, only one class with --write-config);
  130/143 interrupted.

Examples:
  faceverify calibrate --backend local photos/              # photos/labels.csv: file,identity
  faceverify calibrate --target-far 0.001 --write-config pairs.csv
  faceverify calibrate --json --report calibration.html pairs.csv | jq .threshold
)";

constexpr std::size_t k_worst = 10;
constexpr std::size_t k_max_labels_bytes = 64u * 1024u * 1024u;

// The labelled input, before loading: the image arguments once each, and
// either their identities (labels.csv: every pair is formed when scoring,
// never stored) or explicit rows (a pairs file).
struct Labelled {
  struct Row {
    std::size_t a = 0, b = 0;  // into images
    bool genuine = false;
    std::size_t line = 0;
  };
  std::vector<std::string> images;
  std::vector<std::string> identities;  // labels.csv: one per image
  std::vector<Row> rows;                // a pairs file
  std::vector<std::size_t> lines;       // the line naming each image first (pairs file), 0 for labels
  std::vector<Error> bad_rows;          // a pairs file's malformed or unlabelled rows, each reported

  /// The index of `arg` in images, added (with the line naming it) if new.
  std::size_t image(const std::string& arg, std::size_t line) {
    auto [it, added] = index.emplace(arg, images.size());
    if (added) {
      images.push_back(arg);
      lines.push_back(line);
    }
    return it->second;
  }
  std::map<std::string, std::size_t> index;
};

Expected<std::string> read_text(const fs::path& path) {
  auto text = read_file_at_most(path, k_max_labels_bytes);
  if (text) return std::move(*text);
  if (text.error().step == ReadError::Step::too_large) {
    return fail(ErrorKind::input, display_name(path.string()) + ": larger than 64 MiB; split it");
  }
  const int err = text.error().step == ReadError::Step::directory ? EISDIR : text.error().err;
  return fail(ErrorKind::input, display_name(path.string()) + ": cannot read it: " + std::strerror(err));
}

// labels.csv (file,identity): every pair of its photos, genuine when the
// identities match. Files are relative to the labels file's folder.
Expected<Labelled> from_labels(const fs::path& labels, const std::string& text) {
  auto rows = parse_pairs(text);
  const fs::path dir = labels.parent_path();
  Labelled out;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const PairRow& r = rows[i];
    if (i == 0 && iequals(r.image1, "file") && iequals(r.image2, "identity")) continue;  // header
    if (r.error)
      return fail(ErrorKind::usage, display_name(labels.string()) + ": " + *r.error + " (expected file,identity)");
    if (r.expected != Expectation::none) {
      return fail(ErrorKind::usage, display_name(labels.string()) + ": line " + std::to_string(r.line) +
                                        ": expected 2 fields (file,identity)");
    }
    const fs::path file(r.image1);
    const std::size_t before = out.images.size();
    out.image(file.is_absolute() ? file.string() : (dir / file).string(), r.line);
    if (out.images.size() == before) {
      return fail(ErrorKind::usage, display_name(labels.string()) + ": line " + std::to_string(r.line) + ": " +
                                        display_name(r.image1) + " is listed twice");
    }
    out.identities.push_back(r.image2);
  }
  return out;
}

// A pairs file: every row must carry same/different.
Expected<Labelled> from_pairs(const std::string& label, const std::string& text) {
  Labelled out;
  for (const PairRow& r : parse_pairs(text)) {
    if (r.error) {
      out.bad_rows.push_back(Error{ErrorKind::usage, label + ": " + *r.error, {}, false, {}});
      continue;
    }
    if (r.expected == Expectation::none) {
      out.bad_rows.push_back(Error{ErrorKind::usage,
                                   label + ": line " + std::to_string(r.line) +
                                       ": no label (calibrate needs image1,image2,same or image1,image2,different)",
                                   {},
                                   false,
                                   {}});
      continue;
    }
    const std::size_t a_index = out.image(r.image1, r.line);
    const std::size_t b_index = out.image(r.image2, r.line);
    out.rows.push_back(Labelled::Row{a_index, b_index, r.expected == Expectation::same, r.line});
  }
  return out;
}

Expected<Labelled> read_labelled(const std::string& spec) {
  std::error_code ec;
  fs::path path(spec);
  if (fs::is_directory(path, ec)) {
    path /= "labels.csv";
    if (!fs::exists(path, ec)) {
      return fail(ErrorKind::input,
                  display_name(spec) + ": no labels.csv in this folder (expected file,identity rows)");
    }
  }
  auto text = read_text(path);
  if (!text) return std::unexpected(text.error());
  // A labels file announces itself with its header.
  const auto first =
      parse_pairs(text->substr(0, text->find('\n') == std::string::npos ? text->size() : text->find('\n') + 1));
  const bool labels = path.filename() == "labels.csv" ||
                      (!first.empty() && iequals(first[0].image1, "file") && iequals(first[0].image2, "identity"));
  auto read = labels ? from_labels(path, *text) : from_pairs(display_name(spec), *text);
  if (!read) return read;
  if (read->rows.empty() && read->images.size() < 2 && read->bad_rows.empty())
    return fail(ErrorKind::usage, display_name(spec) + ": no labelled pairs");
  return read;
}

std::string fixed(double x, int digits) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

std::string percent(double rate) {
  // 1%, 0.1%, 0.01%: as few digits as the value needs.
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.4g%%", rate * 100.0);
  return buf;
}

std::string rate_text(double rate) {
  return fixed(rate * 100.0, 2) + "%";
}

ordered_json distribution_json(const Distribution& d) {
  return {{"count", d.count}, {"min", d.min}, {"q25", d.q25},   {"median", d.median},
          {"q75", d.q75},     {"max", d.max}, {"mean", d.mean}, {"histogram", d.histogram}};
}

ordered_json point_json(const OperatingPoint& p, double a) {
  return {{"threshold", p.threshold},
          {"threshold_distance", distance_from_similarity(p.threshold, a)},
          {"far", p.far},
          {"tar", p.tar},
          {"frr", 1.0 - p.tar},
          {"false_accepts", p.false_accepts},
          {"true_accepts", p.true_accepts},
          {"accuracy", p.accuracy}};
}

// The threshold runs use today (-t, FACEVERIFY_THRESHOLD, the config file or
// the default) applied to this data, by the verdict's own rule.
struct Current {
  double threshold = 0.0;
  std::string source;
  OperatingPoint point;
};

Current current_point(const std::vector<LabelledScore>& scores, const ScoringOptions& scoring) {
  Current c{scoring.score.threshold, scoring.threshold_source, {}};
  c.point.threshold = c.threshold;
  std::size_t genuine = 0, impostors = 0, true_rejects = 0;
  for (const LabelledScore& s : scores) {
    const bool accepted = meets_threshold(s.similarity, scoring.score);
    if (s.genuine) {
      ++genuine;
      if (accepted) ++c.point.true_accepts;
    } else {
      ++impostors;
      if (accepted)
        ++c.point.false_accepts;
      else
        ++true_rejects;
    }
  }
  c.point.far = impostors ? static_cast<double>(c.point.false_accepts) / static_cast<double>(impostors) : 0.0;
  c.point.tar = genuine ? static_cast<double>(c.point.true_accepts) / static_cast<double>(genuine) : 0.0;
  c.point.accuracy =
      scores.empty() ? 0.0
                     : static_cast<double>(c.point.true_accepts + true_rejects) / static_cast<double>(scores.size());
  return c;
}

struct Chosen {
  double threshold = 0.0;
  std::string reason;       // "best_accuracy" or "target_far"
  std::string reason_text;  // "best accuracy" or "FAR <= 0.1%"
};

std::string render_text(const Calibration& c, const Chosen& chosen, const Current& current, const CalibrateOptions& o,
                        std::size_t skipped, const std::string& backend) {
  const double a = o.scoring.score.half_distance;
  auto both = [&](double t) {
    return "similarity " + fixed(t, 4) + " (distance " + fixed(distance_from_similarity(t, a), 4) + ")";
  };
  std::string out = "Calibration of " + display_name(o.labelled) + " (" + backend + ", a = " + fixed(a, 4) + ")\n";
  out += "Pairs: " + std::to_string(c.genuine + c.impostors) + " (" + std::to_string(c.genuine) + " genuine, " +
         std::to_string(c.impostors) + " impostor)";
  if (skipped > 0) out += "; " + std::to_string(skipped) + " left out (no face or failed)";
  out += "\n\nScores      count     min     25%  median     75%     max    mean\n";
  auto row = [&](const char* name, const Distribution& d) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%-9s %7zu  %6.4f  %6.4f  %6.4f  %6.4f  %6.4f  %6.4f\n", name, d.count, d.min, d.q25,
                  d.median, d.q75, d.max, d.mean);
    out += buf;
  };
  row("genuine", c.genuine_scores);
  row("impostor", c.impostor_scores);
  out += "\n";
  if (c.auc && c.eer && c.eer_threshold) {
    out += "ROC: AUC " + fixed(*c.auc, 4) + ", EER " + rate_text(*c.eer) + " at " + both(*c.eer_threshold) + "\n";
  } else {
    out += "ROC: needs both genuine and impostor pairs\n";
  }
  out += "\nTAR at FAR:\n";
  for (const auto& t : c.far_targets) {
    std::string line = "  FAR " + percent(t.far) + ": ";
    if (t.point) {
      line += "TAR " + rate_text(t.point->tar) + " at " + both(t.point->threshold) + "; " +
              std::to_string(t.point->false_accepts) + " of " + std::to_string(t.impostors) +
              " impostor pairs accepted";
    } else {
      line += "-";
    }
    if (!t.note.empty()) line += " [" + t.note + "]";
    out += line + "\n";
  }
  if (c.best_accuracy) {
    out += "\nBest accuracy: " + rate_text(c.best_accuracy->accuracy) + " at " + both(c.best_accuracy->threshold) +
           " (FAR " + rate_text(c.best_accuracy->far) + ", TAR " + rate_text(c.best_accuracy->tar) + ")\n";
  }
  out += "\nYour threshold (" + current.source + "): " + both(current.threshold) + ": FAR " +
         (c.impostors ? rate_text(current.point.far) : std::string("-")) + ", TAR " +
         (c.genuine ? rate_text(current.point.tar) : std::string("-")) + "\n";
  out += "Chosen threshold: " + both(chosen.threshold) + ", " + chosen.reason_text + "\n";
  return out;
}

std::string render_json(const Calibration& c, const Chosen& chosen, const Current& current, const CalibrateOptions& o,
                        std::size_t skipped, const Provenance& provenance) {
  const double a = o.scoring.score.half_distance;
  ordered_json j;
  j["schema_version"] = 1;
  j["type"] = "calibration";
  j["threshold"] = chosen.threshold;
  j["threshold_distance"] = distance_from_similarity(chosen.threshold, a);
  j["threshold_reason"] = chosen.reason;
  j["auc"] = c.auc ? ordered_json(*c.auc) : ordered_json(nullptr);
  j["eer"] = c.eer ? ordered_json(*c.eer) : ordered_json(nullptr);
  j["eer_threshold"] = c.eer_threshold ? ordered_json(*c.eer_threshold) : ordered_json(nullptr);
  j["half_distance"] = a;
  j["pairs"] = {{"genuine", c.genuine}, {"impostor", c.impostors}, {"left_out", skipped}};
  j["genuine_scores"] = distribution_json(c.genuine_scores);
  j["impostor_scores"] = distribution_json(c.impostor_scores);
  ordered_json targets = ordered_json::array();
  for (const auto& t : c.far_targets) {
    ordered_json e = t.point ? point_json(*t.point, a) : ordered_json::object();
    e["target_far"] = t.far;
    e["impostors"] = t.impostors;
    e["meaningful"] = t.meaningful;
    e["note"] = t.note.empty() ? ordered_json(nullptr) : ordered_json(t.note);
    targets.push_back(std::move(e));
  }
  j["far_targets"] = std::move(targets);
  j["best_accuracy"] = c.best_accuracy ? point_json(*c.best_accuracy, a) : ordered_json(nullptr);
  ordered_json now = point_json(current.point, a);
  if (c.impostors == 0) now["far"] = nullptr;
  if (c.genuine == 0) now["tar"] = now["frr"] = nullptr;
  now["threshold_source"] = current.source;
  j["current_threshold"] = std::move(now);
  j["face_policy"] = policy_name(o.scoring.face);
  detail::add_provenance(j, provenance);
  j["tool_version"] = k_version;
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace

void setup(CLI::App& app, CalibrateOptions& o) {
  app.description(
      "faceverify calibrate: measure your own operating point. Scores every labelled pair with the chosen\n"
      "backend and prints the genuine and impostor score distributions, AUC and EER, TAR at FAR 1%, 0.1%\n"
      "and 0.01%, and the best-accuracy cut, each with its threshold as a similarity and as a distance.");
  app.footer(k_footer);
  app.add_option("LABELLED", o.labelled,
                 "A pairs file with same/different labels (see faceverify pairs --help), or a folder with a "
                 "labels.csv of file,identity rows (every pair of its photos is scored)")
      ->required()
      ->type_name("");
  app.add_option("--target-far", o.target_far,
                 "Choose the threshold that keeps the false accept rate at or below F (e.g. 0.001); "
                 "default: the best-accuracy cut")
      ->check(number_in("a rate greater than 0 and at most 1", 0.0, 1.0, false))
      ->type_name("F");
  app.add_option("--report", o.report, "Also write a self-contained HTML report (charts, worst pairs) to FILE")
      ->type_name("FILE");
  app.add_flag("--write-config", o.write_config,
               "Save the chosen threshold, --half-distance and the backend to the config file (or --config "
               "FILE), which later runs read");
  app.add_flag("--json", o.json, "Print one JSON object instead of text");
  add_service_options(app, o.service);
  add_scoring_options(app, o.scoring);
  add_batch_options(app, o.batch, /*streaming=*/false);
}

Expected<void> finish(CalibrateOptions& o) {
  return check_options(o.service, &o.batch);
}

int run(CalibrateOptions& o, Io& io) {
  Diagnostics& diag = io.diag;
  if (auto ok = resolve_settings(o.service, &o.scoring, diag, o.write_config); !ok)
    return report_error(diag, ok.error());
  auto labelled = read_labelled(o.labelled);
  if (!labelled) return report_error(diag, labelled.error());
  // Every image once; unreadable ones (each named) stop before any request.
  InputSet inputs;
  BadInputs bad;
  for (const Error& row : labelled->bad_rows) bad.note(diag, row);
  std::vector<std::vector<std::size_t>> entries_of(labelled->images.size());
  for (std::size_t i = 0; i < labelled->images.size(); ++i) {
    auto added = inputs.add(labelled->images[i], io.stdin_fd, max_image_bytes(o.service.kind));
    if (!added) {
      Error error = added.error();
      if (const std::size_t line = labelled->lines[i])
        error.message = "line " + std::to_string(line) + ": " + error.message;
      bad.note(diag, error);
      continue;
    }
    entries_of[i] = std::move(*added);
  }
  if (bad.count > 0) return bad.status.value();
  // Where the report and the config go is checked before any request: a
  // bad path must not cost a whole run's uploads, nor replace an input.
  std::optional<fs::path> config_path;
  if (o.write_config) {
    config_path = o.service.config_file ? std::optional(fs::path(*o.service.config_file)) : default_config_path();
    if (!config_path) {
      diag.line("cannot locate the config file: neither XDG_CONFIG_HOME nor HOME is set (use --config FILE)");
      return exit_status::usage;
    }
  }
  {
    std::vector<std::string> read_files = {o.labelled, (fs::path(o.labelled) / "labels.csv").string()};
    for (const auto& image : labelled->images) read_files.push_back(image);
    std::vector<std::string> service_files = service_inputs(o.service);
    std::vector<PlannedOutput> outputs;
    if (o.report) outputs.push_back(PlannedOutput{"--report", *o.report, OutputKind::html_report});
    if (config_path) {
      // The config file is read and then rewritten on purpose: it is the
      // target here, not an input to protect.
      outputs.push_back(PlannedOutput{"--write-config", *config_path, OutputKind::config});
      if (o.service.config_file) std::erase(service_files, *o.service.config_file);
    }
    read_files.insert(read_files.end(), service_files.begin(), service_files.end());
    const bool reads_stdin = std::find(labelled->images.begin(), labelled->images.end(), "-") != labelled->images.end();
    if (auto ok = check_outputs(outputs, read_files, reads_stdin ? io.stdin_fd : -1); !ok) {
      return report_error(diag, ok.error());
    }
  }
  auto setup = analyse_inputs(o.service, o.batch, inputs, diag, o.json);
  if (!setup) return setup.error();
  settle_score(o.scoring, setup->provenance.backend);  // the half distance of the embeddings' backend

  // A photo without a face only shrinks the sample: not an error here.
  ExitStatus status;
  for (const auto& s : inputs.subjects) {
    if (!s.analysis) {
      diag.line(s.analysis.error().message);
      if (s.analysis.error().kind != ErrorKind::no_face) status.note(s.analysis.error().kind);
    } else if (s.analysis->faces.empty()) {
      diag.line(s.label + ": no face found in the image; its pairs are left out");
    }
  }

  // Scores only (16 bytes a pair); the report's worst pairs are kept as
  // indices in bounded lists, so a folder of thousands of photos fits.
  const ScoreOptions& score = o.scoring.score;
  struct Worst {
    double similarity, distance;
    std::size_t a, b;  // entries
  };
  std::vector<LabelledScore> scores;
  std::vector<Worst> worst_genuine, worst_impostors;
  auto keep_worst = [](std::vector<Worst>& list, Worst w, bool lowest) {
    list.push_back(w);
    if (list.size() < 8 * k_worst) return;
    auto better = [lowest](const Worst& x, const Worst& y) {
      return lowest ? x.similarity < y.similarity : x.similarity > y.similarity;
    };
    std::nth_element(list.begin(), list.begin() + k_worst, list.end(), better);
    list.resize(k_worst);
  };
  std::size_t skipped = 0;
  auto score_entries = [&](std::size_t ea, std::size_t eb, bool genuine) {
    const Subject& a = inputs.subject_of(ea);
    const Subject& b = inputs.subject_of(eb);
    if (!a.analysis || !b.analysis || a.analysis->faces.empty() || b.analysis->faces.empty()) {
      ++skipped;
      return;
    }
    auto c = compare_subjects(a, b, o.scoring.face, score);
    if (!c) {
      // Not a missing face: the pair (e.g. embeddings of different lengths
      // from files) is wrong, and the run must say so and not save.
      ++skipped;
      diag.line(c.error().message);
      status.note(c.error().kind);
      return;
    }
    scores.push_back(LabelledScore{c->similarity, genuine});
    keep_worst(genuine ? worst_genuine : worst_impostors, Worst{c->similarity, c->distance, ea, eb}, genuine);
  };
  auto score_images = [&](std::size_t i, std::size_t j, bool genuine) {
    for (const std::size_t ea : entries_of[i]) {
      for (const std::size_t eb : entries_of[j]) score_entries(ea, eb, genuine);
    }
  };
  if (!labelled->identities.empty()) {
    for (std::size_t i = 0; i < labelled->images.size(); ++i) {
      for (std::size_t j = i + 1; j < labelled->images.size(); ++j) {
        score_images(i, j, labelled->identities[i] == labelled->identities[j]);
      }
    }
  } else {
    for (const auto& row : labelled->rows) score_images(row.a, row.b, row.genuine);
  }
  if (scores.empty()) {
    diag.line(display_name(o.labelled) + ": no pair could be scored");
    status.note(exit_status::usage);
    return status.value();
  }

  const Calibration cal = calibrate_scores(scores, o.target_far);
  Chosen chosen;
  if (o.target_far) {
    const auto point = point_for_far(scores, *o.target_far);
    if (!point) {
      std::string why = "no threshold keeps the false accept rate at or below " + percent(*o.target_far);
      for (const auto& t : cal.far_targets) {
        if (same_far_target(t.far, *o.target_far) && !t.note.empty()) why += " (" + t.note + ")";
      }
      diag.line(display_name(o.labelled) + ": " + why);
      status.note(exit_status::usage);
      return status.value();
    }
    chosen = Chosen{point->threshold, "target_far", "FAR <= " + percent(*o.target_far)};
  } else if (cal.best_accuracy) {
    chosen = Chosen{cal.best_accuracy->threshold, "best_accuracy", "best accuracy"};
  }
  const std::string backend_text = setup->provenance.backend == BackendKind::local
                                       ? std::string("local backend")
                                       : "api4ai (" + setup->provenance.api + ")";
  const Current current = current_point(scores, o.scoring);
  if (!emit(io, o.json ? render_json(cal, chosen, current, o, skipped, setup->provenance)
                       : render_text(cal, chosen, current, o, skipped, backend_text))) {
    return status.value();
  }

  if (o.report) {
    ReportInput report;
    report.title = "faceverify calibration: " + display_name(o.labelled);
    report.backend = backend_text;
    report.generated_at = iso_timestamp();
    report.threshold = chosen.threshold;
    report.threshold_reason = chosen.reason_text;
    report.half_distance = o.scoring.score.half_distance;
    report.calibration = cal;
    report.current_threshold = current.threshold;
    report.current_threshold_source = current.source;
    auto listed = [&](std::vector<Worst> list, bool genuine) {
      std::sort(list.begin(), list.end(), [genuine](const Worst& x, const Worst& y) {
        return genuine ? x.similarity < y.similarity : x.similarity > y.similarity;
      });
      list.resize(std::min(list.size(), k_worst));
      std::vector<ScoredPair> pairs;
      for (const Worst& w : list) {
        pairs.push_back(
            ScoredPair{inputs.entries[w.a].input, inputs.entries[w.b].input, genuine, w.similarity, w.distance});
      }
      return pairs;
    };
    report.worst_genuine = listed(worst_genuine, true);
    report.worst_impostors = listed(worst_impostors, false);
    if (auto written = write_output_file(*o.report, render_calibration_report(report), "the report"); !written) {
      diag.line(written.error().message);
      status.note(written.error().kind);
    }
  }
  if (config_path) {
    const fs::path& path = *config_path;
    // A threshold needs both classes, and all of the data: otherwise the
    // saved file (which every later run trusts) stays as it was.
    if (status.failed()) {
      diag.line(display_name(path.string()) +
                ": not saved: some images or pairs failed (above), so the threshold would rest on part of the data; "
                "fix them and run again");
      return status.value();
    }
    std::string missing;
    if (cal.genuine == 0) missing = "no genuine (same person) pair was scored";
    if (cal.impostors == 0) missing = "no impostor (different people) pair was scored";
    if (!missing.empty()) {
      diag.line(display_name(path.string()) + ": not saved: " + missing +
                "; a threshold needs both genuine and impostor pairs (label pairs of both kinds)");
      status.note(exit_status::usage);
      return status.value();
    }
    Config config;
    config.backend = setup->provenance.backend;
    config.threshold = chosen.threshold;
    config.half_distance = o.scoring.score.half_distance;
    const std::string comment = "written by faceverify calibrate on " + iso_timestamp() + " from " +
                                display_name(o.labelled) + " (" + chosen.reason_text + ")";
    if (auto written = write_config(path, config, comment); !written) {
      diag.line(written.error().message);
      status.note(written.error().kind);
      return status.value();
    }
    if (!o.batch.quiet) {
      diag.line("saved threshold " + fixed(chosen.threshold, 4) + " for the " +
                std::string(backend_name(*config.backend)) + " backend to " + path.string());
    }
  }
  return status.value();
}

}  // namespace faceverify::commands
