// SPDX-License-Identifier: MIT
// libFuzzer target: magic-byte sniffing, container inspection (size and
// truncation) and the display of hostile names never crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "faceverify/image.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (const auto format = faceverify::sniff_format(bytes)) {
    (void)faceverify::inspect_header(bytes, *format);
  }
  const std::string shown = faceverify::display_name(bytes);
  for (unsigned char c : shown) {
    if (c < 0x20 || c == 0x7F) __builtin_trap();
  }
  return 0;
}
