// SPDX-License-Identifier: MIT
#pragma once
// The keys faceverify serve accepts (--api-key-file: one key per line,
// several for rotation). Presented keys are compared in constant time: each
// is hashed and the digests compared with CRYPTO_memcmp, so neither a key's
// content nor its length shows in the answer time.

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "faceverify/error.hpp"

namespace faceverify::serve {

class ApiKeys {
 public:
  ApiKeys() = default;  // no keys: every request is allowed
  /// From the lines of a key file's text: whitespace trimmed, blank lines
  /// and lines starting with '#' skipped. No key at all is an error.
  static Expected<ApiKeys> from_text(std::string_view text, std::string_view where);
  /// Reads `path` (a regular file that only its owner can read, like ssh's
  /// keys; at most 64 KiB) and registers every key as a secret.
  static Expected<ApiKeys> read_file(const std::string& path);

  bool required() const noexcept { return !m_digests.empty(); }
  std::size_t size() const noexcept { return m_digests.size(); }
  /// Whether `presented` is one of the keys (true when none are required).
  bool accepts(std::string_view presented) const;

 private:
  std::vector<std::array<unsigned char, 32>> m_digests;
};

}  // namespace faceverify::serve
