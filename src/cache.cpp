// SPDX-License-Identifier: MIT
#include "faceverify/cache.hpp"

// On-disk layout (version 1):
//   DIR/v1/<first 2 hex of key>/<64 hex key>        an entry, mode 0600
//   DIR/v1/<first 2 hex of key>/.<key>.tmp.XXXXXX   a write in progress (or a
//                                                   leftover of a killed one)
// An entry file is a header line followed by the payload bytes:
//   "faceverify-cache 1 <payload length, decimal> <payload sha256, lowercase hex>\n<payload>"
// load() trusts an entry only when the header is well formed, the file holds
// exactly <length> payload bytes after it and their SHA-256 matches; anything
// else is removed. stats() checks the header and the length against the file
// size but does not re-hash payloads (that would read the whole cache).
//
// Only POSIX calls and std::filesystem::path arithmetic are used here, so no
// std::filesystem exception can escape.

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <expected>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "faceverify/file_io.hpp"
#include "faceverify/sha256.hpp"

namespace faceverify::cache {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view k_magic = "faceverify-cache 1 ";
constexpr std::size_t k_key_size = 64;
constexpr std::size_t k_max_length_digits = 20;  // UINT64_MAX has 20 digits
constexpr std::size_t k_max_header = k_magic.size() + k_max_length_digits + 1 + k_key_size + 1;
// Analysis results are a few KB; this only bounds what a load() reads into memory.
constexpr std::uint64_t k_max_payload = std::uint64_t{64} << 20;
constexpr std::string_view k_temp_infix = ".tmp.";
constexpr std::size_t k_temp_random = 6;  // mkstemp's XXXXXX
constexpr std::string_view k_write_hint = " (use --cache-dir DIR or --no-cache)";
constexpr std::string_view k_read_hint = " (check its permissions, or use --cache-dir DIR)";
constexpr int k_store_attempts = 3;

std::string errno_text(int err) {
  return std::generic_category().message(err);
}

// A path for a one-line message: control characters become '?'.
std::string shown(const fs::path& path) {
  std::string text = path.string();
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '\x7f') c = '?';
  }
  return text;
}

bool is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool is_lower_hex(std::string_view text) {
  for (const char c : text) {
    if (!is_lower_hex(c)) return false;
  }
  return true;
}

bool is_key(std::string_view key) {
  return key.size() == k_key_size && is_lower_hex(key);
}

bool is_fan_out(std::string_view name) {
  return name.size() == 2 && is_lower_hex(name);
}

// An entry file name inside fan-out directory `fan`.
bool is_entry_name(std::string_view name, std::string_view fan) {
  return is_key(name) && name.substr(0, 2) == fan;
}

// A temp file name ".<key>.tmp.XXXXXX" inside fan-out directory `fan`.
bool is_temp_name(std::string_view name, std::string_view fan) {
  if (name.size() != 1 + k_key_size + k_temp_infix.size() + k_temp_random || name[0] != '.') return false;
  if (!is_entry_name(name.substr(1, k_key_size), fan)) return false;
  if (name.substr(1 + k_key_size, k_temp_infix.size()) != k_temp_infix) return false;
  for (const char c : name.substr(1 + k_key_size + k_temp_infix.size())) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum) return false;
  }
  return true;
}

// 0 or an errno.
int write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

struct Header {
  std::size_t size = 0;      // bytes of the header line, '\n' included
  std::uint64_t length = 0;  // payload bytes
  std::string_view sha256;   // 64 lowercase hex digits
};

