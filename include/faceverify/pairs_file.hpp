// SPDX-License-Identifier: MIT
#pragma once
// The pairs file of `faceverify pairs` (and `calibrate`): one pair per row,
// `image1,image2[,expected]`, comma- or tab-separated, where expected is
// `same` or `different`. Format: docs/pairs-file.md.
//
//   - the delimiter is a tab when the first non-comment, non-blank line has a
//     tab, else a comma;
//   - fields may be double-quoted (RFC 4180: "" is a quote inside quotes, and a
//     quoted field may hold the delimiter); spaces around unquoted fields are
//     trimmed;
//   - blank lines and lines starting with '#' are skipped;
//   - the first row is a header, and skipped, when its first two fields are
//     `image1`,`image2` (any case), or when it has three fields: two column
//     names (letters, digits, '_', '-', spaces) and one of `expected`,
//     `expectation`, `label`, `match`, `same_person`, `is_same`, `truth`,
//     `ground_truth`, `verdict` (any case): `img1,img2,label`;
//   - `expected` is matched case-insensitively; an empty third field means no
//     expectation;
//   - CRLF line ends and a UTF-8 BOM are accepted.
// A malformed row does not stop the parse: it becomes a Row with `error` set,
// so the batch reports it and goes on.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace faceverify {

enum class Expectation { none, same, different };

/// "same", "different" (empty for none)
std::string_view expectation_name(Expectation e) noexcept;

struct PairRow {
  std::size_t line = 0;  // 1-based line number in the file
  std::string image1;
  std::string image2;
  Expectation expected = Expectation::none;
  std::optional<std::string> error;  // "line 7: expected 2 or 3 fields, got 1", ...
};

/// Parses a whole pairs file. Never fails: malformed rows carry `error`
/// (wrong field count, empty image field, unknown expected value, unterminated
/// quote, NUL byte), with the 1-based line number in the message.
std::vector<PairRow> parse_pairs(std::string_view text);

}  // namespace faceverify
