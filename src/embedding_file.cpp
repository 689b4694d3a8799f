// SPDX-License-Identifier: MIT
#include "faceverify/embedding_file.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cmath>
#include <nlohmann/json.hpp>

#include "faceverify/image.hpp"
#include "json_depth.hpp"
#include "provenance_json.hpp"
#include "text_lines.hpp"

namespace faceverify {
namespace {

// Parsed with insertion order kept: landmarks and models come back in the
// order they were written (the analysis from the cache equals a fresh one).
using json = nlohmann::ordered_json;
using nlohmann::ordered_json;

// A value quoted into a message: one line, no control characters.
std::string quote_value(const std::string& text) { return "\"" + display_name(text.substr(0, 40)) + "\""; }

constexpr std::size_t k_max_embedding = 65536;  // as many as a reply may carry (api4ai.cpp)
constexpr std::size_t k_max_faces = 1000;

ordered_json string_or_null(const std::string& s) { return s.empty() ? ordered_json(nullptr) : ordered_json(s); }

ordered_json provenance_json(ordered_json j, const EmbeddingRecord& r) {
  detail::add_provenance(j, r.provenance);
  if (r.provenance.backend != "local") {
    j["service_version"] = r.service_version ? ordered_json(*r.service_version) : ordered_json(nullptr);
  }
  j["tool_version"] = r.tool_version;
  return j;
}

// A parse failure inside one line: where (path) and what.
struct Bad {
  std::string what;
};

const json& member(const json& obj, const char* name) {
  static const json k_null;
  const auto it = obj.find(name);
  return it == obj.end() ? k_null : *it;
}

std::string text_member(const json& obj, const char* name, bool required) {
  const json& v = member(obj, name);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null() && !required) return {};
  throw Bad{std::string("\"") + name + "\" must be " + (required ? "a string" : "a string or null")};
}

double finite_number(const json& v, const std::string& what) {
  if (!v.is_number()) throw Bad{what + " is not a number"};
  const double x = v.get<double>();
  if (!std::isfinite(x)) throw Bad{what + " is not finite"};
  return x;
}

std::optional<int> dimension(const json& obj, const char* name) {
  const json& v = member(obj, name);
  if (v.is_null()) return std::nullopt;
  if (!v.is_number_integer() || v.get<long long>() < 0 || v.get<long long>() > 1'000'000) {
    throw Bad{std::string("\"") + name + "\" must be a whole number of pixels or null"};
  }
  return static_cast<int>(v.get<long long>());
}

constexpr char k_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Doubles as base64 of their little-endian IEEE 754 bytes.
std::string pack(const std::vector<double>& values) {
  std::string bytes;
  bytes.reserve(values.size() * 8);
  for (const double v : values) {
    const auto bits = std::bit_cast<std::uint64_t>(v);
    for (int k = 0; k < 8; ++k) bytes += static_cast<char>((bits >> (8 * k)) & 0xFF);
  }
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t left = bytes.size() - i;
    std::uint32_t chunk = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (left > 1) chunk |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    if (left > 2) chunk |= static_cast<unsigned char>(bytes[i + 2]);
    out += k_b64[(chunk >> 18) & 63];
    out += k_b64[(chunk >> 12) & 63];
    out += left > 1 ? k_b64[(chunk >> 6) & 63] : '=';
    out += left > 2 ? k_b64[chunk & 63] : '=';
  }
  return out;
}

// The inverse of pack; nullopt for anything that is not exactly that.
std::optional<std::vector<double>> unpack(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  static const auto table = [] {
    std::array<std::int8_t, 256> t{};
    t.fill(-1);
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(k_b64[i])] = static_cast<std::int8_t>(i);
    return t;
  }();
  const std::size_t pad = (text.back() == '=') + (text.size() > 1 && text[text.size() - 2] == '=');
  const std::size_t n_bytes = text.size() / 4 * 3 - pad;
  if (n_bytes % 8 != 0) return std::nullopt;
  std::vector<unsigned char> bytes(text.size() / 4 * 3);
  for (std::size_t i = 0, o = 0; i < text.size(); i += 4, o += 3) {
    std::uint32_t chunk = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      const bool padding = c == '=' && i + 4 == text.size() && k >= 4 - pad;
      const int v = padding ? 0 : table[static_cast<unsigned char>(c)];
      if (v < 0) return std::nullopt;
      chunk = (chunk << 6) | static_cast<std::uint32_t>(v);
    }
    bytes[o] = static_cast<unsigned char>(chunk >> 16);
    bytes[o + 1] = static_cast<unsigned char>(chunk >> 8);
    bytes[o + 2] = static_cast<unsigned char>(chunk);
  }
  std::vector<double> out(n_bytes / 8);
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::uint64_t bits = 0;
    for (std::size_t k = 0; k < 8; ++k) bits |= static_cast<std::uint64_t>(bytes[i * 8 + k]) << (8 * k);
    out[i] = std::bit_cast<double>(bits);
  }
  return out;
}

