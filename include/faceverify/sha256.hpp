// SPDX-License-Identifier: MIT
#pragma once
// SHA-256 (FIPS 180-4) of a byte string, as 64 lowercase hex digits. Used to
// identify an input image in reports without keeping its bytes; MD5, which
// the API4AI protocol reports of every upload; and the constant-time digest
// comparison faceverify serve checks keys with. OpenSSL's libcrypto is used
// here and nowhere else.

#include <array>
#include <string>
#include <string_view>

namespace faceverify {

/// Returns the SHA-256 digest of `data` in lowercase hex.
std::string sha256_hex(std::string_view data);

/// The MD5 digest of `data` in lowercase hex (the protocol's `md5` field; not
/// used for anything that needs a secure hash).
std::string md5_hex(std::string_view data);

/// The raw SHA-256 digest of `data`.
std::array<unsigned char, 32> sha256_digest(std::string_view data);

/// Whether two digests are equal, in time that does not depend on where they
/// differ.
bool digests_equal(const std::array<unsigned char, 32>& a, const std::array<unsigned char, 32>& b) noexcept;

}  // namespace faceverify
