// SPDX-License-Identifier: MIT
// faceverify calibrate: score every labelled pair, then report the operating
// points (AUC, EER, TAR at FAR, best accuracy) and choose a threshold.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.hpp"
#include "faceverify/calibration.hpp"
#include "faceverify/calibration_report.hpp"
#include "faceverify/config.hpp"
#include "faceverify/pairs_file.hpp"
#include "faceverify/similarity.hpp"
#include "faceverify/version.hpp"
#include "provenance_json.hpp"

namespace faceverify::commands {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

constexpr std::size_t k_worst = 10;
constexpr std::size_t k_max_labels_bytes = 64u * 1024u * 1024u;

// A labelled pair of arguments, before loading.
struct LabelledRow {
  std::size_t line = 0;
  std::string image1;
  std::string image2;
  bool genuine = false;
};

Expected<std::string> read_text(const fs::path& path) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec) && fs::file_size(path, ec) > k_max_labels_bytes) {
    return fail(ErrorKind::input, display_name(path.string()) + ": larger than 64 MiB; split it");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorKind::input, display_name(path.string()) + ": cannot read it: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// labels.csv (file,identity): every pair of its photos, genuine when the
// identities match. Files are relative to the labels file's folder.
Expected<std::vector<LabelledRow>> rows_from_labels(const fs::path& labels, const std::string& text) {
  auto rows = parse_pairs(text);
  const fs::path dir = labels.parent_path();
  std::vector<std::pair<std::string, std::string>> photos;  // path, identity
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const PairRow& r = rows[i];
    if (i == 0 && iequals(r.image1, "file") && iequals(r.image2, "identity")) continue;  // header
    if (r.error) return fail(ErrorKind::usage, display_name(labels.string()) + ": " + *r.error + " (expected file,identity)");
    if (r.expected != Expectation::none) {
      return fail(ErrorKind::usage, display_name(labels.string()) + ": line " + std::to_string(r.line) +
                                        ": expected 2 fields (file,identity)");
    }
    const fs::path file(r.image1);
    photos.emplace_back(file.is_absolute() ? file.string() : (dir / file).string(), r.image2);
  }
  std::vector<LabelledRow> out;
  for (std::size_t i = 0; i < photos.size(); ++i) {
    for (std::size_t j = i + 1; j < photos.size(); ++j) {
      out.push_back(LabelledRow{0, photos[i].first, photos[j].first, photos[i].second == photos[j].second});
    }
  }
  return out;
}

// A pairs file: every row must carry same/different.
Expected<std::vector<LabelledRow>> rows_from_pairs(const std::string& label, const std::string& text) {
  std::vector<LabelledRow> out;
  for (const PairRow& r : parse_pairs(text)) {
    if (r.error) return fail(ErrorKind::usage, label + ": " + *r.error);
    if (r.expected == Expectation::none) {
      return fail(ErrorKind::usage, label + ": line " + std::to_string(r.line) +
                                        ": no label (calibrate needs image1,image2,same or image1,image2,different)");
    }
    out.push_back(LabelledRow{r.line, r.image1, r.image2, r.expected == Expectation::same});
  }
  return out;
}