Face parse_face(const json& f, std::size_t n) {
  const std::string where = "face " + std::to_string(n + 1) + ": ";
  if (!f.is_object()) throw Bad{where + "not an object"};
  Face face;
  const json& box = member(f, "box");
  if (!box.is_array() || box.size() != 4) throw Bad{where + "\"box\" must be [x, y, width, height]"};
  for (std::size_t i = 0; i < 4; ++i) face.box[i] = finite_number(box[i], where + "box");
  const json& conf = member(f, "confidence");
  if (!conf.is_null()) face.confidence = finite_number(conf, where + "confidence");
  const json& marks = member(f, "landmarks");
  if (!marks.is_null()) {
    if (!marks.is_object()) throw Bad{where + "\"landmarks\" must be an object of [x, y] points"};
    for (const auto& [name, p] : marks.items()) {
      if (!p.is_array() || p.size() != 2) throw Bad{where + "landmark " + quote_value(name) + " must be [x, y]"};
      face.landmarks.emplace_back(name, Point{finite_number(p[0], where + "landmark " + quote_value(name)),
                                              finite_number(p[1], where + "landmark " + quote_value(name))});
    }
  }
  if (const json& packed = member(f, "embedding_f64"); !packed.is_null()) {
    auto values = packed.is_string() ? unpack(packed.get_ref<const std::string&>()) : std::nullopt;
    if (!values || values->size() > k_max_embedding) {
      throw Bad{where + "\"embedding_f64\" must be base64 of 1 to " + std::to_string(k_max_embedding) + " doubles"};
    }
    for (std::size_t i = 0; i < values->size(); ++i) {
      if (!std::isfinite((*values)[i])) throw Bad{where + "embedding has a non-finite value at " + std::to_string(i)};
    }
    face.embedding = std::move(*values);
    return face;
  }
  const json& emb = member(f, "embedding");
  if (!emb.is_array() || emb.empty() || emb.size() > k_max_embedding) {
    throw Bad{where + "\"embedding\" must be an array of 1 to " + std::to_string(k_max_embedding) + " numbers"};
  }
  face.embedding.reserve(emb.size());
  for (std::size_t i = 0; i < emb.size(); ++i) {
    if (!emb[i].is_number() || !std::isfinite(emb[i].get<double>())) {
      throw Bad{where + "embedding has a non-number at " + std::to_string(i)};
    }
    face.embedding.push_back(emb[i].get<double>());
  }
  return face;
}

EmbeddingRecord parse_record(const json& j) {
  if (!j.is_object()) throw Bad{"not a JSON object"};
  const std::string type = text_member(j, "type", true);
  if (type != "embedding" && type != "error") {
    throw Bad{"unknown record type " + quote_value(type) + " (expected \"embedding\" or \"error\")"};
  }
  const json& version = member(j, "schema_version");
  if (!version.is_number_integer()) throw Bad{"\"schema_version\" must be a whole number"};
  if (version.get<long long>() != 1) {
    throw Bad{"schema_version " + version.dump() + " is not supported (this faceverify reads 1; upgrade it)"};
  }
  EmbeddingRecord r;
  r.input = text_member(j, "input", true);
  r.sha256 = text_member(j, "sha256", false);
  r.analysis.md5 = text_member(j, "md5", false);
  r.provenance.backend = text_member(j, "backend", true);
  if (r.provenance.backend != "api4ai" && r.provenance.backend != "local") {
    throw Bad{"unknown backend " + quote_value(r.provenance.backend) + " (expected \"api4ai\" or \"local\")"};
  }
  if (r.provenance.backend == "local") {
    const json& models = member(j, "models");
    if (!models.is_object()) throw Bad{"\"models\" must be an object (local backend)"};
    for (const auto& [role, m] : models.items()) {
      if (!m.is_object()) throw Bad{"model " + quote_value(role) + " must be an object"};
      r.provenance.models.emplace_back(role, text_member(m, "sha256", true));
    }
  } else {
    r.provenance.api = text_member(j, "api", false);
    r.provenance.endpoint = text_member(j, "endpoint", false);
    const std::string sv = text_member(j, "service_version", false);
    if (!sv.empty()) r.service_version = sv;
  }
  r.tool_version = text_member(j, "tool_version", false);
  if (type == "error") {
    const json& e = member(j, "error");
    if (!e.is_object()) throw Bad{"\"error\" must be an object with kind and message"};
    const auto kind = kind_from_name(text_member(e, "kind", true));
    if (!kind) throw Bad{"unknown error kind " + quote_value(text_member(e, "kind", true))};
    r.error = Error{*kind, text_member(e, "message", true), {}, false, {}};
    return r;
  }
  r.analysis.width = dimension(j, "width");
  r.analysis.height = dimension(j, "height");
  const json& faces = member(j, "faces");
  if (!faces.is_array()) throw Bad{"\"faces\" must be an array"};
  if (faces.size() > k_max_faces) throw Bad{"more than " + std::to_string(k_max_faces) + " faces"};
  for (std::size_t i = 0; i < faces.size(); ++i) r.analysis.faces.push_back(parse_face(faces[i], i));
  return r;
}

}  // namespace

