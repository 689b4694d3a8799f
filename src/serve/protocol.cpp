// SPDX-License-Identifier: MIT
// The API4AI protocol, server side: parsers of what clients send (query
// strings, urlencoded and multipart forms) and writers of what the service
// answers. Every parser works on a string_view of the whole request and
// copies out only the fields it returns; nlohmann/json (ordered_json, so keys
// keep the service's order) never leaves this file and never throws out of it.
#include "serve/protocol.hpp"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

#include "faceverify/text.hpp"

namespace faceverify::serve {
namespace {

using nlohmann::ordered_json;

std::unexpected<Error> refuse(std::string message) {
  return fail(ErrorKind::usage, std::move(message));
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A few bytes of client input fit for a one-line message: printable ASCII as
// is, anything else as \xNN.
std::string printable(std::string_view bytes) {
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += ch;
    } else {
      out += "\\x";
      out += k_hex[c >> 4];
      out += k_hex[c & 0xF];
    }
  }
  return out;
}

// Percent-decoding; '+' is a space only in the form grammar (`plus_is_space`),
// not in RFC 5987's ext-value. Errors name the escape and `where` it is.
Expected<std::string> percent_decode(std::string_view s, bool plus_is_space, std::string_view where) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      const int hi = i + 1 < s.size() ? hex_value(s[i + 1]) : -1;
      const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return refuse("malformed percent-escape \"" + printable(s.substr(i, 3)) + "\" in the " + std::string(where) +
                      " (a literal % is written %25)");
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

// application/x-www-form-urlencoded as WHATWG and Python's parse_qsl (with
// keep_blank_values, as Starlette calls it) read it: '&' separates pairs, a
// pair without '=' is a name with an empty value.
Expected<std::vector<FormField>> parse_form_pairs(std::string_view text, const FormLimits& limits,
                                                  std::string_view where) {
  std::vector<FormField> fields;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('&', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view pair = text.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    if (fields.size() == limits.max_fields) {
      return refuse("the " + std::string(where) + " has more than " + std::to_string(limits.max_fields) + " fields");
    }
    const std::size_t eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq), true, where);
    if (!name) return std::unexpected(name.error());
    if (name->size() > limits.max_name_bytes) {
      return refuse("a field name in the " + std::string(where) + " is longer than " +
                    std::to_string(limits.max_name_bytes) + " bytes");
    }
    auto value = eq == std::string_view::npos ? Expected<std::string>(std::string())
                                              : percent_decode(pair.substr(eq + 1), true, where);
    if (!value) return std::unexpected(value.error());
    fields.push_back(FormField{std::move(*name), std::move(*value), std::nullopt, std::nullopt});
  }
  return fields;
}

constexpr std::string_view k_crlf = "\r\n";
constexpr std::string_view k_whitespace = " \t";

bool is_tchar(char c) noexcept {
  // RFC 9110 token characters.
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7F) return false;
  return std::string_view("\"(),/:;<=>?@[\\]{}").find(c) == std::string_view::npos;
}

bool is_bchar(char c) noexcept {
  // RFC 2046 bcharsnospace, plus the space (not allowed last; checked apart).
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

// One `; key=value` parameter list (Content-Type, Content-Disposition): keys
// lowercased, values unquoted (backslash escapes resolved). The first of a
// repeated key wins. nullopt for a syntax error (an unterminated quote, a
// key without a value).
std::optional<std::vector<std::pair<std::string, std::string>>> parse_parameters(std::string_view s) {
  std::vector<std::pair<std::string, std::string>> params;
  std::size_t i = 0;
  const auto skip_ws = [&] {
    while (i < s.size() && k_whitespace.find(s[i]) != std::string_view::npos) ++i;
  };
  while (true) {
    skip_ws();
    while (i < s.size() && s[i] == ';') {
      ++i;
      skip_ws();
    }
    if (i >= s.size()) return params;
    const std::size_t key_start = i;
    while (i < s.size() && is_tchar(s[i])) ++i;
    std::string key = ascii_lowercase(s.substr(key_start, i - key_start));
    skip_ws();
    if (key.empty() || i >= s.size() || s[i] != '=') return std::nullopt;
    ++i;
    skip_ws();
    std::string value;
    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        const char c = s[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && i < s.size()) {
          value += s[i++];
        } else {
          value += c;
        }
      }
      if (!closed) return std::nullopt;
    } else {
      // A token; browsers and curl always quote, but bare values occur
      // (`boundary=abc`), and some clients put spaces or '/' in them.
      const std::size_t value_start = i;
      while (i < s.size() && s[i] != ';') ++i;
      value = std::string(trim(s.substr(value_start, i - value_start), k_whitespace));
    }
    skip_ws();
    if (i < s.size() && s[i] != ';') return std::nullopt;  // junk after a quoted string
    const bool seen = std::any_of(params.begin(), params.end(), [&](const auto& p) { return p.first == key; });
    if (!seen) params.emplace_back(std::move(key), std::move(value));
  }
}

