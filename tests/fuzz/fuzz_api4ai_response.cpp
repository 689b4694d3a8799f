// SPDX-License-Identifier: MIT
// libFuzzer target: the API4AI reply parser never crashes, hangs or leaks,
// whatever the body.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "faceverify/api4ai.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto analysis = faceverify::api4ai::parse_response(body);
  if (analysis) {
    for (const auto& face : analysis->faces) {
      // What the rest of the program relies on.
      if (face.embedding.empty() || face.box[2] <= 0 || face.box[3] <= 0) __builtin_trap();
    }
  } else if (analysis.error().message.empty()) {
    __builtin_trap();
  }
  return 0;
}
