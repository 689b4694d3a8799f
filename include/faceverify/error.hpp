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
inline constexpr int sigint = 130;
inline constexpr int sigterm = 143;
}  // namespace exit_status

/// The one order of exit statuses, for a run where several outcomes apply
/// (README's "Exit codes"): an interruption (130/143) outranks everything,
/// then errors, worst first (4 service > 3 no face > 2 usage or input, lost
/// output included), then the verdicts (1 different > 5 uncertain > 0).
/// Returns whichever of `a` and `b` ranks higher.
int worse_status(int a, int b) noexcept;

/// Collects the outcomes of a run and keeps the one worse_status ranks highest.
class ExitStatus {
 public:
  ExitStatus() = default;
  explicit ExitStatus(int status) noexcept : m_status(status) {}
  void note(int status) noexcept { m_status = worse_status(m_status, status); }
  void note(ErrorKind kind) noexcept { note(exit_code(kind)); }
  int value() const noexcept { return m_status; }
  /// Whether an error (2, 3, 4) or an interruption has been noted.
  bool failed() const noexcept;

 private:
  int m_status = exit_status::same;
};

}  // namespace faceverify