const std::string* parameter(const std::vector<std::pair<std::string, std::string>>& params, std::string_view key) {
  for (const auto& [k, v] : params) {
    if (k == key) return &v;
  }
  return nullptr;
}

// RFC 5987 ext-value: charset'language'pct-encoded. UTF-8 only (what every
// client sends); nullopt for anything else, so the plain filename is used.
std::optional<std::string> decode_ext_value(std::string_view v) {
  const std::size_t q1 = v.find('\'');
  if (q1 == std::string_view::npos) return std::nullopt;
  const std::size_t q2 = v.find('\'', q1 + 1);
  if (q2 == std::string_view::npos) return std::nullopt;
  if (!iequals(v.substr(0, q1), "utf-8")) return std::nullopt;
  auto decoded = percent_decode(v.substr(q2 + 1), false, "filename*");
  if (!decoded) return std::nullopt;
  return std::move(*decoded);
}

// Whether the bytes after a `--boundary` at `after` make it a delimiter:
// "--" (the close) or optional spaces and CRLF. A match followed by anything
// else is content (the sender should have chosen a better boundary, but the
// bytes are still the part's).
bool ends_delimiter(std::string_view body, std::size_t after) noexcept {
  if (body.substr(after).starts_with("--")) return true;
  while (after < body.size() && k_whitespace.find(body[after]) != std::string_view::npos) ++after;
  return body.substr(after).starts_with(k_crlf);
}

// The first real delimiter `\r\n--boundary` at or after `from`, or npos.
std::size_t find_delimiter(std::string_view body, std::string_view crlf_dash, std::size_t from) noexcept {
  while (true) {
    const std::size_t k = body.find(crlf_dash, from);
    if (k == std::string_view::npos || ends_delimiter(body, k + crlf_dash.size())) return k;
    from = k + 1;
  }
}

std::string part_label(std::size_t index) {
  return "multipart body: part " + std::to_string(index + 1);
}

// The header block of one part, from just after its delimiter line to just
// after the empty line that ends it; fills `field` (minus its value).
Expected<std::size_t> read_part_headers(std::string_view body, std::size_t at, std::size_t index,
                                        const FormLimits& limits, FormField& field) {
  std::optional<std::string> disposition;
  std::string* last_value = nullptr;  // for an obsolete folded line
  std::string content_type;
  bool has_content_type = false;
  const std::size_t block_start = at;
  while (true) {
    const std::size_t eol = body.find(k_crlf, at);
    if (eol == std::string_view::npos || eol + 2 - block_start > limits.max_part_header_bytes) {
      if (eol != std::string_view::npos || body.size() - block_start > limits.max_part_header_bytes) {
        return refuse(part_label(index) + " has headers longer than " + std::to_string(limits.max_part_header_bytes) +
                      " bytes");
      }
      return refuse(part_label(index) + " ends inside its headers (no closing delimiter)");
    }
    const std::string_view line = body.substr(at, eol - at);
    at = eol + 2;
    if (line.empty()) break;
    if (k_whitespace.find(line[0]) != std::string_view::npos) {
      if (!last_value) return refuse(part_label(index) + " starts its headers with a continuation line");
      *last_value += ' ';
      *last_value += trim(line, k_whitespace);
      continue;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return refuse(part_label(index) + " has a header line without ':'");
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1), k_whitespace);
    last_value = nullptr;
    if (iequals(name, "content-disposition")) {
      if (!disposition) {
        disposition = std::string(value);
        last_value = &*disposition;
      }
    } else if (iequals(name, "content-type")) {
      if (!has_content_type) {
        content_type = std::string(value);
        has_content_type = true;
        last_value = &content_type;
      }
    }
  }
  if (!disposition) return refuse(part_label(index) + " has no Content-Disposition header");
  const std::string_view d = *disposition;
  const std::size_t semi = d.find(';');
  if (!iequals(trim(d.substr(0, semi), k_whitespace), "form-data")) {
    return refuse(part_label(index) + " is not form-data (its Content-Disposition must start with form-data)");
  }
  const auto params = parse_parameters(semi == std::string_view::npos ? std::string_view() : d.substr(semi + 1));
  if (!params) return refuse(part_label(index) + " has a malformed Content-Disposition (an unclosed quote?)");
  const std::string* name = parameter(*params, "name");
  if (!name) return refuse(part_label(index) + " has no name in its Content-Disposition");
  if (name->size() > limits.max_name_bytes) {
    return refuse(part_label(index) + " has a name longer than " + std::to_string(limits.max_name_bytes) + " bytes");
  }
  field.name = *name;
  std::optional<std::string> filename;
  if (const std::string* ext = parameter(*params, "filename*")) filename = decode_ext_value(*ext);
  if (!filename) {
    if (const std::string* plain = parameter(*params, "filename")) filename = *plain;
  }
  if (filename && filename->size() > limits.max_name_bytes) {
    return refuse(part_label(index) + " has a filename longer than " + std::to_string(limits.max_name_bytes) +
                  " bytes");
  }
  field.filename = std::move(filename);
  if (has_content_type) field.content_type = std::move(content_type);
  return at;
}

