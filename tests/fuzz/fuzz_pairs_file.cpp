// SPDX-License-Identifier: MIT
// libFuzzer target: the pairs-file parser never throws, crashes, hangs or
// leaks, and what it returns keeps its promises: rows in line order, every
// malformed row an error naming its line, every other row two images.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "faceverify/pairs_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<faceverify::PairRow> rows;
  try {
    rows = faceverify::parse_pairs(text);
  } catch (...) {
    __builtin_trap();
  }
  std::size_t lines = 1;
  for (char c : text) lines += c == '\n' ? 1 : 0;
  std::size_t previous = 0;
  for (const auto& row : rows) {
    if (row.line == 0 || row.line <= previous || row.line > lines) __builtin_trap();
    previous = row.line;
    if (row.error) {
      if (row.error->rfind("line " + std::to_string(row.line) + ": ", 0) != 0) __builtin_trap();
      for (unsigned char c : *row.error) {
        if (c < 0x20 || c == 0x7F) __builtin_trap();  // one line, whatever the input
      }
    } else {
      if (row.image1.empty() || row.image2.empty()) __builtin_trap();
    }
  }
  return 0;
}
