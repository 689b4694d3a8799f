// SPDX-License-Identifier: MIT
#pragma once
// SHA-256 (FIPS 180-4) of a byte string, as 64 lowercase hex digits. Used to
// identify an input image in reports without keeping its bytes.

#include <string>
#include <string_view>

namespace faceverify {

/// Returns the SHA-256 digest of `data` in lowercase hex.
std::string sha256_hex(std::string_view data);

}  // namespace faceverify
