// SPDX-License-Identifier: MIT
#pragma once
// The API4AI Face Analyzer protocol, server side (faceverify serve): reading
// a request's query string and form body, and writing the service's replies.
// Pure functions over bytes, so every parser has a unit test and a fuzz
// target; the HTTP layer (server.cpp) owns sockets and never parses a body.
// docs/serve.md describes what clients see.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "faceverify/error.hpp"
#include "faceverify/face.hpp"

namespace faceverify::serve {

/// Bounds on what one request may hold: a request over any of them is
/// refused (ErrorKind::usage), never truncated.
struct FormLimits {
  std::size_t max_fields = 32;               // parts or key=value pairs
  std::size_t max_part_header_bytes = 8192;  // the header block of one multipart part
  std::size_t max_name_bytes = 1024;         // a field name or filename
};

/// One decoded query or form field. `filename` is set for a multipart file
/// part (possibly to ""), never for a text field or a urlencoded pair.
struct FormField {
  std::string name;
  std::string value;  // text value, or the file's bytes
  std::optional<std::string> filename;
  std::optional<std::string> content_type;  // the part's Content-Type, if sent
};

/// `a=1&b=x%20y+z` → {"a","1"}, {"b","x y z"}: percent-decoding, '+' as
/// space, repeated names kept in order, empty pairs skipped; a malformed
/// escape (`%zz`, `%4`) is an error naming it.
Expected<std::vector<FormField>> parse_query(std::string_view query, const FormLimits& limits = {});

/// The same grammar for an application/x-www-form-urlencoded body.
Expected<std::vector<FormField>> parse_urlencoded(std::string_view body, const FormLimits& limits = {});

/// The boundary of a `multipart/form-data; boundary=…` Content-Type (quoted
/// or not, parameters in any order and case), or nullopt when the type is
/// not multipart/form-data or has no valid boundary (RFC 2046: 1–70 chars).
std::optional<std::string> multipart_boundary(std::string_view content_type);

/// The parts of a multipart/form-data body (RFC 7578): each part's
/// Content-Disposition `form-data; name="…"; filename="…"` (quoted strings
/// with backslash escapes, and filename*=UTF-8''… accepted), its optional
/// Content-Type, and its bytes exactly (binary-safe; the CRLF before the
/// next delimiter is not part of the value). Preamble and epilogue are
/// ignored. A missing closing delimiter, a part without a name, or a header
/// block over the limit is an error.
/// Line breaks must be CRLF (bare LF is refused: tolerating it would split
/// binary content at "\n--boundary"). A `--boundary` not followed by "--" or
/// by optional spaces and CRLF is content, not a delimiter. filename* (UTF-8
/// only) wins over filename; a filename is not percent-decoded (urllib3 and
/// browsers send '"' as %22, which the service keeps as is).
Expected<std::vector<FormField>> parse_multipart(std::string_view body, std::string_view boundary,
                                                 const FormLimits& limits = {});

/// The first field named `name`, or nullptr.
const FormField* find_field(const std::vector<FormField>& fields, std::string_view name);

/// How pydantic reads a boolean query value: true/True/TRUE/1/yes/on/y/t →
/// true, false/…/0/no/off/n/f → false (case-insensitive), anything else
/// nullopt (→ 422).
std::optional<bool> parse_bool(std::string_view value);

/// The names of the five landmarks, in the service's order.
inline constexpr std::string_view k_landmark_names[5] = {"left-eye", "right-eye", "nose-tip", "mouth-left-corner",
                                                         "mouth-right-corner"};

/// HTTP 200 with status ok: the service's envelope, keys in the service's
/// order — {"results":[{"status":{"code":"ok","message":"Success"},"name",
/// "md5","width","height","entities":[{"kind":"objects","name":
/// "face-detector","objects":[{"box":[x,y,w,h],"entities":[classes/face,
/// namedpoints/face-landmarks, vector/face-embeddings (only when
/// `embeddings`)]}]}]}]} — faces in `analysis.faces` order, numbers in
/// shortest round-trip form.
/// Every face gets all its entities, so positions never shift (clients read
/// `entities[2].vector`): a face without a confidence is written with 1.0
/// (the local detector always gives one), one without landmarks with empty
/// namedpoints; landmarks keep `face.landmarks`' names and order. width and
/// height are omitted when unknown; a name that is not UTF-8 gets U+FFFD.
std::string results_json(const Analysis& analysis, bool embeddings);

/// HTTP 200 with status failure (`message` e.g. "Can not load image."):
/// {"results":[{"status":{"code":"failure","message":…},"name":…,"md5":…,"entities":[]}]}.
std::string failure_json(std::string_view name, std::string_view md5, std::string_view message);

/// One FastAPI/pydantic validation error.
struct ValidationError {
  std::vector<std::string> loc;  // e.g. {"body", "image"}
  std::string msg;               // e.g. "field required"
  std::string type;              // e.g. "value_error.missing"
};

/// HTTP 422: {"detail":[{"loc":[…],"msg":…,"type":…},…]}.
std::string validation_json(const std::vector<ValidationError>& errors);

/// 401/404/405/429 and other gateway-style errors: {"message":…}.
std::string message_json(std::string_view message);

/// GET …/v1/version: the JSON string "v1.2.0" for `version` "1.2.0" (a
/// version already starting with 'v' is not prefixed again).
std::string version_json(std::string_view version);

/// HTTP 413: the front end's HTML page ("Your client issued a request that
/// was too large."), as the service answers it (Content-Type text/html).
std::string too_large_html();

}  // namespace faceverify::serve