std::string dump(const ordered_json& j) {
  // Compact, as FastAPI answers; a filename that is not UTF-8 gets U+FFFD
  // instead of an exception.
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

ordered_json status_json(std::string_view code, std::string_view message) {
  ordered_json status = ordered_json::object();
  status["code"] = code;
  status["message"] = message;
  return status;
}

ordered_json entity(std::string_view kind, std::string_view name, ordered_json payload) {
  ordered_json e = ordered_json::object();
  e["kind"] = kind;
  e["name"] = name;
  e[std::string(kind)] = std::move(payload);
  return e;
}

ordered_json face_json(const Face& face, bool embeddings) {
  ordered_json obj = ordered_json::object();
  obj["box"] = ordered_json::array({face.box[0], face.box[1], face.box[2], face.box[3]});
  ordered_json entities = ordered_json::array();
  ordered_json classes = ordered_json::object();
  classes["face"] = face.confidence.value_or(1.0);
  entities.push_back(entity("classes", "face", std::move(classes)));
  ordered_json points = ordered_json::object();
  for (const auto& [name, p] : face.landmarks) points[name] = ordered_json::array({p.x, p.y});
  entities.push_back(entity("namedpoints", "face-landmarks", std::move(points)));
  if (embeddings) {
    ordered_json vector = ordered_json::array();
    for (const double v : face.embedding) vector.push_back(v);
    entities.push_back(entity("vector", "face-embeddings", std::move(vector)));
  }
  obj["entities"] = std::move(entities);
  return obj;
}

}  // namespace

Expected<std::vector<FormField>> parse_query(std::string_view query, const FormLimits& limits) {
  return parse_form_pairs(query, limits, "query string");
}

Expected<std::vector<FormField>> parse_urlencoded(std::string_view body, const FormLimits& limits) {
  return parse_form_pairs(body, limits, "form body");
}

std::optional<std::string> multipart_boundary(std::string_view content_type) {
  const std::size_t semi = content_type.find(';');
  if (!iequals(trim(content_type.substr(0, semi), k_whitespace), "multipart/form-data")) return std::nullopt;
  if (semi == std::string_view::npos) return std::nullopt;
  const auto params = parse_parameters(content_type.substr(semi + 1));
  if (!params) return std::nullopt;
  const std::string* boundary = parameter(*params, "boundary");
  if (!boundary || boundary->empty() || boundary->size() > 70 || boundary->back() == ' ') return std::nullopt;
  if (!std::all_of(boundary->begin(), boundary->end(), is_bchar)) return std::nullopt;
  return *boundary;
}

