// SPDX-License-Identifier: MIT
#pragma once
// Guard for nlohmann::json, whose recursive parser and destructor use stack in
// proportion to nesting: text nested deeper than a limit is refused unparsed.

#include <string_view>

namespace faceverify::detail {

/// Whether `text` nests arrays/objects deeper than `max_depth` (strings are
/// skipped). Linear and allocation-free.
inline bool nested_too_deep(std::string_view text, int max_depth) noexcept {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

}  // namespace faceverify::detail
