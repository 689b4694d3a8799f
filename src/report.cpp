// SPDX-License-Identifier: MIT
#include "faceverify/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "faceverify/similarity.hpp"
#include "faceverify/version.hpp"
#include "provenance_json.hpp"

namespace faceverify {
namespace {

using nlohmann::ordered_json;

std::string_view source_name(SourceKind kind) {
  switch (kind) {
    case SourceKind::file: return "file";
    case SourceKind::stdin_stream: return "stdin";
    case SourceKind::url: return "url";
  }
  return "file";
}

ordered_json image_json(const ImageResult& r, std::size_t face_index) {
  const Image& img = *r.image;
  const Analysis& an = *r.analysis;
  const Face& face = an.faces.at(face_index);
  ordered_json j;
  // As given, except a URL's credentials; invalid UTF-8 is replaced when dumped.
  j["input"] = img.source.kind == SourceKind::url ? display_name(img.source.spec) : img.source.spec;
  j["source"] = source_name(img.source.kind);
  j["sha256"] = img.sha256.empty() ? ordered_json(nullptr) : ordered_json(img.sha256);
  j["md5"] = an.md5.empty() ? ordered_json(nullptr) : ordered_json(an.md5);
  j["width"] = an.width ? ordered_json(*an.width) : ordered_json(nullptr);
  j["height"] = an.height ? ordered_json(*an.height) : ordered_json(nullptr);
  j["faces"] = an.faces.size();
  j["face_index"] = face_index;
  j["box"] = face.box;
  j["confidence"] = face.confidence ? ordered_json(*face.confidence) : ordered_json(nullptr);
  ordered_json marks = ordered_json::object();
  for (const auto& [name, p] : face.landmarks) marks[name] = {p.x, p.y};
  j["landmarks"] = marks;
  j["embedding_size"] = face.embedding.size();
  j["embedding_norm"] = l2_norm(face.embedding);
  j["elapsed_ms"] = r.elapsed_ms;
  return j;
}

// value * 100 with 6 decimals, cut rather than rounded: read off the exact
// decimal expansion of `value` (multiplying first could round 0.8 minus one
// ulp up to exactly 80).
std::string cut_percent(double value) {
  char buf[400];
  std::snprintf(buf, sizeof buf, "%.40f", std::fabs(value));
  const std::string digits = buf;
  const std::size_t dot = digits.find('.');
  std::string whole = digits.substr(0, dot) + digits.substr(dot + 1, 2);
  whole.erase(0, std::min(whole.find_first_not_of('0'), whole.size() - 1));
  return (std::signbit(value) ? "-" : "") + whole + "." + digits.substr(dot + 3, 6);
}

}  // namespace

std::string format_percent(double value, double threshold) {
  char buf[48];
  // The reference script's rounding: f'{similarity*100:.1f}%' (glibc's %.1f
  // rounds the binary value correctly, as Python does).
  std::snprintf(buf, sizeof buf, "%.1f", value * 100.0);
  if (!std::isfinite(value) || !std::isfinite(threshold) || std::fabs(value) > 1e6) return std::string(buf) + "%";
  // The threshold as shown, in units of 1e-6 % (8 decimals of a similarity):
  // what a reader compares the number with.
  const long long threshold_micro = std::llround(threshold * 1e8);
  const bool same = meets_threshold(value, ScoreOptions{threshold, k_default_half_distance});
  for (int decimals = 1; decimals <= 6; ++decimals) {
    std::snprintf(buf, sizeof buf, "%.*f", decimals, value * 100.0);
    const long long shown_micro = std::llround(std::strtod(buf, nullptr) * 1e6);
    if ((shown_micro >= threshold_micro) == same) return std::string(buf) + "%";
  }
  return cut_percent(value) + "%";
}

std::string format_threshold(double threshold) {
  return format_percent(threshold, threshold);
}

std::string format_points(double band) {
  // A band is a setting, like a threshold: shown with the decimals it needs.
  std::string text = format_percent(band, band);
  text.pop_back();  // the '%'
  return text + " points";
}

std::string render_text(const Verification& v) {
  std::string out = "Similarity is " + format_percent(v.comparison.similarity, v.score.threshold) + ".\n";
  switch (v.decision()) {
    case Decision::same: out += "It's the same person.\n"; break;
    case Decision::different: out += "There are different people on the images.\n"; break;
    case Decision::uncertain:
      out += "It's uncertain whether it's the same person (within " + format_points(*v.uncertain_band) + " of the " +
             format_threshold(v.score.threshold) + " threshold).\n";
      break;
  }
  return out;
}

std::string render_json(const Verification& v) {
  ordered_json j;
  j["schema_version"] = 1;
  j["type"] = "verification";
  j["verified"] = meets_threshold(v.comparison.similarity, v.score);
  j["decision"] = decision_name(v.decision());
  j["similarity"] = v.comparison.similarity;
  j["distance"] = v.comparison.distance;
  j["cosine"] = v.comparison.cosine;
  j["threshold"] = v.score.threshold;
  j["threshold_source"] = v.threshold_source;
  j["uncertain_band"] = v.uncertain_band ? ordered_json(*v.uncertain_band) : ordered_json(nullptr);
  j["threshold_distance"] = distance_from_similarity(v.score.threshold, v.score.half_distance);
  j["half_distance"] = v.score.half_distance;
  j["face_policy"] = policy_name(v.policy);
  j["images"] = {image_json(v.images[0], v.comparison.face1), image_json(v.images[1], v.comparison.face2)};
  detail::add_provenance(j, v.provenance);
  j["tool_version"] = k_version;
  j["timings_ms"] = {{"total", v.total_ms}, {"analysis", {v.images[0].elapsed_ms, v.images[1].elapsed_ms}}};
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace faceverify
