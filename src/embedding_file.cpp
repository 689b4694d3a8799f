// SPDX-License-Identifier: MIT
#include "faceverify/embedding_file.hpp"

#include <simdjson.h>
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "faceverify/image.hpp"
#include "json_depth.hpp"
#include "provenance_json.hpp"
#include "text_lines.hpp"

namespace faceverify {
namespace {

// Rendered with insertion order kept: landmarks and models are written in
// the analysis's order (the analysis from the cache equals a fresh one).
using nlohmann::ordered_json;

// A value quoted into a message: one line, no control characters.
// Built by appending: "\"" + std::string trips GCC 12's -Wrestrict at -O3
// (a false positive, GCC bug 105329).
std::string quote_value(const std::string& text) {
  std::string out = "\"";
  out += display_name(text.substr(0, 40));
  out += '"';
  return out;
}

constexpr std::size_t k_max_embedding = limits::k_max_embedding_values;  // the limits of every source (face.hpp)

ordered_json string_or_null(const std::string& s) {
  return s.empty() ? ordered_json(nullptr) : ordered_json(s);
}

ordered_json provenance_json(ordered_json j, const EmbeddingRecord& r) {
  detail::add_provenance(j, r.provenance);
  if (r.provenance.backend != BackendKind::local) {
    j["service_version"] = r.service_version ? ordered_json(*r.service_version) : ordered_json(nullptr);
  }
  j["tool_version"] = r.tool_version;
  return j;
}

// A parse failure inside one line; parse_embedding_file prefixes where.
std::unexpected<Error> bad(std::string what) {
  return fail(ErrorKind::input, std::move(what));
}

// Records are read with simdjson's DOM parser: the whole line is validated
// (grammar, UTF-8, numbers) before any member is looked at, as nlohmann did.
// The rules below are the ones nlohmann::ordered_json gave: a missing member
// reads as null; of duplicate keys the last one counts, in the place of the
// first (landmarks and models keep document order).
using Element = simdjson::dom::element;
using Type = simdjson::dom::element_type;
using Member = std::optional<Element>;  // nullopt: absent

// By value: a range-for over value_unsafe() of a temporary result would dangle.
simdjson::dom::object object_of(Element v) {
  return v.get_object().value_unsafe();
}
simdjson::dom::array array_of(Element v) {
  return v.get_array().value_unsafe();
}

Member member(Element obj, std::string_view name) {
  Member found;
  for (const auto field : object_of(obj)) {
    if (field.key == name) found = field.value;
  }
  return found;
}

bool is_null(const Member& v) {
  return !v || v->is_null();
}
bool is_string(const Member& v) {
  return v && v->is_string();
}
bool is_array(const Member& v) {
  return v && v->is_array();
}
bool is_object(const Member& v) {
  return v && v->is_object();
}
// A number written without fraction or exponent (nlohmann's is_number_integer).
bool is_integer(const Member& v) {
  return v && (v->type() == Type::INT64 || v->type() == Type::UINT64);
}
// An integer's value when it fits a long long; past INT64_MAX (stored as
// uint64), nlohmann's get<long long>() wrapped to a negative: refused alike.
long long integer_value(Element v) {
  return v.type() == Type::INT64 ? v.get_int64().value_unsafe() : -1;
}
std::string string_of(Element v) {
  return std::string(v.get_string().value_unsafe());
}

// The members of an object once each, in document order, the last value of a
// duplicate key in the place of its first (what ordered_json kept).
std::vector<std::pair<std::string_view, Element>> deduplicated(Element obj) {
  std::vector<std::pair<std::string_view, Element>> out;
  std::unordered_map<std::string_view, std::size_t> index;  // built once an object has many members
  for (const auto field : object_of(obj)) {
    if (index.empty()) {
      const auto it = std::find_if(out.begin(), out.end(), [&](const auto& m) { return m.first == field.key; });
      if (it != out.end()) {
        it->second = field.value;
        continue;
      }
    } else if (const auto [it, added] = index.try_emplace(field.key, out.size()); !added) {
      out[it->second].second = field.value;
      continue;
    }
    out.emplace_back(field.key, field.value);
    if (out.size() == 32 && index.empty()) {
      for (std::size_t i = 0; i < out.size(); ++i) index.emplace(out[i].first, i);
    }
  }
  return out;
}

// Sets `out` to member `name`, a string (or null when not required: "").
Expected<void> text_member(Element obj, const char* name, bool required, std::string& out) {
  const Member v = member(obj, name);
  if (is_string(v)) {
    out = string_of(*v);
    return {};
  }
  if (is_null(v) && !required) {
    out.clear();
    return {};
  }
  return bad(std::string("\"") + name + "\" must be " + (required ? "a string" : "a string or null"));
}

Expected<double> finite_number(const Member& v, const std::string& what) {
  if (!v || !v->is_number()) return bad(what + " is not a number");
  const double x = v->get_double().value_unsafe();
  if (!std::isfinite(x)) return bad(what + " is not finite");
  return x;
}

Expected<std::optional<int>> dimension(Element obj, const char* name) {
  const Member v = member(obj, name);
  if (is_null(v)) return std::optional<int>();
  if (!is_integer(v) || integer_value(*v) < 0 || integer_value(*v) > limits::k_max_image_side) {
    return bad(std::string("\"") + name + "\" must be a whole number of pixels or null");
  }
  return static_cast<int>(integer_value(*v));
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

Expected<Face> parse_face(Element f, std::size_t n) {
  const auto where = [n] { return "face " + std::to_string(n + 1) + ": "; };
  if (!f.is_object()) return bad(where() + "not an object");
  Face face;
  const Member box = member(f, "box");
  if (!is_array(box) || array_of(*box).size() != 4) {
    return bad(where() + "\"box\" must be [x, y, width, height]");
  }
  std::size_t i = 0;
  for (const Element v : array_of(*box)) {
    const auto x = finite_number(v, where() + "box");
    if (!x) return std::unexpected(x.error());
    face.box[i++] = *x;
  }
  if (const Member conf = member(f, "confidence"); !is_null(conf)) {
    const auto x = finite_number(conf, where() + "confidence");
    if (!x) return std::unexpected(x.error());
    face.confidence = *x;
  }
  const Member marks = member(f, "landmarks");
  if (!is_null(marks)) {
    if (!is_object(marks)) return bad(where() + "\"landmarks\" must be an object of [x, y] points");
    for (const auto& [key, p] : deduplicated(*marks)) {
      std::string name(key);
      if (!p.is_array() || array_of(p).size() != 2) {
        return bad(where() + "landmark " + quote_value(name) + " must be [x, y]");
      }
      const auto xy = array_of(p);
      const auto x = finite_number(xy.at(0).value_unsafe(), where() + "landmark " + quote_value(name));
      if (!x) return std::unexpected(x.error());
      const auto y = finite_number(xy.at(1).value_unsafe(), where() + "landmark " + quote_value(name));
      if (!y) return std::unexpected(y.error());
      face.landmarks.emplace_back(std::move(name), Point{*x, *y});
    }
  }
  if (const Member packed = member(f, "embedding_f64"); !is_null(packed)) {
    auto values = is_string(packed) ? unpack(packed->get_string().value_unsafe()) : std::nullopt;
    if (!values || values->size() > k_max_embedding) {
      return bad(where() + "\"embedding_f64\" must be base64 of 1 to " + std::to_string(k_max_embedding) + " doubles");
    }
    for (std::size_t k = 0; k < values->size(); ++k) {
      if (!std::isfinite((*values)[k])) {
        return bad(where() + "embedding has a non-finite value at " + std::to_string(k));
      }
    }
    face.embedding = std::move(*values);
    if (auto problem = normalize_face(face)) return bad(where() + *problem);
    return face;
  }
  const Member emb = member(f, "embedding");
  const std::size_t size = is_array(emb) ? array_of(*emb).size() : 0;
  if (size == 0 || size > k_max_embedding) {
    return bad(where() + "\"embedding\" must be an array of 1 to " + std::to_string(k_max_embedding) + " numbers");
  }
  face.embedding.reserve(size);
  for (const Element v : array_of(*emb)) {
    // One look per value (the hot loop): get_double refuses what is not a
    // number; always finite, as a literal past a double's range is not JSON.
    double x = 0.0;
    if (v.get_double().get(x) != simdjson::SUCCESS || !std::isfinite(x)) {
      return bad(where() + "embedding has a non-number at " + std::to_string(face.embedding.size()));
    }
    face.embedding.push_back(x);
  }
  // The same checks as a service reply's face: what one refuses, so does the other.
  if (auto problem = normalize_face(face)) return bad(where() + *problem);
  return face;
}

Expected<EmbeddingRecord> parse_record(Element j) {
  if (!j.is_object()) return bad("not a JSON object");
  std::string type;
  if (auto ok = text_member(j, "type", true, type); !ok) return std::unexpected(ok.error());
  if (type != "embedding" && type != "error") {
    return bad("unknown record type " + quote_value(type) + " (expected \"embedding\" or \"error\")");
  }
  const Member version = member(j, "schema_version");
  if (!is_integer(version)) return bad("\"schema_version\" must be a whole number");
  if (version->type() != Type::INT64 || integer_value(*version) != 1) {
    const std::string shown = version->type() == Type::INT64 ? std::to_string(integer_value(*version))
                                                             : std::to_string(version->get_uint64().value_unsafe());
    return bad("schema_version " + shown + " is not supported (this faceverify reads 1; upgrade it)");
  }
  EmbeddingRecord r;
  std::string backend;
  using Field = std::tuple<const char*, bool, std::string*>;  // name, required, destination
  for (const auto& [name, required, out] : {Field{"input", true, &r.input}, Field{"sha256", false, &r.sha256},
                                            Field{"md5", false, &r.analysis.md5}, Field{"backend", true, &backend}}) {
    if (auto ok = text_member(j, name, required, *out); !ok) return std::unexpected(ok.error());
  }
  const auto backend_kind = backend_from_name(backend);
  if (!backend_kind) return bad("unknown backend " + quote_value(backend) + " (expected \"api4ai\" or \"local\")");
  r.provenance.backend = *backend_kind;
  if (r.provenance.backend == BackendKind::local) {
    const Member models = member(j, "models");
    if (!is_object(models)) return bad("\"models\" must be an object (local backend)");
    for (const auto& [key, m] : deduplicated(*models)) {
      std::string role(key);
      if (!m.is_object()) return bad("model " + quote_value(role) + " must be an object");
      std::string sha;
      if (auto ok = text_member(m, "sha256", true, sha); !ok) return std::unexpected(ok.error());
      r.provenance.models.emplace_back(std::move(role), std::move(sha));
    }
    if (const Member pipeline = member(j, "pipeline"); !is_null(pipeline)) {
      if (!is_integer(pipeline) || integer_value(*pipeline) < 1 || integer_value(*pipeline) > 1000000) {
        return bad("\"pipeline\" must be a whole number of at least 1 (local backend)");
      }
      r.provenance.pipeline = static_cast<int>(integer_value(*pipeline));
    }
    if (auto ok = text_member(j, "server", false, r.provenance.server); !ok) return std::unexpected(ok.error());
  } else {
    std::string sv;
    for (const auto& [name, out] : {std::pair{"api", &r.provenance.api}, std::pair{"endpoint", &r.provenance.endpoint},
                                    std::pair{"service_version", &sv}}) {
      if (auto ok = text_member(j, name, false, *out); !ok) return std::unexpected(ok.error());
    }
    if (!sv.empty()) r.service_version = sv;
  }
  if (auto ok = text_member(j, "tool_version", false, r.tool_version); !ok) return std::unexpected(ok.error());
  if (type == "error") {
    const Member e = member(j, "error");
    if (!is_object(e)) return bad("\"error\" must be an object with kind and message");
    std::string kind_text, message;
    if (auto ok = text_member(*e, "kind", true, kind_text); !ok) return std::unexpected(ok.error());
    const auto kind = kind_from_name(kind_text);
    if (!kind) return bad("unknown error kind " + quote_value(kind_text));
    if (auto ok = text_member(*e, "message", true, message); !ok) return std::unexpected(ok.error());
    r.error = Error{*kind, std::move(message), {}, false, {}};
    return r;
  }
  for (const auto& [name, out] : {std::pair{"width", &r.analysis.width}, std::pair{"height", &r.analysis.height}}) {
    auto d = dimension(j, name);
    if (!d) return std::unexpected(d.error());
    *out = *d;
  }
  const Member faces = member(j, "faces");
  if (!is_array(faces)) return bad("\"faces\" must be an array");
  const auto list = array_of(*faces);
  if (auto problem = face_count_problem(list.size())) return bad("the record " + *problem);
  std::size_t i = 0;
  for (const Element f : list) {
    auto face = parse_face(f, i++);
    if (!face) return std::unexpected(face.error());
    r.analysis.faces.push_back(std::move(*face));
  }
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
  if (a.backend == BackendKind::local) {
    // The same model files, in whatever order they were listed.
    return a.models.size() == b.models.size() &&
           std::is_permutation(a.models.begin(), a.models.end(), b.models.begin());
  }
  return true;  // every API4AI deployment serves the same model
}

std::string describe(const Provenance& p) {
  if (p.backend == BackendKind::local) {
    std::string digest;
    for (const auto& [role, sha] : p.models) {
      if (role == "embedder" || role == "model-set") digest = role + " " + sha.substr(0, 12) + "…";
    }
    std::string text = p.server.empty() ? "the local backend" : "the faceverify server " + p.server;
    return text + (digest.empty() ? std::string() : " (" + digest + ")");
  }
  return "api4ai" + (p.api.empty() ? std::string() : " (" + p.api + ")");
}

namespace {

constexpr int k_max_depth = 8;  // a record nests 4 deep; room for unknown members

// One line parsed into `parser`'s document. The text after a line (its '\n'
// and the next lines) is the padding simdjson reads past the end, so lines
// are parsed in place; only those within SIMDJSON_PADDING of the end of the
// text are copied. A line simdjson refuses is judged as nlohmann judged it:
// too deep, not JSON, or JSON simdjson does not take (a leading byte-order
// mark, a whole number past 64 bits, which nlohmann read as a double): then
// nlohmann's rendering of what it read is parsed instead.
class LineParser {
 public:
  explicit LineParser(std::string_view text) : m_end(text.data() + text.size()) {}

  Expected<Element> parse(std::string_view line) {
    Element element;
    const bool padded = static_cast<std::size_t>(m_end - (line.data() + line.size())) >= simdjson::SIMDJSON_PADDING;
    const auto result = padded ? m_parser.parse(reinterpret_cast<const std::uint8_t*>(line.data()), line.size(),
                                                /*realloc_if_needed=*/false)
                               : m_parser.parse(m_copy = simdjson::padded_string(line));
    if (result.get(element) == simdjson::SUCCESS) return element;
    if (detail::nested_too_deep(line, k_max_depth)) {
      return bad("nested too deeply to be a record");
    }
    const auto j = ordered_json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded()) {
      m_copy = simdjson::padded_string(j.dump(-1, ' ', false, ordered_json::error_handler_t::replace));
      if (m_parser.parse(m_copy).get(element) == simdjson::SUCCESS) return element;
    }
    return bad("not valid JSON (expected a record written by faceverify embed)");
  }

  // Whether the parser could be set up (it allocates for the nesting limit).
  bool ready() { return m_parser.allocate(64 * 1024, k_max_depth + 1) == simdjson::SUCCESS; }

 private:
  const char* m_end;
  simdjson::dom::parser m_parser;
  simdjson::padded_string m_copy;
};

}  // namespace

namespace {

// One run of whole lines of the file, parsed on its own thread.
struct Chunk {
  std::string_view text;
  std::vector<EmbeddingRecord> records;
  std::size_t lines = 0;             // lines read (all of them unless an error stopped it)
  std::optional<std::string> error;  // the first error, without "FILE: line N: "
  bool internal = false;             // the parser could not be set up
};

void parse_chunk(Chunk& c, std::string_view whole) {
  try {
    LineParser parser(whole);  // lines inside the file have the rest of it as simdjson's padding
    if (!parser.ready()) {
      c.internal = true;
      c.error = "no memory for the JSON parser";
      return;
    }
    detail::LineReader lines(c.text);
    std::string_view line;
    while (lines.next(line)) {
      c.lines = lines.number();
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      const auto j = parser.parse(line);
      if (!j) {
        c.error = j.error().message;
        return;
      }
      auto record = parse_record(*j);
      if (!record) {
        c.error = record.error().message;
        return;
      }
      c.records.push_back(std::move(*record));
    }
  } catch (const std::bad_alloc&) {
    c.internal = true;
    c.error = "out of memory";
  }
}

// Large files are split at line ends and parsed on every core: each record
// is independent, and the first error in file order is the one reported.
constexpr std::size_t k_bytes_per_thread = 8u << 20;

}  // namespace

Expected<std::vector<EmbeddingRecord>> parse_embedding_file(std::string_view text, std::string_view label) {
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t parts =
      std::clamp<std::size_t>(text.size() / k_bytes_per_thread, 1, std::min<std::size_t>(cores, 8));
  std::vector<Chunk> chunks;
  for (std::size_t i = 0, from = 0; i < parts && from < text.size(); ++i) {
    std::size_t to = i + 1 == parts ? text.size() : text.size() * (i + 1) / parts;
    if (to < text.size()) {
      const std::size_t nl = text.find('\n', std::max(to, from));
      to = nl == std::string_view::npos ? text.size() : nl + 1;
    }
    chunks.push_back(Chunk{text.substr(from, to - from), {}, 0, std::nullopt, false});
    from = to;
  }
  if (chunks.size() <= 1) {
    if (chunks.empty()) chunks.push_back(Chunk{text, {}, 0, std::nullopt, false});
    parse_chunk(chunks.front(), text);
  } else {
    std::vector<std::jthread> pool;
    for (std::size_t i = 1; i < chunks.size(); ++i) pool.emplace_back([&, i] { parse_chunk(chunks[i], text); });
    parse_chunk(chunks.front(), text);
  }
  std::size_t line_offset = 0;
  std::size_t total = 0;
  for (const Chunk& c : chunks) {
    if (c.error) {
      if (c.internal) return fail(ErrorKind::internal, std::string(label) + ": " + *c.error);
      return fail(ErrorKind::input,
                  std::string(label) + ": line " + std::to_string(line_offset + c.lines) + ": " + *c.error);
    }
    line_offset += c.lines;
    total += c.records.size();
  }
  if (total == 0) {
    return fail(ErrorKind::input, std::string(label) + ": no records (expected lines written by faceverify embed)");
  }
  std::vector<EmbeddingRecord> records = std::move(chunks.front().records);
  records.reserve(total);
  for (std::size_t i = 1; i < chunks.size(); ++i) {
    std::move(chunks[i].records.begin(), chunks[i].records.end(), std::back_inserter(records));
  }
  return records;
}

}  // namespace faceverify
