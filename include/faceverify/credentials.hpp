// SPDX-License-Identifier: MIT
#pragma once
// Where an API key comes from: --api-key-file or the mode's environment
// variable. Keys are never printed; callers redact them from every message.

#include <cstddef>
#include <optional>
#include <string>

#include "faceverify/error.hpp"

namespace faceverify {

/// The text of a file that holds secrets (`where` names it in errors, e.g.
/// "--api-key-file keys: "): a regular file that only its owner can read
/// (like ssh; otherwise ErrorKind::usage saying how to fix its mode), at
/// most `limit` bytes. The one rule for key files, the client's and the
/// server's.
Expected<std::string> read_secret_file(const std::string& path, const std::string& where, std::size_t limit);

/// Reads a key file: the first line, surrounding whitespace removed. Refuses
/// (ErrorKind::usage) a missing or empty file and, like ssh, one that group
/// or others can read, telling how to fix its mode.
Expected<std::string> read_key_file(const std::string& path);

/// The key: from `key_file` when given, else from environment variable
/// `env_var` (nullopt when unset or empty, or when `env_var` is empty).
Expected<std::optional<std::string>> resolve_key(const std::optional<std::string>& key_file,
                                                 const std::string& env_var);

}  // namespace faceverify
