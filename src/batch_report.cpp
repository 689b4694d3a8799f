// SPDX-License-Identifier: MIT
#include "faceverify/batch_report.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "faceverify/report.hpp"
#include "faceverify/similarity.hpp"
#include "faceverify/text.hpp"
#include "faceverify/version.hpp"
#include "provenance_json.hpp"

namespace faceverify {
namespace {

using nlohmann::ordered_json;

std::string dump(const ordered_json& j) {
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

std::string number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", x);
  return buf;
}

ordered_json optional_number(const std::optional<double>& x) {
  return x ? ordered_json(*x) : ordered_json(nullptr);
}

ordered_json error_json(const std::optional<Error>& e) {
  if (!e) return nullptr;
  return {{"kind", kind_name(e->kind)}, {"message", e->message}};
}

ordered_json input_json(const InputSummary& in) {
  ordered_json j;
  j["input"] = in.input;
  j["sha256"] = in.sha256.empty() ? ordered_json(nullptr) : ordered_json(in.sha256);
  j["faces"] = in.faces ? ordered_json(*in.faces) : ordered_json(nullptr);
  j["error"] = error_json(in.error);
  return j;
}

// The members every batch JSON object ends with: scoring and provenance.
void add_context(ordered_json& j, const ScoreContext& c) {
  j["threshold"] = c.score.threshold;
  j["threshold_source"] = c.threshold_source;
  j["threshold_distance"] = distance_from_similarity(c.score.threshold, c.score.half_distance);
  j["half_distance"] = c.score.half_distance;
  j["face_policy"] = policy_name(c.policy);
  detail::add_provenance(j, c.provenance);
  j["tool_version"] = k_version;
}

std::string pad_left(const std::string& s, std::size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}
std::string pad_right(const std::string& s, std::size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

// Cut to `max_width` code points (display width), "~" marking the cut.
std::string cut(const std::string& s, std::size_t max_width) {
  if (code_points(s) <= max_width) return s;
  return std::string(code_point_prefix(s, max_width - 1)) + "~";
}

std::string stem_of(const std::string& input);

std::string matrix_text(const MatrixReport& r) {
  std::vector<std::string> inputs;
  for (const auto& in : r.inputs) inputs.push_back(in.input);
  const auto labels = short_labels(inputs);
  // Each cell's text first: a similarity next to the threshold may need more decimals.
  std::vector<std::vector<std::string>> cells(r.cells.size());
  std::size_t cell_w = 6;  // "100.0%"
  for (std::size_t i = 0; i < r.cells.size(); ++i) {
    for (const auto& cell : r.cells[i]) {
      cells[i].push_back(cell ? format_percent(cell->similarity, r.context.score.threshold) : "-");
      cell_w = std::max(cell_w, cells[i].back().size());
    }
  }
  std::size_t label_w = 0;
  for (const auto& l : labels) {
    label_w = std::max(label_w, code_points(l));
    cell_w = std::max(cell_w, code_points(l));
  }
  auto pad = [](const std::string& s, std::size_t w, bool left) {
    const std::size_t have = code_points(s);
    const std::string fill = have >= w ? "" : std::string(w - have, ' ');
    return left ? fill + s : s + fill;
  };
  std::string out = std::string(label_w, ' ');
  for (const auto& l : labels) out += "  " + pad(l, cell_w, true);
  out += "\n";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    out += pad(labels[i], label_w, false);
    for (std::size_t j = 0; j < labels.size(); ++j) out += "  " + pad(cells[i][j], cell_w, true);
    out += "\n";
  }
  // A legend only when a label no longer says which file it is (cut or numbered).
  bool legend = false;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] != stem_of(inputs[i])) legend = true;
  }
  if (legend) {
    out += "\n";
    for (std::size_t i = 0; i < labels.size(); ++i) out += pad(labels[i], label_w, false) + "  " + inputs[i] + "\n";
  }
  return out;
}

std::string matrix_csv(const MatrixReport& r) {
  std::string out = "input";
  for (const auto& in : r.inputs) {
    // Appended in two steps: "," + std::string trips GCC 12's -Wrestrict at
    // -O3 (a false positive, GCC bug 105329).
    out += ',';
    out += csv_field(in.input);
  }
  out += "\n";
  for (std::size_t i = 0; i < r.inputs.size(); ++i) {
    out += csv_field(r.inputs[i].input);
    for (std::size_t j = 0; j < r.inputs.size(); ++j) {
      out += ",";
      if (r.cells[i][j]) out += number(r.cells[i][j]->similarity);
    }
    out += "\n";
  }
  return out;
}

