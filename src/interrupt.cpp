// SPDX-License-Identifier: MIT
#include "faceverify/interrupt.hpp"

#include <pthread.h>

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
    // No SA_RESTART: a call blocked on a FIFO, a pipe or a slow reader of
    // stdout returns EINTR at the first signal, and every EINTR loop checks
    // interrupted() before retrying (file_io), so the run ends with 130/143
    // instead of waiting. The workers see the flag through their polls.
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
  });
}

void block_interrupts_in_this_thread() noexcept {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
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
