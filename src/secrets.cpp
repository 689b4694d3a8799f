// SPDX-License-Identifier: MIT
#include "faceverify/secrets.hpp"

#include <algorithm>
#include <mutex>
#include <string_view>
#include <vector>

#include "faceverify/text.hpp"

namespace faceverify {
namespace {

std::mutex g_mutex;
std::vector<std::string> g_secrets;  // guarded by g_mutex

}  // namespace

void clear_secrets() {
  std::lock_guard lock(g_mutex);
  g_secrets.clear();
}

void register_secret(std::string secret) {
  if (secret.empty()) return;
  std::lock_guard lock(g_mutex);
  if (std::find(g_secrets.begin(), g_secrets.end(), secret) == g_secrets.end()) g_secrets.push_back(std::move(secret));
}

std::string redact_secrets(std::string text) {
  std::lock_guard lock(g_mutex);
  for (const auto& secret : g_secrets) {
    text = redact_secret(std::move(text), secret);
    for (std::size_t start = 0; start < secret.size();) {
      const std::size_t end = std::min(secret.find_first_of("\r\n", start), secret.size());
      if (end > start) text = redact_secret(std::move(text), std::string_view(secret).substr(start, end - start));
      start = end + 1;
    }
  }
  return text;
}

}  // namespace faceverify
