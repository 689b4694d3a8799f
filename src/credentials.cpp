// SPDX-License-Identifier: MIT
#include "faceverify/credentials.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace faceverify {

Expected<std::string> read_key_file(const std::string& path) {
  const std::string where = "--api-key-file " + path + ": ";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return fail(ErrorKind::usage, where + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(ErrorKind::usage, where + "not a regular file");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    ::close(fd);
    return fail(ErrorKind::usage, where + "readable by other users; run: chmod 600 " + path);
  }
  std::string data;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || data.size() > 65536) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const auto eol = data.find_first_of("\r\n");
  std::string key = data.substr(0, eol);
  const auto first = key.find_first_not_of(" \t");
  const auto last = key.find_last_not_of(" \t");
  key = first == std::string::npos ? std::string() : key.substr(first, last - first + 1);
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
  std::string key(value);
  const auto first = key.find_first_not_of(" \t\r\n");
  const auto last = key.find_last_not_of(" \t\r\n");
  if (first == std::string::npos) return std::optional<std::string>();
  return std::optional<std::string>(key.substr(first, last - first + 1));
}

}  // namespace faceverify
