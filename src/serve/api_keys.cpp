// SPDX-License-Identifier: MIT
#include "serve/api_keys.hpp"

#include <sys/stat.h>

#include <cstring>

#include "faceverify/file_io.hpp"
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
  auto fd = open_for_reading(path);
  if (!fd) return fail(ErrorKind::usage, where + std::strerror(fd.error().err));
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return fail(ErrorKind::usage, where + "not a regular file");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return fail(ErrorKind::usage, where + "readable by other users; run: chmod 600 " + display_name(path));
  }
  constexpr std::size_t k_limit = 65536;
  auto data = read_up_to(fd->get(), k_limit + 1);
  if (!data) return fail(ErrorKind::usage, where + std::strerror(data.error().err));
  if (data->size() > k_limit) return fail(ErrorKind::usage, where + "larger than 64 KiB; is it the right file?");
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