std::string render_embedding_record(const EmbeddingRecord& r, EmbeddingEncoding encoding) {
  ordered_json j;
  j["type"] = r.error ? "error" : "embedding";
  j["schema_version"] = 1;
  j["input"] = r.input;
  j["sha256"] = string_or_null(r.sha256);
  if (r.error) {
    j["error"] = {{"kind", kind_name(r.error->kind)}, {"message", r.error->message}};
  } else {
    j["md5"] = string_or_null(r.analysis.md5);
    j["width"] = r.analysis.width ? ordered_json(*r.analysis.width) : ordered_json(nullptr);
    j["height"] = r.analysis.height ? ordered_json(*r.analysis.height) : ordered_json(nullptr);
    ordered_json faces = ordered_json::array();
    for (const Face& f : r.analysis.faces) {
      ordered_json face;
      face["box"] = f.box;
      face["confidence"] = f.confidence ? ordered_json(*f.confidence) : ordered_json(nullptr);
      ordered_json marks = ordered_json::object();
      for (const auto& [name, p] : f.landmarks) marks[name] = {p.x, p.y};
      face["landmarks"] = marks;
      if (encoding == EmbeddingEncoding::packed) {
        face["embedding_f64"] = pack(f.embedding);
      } else {
        face["embedding"] = f.embedding;
      }
      faces.push_back(std::move(face));
    }
    j["faces"] = std::move(faces);
  }
  j = provenance_json(std::move(j), r);
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

bool comparable(const Provenance& a, const Provenance& b) noexcept {
  if (a.backend != b.backend) return false;
  if (a.backend == "local") {
    // The same model files, in whatever order they were listed.
    return a.models.size() == b.models.size() &&
           std::is_permutation(a.models.begin(), a.models.end(), b.models.begin());
  }
  return true;  // every API4AI deployment serves the same model
}

std::string describe(const Provenance& p) {
  if (p.backend == "local") {
    std::string digest;
    for (const auto& [role, sha] : p.models) {
      if (role == "embedder") digest = sha.substr(0, 12);
    }
    return "the local backend" + (digest.empty() ? std::string() : " (embedder " + digest + "…)");
  }
  return "api4ai" + (p.api.empty() ? std::string() : " (" + p.api + ")");
}

Expected<std::vector<EmbeddingRecord>> parse_embedding_file(std::string_view text, std::string_view label) {
  std::vector<EmbeddingRecord> records;
  detail::LineReader lines(text);
  std::string_view line;
  while (lines.next(line)) {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const auto where = std::string(label) + ": line " + std::to_string(lines.number()) + ": ";
    if (detail::nested_too_deep(line, 8)) return fail(ErrorKind::input, where + "nested too deeply to be a record");
    try {
      const json j = json::parse(line);
      records.push_back(parse_record(j));
    } catch (const Bad& bad) {
      return fail(ErrorKind::input, where + bad.what);
    } catch (const json::exception&) {
      return fail(ErrorKind::input, where + "not valid JSON (expected a record written by faceverify embed)");
    }
  }
  if (records.empty()) {
    return fail(ErrorKind::input, std::string(label) + ": no records (expected lines written by faceverify embed)");
  }
  return records;
}

}  // namespace faceverify
