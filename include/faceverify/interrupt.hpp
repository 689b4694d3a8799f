// SPDX-License-Identifier: MIT
#pragma once
// Graceful interruption for batch commands: the first SIGINT or SIGTERM sets a
// flag (workers stop taking work, transfers in flight abort, a blocking call
// returns EINTR and is not retried) and restores the default action, so a
// second Ctrl-C kills at once. Exit status 130 / 143 as after a default signal.

#include <atomic>

namespace faceverify {

/// Installs the handlers (idempotent). Until this is called the default
/// dispositions apply, as `faceverify IMG1 IMG2` relies on.
void install_interrupt_handlers();

/// Blocks SIGINT and SIGTERM in the calling thread (a worker: it sees the
/// flag through its polls), so that a signal is delivered to the main
/// thread and ends the call it may be blocked in (a write to a slow stdout).
void block_interrupts_in_this_thread() noexcept;

/// True once SIGINT or SIGTERM arrived after install_interrupt_handlers().
const std::atomic<bool>& interrupted() noexcept;

/// Stops the run as an interruption would, without a signal (e.g. the
/// reader of stdout went away); interrupt_signal() stays 0.
void request_stop() noexcept;

/// Forgets a request_stop() of an earlier run in this process (run() calls
/// it first, so in-process runs one after another start afresh); an actual
/// signal is never forgotten.
void clear_stop_request() noexcept;

/// The signal that interrupted (SIGINT or SIGTERM), 0 if none.
int interrupt_signal() noexcept;

/// 128 + the signal: 130 for SIGINT, 143 for SIGTERM.
int interrupted_exit_code() noexcept;

}  // namespace faceverify