// Parses the header line at the start of `data` (which may be just its first bytes).
std::optional<Header> parse_header(std::string_view data) {
  const auto newline = data.substr(0, k_max_header).find('\n');
  if (newline == std::string_view::npos) return std::nullopt;
  std::string_view line = data.substr(0, newline);
  if (!line.starts_with(k_magic)) return std::nullopt;
  line.remove_prefix(k_magic.size());
  const auto space = line.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::string_view digits = line.substr(0, space);
  const std::string_view hex = line.substr(space + 1);
  if (digits.empty() || digits.size() > k_max_length_digits) return std::nullopt;
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;  // one spelling per length
  Header header;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), header.length);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  if (!is_key(hex)) return std::nullopt;  // same shape as a key: 64 lowercase hex
  header.size = newline + 1;
  header.sha256 = hex;
  return header;
}

std::string make_header(std::size_t length, std::string_view sha256) {
  std::string header(k_magic);
  header += std::to_string(length);
  header += ' ';
  header += sha256;
  header += '\n';
  return header;
}

// Entry names in a directory, or the errno of opendir/readdir.
std::expected<std::vector<std::string>, int> list_dir(const fs::path& dir) {
  DIR* handle = ::opendir(dir.c_str());
  if (handle == nullptr) return std::unexpected(errno);
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(handle);
    if (entry == nullptr) {
      const int err = errno;
      ::closedir(handle);
      if (err != 0) return std::unexpected(err);
      return names;
    }
    const std::string_view name(entry->d_name);
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
}

// mkdir with mode 0700 exactly (umask notwithstanding), creating missing
// parents the same way; an existing directory is left as it is. Returns 0 or
// an errno, with `failed` naming the directory that could not be created.
int make_directory(const fs::path& dir, fs::path& failed) {
  const auto created = [&]() {
    // mkdir's mode is masked by the umask; set exactly 0700 on what we created.
    return ::chmod(dir.c_str(), S_IRWXU) == 0 ? 0 : errno;
  };
  const auto existing = [&]() {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return errno;
    return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
  };
  if (::mkdir(dir.c_str(), S_IRWXU) == 0) {
    const int err = created();
    if (err != 0) failed = dir;
    return err;
  }
  int err = errno;
  if (err == ENOENT) {
    const fs::path parent = dir.parent_path();
    if (!parent.empty() && parent != dir) {
      if (const int parent_err = make_directory(parent, failed); parent_err != 0) return parent_err;
      if (::mkdir(dir.c_str(), S_IRWXU) == 0) {
        err = created();
        if (err != 0) failed = dir;
        return err;
      }
      err = errno;
    }
  }
  if (err == EEXIST) err = existing();
  if (err != 0) failed = dir;
  return err;
}

Error input_error(std::string message) {
  return Error{ErrorKind::input, std::move(message), {}, false, {}};
}

}  // namespace

Expected<std::filesystem::path> default_directory() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && *xdg != '\0') {
    fs::path base(xdg);
    if (base.is_absolute()) return base / "faceverify";
    // The XDG spec says to ignore a relative value.
  }
  const char* home = std::getenv("HOME");
  if (home != nullptr && *home != '\0') {
    fs::path base(home);
    if (base.is_absolute()) return base / ".cache" / "faceverify";
    return fail(ErrorKind::usage,
                "cannot locate the cache directory: HOME is not an absolute path" + std::string(k_write_hint));
  }
  return fail(ErrorKind::usage,
              "cannot locate the cache directory: neither XDG_CACHE_HOME nor HOME is set" + std::string(k_write_hint));
}

std::string make_key(std::string_view content_id, std::string_view identity) {
  std::string material;
  material.reserve(identity.size() + 1 + content_id.size());
  material += identity;
  material += '\n';
  material += content_id;
  return sha256_hex(material);
}

Cache::Cache(std::filesystem::path directory) : m_dir(std::move(directory)) {}

