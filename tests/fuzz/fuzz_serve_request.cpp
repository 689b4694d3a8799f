// SPDX-License-Identifier: MIT
// libFuzzer target: the request parsers of faceverify serve (query string,
// urlencoded and multipart forms, the multipart boundary) never crash, stay
// within FormLimits, and report errors in one line. Input: the first line is
// the Content-Type, the rest the body (tests/data/serve/*.http have this shape).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "serve/protocol.hpp"

namespace {

using faceverify::serve::FormField;
using faceverify::serve::FormLimits;

void check(const faceverify::Expected<std::vector<FormField>>& fields, std::string_view body, const FormLimits& limits,
           bool from_multipart) {
  if (!fields) {
    if (fields.error().message.empty() || fields.error().message.find('\n') != std::string::npos) __builtin_trap();
    return;
  }
  if (fields->size() > limits.max_fields) __builtin_trap();
  std::size_t bytes = 0;
  for (const FormField& f : *fields) {
    if (f.name.size() > limits.max_name_bytes) __builtin_trap();
    if (f.filename && f.filename->size() > limits.max_name_bytes) __builtin_trap();
    if (!from_multipart && (f.filename || f.content_type)) __builtin_trap();
    bytes += f.value.size();
  }
  if (bytes > body.size()) __builtin_trap();  // values are pieces of the body, never more
}

std::string encode(std::string_view s) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    out += '%';
    out += k_hex[c >> 4];
    out += k_hex[c & 0xF];
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nl = input.find('\n');
  const std::string_view type = input.substr(0, nl);
  const std::string_view body = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
  FormLimits limits;
  limits.max_fields = 8;
  limits.max_part_header_bytes = 256;
  limits.max_name_bytes = 64;

  const auto query = faceverify::serve::parse_query(input, limits);
  check(query, input, limits, false);
  if (query) {
    // What parse_query returns, percent-encoded again, reads back the same.
    std::string again;
    for (const FormField& f : *query) again += (again.empty() ? "" : "&") + encode(f.name) + "=" + encode(f.value);
    const auto reread = faceverify::serve::parse_query(again, limits);
    if (!reread || reread->size() != query->size()) __builtin_trap();
    for (std::size_t i = 0; i < query->size(); ++i) {
      if ((*reread)[i].name != (*query)[i].name || (*reread)[i].value != (*query)[i].value) __builtin_trap();
    }
  }
  check(faceverify::serve::parse_urlencoded(body, limits), body, limits, false);

  if (const auto boundary = faceverify::serve::multipart_boundary(type)) {
    if (boundary->empty() || boundary->size() > 70) __builtin_trap();
    check(faceverify::serve::parse_multipart(body, *boundary, limits), body, limits, true);
  }
  // A short first line as the boundary itself, so the fuzzer need not find a
  // valid Content-Type to reach the body parser.
  if (!type.empty() && type.size() <= 70) {
    check(faceverify::serve::parse_multipart(body, type, limits), body, limits, true);
  }
  return 0;
}
