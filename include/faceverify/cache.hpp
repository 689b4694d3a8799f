// SPDX-License-Identifier: MIT
#pragma once
// The analysis cache: a content-addressed directory of analysis results, so an
// image already analysed (same bytes, same endpoint) costs no request on the
// next run. Entries are opaque payload strings written by the caller; this
// module guarantees only their integrity:
//   - one file per key under DIR/v1/<first 2 hex>/<key hex>, mode 0600, dirs 0700;
//   - writes go to a temp file in the same directory, then rename(2): readers
//     never see half an entry, concurrent writers (threads or processes) never
//     corrupt one;
//   - each file starts with a header line carrying the payload's SHA-256 and
//     length; a truncated or corrupted entry is detected, ignored (and
//     removed), never returned.
// It never stores keys or image bytes: callers pass only analysis results.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "faceverify/error.hpp"

namespace faceverify::cache {

/// $XDG_CACHE_HOME/faceverify when XDG_CACHE_HOME is set and absolute, else
/// $HOME/.cache/faceverify. ErrorKind::usage when neither can be determined
/// (the message suggests --cache-dir or --no-cache).
Expected<std::filesystem::path> default_directory();

/// The cache key: lowercase hex SHA-256 of `identity` + "\n" + `content_id`.
/// `content_id` is the image's SHA-256; `identity` names what produced the
/// analysis (backend, mode, URL, query options, models).
std::string make_key(std::string_view content_id, std::string_view identity);

struct Stats {
  std::filesystem::path directory;
  std::uint64_t entries = 0;  // readable, well-formed entry files
  std::uint64_t bytes = 0;    // their total size on disk
};

class Cache {
 public:
  explicit Cache(std::filesystem::path directory);

  const std::filesystem::path& directory() const noexcept { return m_dir; }

  /// The payload stored under `key`, or nullopt when absent, unreadable,
  /// truncated or corrupt (a corrupt entry is removed so a store replaces it).
  std::optional<std::string> load(std::string_view key) const;

  /// Stores `payload` under `key` atomically (temp + rename), creating the
  /// directories (0700) as needed; the file is 0600. Errors
  /// (ErrorKind::input) name the directory and say what failed.
  Expected<void> store(std::string_view key, std::string_view payload) const;

  /// Counts entries and bytes. A missing directory is an empty cache.
  Expected<Stats> stats() const;

  /// Removes every entry (and leftover temp files); returns how many entries
  /// were removed. A missing directory removes nothing. Never removes files
  /// it did not create (only the v1/ tree is touched).
  Expected<std::uint64_t> clear() const;

 private:
  std::filesystem::path m_dir;
};

}  // namespace faceverify::cache
