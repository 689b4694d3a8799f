// SPDX-License-Identifier: MIT
#pragma once
// The request gate shared by every worker of a batch: at most --max-rps
// request starts per second, and one global pause when the service throttles
// (HTTP 429 with or without Retry-After), so the whole pool slows down rather
// than each request hammering on its own schedule.

#include <atomic>
#include <chrono>
#include <mutex>

#include "faceverify/retry.hpp"

namespace faceverify {

class RequestGate {
 public:
  /// `max_rps` <= 0 means no rate limit (only throttling pauses apply).
  RequestGate(double max_rps, Clock& clock);

  /// Blocks until a request may start: after any pause and, with a rate
  /// limit, at least 1/max_rps after the previous turn; turns are given in the
  /// order they are asked for. Returns false when `deadline` comes first
  /// (without taking a turn if that is known at once) or `*cancel` becomes
  /// true.
  bool wait_turn(std::chrono::steady_clock::time_point deadline, const std::atomic<bool>* cancel = nullptr);

  /// The service said to slow down: no request starts before now + `delay`
  /// (a longer pause already in force is kept).
  void pause_for(Millis delay);

  /// How many times pause_for was called (for --verbose and tests).
  int pauses() const;

 private:
  Clock& m_clock;
  std::chrono::steady_clock::duration m_interval{};
  mutable std::mutex m_mutex;
  std::chrono::steady_clock::time_point m_next_start{};
  std::chrono::steady_clock::time_point m_paused_until{};
  int m_pauses = 0;
};

}  // namespace faceverify
