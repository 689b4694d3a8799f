// SPDX-License-Identifier: MIT
#include "faceverify/credentials.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "faceverify/file_io.hpp"
#include "faceverify/secrets.hpp"
#include "faceverify/text.hpp"

namespace faceverify {

Expected<std::string> read_secret_file(const std::string& path, const std::string& where, std::size_t limit) {
  auto fd = open_for_reading(path);
  if (!fd) return fail(ErrorKind::usage, where + std::strerror(fd.error().err));
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return fail(ErrorKind::usage, where + "not a regular file");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return fail(ErrorKind::usage, where + "readable by other users; run: chmod 600 " + path);
  }
  auto data = read_up_to(fd->get(), limit + 1);
  if (!data) return fail(ErrorKind::usage, where + std::strerror(data.error().err));
  if (data->size() > limit) {
    return fail(ErrorKind::usage,
                where + "larger than " + std::to_string(limit / 1024) + " KiB; is it the right file?");
  }
  return std::move(*data);
}

Expected<std::string> read_key_file(const std::string& path) {
  const std::string where = "--api-key-file " + path + ": ";
  // The key is on the first line: 64 KiB is plenty, and bounds a huge file.
  auto data = read_secret_file(path, where, 65536);
  if (!data) return std::unexpected(data.error());
  const std::string key(trim(std::string_view(*data).substr(0, data->find_first_of("\r\n")), " \t"));
  register_secret(key);  // redacted from everything written from now on
  if (key.empty()) return fail(ErrorKind::usage, where + "no key in the file (expected the key on its first line)");
  return key;
}

Expected<std::optional<std::string>> resolve_key(const std::optional<std::string>& key_file,
                                                 const std::string& env_var) {
  if (key_file) {
    auto key = read_key_file(*key_file);
    if (!key) return std::unexpected(key.error());
    return std::optional<std::string>(std::move(*key));
  }
  if (env_var.empty()) return std::optional<std::string>();
  const char* value = std::getenv(env_var.c_str());
  if (!value || !*value) return std::optional<std::string>();
  const std::string_view key = trim(value, " \t\r\n");
  if (key.empty()) return std::optional<std::string>();
  return std::optional<std::string>(std::string(key));
}

}  // namespace faceverify
