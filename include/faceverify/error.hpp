// SPDX-License-Identifier: MIT
#pragma once
// The one error type of faceverify: every fallible boundary returns
// std::expected<T, Error>; exit codes derive from ErrorKind in exit_code().

#include <chrono>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace faceverify {

enum class ErrorKind {
  usage,         // bad option or argument (exit 2)
  input,         // local input unusable: missing, unreadable, not an image (exit 2)
  no_face,       // the service found no face in an image (exit 3)
  network,       // transport failure: connect, reset, TLS, body cut short (exit 4)
  timeout,       // the --timeout budget ran out (exit 4)
  http,          // the service answered with an HTTP error status (exit 4)
  api_response,  // a 200 whose body is malformed or reports a failure (exit 4)
  internal,      // a bug or an unexpected library failure (exit 4)
};

struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string message;                                   // one line, no "faceverify: " prefix
  std::optional<int> http_status;                        // set for ErrorKind::http
  bool retryable = false;                                // whether the same request may succeed later
  std::optional<std::chrono::milliseconds> retry_after;  // server's Retry-After
};

template <typename T>
using Expected = std::expected<T, Error>;

/// Builds an unexpected Error of `kind` with `message`.
inline std::unexpected<Error> fail(ErrorKind kind, std::string message) {
  return std::unexpected(Error{kind, std::move(message), {}, false, {}});
}

/// "usage", "input", "no_face", "network", "timeout", "http",
/// "api_response", "internal" (the `kind` of JSON error records).
std::string_view kind_name(ErrorKind kind) noexcept;

/// The inverse of kind_name; nullopt for an unknown name.
std::optional<ErrorKind> kind_from_name(std::string_view name) noexcept;

/// Process exit status of the documented contract (docs/cli-contract.md).
int exit_code(ErrorKind kind) noexcept;

namespace exit_status {
inline constexpr int same = 0;
inline constexpr int different = 1;
inline constexpr int usage = 2;
inline constexpr int no_face = 3;
inline constexpr int service = 4;
inline constexpr int uncertain = 5;
}  // namespace exit_status

}  // namespace faceverify