Expected<std::vector<LabelledRow>> read_labelled(const std::string& spec) {
  std::error_code ec;
  fs::path path(spec);
  if (fs::is_directory(path, ec)) {
    path /= "labels.csv";
    if (!fs::exists(path, ec)) {
      return fail(ErrorKind::input, display_name(spec) + ": no labels.csv in this folder (expected file,identity rows)");
    }
  }
  auto text = read_text(path);
  if (!text) return std::unexpected(text.error());
  // A labels file announces itself with its header.
  const auto first = parse_pairs(text->substr(0, text->find('\n') == std::string::npos ? text->size() : text->find('\n') + 1));
  const bool labels = path.filename() == "labels.csv" ||
                      (!first.empty() && iequals(first[0].image1, "file") && iequals(first[0].image2, "identity"));
  auto rows = labels ? rows_from_labels(path, *text) : rows_from_pairs(display_name(spec), *text);
  if (!rows) return rows;
  if (rows->empty()) return fail(ErrorKind::usage, display_name(spec) + ": no labelled pairs");
  return rows;
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

std::string rate_text(double rate) { return fixed(rate * 100.0, 2) + "%"; }

ordered_json distribution_json(const Distribution& d) {
  return {{"count", d.count}, {"min", d.min},       {"q25", d.q25},           {"median", d.median},
          {"q75", d.q75},     {"max", d.max},       {"mean", d.mean},         {"histogram", d.histogram}};
}

ordered_json point_json(const OperatingPoint& p, double a) {
  return {{"threshold", p.threshold}, {"threshold_distance", distance_from_similarity(p.threshold, a)},
          {"far", p.far},             {"tar", p.tar},
          {"frr", 1.0 - p.tar},       {"false_accepts", p.false_accepts},
          {"true_accepts", p.true_accepts}, {"accuracy", p.accuracy}};
}

struct Chosen {
  double threshold = 0.0;
  std::string reason;       // "best_accuracy" or "target_far"
  std::string reason_text;  // "best accuracy" or "FAR <= 0.1%"
};

std::string render_text(const Calibration& c, const Chosen& chosen, const VerifyOptions& o, std::size_t skipped,
                        const std::string& backend) {
  const double a = o.half_distance;
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
    std::snprintf(buf, sizeof buf, "%-9s %7zu  %6.4f  %6.4f  %6.4f  %6.4f  %6.4f  %6.4f\n", name, d.count, d.min,
                  d.q25, d.median, d.q75, d.max, d.mean);
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
              std::to_string(t.point->false_accepts) + " of " + std::to_string(t.impostors) + " impostor pairs accepted";
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
  out += "\nChosen threshold: " + both(chosen.threshold) + ", " + chosen.reason_text + "\n";
  return out;
}

std::string render_json(const Calibration& c, const Chosen& chosen, const VerifyOptions& o, std::size_t skipped,
                        const Provenance& provenance) {
  const double a = o.half_distance;
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
  j["face_policy"] = policy_name(o.face);
  detail::add_provenance(j, provenance);
  j["tool_version"] = k_version;
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace

int calibrate(const VerifyOptions& o, std::ostream& out, Diagnostics& diag, int stdin_fd) {
  auto rows = read_labelled(o.labelled);
  if (!rows) {
    return report_error(diag, rows.error());
  }
  // Every image once; an unreadable one stops before any request.
  InputSet inputs;
  std::map<std::string, std::vector<std::size_t>> loaded;
  struct Job {
    std::size_t a, b;
    bool genuine;
    std::string image1, image2;
  };
  std::vector<Job> jobs;
  for (const auto& row : *rows) {
    for (const std::string* arg : {&row.image1, &row.image2}) {
      if (loaded.count(*arg)) continue;
      auto added = inputs.add(*arg, stdin_fd, max_image_bytes(o));
      if (!added) {
        diag.line(row.line ? "line " + std::to_string(row.line) + ": " + added.error().message
                           : added.error().message);
        return exit_code(added.error().kind);
      }
      loaded[*arg] = *added;
    }
    for (const std::size_t ea : loaded[row.image1]) {
      for (const std::size_t eb : loaded[row.image2]) {
        jobs.push_back(Job{inputs.entries[ea].subject, inputs.entries[eb].subject, row.genuine,
                           inputs.entries[ea].input, inputs.entries[eb].input});
      }
    }
  }
  auto setup = analyse_inputs(o, inputs, diag);
  if (!setup) return setup.error();

  int status = 0;
  for (const auto& s : inputs.subjects) {
    if (!s.analysis) {
      diag.line(s.analysis.error().message);
      status = std::max(status, exit_code(s.analysis.error().kind));
    } else if (s.analysis->faces.empty()) {
      diag.line(s.label + ": no face found in the image; its pairs are left out");
    }
  }
  if (status == exit_status::no_face) status = 0;  // a photo without a face only shrinks the sample

  const ScoreOptions score{o.threshold, o.half_distance};
  std::vector<LabelledScore> scores;
  std::vector<ScoredPair> scored;
  std::size_t skipped = 0;
  for (const auto& job : jobs) {
    const Subject& a = inputs.subjects[job.a];
    const Subject& b = inputs.subjects[job.b];
    if (!a.analysis || !b.analysis || a.analysis->faces.empty() || b.analysis->faces.empty()) {
      ++skipped;
      continue;
    }
    auto c = compare(*a.analysis, a.label, *b.analysis, b.label, o.face, score);
    if (!c) {
      ++skipped;
      continue;
    }
    scores.push_back(LabelledScore{c->similarity, job.genuine});
    scored.push_back(ScoredPair{job.image1, job.image2, job.genuine, c->similarity, c->distance});
  }
  if (scores.empty()) {
    diag.line(display_name(o.labelled) + ": no pair could be scored");
    return status != 0 ? status : exit_status::usage;
  }

  const Calibration cal = calibrate_scores(scores, o.target_far);
  Chosen chosen;
  if (o.target_far) {
    const auto point = point_for_far(scores, *o.target_far);
    if (!point) {
      std::string why = "no threshold keeps the false accept rate at or below " + percent(*o.target_far);
      for (const auto& t : cal.far_targets) {
        if (std::fabs(t.far - *o.target_far) <= 1e-12 && !t.note.empty()) why += " (" + t.note + ")";
      }
      diag.line(display_name(o.labelled) + ": " + why);
      return exit_status::usage;
    }
    chosen = Chosen{point->threshold, "target_far", "FAR <= " + percent(*o.target_far)};
  } else if (cal.best_accuracy) {
    chosen = Chosen{cal.best_accuracy->threshold, "best_accuracy", "best accuracy"};
  }
  const std::string backend_text = setup->provenance.backend == "local"
                                       ? std::string("local backend")
                                       : "api4ai (" + setup->provenance.api + ")";
  if (!emit(out, o.json ? render_json(cal, chosen, o, skipped, setup->provenance)
                        : render_text(cal, chosen, o, skipped, backend_text),
            diag)) {
    return interrupted_status(status);
  }

  if (o.report) {
    ReportInput report;
    report.title = "faceverify calibration: " + display_name(o.labelled);
    report.backend = backend_text;
    report.generated_at = iso_timestamp();
    report.threshold = chosen.threshold;
    report.threshold_reason = chosen.reason_text;
    report.half_distance = o.half_distance;
    report.calibration = cal;
    std::vector<ScoredPair> genuine, impostors;
    for (const auto& p : scored) (p.genuine ? genuine : impostors).push_back(p);
    std::sort(genuine.begin(), genuine.end(), [](const auto& x, const auto& y) { return x.similarity < y.similarity; });
    std::sort(impostors.begin(), impostors.end(),
              [](const auto& x, const auto& y) { return x.similarity > y.similarity; });
    genuine.resize(std::min(genuine.size(), k_worst));
    impostors.resize(std::min(impostors.size(), k_worst));
    report.worst_genuine = std::move(genuine);
    report.worst_impostors = std::move(impostors);
    if (auto written = write_output_file(*o.report, render_calibration_report(report), "the report"); !written) {
      diag.line(written.error().message);
      status = std::max(status, exit_status::usage);
    }
  }
  if (o.write_config) {
    const auto path = o.config_file ? std::optional(fs::path(*o.config_file)) : default_config_path();
    if (!path) {
      diag.line("cannot locate the config file: neither XDG_CONFIG_HOME nor HOME is set (use --config FILE)");
      return exit_status::usage;
    }
    Config config;
    config.backend = setup->provenance.backend;
    config.threshold = chosen.threshold;
    config.half_distance = o.half_distance;
    const std::string comment = "written by faceverify calibrate on " + iso_timestamp() + " from " +
                                display_name(o.labelled) + " (" + chosen.reason_text + ")";
    if (auto written = write_config(*path, config, comment); !written) {
      diag.line(written.error().message);
      return std::max(status, exit_status::usage);
    }
    if (!o.quiet) {
      diag.line("saved threshold " + fixed(chosen.threshold, 4) + " for the " + config.backend.value() +
                " backend to " + path->string());
    }
  }
  return status;
}

}  // namespace faceverify::commands