std::optional<std::string> Cache::load(std::string_view key) const {
  if (!is_key(key)) return std::nullopt;
  const fs::path path = m_dir / "v1" / key.substr(0, 2) / key;
  // O_NONBLOCK: a FIFO in place of an entry must not block open(); anything
  // but a regular file is a miss (the next store() replaces it). O_NONBLOCK
  // changes nothing for reading a regular file.
  const auto fd = open_for_reading(path, O_NOFOLLOW | O_NONBLOCK);
  if (!fd) return std::nullopt;
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;

  // Removes the entry we read, unless a writer has renamed a new one over it
  // meanwhile (that one is not known to be bad).
  const auto discard = [&]() -> std::optional<std::string> {
    struct stat now {};
    if (::lstat(path.c_str(), &now) == 0 && now.st_dev == st.st_dev && now.st_ino == st.st_ino) {
      ::unlink(path.c_str());
    }
    return std::nullopt;
  };

  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  if (file_size > k_max_header + k_max_payload) return discard();
  auto data = read_at_most(fd->get(), static_cast<std::size_t>(file_size));
  // A file that grew is not the file we checked.
  if (!data && data.error().step == ReadError::Step::too_large) return discard();
  if (!data) return std::nullopt;  // unreadable (I/O error): not known to be corrupt
  const auto header = parse_header(*data);
  if (!header) return discard();
  if (data->size() - header->size != header->length) return discard();
  std::string payload = data->substr(header->size);
  const std::string digest = sha256_hex(payload);
  if (digest.empty()) return std::nullopt;  // hashing failed: cannot tell
  if (digest != header->sha256) return discard();
  return payload;
}

Expected<void> Cache::store(std::string_view key, std::string_view payload) const {
  if (!is_key(key)) {
    return fail(ErrorKind::usage, "invalid cache key (expected 64 lowercase hex digits)");
  }
  if (payload.size() > k_max_payload) {
    return fail(ErrorKind::input, "cannot store a cache entry of " + std::to_string(payload.size()) + " bytes in " +
                                      shown(m_dir) + ": entries are limited to " + std::to_string(k_max_payload) +
                                      " bytes" + std::string(k_write_hint));
  }
  const std::string digest = sha256_hex(payload);
  if (digest.size() != k_key_size) return fail(ErrorKind::internal, "cannot compute the SHA-256 of a cache entry");
  const std::string header = make_header(payload.size(), digest);

  const fs::path v1 = m_dir / "v1";
  const fs::path fan = v1 / key.substr(0, 2);
  const fs::path final_path = fan / key;
  const std::string hint(k_write_hint);

  // A concurrent clear() may remove the fan-out directory or our temp file
  // between two steps; that is retried a few times.
  for (int attempt = 1;; ++attempt) {
    const bool may_retry = attempt < k_store_attempts;
    fs::path failed;
    if (const int err = make_directory(m_dir, failed); err != 0) {
      std::string where = shown(m_dir);
      if (failed != m_dir) where += " (at " + shown(failed) + ")";
      return std::unexpected(input_error("cannot create the cache directory " + where + ": " + errno_text(err) + hint));
    }
    if (int err = make_directory(v1, failed); err != 0 || (err = make_directory(fan, failed)) != 0) {
      if (err == ENOENT && may_retry) continue;
      return std::unexpected(
          input_error("cannot create the cache directory " + shown(failed) + ": " + errno_text(err) + hint));
    }

    std::string temp = (fan / ("." + std::string(key) + std::string(k_temp_infix))).string();
    temp.append(k_temp_random, 'X');
    FileDescriptor fd(::mkostemp(temp.data(), O_CLOEXEC));
    if (!fd.valid()) {
      const int err = errno;
      if (err == ENOENT && may_retry) continue;
      return std::unexpected(
          input_error("cannot create a file in the cache directory " + shown(fan) + ": " + errno_text(err) + hint));
    }
    int err = ::fchmod(fd.get(), S_IRUSR | S_IWUSR) == 0 ? 0 : errno;
    if (err == 0) err = write_all(fd.get(), header);
    if (err == 0) err = write_all(fd.get(), payload);
    if (const int close_err = fd.close(); err == 0) err = close_err;
    if (err != 0) {
      ::unlink(temp.c_str());
      return std::unexpected(
          input_error("cannot write a cache entry in " + shown(fan) + ": " + errno_text(err) + hint));
    }
    if (::rename(temp.c_str(), final_path.c_str()) != 0) {
      err = errno;
      ::unlink(temp.c_str());
      if (err == ENOENT && may_retry) continue;
      return std::unexpected(
          input_error("cannot rename a cache entry into " + shown(fan) + ": " + errno_text(err) + hint));
    }
    return {};
  }
}

