// SPDX-License-Identifier: MIT
#include "faceverify/interrupt.hpp"

#include <csignal>
#include <mutex>

namespace faceverify {
namespace {

std::atomic<bool> g_interrupted{false};
std::atomic<int> g_signal{0};
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
              "the signal handler needs lock-free atomics");

extern "C" void on_signal(int sig) {
  g_signal.store(sig);
  g_interrupted.store(true);
  std::signal(sig, SIG_DFL);  // a second signal ends the process at once
}

}  // namespace

void install_interrupt_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    // SA_RESTART: a write to a slow reader is resumed, not cut in the middle
    // of a record; the workers see the flag through their polls.
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
  });
}

const std::atomic<bool>& interrupted() noexcept {
  return g_interrupted;
}

void request_stop() noexcept {
  g_interrupted.store(true);
}

void clear_stop_request() noexcept {
  if (g_signal.load() == 0) g_interrupted.store(false);
}

int interrupt_signal() noexcept {
  return g_signal.load();
}

int interrupted_exit_code() noexcept {
  const int sig = g_signal.load();
  return 128 + (sig == 0 ? SIGINT : sig);
}

}  // namespace faceverify
