// SPDX-License-Identifier: MIT
#include "faceverify/retry.hpp"

#include "faceverify/interrupt.hpp"
#include "faceverify/text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <thread>

namespace faceverify {
namespace {

class SteadyClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() override { return std::chrono::steady_clock::now(); }
  void sleep_for(Millis duration) override {
    const auto until = std::chrono::steady_clock::now() + std::min(duration, k_max_retry_after);
    const auto& stop = interrupted();
    for (;;) {
      const auto left = until - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero() || stop.load()) return;
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(left, Millis(50)));
    }
  }
};

std::optional<std::time_t> parse_http_date(std::string_view value) {
  // RFC 9110 section 5.6.7: IMF-fixdate, then the two obsolete forms.
  static constexpr const char* k_formats[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                              "%a %b %e %H:%M:%S %Y"};
  const std::string text(value);
  for (const char* format : k_formats) {
    std::tm tm{};
    const char* end = ::strptime(text.c_str(), format, &tm);
    if (end && *end == '\0') return ::timegm(&tm);
  }
  return std::nullopt;
}

}  // namespace

Clock& system_clock_source() {
  static SteadyClock clock;
  return clock;
}

std::optional<Millis> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    long long seconds = 0;
    const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc::result_out_of_range) return k_max_retry_after;
    if (ec != std::errc() || ptr != value.data() + value.size()) return std::nullopt;
    return std::min(Millis(std::min(seconds, 400LL * 24 * 3600) * 1000), k_max_retry_after);
  }
  const auto when = parse_http_date(value);
  if (!when) return std::nullopt;
  // Compared in whole seconds: a date centuries away (found by fuzzing:
  // "Wed, 21 Oct 1007 ...") overflows system_clock's nanoseconds.
  const std::time_t now_s = std::chrono::system_clock::to_time_t(now);
  if (*when <= now_s) return Millis(0);
  const long long seconds = static_cast<long long>(*when) - static_cast<long long>(now_s);
  return std::min(Millis(std::min(seconds, 400LL * 24 * 3600) * 1000), k_max_retry_after);
}

Millis backoff_delay(const RetryPolicy& policy, int retry, double unit_random) noexcept {
  const double base = static_cast<double>(policy.base_delay.count());
  const double cap = static_cast<double>(policy.max_delay.count());
  const double exp = std::min(cap, base * std::pow(2.0, std::clamp(retry - 1, 0, 30)));
  // "Equal jitter": keep half, randomise half, so clients that failed together
  // spread out while the wait still grows.
  const double u = std::clamp(unit_random, 0.0, 1.0);
  return Millis(static_cast<long long>(exp * (0.5 + 0.5 * u)));
}

}  // namespace faceverify