namespace {

// Calls visit(fan, fan_dir, name) for every file name in every fan-out
// directory of `v1`, then after_fan(fan_dir). A missing v1 visits nothing;
// an unreadable directory, or an error from visit, stops the walk.
template <typename Visit, typename AfterFan>
Expected<void> walk(const fs::path& v1, Visit visit, AfterFan after_fan) {
  const auto fans = list_dir(v1);
  if (!fans) {
    if (fans.error() == ENOENT) return {};
    return std::unexpected(input_error("cannot read the cache directory " + shown(v1) + ": " +
                                       errno_text(fans.error()) + std::string(k_read_hint)));
  }
  for (const std::string& fan : *fans) {
    if (!is_fan_out(fan)) continue;
    const fs::path fan_dir = v1 / fan;
    const auto names = list_dir(fan_dir);
    if (!names) {
      if (names.error() == ENOENT || names.error() == ENOTDIR) continue;
      return std::unexpected(input_error("cannot read the cache directory " + shown(fan_dir) + ": " +
                                         errno_text(names.error()) + std::string(k_read_hint)));
    }
    for (const std::string& name : *names) {
      if (auto ok = visit(fan, fan_dir, name); !ok) return ok;
    }
    after_fan(fan_dir);
  }
  return {};
}

}  // namespace

Expected<Stats> Cache::stats() const {
  Stats stats;
  stats.directory = m_dir;
  auto walked = walk(
      m_dir / "v1",
      [&](const std::string& fan, const fs::path& fan_dir, const std::string& name) -> Expected<void> {
        if (!is_entry_name(name, fan)) return {};
        const fs::path path = fan_dir / name;
        const auto fd = open_for_reading(path, O_NOFOLLOW | O_NONBLOCK);
        if (!fd) return {};
        struct stat st {};
        if (::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
        const auto head = read_up_to(fd->get(), k_max_header);
        if (!head) return {};
        const auto header = parse_header(*head);
        if (!header) return {};
        const auto size = static_cast<std::uint64_t>(st.st_size);
        if (size < header->size || size - header->size != header->length) return {};
        ++stats.entries;
        stats.bytes += size;
        return {};
      },
      [](const fs::path&) {});
  if (!walked) return std::unexpected(walked.error());
  return stats;
}

Expected<std::uint64_t> Cache::clear() const {
  std::uint64_t removed = 0;
  auto walked = walk(
      m_dir / "v1",
      [&](const std::string& fan, const fs::path& fan_dir, const std::string& name) -> Expected<void> {
        const bool entry = is_entry_name(name, fan);
        if (!entry && !is_temp_name(name, fan)) return {};
        const fs::path path = fan_dir / name;
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0 || S_ISDIR(st.st_mode)) return {};  // gone, or not ours
        if (::unlink(path.c_str()) != 0) {
          const int err = errno;
          if (err == ENOENT) return {};  // removed concurrently
          return std::unexpected(input_error("cannot remove the cache entry " + shown(path) + ": " + errno_text(err) +
                                             std::string(k_read_hint)));
        }
        if (entry) ++removed;
        return {};
      },
      // Only succeeds when empty; other files are left alone.
      [](const fs::path& fan_dir) { ::rmdir(fan_dir.c_str()); });
  if (!walked) return std::unexpected(walked.error());
  return removed;
}

}  // namespace faceverify::cache
