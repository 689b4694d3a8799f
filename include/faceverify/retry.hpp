// SPDX-License-Identifier: MIT
#pragma once
// Retry policy: exponential backoff with jitter, Retry-After, and an overall
// deadline. The clock and the sleep are injected so tests never really wait.

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "faceverify/error.hpp"

namespace faceverify {

using Millis = std::chrono::milliseconds;

/// Whole milliseconds of the steady clock since `start`.
inline long long ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start).count();
}

struct RetryPolicy {
  int retries = 4;         // attempts after the first
  Millis base_delay{500};  // first backoff (before jitter)
  Millis max_delay{8000};  // backoff cap (before jitter)
};

/// The longest wait a Retry-After can ask for (a year and a day): longer,
/// absurd or overflowing values are capped to it, so every later time
/// computation stays far inside the clocks' range.
inline constexpr Millis k_max_retry_after{366LL * 24 * 3600 * 1000};

/// Parses a Retry-After value: delta-seconds ("120") or an HTTP date
/// (IMF-fixdate, RFC 850 or asctime), relative to `now`. A date in the past
/// gives 0; anything beyond k_max_retry_after gives k_max_retry_after.
/// Returns nullopt when the value is neither.
std::optional<Millis> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now);

/// Backoff before retry number `retry` (1 = the first retry):
/// min(max, base * 2^(retry-1)) scaled by a jitter factor in [0.5, 1.0)
/// derived from `unit_random` in [0, 1).
Millis backoff_delay(const RetryPolicy& policy, int retry, double unit_random) noexcept;

/// The time source and sleeper behind the retry loop.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point now() = 0;
  virtual void sleep_for(Millis duration) = 0;
};

/// The real steady clock; its sleep ends early (in 50 ms slices) once a
/// batch is interrupted (interrupt.hpp), so a backoff never delays Ctrl-C.
Clock& system_clock_source();

/// What the loop reports after every attempt (for --verbose).
struct AttemptReport {
  int attempt = 0;  // 1-based
  int max_attempts = 0;
  Millis duration{0};
  const Error* error = nullptr;      // null when the attempt succeeded
  std::optional<Millis> next_delay;  // set when another attempt follows
};

/// Runs `attempt(remaining)` until it succeeds, fails permanently, the
/// policy's retries are used, or `deadline` would pass. Never sleeps after the
/// last attempt. When it gives up on a retryable error the message says how
/// many attempts were made and why it stopped.
template <typename T>
Expected<T> run_with_retries(const RetryPolicy& policy, std::chrono::steady_clock::time_point deadline, Clock& clock,
                             const std::function<double()>& unit_random,
                             const std::function<Expected<T>(Millis remaining)>& attempt,
                             const std::function<void(const AttemptReport&)>& on_attempt = {}) {
  const int max_attempts = 1 + std::max(0, policy.retries);
  for (int n = 1;; ++n) {
    const auto start = clock.now();
    const auto remaining = std::chrono::duration_cast<Millis>(deadline - start);
    Expected<T> result =
        remaining.count() > 0
            ? attempt(remaining)
            : std::unexpected(
                  Error{ErrorKind::timeout, "--timeout reached before a request could be made", {}, false, {}});
    AttemptReport report{n, max_attempts, std::chrono::duration_cast<Millis>(clock.now() - start), nullptr, {}};
    if (result) {
      if (on_attempt) on_attempt(report);
      return result;
    }
    Error& err = result.error();
    report.error = &err;
    if (!err.retryable) {
      if (on_attempt) on_attempt(report);
      return result;
    }
    const auto attempts_text = std::to_string(n) + (n == 1 ? " attempt" : " attempts");
    if (n >= max_attempts) {
      if (on_attempt) on_attempt(report);
      if (n > 1) err.message = "gave up after " + attempts_text + ": " + err.message;
      err.retryable = false;
      return result;
    }
    Millis delay = backoff_delay(policy, n, unit_random());
    if (err.retry_after) delay = std::max(delay, *err.retry_after);
    const auto left = std::chrono::duration_cast<Millis>(deadline - clock.now());
    if (delay >= left) {
      if (on_attempt) on_attempt(report);
      if (err.retry_after && *err.retry_after >= left) {
        err.message += " (the service asks to wait " + std::to_string((err.retry_after->count() + 999) / 1000) +
                       " s, more than --timeout leaves; try again later)";
      } else {
        err.message = "gave up after " + attempts_text + " (--timeout reached): " + err.message;
        err.kind = ErrorKind::timeout;
      }
      err.retryable = false;
      return result;
    }
    report.next_delay = delay;
    if (on_attempt) on_attempt(report);
    clock.sleep_for(delay);
  }
}

}  // namespace faceverify
