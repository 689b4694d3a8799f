// SPDX-License-Identifier: MIT
#include "faceverify/text.hpp"

#include <algorithm>
#include <vector>

namespace faceverify {
namespace {

constexpr Utf8Sequence invalid(std::size_t size) noexcept {
  return Utf8Sequence{0xFFFD, size, false};
}

char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

Utf8Sequence decode_utf8(std::string_view s, std::size_t at) noexcept {
  const auto b0 = static_cast<unsigned char>(s[at]);
  if (b0 < 0x80) return Utf8Sequence{b0, 1, true};
  // The range of the second byte is narrowed where the lead byte alone would
  // allow an overlong form, a surrogate or a code point above U+10FFFF
  // (RFC 3629 section 4); C0, C1 and F5..FF never start a sequence.
  std::size_t len = 0;
  char32_t cp = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0Fu;
    if (b0 == 0xE0) lo = 0xA0;  // overlong below U+0800
    if (b0 == 0xED) hi = 0x9F;  // surrogates U+D800..U+DFFF
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07u;
    if (b0 == 0xF0) lo = 0x90;  // overlong below U+10000
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return invalid(1);  // a continuation byte, C0/C1 (overlong) or F5..FF
  }
  for (std::size_t k = 1; k < len; ++k) {
    if (at + k >= s.size()) return invalid(k);  // truncated at the end
    const auto b = static_cast<unsigned char>(s[at + k]);
    if (b < lo || b > hi) return invalid(k);
    cp = (cp << 6) | (b & 0x3Fu);
    lo = 0x80;
    hi = 0xBF;
  }
  return Utf8Sequence{cp, len, true};
}

bool is_valid_utf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    const Utf8Sequence seq = decode_utf8(s, i);
    if (!seq.valid) return false;
    i += seq.size;
  }
  return true;
}

std::size_t code_points(std::string_view s) noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); i += decode_utf8(s, i).size) ++n;
  return n;
}

std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes) noexcept {
  std::size_t end = 0;
  while (end < s.size()) {
    const std::size_t size = decode_utf8(s, end).size;
    if (size > max_bytes - end) break;
    end += size;
  }
  return s.substr(0, end);
}

std::string_view code_point_prefix(std::string_view s, std::size_t max_code_points) noexcept {
  std::size_t end = 0;
  for (std::size_t n = 0; n < max_code_points && end < s.size(); ++n) end += decode_utf8(s, end).size;
  return s.substr(0, end);
}

std::string_view trim(std::string_view s, std::string_view chars) noexcept {
  const auto first = s.find_first_not_of(chars);
  if (first == std::string_view::npos) return s.substr(s.size());
  return s.substr(first, s.find_last_not_of(chars) - first + 1);
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

std::string ascii_lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

// The shortest piece of a key that is redacted on its own: a key cut at an
// excerpt's end or split across two strings leaves no 6 characters of it.
constexpr std::size_t k_min_secret_piece = 6;

std::string redact_secret_exact(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos)) {
    text.replace(pos, secret.size(), "[redacted]");
    pos += 10;
  }
  return text;
}

std::string redact_secret(std::string text, std::string_view secret) {
  if (secret.size() < k_min_secret_piece) return redact_secret_exact(std::move(text), secret);
  // Each run of text that is a piece of the key (k_min_secret_piece
  // characters or more, as long as it goes) becomes one "[redacted]".
  const auto piece_of_key = [&](std::size_t at, std::size_t n) {
    return secret.find(std::string_view(text).substr(at, n)) != std::string_view::npos;
  };
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t n = 0;
    if (i + k_min_secret_piece <= text.size() && piece_of_key(i, k_min_secret_piece)) {
      n = k_min_secret_piece;
      while (i + n < text.size() && n < secret.size() && piece_of_key(i, n + 1)) ++n;
    }
    if (n == 0) {
      out.push_back(text[i++]);
    } else {
      out += "[redacted]";
      i += n;
    }
  }
  return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Three rows of the dynamic programme: the swap needs the one before last.
  std::vector<std::size_t> before(b.size() + 1), last(b.size() + 1), row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) last[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({last[j] + 1, row[j - 1] + 1, last[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) row[j] = std::min(row[j], before[j - 2] + 1);
    }
    std::swap(before, last);
    std::swap(last, row);
  }
  return last[b.size()];
}

std::optional<std::string_view> nearest(std::string_view word, std::span<const std::string_view> candidates) {
  const std::size_t limit = std::min<std::size_t>(word.size() <= 4 ? 1 : 2, word.size() - (word.empty() ? 0 : 1));
  std::optional<std::string_view> best;
  std::size_t best_distance = limit + 1;
  for (const std::string_view c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace faceverify
