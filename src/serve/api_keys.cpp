// SPDX-License-Identifier: MIT
#include "serve/api_keys.hpp"

#include "faceverify/credentials.hpp"
#include "faceverify/image.hpp"
#include "faceverify/secrets.hpp"
#include "faceverify/sha256.hpp"
#include "faceverify/text.hpp"

namespace faceverify::serve {

Expected<ApiKeys> ApiKeys::from_text(std::string_view text, std::string_view where) {
  ApiKeys keys;
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // a UTF-8 byte order mark (Windows editors)
  while (!text.empty()) {
    const auto end = text.find('\n');
    const std::string_view line = trim(text.substr(0, end), " \t\r");
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.empty() || line.front() == '#') continue;
    register_secret(std::string(line));
    keys.m_digests.push_back(sha256_digest(line));
  }
  if (keys.m_digests.empty()) {
    return fail(ErrorKind::usage,
                std::string(where) + "no key in the file (expected one key per line; '#' starts a comment)");
  }
  return keys;
}

Expected<ApiKeys> ApiKeys::read_file(const std::string& path) {
  const std::string where = "--api-key-file " + display_name(path) + ": ";
  auto data = read_secret_file(path, where, 65536);
  if (!data) return std::unexpected(data.error());
  return from_text(*data, where);
}

bool ApiKeys::accepts(std::string_view presented) const {
  if (m_digests.empty()) return true;
  const auto digest = sha256_digest(presented);
  bool found = false;
  for (const auto& d : m_digests) found |= digests_equal(d, digest);  // every key compared: no early exit
  return found;
}

}  // namespace faceverify::serve
