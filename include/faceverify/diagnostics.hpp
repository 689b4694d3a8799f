// SPDX-License-Identifier: MIT
#pragma once
// stderr discipline: one line per diagnostic, "faceverify: " first, written
// whole even from several threads; and, on a terminal only, one progress line
// that is erased before anything else is printed.

#include <chrono>
#include <cstddef>
#include <iosfwd>
#include <mutex>
#include <string>

namespace faceverify {

class Diagnostics {
 public:
  explicit Diagnostics(std::ostream& err) : m_err(err) {}

  /// "faceverify: <text>\n", erasing the progress line first.
  void line(const std::string& text);

  /// Shows progress (on one line rewritten in place) from now on.
  void enable_progress() { m_progress = true; }
  bool progress_enabled() const noexcept { return m_progress; }

  /// Replaces the progress line with `text` (no-op unless enabled).
  void progress(const std::string& text);

  /// Erases the progress line (call before writing to a terminal's stdout).
  void clear_progress();

 private:
  void erase_locked();

  std::ostream& m_err;
  std::mutex m_mutex;
  bool m_progress = false;
  bool m_shown = false;
};

/// Whether a progress line belongs on stderr: it is a terminal, TERM is not
/// "dumb", NO_COLOR is unset, and --quiet was not given.
bool progress_wanted(bool quiet);

/// "12/40 done, 1 error, 3.2/s, ETA 9 s" for a run `elapsed` in.
std::string progress_text(std::size_t done, std::size_t total, std::size_t errors, std::chrono::milliseconds elapsed);

}  // namespace faceverify
