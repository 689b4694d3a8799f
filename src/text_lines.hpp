// SPDX-License-Identifier: MIT
#pragma once
// Line by line through a text file's contents (pairs, embedding and config
// files): lines end at '\n', which is not part of the line; a last line
// without one still counts; a text ending in '\n' has no empty last line.
// Numbered from 1, for "file: line N: ..." messages.

#include <cstddef>
#include <string_view>

namespace faceverify::detail {

class LineReader {
 public:
  explicit LineReader(std::string_view text) noexcept : m_rest(text) {}

  /// The next line into `line`; false at the end.
  bool next(std::string_view& line) noexcept {
    if (m_rest.empty()) return false;
    ++m_number;
    const std::size_t nl = m_rest.find('\n');
    if (nl == std::string_view::npos) {
      line = m_rest;
      m_rest = {};
    } else {
      line = m_rest.substr(0, nl);
      m_rest.remove_prefix(nl + 1);
    }
    return true;
  }

  /// The 1-based number of the line next() returned last.
  std::size_t number() const noexcept { return m_number; }

 private:
  std::string_view m_rest;
  std::size_t m_number = 0;
};

}  // namespace faceverify::detail