std::string matrix_json(const MatrixReport& r) {
  ordered_json j;
  j["schema_version"] = 1;
  j["type"] = "matrix";
  j["inputs"] = ordered_json::array();
  for (const auto& in : r.inputs) j["inputs"].push_back(input_json(in));
  ordered_json sim = ordered_json::array();
  ordered_json dist = ordered_json::array();
  for (const auto& row : r.cells) {
    ordered_json srow = ordered_json::array();
    ordered_json drow = ordered_json::array();
    for (const auto& cell : row) {
      srow.push_back(cell ? ordered_json(cell->similarity) : ordered_json(nullptr));
      drow.push_back(cell ? ordered_json(cell->distance) : ordered_json(nullptr));
    }
    sim.push_back(std::move(srow));
    dist.push_back(std::move(drow));
  }
  j["similarity"] = std::move(sim);
  j["distance"] = std::move(dist);
  add_context(j, r.context);
  return dump(j) + "\n";
}

}  // namespace

namespace {
// The file name without directory and extension ("photos/alice.jpg" -> "alice").
std::string stem_of(const std::string& input) {
  std::string name = input;
  if (const auto slash = name.find_last_of('/'); slash != std::string::npos && slash + 1 < name.size()) {
    name = name.substr(slash + 1);
  }
  if (const auto dot = name.find_last_of('.'); dot != std::string::npos && dot > 0) name.resize(dot);
  return name.empty() ? input : name;
}
}  // namespace

std::vector<std::string> short_labels(const std::vector<std::string>& inputs, std::size_t max_width) {
  std::vector<std::string> labels;
  for (const auto& in : inputs) labels.push_back(cut(stem_of(in), std::max<std::size_t>(max_width, 4)));
  std::map<std::string, int> count;
  for (const auto& l : labels) ++count[l];
  // Colliding labels are numbered; a number already taken (even by a file
  // literally named "x#1") is skipped, so every label is unique.
  std::set<std::string> taken;
  for (const auto& l : labels) {
    if (count[l] == 1) taken.insert(l);
  }
  std::map<std::string, int> next;
  for (auto& l : labels) {
    if (count[l] == 1) continue;
    std::string candidate;
    do {
      candidate = l + "#" + std::to_string(++next[l]);
    } while (taken.count(candidate));
    taken.insert(candidate);
    l = candidate;
  }
  return labels;
}

std::string render_matrix(const MatrixReport& report, OutputFormat format) {
  switch (format) {
    case OutputFormat::csv: return matrix_csv(report);
    case OutputFormat::json:
    case OutputFormat::jsonl: return matrix_json(report);
    case OutputFormat::text: break;
  }
  return matrix_text(report);
}

void rank_results(std::vector<SearchResult>& results) {
  auto group = [](const SearchResult& r) {
    return r.comparison ? 0 : (r.candidate.error && r.candidate.error->kind == ErrorKind::no_face) ? 1 : 2;
  };
  std::stable_sort(results.begin(), results.end(), [&](const SearchResult& a, const SearchResult& b) {
    if (group(a) != group(b)) return group(a) < group(b);
    if (a.comparison && b.comparison && a.comparison->similarity != b.comparison->similarity) {
      return a.comparison->similarity > b.comparison->similarity;
    }
    return a.candidate.input < b.candidate.input;
  });
}

