// SPDX-License-Identifier: MIT
// libFuzzer target: Retry-After parsing never crashes and never yields a
// negative wait.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "faceverify/retry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  const auto now = std::chrono::system_clock::from_time_t(1445412480);
  if (const auto wait = faceverify::parse_retry_after(value, now); wait && wait->count() < 0) __builtin_trap();
  return 0;
}