Expected<std::vector<FormField>> parse_multipart(std::string_view body, std::string_view boundary,
                                                 const FormLimits& limits) {
  if (boundary.empty()) return refuse("multipart body: the boundary is empty");
  const std::string crlf_dash = "\r\n--" + std::string(boundary);
  const std::string_view dash = std::string_view(crlf_dash).substr(2);
  // The first delimiter opens the body or follows the preamble's CRLF.
  std::size_t pos;  // at the "--boundary" of the current delimiter
  if (body.starts_with(dash) && ends_delimiter(body, dash.size())) {
    pos = 0;
  } else {
    const std::size_t k = find_delimiter(body, crlf_dash, 0);
    if (k == std::string_view::npos)
      return refuse("multipart body: no delimiter of the boundary the Content-Type names");
    pos = k + 2;
  }
  std::vector<FormField> fields;
  while (true) {
    std::size_t at = pos + dash.size();
    if (body.substr(at).starts_with("--")) return fields;                // the close; the epilogue is ignored
    while (k_whitespace.find(body[at]) != std::string_view::npos) ++at;  // find_delimiter saw CRLF after these
    at += 2;
    if (fields.size() == limits.max_fields) {
      return refuse("multipart body: more than " + std::to_string(limits.max_fields) + " parts");
    }
    FormField field;
    auto content_start = read_part_headers(body, at, fields.size(), limits, field);
    if (!content_start) return std::unexpected(content_start.error());
    const std::size_t k = find_delimiter(body, crlf_dash, *content_start);
    if (k == std::string_view::npos) {
      return refuse(part_label(fields.size()) + " has no closing delimiter (the body is cut short?)");
    }
    field.value = std::string(body.substr(*content_start, k - *content_start));
    fields.push_back(std::move(field));
    pos = k + 2;
  }
}

const FormField* find_field(const std::vector<FormField>& fields, std::string_view name) {
  for (const FormField& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::optional<bool> parse_bool(std::string_view value) {
  static constexpr std::array<std::string_view, 6> k_true = {"1", "on", "t", "true", "y", "yes"};
  static constexpr std::array<std::string_view, 6> k_false = {"0", "off", "f", "false", "n", "no"};
  for (const std::string_view t : k_true) {
    if (iequals(value, t)) return true;
  }
  for (const std::string_view f : k_false) {
    if (iequals(value, f)) return false;
  }
  return std::nullopt;
}

std::string results_json(const Analysis& analysis, bool embeddings) {
  ordered_json result = ordered_json::object();
  result["status"] = status_json("ok", "Success");
  result["name"] = analysis.name;
  result["md5"] = analysis.md5;
  if (analysis.width) result["width"] = *analysis.width;
  if (analysis.height) result["height"] = *analysis.height;
  ordered_json objects = ordered_json::array();
  for (const Face& face : analysis.faces) objects.push_back(face_json(face, embeddings));
  ordered_json detector = entity("objects", "face-detector", std::move(objects));
  result["entities"] = ordered_json::array({std::move(detector)});
  ordered_json root = ordered_json::object();
  root["results"] = ordered_json::array({std::move(result)});
  return dump(root);
}

std::string failure_json(std::string_view name, std::string_view md5, std::string_view message) {
  ordered_json result = ordered_json::object();
  result["status"] = status_json("failure", message);
  result["name"] = name;
  result["md5"] = md5;
  result["entities"] = ordered_json::array();
  ordered_json root = ordered_json::object();
  root["results"] = ordered_json::array({std::move(result)});
  return dump(root);
}

std::string validation_json(const std::vector<ValidationError>& errors) {
  ordered_json detail = ordered_json::array();
  for (const ValidationError& e : errors) {
    ordered_json item = ordered_json::object();
    item["loc"] = e.loc;
    item["msg"] = e.msg;
    item["type"] = e.type;
    detail.push_back(std::move(item));
  }
  ordered_json root = ordered_json::object();
  root["detail"] = std::move(detail);
  return dump(root);
}

std::string message_json(std::string_view message) {
  ordered_json root = ordered_json::object();
  root["message"] = message;
  return dump(root);
}

std::string version_json(std::string_view version) {
  // Appended, not "v" + string: GCC 12 at -O3 warns falsely (-Wrestrict) on that.
  std::string text;
  if (!version.starts_with('v')) text.push_back('v');
  text.append(version);
  return dump(ordered_json(text));
}

std::string too_large_html() {
  // The Google front end's page in front of api4ai (docs/serve.md; the same
  // text the fake server answers).
  return "<html><head><title>413 Request Entity Too Large</title></head>\n"
         "<body><h1>Error: Request Entity Too Large</h1>\n"
         "<h2>Your client issued a request that was too large.</h2></body></html>\n";
}

}  // namespace faceverify::serve