std::string render_search(const SearchReport& r, OutputFormat format) {
  const std::size_t shown = std::min(r.shown, r.results.size());
  auto decided = [&](const Comparison& c) { return decide(c.similarity, r.context.score, r.context.uncertain_band); };
  std::size_t matches = r.unlisted_matches;
  std::size_t uncertain = r.unlisted_uncertain;
  const std::size_t candidates = r.results.size() + r.unlisted_candidates;
  for (const auto& res : r.results) {
    if (res.comparison && decided(*res.comparison) == Decision::same) ++matches;
    if (res.comparison && decided(*res.comparison) == Decision::uncertain) ++uncertain;
  }
  if (format == OutputFormat::json || format == OutputFormat::jsonl) {
    ordered_json j;
    j["schema_version"] = 1;
    j["type"] = "search";
    j["reference"] = input_json(r.reference);
    j["candidates"] = candidates;
    j["matches"] = matches;
    if (r.context.uncertain_band) {
      j["uncertain"] = uncertain;
      j["uncertain_band"] = *r.context.uncertain_band;
    }
    j["results"] = ordered_json::array();
    for (std::size_t i = 0; i < shown; ++i) {
      const auto& res = r.results[i];
      ordered_json e = input_json(res.candidate);
      e["rank"] = res.comparison ? ordered_json(i + 1) : ordered_json(nullptr);
      e["verified"] = res.comparison ? ordered_json(meets_threshold(res.comparison->similarity, r.context.score))
                                     : ordered_json(nullptr);
      e["decision"] = res.comparison ? ordered_json(decision_name(decided(*res.comparison))) : ordered_json(nullptr);
      e["similarity"] = optional_number(res.comparison ? std::optional(res.comparison->similarity) : std::nullopt);
      e["distance"] = optional_number(res.comparison ? std::optional(res.comparison->distance) : std::nullopt);
      e["cosine"] = optional_number(res.comparison ? std::optional(res.comparison->cosine) : std::nullopt);
      j["results"].push_back(std::move(e));
    }
    add_context(j, r.context);
    return dump(j) + "\n";
  }
  if (format == OutputFormat::csv) {
    std::string out = "rank,input,similarity,distance,decision,error\n";
    for (std::size_t i = 0; i < shown; ++i) {
      const auto& res = r.results[i];
      const auto& c = res.comparison;
      out += (c ? std::to_string(i + 1) : std::string()) + "," + csv_field(res.candidate.input) + "," +
             (c ? number(c->similarity) : "") + "," + (c ? number(c->distance) : "") + "," +
             (c ? std::string(decision_name(decided(*c))) : std::string()) + "," +
             csv_field(res.candidate.error ? res.candidate.error->message : std::string()) + "\n";
    }
    return out;
  }
  std::string out;
  const std::size_t rank_w = std::to_string(std::max<std::size_t>(shown, 1)).size();
  std::size_t score_w = 7;  // "no face"; a similarity next to the threshold may need more decimals
  for (std::size_t i = 0; i < shown; ++i) {
    if (const auto& c = r.results[i].comparison) {
      score_w = std::max(score_w, format_percent(c->similarity, r.context.score.threshold).size());
    }
  }
  const std::size_t mark_w = r.context.uncertain_band ? 9 : 5;  // "uncertain" only appears with a band
  for (std::size_t i = 0; i < shown; ++i) {
    const auto& res = r.results[i];
    const auto& c = res.comparison;
    std::string line;
    if (c) {
      line = pad_left(std::to_string(i + 1), rank_w) + "  " +
             pad_left(format_percent(c->similarity, r.context.score.threshold), score_w) + "  " +
             pad_right(decided(*c) == Decision::same        ? "match"
                       : decided(*c) == Decision::uncertain ? "uncertain"
                                                            : "",
                       mark_w) +
             "  " + res.candidate.input;
    } else {
      const bool no_face = res.candidate.error && res.candidate.error->kind == ErrorKind::no_face;
      line = pad_left("-", rank_w) + "  " + pad_left(no_face ? "no face" : "error", score_w) + "  " +
             pad_right("", mark_w) + "  " + res.candidate.input;
    }
    out += line + "\n";
  }
  out += std::to_string(matches) + " of " + std::to_string(candidates) +
         (candidates == 1 ? " candidate matches " : " candidates match ") + r.reference.input +
         (r.context.uncertain_band ? ", " + std::to_string(uncertain) + " uncertain" : std::string()) + " (threshold " +
         format_threshold(r.context.score.threshold) +
         (r.context.uncertain_band ? ", band " + format_points(*r.context.uncertain_band) : std::string()) + ")\n";
  return out;
}

std::optional<Decision> PairResult::decision(const ScoreOptions& score) const {
  if (!comparison) return std::nullopt;
  return decide(comparison->similarity, score, uncertain_band);
}

std::optional<bool> PairResult::as_expected(const ScoreOptions& score) const {
  const auto d = decision(score);
  if (expected == Expectation::none || !d || *d == Decision::uncertain) return std::nullopt;
  return (*d == Decision::same) == (expected == Expectation::same);
}

std::string render_pair(const PairResult& p, const ScoreContext& context, OutputFormat format) {
  const auto& c = p.comparison;
  const auto ok = p.as_expected(context.score);
  const auto d = p.decision(context.score);
  const std::string d_name = d ? std::string(decision_name(*d)) : std::string();
  if (format == OutputFormat::csv) {
    return std::to_string(p.line) + "," + csv_field(p.image1) + "," + csv_field(p.image2) + "," +
           std::string(expectation_name(p.expected)) + "," + d_name + "," + (c ? number(c->similarity) : "") + "," +
           (c ? number(c->distance) : "") + "," + (ok ? (*ok ? "true" : "false") : "") + "," +
           csv_field(p.error ? p.error->message : std::string()) + "\n";
  }
  ordered_json j;
  j["type"] = "pair";
  j["schema_version"] = 1;
  j["line"] = p.line;
  j["image1"] = p.image1;
  j["image2"] = p.image2;
  j["expected"] = p.expected == Expectation::none ? ordered_json(nullptr) : ordered_json(expectation_name(p.expected));
  j["verified"] = c ? ordered_json(meets_threshold(c->similarity, context.score)) : ordered_json(nullptr);
  j["decision"] = d ? ordered_json(d_name) : ordered_json(nullptr);
  j["similarity"] = optional_number(c ? std::optional(c->similarity) : std::nullopt);
  j["distance"] = optional_number(c ? std::optional(c->distance) : std::nullopt);
  j["cosine"] = optional_number(c ? std::optional(c->cosine) : std::nullopt);
  j["threshold"] = context.score.threshold;
  j["threshold_source"] = context.threshold_source;
  j["as_expected"] = ok ? ordered_json(*ok) : ordered_json(nullptr);
  j["error"] = error_json(p.error);
  return dump(j) + "\n";
}

std::string pairs_csv_header() {
  return "line,image1,image2,expected,decision,similarity,distance,as_expected,error\n";
}

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char ch : text) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

}  // namespace faceverify
