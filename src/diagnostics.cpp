// SPDX-License-Identifier: MIT
#include "faceverify/diagnostics.hpp"

#include "faceverify/secrets.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ostream>

namespace faceverify {

void Diagnostics::line(const std::string& text) {
  const std::string shown = redact_secrets(text);  // no line shows a key, or a part of one
  std::lock_guard lock(m_mutex);
  erase_locked();
  m_err << "faceverify: " << shown << '\n' << std::flush;
}

void Diagnostics::progress(const std::string& text) {
  if (!m_progress) return;
  std::lock_guard lock(m_mutex);
  m_err << "\r\033[K" << text << std::flush;
  m_shown = true;
}

void Diagnostics::clear_progress() {
  std::lock_guard lock(m_mutex);
  erase_locked();
}

void Diagnostics::erase_locked() {
  if (!m_shown) return;
  m_err << "\r\033[K" << std::flush;
  m_shown = false;
}

bool progress_wanted(bool quiet) {
  if (quiet || !::isatty(STDERR_FILENO)) return false;
  const char* term = std::getenv("TERM");
  if (term && std::strcmp(term, "dumb") == 0) return false;
  const char* no_color = std::getenv("NO_COLOR");
  return !(no_color && *no_color);
}

std::string progress_text(std::size_t done, std::size_t total, std::size_t errors, std::chrono::milliseconds elapsed) {
  std::string text = std::to_string(done) + "/" + std::to_string(total) + " done";
  if (errors > 0) text += ", " + std::to_string(errors) + (errors == 1 ? " error" : " errors");
  const double seconds = static_cast<double>(elapsed.count()) / 1000.0;
  if (done > 0 && seconds > 0.0) {
    const double rate = static_cast<double>(done) / seconds;
    char buf[64];
    std::snprintf(buf, sizeof buf, ", %.1f/s", rate);
    text += buf;
    if (done < total) {
      const double eta = static_cast<double>(total - done) / rate;
      std::snprintf(buf, sizeof buf, ", ETA %.0f s", eta < 1.0 ? 1.0 : eta);
      text += buf;
    }
  }
  return text;
}

}  // namespace faceverify
