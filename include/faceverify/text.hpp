// SPDX-License-Identifier: MIT
#pragma once
// Text helpers shared by every module: strict UTF-8 (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), code point counts, and ASCII
// trimming, case-insensitive comparison and lowercasing. Plain bytes in, no
// locale, nothing throws but allocation. (Line splitting: src/text_lines.hpp.)

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace faceverify {

/// U+FFFD REPLACEMENT CHARACTER, UTF-8 encoded.
inline constexpr std::string_view k_replacement_character = "\xEF\xBF\xBD";

/// What a UTF-8 scan finds at one position.
struct Utf8Sequence {
  char32_t code_point = 0;  // U+FFFD when invalid
  std::size_t size = 1;     // bytes: 1 to 4 when valid; 1 to 3 (its maximal subpart) when invalid
  bool valid = true;
};

/// Decodes the sequence starting at s[at] (requires at < s.size()). An
/// invalid one spans its maximal subpart: the bytes one U+FFFD replaces
/// (Unicode's "substitution of maximal subparts"), so stepping by `size`
/// never swallows the start of a valid sequence.
Utf8Sequence decode_utf8(std::string_view s, std::size_t at) noexcept;

/// Whether all of `s` is valid UTF-8.
bool is_valid_utf8(std::string_view s) noexcept;

/// Code points in `s`, a display-width estimate; each invalid sequence counts
/// as one, as it will once replaced by U+FFFD.
std::size_t code_points(std::string_view s) noexcept;

/// The longest prefix of `s` of at most `max_bytes` bytes that does not end
/// inside a sequence.
std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes) noexcept;

/// The longest prefix of `s` of at most `max_code_points` code points.
std::string_view code_point_prefix(std::string_view s, std::size_t max_code_points) noexcept;

/// The characters std::isspace accepts in the "C" locale.
inline constexpr std::string_view k_ascii_whitespace = " \t\n\v\f\r";

/// `s` without leading and trailing bytes that are in `chars`.
std::string_view trim(std::string_view s, std::string_view chars = k_ascii_whitespace) noexcept;

/// Equal but for the case of ASCII letters.
bool iequals(std::string_view a, std::string_view b) noexcept;

/// `s` with ASCII letters lowercased; other bytes unchanged.
std::string ascii_lowercase(std::string_view s);

/// `text` with every occurrence of `secret` (an API key) replaced by
/// "[redacted]", and every run of 6 or more characters that is a piece of it
/// (a key cut short at an excerpt's end, or split across two strings): no 6
/// characters of a key survive. A secret shorter than 6 characters is
/// replaced only whole. For decoded text: see redact_secret_exact for raw data.
std::string redact_secret(std::string text, std::string_view secret);

/// Only whole occurrences of `secret` replaced: for raw bytes (a JSON body)
/// whose syntax a partial match could break.
std::string redact_secret_exact(std::string text, std::string_view secret);
/// The Damerau-Levenshtein (optimal string alignment) distance of `a` and
/// `b`: insertions, deletions, substitutions and swaps of two neighbours
/// ("treshold" is 1 from "threshold", "embd" 1 from "embed").
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate nearest to `word` ("did you mean ...?"), when it is within
/// a distance that still looks like a typo: at most 1 for words of up to 4
/// characters, else at most 2, and less than `word`'s own length. The first
/// of equally near candidates wins.
std::optional<std::string_view> nearest(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace faceverify
