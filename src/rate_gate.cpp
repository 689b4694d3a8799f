// SPDX-License-Identifier: MIT
#include "faceverify/rate_gate.hpp"

#include <algorithm>

namespace faceverify {

namespace {
// Waits are cut into slices so cancellation is seen promptly.
constexpr Millis k_slice{50};
}  // namespace

RequestGate::RequestGate(double max_rps, Clock& clock) : m_clock(clock) {
  if (max_rps > 0.0) {
    m_interval =
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(1.0 / max_rps));
  }
}

bool RequestGate::wait_turn(std::chrono::steady_clock::time_point deadline, const std::atomic<bool>* cancel) {
  std::unique_lock lock(m_mutex);
  if (cancel && cancel->load()) return false;
  // Turns are handed out in the order they are asked for: this caller's slot
  // is fixed now, so no waiter can be overtaken again and again.
  const auto slot = std::max(m_next_start, m_clock.now());
  if (std::max(slot, m_paused_until) > deadline) return false;
  m_next_start = slot + m_interval;
  for (;;) {
    if (cancel && cancel->load()) return false;
    const auto now = m_clock.now();
    const auto start = std::max(slot, m_paused_until);  // a pause may come while waiting
    if (start <= now) return true;
    if (start > deadline) return false;
    const auto wait = std::min(std::chrono::duration_cast<Millis>(start - now) + Millis(1), k_slice);
    lock.unlock();
    m_clock.sleep_for(wait);
    lock.lock();
  }
}

void RequestGate::pause_for(Millis delay) {
  std::lock_guard lock(m_mutex);
  m_paused_until = std::max(m_paused_until, m_clock.now() + std::clamp(delay, Millis(0), k_max_retry_after));
  ++m_pauses;
}

int RequestGate::pauses() const {
  std::lock_guard lock(m_mutex);
  return m_pauses;
}

}  // namespace faceverify
