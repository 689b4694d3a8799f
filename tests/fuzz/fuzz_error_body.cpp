// SPDX-License-Identifier: MIT
// libFuzzer target: the error-body summariser always yields one short line
// of valid UTF-8 without control characters, whatever the body and content type.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "faceverify/error_body.hpp"
#include "faceverify/text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static constexpr std::string_view k_types[] = {"application/json", "text/html; charset=utf-8", "text/plain", ""};
  const std::string_view type = k_types[data[0] % 4];
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string line = faceverify::summarize_error_body(body, type);
  if (line.size() > 210) __builtin_trap();
  if (!faceverify::is_valid_utf8(line)) __builtin_trap();
  for (unsigned char c : line) {
    if (c < 0x20 || c == 0x7F) __builtin_trap();
  }
  return 0;
}
